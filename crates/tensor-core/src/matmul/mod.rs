//! Matrix products on the `gemm` crate (AVX2/AVX-512 kernels, any strides, multi-threaded
//! above a size threshold). Transposed operands are passed as strides, never copied. Large
//! f32 products with 16, 24 or 32 output columns (a `Linear` layer of that width over a big
//! batch, its forward product) use the AVX2/AVX-512 kernel of `narrow` instead (AVX2 for 24
//! columns), as do large f32 products with at most 32 rows over a B with contiguous rows
//! (the weight gradient `g^T x` of such a layer: `narrow::short`), small f32 products (a
//! transformer's layers on a few tokens) the AVX2/AVX-512 kernel of `small`, and a stride-1
//! convolution the kernels of `windows` (B's rows are windows of the padded input;
//! AVX2/AVX-512, the weight gradient AVX2); all three are built on the register tile of
//! `tile`.

use crate::dtype::Buffer;
use crate::shape::{for_each_offset2, Dims, Layout, Shape};
use crate::{with_float, Error, Float, Result, TensorData};
use rayon::prelude::*;
use std::sync::Arc;

#[cfg(target_arch = "x86_64")]
mod narrow;
#[cfg(target_arch = "x86_64")]
mod reuse;
#[cfg(target_arch = "x86_64")]
mod small;
#[cfg(target_arch = "x86_64")]
pub(crate) use small::untranspose;
#[cfg(target_arch = "x86_64")]
mod tile;
#[cfg(target_arch = "x86_64")]
pub(crate) mod windows;

/// Off x86-64 a convolution unfolds its input (`crate::conv`'s im2col) instead. (The
/// x86-64 module's signatures, type parameters included, so that the call sites compile.)
#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::extra_unused_type_parameters)]
pub(crate) mod windows {
    pub(crate) const WIDTH: usize = 32;
    pub(crate) fn applies<T: crate::Float>() -> bool {
        false
    }
    // Never called (`applies` is false).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn product<T: crate::Float>(
        _: &[T],
        _: usize,
        _: &[T],
        _: &[usize],
        _: &[(usize, usize)],
        _: &mut [T],
        _: usize,
        _: bool,
    ) {
        unreachable!("windows::product without windows::applies")
    }
    pub(crate) fn weight_applies<T: crate::Float>(_: usize) -> bool {
        false
    }
    // Never called (`weight_applies` is false).
    pub(crate) fn weight_product<T: crate::Float>(
        _: &[T],
        _: &[usize],
        _: &[T],
        _: usize,
        _: [usize; 3],
        _: &mut [T],
        _: &mut [T],
    ) {
        unreachable!("windows::weight_product without windows::weight_applies")
    }
}

/// Off x86-64 every product goes to the `gemm` crate.
#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::extra_unused_type_parameters)] // the x86-64 module's signature
mod narrow {
    pub(super) fn applies<T: crate::Float>(_: usize) -> bool {
        false
    }
    pub(super) fn short_applies<T: crate::Float>(_: usize, _: usize, _: &super::Strided<T>) -> bool {
        false
    }
    // Never called (`short_applies` is false).
    pub(super) fn short<T: crate::Float>(_: super::Product<T>, _: &mut [T], _: bool, _: bool) {
        unreachable!("narrow::short without narrow::short_applies")
    }
    // Never called (`applies` is false); the same signature, so the call site compiles.
    pub(super) use super::gemm_call as gemm;
}

/// Off x86-64 small products go to the `gemm` crate too.
#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::extra_unused_type_parameters)] // the x86-64 module's signature
mod small {
    pub(super) fn applies<T: crate::Float>(_: usize, _: usize, _: usize) -> bool {
        false
    }
    // Never called (`applies` is false).
    pub(super) fn product<T: crate::Float>(
        _: super::Product<T>,
        _: &mut [T],
        _: bool,
        _: Option<&std::sync::Arc<crate::dtype::Buffer>>,
    ) {
        unreachable!("small::product without small::applies")
    }
}

