//! Reductions over one dimension, a list of dimensions or all elements, with `keepdim`, the
//! scans (`cumsum`), `histc`, and the softmax family.
//!
//! A reduction views its input as `(outer, n, inner)` lanes of contiguous data: the `n`
//! values of one lane reduce to one output value, and consecutive values of a lane lie
//! `inner` apart. One dim, or a run of adjacent dims, is such a view of the input as it is;
//! other lists of dims first move the reduced dims to the end (a copy), giving `inner = 1`.

use crate::shape::{normalize_dim, Shape, SpecDim};
use crate::{with_float, with_numeric, DType, Element, Error, Float, Numeric, Result, TensorData};
use rayon::prelude::*;
use smallvec::SmallVec;
use std::borrow::Cow;

mod lanes;

/// The dims a reduction runs over, as PyTorch's `dim` argument takes them: one dim (`0`,
/// `-1`), a list (`[0, 1]`, `&[0, 2]`, `vec![0, 1]`), or every dim ([`Dims::All`], PyTorch's
/// `dim=None`). An empty list also means every dim, as PyTorch's `x.sum(dim=[])` does.
/// Negative dims count from the end; a dim may appear once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dims {
    /// Every dimension.
    All,
    /// These dimensions.
    List(SmallVec<[isize; 4]>),
}

macro_rules! dims_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Dims {
            fn from(d: $t) -> Self {
                Dims::List(smallvec::smallvec![d.spec_dim()])
            }
        }
    )*};
}
dims_from_int!(isize, i64, i32, usize);

impl<T: SpecDim, const N: usize> From<[T; N]> for Dims {
    fn from(d: [T; N]) -> Self {
        Dims::List(d.iter().map(|d| d.spec_dim()).collect())
    }
}
impl<T: SpecDim, const N: usize> From<&[T; N]> for Dims {
    fn from(d: &[T; N]) -> Self {
        Dims::List(d.iter().map(|d| d.spec_dim()).collect())
    }
}
impl<T: SpecDim> From<&[T]> for Dims {
    fn from(d: &[T]) -> Self {
        Dims::List(d.iter().map(|d| d.spec_dim()).collect())
    }
}
impl<T: SpecDim> From<Vec<T>> for Dims {
    fn from(d: Vec<T>) -> Self {
        Dims::List(d.iter().map(|d| d.spec_dim()).collect())
    }
}
impl<T: SpecDim> From<&Vec<T>> for Dims {
    fn from(d: &Vec<T>) -> Self {
        Dims::List(d.iter().map(|d| d.spec_dim()).collect())
    }
}
impl From<&Dims> for Dims {
    fn from(d: &Dims) -> Self {
        d.clone()
    }
}

