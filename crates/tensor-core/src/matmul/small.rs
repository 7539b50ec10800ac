//! Small f32 products on AVX2 or AVX-512 register tiles ([`super::tile`]), for the sizes
//! where a GEMM library's setup costs as much as the arithmetic: the per-head projections,
//! attention products and MLP layers of a small transformer generating text, `(T x 64) @
//! (64 x 16)` up to `(T x 256) @ (256 x 64)` with `T <= 32`, spent about half of their time
//! in the `gemm` crate's packing and dispatch.
//!
//! `C (m x n) = A (m x k) @ B (k x n)` is computed in whichever orientation packs less: `C`
//! itself (vectors along the n columns, B packed into k contiguous rows) or `C^T = B^T A^T`
//! (vectors along the m rows, A^T packed). The packed operand is copied once into zero-padded
//! rows of whole vectors; the other is broadcast element by element from its own layout
//! (any strides), so it is never copied. Tiles of C (`MR` rows by one or two vectors) are
//! summed over all of k in registers, into C itself when its rows are whole vectors (added
//! onto it, with `accumulate`, tile by tile), else into a padded scratch block, which is then
//! copied (or added) into C. Element (i, j) is
//! `fma(A[i, k-1], B[k-1, j], ... fma(A[i, 0], B[0, j], 0))` in both orientations and at both
//! widths: the AVX2 and AVX-512 builds give the same bits.
//!
//! A B that the caller says will be used again unchanged (a `Linear`'s weight at inference,
//! `TensorData::addmm_reused`) is packed once, into [`panels`], and kept between calls while
//! its storage is unchanged ([`super::reuse`]); C's own orientation then costs no packing
//! at all, and C needs no transposing back. On a 2-core Xeon (AVX-512), alone on one core:
//! `Linear(64, 256)` on 32 tokens 10.1 -> 9.6 us, `Linear(256, 64)` 9.4 -> 7.9 us; with the
//! softmax kernel for rows of 17 to 32 (`vmath`) and a cheaper hash for the cache,
//! `gpt_generate_100` 33.5 -> 29.3 ms natively and 33.5 -> 31.7 ms with AVX2 (A/B, medians
//! of 4 rounds).

use super::tile::{a_rows, pack, rows_of, tile, transpose8, F32s, Onto};
use super::{Product, Strided};
use crate::dtype::{as_f32, as_f32_mut, Buffer};
use crate::simd::{capability, supported, Capability};
use crate::Float;
use std::arch::x86_64::*;
use std::cell::Cell;
use std::sync::Arc;

/// The largest product (multiply-adds) taken here; larger ones go to the `gemm` crate, whose
/// packing then pays off (and which can use every core).
pub(super) const MAX_WORK: usize = 1 << 20;
/// The smallest product taken here (the CNN's per-sample convolution products, 8 x 36 x 9,
/// are faster in the `gemm` crate).
pub(super) const MIN_WORK: usize = 8 * 1024;
/// The longest shorter side of C taken here.
pub(super) const MAX_SIDE: usize = 32;
/// The shortest inner dimension taken here: with fewer steps per tile, loading and storing
/// the tile costs as much as its multiply-adds.
pub(super) const MIN_K: usize = 16;
/// The most elements of the packed operand and of the scratch block of C (256 KiB each).
const MAX_SCRATCH: usize = 1 << 16;

