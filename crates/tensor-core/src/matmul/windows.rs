//! f32 products whose right operand's rows are windows of one buffer: row `p` of B is the
//! `n` values from `src[offs[p]]`, rows overlapping as they may. A convolution with stride 1
//! is such a product over its zero-padded input, which is how `crate::conv` runs it without
//! unfolding anything: with the padded input planes laid out flat (`W` values a row), output
//! `(oh, ow)` of kernel tap `(c, i, j)` reads `src[c * plane + i*dh * W + j*dw + oh * W + ow]`,
//! so the columns `ow..ow + WIDTH` of output row `oh` in im2col's row `(c, i, j)` are the
//! window at `c * plane + i*dh * W + j*dw` plus `oh * W + ow`: one block of columns per
//! [`WIDTH`] outputs of an output row (the last one running past the row's end when `WIDTH`
//! does not divide its length; those columns are computed and dropped).
//!
//! The product is [`tile`]'s register tile (see [`run`] for its sizes) walking blocks of
//! [`WIDTH`] columns, every tile of rows of C within a block
//! before the next block, so that a block's windows (`k` runs of [`WIDTH`] values) stay in L1
//! while the rows of A pass over them. Element (i, j) of C is
//! `fma(A[i, k-1], B[k-1, j], ... fma(A[i, 0], B[0, j], c0))`: a convolution's output sums
//! its taps in im2col's row order, as the unfolded path's products do.

use super::tile::{a_rows, tile, F32s};
use super::Strided;
use crate::dtype::{as_f32, as_f32_mut};
use crate::simd::{supported, Capability};
use crate::Float;
use std::arch::x86_64::*;

/// Columns of C per tile: four AVX2 or two AVX-512 vectors. The caller rounds `n` up to a
/// multiple of it.
pub(crate) const WIDTH: usize = 32;

/// Whether [`product`] runs for element type `T` on this CPU (f32 with AVX2 and FMA).
pub(crate) fn applies<T: Float>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && crate::simd::enabled(crate::simd::Capability::Avx2)
}

/// `C = A @ B`, or `C += A @ B` with `accumulate`, by blocks of [`WIDTH`] columns: A is
/// `m x k` with contiguous rows (`k = offs.len()`), and for each block `(from, to)` of
/// `blocks`, columns `to..to + WIDTH` of C (rows `ldc` apart) are A times the `k` windows
/// `src[offs[p] + from..][..WIDTH]`. Columns of C in no block are left as they are.
///
/// # Panics
/// Unless [`applies`] holds and every operand lies inside its slice (an internal contract:
/// `crate::conv` sizes them).
#[allow(clippy::too_many_arguments)]
pub(crate) fn product<T: Float>(
    a: &[T],
    m: usize,
    src: &[T],
    offs: &[usize],
    blocks: &[(usize, usize)],
    c: &mut [T],
    ldc: usize,
    accumulate: bool,
) {
    let k = offs.len();
    let (Some(a), Some(src), Some(c)) = (as_f32(a), as_f32(src), as_f32_mut(c)) else {
        panic!("windows::product: f32 only")
    };
    let reach = offs.iter().max().copied().unwrap_or(0) + blocks.iter().map(|b| b.0).max().unwrap_or(0);
    assert!(applies::<f32>() && a.len() >= m * k && c.len() >= m * ldc);
    assert!((k == 0 || reach + WIDTH <= src.len()) && blocks.iter().all(|b| b.1 + WIDTH <= ldc));
    if m == 0 || blocks.is_empty() {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in c.chunks_exact_mut(ldc).take(m) {
                blocks.iter().for_each(|b| row[b.1..b.1 + WIDTH].fill(0.0));
            }
        }
        return;
    }
    let ops = Operands { a, m, src, offs, blocks, ldc, keep: accumulate };
    // SAFETY: the CPU has AVX2 and FMA (`applies`); every row of A, window of `src` and block
    // of C read or written is inside its slice (the assertions above).
    unsafe { run(ops, c) }
}

/// [`product`]'s operands but C, checked: A (`m` rows of `offs.len()`), the windows, the
/// blocks, C's row step and whether C's values are added to.
#[derive(Clone, Copy)]
struct Operands<'a> {
    a: &'a [f32],
    m: usize,
    src: &'a [f32],
    offs: &'a [usize],
    blocks: &'a [(usize, usize)],
    ldc: usize,
    keep: bool,
}