impl Dims {
    /// The reduced dims of a tensor of rank `ndim`, increasing. Errors name `op`: a dim out of
    /// range, or one given twice. A 0-d tensor accepts the dims `0` and `-1` (and reduces
    /// nothing: its one value is the lane).
    pub fn resolve(&self, op: &'static str, ndim: usize) -> Result<SmallVec<[usize; 4]>> {
        let list = match self {
            Dims::List(l) if !l.is_empty() => l,
            _ => return Ok((0..ndim).collect()),
        };
        let mut out: SmallVec<[usize; 4]> = SmallVec::new();
        for &d in list {
            let u = normalize_dim(op, d, ndim)?;
            if out.contains(&u) {
                return Err(Error::invalid(
                    op,
                    format!("dim {u} appears multiple times in the list of dims {list:?} (each dim may be reduced once)"),
                ));
            }
            out.push(u);
        }
        if ndim == 0 {
            out.clear();
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The shape of reducing `shape` over these dims with `keepdim = true`: each reduced dim
    /// becomes 1 (what a reduction's gradient is reshaped to before it is broadcast back).
    pub fn keep_shape(&self, op: &'static str, shape: &Shape) -> Result<Shape> {
        let mut dims = shape.0.clone();
        for d in self.resolve(op, shape.ndim())? {
            dims[d] = 1;
        }
        Ok(Shape(dims))
    }
}

/// A reduction's view of its input: `(outer, n, inner)` lanes of `data` (see the module
/// docs) and the result's shape.
struct Plan {
    /// The input, its reduced dims moved to the end when they were not adjacent.
    data: TensorData,
    outer: usize,
    n: usize,
    inner: usize,
    /// The result's shape (with or without the kept size-1 dims).
    out: Shape,
}

impl Plan {
    fn new(x: &TensorData, op: &'static str, dims: &Dims, keepdim: bool) -> Result<Plan> {
        let ds = dims.resolve(op, x.ndim())?;
        let d = x.dims();
        let out: Shape = if keepdim {
            dims.keep_shape(op, x.shape())?
        } else {
            Shape(d.iter().enumerate().filter(|(i, _)| !ds.contains(i)).map(|(_, &s)| s).collect())
        };
        if ds.is_empty() {
            // A 0-d tensor: one lane of one value.
            return Ok(Plan { data: x.clone(), outer: 1, n: 1, inner: 1, out });
        }
        let n: usize = ds.iter().map(|&i| d[i]).product();
        let (first, last) = (ds[0], ds[ds.len() - 1]);
        if last - first + 1 == ds.len() {
            // Adjacent dims: lanes of the input as it is.
            let outer = d[..first].iter().product();
            let inner = d[last + 1..].iter().product();
            return Ok(Plan { data: x.clone(), outer, n, inner, out });
        }
        // Kept dims first, reduced dims last: every lane becomes a contiguous row.
        let perm: Vec<isize> =
            (0..d.len()).filter(|i| !ds.contains(i)).chain(ds.iter().copied()).map(|i| i as isize).collect();
        let data = x.permute(&perm)?.try_contiguous()?;
        let outer = d.iter().enumerate().filter(|(i, _)| !ds.contains(i)).map(|(_, &s)| s).product();
        Ok(Plan { data, outer, n, inner: 1, out })
    }

    /// The number of lanes (output values).
    fn lanes(&self) -> usize {
        self.outer * self.inner
    }
}

/// Calls `f` on every lane of `v` (laid out as `(outer, n, inner)`) in output order, and
/// collects the results: the lanes as contiguous rows ([`lanes_as_rows`]), split across
/// threads ([`lanes::rows`]).
fn map_lanes<T: Element, O: Default + Send>(
    op: &'static str,
    v: &[T],
    (outer, n, inner): (usize, usize, usize),
    out: &mut Vec<O>,
    f: impl Fn(&[T]) -> O + Sync,
) -> Result<()> {
    if outer * inner == 0 {
        // No lanes (and no scratch: an empty tensor's lanes can be 2^46 long).
    } else if n == 0 {
        out.extend((0..outer * inner).map(|_| f(&[])));
    } else {
        let rows = lanes_as_rows(op, v, (outer, n, inner))?;
        let start = out.len();
        out.extend((0..outer * inner).map(|_| O::default()));
        lanes::rows(crate::simd::capability(), &rows, n, &mut out[start..], f);
        if let Cow::Owned(rows) = rows {
            crate::pool::give_back(rows);
        }
    }
    Ok(())
}

/// The lanes of `v` (laid out as `(outer, n, inner)`, `n > 0`) as contiguous rows of `n`
/// values in output order (lane `o * inner + i`): `v` itself when `inner == 1`, else a
/// transposed copy from the buffer cache (`copy::transpose`'s tiles, on every core; hand it
/// back with `pool::give_back`). A reduction over a leading dim had gathered its lanes one
/// at a time, value by value on one thread: `logsumexp(0)` of a (1000, 1000) tensor took 5x
/// PyTorch's time, `vector_norm(2, 0)` 1.9x.
fn lanes_as_rows<'a, T: Element>(
    op: &'static str,
    v: &'a [T],
    (outer, n, inner): (usize, usize, usize),
) -> Result<Cow<'a, [T]>> {
    if inner == 1 {
        return Ok(Cow::Borrowed(v));
    }
    let mut rows = crate::pool::try_overwritable::<T>(op, &Shape::new(&[outer, inner, n]))?;
    crate::copy::transpose(v, (outer, n, inner), &mut rows);
    Ok(Cow::Owned(rows))
}

/// `(outer, n, inner)` sizes for a reduction over `dim` of `shape`.
fn split(shape: &Shape, dim: usize) -> (usize, usize, usize) {
    if shape.ndim() == 0 {
        return (1, 1, 1);
    }
    let d = shape.dims();
    (d[..dim].iter().product(), d[dim], d[dim + 1..].iter().product())
}

/// The result shape of reducing `dim` (kept as size 1 with `keepdim`).
fn reduced_shape(shape: &Shape, dim: usize, keepdim: bool) -> Shape {
    let mut dims = shape.0.clone();
    if dims.is_empty() {
        return Shape::scalar();
    }
    if keepdim {
        dims[dim] = 1;
    } else {
        dims.remove(dim);
    }
    Shape(dims)
}

/// Sum of a slice, pairwise like PyTorch's cascade sum: leaves of 256 values are summed in 32
/// independent accumulators (which vectorise), and leaf sums are combined pairwise, so the
/// rounding error grows with log(n) rather than n. Large slices are summed on every core
/// (see [`crate::simd::kernels::sum`]; the result does not depend on the thread count).
pub fn sum_slice<T: Numeric>(x: &[T]) -> T {
    crate::simd::kernels::sum(crate::simd::capability(), x)
}

/// Sum of a slice in f64 (0 for an empty slice), in 16 partial sums added at the end, chunks
/// of 16,384 values on every core for large slices (the chunks merged in order: the result
/// does not depend on the thread count). Its rounding differs from a running sum's (and is
/// smaller).
pub fn sum_slice_f64<T: Element>(x: &[T]) -> f64 {
    lanes::sum_f64(crate::simd::capability(), x, |v| v)
}

impl TensorData {
    /// A bool tensor as i64 0/1 for `op` (whose name prefixes a conversion error).
    fn bool_as_i64(&self, op: &'static str) -> Result<TensorData> {
        self.try_to_dtype(DType::I64).map_err(|e| Error::invalid(op, e.to_string()))
    }

