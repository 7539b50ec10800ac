//! PyTorch's indexing, the kernels behind `x[...]`:
//!
//! - **basic indexing** gives views (no copy): [`TensorData::select`] for an integer
//!   (`x[:, -1]`: the dimension disappears) and [`TensorData::slice`] for `start:end:step`
//!   (`x[:, 1::2]`: the dimension keeps its place, its stride is multiplied by `step`);
//! - **advanced indexing** by tensors copies: [`TensorData::index`] reads `x[i0, i1, ...]`
//!   for i64 index tensors of any shape (broadcast together; negative values count from the
//!   end) and bool masks (which stand for the positions where they are true,
//!   [`TensorData::nonzero`]); [`TensorData::index_put`] writes (or adds) values at those
//!   positions, and is the gradient of `index` (with `accumulate`, so repeated indices add).
//!
//! Where the dims of the broadcast index shape `B` go (PyTorch's and NumPy's rule): when
//! the indexed dims are next to each other (`x[:, i, j]`), `B` replaces them in place (the
//! result of `x` of shape `(2, 3, 4, 5)` is `(2, *B, 5)`); when a non-indexed dim separates
//! them (`x[i, :, j]`), `B` comes first (`(*B, 3, 5)`).

use crate::shape::{for_each_offset, normalize_dim, Dims, Layout, Shape};
use crate::{with_any, with_numeric, DType, Error, Numeric, Result, TensorData};
use std::borrow::Cow;

/// The position `index` (negative counts from the end) along a dimension `dim` of `size`
/// elements, or PyTorch's error naming the index, the dimension and its size.
fn position(op: &'static str, index: i64, dim: usize, size: usize) -> Result<usize> {
    let n = size as i64; // a size of a valid tensor fits in i64
    let i = if index < 0 { index.checked_add(n) } else { Some(index) };
    match i {
        Some(i) if (0..n).contains(&i) => Ok(i as usize),
        _ => Err(Error::IndexOutOfRange {
            op,
            what: "index",
            index,
            size,
            extra: format!(", or [-{size}, -1] from the end: dimension {dim} has size {size}"),
        }),
    }
}

/// Python's slice rule for `start:end` (with `step > 0`) over `size` elements: negative
/// bounds count from the end, `None` means the start or the end, and bounds beyond either
/// end are clamped (`x[10:20]` of 3 elements is empty, not an error). Returns the first
/// position and the number of elements, `ceil((end - start) / step)` or 0.
fn slice_range(size: usize, start: Option<i64>, end: Option<i64>, step: i64) -> (usize, usize) {
    let n = size as i64;
    let clamp = |b: i64| if b < 0 { (b.saturating_add(n)).max(0) } else { b.min(n) };
    let s = start.map_or(0, clamp);
    let e = end.map_or(n, clamp);
    let len = if e > s { (e - s - 1) / step.max(1) + 1 } else { 0 };
    (s as usize, len as usize)
}

/// The layout of `x[..., index, ...]` (`index` at dimension `d`, already resolved): the
/// dimension is removed and the offset moves to the selected position.
fn select_layout(layout: &Layout, d: usize, index: usize) -> Layout {
    let mut l = layout.clone();
    // In bounds (index < size), so the offset of an element; an empty view (another dim of
    // size 0) never reads its offset, which then may stay where it was.
    if let Some(o) = index.checked_mul(l.strides[d]).and_then(|s| s.checked_add(l.offset)) {
        l.offset = o;
    }
    l.shape.0.remove(d);
    l.strides.remove(d);
    l
}

/// The layout of `x[..., start:start + len * step:step, ...]` at dimension `d`: `len`
/// elements from `start`, every `step`-th.
fn slice_layout(layout: &Layout, d: usize, start: usize, len: usize, step: usize) -> Layout {
    let mut l = layout.clone();
    if len > 0 {
        // `start` is an element of the dimension here, so its offset fits (as above).
        if let Some(o) = start.checked_mul(l.strides[d]).and_then(|s| s.checked_add(l.offset)) {
            l.offset = o;
        }
    }
    // (len - 1) * step * stride stays inside the dimension when len >= 2, so the product
    // fits then; with len <= 1 the stride is never stepped.
    l.strides[d] = if len >= 2 { l.strides[d] * step } else { l.strides[d] };
    l.shape.0[d] = len;
    l
}