/// Products with fewer multiply-adds than this run in a plain loop: for the 4x2 @ 2x5 of the
/// XOR network, the loop finishes before a GEMM library has set up its packing buffers.
const SMALL_GEMM: usize = 2 * 1024;
/// Products with at least this many multiply-adds may use every core. 2^21 (the GPT's
/// (512 x 64) @ (64 x 64) and output-layer products) since the pool's workers stay awake
/// between kernels (`simd::threads::keep_awake`): `gpt_step` 8.9 -> 8.6 ms against 2^22
/// (A/B, 6 rounds; 2^20 took 8.7 ms). Before that, 2^21 had been no faster than 2^22.
const PARALLEL_GEMM: usize = 1 << 21;

impl TensorData {
    /// Matrix product with PyTorch's `matmul` rules: 1-D @ 1-D is a dot product, a 1-D
    /// operand gets a dimension prepended (left) or appended (right) that is then removed,
    /// and leading (batch) dimensions broadcast.
    pub fn matmul(&self, other: &TensorData) -> Result<TensorData> {
        if self.dtype() != other.dtype() {
            return Err(Error::dtype(
                "matmul",
                format!("operands of the same dtype (the first is {})", self.dtype()),
                other.dtype(),
                format!("; convert one with .to_dtype(DType::{:?})", self.dtype()),
            ));
        }
        if self.ndim() == 0 || other.ndim() == 0 {
            return Err(Error::shapes(
                "matmul",
                self.shape(),
                other.shape(),
                "cannot be multiplied (both arguments need at least 1 dimension)",
            ));
        }
        if self.ndim() == 2 && other.ndim() == 2 {
            return self.addmm(None, other);
        }
        let a = if self.ndim() == 1 { self.unsqueeze(0)? } else { self.clone() };
        let b = if other.ndim() == 1 { other.unsqueeze(1)? } else { other.clone() };
        let (ar, br) = (a.ndim(), b.ndim());
        let (m, k) = (a.dims()[ar - 2], a.dims()[ar - 1]);
        let (k2, n) = (b.dims()[br - 2], b.dims()[br - 1]);
        if k != k2 {
            return Err(Error::shapes(
                "matmul",
                self.shape(),
                other.shape(),
                format!("cannot be multiplied (inner dimensions {k} and {k2} differ)"),
            ));
        }
        let batch =
            Shape::broadcast("matmul", &Shape::new(&a.dims()[..ar - 2]), &Shape::new(&b.dims()[..br - 2]))
                .map_err(|_| {
                    Error::shapes(
                        "matmul",
                        self.shape(),
                        other.shape(),
                        "cannot be multiplied (batch dimensions do not broadcast)",
                    )
                })?;
        let mut out_dims = batch.0.clone();
        out_dims.push(m);
        out_dims.push(n);
        let out = with_float!(a.dtype(), "matmul", |T| batched::<T>(
            &a,
            &b,
            &batch,
            m,
            k,
            n,
            Shape(out_dims.clone())
        ))?;
        // Remove the dimensions added for 1-D operands.
        let mut dims: Vec<isize> = batch.0.iter().map(|&d| d as isize).collect();
        if self.ndim() > 1 {
            dims.push(m as isize);
        }
        if other.ndim() > 1 {
            dims.push(n as isize);
        }
        out.reshape(&dims)
    }
}

impl TensorData {
    /// `self @ other + bias` for matrices `(m, k) @ (k, n)` and an optional bias `(n)` added
    /// to every row (PyTorch's `addmm`, the kernel of `Linear`). The bias seeds the output and
    /// the product accumulates onto it: no separate pass, no temporary. Operands may be
    /// transposed views (strides are handed to the GEMM).
    pub fn addmm(&self, bias: Option<&TensorData>, other: &TensorData) -> Result<TensorData> {
        self.addmm_with(bias, other, false)
    }