thread_local! {
    /// The packed operand, kept between calls (no allocation per product): at most
    /// [`MAX_SCRATCH`] f32 (256 KiB) per thread that ran a product.
    static PACKED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// C's scratch block, likewise.
    static BLOCK: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// The vector width of the kernels at capability `cap` (lowered to what the CPU has): 16
/// lanes with AVX-512, 8 with AVX2, `None` (products go to the `gemm` crate) otherwise.
fn lanes(cap: Capability) -> Option<usize> {
    match supported(cap) {
        Capability::Avx512 => Some(16),
        Capability::Avx2 => Some(8),
        Capability::Default => None,
    }
}

/// Whether [`product`] takes an m x k x n product of `T`: f32, on an AVX2 or AVX-512 CPU
/// (not turned off by `TORCHLET_CPU_CAPABILITY`), [`MIN_WORK`] to [`MAX_WORK`] multiply-adds, one
/// side of C at most [`MAX_SIDE`] long, `k` at least [`MIN_K`], and operands small enough
/// for the scratch space. (Measured, alternating with the `gemm` crate over 5 rounds:
/// `gpt_generate_100` 42.2 -> 37.0 ms; with no limit on the sides and the size, the
/// (128 x 32) @ (32 x 128) products of the attention benchmark and the 8 x 36 x 9 of the
/// CNN's convolution had made those workloads 3-7% slower.)
pub(super) fn applies<T: Float>(m: usize, k: usize, n: usize) -> bool {
    applies_at::<T>(capability(), m, k, n)
}

/// [`applies`] at capability `cap`.
fn applies_at<T: Float>(cap: Capability, m: usize, k: usize, n: usize) -> bool {
    let Some(w) = lanes(cap) else { return false };
    let fits = |rows: usize, cols: usize| fits(w, rows, k, cols);
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && (MIN_WORK..=MAX_WORK).contains(&m.saturating_mul(n).saturating_mul(k))
        && m.min(n) <= MAX_SIDE
        && k >= MIN_K
        && (fits(m, n) || fits(n, m))
}

/// Whether C's `rows x cols` (in vectors of `w` lanes) and a packed `k x cols` operand fit in
/// the scratch space.
fn fits(w: usize, rows: usize, k: usize, cols: usize) -> bool {
    let padded = cols.next_multiple_of(w);
    k * padded <= MAX_SCRATCH && rows * padded <= MAX_SCRATCH
}

/// `dst (m x n, row-major) = A @ B`, or `dst += A @ B` with `accumulate`, on the calling
/// thread. Only for products where [`applies`] holds, with operands checked by the caller
/// (`gemm_product`: both fit their slices, `dst.len() == m * n`, m, k, n >= 1). `storage`, when
/// given, is the storage B is a view of (a `Linear`'s weight): B is then packed once and kept
/// between calls while that storage is unchanged ([`super::reuse`]).
pub(super) fn product<T: Float>(
    p: Product<T>,
    dst: &mut [T],
    accumulate: bool,
    storage: Option<&Arc<Buffer>>,
) {
    product_at(capability(), p, dst, accumulate, storage)
}

/// [`product`] at capability `cap` (for which [`applies_at`] must hold).
fn product_at<T: Float>(
    cap: Capability,
    p: Product<T>,
    dst: &mut [T],
    accumulate: bool,
    storage: Option<&Arc<Buffer>>,
) {
    let (m, k, n) = (p.m, p.k, p.n);
    let w = lanes(cap).expect("small::product: `applies` found AVX2 or AVX-512");
    assert!(applies_at::<T>(cap, m, k, n) && p.fits() && m.checked_mul(n) == Some(dst.len()));
    let (Some(sa), Some(sb), Some(dst)) = (as_f32(p.a.s), as_f32(p.b.s), as_f32_mut(dst)) else {
        unreachable!("small::product: `applies` holds, so T is f32")
    };
    let p = Product {
        m,
        k,
        n,
        a: Strided { s: sa, off: p.a.off, rs: p.a.rs, cs: p.a.cs },
        b: Strided { s: sb, off: p.b.off, rs: p.b.rs, cs: p.b.cs },
    };
    // A B kept packed makes C's own orientation free of packing (with a transposed B, as in
    // `x @ W^T`, the C^T orientation had packed the smaller A^T instead, then transposed C).
    if let Some(storage) = storage.filter(|_| fits(w, m, k, n)) {
        let ld = n.next_multiple_of(w);
        let pack_b = |out: &mut [f32]| {
            let mut rows = vec![0.0; k * ld];
            // SAFETY: the CPU has AVX2 (`lanes` found AVX2 or AVX-512, which includes it).
            unsafe { pack(&p.b, k, n, ld, &mut rows) };
            panels(&rows, k, ld, w, out);
        };
        let done = super::reuse::with_packed(storage, &p.b, k, n, ld, w, pack_b, |packed| {
            // SAFETY: `w` is from `lanes(cap)`, a capability the CPU has; the operands and
            // `dst` were asserted above.
            packed.map(|packed| unsafe { run(w, p, false, packed, true, dst, accumulate) })
        });
        if done.is_some() {
            return;
        }
    }
    // Packing B costs k x n copies (read along B's rows when they are contiguous, else
    // gathered, about three times slower); packing A^T, k x m.
    let cost = |rows: usize, cols: usize, contiguous: bool| {
        if fits(w, rows, k, cols) {
            k * cols * if contiguous { 1 } else { 3 }
        } else {
            usize::MAX
        }
    };
    let transposed = cost(n, m, p.a.rs == 1) < cost(m, n, p.b.cs == 1);
    let q = if transposed { p.t() } else { p };
    let ld = q.n.next_multiple_of(w);
    let mut packed = PACKED.take();
    if packed.len() < k * ld {
        packed.resize(k * ld, 0.0);
    }
    // SAFETY: the CPU has AVX2 (as above). (`pack` fills its k rows whole, padding included.)
    unsafe { pack(&q.b, k, q.n, ld, &mut packed) };
    // SAFETY: as above.
    unsafe { run(w, p, transposed, &packed[..k * ld], false, dst, accumulate) };
    PACKED.set(packed);
}

/// The tiles and the write-back of [`product_at`]: `dst (=|+=) A @ B`, computed as `C`, or as
/// `C^T = B^T A^T` when `transposed`, over `packed`, the right operand of that orientation
/// (B, or A^T) as k rows of `ld` (or as [`panels`] of them), C's (or C^T's) row length
/// rounded up to whole vectors of `w` lanes.
///
/// # Safety
/// `w` is [`lanes`] of a capability the CPU has (16: AVX-512F; 8: AVX2 and FMA); the
/// product's operands fit their slices and `dst.len() == m * n` (as `product_at` asserts).
unsafe fn run(
    w: usize,
    p: Product<f32>,
    transposed: bool,
    packed: &[f32],
    panels: bool,
    dst: &mut [f32],
    accumulate: bool,
) {
    let (m, k, n) = (p.m, p.k, p.n);
    let q = if transposed { p.t() } else { p };
    let (rows, cols) = (q.m, q.n);
    let ld = cols.next_multiple_of(w);
    assert!(packed.len() == k * ld);
    // When C's rows are whole vectors the tiles write C itself (or add onto it); otherwise a
    // scratch block of rows x ld, copied (or added) into C afterwards.
    let direct = !transposed && ld == n;
    let mut scratch = BLOCK.take();
    let block = if direct { 0 } else { rows * ld };
    if scratch.len() < block {
        scratch.resize(block, 0.0);
    }
    // (Every element of `c` is written below before it is read: the tiles write every row of
    // `c` whole.)
    let c: &mut [f32] = if direct { &mut dst[..] } else { &mut scratch[..block] };
    // SAFETY: `w` is the width of a capability the CPU has (AVX-512F, or AVX2 and FMA: the
    // caller's promise). A[i, p] is in bounds for i < rows,
    // p < k (`p.fits()`, asserted by `product_at`, for the product and so for its
    // transpose); `packed` holds k rows of `ld` (asserted above) and `c` rows of `ld` (dst's
    // m x n when `direct`, where n == ld), `ld` a multiple of the vector width, as `tiles`
    // needs.
    unsafe {
        if w == 16 {
            tiles_avx512(rows, k, q.a, packed, panels, c, ld, direct && accumulate);
        } else {
            tiles_avx2(rows, k, q.a, packed, panels, c, ld, direct && accumulate);
        }
    }
    // C (or C^T) from the scratch block into dst.
    if !direct {
        let c = &scratch[..block];
        if transposed {
            // c holds C^T (n rows of ld >= m): row j of it is column j of C.
            // SAFETY: the CPU has AVX2 (the caller's promise: AVX2 or AVX-512); `c` holds n
            // rows of `ld >= m` and `dst` m rows of n (asserted by `product_at`).
            unsafe { untranspose(c, ld, dst, m, n, accumulate) };
        } else {
            for (out, row) in dst.chunks_exact_mut(n).zip(c.chunks_exact(ld)) {
                out.iter_mut().zip(row).for_each(|(o, &v)| put(o, v, accumulate));
            }
        }
    }
    BLOCK.set(scratch);
}

/// `dst (m x n) = ct^T`, or `dst += ct^T` with `accumulate`, where `ct` holds `C^T` as n rows
/// of `ld` (>= m): 8 x 8 blocks transposed in registers ([`transpose8`]), the edges (the last
/// `m % 8` rows and `n % 8` columns) element by element. A strided gather, element by element,
/// had taken ~5% of `gpt_generate_100` on AVX2 (its feed-forward and output products are
/// computed as `C^T`).
///
/// Also the copy of a transposed f32 view (`crate::copy`).
///
/// # Safety
/// The CPU has AVX2.
///
/// # Panics
/// Unless `ld >= m`, `dst.len() == m * n` and `ct` holds the values read (`(n - 1) * ld + m`).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn untranspose(
    ct: &[f32],
    ld: usize,
    dst: &mut [f32],
    m: usize,
    n: usize,
    accumulate: bool,
) {
    assert!((n == 0 || ct.len() >= (n - 1) * ld + m) && ld >= m && dst.len() == m * n);
    let (m8, n8) = (m / 8 * 8, n / 8 * 8);
    let mut block = [0.0f32; 64];
    for i0 in (0..m8).step_by(8) {
        for j0 in (0..n8).step_by(8) {
            // SAFETY: the CPU has AVX2 (the caller's promise). Reads ct[(j0 + r) * ld + i0 + t]
            // for r, t < 8: j0 + 7 < n rows and i0 + 7 < m <= ld, at most (n - 1) * ld + m - 1
            // (asserted above). Writes
            // block[t * 8 + r] (64 values), or dst[(i0 + t) * n + j0 + r]: i0 + 7 < m rows of n,
            // j0 + 7 < n.
            let src = ct.as_ptr().add(j0 * ld + i0);
            if accumulate {
                unsafe { transpose8(src, ld, block.as_mut_ptr(), 8) };
                for (t, row) in block.chunks_exact(8).enumerate() {
                    let out = &mut dst[(i0 + t) * n + j0..][..8];
                    out.iter_mut().zip(row).for_each(|(o, &v)| *o += v);
                }
            } else {
                unsafe { transpose8(src, ld, dst.as_mut_ptr().add(i0 * n + j0), n) };
            }
        }
    }
    for i in 0..m {
        let cols = if i < m8 { n8..n } else { 0..n };
        for j in cols {
            put(&mut dst[i * n + j], ct[j * ld + i], accumulate);
        }
    }
}

