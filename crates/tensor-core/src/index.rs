//! Joining and indexing: cat, stack, index_select, gather, and the scatter-adds that are
//! their gradients.

use crate::shape::{for_each_offset2, normalize_dim, Dims, Layout, Shape};
use crate::{with_any, with_numeric, DType, Error, Numeric, Result, TensorData};
use std::borrow::Cow;

/// The most rows along the indexed dim for which `index_add` splits its output across threads
/// (each part reads the whole index; see there).
const SPLIT_ROWS_MAX: usize = 8192;

/// `(outer, n, inner)` split of a contiguous shape around `dim`.
fn split(dims: &[usize], d: usize) -> (usize, usize, usize) {
    (dims[..d].iter().product(), dims[d], dims[d + 1..].iter().product())
}

/// A zero of `dtype` broadcast to `shape` (no memory of its own): the `self` of the adds into
/// zeros that are the gradients of `gather` and `index_select`. Their copy of it is their
/// output, written once from the buffer cache (zeros of their own, then that copy, had cost the
/// (1000, 1000) gradient of a 10,000-value gather two passes and fresh pages: 2x PyTorch's
/// time).
fn broadcast_zero(shape: &Shape, dtype: DType) -> Result<TensorData> {
    TensorData::full(Shape::scalar(), 0.0, dtype).expand(shape.clone())
}

/// Validates an index tensor: i64 dtype, every value in `[0, size)`. Its values, borrowed
/// when contiguous (a copy as `usize` cost an allocation and a pass; the ops cast each value
/// as they use it, which the check makes exact).
fn indices<'a>(op: &'static str, idx: &'a TensorData, dim: usize, size: usize) -> Result<Cow<'a, [i64]>> {
    let v = index_values(op, idx)?;
    // A negative value is a large u64: one comparison finds both kinds, in a loop compiled
    // for the CPU's vectors (the portable build compared one value at a time: a fifth of
    // `gather`'s time for a (1000, 1000) index), on every core for a large index.
    let cap = crate::simd::capability();
    let any_outside =
        |v: &[i64]| crate::dispatch!(cap, |F| v.iter().fold(false, |any, &i| any | outside(i, size)));
    let bad = if v.len() < crate::simd::kernels::PARALLEL_MIN {
        any_outside(&v)
    } else {
        crate::simd::threads::keep_awake();
        use rayon::prelude::*;
        v.par_chunks(crate::simd::kernels::PARALLEL_MIN / 2).any(any_outside)
    };
    if bad {
        return Err(out_of_range(op, &v, dim, size));
    }
    Ok(v)
}

/// The values of an index tensor, which must be i64 (unchecked against a size: for an op that
/// checks them as it uses them, then reports [`out_of_range`]).
fn index_values<'a>(op: &'static str, idx: &'a TensorData) -> Result<Cow<'a, [i64]>> {
    if idx.dtype() != DType::I64 {
        return Err(Error::dtype(
            op,
            "an i64 index tensor",
            idx.dtype(),
            "; convert with .to_dtype(DType::I64)",
        ));
    }
    idx.values_for::<i64>(op)
}

/// Whether index `i` is outside `[0, size)` (a negative one is a large u64).
#[inline(always)]
fn outside(i: i64, size: usize) -> bool {
    i as u64 >= size as u64
}

/// The error for an index tensor `v` with a value outside `[0, size)` along `dim`: it names
/// the first such value.
fn out_of_range(op: &'static str, v: &[i64], dim: usize, size: usize) -> Error {
    let index = v.iter().copied().find(|&i| outside(i, size)).unwrap_or_default();
    let extra = format!(": dimension {dim} has size {size}");
    Error::IndexOutOfRange { op, what: "index", index, size, extra }
}