    /// [`TensorData::addmm`] where `other` is likely to be used again with the same values (a
    /// `Linear`'s weight at inference, when no optimizer changes it between calls): products
    /// small enough for the register-tile kernel keep it packed from its second use on, for
    /// as long as its values are unchanged (`matmul::reuse`). The same result, bit for bit.
    pub fn addmm_reused(&self, bias: Option<&TensorData>, other: &TensorData) -> Result<TensorData> {
        self.addmm_with(bias, other, true)
    }

    /// [`TensorData::addmm`], keeping `other` packed when `reused`.
    fn addmm_with(&self, bias: Option<&TensorData>, other: &TensorData, reused: bool) -> Result<TensorData> {
        let (a, b) = (self, other);
        if a.ndim() != 2 || b.ndim() != 2 || a.dims()[1] != b.dims()[0] {
            let reason = if a.ndim() == 2 && b.ndim() == 2 {
                format!("cannot be multiplied (inner dimensions {} and {} differ)", a.dims()[1], b.dims()[0])
            } else {
                "cannot be multiplied (addmm needs two matrices)".to_string()
            };
            return Err(Error::shapes("matmul", a.shape(), b.shape(), reason));
        }
        if a.dtype() != b.dtype() || bias.is_some_and(|c| c.dtype() != a.dtype()) {
            return Err(Error::dtype(
                "matmul",
                format!("operands of one dtype ({})", a.dtype()),
                b.dtype(),
                "",
            ));
        }
        let (m, k, n) = (a.dims()[0], a.dims()[1], b.dims()[1]);
        if let Some(c) = bias {
            if c.dims() != [n] {
                return Err(Error::shapes(
                    "addmm",
                    c.shape(),
                    b.shape(),
                    format!("mismatch: the bias needs shape [{n}]"),
                ));
            }
        }
        with_float!(a.dtype(), "matmul", |T| {
            // Every element is written: by the bias rows below, or by gemm_strided's zeroing.
            // The result's size is checked and its memory allocated fallibly first.
            let shape = Shape::new(&[m, n]);
            let mut out = crate::pool::try_overwritable("matmul", &shape)?;
            if let Some(c) = bias {
                let c = c.values_for::<T>("addmm")?;
                for row in out.chunks_exact_mut(n.max(1)) {
                    row.copy_from_slice(&c);
                }
            }
            let (la, lb) = (&a.layout, &b.layout);
            let sa = Strided::new(a.buf_slice::<T>("matmul")?, la.offset, la.strides[0], la.strides[1]);
            let sb = Strided::new(b.buf_slice::<T>("matmul")?, lb.offset, lb.strides[0], lb.strides[1]);
            let storage = reused.then_some(&b.buf);
            gemm_product(m, k, n, sa, sb, &mut out, bias.is_some(), true, storage)?;
            Ok(TensorData::from_vec_unchecked(out, shape))
        })
    }
}

