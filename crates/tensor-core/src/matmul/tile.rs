//! The register tile and the packing of B shared by the hand-written f32 GEMM kernels
//! ([`super::narrow`] and [`super::small`]). The tile is written once over [`F32s`], a SIMD
//! vector of f32 (`__m256`: 8 lanes with AVX2 and FMA; `__m512`: 16 lanes with AVX-512F).
//!
//! A tile is `MR` rows by `NV` vectors of C, kept in `MR * NV` registers while `p` walks k:
//! each step loads `NV` vectors of row `p` of B (contiguous), broadcasts `A[r, p]` for each of
//! the `MR` rows straight from A in its own layout (any strides), and adds their products,
//! `MR * NV` fused multiply-adds. Element (i, j) of the tile is therefore
//! `fma(A[i, kb-1], B[kb-1, j], ... fma(A[i, 0], B[0, j], c0))`: the same operations in the
//! same order at either vector width, so the AVX2 and AVX-512 builds agree bit for bit.

use super::Strided;
pub(super) use crate::simd::vector::F32s;
use std::arch::x86_64::*;

/// One tile: `C[0..MR, 0..NV*V::N] (+)= A[0..MR, 0..kb] @ B[0..kb, 0..NV*V::N]`, where
/// `A[i, p]` is at `arow(i) + p * acs` (rows of a strided matrix, [`a_rows`]; or windows of one
/// buffer, [`super::windows`]), row `p` of B starts at `brow(p)` (`b + p * ldb` for a matrix,
/// [`rows_of`]; or windows) and row `i` of C at `c[i * ldc]`. What it does with C is `onto`
/// ([`Onto`]; a `bool` is `keep`: start from C's values, else from zeros).
///
/// # Safety
/// The CPU has `V`'s instruction set; `A[i, p]` is readable for `i < MR`, `p < kb`; the
/// `NV * V::N` values from each `brow(p)` (`p < kb`) are readable and those from each
/// `c[i * ldc]` (`i < MR`) in bounds of `c`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) unsafe fn tile<V: F32s, const NV: usize, const MR: usize>(
    arow: impl Fn(usize) -> *const f32,
    acs: usize,
    brow: impl Fn(usize) -> *const f32,
    kb: usize,
    c: &mut [f32],
    ldc: usize,
    onto: impl Into<Onto>,
) {
    tile_ahead::<V, NV, MR>(arow, acs, brow, kb, c, ldc, onto, None::<fn(usize)>)
}

/// What a tile does with C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Onto {
    /// Writes its sums, from zero (C is not read).
    Write,
    /// Starts its sums from C's values (`C += A @ B` as one chain of multiply-adds per value).
    Keep,
    /// Sums from zero, then adds them onto rows `from..MR` of C in one vector add each:
    /// the bits of C plus the product computed apart. Rows before `from` are left alone
    /// (the rows an overlapping tile already did).
    Add {
        /// The first row to add onto.
        from: usize,
    },
}

impl From<bool> for Onto {
    /// `keep`: [`Onto::Keep`], else [`Onto::Write`].
    fn from(keep: bool) -> Onto {
        if keep {
            Onto::Keep
        } else {
            Onto::Write
        }
    }
}