impl TensorData {
    /// Concatenates tensors along an existing dimension (all other sizes must agree).
    pub fn cat(tensors: &[&TensorData], dim: isize) -> Result<TensorData> {
        let first =
            tensors.first().ok_or_else(|| Error::invalid("cat", "expected a non-empty list of tensors"))?;
        let d = normalize_dim("cat", dim, first.ndim())?;
        if first.ndim() == 0 {
            return Err(Error::invalid("cat", "zero-dimensional tensors cannot be concatenated; use stack"));
        }
        let mut out_dims = first.shape().0.clone();
        out_dims[d] = 0;
        for t in tensors {
            if t.dtype() != first.dtype() {
                return Err(Error::dtype(
                    "cat",
                    format!("tensors of one dtype ({})", first.dtype()),
                    t.dtype(),
                    "",
                ));
            }
            let ok = t.ndim() == first.ndim()
                && t.dims().iter().zip(first.dims()).enumerate().all(|(i, (a, b))| i == d || a == b);
            if !ok {
                return Err(Error::shapes(
                    "cat",
                    first.shape(),
                    t.shape(),
                    format!("cannot be concatenated along dimension {d} (all other sizes must match)"),
                ));
            }
            out_dims[d] = out_dims[d].checked_add(t.dims()[d]).ok_or_else(|| {
                Error::invalid(
                    "cat",
                    format!("the sizes along dimension {d} overflow when added ({} tensors)", tensors.len()),
                )
            })?;
        }
        let shape = Shape(out_dims);
        shape.validate("cat", first.dtype())?;
        if shape.numel() == 0 {
            // Nothing to copy (the loop below would walk every outer index of an empty result).
            return with_any!(first.dtype(), |T| Ok(TensorData::from_vec_unchecked(Vec::<T>::new(), shape)));
        }
        let (_, _, inner) = split(shape.dims(), d);
        with_any!(first.dtype(), |T| {
            let mut out: Vec<T> = crate::pool::try_overwritable("cat", &shape)?;
            let parts: Vec<_> = tensors.iter().map(|t| t.values_for::<T>("cat")).collect::<Result<_>>()?;
            // Per outer index, one row of the output: each part's run in turn. Large outputs
            // copy rows on every core, and a long run (cat along dim 0) in pieces.
            use crate::simd::kernels::PARALLEL_MIN;
            use rayon::prelude::*;
            let widths: Vec<usize> = tensors.iter().map(|t| t.dims()[d] * inner).collect();
            let row: usize = widths.iter().sum();
            let copy_row = |o: usize, dst: &mut [T]| {
                let mut at = 0;
                for (p, &w) in parts.iter().zip(&widths) {
                    let (d, s) = (&mut dst[at..at + w], &p[o * w..(o + 1) * w]);
                    if w >= PARALLEL_MIN {
                        let piece = PARALLEL_MIN / 2;
                        d.par_chunks_mut(piece)
                            .zip(s.par_chunks(piece))
                            .for_each(|(d, s)| d.copy_from_slice(s));
                    } else {
                        d.copy_from_slice(s);
                    }
                    at += w;
                }
            };
            crate::simd::kernels::by_units(&mut out, row, |first, dst| {
                dst.chunks_mut(row).enumerate().for_each(|(i, dst)| copy_row(first + i, dst))
            });
            Ok(TensorData::from_vec_unchecked(out, shape))
        })
    }