/// The batched product: one GEMM per batch (operands read in place through their strides,
/// broadcast batch dims with stride 0: nothing is copied or expanded).
///
/// When `b` is a plain matrix and `a`'s batch and row dims merge into one (a view), the whole
/// batch is a single `(batch * m, k) @ (k, n)` product, as PyTorch folds it. Otherwise, with
/// many small products (attention's `(B, h, T, hs) @ (B, h, hs, T)`), the batches are shared
/// among the cores, each product on one; a product large enough to use every core by itself
/// keeps its own parallel GEMM, batch after batch.
fn batched<T: Float>(
    a: &TensorData,
    b: &TensorData,
    batch: &Shape,
    m: usize,
    k: usize,
    n: usize,
    out_shape: Shape,
) -> Result<TensorData> {
    let (ar, br) = (a.ndim(), b.ndim());
    let sa = a.buf_slice::<T>("matmul")?;
    let sb = b.buf_slice::<T>("matmul")?;
    // Each chunk is written by gemm_strided. The size is checked, and the memory allocated
    // fallibly, before any work; an empty result needs none (the walk below would visit every
    // one of its batches, 2^46 of them for a [2^46, 0, 3] operand).
    let mut out = crate::pool::try_overwritable("matmul", &out_shape)?;
    if out.is_empty() {
        return Ok(TensorData::from_vec_unchecked(out, out_shape));
    }
    let (b_rs, b_cs) = (b.layout.strides[br - 2], b.layout.strides[br - 1]);
    if br == 2 {
        if let Ok(rows) = a.view([-1, k as isize]) {
            let l = &rows.layout;
            let pa = Strided::new(sa, l.offset, l.strides[0], l.strides[1]);
            let pb = Strided::new(sb, b.layout.offset, b_rs, b_cs);
            gemm_product(rows.dims()[0], k, n, pa, pb, &mut out, false, true, None)?;
            return Ok(TensorData::from_vec_unchecked(out, out_shape));
        }
    }
    let (a_rs, a_cs) = (a.layout.strides[ar - 2], a.layout.strides[ar - 1]);
    // Broadcast strides of the batch dimensions.
    let batch_strides = |l: &Layout, r: usize| -> Dims {
        let bl = Layout {
            shape: Shape::new(&l.shape.dims()[..r - 2]),
            strides: l.strides[..r - 2].into(),
            offset: 0,
        };
        bl.broadcast_strides(batch)
    };
    let (ta, tb) = (batch_strides(&a.layout, ar), batch_strides(&b.layout, br));
    // The offsets of each batch's operands (one pair per output chunk; fewer than the output's
    // elements, which are allocated already).
    let bdims: Vec<usize> = batch.dims().to_vec();
    let mut offsets = Vec::with_capacity(batch.numel());
    for_each_offset2(&bdims, &ta, a.layout.offset, &tb, b.layout.offset, |oa, ob| offsets.push((oa, ob)));
    let one = |dst: &mut [T], &(oa, ob): &(usize, usize), parallel: bool| {
        let (pa, pb) = (Strided::new(sa, oa, a_rs, a_cs), Strided::new(sb, ob, b_rs, b_cs));
        gemm_product(m, k, n, pa, pb, dst, false, parallel, None)
    };
    let work = m.saturating_mul(n).saturating_mul(k);
    let spread = offsets.len() > 1
        && rayon::current_num_threads() > 1
        && work < PARALLEL_GEMM
        && work.saturating_mul(offsets.len()) >= PARALLEL_GEMM;
    if spread {
        crate::simd::threads::keep_awake();
        out.par_chunks_mut(m * n).zip(offsets.par_iter()).try_for_each(|(dst, o)| one(dst, o, false))?;
    } else {
        for (dst, o) in out.chunks_mut(m * n).zip(&offsets) {
            one(dst, o, true)?;
        }
    }
    Ok(TensorData::from_vec_unchecked(out, out_shape))
}

/// A matrix read in place from a slice: element (i, j) is `s[off + i*rs + j*cs]` (a tensor's
/// buffer, offset and last two strides; stride 0 for expanded dimensions).
#[derive(Clone, Copy, Debug)]
pub struct Strided<'a, T> {
    /// The memory the matrix lives in.
    pub s: &'a [T],
    /// Where element (0, 0) is.
    pub off: usize,
    /// Step from one row to the next.
    pub rs: usize,
    /// Step from one column to the next.
    pub cs: usize,
}