/// [`tile`], calling `ahead(p)` at each step `p` before its multiply-adds: a closure that
/// issues prefetches (which never fault, so their addresses may lie past any buffer, and
/// change no result).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) unsafe fn tile_ahead<V: F32s, const NV: usize, const MR: usize>(
    arow: impl Fn(usize) -> *const f32,
    acs: usize,
    brow: impl Fn(usize) -> *const f32,
    kb: usize,
    c: &mut [f32],
    ldc: usize,
    onto: impl Into<Onto>,
    ahead: Option<impl Fn(usize)>,
) {
    let onto = onto.into();
    let mut acc = [[V::zero(); NV]; MR];
    if onto == Onto::Keep {
        for (i, row) in acc.iter_mut().enumerate() {
            for (v, x) in row.iter_mut().enumerate() {
                *x = V::load(c.as_ptr().add(i * ldc + V::N * v));
            }
        }
    }
    let ap: [*const f32; MR] = std::array::from_fn(arow);
    for p in 0..kb {
        if let Some(ahead) = &ahead {
            ahead(p);
        }
        let brow = brow(p);
        // The same multiply-adds (so the same bits) in either order; the order decides what
        // stays live in registers beside the MR * NV sums: MR broadcasts and one row vector,
        // or NV row vectors and one broadcast. Broadcasts first unless they would not fit
        // in the registers. Measured on one core of a Xeon with the operands in L1: a 12 x
        // 32 tile of 16 lanes, broadcasts first (24 + 12 + 1 of AVX-512's 32 registers),
        // 103-109 GFLOP/s against 186-216 row vectors first; a 3 x 32 tile of 8 lanes, row
        // vectors first (12 + 4 + 1 of AVX2's 16), 68 against 116 broadcasts first. Where
        // both fit, neither was clearly faster in the workloads (AVX2's 4 x 16 tiles in
        // `small`: `gpt_generate_100` 30.4 ms broadcasts first against 31.0 row vectors
        // first, medians of 5 rounds).
        if MR * NV + MR < V::REGISTERS {
            // (Loops, not closures given to `array::from_fn`: a closure may be compiled
            // outside this function's AVX2 or AVX-512 build, each intrinsic then a call, as
            // Winograd's transforms were in the twenty-fourth session.)
            let mut bc = [V::zero(); MR];
            for (i, b) in bc.iter_mut().enumerate() {
                *b = V::splat(*ap[i].add(p * acs)); // A[i, p]
            }
            for v in 0..NV {
                let bv = V::load(brow.add(V::N * v));
                for (row, &x) in acc.iter_mut().zip(&bc) {
                    row[v] = x.fmadd(bv, row[v]);
                }
            }
        } else {
            let mut bv = [V::zero(); NV];
            for (v, b) in bv.iter_mut().enumerate() {
                *b = V::load(brow.add(V::N * v));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = V::splat(*ap[i].add(p * acs)); // A[i, p]
                for (r, &b) in row.iter_mut().zip(&bv) {
                    *r = x.fmadd(b, *r);
                }
            }
        }
    }
    let from = if let Onto::Add { from } = onto { from } else { 0 };
    for (i, row) in acc.iter().enumerate().skip(from) {
        for (v, &x) in row.iter().enumerate() {
            let at = c.as_mut_ptr().add(i * ldc + V::N * v);
            let x = if let Onto::Add { .. } = onto { V::load(at).add(x) } else { x };
            x.store(at);
        }
    }
}

/// Test helper for the kernels built on [`tile`]: each `got[i]` within f32 rounding of the
/// f64 product `want[i]` plus `start(i)` (what C held before, 0 without `accumulate`). The
/// operands are of magnitude <= 4, so each element is a sum of `k` terms within
/// `k * 4 * 2^-23` (+ 1e-6) of exact. `what` names the case in the failure message.
#[cfg(test)]
pub(super) fn assert_f32_sums(got: &[f32], want: &[f64], start: impl Fn(usize) -> f64, k: usize, what: &str) {
    let tol = 1e-6 * (k as f64) * 4.0 + 1e-6;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let w = w + start(i);
        assert!((g as f64 - w).abs() <= tol, "{what} [{i}]: {g} vs {w}");
    }
}

/// Test helper for the kernels' agreement tests: the bits of `got` are kept in `first` for
/// the first width run and compared with it for every later one (`what` names the case).
#[cfg(test)]
pub(super) fn assert_same_bits(first: &mut Option<Vec<u32>>, got: &[f32], what: &str) {
    let bits: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
    match first {
        None => *first = Some(bits),
        Some(first) => assert!(*first == bits, "{what}: the bits differ from the first width's"),
    }
}

/// Test helper: `len` operand values in [-2, 2], `modulo` distinct ones in a walk of `step`
/// (the kernels' tests use (37, 101) for A and (53, 97) for B).
#[cfg(test)]
pub(super) fn test_values(len: usize, step: usize, modulo: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * step % modulo) as f32 - (modulo / 2) as f32) / (modulo / 4) as f32).collect()
}

/// Row `i` of a strided matrix (its element `(i, p)` is `p * a.cs` further): [`tile`]'s `arow`.
#[inline(always)]
pub(super) fn a_rows(a: Strided<'_, f32>) -> impl Fn(usize) -> *const f32 + '_ {
    move |i| a.s.as_ptr().wrapping_add(a.off + i * a.rs)
}

/// Row `p` of a matrix whose rows start `ld` values apart from `b`'s first: [`tile`]'s `brow`.
#[inline(always)]
pub(super) fn rows_of(b: &[f32], ld: usize) -> impl Fn(usize) -> *const f32 + '_ {
    move |p| b.as_ptr().wrapping_add(p * ld)
}