/// [`product`] after its checks, at the widest vectors the capability allows: AVX-512, 8 rows
/// of C by two vectors (16 accumulators of the 32 registers); AVX2, 3 rows by four vectors
/// (12 accumulators: with the 3 broadcasts and the row of B that is all 16 registers, where
/// 4 rows by three spilled an accumulator to the stack and ran 40% slower).
///
/// # Safety
/// The CPU has AVX2 and FMA; the operands are as [`product`] asserts, with `m, k, n >= 1`.
unsafe fn run(ops: Operands, c: &mut [f32]) {
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512(ops: Operands, c: &mut [f32]) {
        tiles::<__m512, 2, 8>(ops, c)
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2(ops: Operands, c: &mut [f32]) {
        tiles::<__m256, 4, 3>(ops, c)
    }
    if crate::simd::enabled(crate::simd::Capability::Avx512) {
        avx512(ops, c)
    } else {
        avx2(ops, c)
    }
}

/// The blocks of [`WIDTH`] columns (`NV` vectors of `V`), each in tiles of `MR` rows of C and
/// one tile of the rows left over.
///
/// # Safety
/// As [`run`], with `V`'s instruction set enabled in the caller and `NV * V::N == WIDTH`.
#[inline(always)]
unsafe fn tiles<V: F32s, const NV: usize, const MR: usize>(ops: Operands, c: &mut [f32]) {
    let Operands { a, m, src, offs, blocks, ldc, keep } = ops;
    debug_assert!(NV * V::N == WIDTH && MR <= 8);
    let (k, full) = (offs.len(), m / MR * MR);
    let a = Strided::new(a, 0, k, 1);
    for &(from, j) in blocks {
        // Row p of this block of B: WIDTH values from src[offs[p] + from], in bounds (asserted).
        let brow = |p: usize| src.as_ptr().add(*offs.get_unchecked(p) + from);
        for r in (0..full).step_by(MR) {
            tile::<V, NV, MR>(a_rows(a.from(r, 0)), 1, &brow, k, &mut c[r * ldc + j..], ldc, keep);
        }
        if full == m {
            continue;
        }
        let (a, c) = (a.from(full, 0), &mut c[full * ldc + j..]);
        match m - full {
            1 => tile::<V, NV, 1>(a_rows(a), 1, &brow, k, c, ldc, keep),
            2 => tile::<V, NV, 2>(a_rows(a), 1, &brow, k, c, ldc, keep),
            3 => tile::<V, NV, 3>(a_rows(a), 1, &brow, k, c, ldc, keep),
            4 => tile::<V, NV, 4>(a_rows(a), 1, &brow, k, c, ldc, keep),
            5 => tile::<V, NV, 5>(a_rows(a), 1, &brow, k, c, ldc, keep),
            6 => tile::<V, NV, 6>(a_rows(a), 1, &brow, k, c, ldc, keep),
            _ => tile::<V, NV, 7>(a_rows(a), 1, &brow, k, c, ldc, keep),
        }
    }
}

/// Rows of B per block of the weight product's long `k`: 256 rows of 32 f32 are 32 KiB (L1).
const KC: usize = 256;

/// Whether [`weight_product`] runs for element type `T` and `n` columns (the output channels
/// of a group: whole AVX2 vectors, at most four).
pub(crate) fn weight_applies<T: Float>(n: usize) -> bool {
    applies::<T>() && matches!(n, 16 | 24 | 32)
}

/// A convolution's weight gradient of one sample and group, transposed: `C (m x n) = X @ G^T`,
/// where row `i` of X is
/// the window `src[offs[i]..][..oh * wp]` (tap `i` over every output position, `wp` a row, as
/// in [`product`]) and G holds `n` planes `oh x ow` (the output gradient of one sample and
/// group), taken as zero at the columns `ow..wp` of each row, whose windows read past the
/// output row. `packed` (`oh * wp * n` values, zero where no output position is: the caller
/// zeroes it once) receives G^T, one row per position; then [`tile`] walks `k = oh * wp` in
/// blocks of [`KC`] rows of it.
///
/// # Panics
/// Unless [`weight_applies`] holds and every operand lies inside its slice.
#[allow(clippy::too_many_arguments)]
pub(crate) fn weight_product<T: Float>(
    src: &[T],
    offs: &[usize],
    g: &[T],
    n: usize,
    [oh, ow, wp]: [usize; 3],
    packed: &mut [T],
    c: &mut [T],
) {
    let (m, k) = (offs.len(), oh * wp);
    let (Some(src), Some(g), Some(packed), Some(c)) =
        (as_f32(src), as_f32(g), as_f32_mut(packed), as_f32_mut(c))
    else {
        panic!("windows::weight_product: f32 only")
    };
    assert!(weight_applies::<f32>(n) && ow <= wp && g.len() == n * oh * ow && packed.len() == k * n);
    assert!(c.len() == m * n && offs.iter().all(|&o| o + k <= src.len()));
    if m == 0 || k == 0 {
        return;
    }
    // SAFETY: the CPU has AVX2 (`weight_applies`); the planes of g and the rows of packed are
    // inside their slices (the assertions above).
    unsafe {
        for r in 0..oh {
            // Row r of the planes, transposed: ow rows of n, at position r * wp.
            let plane_rows = Strided::new(g, r * ow, 1, oh * ow);
            super::tile::pack(&plane_rows, ow, n, n, &mut packed[r * wp * n..]);
        }
    }
    rows_product(src, offs, k, packed, n, c, false);
}

/// `g^T`: the `n` planes of `l` values of `g` as `l` rows of `n` in `out`, by 8 x 8 blocks in
/// registers (as [`weight_product`] packs its G^T).
///
/// # Panics
/// Unless [`applies`] holds, `g` has `n * l` values and `out` at least as many.
pub(crate) fn transpose_planes<T: Float>(g: &[T], n: usize, l: usize, out: &mut [T]) {
    let (Some(g), Some(out)) = (as_f32(g), as_f32_mut(out)) else {
        panic!("windows::transpose_planes: f32 only")
    };
    assert!(applies::<f32>() && g.len() == n * l && out.len() >= n * l);
    // SAFETY: the CPU has AVX2 (`applies`); `pack` reads the k x n matrix whose element
    // (p, j) is g[j * l + p] (inside g, asserted) and writes l rows of n into out (asserted).
    unsafe { super::tile::pack(&Strided::new(g, 0, 1, l), l, n, n, out) }
}

/// `C = X @ B`, or `C += X @ B` with `keep`: row `i` of X (`offs.len()` rows) is the `k` values
/// from `src[offs[i]]`, B is `k` rows of `n` values (16, 24 or 32) and C `offs.len()` rows of
/// `n`: [`weight_product`]'s product over rows the caller laid out.
///
/// # Panics
/// Unless [`weight_applies`] holds for `n` and every operand lies inside its slice.
pub(crate) fn rows_product(
    src: &[f32],
    offs: &[usize],
    k: usize,
    b: &[f32],
    n: usize,
    c: &mut [f32],
    keep: bool,
) {
    assert!(weight_applies::<f32>(n));
    rows_product_at(crate::simd::capability(), WeightOperands { src, offs, k, b, keep }, n, c)
}

/// [`rows_product`] with the tiles of capability `cap` (lowered to what the CPU has, which
/// must include AVX2: the tests run every capability the CPU has, whichever
/// `TORCHLET_CPU_CAPABILITY` chose).
fn rows_product_at(cap: Capability, ops: WeightOperands, n: usize, c: &mut [f32]) {
    let WeightOperands { src, offs, k, b, keep } = ops;
    let m = offs.len();
    assert!(supported(cap) >= Capability::Avx2 && matches!(n, 16 | 24 | 32));
    assert!(b.len() >= k * n && c.len() >= m * n && offs.iter().all(|&o| o + k <= src.len()));
    if m == 0 {
        return;
    }
    if k == 0 {
        if !keep {
            c[..m * n].fill(0.0);
        }
        return;
    }
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512<const NV: usize, const MR: usize>(ops: WeightOperands, c: &mut [f32]) {
        weight_tiles::<__m512, NV, MR>(ops, c)
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2<const NV: usize, const MR: usize>(ops: WeightOperands, c: &mut [f32]) {
        weight_tiles::<__m256, NV, MR>(ops, c)
    }
    // SAFETY: the CPU has AVX2 and FMA (`supported(cap)`, asserted), and AVX-512F where
    // `supported` says so; the rows of X, B and C are inside their slices (asserted above).
    // AVX-512 takes 8 rows by the whole row of 16 or 32 (8 or 16 accumulators; the
    // F(2x2, 3x3) weight gradient's products have a row per input channel, 16 in the
    // bench's convolution, whose forward and backward took 4,659-4,744 -> 4,365-4,484 us,
    // medians of 6 alternating rounds in two runs, where AVX2's 3 x 32 tiles had run on
    // AVX-512 CPUs too).
    unsafe {
        match (n, supported(cap) == Capability::Avx512) {
            (32, true) => avx512::<2, 8>(ops, c),
            (16, true) => avx512::<1, 8>(ops, c),
            (32, false) => avx2::<4, 3>(ops, c),
            (24, _) => avx2::<3, 3>(ops, c),
            _ => avx2::<2, 4>(ops, c),
        }
    }
}

/// [`rows_product`]'s operands but `n` and C: the windows (`offs.len()` rows of X, `k` long,
/// in `src`), B (`k` rows) and whether C's values are added to.
#[derive(Clone, Copy)]
struct WeightOperands<'a> {
    src: &'a [f32],
    offs: &'a [usize],
    k: usize,
    b: &'a [f32],
    keep: bool,
}

/// [`weight_product`]'s product: blocks of [`KC`] rows of B, each under every tile of `MR`
/// rows of C (then the rows left over one at a time), the first from zeros (or from C's
/// values with `keep`), the others adding onto C. Element (i, j) is the same chain of
/// multiply-adds at either vector width, so AVX2 and AVX-512 give the same bits.
///
/// # Safety
/// As [`weight_product`] (or [`rows_product`]) after its checks, with `V`'s instruction set
/// enabled in the caller and `NV * V::N` the row length of B and C.
#[inline(always)]
unsafe fn weight_tiles<V: F32s, const NV: usize, const MR: usize>(ops: WeightOperands, c: &mut [f32]) {
    let WeightOperands { src, offs, k, b, keep } = ops;
    let (m, w) = (offs.len(), V::N * NV);
    let full = m / MR * MR;
    for p0 in (0..k).step_by(KC) {
        let (kb, keep) = (KC.min(k - p0), keep || p0 > 0);
        let brow = |p: usize| b.as_ptr().add((p0 + p) * w);
        let window = |r: usize| move |i: usize| src.as_ptr().add(*offs.get_unchecked(r + i) + p0);
        for r in (0..full).step_by(MR) {
            tile::<V, NV, MR>(window(r), 1, &brow, kb, &mut c[r * w..], w, keep);
        }
        for r in full..m {
            tile::<V, NV, 1>(window(r), 1, &brow, kb, &mut c[r * w..], w, keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tile::{assert_f32_sums, assert_same_bits, test_values};
    use super::*;
    use crate::simd::available_vector;

    #[test]
    fn rows_products_match_f64_and_give_the_same_bits_at_every_width() {
        // Rows of X are overlapping windows of one buffer (3 values apart, as a convolution's
        // taps are); B is k rows of n. Row counts below, at and past the AVX-512 tile's 8 and
        // the AVX2 tiles' 3 and 4 (rows left over one at a time); k within one block of KC
        // and past it (a second block adding onto C); C from zeros and, with `keep`, from a
        // known start.
        for (m, k, n) in [(1, 5, 16), (7, 40, 32), (8, 300, 32), (16, 128, 32), (19, 70, 16), (10, 257, 24)] {
            let offs: Vec<usize> = (0..m).map(|i| 3 * i).collect();
            let src = test_values(3 * m + k, 37, 101);
            let b = test_values(k * n, 53, 97);
            let want: Vec<f64> = (0..m * n)
                .map(|e| (0..k).map(|p| src[offs[e / n] + p] as f64 * b[p * n + e % n] as f64).sum())
                .collect();
            for keep in [false, true] {
                let start = |i: usize| if keep { (i % 5) as f32 } else { f32::NAN };
                let mut bits: Option<Vec<u32>> = None;
                for cap in available_vector() {
                    let mut c: Vec<f32> = (0..m * n).map(start).collect();
                    let ops = WeightOperands { src: &src, offs: &offs, k, b: &b, keep };
                    rows_product_at(cap, ops, n, &mut c);
                    let what = format!("{cap:?} m={m} k={k} n={n} keep={keep}");
                    assert_f32_sums(&c, &want, |i| if keep { start(i) as f64 } else { 0.0 }, k, &what);
                    assert_same_bits(&mut bits, &c, &what);
                }
            }
        }
    }
}