/// `*o = v`, or `*o += v` with `accumulate`: how a product's values reach `C`.
#[inline(always)]
fn put(o: &mut f32, v: f32, accumulate: bool) {
    *o = if accumulate { *o + v } else { v };
}

/// [`tiles`] with 16-lane vectors: tiles of 8 x 32 and 16 x 16 (on a 2-core Xeon,
/// `gpt_generate_100` 33.4 -> 32.0 ms and `gpt_step` 8.3 -> 7.8 ms against 4 x 32 and 8 x
/// 16, medians of 4 rounds).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn tiles_avx512(
    rows: usize,
    k: usize,
    a: Strided<f32>,
    b: &[f32],
    panels: bool,
    c: &mut [f32],
    ld: usize,
    add: bool,
) {
    tiles::<__m512, 8, 16>(rows, k, a, b, panels, c, ld, add)
}

/// [`tiles`] with 8-lane vectors: tiles of 4 x 16 and 8 x 8 (6 x 16 and 12 x 8 were no
/// faster).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn tiles_avx2(
    rows: usize,
    k: usize,
    a: Strided<f32>,
    b: &[f32],
    panels: bool,
    c: &mut [f32],
    ld: usize,
    add: bool,
) {
    tiles::<__m256, 4, 8>(rows, k, a, b, panels, c, ld, add)
}