/// B (k x n, any strides) into `out` as k rows of `ld` (>= n), zero-padded. Rows of B that
/// are contiguous are copied whole; a transposed B (contiguous columns: `x @ W^T` reads the
/// rows of W) is transposed in 8 x 8 blocks in registers ([`transpose8`]), the edges
/// element by element; any other layout element by element.
///
/// # Safety
/// The CPU has AVX2 (for [`transpose8`]).
pub(super) unsafe fn pack(b: &Strided<f32>, k: usize, n: usize, ld: usize, out: &mut [f32]) {
    let out = &mut out[..k * ld];
    if b.cs == 1 {
        for (p, row) in out.chunks_exact_mut(ld).enumerate() {
            row[..n].copy_from_slice(&b.s[b.off + p * b.rs..][..n]);
        }
    } else if b.rs == 1 {
        let (k8, n8) = (k / 8 * 8, n / 8 * 8);
        for j in (0..n8).step_by(8) {
            for p in (0..k8).step_by(8) {
                // The 8 x 8 block of B at (p, j): 8 runs of 8 contiguous values (columns
                // j..j+8 of B, from row p), each `b.cs` apart; the last value read is
                // B[p+7, j+7], inside B (p + 7 < k, j + 7 < n), which `p.fits()` bounds.
                let src = &b.s[b.off + j * b.cs + p..][..7 * b.cs + 8];
                let dst = &mut out[p * ld + j..][..7 * ld + 8];
                // SAFETY: the CPU has AVX2 (the caller's promise); `src` holds 8 runs of 8 values
                // `b.cs` apart and `dst` 8 runs of 8 `ld` apart (both slices checked above).
                unsafe { transpose8(src.as_ptr(), b.cs, dst.as_mut_ptr(), ld) };
            }
            for p in k8..k {
                (j..j + 8).for_each(|jj| out[p * ld + jj] = b.at(p, jj));
            }
        }
        for j in n8..n {
            let col = &b.s[b.off + j * b.cs..][..k];
            out[j..].iter_mut().step_by(ld).zip(col).for_each(|(o, &v)| *o = v);
        }
    } else {
        for (p, row) in out.chunks_exact_mut(ld).enumerate() {
            row[..n].iter_mut().enumerate().for_each(|(j, v)| *v = b.at(p, j));
        }
    }
    for row in out.chunks_exact_mut(ld) {
        row[n..].iter_mut().for_each(|v| *v = 0.0);
    }
}

/// `dst[i * ld + r] = src[r * rs + i]` for `r, i < 8`: an 8 x 8 block transposed in registers
/// (unpack pairs of rows, shuffle pairs of pairs, swap 128-bit halves).
///
/// # Safety
/// The CPU has AVX2; `src + r * rs` and `dst + i * ld` are valid for 8 values each.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn transpose8(src: *const f32, rs: usize, dst: *mut f32, ld: usize) {
    // (Loops over arrays, not closures given to `array::from_fn`, which may be compiled
    // outside this AVX2 build: see `tile`.)
    let mut r = [_mm256_setzero_ps(); 8];
    for (i, r) in r.iter_mut().enumerate() {
        *r = _mm256_loadu_ps(src.add(i * rs));
    }
    // t: rows (0,1), (2,3), ... interleaved: t[2q] = r[2q][0] r[2q+1][0] r[2q][1] r[2q+1][1] | (4, 5)
    let mut t = [_mm256_setzero_ps(); 8];
    for q in 0..4 {
        let (a, b) = (r[2 * q], r[2 * q + 1]);
        t[2 * q] = _mm256_unpacklo_ps(a, b);
        t[2 * q + 1] = _mm256_unpackhi_ps(a, b);
    }
    // s[4h + c]: column c (of 4 per 128-bit half) of rows 4h..4h+4, in both halves.
    let mut s = [_mm256_setzero_ps(); 8];
    for h in 0..2 {
        for pair in 0..2 {
            let (a, b) = (t[4 * h + pair], t[4 * h + 2 + pair]);
            s[4 * h + 2 * pair] = _mm256_shuffle_ps::<0x44>(a, b);
            s[4 * h + 2 * pair + 1] = _mm256_shuffle_ps::<0xEE>(a, b);
        }
    }
    for c in 0..4 {
        _mm256_storeu_ps(dst.add(c * ld), _mm256_permute2f128_ps::<0x20>(s[c], s[4 + c]));
        _mm256_storeu_ps(dst.add((c + 4) * ld), _mm256_permute2f128_ps::<0x31>(s[c], s[4 + c]));
    }
}
