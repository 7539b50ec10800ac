//! The register tile shared by the hand-written f32 GEMM kernels ([`super::narrow`] and
//! [`super::small`]), written once over [`Lanes`], a SIMD vector of f32 (`__m256`: 8 lanes
//! with AVX2 and FMA; `__m512`: 16 lanes with AVX-512F).
//!
//! A tile is `MR` rows by `NV` vectors of C, kept in `MR * NV` registers while `p` walks k:
//! each step loads `NV` vectors of row `p` of B (contiguous), broadcasts `A[r, p]` for each of
//! the `MR` rows straight from A in its own layout (any strides), and adds their products,
//! `MR * NV` fused multiply-adds. Element (i, j) of the tile is therefore
//! `fma(A[i, kb-1], B[kb-1, j], ... fma(A[i, 0], B[0, j], c0))`: the same operations in the
//! same order at either vector width, so the AVX2 and AVX-512 builds agree bit for bit.

use super::Strided;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// A SIMD vector of f32 lanes: the operations [`tile`] needs. Every method is `unsafe`: the
/// CPU must have the vector's instruction set, and pointers must be valid for the lanes read
/// or written.
pub(super) trait Lanes: Copy {
    /// f32 lanes per vector.
    const N: usize;
    /// All lanes 0.
    unsafe fn zero() -> Self;
    /// `*p` in every lane.
    unsafe fn splat(p: *const f32) -> Self;
    /// `N` values from `p` (any alignment).
    unsafe fn load(p: *const f32) -> Self;
    /// The lanes to `p` (any alignment).
    unsafe fn store(self, p: *mut f32);
    /// `a * b + self`, rounded once.
    unsafe fn fma(self, a: Self, b: Self) -> Self;
}

#[cfg(target_arch = "x86_64")]
impl Lanes for __m256 {
    const N: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        _mm256_setzero_ps()
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        _mm256_broadcast_ss(&*p)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        _mm256_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self)
    }
    #[inline(always)]
    unsafe fn fma(self, a: Self, b: Self) -> Self {
        _mm256_fmadd_ps(a, b, self)
    }
}

#[cfg(target_arch = "x86_64")]
impl Lanes for __m512 {
    const N: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        _mm512_setzero_ps()
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        _mm512_set1_ps(*p)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        _mm512_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self)
    }
    #[inline(always)]
    unsafe fn fma(self, a: Self, b: Self) -> Self {
        _mm512_fmadd_ps(a, b, self)
    }
}

/// One tile: `C[0..MR, 0..NV*V::N] (+)= A[0..MR, 0..kb] @ B[0..kb, 0..NV*V::N]`, where row `p`
/// of B starts at `b[p * ldb]` and row `i` of C at `c[i * ldc]`; with `keep` the tile starts
/// from C's values, else from zeros.
///
/// # Safety
/// The CPU has `V`'s instruction set; `A[i, p]` is in bounds for `i < MR`, `p < kb`; the
/// `NV * V::N` values from each `b[p * ldb]` (`p < kb`) and `c[i * ldc]` (`i < MR`) are in
/// bounds of `b` and `c`.
#[inline(always)]
pub(super) unsafe fn tile<V: Lanes, const NV: usize, const MR: usize>(
    a: Strided<f32>,
    b: &[f32],
    ldb: usize,
    kb: usize,
    c: &mut [f32],
    ldc: usize,
    keep: bool,
) {
    let mut acc = [[V::zero(); NV]; MR];
    if keep {
        for (i, row) in acc.iter_mut().enumerate() {
            for (v, x) in row.iter_mut().enumerate() {
                *x = V::load(c.as_ptr().add(i * ldc + V::N * v));
            }
        }
    }
    let ap = a.s.as_ptr().add(a.off);
    for p in 0..kb {
        let brow = b.as_ptr().add(p * ldb);
        let mut bc = [V::zero(); MR];
        for (i, x) in bc.iter_mut().enumerate() {
            *x = V::splat(ap.add(i * a.rs + p * a.cs)); // A[i, p]
        }
        for v in 0..NV {
            let bv = V::load(brow.add(V::N * v));
            for (row, &x) in acc.iter_mut().zip(&bc) {
                row[v] = row[v].fma(x, bv);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (v, &x) in row.iter().enumerate() {
            x.store(c.as_mut_ptr().add(i * ldc + V::N * v));
        }
    }
}