    /// Sum of all elements as a 0-d tensor (bool sums to i64, like PyTorch).
    pub fn sum(&self) -> Result<TensorData> {
        if self.dtype() == DType::Bool {
            return self.bool_as_i64("sum")?.sum();
        }
        with_numeric!(self.dtype(), "sum", |T| Ok(TensorData::scalar(sum_slice::<T>(
            &self.values_for::<T>("sum")?
        ))))
    }

    /// Sum over `dim`.
    pub fn sum_dim(&self, dim: isize, keepdim: bool) -> Result<TensorData> {
        self.sum_dims(&Dims::from(dim), keepdim)
    }

    /// Sum over `dims` (bool sums to i64, like PyTorch): pairwise within contiguous lanes
    /// ([`crate::simd::kernels::sum_rows`]), in blocks of rows for strided ones
    /// ([`crate::simd::kernels::sum_cols`]); vectorised and split across threads.
    pub fn sum_dims(&self, dims: &Dims, keepdim: bool) -> Result<TensorData> {
        if self.dtype() == DType::Bool {
            return self.bool_as_i64("sum")?.sum_dims(dims, keepdim);
        }
        let p = Plan::new(self, "sum", dims, keepdim)?;
        with_numeric!(self.dtype(), "sum", |T| {
            let mut out = crate::pool::try_filled::<T>("sum", &p.out, T::ZERO)?;
            let v = p.data.values_for::<T>("sum")?;
            let cap = crate::simd::capability();
            if p.n == 0 || out.is_empty() {
                // Empty lanes sum to 0 (already written); no lanes, nothing to do.
            } else if p.inner == 1 {
                // Contiguous lanes, each summed pairwise exactly as `sum_slice` sums a slice.
                crate::simd::kernels::sum_rows(cap, &v, p.n, &mut out);
            } else {
                // Strided lanes: for each outer index the column sums of an (n, inner) matrix.
                let sums = |x: &[T], o: &mut [T]| crate::simd::kernels::sum_cols(cap, x, o);
                crate::simd::kernels::per_outer(&v, (p.n, p.inner), &mut out, sums);
            }
            Ok(TensorData::from_vec_unchecked(out, p.out))
        })
    }

    /// Mean of all elements (NaN for an empty tensor, like PyTorch).
    pub fn mean(&self) -> Result<TensorData> {
        with_float!(self.dtype(), "mean", |T| {
            let s = sum_slice::<T>(&self.values_for::<T>("mean")?);
            Ok(TensorData::scalar(s / T::c(self.numel() as f64)))
        })
    }

    /// Mean over `dim`.
    pub fn mean_dim(&self, dim: isize, keepdim: bool) -> Result<TensorData> {
        self.mean_dims(&Dims::from(dim), keepdim)
    }

    /// Mean over `dims`: the sum divided by the number `n` of values in a lane (NaN for an
    /// empty lane, as `0 / 0`). Float tensors only (PyTorch cannot infer a mean's dtype from
    /// an integer tensor).
    pub fn mean_dims(&self, dims: &Dims, keepdim: bool) -> Result<TensorData> {
        with_float!(self.dtype(), "mean", |T| {
            let n = Plan::new(self, "mean", dims, keepdim)?.n;
            self.sum_dims(dims, keepdim)?.map_named::<T, T>("mean", |s| s / T::c(n as f64))
        })
    }