/// `C (rows x ld) = A (rows x k) @ B (k x ld)`, or with `add` `C += A @ B`: column blocks of
/// two vectors (tiles of `MR2` rows), and a last block of one vector when `ld / V::N` is odd
/// (tiles of `MR1` rows). B is k rows of `ld`, or with `panels` ([`panels`]) one panel per
/// column block.
///
/// # Safety
/// The CPU has `V`'s instruction set; `A[r, p]` is in bounds for `r < rows`, `p < k`;
/// `ld` is a multiple of `V::N`, `b.len() >= k * ld`, `c.len() >= rows * ld`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tiles<V: F32s, const MR2: usize, const MR1: usize>(
    rows: usize,
    k: usize,
    a: Strided<f32>,
    b: &[f32],
    panels: bool,
    c: &mut [f32],
    ld: usize,
    add: bool,
) {
    // The block of `nv` vectors from vector j: where its row 0 is in B, and its row stride.
    let block =
        |j: usize, nv: usize| if panels { (&b[k * j * V::N..], nv * V::N) } else { (&b[j * V::N..], ld) };
    let vectors = ld / V::N;
    for j in (0..vectors / 2 * 2).step_by(2) {
        let (bj, ldb) = block(j, 2);
        column_block::<V, 2, MR2>(rows, k, a, bj, ldb, &mut c[j * V::N..], ld, add);
    }
    if vectors % 2 == 1 {
        let j = vectors - 1;
        let (bj, ldb) = block(j, 1);
        column_block::<V, 1, MR1>(rows, k, a, bj, ldb, &mut c[j * V::N..], ld, add);
    }
}

