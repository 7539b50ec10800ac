//! Reductions over one dimension or all elements, with `keepdim`, and the softmax family.
//! A reduction over `dim` views the contiguous data as `(outer, n, inner)`.

use crate::shape::Shape;
use crate::{with_float, with_numeric, DType, Element, Error, Float, Numeric, Result, TensorData};

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

/// Sum of a slice, pairwise like PyTorch's cascade sum: blocks of 256 are summed with 8
/// independent accumulators (which vectorises), and block sums are combined pairwise, so the
/// rounding error grows with log(n) rather than n.
pub fn sum_slice<T: Numeric>(x: &[T]) -> T {
    const BLOCK: usize = 256;
    if x.len() > BLOCK {
        let half = (x.len() / 2).next_multiple_of(BLOCK).min(x.len());
        return sum_slice(&x[..half]).add_w(sum_slice(&x[half..]));
    }
    let mut acc = [T::ZERO; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i].add_w(c[i]);
        }
    }
    // `add_w`: integer sums wrap around on overflow (as in PyTorch) rather than panic.
    let mut s = ((acc[0].add_w(acc[4])).add_w(acc[1].add_w(acc[5])))
        .add_w((acc[2].add_w(acc[6])).add_w(acc[3].add_w(acc[7])));
    for &v in rest {
        s = s.add_w(v);
    }
    s
}