    /// Variance and mean over `dims`, like `torch.var_mean(x, dims, correction=, keepdim=)`:
    /// `var = sum((x - mean)^2) / max(0, n - correction)` for the `n` values of each lane,
    /// so `correction >= n` gives `inf` (or NaN when every deviation is 0, e.g. for `n = 1`),
    /// and an empty lane gives NaN, as in PyTorch. A contiguous lane takes two passes (the
    /// mean, then the squared deviations) accumulated in f64; strided lanes (`x.var(0)` of a
    /// matrix) are batch norm's per-channel statistics ([`crate::norm::channel_moments`]: one
    /// pass over the rows in order, without materialising a transpose).
    pub fn var_mean_dims(
        &self,
        dims: &Dims,
        correction: f64,
        keepdim: bool,
    ) -> Result<(TensorData, TensorData)> {
        let op = "var";
        if !self.dtype().is_float() {
            return Err(Error::dtype(
                op,
                "a floating-point tensor (std and var only support floating point dtypes)",
                self.dtype(),
                "; convert with .to_dtype(DType::F32)",
            ));
        }
        let p = Plan::new(self, op, dims, keepdim)?;
        let (n, denom) = (p.n as f64, (p.n as f64 - correction).max(0.0));
        with_float!(self.dtype(), op, |T| {
            let v = p.data.values_for::<T>(op)?;
            let (mut var, mut mean) =
                (crate::pool::try_fresh::<T>(op, &p.out)?, crate::pool::try_fresh::<T>(op, &p.out)?);
            if p.inner <= 1 || p.n == 0 {
                let lane_stats = |lane: &[T]| {
                    let m = lane.iter().map(|x| x.to_f64()).sum::<f64>() / n;
                    let m2: f64 = lane.iter().map(|x| (x.to_f64() - m) * (x.to_f64() - m)).sum();
                    (m2 / denom, m)
                };
                let pairs: Vec<(f64, f64)> = if p.n > 0 && v.len() >= crate::simd::kernels::PARALLEL_MIN {
                    crate::simd::threads::keep_awake();
                    v.par_chunks(p.n).map(lane_stats).collect() // contiguous lanes, on every core
                } else {
                    let mut pairs = Vec::new();
                    map_lanes(op, &v, (p.outer, p.n, p.inner), &mut pairs, lane_stats)?;
                    pairs
                };
                var.extend(pairs.iter().map(|&(s, _)| T::c(s)));
                mean.extend(pairs.iter().map(|&(_, m)| T::c(m)));
            } else {
                // Each outer index's (n, inner) block holds `inner` strided lanes: batch
                // norm's per-channel statistics of an (N, C) input, with N = n and C = inner
                // (one kernel for both; it splits the rows among threads above PARALLEL_MIN).
                let block = p.n * p.inner;
                let layout = crate::norm::ChannelLayout { outer: p.n, channels: p.inner, inner: 1 };
                let moments = |x: &[T]| crate::norm::channel_moments(x, layout);
                let parts: Vec<(Vec<f64>, Vec<f64>)> =
                    if p.outer > 1 && v.len() >= crate::simd::kernels::PARALLEL_MIN {
                        crate::simd::threads::keep_awake();
                        v.par_chunks(block).map(moments).collect()
                    } else {
                        v.chunks(block).map(moments).collect()
                    };
                // channel_moments gives the biased variance m2 / n.
                for (m, b) in &parts {
                    var.extend(b.iter().map(|&b| T::c(b * n / denom)));
                    mean.extend(m.iter().map(|&m| T::c(m)));
                }
            }
            Ok((
                TensorData::from_vec_unchecked(var, p.out.clone()),
                TensorData::from_vec_unchecked(mean, p.out),
            ))
        })
    }

    /// Variance over `dims` with `correction` (1: the unbiased estimate, PyTorch's default;
    /// 0: the population variance): see [`TensorData::var_mean_dims`].
    pub fn var_dims(&self, dims: &Dims, correction: f64, keepdim: bool) -> Result<TensorData> {
        Ok(self.var_mean_dims(dims, correction, keepdim)?.0)
    }

    /// Standard deviation over `dims`: `sqrt(var)` (see [`TensorData::var_mean_dims`]).
    pub fn std_dims(&self, dims: &Dims, correction: f64, keepdim: bool) -> Result<TensorData> {
        self.var_dims(dims, correction, keepdim)?.sqrt().map_err(|e| match e {
            Error::DTypeMismatch { got, .. } => Error::need_float("std", got),
            e => e,
        })
    }

    /// The vector `ord`-norm over `dims`, like `torch.linalg.vector_norm(x, ord, dims,
    /// keepdim)`: `(sum |x|^ord)^(1/ord)`; `ord = 2` is the Euclidean length, `1` the sum of
    /// magnitudes, `inf` (`-inf`) the largest (smallest) magnitude, `0` the number of nonzero
    /// values. Float tensors only; an infinite `ord` over an empty lane is an error (max and
    /// min have no identity).
    pub fn vector_norm(&self, ord: f64, dims: &Dims, keepdim: bool) -> Result<TensorData> {
        let op = "vector_norm";
        if !self.dtype().is_float() {
            return Err(Error::dtype(
                op,
                "a floating-point tensor (linalg.vector_norm needs a float input)",
                self.dtype(),
                "; convert with .to_dtype(DType::F32)",
            ));
        }
        if ord.is_nan() {
            return Err(Error::invalid(op, "ord must be a number or +-inf, got NaN"));
        }
        let p = Plan::new(self, op, dims, keepdim)?;
        if ord.is_infinite() && p.n == 0 && p.lanes() > 0 {
            return Err(Error::invalid(op, format!("cannot compute the {ord} norm over an empty dimension (shape {}): max and min have no identity", self.shape())));
        }
        with_float!(self.dtype(), op, |T| {
            let v = p.data.values_for::<T>(op)?;
            let mut out = crate::pool::try_fresh::<T>(op, &p.out)?;
            let (cap, sizes) = (crate::simd::capability(), (p.outer, p.n, p.inner));
            // The 2- and 1-norms by a closure inlined into `lanes::rows`'s build for the CPU
            // (one closure for every `ord`, not marked so, was not, and ran its f64 sums two
            // values at a time: 1.4x PyTorch's `vector_norm(2, 1)`).
            if ord == 2.0 || ord == 1.0 {
                let two = ord == 2.0;
                map_lanes(
                    op,
                    &v,
                    sizes,
                    &mut out,
                    #[inline(always)]
                    |lane: &[T]| {
                        T::c(if two {
                            lanes::sum_f64(cap, lane, |x| x * x).sqrt()
                        } else {
                            lanes::sum_f64(cap, lane, f64::abs)
                        })
                    },
                )?;
            } else {
                map_lanes(op, &v, sizes, &mut out, |lane: &[T]| {
                    let abs = lane.iter().map(|x| x.to_f64().abs());
                    T::c(if ord == 0.0 {
                        abs.filter(|&a| a != 0.0).count() as f64
                    } else if ord == f64::INFINITY {
                        abs.fold(f64::NEG_INFINITY, |m, a| m.max_val(a)) // (NaN-propagating)
                    } else if ord == f64::NEG_INFINITY {
                        abs.fold(f64::INFINITY, |m, a| m.min_val(a))
                    } else {
                        abs.map(|a| a.powf(ord)).sum::<f64>().powf(1.0 / ord)
                    })
                })?;
            }
            Ok(TensorData::from_vec_unchecked(out, p.out))
        })
    }