/// B as k rows of `ld` (`rows`, as [`pack`] writes it) rearranged into `out` as [`tiles`]'
/// panels: the column block of `nv` vectors of `w` lanes from column `c0` (two vectors
/// each, the last one alone when `ld / w` is odd) as k contiguous rows of `nv * w`, starting
/// at `k * c0`. A tile then reads its block's rows one after the other, where rows of a
/// wide B, `ld` apart, fall into few sets of the first-level cache and evict one another
/// (C = (32 x 64) @ (64 x 256) in 8 x 32 tiles, alone on one core: 141 GFLOP/s with rows of
/// 256, 158 with panels).
fn panels(rows: &[f32], k: usize, ld: usize, w: usize, out: &mut [f32]) {
    let vectors = ld / w;
    for j in (0..vectors).step_by(2) {
        let width = (vectors - j).min(2) * w;
        let panel = &mut out[k * j * w..][..k * width];
        for (p, dst) in panel.chunks_exact_mut(width).enumerate() {
            dst.copy_from_slice(&rows[p * ld + j * w..][..width]);
        }
    }
}

/// One tile: rows `r..r + MR` of one block of `NV` vectors of C, written, or with `add`
/// added onto C ([`Onto::Add`]: summed from zero, then added, the bits of C plus the product
/// as through a scratch block). Rows `r..r + from` were done by the tile before (an
/// overlapping last tile) and are not added to again.
///
/// # Safety
/// As [`column_block`], with rows `r..r + MR` inside C.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile_at<V: F32s, const NV: usize, const MR: usize>(
    k: usize,
    a: Strided<f32>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ld: usize,
    (r, from): (usize, usize),
    add: bool,
) {
    let onto = if add { Onto::Add { from } } else { Onto::Write };
    tile::<V, NV, MR>(a_rows(a.from(r, 0)), a.cs, rows_of(b, ldb), k, &mut c[r * ld..], ld, onto);
}