impl<'a, T> Strided<'a, T> {
    /// The matrix whose element (i, j) is `s[off + i*rs + j*cs]`.
    pub fn new(s: &'a [T], off: usize, rs: usize, cs: usize) -> Self {
        Strided { s, off, rs, cs }
    }
    /// The transpose: the same memory with rows and columns swapped.
    pub fn t(self) -> Self {
        Strided { rs: self.cs, cs: self.rs, ..self }
    }
    /// The matrix from row `i` and column `j` on. Only called with an `(i, j)` inside a
    /// matrix that [`Strided::fits`], whose offset therefore does not overflow.
    fn from(self, i: usize, j: usize) -> Self {
        Strided { off: self.off + i * self.rs + j * self.cs, ..self }
    }
    /// The offset of element `(rows - 1, cols - 1)`, the largest one a `rows x cols` matrix
    /// reads (strides are unsigned), or `None` when a size is 0 or the arithmetic overflows.
    fn last(&self, rows: usize, cols: usize) -> Option<usize> {
        let down = rows.checked_sub(1)?.checked_mul(self.rs)?;
        let across = cols.checked_sub(1)?.checked_mul(self.cs)?;
        self.off.checked_add(down)?.checked_add(across)
    }
    /// Whether a `rows x cols` matrix (both at least 1) stays inside the slice. Checked
    /// arithmetic: a wrapped-around offset must never pass for an in-bounds one.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        self.last(rows, cols).is_some_and(|last| last < self.s.len())
    }
    /// The same `rows x cols` matrix with the stride of a dimension of size 1 set to 0: it
    /// is never stepped, and whatever it held (any `usize`) must not reach the GEMM, which
    /// takes strides as `isize`. Every stride left then satisfies `stride <= last < s.len()
    /// <= isize::MAX` once [`Strided::fits`] holds.
    fn canonical(self, rows: usize, cols: usize) -> Self {
        Strided { rs: if rows == 1 { 0 } else { self.rs }, cs: if cols == 1 { 0 } else { self.cs }, ..self }
    }
    /// Element (i, j).
    fn at(&self, i: usize, j: usize) -> T
    where
        T: Copy,
    {
        self.s[self.off + i * self.rs + j * self.cs]
    }
}

/// One product `A (m x k) @ B (k x n)`: its sizes and operands.
#[derive(Clone, Copy, Debug)]
struct Product<'a, T> {
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'a, T>,
    b: Strided<'a, T>,
}

impl<T> Product<'_, T> {
    /// The same product transposed: `B^T A^T`, n x m.
    fn t(self) -> Self {
        Product { m: self.n, n: self.m, a: self.b.t(), b: self.a.t(), ..self }
    }
    /// Columns `k0..k1` of A times rows `k0..k1` of B.
    fn k_range(self, k0: usize, k1: usize) -> Self {
        Product { k: k1 - k0, a: self.a.from(0, k0), b: self.b.from(k0, 0), ..self }
    }
    /// Whether both operands stay inside their slices (m, k, n >= 1).
    fn fits(&self) -> bool {
        self.a.fits(self.m, self.k) && self.b.fits(self.k, self.n)
    }
}

/// `dst (m x n, row-major) = A (m x k) @ B (k x n)`, or `dst += A @ B` with `accumulate`.
///
/// Every size and offset is checked (with overflow-checked arithmetic) before the `unsafe`
/// GEMM call: an error when `dst.len() != m * n` or when an operand's strided reads would
/// leave its slice. `TensorData::matmul` never gets either.
pub fn gemm_strided<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<T>,
    b: Strided<T>,
    dst: &mut [T],
    accumulate: bool,
) -> Result<()> {
    gemm_product(m, k, n, a, b, dst, accumulate, true, None)
}

/// [`gemm_strided`] on the calling thread only: for callers that already run independent
/// products in parallel (a convolution, one product per sample of its batch).
pub fn gemm_strided_serial<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<T>,
    b: Strided<T>,
    dst: &mut [T],
    accumulate: bool,
) -> Result<()> {
    gemm_product(m, k, n, a, b, dst, accumulate, false, None)
}