    /// Running sums along `dim`, like `torch.cumsum(x, dim)`: `y_i = x_0 + ... + x_i`. Floats
    /// accumulate in f64 (as PyTorch's CPU kernel does), integers wrap; bool counts as i64.
    pub fn cumsum(&self, dim: isize) -> Result<TensorData> {
        self.scan_sum("cumsum", dim, false)
    }

    /// Running sums along `dim` from the end: `y_i = x_i + ... + x_(n-1)` (the gradient of
    /// `cumsum`).
    pub fn cumsum_reverse(&self, dim: isize) -> Result<TensorData> {
        self.scan_sum("cumsum", dim, true)
    }

    fn scan_sum(&self, op: &'static str, dim: isize, reverse: bool) -> Result<TensorData> {
        if self.dtype() == DType::Bool {
            return self.bool_as_i64(op)?.scan_sum(op, dim, reverse);
        }
        let p = Plan::new(self, op, &Dims::from(dim), true)?;
        let (outer, n, inner) = (p.outer, p.n, p.inner);
        if self.numel() == 0 {
            return Ok(self.contiguous());
        }
        with_numeric!(self.dtype(), op, |T| {
            let v = p.data.values_for::<T>(op)?;
            let mut out = crate::pool::try_overwritable::<T>(op, self.shape())?;
            if inner == 1 {
                // Contiguous lanes, a few at a time and split across threads.
                lanes::scan_rows(crate::simd::capability(), &v, n, &mut out, reverse);
                return Ok(TensorData::from_vec_unchecked(out, self.shape().clone()));
            }
            let float = T::DTYPE.is_float();
            let mut acc = crate::pool::try_scratch(op, inner, (0.0f64, T::ZERO))?;
            for o in 0..outer {
                acc.iter_mut().for_each(|a| *a = (0.0, T::ZERO));
                for step in 0..n {
                    let k = if reverse { n - 1 - step } else { step };
                    let at = (o * n + k) * inner;
                    for ((a, &x), y) in acc.iter_mut().zip(&v[at..at + inner]).zip(&mut out[at..at + inner]) {
                        *y = if float {
                            a.0 += x.to_f64();
                            T::from_f64(a.0)
                        } else {
                            a.1 = a.1.add_w(x);
                            a.1
                        };
                    }
                }
            }
            Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
        })
    }

    /// For every element, the product of the *other* elements of its lane along `dim`
    /// (`prod_{j != i} x_j`, from prefix and suffix products, so exact with zeros): the
    /// derivative of `prod` along `dim`.
    pub fn prod_others(&self, dim: isize) -> Result<TensorData> {
        let op = "prod";
        let p = Plan::new(self, op, &Dims::from(dim), true)?;
        let (outer, n, inner) = (p.outer, p.n, p.inner);
        if self.numel() == 0 {
            return Ok(self.contiguous());
        }
        with_numeric!(self.dtype(), op, |T| {
            let v = p.data.values_for::<T>(op)?;
            let mut out = crate::pool::try_overwritable::<T>(op, self.shape())?;
            let mut acc = crate::pool::try_scratch(op, inner, T::ONE)?;
            for o in 0..outer {
                // Forward: out_k = x_0 ... x_(k-1); backward: out_k *= x_(k+1) ... x_(n-1).
                acc.iter_mut().for_each(|a| *a = T::ONE);
                for k in 0..n {
                    let at = (o * n + k) * inner;
                    for ((a, &x), y) in acc.iter_mut().zip(&v[at..at + inner]).zip(&mut out[at..at + inner]) {
                        *y = *a;
                        *a = a.mul_w(x);
                    }
                }
                acc.iter_mut().for_each(|a| *a = T::ONE);
                for k in (0..n).rev() {
                    let at = (o * n + k) * inner;
                    for ((a, &x), y) in acc.iter_mut().zip(&v[at..at + inner]).zip(&mut out[at..at + inner]) {
                        *y = y.mul_w(*a);
                        *a = a.mul_w(x);
                    }
                }
            }
            Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
        })
    }