/// Rows `0..rows` (at least `MR`) of one block of `NV` vectors of C in tiles of `MR` rows,
/// the last ending at the last row (see [`column_block`]).
///
/// # Safety
/// As [`column_block`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn overlapping<V: F32s, const NV: usize, const MR: usize>(
    rows: usize,
    k: usize,
    a: Strided<f32>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ld: usize,
    add: bool,
) {
    for r in (0..rows).step_by(MR) {
        let at = r.min(rows - MR);
        tile_at::<V, NV, MR>(k, a, b, ldb, c, ld, (at, r - at), add);
    }
}

/// Rows `0..rows` of one block of `NV` vectors of C, in tiles of `MR` rows. The last tile
/// ends at the last row, overlapping the one before when `MR` does not divide `rows` (its
/// rows are computed twice, to the same bits, and written once): a tile of fewer rows has
/// fewer independent sums and waits on the multiply-add latency. Fewer than `MR` rows in all:
/// tiles of 8 in the same way when there are at least 8, else one tile of exactly that many.
/// With `add`, C's values are added to rather than replaced.
///
/// # Safety
/// As [`tiles`], with `b` and `c` starting at the block's first column.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn column_block<V: F32s, const NV: usize, const MR: usize>(
    rows: usize,
    k: usize,
    a: Strided<f32>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ld: usize,
    add: bool,
) {
    if rows >= MR {
        overlapping::<V, NV, MR>(rows, k, a, b, ldb, c, ld, add);
        return;
    }
    if rows >= 8 {
        overlapping::<V, NV, 8>(rows, k, a, b, ldb, c, ld, add);
        return;
    }
    match rows {
        1 => tile_at::<V, NV, 1>(k, a, b, ldb, c, ld, (0, 0), add),
        2 => tile_at::<V, NV, 2>(k, a, b, ldb, c, ld, (0, 0), add),
        3 => tile_at::<V, NV, 3>(k, a, b, ldb, c, ld, (0, 0), add),
        4 => tile_at::<V, NV, 4>(k, a, b, ldb, c, ld, (0, 0), add),
        5 => tile_at::<V, NV, 5>(k, a, b, ldb, c, ld, (0, 0), add),
        6 => tile_at::<V, NV, 6>(k, a, b, ldb, c, ld, (0, 0), add),
        _ => tile_at::<V, NV, 7>(k, a, b, ldb, c, ld, (0, 0), add),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tile::{assert_f32_sums, assert_same_bits, test_values};
    use super::*;
    use crate::simd::{available, available_vector};

    /// `A @ B` for `A[i, p] = a[i * ars + p * acs]` and `B[p, j] = b[p * brs + j * bcs]`, in f64.
    fn naive(m: usize, k: usize, n: usize, a: &Strided<f32>, b: &Strided<f32>) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a.at(i, p) as f64 * b.at(p, j) as f64).sum();
            }
        }
        c
    }

    #[test]
    fn every_layout_matches_f64_and_avx2_gives_the_bits_of_avx512() {
        // Sizes around the tiles (6 to 16 rows; one or two vectors of 8 or 16 lanes, padded)
        // and the GPT's products: per-head projections (32, 64, 16), attention (32, 16, 32)
        // and (32, 32, 16), the MLP (32, 64, 256) and (32, 256, 64), the head (32, 64, 65);
        // single rows and columns. Each with A and B row-major or transposed (which decides
        // the orientation) and with `accumulate` onto a known start. A transposed B is also
        // run as a `Linear`'s weight kept packed (`x @ W^T` at inference, with W's storage
        // given): the first call leaves a mark, the second packs W^T into panels, the third
        // reads them from the cache; each gives the bits of the product without the cache.
        let shapes = [
            (32, 64, 16),
            (32, 16, 32),
            (32, 32, 16),
            (32, 64, 256),
            (32, 256, 64),
            (32, 64, 64),
            (32, 64, 65),
            (5, 64, 65),
            (1, 128, 65),
            (300, 32, 1),
            (13, 19, 41),
            (65, 16, 17),
            (3, 200, 17),
            (6, 40, 40),
            (5, 64, 31),
            (200, 17, 9),
            (13, 24, 32),
        ];
        let caps = available_vector();
        for (m, k, n) in shapes {
            let av = test_values(m * k, 37, 101);
            // Room for B at every other element (the third layout).
            let bv = test_values(2 * k * n, 53, 97);
            let weight = crate::TensorData::from_vec(bv.clone(), [2 * k * n]).unwrap();
            // tb: 0 row-major, 1 transposed, 2 every other element of rows of 2n (neither rows
            // nor columns contiguous).
            for (ta, tb) in [(false, 0), (true, 0), (false, 1), (true, 1), (false, 2), (true, 2)] {
                let a = if ta { Strided::new(&av, 0, 1, m) } else { Strided::new(&av, 0, k, 1) };
                let b = match tb {
                    0 => Strided::new(&bv, 0, n, 1),
                    1 => Strided::new(&bv, 0, 1, k),
                    _ => Strided::new(&bv, 0, 2 * n, 2),
                };
                let (a, b) = (a.canonical(m, k), b.canonical(k, n));
                let want = naive(m, k, n, &a, &b);
                let mut bits: Option<Vec<u32>> = None;
                for &cap in &caps {
                    assert!(applies_at::<f32>(cap, m, k, n));
                    for accumulate in [false, true] {
                        let start = |i: usize| if accumulate { (i % 5) as f32 } else { f32::NAN };
                        let mut c: Vec<f32> = (0..m * n).map(start).collect();
                        product_at(cap, Product { m, k, n, a, b }, &mut c, accumulate, None);
                        let what = format!("{cap:?} {m}x{k}x{n} ta={ta} tb={tb} acc={accumulate}");
                        let from = |i: usize| if accumulate { start(i) as f64 } else { 0.0 };
                        assert_f32_sums(&c, &want, from, k, &what);
                        if !accumulate {
                            assert_same_bits(&mut bits, &c, &what);
                        } else {
                            // With `accumulate`, the product (the bits above) added once onto
                            // what C held, whether through the scratch block or in the tiles.
                            let product = bits.as_ref().expect("the product without accumulate came first");
                            for (i, (&got, &p)) in c.iter().zip(product).enumerate() {
                                assert_eq!(
                                    got.to_bits(),
                                    (start(i) + f32::from_bits(p)).to_bits(),
                                    "{what} [{i}]"
                                );
                            }
                        }
                        if tb == 1 {
                            for call in 0..3 {
                                let mut kept: Vec<f32> = (0..m * n).map(start).collect();
                                product_at(
                                    cap,
                                    Product { m, k, n, a, b },
                                    &mut kept,
                                    accumulate,
                                    Some(&weight.buf),
                                );
                                let same = kept.iter().zip(&c).all(|(x, y)| x.to_bits() == y.to_bits());
                                assert!(same, "{what}, the weight kept packed, call {call}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn too_large_or_f64_products_are_left_to_the_gemm_crate() {
        for cap in available() {
            // 2^13 to 2^20 multiply-adds, a side of at most 32, k of at least 16; the
            // scratch space limits k x n (and m x n) to 2^16 in at least one orientation;
            // f64 never.
            let on = cap >= Capability::Avx2;
            assert_eq!(applies_at::<f32>(cap, 32, 256, 128), on);
            assert_eq!(applies_at::<f32>(cap, 4096, 16, 16), on);
            assert!(!applies_at::<f32>(cap, 32, 256, 129)); // 2^20 + 8192 multiply-adds
            assert!(!applies_at::<f32>(cap, 33, 64, 33)); // both sides longer than 32
            assert!(!applies_at::<f32>(cap, 8, 15, 100)); // k below 16
            assert!(!applies_at::<f32>(cap, 8, 36, 9)); // 2592 multiply-adds, below 8192
            assert!(!applies_at::<f32>(cap, 1, 1 << 17, 1));
            assert!(!applies_at::<f64>(cap, 32, 64, 16));
        }
    }
}