/// Zeros of `shape` (contiguous) with `g` written, in row-major order, at the elements a
/// view of layout `view` addresses: the gradient of a view op (`select`, `slice`).
fn embed(op: &'static str, shape: &Shape, view: &Layout, g: &TensorData) -> Result<TensorData> {
    if g.shape() != &view.shape {
        return Err(Error::shapes(
            op,
            &view.shape,
            g.shape(),
            "mismatch: the gradient must have the view's shape (the first)",
        ));
    }
    with_any!(g.dtype(), |T| {
        let mut out = crate::pool::try_filled::<T>(op, shape, T::default())?;
        let gv = g.values_for::<T>(op)?;
        let mut k = 0;
        for_each_offset(view.shape.dims(), &view.strides, view.offset, |o| {
            out[o] = gv[k];
            k += 1;
        });
        Ok(TensorData::from_vec_unchecked(out, shape.clone()))
    })
}

impl TensorData {
    /// `x[..., index, ...]` with `index` at dimension `dim`, like `torch.select`: a view
    /// without that dimension. A negative `index` counts from the end (`x.select(1, -1)` is
    /// `x[:, -1]`).
    pub fn select(&self, dim: isize, index: i64) -> Result<TensorData> {
        if self.ndim() == 0 {
            return Err(Error::invalid(
                "select",
                "invalid index of a 0-dimensional tensor (it has no dimension to index); use .item()",
            ));
        }
        let d = normalize_dim("select", dim, self.ndim())?;
        let i = position("select", index, d, self.dims()[d])?;
        Ok(TensorData { buf: self.buf.clone(), layout: select_layout(&self.layout, d, i) })
    }

    /// The gradient of [`TensorData::select`]: zeros of `shape` with `g` at `index` along
    /// `dim`.
    pub fn select_backward(shape: &Shape, dim: isize, index: i64, g: &TensorData) -> Result<TensorData> {
        let d = normalize_dim("select", dim, shape.ndim())?;
        let size = shape.dims().get(d).copied().unwrap_or(0);
        let i = position("select", index, d, size)?;
        let view = select_layout(&Layout::contiguous(shape.clone()), d, i);
        embed("select", shape, &view, g)
    }

    /// `x[..., start:end:step, ...]` at dimension `dim`, like Python's slices on a torch
    /// tensor: a view. `None` bounds mean the start and the end, negative ones count from the
    /// end, bounds past either end are clamped; `step` must be positive (PyTorch refuses
    /// negative steps too).
    pub fn slice(&self, dim: isize, start: Option<i64>, end: Option<i64>, step: i64) -> Result<TensorData> {
        let (d, s, len, step) = slice_args(self.shape(), dim, start, end, step)?;
        Ok(TensorData { buf: self.buf.clone(), layout: slice_layout(&self.layout, d, s, len, step) })
    }

    /// The gradient of [`TensorData::slice`]: zeros of `shape` with `g` at the sliced
    /// positions.
    pub fn slice_backward(
        shape: &Shape,
        dim: isize,
        start: Option<i64>,
        end: Option<i64>,
        step: i64,
        g: &TensorData,
    ) -> Result<TensorData> {
        let (d, s, len, step) = slice_args(shape, dim, start, end, step)?;
        let view = slice_layout(&Layout::contiguous(shape.clone()), d, s, len, step);
        embed("slice", shape, &view, g)
    }