    /// A histogram of the values, like `torch.histc(x, bins, min, max)`: `bins` equal-width
    /// bins over `[min, max]` (the last one includes `max`), counted in the tensor's float
    /// dtype. Values outside the range, and NaN, are not counted. `min == max` (PyTorch's
    /// default is both 0) takes the range of the data, widened by 1 on each side if that is a
    /// single value. Errors: `bins == 0`, `min > max`, an infinite range.
    pub fn histc(&self, bins: usize, min: f64, max: f64) -> Result<TensorData> {
        let op = "histc";
        if bins == 0 {
            return Err(Error::invalid(op, "bins must be > 0, but got 0"));
        }
        if min > max {
            return Err(Error::invalid(
                op,
                format!("max must be larger than min (got min {min} and max {max})"),
            ));
        }
        if !self.dtype().is_float() {
            return Err(Error::dtype(
                op,
                "a floating-point tensor",
                self.dtype(),
                "; convert with .to_dtype(DType::F32)",
            ));
        }
        with_float!(self.dtype(), op, |T| {
            let v = self.values_for::<T>(op)?;
            let (mut lo, mut hi) = (T::c(min), T::c(max));
            if lo == hi && !v.is_empty() {
                // The data's own range (NaN if any value is NaN, then refused below).
                lo = v.iter().fold(v[0], |a, &b| a.min_val(b));
                hi = v.iter().fold(v[0], |a, &b| a.max_val(b));
            }
            if lo == hi {
                lo -= T::ONE;
                hi += T::ONE;
            }
            if !(lo.is_finite() && hi.is_finite()) {
                return Err(Error::invalid(op, format!("range of [{lo}, {hi}] is not finite")));
            }
            let mut counts = crate::pool::try_filled::<T>(op, &Shape::new(&[bins]), T::ZERO)?;
            let b = T::c(bins as f64);
            for &x in v.iter() {
                if x >= lo && x <= hi {
                    // (x - lo) * bins / (hi - lo), truncated: PyTorch's linear bin search.
                    let pos = (((x - lo) * b / (hi - lo)).to_f64() as usize).min(bins - 1);
                    counts[pos] += T::ONE;
                }
            }
            Ok(TensorData::from_vec_unchecked(counts, Shape::new(&[bins])))
        })
    }

    /// Product of all elements (1 for an empty tensor; integers wrap). Floats are multiplied
    /// in 16 partial products (`reduce/lanes.rs`), so the rounding differs from a running
    /// product's, as PyTorch's vectorised product does.
    pub fn prod(&self) -> Result<TensorData> {
        with_numeric!(self.dtype(), "prod", |T| {
            let v = self.values_for::<T>("prod")?;
            let cap = crate::simd::capability();
            let p = crate::dispatch!(cap, |F| lanes::product(cap, &v));
            Ok(TensorData::scalar(p))
        })
    }

    /// Product over `dim` (1 over an empty dim), as [`TensorData::prod`] multiplies.
    pub fn prod_dim(&self, dim: isize, keepdim: bool) -> Result<TensorData> {
        let op = "prod";
        let d = self.shape().dim(op, dim)?;
        let (outer, n, inner) = split(self.shape(), d);
        // The result is sized and allocated before any work: reducing an empty dimension of
        // an empty tensor can ask for more than memory holds.
        let shape = reduced_shape(self.shape(), d, keepdim);
        with_numeric!(self.dtype(), op, |T| {
            let mut out = crate::pool::try_filled::<T>(op, &shape, T::ONE)?;
            if !out.is_empty() && n > 0 {
                let v = self.values_for::<T>(op)?;
                lanes::products(crate::simd::capability(), &v, (outer, n, inner), &mut out);
            }
            Ok(TensorData::from_vec_unchecked(out, shape))
        })
    }

    fn nonempty(&self, op: &'static str) -> Result<()> {
        if self.numel() == 0 {
            return Err(Error::invalid(op, format!("cannot reduce an empty tensor (shape {}) without an identity; the result would be undefined", self.shape())));
        }
        Ok(())
    }

    /// Largest element (NaN if any element is NaN).
    pub fn max(&self) -> Result<TensorData> {
        self.nonempty("max")?;
        with_numeric!(self.dtype(), "max", |T| {
            let v = self.values_for::<T>("max")?;
            let cap = crate::simd::capability();
            let m = crate::dispatch!(cap, |F| lanes::extreme::<T, true>(cap, &v));
            Ok(TensorData::scalar(m))
        })
    }

    /// Smallest element (NaN if any element is NaN).
    pub fn min(&self) -> Result<TensorData> {
        self.nonempty("min")?;
        with_numeric!(self.dtype(), "min", |T| {
            let v = self.values_for::<T>("min")?;
            let cap = crate::simd::capability();
            let m = crate::dispatch!(cap, |F| lanes::extreme::<T, false>(cap, &v));
            Ok(TensorData::scalar(m))
        })
    }

