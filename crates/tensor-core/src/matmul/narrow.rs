//! f32 products with a narrow output (16, 24 or 32 columns) on AVX2 or AVX-512: the forward
//! pass and the weight gradient of a `Linear` layer with that many outputs over a large batch.
//!
//! For `C (m x n) += A (m x k) @ B (k x n)`, the `gemm` crate packs A into column panels and
//! feeds its 16 x 6 tiles with six broadcasts per twelve multiply-adds. With `n` at most 32
//! a row of C is at most four vectors, so this kernel keeps a tile of `MR` rows by the whole
//! row width in registers (AVX2: 3 x 32 = twelve 8-lane accumulators for `n = 32`; AVX-512:
//! 12 x 32 = twenty-four 16-lane ones) and, for each `p`, loads row `p` of B (contiguous,
//! packed once when it is not) and broadcasts `A[r, p]` straight from A in its own layout
//! (any strides: rows of `x` in the forward pass, columns of `x` in the weight gradient),
//! which needs only `MR` broadcasts per `MR x n/8` multiply-adds and no packing of the large
//! operand. A `k` longer than [`KC`] is walked in even blocks of at most `KC` so that the rows
//! of B of a block stay in L1 (by the tiles shorter than 8 rows, which read B most often; the
//! taller ones run a `k` of up to 1024 whole); the tile is kept in C between blocks, its sums
//! continuing there. Every element is the same chain
//! of multiply-adds over `p` in order at both widths, so the AVX2 and AVX-512 builds give the
//! same bits; 24 columns (one and a half 16-lane vectors) run the AVX2 build on an AVX-512
//! CPU too.
//!
//! Measured on the project's VM for the `mlp` workload's two products (median of 7, calls
//! alternating with the `gemm` crate's): the forward product (50000 x 784 @ 784 x 32) 20.0 ms
//! against 22.1-23.5 ms, the weight gradient (784 x 50000 @ 50000 x 32, split over k between
//! the two threads) 21.8 ms against 28.4 ms (AVX2 tiles, on an AVX2-only EPYC).

use super::tile::{a_rows, pack, rows_of, tile, tile_ahead, F32s};
use super::{Product, Strided};
use crate::dtype::{as_f32, as_f32_mut};
use crate::simd::{capability, supported, Capability};
use crate::Float;
use rayon::prelude::*;
use std::arch::x86_64::*;

/// Rows of B per block of a long `k`: 256 rows of 32 f32 are 32 KiB.
const KC: usize = 256;
/// Rows of C per parallel task.
const ROWS_PER_TASK: usize = 192;

/// Whether [`gemm`] handles an f32 product with `n` columns on this CPU (at the chosen
/// capability).
pub(super) fn applies<T: Float>(n: usize) -> bool {
    has_tiles::<T>(n) && crate::simd::enabled(crate::simd::Capability::Avx2)
}

/// Whether the tiles are made for products of `T` with `n` columns: f32 with 16, 24 or 32.
fn has_tiles<T: Float>(n: usize) -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && matches!(n, 16 | 24 | 32)
}

/// `dst = A @ B`, or `dst += A @ B` with `accumulate`, where `dst[i*d.0 + j*d.1]` is element
/// (i, j) of the m x n result; on every core when `parallel`. Only for products where
/// [`applies`] holds, with operands checked by `gemm_strided` (`m, k, n >= 1`, in bounds).
pub(super) fn gemm<T: Float>(
    p: Product<T>,
    dst: &mut [T],
    d: (usize, usize),
    accumulate: bool,
    parallel: bool,
) {
    gemm_at(capability(), p, dst, d, accumulate, parallel)
}