    /// The positions of the nonzero (true) elements, like `torch.nonzero`: an i64 tensor of
    /// shape `(n, ndim)`, one row of coordinates per element, in row-major order. NaN counts
    /// as nonzero.
    pub fn nonzero(&self) -> Result<TensorData> {
        let nd = self.ndim();
        // `x != 0` (NaN != 0); a bool mask's own values (not copied when contiguous).
        let hits: Cow<[bool]> = match self.dtype() {
            DType::Bool => self.values_for::<bool>("nonzero")?,
            _ => with_any!(self.dtype(), |T| {
                let v = self.values_for::<T>("nonzero")?;
                Ok::<_, Error>(Cow::Owned(v.iter().map(|&x| x != T::default()).collect()))
            })?,
        };
        let counts = chunk_counts(&hits);
        let shape = Shape::new(&[counts.iter().sum(), nd]);
        let mut out = crate::pool::try_overwritable::<i64>("nonzero", &shape)?;
        let dims = self.dims();
        // Each chunk writes the coordinates of its hits from its count's offset, those of
        // every position while it has hits left (no branch on the hit, as in `select_where`).
        // Up to 4 dims the coordinates are an array of that length: with a length known only
        // at run time, each position's copy was a call to memmove.
        let fill = |c: usize, dst: &mut [i64]| match nd {
            0 => dst.fill(0), // (a 0-d tensor: one hit of no coordinates, or none)
            1 => coordinates::<1>(dims, &hits, c, dst),
            2 => coordinates::<2>(dims, &hits, c, dst),
            3 => coordinates::<3>(dims, &hits, c, dst),
            4 => coordinates::<4>(dims, &hits, c, dst),
            _ => {
                let mut coord: Dims = smallvec::smallvec![0; nd];
                let mut k = 0;
                walk_chunk(dims, &hits, c, &mut coord, |coord, hit| {
                    if k == dst.len() {
                        return false;
                    }
                    dst[k..k + nd].iter_mut().zip(coord.iter()).for_each(|(o, &i)| *o = i as i64);
                    k += nd * hit as usize;
                    true
                });
            }
        };
        for_each_part(&mut out, &counts, nd, hits.len() >= crate::simd::kernels::PARALLEL_MIN, fill);
        Ok(TensorData::from_vec_unchecked(out, shape))
    }

    /// Advanced indexing, PyTorch's `aten::index`: `x[i0, i1, ...]` where entry `k` of
    /// `indices` indexes dimension `k` of `self` (`None` keeps that dimension whole, as `:`
    /// does). Each index is an i64 tensor of any shape (negative values count from the end)
    /// or a bool mask covering as many dimensions as it has (it selects the positions where
    /// it is true). The index tensors broadcast together to a shape `B`, which takes the
    /// place of the indexed dims when they are adjacent and comes first otherwise (see the
    /// module docs). The result is a copy.
    ///
    /// `C.index(&[Some(X)])` is makemore's `C[X]`: for `C` of shape `(27, 10)` and `X` of shape
    /// `(32, 3)`, a `(32, 3, 10)` tensor of rows of `C`.
    pub fn index(&self, indices: &[Option<TensorData>]) -> Result<TensorData> {
        if let [Some(mask)] = indices {
            if mask.dtype() == DType::Bool && mask.shape() == self.shape() && self.ndim() > 0 {
                return self.select_where(mask);
            }
        }
        let plan = Plan::new("index", self.shape(), &self.layout.strides, indices)?;
        plan.out.validate("index", self.dtype())?;
        with_any!(self.dtype(), |T| {
            let mut out = crate::pool::try_fresh::<T>("index", &plan.out)?;
            if plan.out.numel() == 0 {
                return Ok(TensorData::from_vec_unchecked(out, plan.out));
            }
            let src = self.buf_slice::<T>("index")?;
            plan.walk(self.layout.offset, |offsets, row| match offsets {
                Some(q) => out.extend(q.iter().map(|&q| src[row + q])),
                None => out.extend_from_slice(&src[row..row + plan.post_numel]),
            });
            Ok(TensorData::from_vec_unchecked(out, plan.out))
        })
    }

    /// `x[mask]` for a bool mask of `x`'s shape (what `masked_select` computes): the values
    /// where the mask holds, in row-major order. The mask is counted in chunks (on every core
    /// for large tensors), then each chunk writes its values from its count's offset, one
    /// store per value whether selected or not (a branch per value mispredicted on random
    /// masks: `x.masked_select(x > 0)` of (1000, 1000) f32 took 18 ms, PyTorch 6-7).
    fn select_where(&self, mask: &TensorData) -> Result<TensorData> {
        let m = mask.values_for::<bool>("index")?;
        let counts = chunk_counts(&m);
        let shape = Shape::new(&[counts.iter().sum()]);
        with_any!(self.dtype(), |T| {
            let v = self.values_for::<T>("index")?;
            let mut out = crate::pool::try_overwritable::<T>("index", &shape)?;
            let fill = |c: usize, dst: &mut [T]| {
                let (v, m) = (&v[c * CHUNK..], &m[c * CHUNK..]);
                let mut k = 0;
                for (&x, &b) in v.iter().zip(m.iter()).take(CHUNK) {
                    if k == dst.len() {
                        break; // (the chunk's selected values are all written)
                    }
                    dst[k] = x;
                    k += b as usize;
                }
            };
            for_each_part(&mut out, &counts, 1, m.len() >= crate::simd::kernels::PARALLEL_MIN, fill);
            Ok(TensorData::from_vec_unchecked(out, shape))
        })
    }