/// [`gemm_strided`], on one core unless `parallel` (then every core, for a product large
/// enough to pay for it). `storage` is the storage B is a view of, for a B that is likely
/// to be used again unchanged (a weight): a small product keeps it packed.
#[allow(clippy::too_many_arguments)]
fn gemm_product<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<T>,
    b: Strided<T>,
    dst: &mut [T],
    accumulate: bool,
    parallel: bool,
    storage: Option<&Arc<Buffer>>,
) -> Result<()> {
    if m.checked_mul(n) != Some(dst.len()) {
        return Err(Error::invalid(
            "gemm_strided",
            format!("the destination holds {} elements, but a {m} x {n} product needs m * n", dst.len()),
        ));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            dst.iter_mut().for_each(|d| *d = T::ZERO); // an empty sum
        }
        return Ok(());
    }
    for (name, op, rows, cols) in [("A", &a, m, k), ("B", &b, k, n)] {
        if !op.fits(rows, cols) {
            return Err(Error::invalid(
                "gemm_strided",
                format!(
                    "operand {name} ({rows} x {cols}, offset {}, strides ({}, {})) reads past its {} elements \
                     (or its offsets overflow)",
                    op.off,
                    op.rs,
                    op.cs,
                    op.s.len()
                ),
            ));
        }
    }
    // (Canonical strides fit whenever the given ones do: only unused strides change.)
    let (a, b) = (a.canonical(m, k), b.canonical(k, n));
    if m.saturating_mul(n).saturating_mul(k) <= SMALL_GEMM {
        // The plain loop adds onto dst: start from zeros unless accumulating.
        if !accumulate {
            dst.iter_mut().for_each(|d| *d = T::ZERO);
        }
        // Rows of B must be contiguous slices for the loop to vectorise: a strided B (a
        // transpose, as in attention's `q @ k^T`) is first packed row-major (k * n <= m * n * k).
        let packed: Vec<T>;
        let (bs, brs) = if b.cs == 1 {
            (&b.s[b.off..], b.rs)
        } else {
            packed = (0..k).flat_map(|p| (0..n).map(move |j| (p, j))).map(|(p, j)| b.at(p, j)).collect();
            (&packed[..], n)
        };
        for (i, row) in dst.chunks_exact_mut(n).enumerate() {
            for p in 0..k {
                let aip = a.at(i, p);
                let brow = &bs[p * brs..][..n];
                row.iter_mut().zip(brow).for_each(|(d, &bv)| *d += aip * bv);
            }
        }
        return Ok(());
    }
    // The GEMM paths below write every element of dst (or add to it with `accumulate`).
    let p = Product { m, k, n, a, b };
    if small::applies::<T>(m, k, n) {
        small::product(p, dst, accumulate, storage);
        return Ok(());
    }
    if m < n && !(work_of(m, k, n) >= PARALLEL_GEMM && narrow::short_applies::<T>(m, n, &b)) {
        // Same product, transposed: C^T = B^T A^T written through C^T's strides. The GEMM
        // is fastest with the long side as rows: the weight gradient g^T x (32 x 784 over
        // 50000 rows) took 23 ms this way round and 31 ms the other on the `gemm` crate;
        // `narrow::short` (where it applies) reads x in its own order instead.
        gemm_oriented(p.t(), dst, (1, n), accumulate, parallel);
    } else {
        gemm_oriented(p, dst, (n, 1), accumulate, parallel);
    }
    Ok(())
}