/// [`gemm`] with the tiles of capability `cap` (lowered to what the CPU has): AVX-512 tiles
/// for 16 and 32 columns there, AVX2 tiles otherwise.
fn gemm_at<T: Float>(
    cap: Capability,
    p: Product<T>,
    dst: &mut [T],
    d: (usize, usize),
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (p.m, p.k, p.n);
    // `cap`'s tiles on this CPU, not `applies` (the chosen capability): the tests run every
    // capability the CPU has, whichever `TORCHLET_CPU_CAPABILITY` chose.
    assert!(supported(cap) >= Capability::Avx2 && has_tiles::<T>(n));
    assert!(p.fits() && m.checked_mul(n) == Some(dst.len()));
    let (Some(sa), Some(sb), Some(dst)) = (as_f32(p.a.s), as_f32(p.b.s), as_f32_mut(dst)) else {
        unreachable!("narrow::gemm: `has_tiles` holds, so T is f32")
    };
    let (a, b) = (
        Strided { s: sa, off: p.a.off, rs: p.a.rs, cs: p.a.cs },
        Strided { s: sb, off: p.b.off, rs: p.b.rs, cs: p.b.cs },
    );
    // B as k contiguous rows of n: in place if it is laid out so, else packed.
    let packed: Vec<f32>;
    let b = if b.cs == 1 && b.rs == n {
        &b.s[b.off..b.off + k * n]
    } else {
        let mut rows = vec![0.0f32; k * n];
        // SAFETY: the CPU has AVX2 (`applies`).
        unsafe { pack(&b, k, n, n, &mut rows) };
        packed = rows;
        &packed
    };
    let wide = supported(cap) == Capability::Avx512;
    let run = |r0: usize, out: &mut [f32], acc: bool| {
        let job = Job { rows: out.len() / n, k, a: a.from(r0, 0), b, c: out, accumulate: acc };
        // SAFETY: the CPU has AVX2 and FMA (`applies`), and AVX-512 when `wide` (`supported`);
        // rows r0..r0+rows of A and all k rows of B are in bounds (`a.fits(m, k)`,
        // `b.len() == k * n`), `out` holds rows x n.
        // AVX-512 tiles are taller where A's rows are contiguous (the forward product) than
        // where A is read down its columns (the weight gradient, `x^T`): there 8 x 32 tiles
        // took 19.7 ms for (784 x 50000) @ (50000 x 32) against 18.5 ms for AVX2's 3 x 32,
        // and 4 x 32 tiles 15.8-17.9 ms (medians of 7; the forward product 12.8 ms against
        // 14.7 with 8 x 32 tiles; for 16 columns 7.6 against 9.8-10.9 ms forward, 11.8-12.3
        // against 16.4-17.5 ms for the weight gradient with 6 x 16 tiles). 12 x 32 tiles,
        // once the tile kept its two row vectors live rather than twelve broadcasts
        // (`tile`), took the forward product on a 2-core Xeon from 9.1 to 8.3 ms (medians of
        // 5 rounds; 14 x 32 was slower).
        unsafe {
            match (n, wide) {
                (32, true) if a.cs == 1 => tiles_avx512::<2, 12>(job),
                (16, true) if a.cs == 1 => tiles_avx512::<1, 12>(job),
                (32, true) => tiles_avx512::<2, 4>(job),
                (16, true) => tiles_avx512::<1, 6>(job),
                (32, false) => tiles_avx2::<4, 3>(job),
                (24, _) => tiles_avx2::<3, 3>(job),
                _ => tiles_avx2::<2, 4>(job),
            }
        }
    };
    let each = |(t, out): (usize, &mut [f32])| run(t * ROWS_PER_TASK, out, accumulate);
    if d == (n, 1) {
        // C's rows are contiguous: the tasks write their rows of it directly.
        if parallel {
            dst.par_chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(each);
        } else {
            dst.chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(each);
        }
    } else {
        // Any other layout (the transposed product): compute, then add into place.
        let mut tmp = vec![0.0f32; m * n];
        if parallel {
            tmp.par_chunks_mut(ROWS_PER_TASK * n)
                .enumerate()
                .for_each(|(t, o)| run(t * ROWS_PER_TASK, o, false));
        } else {
            run(0, &mut tmp, false);
        }
        if d.0 == 1 {
            // C^T's rows are contiguous (the transposed product).
            add_transposed(&tmp, n, n, dst, d.1, accumulate);
        } else {
            for (i, row) in tmp.chunks_exact(n).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    let o = &mut dst[i * d.0 + j * d.1];
                    *o = if accumulate { *o + v } else { v };
                }
            }
        }
    }
}

/// Rows of C at most for [`short`]: the weight gradient of a `Linear` layer with up to this
/// many outputs.
const SHORT_ROWS: usize = 32;
/// Rows of B per block in [`short`]: 32 rows of a 784-column B are 98 KiB, 25 pages of 4
/// KiB, within reach of the first-level TLB (64 pages) as the tiles walk down the block.
const SHORT_KC: usize = 32;

/// Whether [`short`] handles an f32 product with `m` rows and `n` columns whose B is `b`:
/// a short, wide output (`m <= 32 < n`) over B's contiguous rows, on this CPU at the chosen
/// capability.
pub(super) fn short_applies<T: Float>(m: usize, n: usize, b: &Strided<T>) -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && m <= SHORT_ROWS
        && n > SHORT_ROWS
        && b.cs == 1
        && crate::simd::enabled(Capability::Avx2)
}