    /// Stacks same-shaped tensors along a new dimension `dim`.
    pub fn stack(tensors: &[&TensorData], dim: isize) -> Result<TensorData> {
        let first =
            tensors.first().ok_or_else(|| Error::invalid("stack", "expected a non-empty list of tensors"))?;
        let d = normalize_dim("stack", dim, first.ndim() + 1)?;
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(Error::shapes(
                    "stack",
                    first.shape(),
                    t.shape(),
                    "cannot be stacked (all tensors need the same shape)",
                ));
            }
        }
        let un: Vec<TensorData> = tensors.iter().map(|t| t.unsqueeze(d as isize)).collect::<Result<_>>()?;
        let refs: Vec<&TensorData> = un.iter().collect();
        TensorData::cat(&refs, d as isize)
    }

    /// Selects entries along `dim` by an i64 index vector (`x[:, idx]` for dim 1).
    pub fn index_select(&self, dim: isize, index: &TensorData) -> Result<TensorData> {
        let d = normalize_dim("index_select", dim, self.ndim())?;
        if index.ndim() > 1 {
            return Err(Error::invalid(
                "index_select",
                format!("index must be 0-D or 1-D, got shape {}", index.shape()),
            ));
        }
        let size = if self.ndim() == 0 { 1 } else { self.dims()[d] };
        let idx = indices("index_select", index, d, size)?;
        if self.ndim() == 0 {
            // PyTorch: "index_select(): Index to scalar can have only 1 value, got 2 value(s)".
            if idx.len() != 1 {
                return Err(Error::invalid(
                    "index_select",
                    format!(
                        "index to a 0-dimensional tensor can have only 1 value, got {} value(s) (index shape {})",
                        idx.len(),
                        index.shape()
                    ),
                ));
            }
            return Ok(self.clone());
        }
        let (_, n, inner) = split(self.dims(), d);
        let mut dims = self.shape().0.clone();
        dims[d] = idx.len();
        let shape = Shape(dims);
        shape.validate("index_select", self.dtype())?;
        with_any!(self.dtype(), |T| {
            let mut out: Vec<T> = crate::pool::try_overwritable("index_select", &shape)?;
            if shape.numel() == 0 {
                return Ok(TensorData::from_vec_unchecked(out, shape));
            }
            let v = self.values_for::<T>("index_select")?;
            // The output as (outer, m, inner): run `p` (pair (o, j) = (p / m, p % m)) is
            // `inner` values from row `idx[j]` of block `o`. A task fills the runs from
            // `first` a block at a time; runs of one value (the last dim) are single loads.
            let m = idx.len();
            let task = |first: usize, dst: &mut [T]| {
                // (Local slices: captured ones were re-read after every store.)
                let (v, idx): (&[T], &[i64]) = (&v, &idx);
                let (mut p, mut dst) = (first, dst);
                while !dst.is_empty() {
                    let (o, j) = (p / m, p % m);
                    let take = (m - j).min(dst.len() / inner);
                    let (now, rest) = std::mem::take(&mut dst).split_at_mut(take * inner);
                    let block = &v[o * n * inner..(o + 1) * n * inner];
                    if inner == 1 {
                        now.iter_mut().zip(&idx[j..j + take]).for_each(|(d, &i)| *d = block[i as usize]);
                    } else {
                        for (d, &i) in now.chunks_exact_mut(inner).zip(&idx[j..j + take]) {
                            let i = i as usize;
                            d.copy_from_slice(&block[i * inner..(i + 1) * inner]);
                        }
                    }
                    (p, dst) = (p + take, rest);
                }
            };
            crate::simd::kernels::by_units(&mut out, inner, task);
            Ok(TensorData::from_vec_unchecked(out, shape))
        })
    }

    /// `out[i][j] = self[i][index[i][j]]` for dim 1 (any rank), like `torch.gather`:
    /// `x.gather(1, target.unsqueeze(1))` is PyTorch's `x[range(n), target]`.
    pub fn gather(&self, dim: isize, index: &TensorData) -> Result<TensorData> {
        let d = normalize_dim("gather", dim, self.ndim())?;
        if index.ndim() != self.ndim() {
            return Err(Error::shapes(
                "gather",
                self.shape(),
                index.shape(),
                "need the same number of dimensions (input and index)",
            ));
        }
        for (i, (&a, &b)) in self.dims().iter().zip(index.dims()).enumerate() {
            if i != d && b > a {
                return Err(Error::shapes(
                    "gather",
                    self.shape(),
                    index.shape(),
                    format!("index size {b} exceeds input size {a} in dimension {i}"),
                ));
            }
        }
        let size = if self.ndim() == 0 { 1 } else { self.dims()[d] };
        if self.ndim() == 0 || size == 0 {
            indices("gather", index, d, size)?; // checked first (with size 0, any is outside)
            if self.ndim() == 0 {
                return Ok(self.clone());
            }
        }
        // Checked as they are used (a pass of its own over an index of a million values took
        // a fifth of the time); the op fails after the loop, its output dropped.
        let idx = index_values("gather", index)?;
        let (_, ik, ii) = split(index.dims(), d);
        let strides = self.layout.strides.clone();
        let inner_dims = &index.dims()[d + 1..];
        let outer_dims = &index.dims()[..d];
        // The source offsets of the positions after `dim`, once (not per value).
        let inner_off: Vec<usize> = (0..ii).map(|i| unravel(i, inner_dims, &strides[d + 1..])).collect();
        let (step, base) = (strides[d], self.layout.offset);
        with_any!(self.dtype(), |T| {
            let src = self.buf_slice::<T>("gather")?;
            let mut out: Vec<T> = crate::pool::try_overwritable("gather", index.shape())?;
            if out.is_empty() {
                return Ok(TensorData::from_vec_unchecked(out, index.shape().clone()));
            }
            // The index tensor in row-major order, a block of `ik * ii` values per outer
            // position `o`, each from `src` at o's offset + j * step + the inner offset. Into
            // a slice, one load and one store a value (with `push`, each value went through
            // the stack, and the index was first copied as usize: a (1000, 10) index into
            // (1000, 1000) took 104 us against PyTorch's 18 on a 2-core Zen 3).
            let block = ik * ii; // > 0: `out` is not empty
            let bad = std::sync::atomic::AtomicBool::new(false);
            let task = |first: usize, dst: &mut [T]| {
                // (Local slices: captured ones are re-read after every store.)
                let (src, idx): (&[T], &[i64]) = (src, &idx);
                // An index outside `[0, size)` is noted and read as 0 (a valid position).
                let mut any_outside = false;
                let at_index = |j: i64, any_outside: &mut bool| {
                    let out = outside(j, size);
                    *any_outside |= out;
                    if out {
                        0
                    } else {
                        j as usize * step
                    }
                };
                for (n, (dst, idx)) in
                    dst.chunks_mut(block).zip(idx[first * block..].chunks(block)).enumerate()
                {
                    // (One outer dim, a matrix's rows: no division. `unravel` divided by the
                    // row count for every row: a quarter of `gather`'s time for 10 values a row.)
                    let at = base
                        + match outer_dims {
                            [_] => (first + n) * strides[0],
                            _ => unravel(first + n, outer_dims, &strides[..d]),
                        };
                    if ii == 1 && step == 1 {
                        // The gathered dim's values are a slice: its bounds check is the index's.
                        let row = &src[at..at + size];
                        for (d, &j) in dst.iter_mut().zip(idx) {
                            *d = match usize::try_from(j).ok().and_then(|k| row.get(k)) {
                                Some(&v) => v,
                                None => {
                                    any_outside = true;
                                    T::default()
                                }
                            };
                        }
                    } else if ii == 1 {
                        for (d, &j) in dst.iter_mut().zip(idx) {
                            *d = src[at + at_index(j, &mut any_outside)];
                        }
                    } else {
                        for (dst, idx) in dst.chunks_mut(ii).zip(idx.chunks(ii)) {
                            for ((d, &j), &off) in dst.iter_mut().zip(idx).zip(&inner_off) {
                                *d = src[at + at_index(j, &mut any_outside) + off];
                            }
                        }
                    }
                }
                if any_outside {
                    bad.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            };
            crate::simd::kernels::by_units(&mut out, block, task);
            if bad.into_inner() {
                return Err(out_of_range("gather", &idx, d, size));
            }
            Ok(TensorData::from_vec_unchecked(out, index.shape().clone()))
        })
    }

    /// `self` with `src` added at the positions `index` names along `dim`, like
    /// `torch.scatter_add`: for `dim = 1`, `out[i][index[i][j]] += src[i][j]` (repeated
    /// indices add up). `index` has `self`'s rank, and no larger sizes than `src`, nor than
    /// `self` outside `dim`; only `src`'s elements at `index`'s positions are read.
    pub fn scatter_add(&self, dim: isize, index: &TensorData, src: &TensorData) -> Result<TensorData> {
        let op = "scatter_add";
        let nd = self.ndim();
        let d = normalize_dim(op, dim, nd)?;
        if src.dtype() != self.dtype() {
            return Err(Error::dtype(
                op,
                format!("src of self's dtype ({})", self.dtype()),
                src.dtype(),
                format!("; convert src with .to_dtype(DType::{:?})", self.dtype()),
            ));
        }
        if index.ndim() != nd || src.ndim() != nd {
            return Err(Error::shapes(
                op,
                self.shape(),
                index.shape(),
                format!("need the same number of dimensions (self, index, and src {})", src.shape()),
            ));
        }
        // Like PyTorch: no larger than src anywhere, nor than self outside `dim` (a larger
        // index would write past the rows it addresses).
        let fits = (0..nd)
            .all(|i| index.dims()[i] <= src.dims()[i] && (i == d || index.dims()[i] <= self.dims()[i]));
        if !fits {
            return Err(Error::shapes(
                op,
                self.shape(),
                index.shape(),
                format!(
                    "do not fit (the index, the second, must be no larger than self apart from dimension {d}, and no larger than src {})",
                    src.shape()
                ),
            ));
        }
        let size = if nd == 0 { 1 } else { self.dims()[d] };
        let idx = indices(op, index, d, size)?;
        // Walk index's positions with src's strides and the output's, leaving out `dim` of
        // the output: that offset comes from the index value.
        let strides = self.shape().contiguous_strides();
        let sd = strides.get(d).copied().unwrap_or(0);
        let mut walk = strides.clone();
        if nd > 0 {
            walk[d] = 0;
        }
        with_numeric!(self.dtype(), op, |T| {
            let mut out = crate::indexing::owned_values::<T>(self, op)?;
            let s = src.buf_slice::<T>(op)?;
            let mut k = 0;
            for_each_offset2(index.dims(), &src.layout.strides, src.layout.offset, &walk, 0, |so, oo| {
                let slot = &mut out[oo + idx[k] as usize * sd];
                *slot = slot.add_w(s[so]);
                k += 1;
            });
            Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
        })
    }

    /// The gradient of `gather`: a zero tensor of `shape` with `src` added at the gathered
    /// positions (`out[i][index[i][j]] += src[i][j]` for dim 1); `index` and `src` have one
    /// shape.
    pub fn scatter_add_zeros(
        shape: &Shape,
        dim: isize,
        index: &TensorData,
        src: &TensorData,
    ) -> Result<TensorData> {
        normalize_dim("scatter_add", dim, shape.ndim())?;
        if index.shape() != src.shape() {
            return Err(Error::shapes(
                "scatter_add",
                index.shape(),
                src.shape(),
                "must match (index and src)",
            ));
        }
        broadcast_zero(shape, src.dtype())?.scatter_add(dim, index, src)
    }

    /// `self` with the slices of `source` added at `index` along `dim`, like
    /// `torch.index_add` (alpha 1): for `dim = 0`, `out[index[k]] += source[k]`; repeated
    /// indices add up. `index` is 1-D (or 0-D) with values in `[0, size)`, and `source` has
    /// `self`'s shape except `index.numel()` entries along `dim`.
    pub fn index_add(&self, dim: isize, index: &TensorData, source: &TensorData) -> Result<TensorData> {
        let op = "index_add";
        if source.dtype() != self.dtype() {
            return Err(Error::dtype(
                op,
                format!("a source of self's dtype ({})", self.dtype()),
                source.dtype(),
                format!("; convert the source with .to_dtype(DType::{:?})", self.dtype()),
            ));
        }
        let d = normalize_dim(op, dim, self.ndim())?;
        if index.ndim() > 1 {
            return Err(Error::invalid(op, format!("index must be 0-D or 1-D, got shape {}", index.shape())));
        }
        if self.ndim() == 0 {
            // A 0-D tensor is a 1-element vector here.
            let (x, s) = (self.reshape([1])?, source.reshape([-1])?);
            return x.index_add(0, index, &s)?.reshape(());
        }
        let idx = indices(op, index, d, self.dims()[d])?;
        let mut want = self.shape().clone();
        want.0[d] = idx.len();
        if source.shape() != &want {
            return Err(Error::shapes(
                op,
                &want,
                source.shape(),
                format!("must match (the source, the second, needs {} entries along dimension {d}, one per index)", idx.len()),
            ));
        }
        let (_, n, inner) = split(self.dims(), d);
        with_numeric!(self.dtype(), op, |T| {
            let mut out = crate::indexing::owned_values::<T>(self, op)?;
            if idx.is_empty() || out.is_empty() {
                return Ok(TensorData::from_vec_unchecked(out, self.shape().clone()));
                // nothing to add
            }
            let s = source.values_for::<T>(op)?;
            let (s, idx, m): (&[T], &[i64], usize) = (&s, &idx, idx.len());
            // `out` as rows of `inner` (row `o * n + i`), cut into parts of whole rows: a
            // part adds, for each outer index it covers, the source rows of the indices that
            // fall in it, in the order of `index` (so repeated indices add in the same order
            // on any number of threads). Every part reads all of `index` for each outer index
            // it covers: split only where that is small beside the values added (`n` at most
            // 8,192 rows of at least 8 values; a (10^6,) vector and 10^6 indices would read
            // the index once per part, 30 times over).
            let task = |first: usize, part: &mut [T]| {
                crate::dispatch!(crate::simd::capability(), |F| {
                    let end = first + part.len() / inner;
                    for o in first / n..end.div_ceil(n) {
                        for (k, &i) in idx.iter().enumerate() {
                            let r = o * n + i as usize;
                            if r < first || r >= end {
                                continue;
                            }
                            let d = &mut part[(r - first) * inner..(r - first + 1) * inner];
                            let from = &s[(o * m + k) * inner..(o * m + k + 1) * inner];
                            d.iter_mut().zip(from).for_each(|(d, &v)| *d = d.add_w(v));
                        }
                    }
                })
            };
            if n <= SPLIT_ROWS_MAX && inner >= 8 {
                crate::simd::kernels::by_units(&mut out, inner, task);
            } else {
                task(0, &mut out);
            }
            Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
        })
    }

    /// The gradient of `index_select`: zeros of `shape` with the slices of `src` added back
    /// at `index` along `dim` (repeated indices accumulate).
    pub fn index_add_zeros(
        shape: &Shape,
        dim: isize,
        index: &TensorData,
        src: &TensorData,
    ) -> Result<TensorData> {
        broadcast_zero(shape, src.dtype())?.index_add(dim, index, src)
    }

    /// The tensor repeated `repeats[i]` times along each dimension, like `torch.repeat`:
    /// `[1, 2].repeat([2, 3])` is `[[1, 2, 1, 2, 1, 2], [1, 2, 1, 2, 1, 2]]`. `repeats` may be
    /// longer than the rank (new leading dims), not shorter. A copy.
    pub fn repeat(&self, repeats: &[usize]) -> Result<TensorData> {
        let nd = self.ndim();
        let lead = repeats.len().checked_sub(nd).ok_or_else(|| {
            Error::invalid(
                "repeat",
                format!(
                    "the number of repeat dims ({}, {repeats:?}) can not be smaller than the number of dimensions of the tensor ({nd}, shape {})",
                    repeats.len(),
                    self.shape()
                ),
            )
        })?;
        // Seen as (r0, s0, r1, s1, ...) with stride 0 along each r: a copy of that view is
        // the result, laid out as (r0 * s0, r1 * s1, ...).
        let (mut dims, mut strides, mut out) = (Dims::new(), Dims::new(), Dims::new());
        for (i, &r) in repeats.iter().enumerate() {
            let (s, st) =
                if i < lead { (1, 0) } else { (self.dims()[i - lead], self.layout.strides[i - lead]) };
            dims.extend([r, s]);
            strides.extend([0, st]);
            out.push(r.checked_mul(s).ok_or_else(|| {
                Error::invalid("repeat", format!("repeating size {s} {r} times overflows"))
            })?);
        }
        let out = Shape(out);
        out.validate("repeat", self.dtype())?;
        let view = TensorData {
            buf: self.buf.clone(),
            layout: Layout { shape: Shape(dims), strides, offset: self.layout.offset },
        };
        let copy = view.try_contiguous_copy()?;
        Ok(TensorData { buf: copy.buf, layout: Layout::contiguous(out) })
    }

    /// The gradient of `narrow`: zeros of `shape` with `src` written at `start..` along `dim`.
    pub fn narrow_embed(shape: &Shape, dim: isize, start: usize, src: &TensorData) -> Result<TensorData> {
        let d = normalize_dim("narrow", dim, shape.ndim())?;
        let fits = shape.ndim() > 0
            && src.ndim() == shape.ndim()
            && start.checked_add(src.dims()[d]).is_some_and(|end| end <= shape.dims()[d])
            && src.dims().iter().zip(shape.dims()).enumerate().all(|(i, (&a, &b))| i == d || a == b);
        if !fits {
            return Err(Error::shapes(
                "narrow",
                shape,
                src.shape(),
                format!("do not fit (the second must be a slice of the first starting at {start} along dimension {d})"),
            ));
        }
        shape.validate("narrow", src.dtype())?;
        let parts_len = [start, src.dims()[d], shape.dims()[d] - start - src.dims()[d]];
        let mut pieces = vec![];
        for (i, &len) in parts_len.iter().enumerate() {
            if i == 1 {
                pieces.push(src.clone());
            } else if len > 0 {
                let mut dims = shape.0.clone();
                dims[d] = len;
                pieces.push(TensorData::try_zeros(Shape(dims), src.dtype())?);
            }
        }
        let refs: Vec<&TensorData> = pieces.iter().collect();
        TensorData::cat(&refs, d as isize)
    }

    /// Fills positions where `mask` is true with `value` (mask broadcasts to self).
    pub fn masked_fill(&self, mask: &TensorData, value: f64) -> Result<TensorData> {
        let fill = TensorData::full(Shape::scalar(), value, self.dtype());
        TensorData::where_cond(mask, &fill, self)?.expand(self.shape().clone())?.try_contiguous()
    }
}

/// Offset of the `flat`-th row-major position of `dims` under `strides`.
fn unravel(mut flat: usize, dims: &[usize], strides: &[usize]) -> usize {
    let mut off = 0;
    for i in (0..dims.len()).rev() {
        off += (flat % dims[i]) * strides[i];
        flat /= dims[i];
    }
    off
}