    /// The extremes over `dim` and the index of the first of each ([`lanes::extremes`]): a
    /// NaN wins and the first NaN is reported, as PyTorch's `max` propagates NaN.
    fn arg_fold(
        &self,
        op: &'static str,
        dim: isize,
        keepdim: bool,
        want_max: bool,
    ) -> Result<(TensorData, TensorData)> {
        let d = self.shape().dim(op, dim)?;
        // Only the reduced dimension must be non-empty (PyTorch: `torch.empty(0, 3).max(1)`
        // gives empty results, `.max(0)` is an error).
        if self.dims().get(d) == Some(&0) {
            return Err(Error::invalid(op, format!("cannot reduce over the empty dimension {dim} (shape {}) without an identity; the result would be undefined", self.shape())));
        }
        let (outer, n, inner) = split(self.shape(), d);
        let shape = reduced_shape(self.shape(), d, keepdim);
        with_numeric!(self.dtype(), op, |T| {
            let mut vals = crate::pool::try_filled::<T>(op, &shape, T::ZERO)?;
            let mut idx = crate::pool::try_filled::<i64>(op, &shape, 0)?;
            if !vals.is_empty() {
                let v = self.values_for::<T>(op)?;
                let (cap, lanes) = (crate::simd::capability(), (outer, n, inner));
                if want_max {
                    lanes::extremes::<T, true>(cap, &v, lanes, &mut vals, &mut idx);
                } else {
                    lanes::extremes::<T, false>(cap, &v, lanes, &mut vals, &mut idx);
                }
            }
            Ok((
                TensorData::from_vec_unchecked(vals, shape.clone()),
                TensorData::from_vec_unchecked(idx, shape),
            ))
        })
    }

    /// Largest values over `dim` and their indices (i64), like `torch.max(x, dim)`.
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> Result<(TensorData, TensorData)> {
        self.arg_fold("max", dim, keepdim, true)
    }

    /// Smallest values over `dim` and their indices (i64), like `torch.min(x, dim)`.
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> Result<(TensorData, TensorData)> {
        self.arg_fold("min", dim, keepdim, false)
    }

    /// Indices (i64) of the largest values over `dim`.
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<TensorData> {
        Ok(self.arg_fold("argmax", dim, keepdim, true)?.1)
    }

    /// Indices (i64) of the smallest values over `dim`.
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Result<TensorData> {
        Ok(self.arg_fold("argmin", dim, keepdim, false)?.1)
    }

    /// `log(sum(exp(x), dim))`, computed stably as `m + log(sum(exp(x - m)))`.
    /// An empty lane gives `log(0) = -inf`, like PyTorch.
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Result<TensorData> {
        self.logsumexp_dims(&Dims::from(dim), keepdim)
    }

    /// `log(sum(exp(x)))` over `dims`, as `m + log(sum(exp(x - m)))` with `m` the lane's
    /// largest value (NaN if any value is NaN; 0 when it is infinite, as PyTorch does, so a
    /// lane of -inf gives -inf and one holding +inf gives +inf). An empty lane gives `-inf`.
    pub fn logsumexp_dims(&self, dims: &Dims, keepdim: bool) -> Result<TensorData> {
        let op = "logsumexp";
        let p = Plan::new(self, op, dims, keepdim)?;
        with_float!(self.dtype(), op, |T| {
            let v = p.data.values_for::<T>(op)?;
            let mut out = crate::pool::try_fresh::<T>(op, &p.out)?;
            // A lane as written: max, then the sum of exp(x - max), one value at a time.
            let lse = |lane: &[T]| {
                let m = lane.iter().fold(T::c(f64::NEG_INFINITY), |a, &b| a.max_val(b));
                let m = if m.is_infinite() { T::ZERO } else { m };
                lane.iter().map(|&x| (x - m).exp()).sum::<T>().ln() + m
            };
            if p.n > 0 && p.lanes() > 0 {
                // The lanes as rows through log_softmax's vectorised row statistics (max and
                // ln sum exp(x - max)); a lane whose max is not finite as written above.
                let rows = lanes_as_rows(op, &v, (p.outer, p.n, p.inner))?;
                let stats = crate::vmath::RowStats::of(&rows, p.n);
                let lanes = rows.chunks_exact(p.n).zip(stats.max.iter().zip(stats.lse.iter()));
                out.extend(lanes.map(|(lane, (&m, &l))| if m.is_finite() { m + l } else { lse(lane) }));
                if let Cow::Owned(rows) = rows {
                    crate::pool::give_back(rows);
                }
            } else {
                map_lanes(op, &v, (p.outer, p.n, p.inner), &mut out, lse)?;
            }
            Ok(TensorData::from_vec_unchecked(out, p.out))
        })
    }

    /// `softmax(x, dim) = exp(x - max) / sum(exp(x - max))`: the max subtraction keeps
    /// exp from overflowing for logits of magnitude 1e4.
    pub fn softmax(&self, dim: isize) -> Result<TensorData> {
        with_float!(self.dtype(), "softmax", |T| softmax_kernel::<T>(self, dim, false))
    }

    /// The gradient of `y = softmax(x, dim)` given `y` and the gradient `g` of `y`:
    /// `dx = (g - sum(g y, dim)) y` (from `dy_i/dx_j = y_i (delta_ij - y_j)`). Contiguous rows
    /// along the last dimension take one fused pass per row
    /// ([`kernels::softmax_grad_rows`](crate::simd::kernels::softmax_grad_rows)), contiguous
    /// strided lanes three passes over the rows of their matrices where those hold
    /// [`COLS_MIN`](crate::vmath::COLS_MIN) values or more
    /// ([`kernels::softmax_grad_cols`](crate::simd::kernels::softmax_grad_cols)); other layouts
    /// the same formula op by op.
    pub fn softmax_backward(y: &TensorData, g: &TensorData, dim: isize) -> Result<TensorData> {
        softmax_grad(y, g, dim, false)
    }