/// `dst = A @ B` (row-major m x n), or `dst += A @ B` with `accumulate`, for products where
/// [`short_applies`] holds: the weight gradient `g^T x` of a `Linear` layer, 32 x 784 over a
/// batch of 50,000 rows. It is computed the other way round, `C^T = x^T g` (784 x 32), with
/// the tiles of [`gemm`]: `MR` columns of `x` by the `w` columns of `g` (w = 32, or 16 when
/// `m <= 16`; 12 x w with AVX-512, 3 x 32 or 4 x 16 with AVX2), each step broadcasting `MR`
/// neighbouring values of one row of `x` against one row of `g` (`A^T`, in place when its
/// rows are contiguous and `m == w`, else packed and zero-padded). `x` is walked in blocks of
/// [`SHORT_KC`] rows; while the tiles work on one block, each of the first tiles prefetches
/// one cache line of each row of the next block (into L2), so the block's lines come in
/// ahead of the tiles rather than as misses the hardware prefetchers cannot predict (a
/// step of one row of `x` per multiply). C^T is kept in a buffer between blocks, then added
/// into place transposed.
///
/// Measured on a 2-core Xeon for `g^T x` of the `mlp` workload (medians of 15; the k-split of
/// `gemm_oriented` runs two such calls side by side): 10.0-10.3 ms with blocks of 16-32
/// rows, 13.6 ms with 64, 15.5 ms with 128 and 18.6 ms with 256 (more pages per block than
/// the TLB holds); 24.7-25.8 ms without the prefetches. Before, the kernel copied each block
/// of 128 rows of `x` into 48-column strips and ran 8 x 48 tiles over `g^T`: 17.8 ms against
/// 10.3 (26.8 against 16.7 ms with AVX2).
/// Element (i, j) is the chain of multiply-adds over `p` in order, as in [`gemm`]: the same
/// bits at either width and as [`gemm`]'s product of the transposed operands.
pub(super) fn short<T: Float>(p: Product<T>, dst: &mut [T], accumulate: bool, parallel: bool) {
    short_at(capability(), p, dst, accumulate, parallel)
}

/// [`short`] with the tiles of capability `cap` (lowered to what the CPU has).
fn short_at<T: Float>(cap: Capability, p: Product<T>, dst: &mut [T], accumulate: bool, parallel: bool) {
    let (m, k, n) = (p.m, p.k, p.n);
    // `cap`'s tiles on this CPU, not `short_applies` (the chosen capability), as in `gemm_at`.
    assert!(supported(cap) >= Capability::Avx2 && p.b.cs == 1 && m <= SHORT_ROWS);
    assert!(p.fits() && m.checked_mul(n) == Some(dst.len()));
    let (Some(sa), Some(sb), Some(dst)) = (as_f32(p.a.s), as_f32(p.b.s), as_f32_mut(dst)) else {
        unreachable!("narrow::short: `short_applies` holds, so T is f32")
    };
    let (a, b) = (
        Strided { s: sa, off: p.a.off, rs: p.a.rs, cs: p.a.cs },
        Strided { s: sb, off: p.b.off, rs: p.b.rs, cs: 1 },
    );
    // A^T (the rows of g) as k rows of w values, `lda` apart.
    let w = if m <= 16 { 16 } else { 32 };
    let packed: Vec<f32>;
    let (at, lda) = if a.rs == 1 && m == w {
        (&a.s[a.off..], a.cs)
    } else {
        let mut rows = vec![0.0f32; k * w];
        // SAFETY: the CPU has AVX2 (asserted above); `rows` holds k rows of w >= m.
        unsafe { pack(&a.t(), k, m, w, &mut rows) };
        packed = rows;
        (&packed[..], w)
    };
    let wide = supported(cap) == Capability::Avx512;
    // Rows j0..j1 of C^T (columns j0..j1 of C), as rows of w values.
    let run = |j0: usize, j1: usize| {
        let job = ShortJob { k, j0, j1, at, lda, b };
        // SAFETY: the CPU has AVX2 and FMA, and AVX-512 when `wide` (`supported`); B is k x n
        // with contiguous rows inside its slice (`p.fits()`), j0 < j1 <= n; A^T's rows p < k
        // hold w values from `at[p * lda]` (packed: k * w values; in place: A[w-1, k-1] is
        // inside A's slice, `p.fits()` with m == w).
        unsafe {
            match (wide, w) {
                (true, 32) => short_avx512::<2, 12>(&job),
                (true, _) => short_avx512::<1, 12>(&job),
                (false, 32) => short_avx2::<4, 3>(&job),
                (false, _) => short_avx2::<2, 4>(&job),
            }
        }
    };
    // One group of columns per thread when parallel (the k-split of `gemm_oriented` makes
    // the weight gradient's calls serial), in multiples of 48 (whole cache lines of a row of
    // B, and whole tiles of 12 or 3 rows of C^T).
    let groups = if parallel { rayon::current_num_threads().clamp(1, n.div_ceil(48)) } else { 1 };
    let per = n.div_ceil(groups).next_multiple_of(48);
    let group = |g: usize| (g * per, ((g + 1) * per).min(n));
    let parts: Vec<Vec<f32>> = if groups > 1 {
        (0..n.div_ceil(per)).into_par_iter().map(|g| run(group(g).0, group(g).1)).collect()
    } else {
        vec![run(0, n)]
    };
    for (g, ct) in parts.iter().enumerate() {
        add_transposed(ct, w, m, &mut dst[group(g).0..], n, accumulate);
    }
}