/// `dst = A @ B`, or `dst += A @ B` with `accumulate`, where `dst[i*d.0 + j*d.1]` is the
/// element (i, j) of the m x n result, for operands already checked by [`gemm_strided`]; on
/// one core unless `parallel`.
fn gemm_oriented<T: Float>(
    p: Product<T>,
    dst: &mut [T],
    d: (usize, usize),
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (p.m, p.k, p.n);
    let work = work_of(m, k, n);
    let threads = if parallel { rayon::current_num_threads() } else { 1 };
    if threads > 1 && work >= PARALLEL_GEMM {
        crate::simd::threads::keep_awake(); // every path below splits the product
    }
    let narrow = work >= PARALLEL_GEMM && narrow::applies::<T>(n);
    let short = work >= PARALLEL_GEMM && d == (n, 1) && narrow::short_applies::<T>(m, n, &p.b);
    let product = |p: Product<T>, out: &mut [T], acc: bool, parallel: bool| {
        if short {
            narrow::short(p, out, acc, parallel)
        } else if narrow {
            narrow::gemm(p, out, d, acc, parallel)
        } else {
            gemm_call(p, out, d, acc, parallel)
        }
    };
    if work >= PARALLEL_GEMM && threads > 1 && k >= 8 * m.max(n) {
        // A small output with a long inner dimension (the weight gradient g^T x of a Linear
        // layer over a large batch): GEMM libraries parallelise over output blocks, of which
        // there are too few here. Split k instead: each thread multiplies a slice of k into
        // its own buffer (laid out like `dst`), and the partial products are added.
        let chunk = k.div_ceil(threads);
        let partials: Vec<Vec<T>> = (0..threads)
            .into_par_iter()
            .map(|t| {
                let (k0, k1) = (t * chunk, ((t + 1) * chunk).min(k));
                let mut part = vec![T::ZERO; m * n];
                if k0 < k1 {
                    product(p.k_range(k0, k1), &mut part, false, false);
                }
                part
            })
            .collect();
        for (t, part) in partials.into_iter().enumerate() {
            let add = accumulate || t > 0; // the first partial replaces dst unless accumulating
            for (d, p) in dst.iter_mut().zip(part) {
                *d = if add { *d + p } else { p };
            }
        }
        return;
    }
    product(p, dst, accumulate, parallel && work >= PARALLEL_GEMM);
}

/// The multiply-adds of an m x k @ k x n product (saturating).
fn work_of(m: usize, k: usize, n: usize) -> usize {
    m.saturating_mul(n).saturating_mul(k)
}

/// One call of the `gemm` crate (see [`gemm_oriented`]), on every core when `parallel`.
fn gemm_call<T: Float>(
    p: Product<T>,
    dst: &mut [T],
    (d_rs, d_cs): (usize, usize),
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n, a, b) = (p.m, p.k, p.n, p.a, p.b);
    // The writes below reach dst[(m-1)*d_rs + (n-1)*d_cs], the last element (d_rs, d_cs is
    // (n, 1) or (1, m)); the reads reach the last elements checked by `gemm_strided`. The
    // same checks again here, overflow-checked, so that this function's `unsafe` rests on
    // nothing outside it.
    assert!(p.fits()); // (which needs m, k, n >= 1)
    let dst_last =
        (m - 1).checked_mul(d_rs).zip((n - 1).checked_mul(d_cs)).and_then(|(r, c)| r.checked_add(c));
    assert!(m.checked_mul(n) == Some(dst.len()) && dst_last.is_some_and(|l| l < dst.len()));
    // Strides as the `isize`s gemm takes: lossless, since each is at most the last offset
    // its operand reads (size-1 dimensions have stride 0, see `Strided::canonical`).
    let s = |v: usize| isize::try_from(v).expect("internal: a checked stride fits in isize");
    let par = if parallel { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: `dst` is an exclusive borrow of exactly m*n elements, written at
    // i*d_rs + j*d_cs for i < m, j < n: at most the last element (asserted above), so every
    // write stays inside it and no operand aliases it. The reads of A and B stay within
    // their slices: all strides are non-negative (converted to isize without loss above;
    // stride 0 for expanded operands is fine: those elements are only read), so the largest
    // offsets touched are the ones `p.fits()` asserted above with overflow-checked
    // arithmetic (m, n, k >= 1 here), and `a.s.as_ptr().add(a.off)` is in bounds because
    // `a.off` is at most that largest offset. gemm does not retain the pointers after
    // returning. With `read_dst = accumulate` gemm computes
    // dst = alpha*dst + beta*(A @ B) = dst + A @ B (alpha = beta = 1); without it, it
    // overwrites dst, ignoring the old contents.
    // Tests: crates/tensor-core/tests/matmul.rs (gemm_path_*, degenerate_sizes,
    // gemm_strided_accumulates_onto_the_destination, gemm_strided_rejects_*).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            s(d_cs),
            s(d_rs),
            accumulate,
            a.s.as_ptr().add(a.off),
            s(a.cs),
            s(a.rs),
            b.s.as_ptr().add(b.off),
            s(b.cs),
            s(b.rs),
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            par,
        );
    }
}