    /// `self` with `values` written at the positions `self.index(indices)` reads, like
    /// `torch.index_put(self, indices, values, accumulate)` (out of place; `x[i, j] = v` is
    /// its in-place form). `values` broadcasts to the shape of `self.index(indices)` and has
    /// `self`'s dtype. With `accumulate`, values are added, so repeated positions add up
    /// (makemore's bigram counts, `N.index_put((ix1, ix2), ones, accumulate=True)`); without
    /// it, a repeated position gets one of its values (the last written, as PyTorch's CPU
    /// kernel does).
    pub fn index_put(
        &self,
        indices: &[Option<TensorData>],
        values: &TensorData,
        accumulate: bool,
    ) -> Result<TensorData> {
        if values.dtype() != self.dtype() {
            return Err(Error::dtype(
                "index_put",
                format!("values of the destination's dtype ({})", self.dtype()),
                values.dtype(),
                format!("; the source and destination dtypes must match: convert the values with .to_dtype(DType::{:?})", self.dtype()),
            ));
        }
        let strides = self.shape().contiguous_strides();
        let plan = Plan::new("index_put", self.shape(), &strides, indices)?;
        let values = values.expand(&plan.out).map_err(|_| {
            Error::shapes(
                "index_put",
                values.shape(),
                &plan.out,
                "mismatch: the values (the first) cannot be broadcast to the shape of the indexed positions (the second)",
            )
        })?;
        if plan.out.numel() == 0 {
            return self.try_contiguous_copy(); // nothing to write
        }
        if accumulate {
            with_numeric!(self.dtype(), "index_put", |T| {
                let mut out = owned_values::<T>(self, "index_put")?;
                let v = values.values_for::<T>("index_put")?;
                let mut k = 0;
                plan.walk(0, |offsets, row| {
                    for j in 0..plan.post_numel {
                        let o = row + offsets.map_or(j, |q| q[j]);
                        out[o] = out[o].add_w(v[k]);
                        k += 1;
                    }
                });
                Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
            })
        } else {
            with_any!(self.dtype(), |T| {
                let mut out = owned_values::<T>(self, "index_put")?;
                let v = values.values_for::<T>("index_put")?;
                let mut k = 0;
                plan.walk(0, |offsets, row| match offsets {
                    Some(q) => q.iter().for_each(|&q| {
                        out[row + q] = v[k];
                        k += 1;
                    }),
                    None => {
                        out[row..row + plan.post_numel].copy_from_slice(&v[k..k + plan.post_numel]);
                        k += plan.post_numel;
                    }
                });
                Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
            })
        }
    }
}

/// A copy of `t`'s elements in row-major order, allocated fallibly (errors name `op`): the
/// starting point of the kernels that write into a copy of their input. A tensor's buffer
/// like any kernel's output (from the buffer cache), copied on every core when large.
pub(crate) fn owned_values<T: crate::Element>(t: &TensorData, op: &'static str) -> Result<Vec<T>> {
    let v = match t.values_for::<T>(op)? {
        Cow::Owned(v) => return Ok(v), // a view's values: already a copy
        Cow::Borrowed(v) => v,
    };
    let mut out = crate::pool::try_vec_with_capacity::<T>(op, t.shape())?;
    let cap = crate::simd::capability();
    // SAFETY: `unary` writes every one of the `v.len()` elements (the shape's count, which
    // `out` has room for).
    unsafe {
        crate::simd::kernels::fill_uninit(&mut out, v.len(), |o| {
            crate::simd::kernels::unary(cap, v, o, |x| x)
        })
    };
    Ok(out)
}

/// Resolves `slice`'s arguments: the dimension, first position, length and step.
fn slice_args(
    shape: &Shape,
    dim: isize,
    start: Option<i64>,
    end: Option<i64>,
    step: i64,
) -> Result<(usize, usize, usize, usize)> {
    if shape.ndim() == 0 {
        return Err(Error::invalid("slice", "a 0-dimensional tensor cannot be sliced (it has no dimension)"));
    }
    let d = normalize_dim("slice", dim, shape.ndim())?;
    if step <= 0 {
        return Err(Error::invalid(
            "slice",
            format!("step must be greater than zero, got {step} (PyTorch has no negative or zero steps)"),
        ));
    }
    let (s, len) = slice_range(shape.dims()[d], start, end, step);
    Ok((d, s, len, step as usize))
}

