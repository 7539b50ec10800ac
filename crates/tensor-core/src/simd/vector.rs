//! One SIMD vector abstraction for the hand-written x86-64 kernels: the f32 operations they
//! all need, implemented once for `__m256` (8 lanes; AVX2 and FMA) and `__m512` (16 lanes;
//! AVX-512F). A kernel written over [`F32s`] compiles to either width inside a function that
//! enables the width's features; the traits of particular kernels (the softmax lanes of
//! `vmath`, the max-pooling taps) extend it with what only they need. The operations have
//! the x86 instructions' semantics, so both widths give the same bits lane by lane.
//!
//! Every method is `unsafe`: the CPU must have the vector's instruction set, and pointers
//! must be valid for the lanes read or written.

use std::arch::x86_64::*;

/// A SIMD vector of f32 lanes.
pub(crate) trait F32s: Copy {
    /// Lanes per vector.
    const N: usize;
    /// Vector registers of the instruction set (16 with AVX2, 32 with AVX-512).
    const REGISTERS: usize;
    /// All lanes 0.
    unsafe fn zero() -> Self;
    /// `v` in every lane.
    unsafe fn splat(v: f32) -> Self;
    /// `N` values from `p` (any alignment).
    unsafe fn load(p: *const f32) -> Self;
    /// The lanes to `p` (any alignment).
    unsafe fn store(self, p: *mut f32);
    /// `self + o`.
    unsafe fn add(self, o: Self) -> Self;
    /// `self - o`.
    unsafe fn sub(self, o: Self) -> Self;
    /// `self * o`.
    unsafe fn mul(self, o: Self) -> Self;
    /// `self / o`.
    unsafe fn div(self, o: Self) -> Self;
    /// `self * a + b`, rounded once.
    unsafe fn fmadd(self, a: Self, b: Self) -> Self;
    /// `a > b ? a : b` per lane (`maxps`: a NaN in either gives `b`).
    unsafe fn max(a: Self, b: Self) -> Self;
}

/// Implements [`F32s`] for `$t` (`$n` lanes) with the intrinsics named after it, one per
/// method in the trait's order (`_mm256_*` or `_mm512_*`).
macro_rules! f32s {
    ($t:ty, $n:expr, $regs:expr, $zero:ident, $set1:ident, $loadu:ident, $storeu:ident, $add:ident, $sub:ident, $mul:ident, $div:ident, $fmadd:ident, $max:ident) => {
        impl F32s for $t {
            const N: usize = $n;
            const REGISTERS: usize = $regs;
            #[inline(always)]
            unsafe fn zero() -> Self {
                $zero()
            }
            #[inline(always)]
            unsafe fn splat(v: f32) -> Self {
                $set1(v)
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> Self {
                $loadu(p)
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut f32) {
                $storeu(p, self)
            }
            #[inline(always)]
            unsafe fn add(self, o: Self) -> Self {
                $add(self, o)
            }
            #[inline(always)]
            unsafe fn sub(self, o: Self) -> Self {
                $sub(self, o)
            }
            #[inline(always)]
            unsafe fn mul(self, o: Self) -> Self {
                $mul(self, o)
            }
            #[inline(always)]
            unsafe fn div(self, o: Self) -> Self {
                $div(self, o)
            }
            #[inline(always)]
            unsafe fn fmadd(self, a: Self, b: Self) -> Self {
                $fmadd(self, a, b)
            }
            #[inline(always)]
            unsafe fn max(a: Self, b: Self) -> Self {
                $max(a, b)
            }
        }
    };
}

f32s!(
    __m256,
    8,
    16,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_add_ps,
    _mm256_sub_ps,
    _mm256_mul_ps,
    _mm256_div_ps,
    _mm256_fmadd_ps,
    _mm256_max_ps
);
f32s!(
    __m512,
    16,
    32,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_add_ps,
    _mm512_sub_ps,
    _mm512_mul_ps,
    _mm512_div_ps,
    _mm512_fmadd_ps,
    _mm512_max_ps
);

/// A kernel over a run of columns of a row-major block whose sums it keeps in `S` vectors
/// of `V` (in registers, down the block's rows): what [`for_strips`] runs.
pub(crate) trait Strip {
    /// Runs the kernel on the `S * V::N` columns from `j`.
    unsafe fn strip<V: F32s, const S: usize>(&mut self, j: usize);
}

/// Runs `k` over the first columns of rows of `w` values: strips of `S` vectors of `V`,
/// then single `V`s, then one `H` (a narrower vector) if it fits. Returns the first column
/// not covered (fewer than `H::N` are left; the caller sums them one by one).
#[inline(always)]
pub(crate) unsafe fn for_strips<V: F32s, H: F32s, const S: usize>(w: usize, k: &mut impl Strip) -> usize {
    let mut j = 0;
    while j + S * V::N <= w {
        k.strip::<V, S>(j);
        j += S * V::N;
    }
    while j + V::N <= w {
        k.strip::<V, 1>(j);
        j += V::N;
    }
    if H::N < V::N && j + H::N <= w {
        k.strip::<H, 1>(j);
        j += H::N;
    }
    j
}