/// `dst[j * ld + i] = src[i * w + j]` (or `+=` with `accumulate`) for `i < src.len() / w` and
/// `j < cols`: the rows of `src` into the columns of `dst`, 16 rows of `src` (2 KiB for w =
/// 32, in L1) at a time, so that column `j` of a block is one contiguous run of `dst`'s row
/// `j` (a scatter element by element, 4 KiB apart, had taken ~30% of a conv2d step).
fn add_transposed(src: &[f32], w: usize, cols: usize, dst: &mut [f32], ld: usize, accumulate: bool) {
    for (ib, block) in src.chunks(16 * w).enumerate() {
        let (i0, rows) = (ib * 16, block.len() / w);
        for j in 0..cols {
            let out = &mut dst[j * ld + i0..][..rows];
            let col = block[j..].iter().step_by(w);
            if accumulate {
                out.iter_mut().zip(col).for_each(|(o, &v)| *o += v);
            } else {
                out.iter_mut().zip(col).for_each(|(o, &v)| *o = v);
            }
        }
    }
}

/// One thread's part of [`short`]: rows `j0..j1` of `C^T = B^T A^T`, where row `p` of A^T is
/// the w values from `at[p * lda]`.
struct ShortJob<'a> {
    k: usize,
    j0: usize,
    j1: usize,
    at: &'a [f32],
    lda: usize,
    b: Strided<'a, f32>,
}

/// [`short_tiles`] with 16-lane vectors.
///
/// # Safety
/// As [`short_tiles`], on a CPU with AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn short_avx512<const NV: usize, const MR: usize>(job: &ShortJob) -> Vec<f32> {
    short_tiles::<__m512, NV, MR>(job)
}

/// [`short_tiles`] with 8-lane vectors.
///
/// # Safety
/// As [`short_tiles`], on a CPU with AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn short_avx2<const NV: usize, const MR: usize>(job: &ShortJob) -> Vec<f32> {
    short_tiles::<__m256, NV, MR>(job)
}

/// The job's rows of C^T (`j1 - j0` rows of `w = NV * V::N`), block by block of
/// [`SHORT_KC`] rows of B: `MR x w` tiles (single rows for the rest), the first of them
/// prefetching the next block's rows, a cache line each (see [`short`]).
///
/// # Safety
/// The CPU has `V`'s instruction set; B (k x n, rows contiguous, `j1 <= n`) is inside its
/// slice; `at[p * lda..]` holds `w` values for each `p < k`.
#[inline(always)]
unsafe fn short_tiles<V: F32s, const NV: usize, const MR: usize>(job: &ShortJob) -> Vec<f32> {
    let &ShortJob { k, j0, j1, at, lda, b } = job;
    let (rows, w) = (j1 - j0, NV * V::N);
    let mut ct = vec![0.0f32; rows * w];
    let full = rows / MR * MR;
    let lines = rows.div_ceil(16); // of a row of B's columns j0..j1
    for p0 in (0..k).step_by(SHORT_KC) {
        let kb = SHORT_KC.min(k - p0);
        let keep = p0 > 0; // add to what C^T holds
        let brow = rows_of(&at[p0 * lda..], lda);
        // B[p0, j0]: element (r, p) of the tiles' A (B^T) is at `x0 + r + p * b.rs`.
        let x0 = b.s.as_ptr().wrapping_add(b.off + p0 * b.rs + j0);
        let next = (p0 + kb < k).then(|| x0.wrapping_add(kb * b.rs));
        for (t, r) in (0..full).step_by(MR).enumerate() {
            // Tile t fetches line t of each of the next block's rows (at most kb of them; a
            // shorter last block's are fetched past B's end, which prefetches allow).
            let line = next.filter(|_| t < lines).map(|x| x.wrapping_add(16 * t));
            let ahead = line.map(|line| {
                move |p: usize| _mm_prefetch::<_MM_HINT_T1>(line.wrapping_add(p * b.rs) as *const i8)
            });
            let arow = |i: usize| x0.wrapping_add(r + i);
            tile_ahead::<V, NV, MR>(arow, b.rs, &brow, kb, &mut ct[r * w..], w, keep, ahead);
        }
        for r in full..rows {
            tile::<V, NV, 1>(|_| x0.wrapping_add(r), b.rs, &brow, kb, &mut ct[r * w..], w, keep);
        }
    }
    ct
}