/// How advanced indexing walks a tensor (see [`TensorData::index`]): the result is the
/// non-indexed dims before the index dims (`pre`), the broadcast index shape, then the
/// other non-indexed dims (`post`), each with its stride in the source.
struct Plan {
    /// The result's shape: `pre ++ B ++ post`.
    out: Shape,
    pre: (Dims, Dims),
    post: (Dims, Dims),
    /// Elements of `post` (the length of one innermost run).
    post_numel: usize,
    /// For each position of `B` (row-major), `sum_k index_k * stride_k`.
    offsets: Vec<usize>,
}

impl Plan {
    /// Checks `indices` against a tensor of `shape` whose elements are at `strides`, resolves
    /// masks and negative indices, and places the dims.
    fn new(
        op: &'static str,
        shape: &Shape,
        strides: &[usize],
        indices: &[Option<TensorData>],
    ) -> Result<Plan> {
        let nd = shape.ndim();
        let too_many = |n: usize| {
            Error::invalid(
                op,
                format!("too many indices for tensor of dimension {nd} (shape {shape}): the indices cover {n} dimensions"),
            )
        };
        // (dim, i64 index tensor) for each indexed dimension; masks become one per dim.
        let mut resolved: Vec<(usize, TensorData)> = vec![];
        let mut dim = 0;
        for ix in indices {
            match ix {
                None => dim += 1,
                Some(t) if t.dtype() == DType::Bool => {
                    let k = t.ndim();
                    if k == 0 {
                        return Err(Error::invalid(op, "a 0-dimensional bool index is not supported (index with a mask of at least one dimension)"));
                    }
                    if dim + k > nd {
                        return Err(too_many(dim + k));
                    }
                    for j in 0..k {
                        if t.dims()[j] != shape.dims()[dim + j] {
                            return Err(Error::shapes(
                                op,
                                t.shape(),
                                shape,
                                format!("do not match: the shape of the mask (the first) at index {j} does not match the shape of the indexed tensor (the second) at index {}", dim + j),
                            ));
                        }
                    }
                    let nz = t.nonzero()?;
                    for j in 0..k {
                        resolved.push((dim + j, nz.select(1, j as i64)?));
                    }
                    dim += k;
                }
                Some(t) if t.dtype() == DType::I64 => {
                    resolved.push((dim, t.clone()));
                    dim += 1;
                }
                Some(t) => {
                    return Err(Error::dtype(
                        op,
                        "i64 (long) or bool tensors as indices",
                        t.dtype(),
                        "; convert with .to_dtype(DType::I64)",
                    ))
                }
            }
            if dim > nd {
                return Err(too_many(dim));
            }
        }
        // Broadcast the index shapes together.
        let mut b = Shape::scalar();
        for (_, t) in &resolved {
            b = Shape::broadcast(op, &b, t.shape()).map_err(|_| {
                Error::shapes(op, &b, t.shape(), "mismatch: indexing tensors could not be broadcast together")
            })?;
        }
        let bn = b.validate(op, DType::I64)?;
        let mut offsets = crate::pool::try_scratch(op, bn, 0usize)?;
        for (d, t) in &resolved {
            let v = t.expand(&b)?;
            let v = v.values_for::<i64>(op)?;
            for (o, &i) in offsets.iter_mut().zip(v.iter()) {
                *o += position(op, i, *d, shape.dims()[*d])? * strides[*d];
            }
        }
        // Where B goes: in place of adjacent indexed dims, else first.
        let indexed: Vec<usize> = resolved.iter().map(|(d, _)| *d).collect();
        let adjacent = indexed.windows(2).all(|w| w[1] == w[0] + 1);
        let first = if adjacent { indexed.first().copied().unwrap_or(0) } else { 0 };
        let (mut pre, mut post) = ((Dims::new(), Dims::new()), (Dims::new(), Dims::new()));
        for d in (0..nd).filter(|d| !indexed.contains(d)) {
            let side = if d < first { &mut pre } else { &mut post };
            side.0.push(shape.dims()[d]);
            side.1.push(strides[d]);
        }
        let mut out: Dims = pre.0.clone();
        out.extend_from_slice(b.dims());
        out.extend_from_slice(&post.0);
        let post_numel = post.0.iter().product();
        Ok(Plan { out: Shape(out), pre, post, post_numel, offsets })
    }