/// Reduces `dim` of `x` with a per-lane fold: `init` then `step(acc, value)` for each of the
/// `n` values, then `finish(acc, n)`.
fn fold_dim<T: Element, A: Copy, O: Element>(
    x: &TensorData,
    op: &'static str,
    dim: isize,
    keepdim: bool,
    init: A,
    step: impl Fn(A, T, usize) -> A,
    finish: impl Fn(A, usize) -> O,
) -> Result<TensorData> {
    let d = x.shape().dim(op, dim)?;
    let (outer, n, inner) = split(x.shape(), d);
    // The result (outer * inner values) is sized and allocated before any work: reducing an
    // empty dimension of an empty tensor can ask for more than memory holds.
    let shape = reduced_shape(x.shape(), d, keepdim);
    let mut out: Vec<O> = crate::pool::try_fresh(op, &shape)?;
    let mut acc = crate::pool::try_scratch(op, shape.numel(), init)?;
    if !acc.is_empty() && n > 0 {
        let v = x.values_for::<T>(op)?;
        for o in 0..outer {
            let lanes = &mut acc[o * inner..(o + 1) * inner];
            for k in 0..n {
                let row = &v[(o * n + k) * inner..(o * n + k + 1) * inner];
                for (a, &val) in lanes.iter_mut().zip(row) {
                    *a = step(*a, val, k);
                }
            }
        }
    }
    out.extend(acc.into_iter().map(|a| finish(a, n)));
    Ok(TensorData::from_vec_unchecked(out, shape))
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
        if self.dtype() == DType::Bool {
            return self.bool_as_i64("sum")?.sum_dim(dim, keepdim);
        }
        let d = self.shape().dim("sum", dim)?;
        let (_, _, inner) = split(self.shape(), d);
        with_numeric!(self.dtype(), "sum", |T| {
            if inner == 1 && self.ndim() > 0 && self.dims()[d] > 0 {
                // Reducing the last dimension: contiguous rows.
                let n = self.dims()[d];
                let shape = reduced_shape(self.shape(), d, keepdim);
                let mut out = crate::pool::try_fresh("sum", &shape)?;
                out.extend(self.values_for::<T>("sum")?.chunks_exact(n).map(sum_slice::<T>));
                return Ok(TensorData::from_vec_unchecked(out, shape));
            }
            fold_dim::<T, T, T>(self, "sum", dim, keepdim, T::ZERO, |a, x, _| a.add_w(x), |a, _| a)
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
        let d = self.shape().dim("mean", dim)?;
        // A 0-d tensor is its own mean (n = 1).
        let n = self.dims().get(d).copied().unwrap_or(1);
        with_float!(self.dtype(), "mean", |T| self
            .sum_dim(dim, keepdim)?
            .map_named::<T, T>("mean", |s| s / T::c(n as f64)))
    }

    /// Product of all elements.
    pub fn prod(&self) -> Result<TensorData> {
        with_numeric!(self.dtype(), "prod", |T| {
            let p = self.values_for::<T>("prod")?.iter().fold(T::ONE, |a, &b| a.mul_w(b));
            Ok(TensorData::scalar(p))
        })
    }

    /// Product over `dim`.
    pub fn prod_dim(&self, dim: isize, keepdim: bool) -> Result<TensorData> {
        with_numeric!(self.dtype(), "prod", |T| fold_dim::<T, T, T>(
            self,
            "prod",
            dim,
            keepdim,
            T::ONE,
            |a, x, _| a.mul_w(x),
            |a, _| a
        ))
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
            Ok(TensorData::scalar(v.iter().skip(1).fold(v[0], |a, &b| a.max_val(b))))
        })
    }

    /// Smallest element (NaN if any element is NaN).
    pub fn min(&self) -> Result<TensorData> {
        self.nonempty("min")?;
        with_numeric!(self.dtype(), "min", |T| {
            let v = self.values_for::<T>("min")?;
            Ok(TensorData::scalar(v.iter().skip(1).fold(v[0], |a, &b| a.min_val(b))))
        })
    }

    fn arg_fold(
        &self,
        op: &'static str,
        dim: isize,
        keepdim: bool,
        want_max: bool,
    ) -> Result<(TensorData, TensorData)> {
        // Only the reduced dimension must be non-empty (PyTorch: `torch.empty(0, 3).max(1)`
        // gives empty results, `.max(0)` is an error).
        if self.dims().get(self.shape().dim(op, dim)?) == Some(&0) {
            return Err(Error::invalid(op, format!("cannot reduce over the empty dimension {dim} (shape {}) without an identity; the result would be undefined", self.shape())));
        }
        with_numeric!(self.dtype(), op, |T| {
            // Keeps the first extreme; a NaN wins and sticks (PyTorch's max propagates NaN).
            let better = |cand: T, cur: T| -> bool {
                let c_nan = cand.to_f64().is_nan();
                let cur_nan = cur.to_f64().is_nan();
                !cur_nan && (c_nan || if want_max { cand > cur } else { cand < cur })
            };
            let pairs = fold_dim::<T, (T, usize), T>(
                self,
                op,
                dim,
                keepdim,
                (T::ZERO, usize::MAX),
                |(best, bi), x, k| {
                    if bi == usize::MAX || better(x, best) {
                        (x, k)
                    } else {
                        (best, bi)
                    }
                },
                |(b, _), _| b,
            )?;
            let idx = fold_dim::<T, (T, usize), i64>(
                self,
                op,
                dim,
                keepdim,
                (T::ZERO, usize::MAX),
                |(best, bi), x, k| {
                    if bi == usize::MAX || better(x, best) {
                        (x, k)
                    } else {
                        (best, bi)
                    }
                },
                |(_, i), _| i as i64,
            )?;
            Ok((pairs, idx))
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
        self.shape().dim("logsumexp", dim)?;
        if self.numel() == 0 {
            return with_float!(self.dtype(), "logsumexp", |T| self.sum_dim(dim, keepdim)?.log());
        }
        let (m, _) = self.max_dim(dim, true)?;
        with_float!(self.dtype(), "logsumexp", |T| {
            // An all -inf (or +inf) lane has max +-inf: subtract 0 there instead (PyTorch does too).
            let m = m.map_named::<T, T>("logsumexp", |v| if v.is_infinite() { T::ZERO } else { v })?;
            let s = self.sub(&m)?.exp()?.sum_dim(dim, true)?.log()?.add(&m)?;
            if keepdim {
                Ok(s)
            } else {
                s.squeeze_dim(dim)
            }
        })
    }

    /// `softmax(x, dim) = exp(x - max) / sum(exp(x - max))`: the max subtraction keeps
    /// exp from overflowing for logits of magnitude 1e4.
    pub fn softmax(&self, dim: isize) -> Result<TensorData> {
        with_float!(self.dtype(), "softmax", |T| softmax_kernel::<T>(self, dim, false))
    }

    /// `log_softmax(x, dim) = (x - max) - log(sum(exp(x - max)))`, stable for any magnitude.
    pub fn log_softmax(&self, dim: isize) -> Result<TensorData> {
        with_float!(self.dtype(), "log_softmax", |T| softmax_kernel::<T>(self, dim, true))
    }
}

/// softmax or log_softmax over `dim`: every lane through the same row kernel
/// ([`crate::vmath::softmax_rows`]), so a strided lane (any `dim` but the last) gives exactly
/// the values the same numbers give as a contiguous row. Strided lanes are gathered into
/// contiguous rows first and the results scattered back.
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
    } else {
        // (outer, n, inner) -> rows (outer, inner, n), the kernel, and back.
        let mut rows = crate::pool::try_overwritable(op, x.shape())?;
        for o in 0..outer {
            let (src, dst) =
                (&v[o * n * inner..(o + 1) * n * inner], &mut rows[o * n * inner..(o + 1) * n * inner]);
            for k in 0..n {
                for i in 0..inner {
                    dst[i * n + k] = src[k * inner + i];
                }
            }
        }
        let mut res = crate::pool::try_overwritable(op, x.shape())?;
        crate::vmath::softmax_rows(&rows, n, &mut res, log);
        for o in 0..outer {
            let (src, dst) =
                (&res[o * n * inner..(o + 1) * n * inner], &mut out[o * n * inner..(o + 1) * n * inner]);
            for k in 0..n {
                for i in 0..inner {
                    dst[k * inner + i] = src[i * n + k];
                }
            }
        }
        crate::pool::give_back(rows);
        crate::pool::give_back(res);
    }
    Ok(TensorData::from_vec_unchecked(out, x.shape().clone()))
}