    /// The gradient of `y = log_softmax(x, dim)` given `y` and the gradient `g` of `y`:
    /// `dx = g - e^y sum(g, dim)` (from `dy_i/dx_j = [i = j] - softmax_j`, `softmax = e^y`).
    /// Contiguous rows along the last dimension take one fused pass per row (the same values),
    /// contiguous strided lanes of wide matrices two passes over their rows (as
    /// [`TensorData::softmax_backward`]); other layouts the same formula op by op.
    pub fn log_softmax_backward(y: &TensorData, g: &TensorData, dim: isize) -> Result<TensorData> {
        softmax_grad(y, g, dim, true)
    }

    /// `log_softmax(x, dim) = (x - max) - log(sum(exp(x - max)))`, stable for any magnitude.
    pub fn log_softmax(&self, dim: isize) -> Result<TensorData> {
        with_float!(self.dtype(), "log_softmax", |T| softmax_kernel::<T>(self, dim, true))
    }
}

/// The gradient of softmax (`log` false) or log_softmax over `dim` given the output `y` and
/// its gradient `g`: see [`TensorData::softmax_backward`] and
/// [`TensorData::log_softmax_backward`].
fn softmax_grad(y: &TensorData, g: &TensorData, dim: isize, log: bool) -> Result<TensorData> {
    let op = if log { "log_softmax_backward" } else { "softmax_backward" };
    let d = y.shape().dim(op, dim)?;
    let (_, n, inner) = split(y.shape(), d);
    let fused = (inner == 1 || inner >= crate::vmath::COLS_MIN)
        && n > 0
        && y.shape() == g.shape()
        && y.dtype() == g.dtype()
        && y.is_contiguous()
        && g.is_contiguous();
    if !fused {
        return if log {
            g.sub(&y.exp()?.mul(&g.sum_dim(dim, true)?)?)
        } else {
            g.sub(&g.mul(y)?.sum_dim(dim, true)?)?.mul(y)
        };
    }
    with_float!(y.dtype(), op, |T| {
        let (yv, gv) = (y.values_for::<T>(op)?, g.values_for::<T>(op)?);
        let cap = crate::simd::capability();
        if inner > 1 {
            let mut out = crate::pool::try_overwritable(op, y.shape())?; // every element is written
            crate::simd::kernels::softmax_grad_cols(cap, &yv, &gv, (n, inner), log, &mut out);
            return Ok(TensorData::from_vec_unchecked(out, y.shape().clone()));
        }
        let mut out: Vec<T> = crate::pool::try_vec_with_capacity(op, y.shape())?;
        let fill = |o: &mut [std::mem::MaybeUninit<T>]| {
            crate::simd::kernels::softmax_grad_rows(cap, &yv, &gv, n, log, o)
        };
        // SAFETY: `softmax_grad_rows` writes every element of its output (whole rows).
        unsafe { crate::simd::kernels::fill_uninit(&mut out, y.numel(), fill) };
        Ok(TensorData::from_vec_unchecked(out, y.shape().clone()))
    })
}

/// softmax or log_softmax over `dim`: contiguous rows (the last dim) through the row kernel
/// ([`crate::vmath::softmax_rows`]); strided lanes (any other dim), where the rows of the
/// `(n, inner)` matrices are wide ([`crate::vmath::COLS_MIN`]), through the column kernel
/// ([`crate::vmath::softmax_cols`]), which walks those rows whole; narrower ones transposed
/// into rows for the row kernel and back.
fn softmax_kernel<T: Float>(x: &TensorData, dim: isize, log: bool) -> Result<TensorData> {
    let op = if log { "log_softmax" } else { "softmax" };
    let d = x.shape().dim(op, dim)?;
    let (outer, n, inner) = split(x.shape(), d);
    if x.numel() == 0 {
        // No rows: nothing to compute and no scratch (a lane of n = 2^40 would be 4 TB).
        return Ok(TensorData::from_vec_unchecked(Vec::<T>::new(), x.shape().clone()));
    }
    let v = x.values_for::<T>(op)?;
    let mut out = crate::pool::try_overwritable(op, x.shape())?; // every element is written below
    if inner == 1 {
        crate::vmath::softmax_rows(&v, n, &mut out, log);
    } else if inner >= crate::vmath::COLS_MIN {
        crate::vmath::softmax_cols(&v, (n, inner), &mut out, log);
    } else {
        // (outer, n, inner) -> rows (outer, inner, n), the row kernel, and back.
        let rows = lanes_as_rows(op, &v, (outer, n, inner))?;
        let mut res = crate::pool::try_overwritable(op, x.shape())?;
        crate::vmath::softmax_rows(&rows, n, &mut res, log);
        crate::copy::transpose(&res, (outer, inner, n), &mut out);
        if let Cow::Owned(rows) = rows {
            crate::pool::give_back(rows);
        }
        crate::pool::give_back(res);
    }
    Ok(TensorData::from_vec_unchecked(out, x.shape().clone()))
}