    /// Calls `f(offsets, row)` for every run of `post_numel` result elements in row-major
    /// order: `row` is the source offset of the run's first element (from `base`), and
    /// `offsets` the offsets of its elements from `row`, or `None` when they are
    /// `0..post_numel` (a contiguous run).
    fn walk(&self, base: usize, mut f: impl FnMut(Option<&[usize]>, usize)) {
        let post = Layout { shape: Shape(self.post.0.clone()), strides: self.post.1.clone(), offset: 0 };
        let contiguous = post.is_contiguous();
        let mut q = vec![];
        if !contiguous {
            q.reserve_exact(self.post_numel);
            for_each_offset(&self.post.0, &self.post.1, 0, |o| q.push(o));
        }
        let q = (!contiguous).then_some(q.as_slice());
        for_each_offset(&self.pre.0, &self.pre.1, base, |p| {
            for &o in &self.offsets {
                f(q, p + o);
            }
        });
    }
}

/// The coordinates of the true values of chunk `c` of `hits` (a mask of `N` dims `dims`) into
/// `dst`, `N` values each (see `nonzero`).
fn coordinates<const N: usize>(dims: &[usize], hits: &[bool], c: usize, dst: &mut [i64]) {
    let mut coord = [0usize; N];
    let mut k = 0;
    walk_chunk(dims, hits, c, &mut coord, |coord, hit| {
        if k == dst.len() {
            return false; // (the chunk's hits are all written)
        }
        dst[k..k + N].copy_from_slice(&coord.map(|i| i as i64));
        k += N * hit as usize;
        true
    });
}

/// Calls `f(coordinates, hit)` for each position of chunk `c` of `hits` in row-major order
/// (`coord` holds the coordinates, one per dim of `dims`), until `f` returns false.
#[inline(always)]
fn walk_chunk<C: AsMut<[usize]> + AsRef<[usize]>>(
    dims: &[usize],
    hits: &[bool],
    c: usize,
    coord: &mut C,
    mut f: impl FnMut(&C, bool) -> bool,
) {
    let mut flat = c * CHUNK;
    for (i, &d) in coord.as_mut().iter_mut().zip(dims).rev() {
        *i = flat % d;
        flat /= d;
    }
    for &hit in hits[c * CHUNK..].iter().take(CHUNK) {
        if !f(coord, hit) {
            return;
        }
        // Advance the row-major counter.
        for (i, &d) in coord.as_mut().iter_mut().zip(dims).rev() {
            *i += 1;
            if *i < d {
                break;
            }
            *i = 0;
        }
    }
}

/// Values of a mask per chunk of [`chunk_counts`] and of the compactions that use it
/// (`nonzero`, `x[mask]`).
const CHUNK: usize = 1 << 15;

/// The number of true values in each `CHUNK`-value chunk of `m`, on every core for large
/// masks.
fn chunk_counts(m: &[bool]) -> Vec<usize> {
    let count = |c: &[bool]| c.iter().map(|&b| b as usize).sum::<usize>();
    if m.len() >= crate::simd::kernels::PARALLEL_MIN {
        use rayon::prelude::*;
        crate::simd::threads::keep_awake();
        m.par_chunks(CHUNK).map(count).collect()
    } else {
        m.chunks(CHUNK).map(count).collect()
    }
}

/// `fill(c, part)` for each chunk `c`, `part` its slice of `out`: `counts[c] * width` values
/// after those of the chunks before it. On every core when `parallel`.
fn for_each_part<T: Send>(
    out: &mut [T],
    counts: &[usize],
    width: usize,
    parallel: bool,
    fill: impl Fn(usize, &mut [T]) + Sync,
) {
    let mut parts = Vec::with_capacity(counts.len());
    let mut rest = out;
    for &n in counts {
        let (part, more) = std::mem::take(&mut rest).split_at_mut(n * width);
        parts.push(part);
        rest = more;
    }
    if parallel {
        use rayon::prelude::*;
        parts.into_par_iter().enumerate().for_each(|(c, p)| fill(c, p));
    } else {
        parts.into_iter().enumerate().for_each(|(c, p)| fill(c, p));
    }
}