/// One task's product for [`tiles`]: `C (rows x w) (+)= A (rows x k) @ B (k x w)`, adding
/// to C's values with `accumulate`.
struct Job<'a> {
    rows: usize,
    k: usize,
    a: Strided<'a, f32>,
    b: &'a [f32],
    c: &'a mut [f32],
    accumulate: bool,
}

/// [`tiles`] with 16-lane vectors.
///
/// # Safety
/// As [`tiles`], on a CPU with AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn tiles_avx512<const NV: usize, const MR: usize>(job: Job) {
    tiles::<__m512, NV, MR>(job)
}

/// [`tiles`] with 8-lane vectors.
///
/// # Safety
/// As [`tiles`], on a CPU with AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn tiles_avx2<const NV: usize, const MR: usize>(job: Job) {
    tiles::<__m256, NV, MR>(job)
}

/// The job's product, `w = NV * V::N`, in tiles of `MR` rows, then single rows.
///
/// # Safety
/// The CPU has `V`'s instruction set; `A[r, p]` is in bounds for `r < rows`, `p < k`;
/// `b.len() >= k * w`; `c.len() == rows * w`.
#[inline(always)]
unsafe fn tiles<V: F32s, const NV: usize, const MR: usize>(job: Job) {
    let Job { rows, k, a, b, c, accumulate } = job;
    let (full, w) = (rows / MR * MR, V::N * NV);
    // Short tiles read all of B (k rows of w) for every few rows of A: k is walked in even
    // blocks of at most KC rows then, so that a block of B stays in L1 (AVX2's 3 x 32 tiles
    // on the `mlp` workload's forward product, 50000 x 784 @ 784 x 32, in 4 blocks of 196 on
    // a 2-core Xeon: 17.4 -> 15.6-16.0 ms; the workload 50.6 -> 46.6 ms, medians of 6
    // alternating rounds in a slow phase of the VM). Tall tiles read B rarely enough from L2
    // for a k of up to 4 KC to run whole (AVX-512's 12 x 32 tiles: 10.7 ms whole, 11.1-11.6
    // in blocks).
    let kc = if MR >= 8 && k <= 4 * KC { k } else { k.div_ceil(k.div_ceil(KC)) };
    for p0 in (0..k).step_by(kc) {
        let kb = kc.min(k - p0);
        let keep = accumulate || p0 > 0; // add to what C holds
        let brow = rows_of(&b[p0 * w..], w);
        for r in (0..full).step_by(MR) {
            // With A's rows contiguous (the forward product), the next tile's rows are
            // prefetched, a line per row every 16 steps, as this tile reads its own: the
            // hardware prefetchers see a new stream per row and start each too late (on a
            // 2-core Xeon the forward product of the `mlp` workload, 50000 x 784 @ 784 x 32,
            // 14.3 -> 10.4 ms with AVX-512 and 18.4-19.9 -> 14.5 ms with AVX2).
            let arows = a_rows(a.from(r, p0));
            let ahead = (a.cs == 1).then_some(|p: usize| {
                if p.is_multiple_of(16) {
                    for i in 0..MR {
                        _mm_prefetch::<_MM_HINT_T0>(arows(i + MR).wrapping_add(p) as *const i8);
                    }
                }
            });
            tile_ahead::<V, NV, MR>(&arows, a.cs, &brow, kb, &mut c[r * w..], w, keep, ahead);
        }
        for r in full..rows {
            tile::<V, NV, 1>(a_rows(a.from(r, p0)), a.cs, &brow, kb, &mut c[r * w..], w, keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tile::{assert_f32_sums, assert_same_bits, test_values};
    use super::*;
    use crate::simd::available_vector;

    /// A kernel under test: `(capability, product, destination, accumulate, parallel)`.
    type Kernel = fn(Capability, Product<f32>, &mut [f32], bool, bool);

    /// Runs `kernel` on the m x k @ k x n product of fixed values, A row-major or transposed
    /// (`ta`), under every capability with AVX2, with and without `accumulate` onto a known
    /// start, serial and parallel: each result within f32 rounding of the f64 product, and
    /// every capability the same bits. Returns the bits of the runs without `accumulate`
    /// (serial, then parallel).
    fn check(kernel: Kernel, m: usize, k: usize, n: usize, ta: bool) -> Vec<Vec<u32>> {
        let caps = available_vector();
        let av = test_values(m * k, 37, 101);
        let bv = test_values(k * n, 53, 97);
        let b = Strided::new(&bv, 0, n, 1);
        let a = if ta { Strided::new(&av, 0, 1, m) } else { Strided::new(&av, 0, k, 1) };
        let want: Vec<f64> =
            (0..m * n).map(|e| (0..k).map(|p| a.at(e / n, p) as f64 * b.at(p, e % n) as f64).sum()).collect();
        let mut plain = vec![];
        for (accumulate, parallel) in [(false, false), (false, true), (true, false), (true, true)] {
            let start = |i: usize| if accumulate { (i % 5) as f32 } else { f32::NAN };
            let mut bits: Option<Vec<u32>> = None;
            for &cap in &caps {
                let mut c: Vec<f32> = (0..m * n).map(start).collect();
                kernel(cap, Product { m, k, n, a, b }, &mut c, accumulate, parallel);
                let what = format!("{cap:?} m={m} n={n} k={k} ta={ta} acc={accumulate}");
                assert_f32_sums(&c, &want, |i| if accumulate { start(i) as f64 } else { 0.0 }, k, &what);
                assert_same_bits(&mut bits, &c, &what);
            }
            if !accumulate {
                plain.extend(bits);
            }
        }
        plain
    }

    #[test]
    fn every_width_matches_f64_and_avx2_gives_the_bits_of_avx512() {
        // 203 rows: not a multiple of any tile height (3, 4, 6, 8, 12) and two tasks of 192
        // rows when parallel; k of 37 (one block), 300 (whole in tiles of 8 rows or more, two
        // blocks of 150 in shorter ones: the same bits either way) and 1100 (five blocks of
        // 220); A row-major (the forward product's tiles) or transposed (the weight
        // gradient's).
        let gemm: Kernel = |cap, p, c, acc, par| gemm_at(cap, p, c, (p.n, 1), acc, par);
        for n in [16, 24, 32] {
            for k in [37, 300, 1100] {
                for ta in [false, true] {
                    check(gemm, 203, k, n, ta);
                }
            }
        }
    }

    #[test]
    fn short_products_match_f64_give_the_same_bits_everywhere_and_as_the_transposed_product() {
        // m of 32 (w = 32; A^T in place when A is transposed, as g^T is), 13 and 1 (packed
        // and zero-padded to w = 16); n of 33 (less than a tile group of 48: two 12-row
        // tiles and 9 single rows with AVX-512), 100 (groups of 96 and 4 columns when
        // parallel) and 784 (the mlp's inputs: 65 tiles of 12 and 4 single rows, groups of
        // 432 and 352); k of 37 (blocks of 32 and 5) and 300 (nine blocks of 32, and 12);
        // A row-major or transposed (g^T, as in the weight gradient).
        for (m, n) in [(32, 784), (13, 100), (1, 33), (32, 33)] {
            for k in [37, 300] {
                for ta in [false, true] {
                    let bits = check(short_at, m, k, n, ta);
                    if m == 32 {
                        // The same product the other way round, (B^T A^T)^T, by `gemm`'s
                        // 32-column tiles (the weight gradient's path before `short`).
                        let transposed: Kernel =
                            |cap, p, c, acc, par| gemm_at(cap, p.t(), c, (1, p.n), acc, par);
                        assert_eq!(bits, check(transposed, m, k, n, ta), "m={m} n={n} k={k} ta={ta}");
                    }
                }
            }
        }
    }
}
