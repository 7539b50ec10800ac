//! AVX2 and AVX-512 kernels for the row maxima and sums of f32 rows of 2 to 16 values, one
//! vector's lanes of rows at a time (8 rows with AVX2, 16 with AVX-512).
//!
//! The portable kernels in the parent module walk the data row by row, so for short rows
//! (the 10 logits of a digit classifier) the row maximum and the row sum are scalar code that
//! costs more than the exponentials. Here `V::N` rows (the lanes of the vector type `V`) are
//! one *group*: four columns at a time, the rows are loaded and transposed in registers so
//! that vector `j` holds column `j` of the group's rows (lane `i` = row `i`). The maxima,
//! `exp(x - max)`, the sums and their logs then take `C` full-width steps per group, with no
//! per-row work. What goes back in the row layout (log_softmax, softmax) is made in columns
//! and stored through the transposes reversed ([`store_columns`], AVX-512), or written row
//! by row from the group's maxima and sums (AVX2, whose registers cannot hold the columns).
//!
//! Rows of 17 to 32 values (attention over a context of 17 to 32 tokens) have their own
//! kernel, [`softmax_rows`]: one row at a time in vectors of 8, bit for bit the portable
//! kernels' results too.
//!
//! The kernels are written once over [`Vf`] (`__m256` and `__m512`); each returns how many
//! rows it did (whole groups: AVX-512 groups first where the capability allows, then AVX2
//! groups); the caller finishes the remaining rows with the portable kernel. Results are
//! bit-identical to the portable kernels' AVX2+FMA build at either width: the same operations
//! in the same order (the exp polynomial with fused multiply-adds, the log without, row sums
//! from the first column to the last). The kernels that start from saved statistics (softmax
//! from `max` and `lse`, the cross-entropy gradient) have no row reductions and stay
//! portable: they were no faster in lanes.

use crate::dtype::{as_f32, as_f32_mut};
use crate::simd::vector::F32s;
use crate::simd::{supported, Capability};
use crate::Float;
use std::arch::x86_64::*;

/// Runs `$body` with the row length `$C` as a constant for `c` in `2..=16`; other lengths do
/// no rows (0).
macro_rules! with_c {
    ($c:expr, |$C:ident| $body:expr) => {
        with_c!(@ $c, $C, $body, 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    };
    (@ $c:expr, $C:ident, $body:expr, $($n:literal)*) => {
        match $c {
            $($n => {
                const $C: usize = $n;
                $body
            })*
            _ => 0,
        }
    };
}

/// Defines `$avx512::<C>` and `$avx2::<C>`: `$kernel::<V, C>` compiled for AVX-512 (F, BW,
/// VL, DQ, with AVX2 and FMA) and for AVX2 with FMA. (Functions with the features, not
/// closures run inside one: through a closure, LLVM left the AVX2 build's row loops scalar.)
/// Safety of calling them: the CPU has those features.
macro_rules! widths {
    ($kernel:ident => $avx512:ident, $avx2:ident ($($arg:ident: $ty:ty),*)) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
        unsafe fn $avx512<const C: usize>($($arg: $ty),*) -> usize {
            $kernel::<__m512, C>($($arg),*)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2<const C: usize>($($arg: $ty),*) -> usize {
            $kernel::<__m256, C>($($arg),*)
        }
    };
}

widths!(softmax_groups => softmax_w16, softmax_w8(x: &[f32], out: &mut [f32], log: bool));
widths!(stats_groups => stats_w16, stats_w8(x: &[f32], max: &mut [f32], lse: &mut [f32]));

/// Runs `$avx512::<C>($args)` on whole groups of 16 rows when `$cap` allows AVX-512, then
/// `$avx2::<C>($args)` on whole groups of 8 of the rows left when it allows AVX2 (rows of `$c`
/// values; the arguments re-slice past the `$done` rows). Evaluates to the rows done.
macro_rules! groups {
    ($cap:expr, $c:expr, |$done:ident| $avx512:ident / $avx2:ident($($arg:expr),*)) => {{
        let cap = supported($cap);
        let mut $done = 0usize;
        if cap >= Capability::Avx512 {
            // SAFETY: `supported` never exceeds what the CPU has: it has AVX-512 F, BW, VL and
            // DQ, AVX2 and FMA, the features of the `$avx512` build.
            $done += unsafe { with_c!($c, |C| $avx512::<C>($($arg),*)) };
        }
        if cap >= Capability::Avx2 {
            // SAFETY: as above, with AVX2 and FMA.
            $done += unsafe { with_c!($c, |C| $avx2::<C>($($arg),*)) };
        }
        $done
    }};
}

/// softmax (or log_softmax) of the whole groups of rows of `x` into `out`; returns the rows done.
pub(super) fn softmax<T: Float>(x: &[T], c: usize, out: &mut [T], log: bool) -> usize {
    softmax_at(crate::simd::capability(), x, c, out, log)
}

/// [`softmax`] at capability `cap` (lowered to what the CPU has).
fn softmax_at<T: Float>(cap: Capability, x: &[T], c: usize, out: &mut [T], log: bool) -> usize {
    let (Some(x), Some(out)) = (as_f32(x), as_f32_mut(out)) else { return 0 };
    groups!(cap, c, |done| softmax_w16 / softmax_w8(&x[done * c..], &mut out[done * c..], log))
}

/// Row maxima and `ln sum exp(x - max)` of the whole groups of rows of `x`; returns the rows done.
pub(super) fn stats<T: Float>(x: &[T], c: usize, max: &mut [T], lse: &mut [T]) -> usize {
    stats_at(crate::simd::capability(), x, c, max, lse)
}

/// [`stats`] at capability `cap` (lowered to what the CPU has).
fn stats_at<T: Float>(cap: Capability, x: &[T], c: usize, max: &mut [T], lse: &mut [T]) -> usize {
    let (Some(x), Some(max), Some(lse)) = (as_f32(x), as_f32_mut(max), as_f32_mut(lse)) else { return 0 };
    groups!(cap, c, |done| stats_w16 / stats_w8(&x[done * c..], &mut max[done..], &mut lse[done..]))
}

/// softmax (or log_softmax) of rows of 17 to 32 f32 values (`c`), one row at a time in
/// vectors of 8 (the rows of attention over a context of 17 to 32 tokens); returns the rows
/// done: all of them when `c` is in that range, the capability allows AVX2 and T is f32, else
/// none. The portable kernel spends its time there in short row loops and scalar chains.
/// Bit for bit what the portable kernels give, AVX2+FMA build: the row's maximum (the same
/// value whatever the order), `exp(x - max)` by [`exp`], the sum in [`super::row_sum`]'s
/// order for rows of more than 16 (eight lanes down the row, added pairwise, then the last
/// `c % 8` values first to last), and a product with its reciprocal (or, for log_softmax, `x - max`
/// less [`super::ln_f32`] of it).
pub(super) fn softmax_rows<T: Float>(x: &[T], c: usize, out: &mut [T], log: bool) -> usize {
    softmax_rows_at(crate::simd::capability(), x, c, out, log)
}

/// [`softmax_rows`] at capability `cap` (lowered to what the CPU has).
fn softmax_rows_at<T: Float>(cap: Capability, x: &[T], c: usize, out: &mut [T], log: bool) -> usize {
    let (Some(x), Some(out)) = (as_f32(x), as_f32_mut(out)) else { return 0 };
    if !(17..=32).contains(&c)
        || supported(cap) < Capability::Avx2
        || x.len() != out.len()
        || x.len() % c != 0
    {
        return 0;
    }
    // SAFETY: `supported` never exceeds what the CPU has: it has AVX2 and FMA; the rows are
    // whole (checked above).
    macro_rules! rows {
        ($($n:literal)*) => {
            match c {
                $($n => unsafe { softmax_rows_avx2::<$n>(x, out, log) },)*
                _ => unreachable!("c is in 17..=32"),
            }
        };
    }
    rows!(17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
    x.len() / c
}

/// [`softmax_rows`]' rows: `x` and `out` hold whole rows of `C` (17 to 32) values. (With
/// `C` a constant the row's vectors stay in registers: with `c` a variable they went
/// through the stack: a softmax over 32 rows of 32 took 1.68 us as a tensor op, against
/// 1.15 us now and 1.37 us in the portable kernel.)
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_rows_avx2<const C: usize>(x: &[f32], out: &mut [f32], log: bool) {
    assert!((17..=32).contains(&C) && x.len() == out.len() && x.len().is_multiple_of(C));
    let (c, full, tail) = (C, C / 8, C % 8);
    // Lanes `0..tail` of the masked loads and stores of a row's last, partial vector.
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail as i32), lanes);
    let neg_inf = __m256::splat(f32::NEG_INFINITY);
    for (xr, or) in x.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
        // SAFETY (the loads and stores): vector `v < full` is values 8v..8v+8 of the row, the
        // partial one values 8 * full + lane for the lanes `< tail` that `mask` lets through:
        // all inside the row (c = 8 * full + tail).
        let (xp, op) = (xr.as_ptr(), or.as_mut_ptr());
        // Vectors 0..full are whole; vector `full`, when `tail > 0`, is the partial one, -inf
        // in the lanes past the row (at most 4 vectors: c <= 32).
        let parts = full + usize::from(tail > 0);
        let mut v = [neg_inf; 4];
        for (j, vj) in v.iter_mut().enumerate().take(full) {
            *vj = _mm256_loadu_ps(xp.add(8 * j));
        }
        if tail > 0 {
            let partial = _mm256_maskload_ps(xp.add(8 * full), mask);
            v[full] = _mm256_blendv_ps(neg_inf, partial, _mm256_castsi256_ps(mask));
        }
        // The maximum of the values that are not NaN (`max_ps` returns its second operand
        // when either is NaN): a NaN still makes the row NaN, through its exp and the sum.
        let mut m = neg_inf;
        for &u in &v[..parts] {
            m = _mm256_max_ps(u, m);
        }
        let m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let m2 = _mm_max_ps(_mm_movehl_ps(m4, m4), m4);
        let mut mx = _mm_cvtss_f32(_mm_max_ss(_mm_movehdup_ps(m2), m2));
        if mx == f32::NEG_INFINITY {
            mx = 0.0; // an all -inf row: NaN, as in PyTorch (row_max's convention)
        }
        let mv = __m256::splat(mx);
        // exp(x - max), and the sum: lanes down the row, then pairwise across, then the tail.
        let mut e = [_mm256_setzero_ps(); 4];
        for j in 0..parts {
            e[j] = exp(_mm256_sub_ps(v[j], mv));
        }
        let mut acc = _mm256_setzero_ps();
        for &ej in &e[..full] {
            acc = _mm256_add_ps(acc, ej);
        }
        let h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc)); // a_i + a_(i+4)
        let h = _mm_add_ps(h, _mm_movehdup_ps(h)); // lanes 0, 2: (a0+a4)+(a1+a5), (a2+a6)+(a3+a7)
        let mut sum = _mm_cvtss_f32(_mm_add_ss(h, _mm_movehl_ps(h, h)));
        if tail > 0 {
            let mut el = [0.0f32; 8];
            _mm256_storeu_ps(el.as_mut_ptr(), e[full]);
            sum += el[..tail].iter().fold(0.0, |a, &b| a + b);
        }
        let (ls, rv) = (__m256::splat(if log { super::ln_f32(sum) } else { 0.0 }), __m256::splat(1.0 / sum));
        let result = |j: usize| {
            if log {
                _mm256_sub_ps(_mm256_sub_ps(v[j], mv), ls)
            } else {
                _mm256_mul_ps(e[j], rv)
            }
        };
        for j in 0..full {
            _mm256_storeu_ps(op.add(8 * j), result(j));
        }
        if tail > 0 {
            _mm256_maskstore_ps(op.add(8 * full), mask, result(full));
        }
    }
}

/// A SIMD vector of f32 lanes ([`F32s`]) with the further operations the kernels need, with
/// the semantics of the x86 instructions. Every method is `unsafe`: the CPU must have the
/// vector's instruction set, and pointers must be valid for the lanes read or written.
trait Vf: F32s {
    /// Whether softmax writes its output from the columns ([`store_columns`]): with
    /// AVX-512's 32 registers, log_softmax over rows of 10 took 174 us instead of 225 us
    /// (row by row); AVX2's 16 cannot hold the columns beside exp's constants, and spilling
    /// them made it 8-16% slower than writing row by row from each row's max and sum.
    const COLUMN_STORES: bool;
    /// `then` in the lanes where `a P b` holds (`P` a `_CMP_*` predicate), `self` elsewhere.
    unsafe fn select<const P: i32>(self, a: Self, b: Self, then: Self) -> Self;
    /// For `t = x * log2(e) + 1.5 * 2^23` (so that `t`'s low bits hold the integer `n`):
    /// `2^(n >> 1)` and `2^(n - (n >> 1))`, two factors so that denormal results come out.
    unsafe fn exp_scales(t: Self) -> (Self, Self);
    /// For `x > 0`: `x = 2^e * (1 + m)` with `1 + m` in `[sqrt(1/2), sqrt(2))`; returns `m`
    /// and `e` as f32 (`ln_f32`'s reduction; garbage for other `x`, which the caller masks).
    unsafe fn ln_parts(self) -> (Self, Self);
    /// Vector `k` (`k < 4`) of a block of four columns: its 128-bit quarter `i` holds
    /// `row(k + 4 * i)`, four values of that row.
    unsafe fn quarters(row: impl Fn(usize) -> __m128, k: usize) -> Self;
    /// The 128-bit quarters, lowest first (`N / 4` of them; the rest of the array is unused).
    unsafe fn to_quarters(self) -> [__m128; 4];
    /// `(a0 b0 a1 b1, a2 b2 a3 b3)` in each 128-bit quarter (`unpacklo/hi_ps`).
    unsafe fn unpack(a: Self, b: Self) -> (Self, Self);
    /// `(a0 a1 b0 b1, a2 a3 b2 b3)` in each 128-bit quarter (`shuffle_ps` 0x44 and 0xEE).
    unsafe fn halves(a: Self, b: Self) -> (Self, Self);
}

impl Vf for __m256 {
    const COLUMN_STORES: bool = false;
    #[inline(always)]
    unsafe fn select<const P: i32>(self, a: Self, b: Self, then: Self) -> Self {
        _mm256_blendv_ps(self, then, _mm256_cmp_ps::<P>(a, b))
    }
    #[inline(always)]
    unsafe fn exp_scales(t: Self) -> (Self, Self) {
        let n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B40_0000));
        let h1 = _mm256_srai_epi32::<1>(n);
        let h2 = _mm256_sub_epi32(n, h1);
        let pow2 =
            |h| _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(h, _mm256_set1_epi32(127))));
        (pow2(h1), pow2(h2))
    }
    #[inline(always)]
    unsafe fn ln_parts(self) -> (Self, Self) {
        let bits = _mm256_castps_si256(self);
        let e = _mm256_sub_epi32(
            _mm256_and_si256(_mm256_srai_epi32::<23>(bits), _mm256_set1_epi32(0xff)),
            _mm256_set1_epi32(126),
        );
        let mant = _mm256_or_si256(
            _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
            _mm256_set1_epi32(0x3f00_0000),
        );
        let m = _mm256_castsi256_ps(mant);
        let small = _mm256_cmp_ps::<_CMP_LT_OQ>(m, Self::splat(std::f32::consts::FRAC_1_SQRT_2));
        let e = _mm256_add_epi32(e, _mm256_castps_si256(small)); // e -= 1 where small (mask = -1)
        let m = _mm256_sub_ps(_mm256_blendv_ps(m, _mm256_add_ps(m, m), small), Self::splat(1.0));
        (m, _mm256_cvtepi32_ps(e))
    }
    #[inline(always)]
    unsafe fn quarters(row: impl Fn(usize) -> __m128, k: usize) -> Self {
        _mm256_insertf128_ps::<1>(_mm256_castps128_ps256(row(k)), row(k + 4))
    }
    #[inline(always)]
    unsafe fn to_quarters(self) -> [__m128; 4] {
        let lo = _mm256_castps256_ps128(self);
        [lo, _mm256_extractf128_ps::<1>(self), lo, lo]
    }
    #[inline(always)]
    unsafe fn unpack(a: Self, b: Self) -> (Self, Self) {
        (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b))
    }
    #[inline(always)]
    unsafe fn halves(a: Self, b: Self) -> (Self, Self) {
        (_mm256_shuffle_ps::<0x44>(a, b), _mm256_shuffle_ps::<0xEE>(a, b))
    }
}

impl Vf for __m512 {
    const COLUMN_STORES: bool = true;
    #[inline(always)]
    unsafe fn select<const P: i32>(self, a: Self, b: Self, then: Self) -> Self {
        _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<P>(a, b), self, then)
    }
    #[inline(always)]
    unsafe fn exp_scales(t: Self) -> (Self, Self) {
        let n = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B40_0000));
        let h1 = _mm512_srai_epi32::<1>(n);
        let h2 = _mm512_sub_epi32(n, h1);
        let pow2 =
            |h| _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(h, _mm512_set1_epi32(127))));
        (pow2(h1), pow2(h2))
    }
    #[inline(always)]
    unsafe fn ln_parts(self) -> (Self, Self) {
        let bits = _mm512_castps_si512(self);
        let e = _mm512_sub_epi32(
            _mm512_and_si512(_mm512_srai_epi32::<23>(bits), _mm512_set1_epi32(0xff)),
            _mm512_set1_epi32(126),
        );
        let mant = _mm512_or_si512(
            _mm512_and_si512(bits, _mm512_set1_epi32(0x007f_ffff)),
            _mm512_set1_epi32(0x3f00_0000),
        );
        let m = _mm512_castsi512_ps(mant);
        let small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(m, Self::splat(std::f32::consts::FRAC_1_SQRT_2));
        let e = _mm512_mask_sub_epi32(e, small, e, _mm512_set1_epi32(1));
        let m = _mm512_sub_ps(_mm512_mask_blend_ps(small, m, _mm512_add_ps(m, m)), Self::splat(1.0));
        (m, _mm512_cvtepi32_ps(e))
    }
    #[inline(always)]
    unsafe fn quarters(row: impl Fn(usize) -> __m128, k: usize) -> Self {
        let v = _mm512_insertf32x4::<1>(_mm512_castps128_ps512(row(k)), row(k + 4));
        _mm512_insertf32x4::<3>(_mm512_insertf32x4::<2>(v, row(k + 8)), row(k + 12))
    }
    #[inline(always)]
    unsafe fn to_quarters(self) -> [__m128; 4] {
        [
            _mm512_castps512_ps128(self),
            _mm512_extractf32x4_ps::<1>(self),
            _mm512_extractf32x4_ps::<2>(self),
            _mm512_extractf32x4_ps::<3>(self),
        ]
    }
    #[inline(always)]
    unsafe fn unpack(a: Self, b: Self) -> (Self, Self) {
        (_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b))
    }
    #[inline(always)]
    unsafe fn halves(a: Self, b: Self) -> (Self, Self) {
        (_mm512_shuffle_ps::<0x44>(a, b), _mm512_shuffle_ps::<0xEE>(a, b))
    }
}

/// `super::exp_f32_nonpos::<true>` on every lane, operation for operation (denormal results
/// included: `2^n` as the two factors of [`Vf::exp_scales`]).
#[inline(always)]
unsafe fn exp<V: Vf>(x: V) -> V {
    let shift = V::splat(12_582_912.0); // 1.5 * 2^23
    let lo = V::splat(-104.0);
    let xc = V::zero().select::<_CMP_NLT_UQ>(x, lo, x); // x < -104 ? 0 : x (NaN stays NaN)
    let t = xc.fmadd(V::splat(std::f32::consts::LOG2_E), shift);
    let n = t.sub(shift);
    let r = n.fmadd(V::splat(2.121_944_4e-4), n.fmadd(V::splat(-0.693_359_4), xc));
    let mut p = V::splat(1.987_569_1e-4);
    for k in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
        p = p.fmadd(r, V::splat(k));
    }
    let (pow2_h1, pow2_h2) = V::exp_scales(t);
    let y = p.fmadd(r.mul(r), r.add(V::splat(1.0)));
    let y = y.mul(pow2_h1).mul(pow2_h2);
    V::zero().select::<_CMP_NLT_UQ>(x, lo, y) // x < -104 gives 0
}

/// `super::ln_f32` on every lane, operation for operation (no fused multiply-adds).
#[inline(always)]
unsafe fn ln<V: Vf>(x: V) -> V {
    let (m, ef) = x.ln_parts();
    let z = m.mul(m);
    let mut p = V::splat(7.037_683_6e-2);
    for k in [
        -1.151_461e-1,
        1.167_699_9e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_5e-1,
        -2.499_999_4e-1,
        3.333_333e-1,
    ] {
        p = p.mul(m).add(V::splat(k));
    }
    let mut y = p.mul(m).mul(z).add(ef.mul(V::splat(-2.121_944_4e-4)));
    y = y.sub(V::splat(0.5).mul(z));
    y = y.add(m).add(ef.mul(V::splat(0.693_359_4)));
    // 0 gives -inf; negative and NaN give NaN; +inf gives +inf.
    let zero = V::zero();
    y = y.select::<_CMP_EQ_OQ>(x, zero, V::splat(f32::NEG_INFINITY));
    y = y.select::<_CMP_NGE_UQ>(x, zero, V::splat(f32::NAN));
    let inf = V::splat(f32::INFINITY);
    y.select::<_CMP_EQ_OQ>(x, inf, inf)
}

/// The columns of the group at `x` (`V::N` rows of `C`): lane `i` of vector `j` is
/// `x[i*C + j]`. Four columns at a time: 128-bit loads of rows `i`, `i + 4`, ... side by side
/// ([`Vf::quarters`]), then a 4x4 transpose in each quarter. When `C` is not a multiple of 4,
/// the last block of a row reaches into the next row (values that land in column vectors past
/// `C`, unused); for the group's last row that would be past the group, so its last block is
/// a masked load that reads that row only.
#[inline(always)]
unsafe fn columns<V: Vf, const C: usize>(x: *const f32) -> [V; C] {
    let mut cols = [V::zero(); C];
    let last = V::N - 1;
    for q in (0..C).step_by(4) {
        let row = |i: usize| {
            if i == last && q + 4 > C {
                let lanes = |l: usize| if q + l < C { -1 } else { 0 }; // lanes of the row proper
                _mm_maskload_ps(x.add(i * C + q), _mm_setr_epi32(lanes(0), lanes(1), lanes(2), lanes(3)))
            } else {
                _mm_loadu_ps(x.add(i * C + q))
            }
        };
        let v = |k: usize| V::quarters(row, k);
        let (t0, t1) = V::unpack(v(0), v(1)); // a0 b0 a1 b1 | a2 b2 a3 b3
        let (t2, t3) = V::unpack(v(2), v(3)); // c0 d0 c1 d1 | c2 d2 c3 d3
        let ((c0, c1), (c2, c3)) = (V::halves(t0, t2), V::halves(t1, t3)); // a_j b_j c_j d_j
        for (col, v) in cols[q..].iter_mut().zip([c0, c1, c2, c3]) {
            *col = v;
        }
    }
    cols
}

/// Per row of the group whose columns are `cols` ([`columns`]): the maximum of the non-NaN
/// values (0 when there is none) and the sum of `exp(x - max)` over the row, from the first
/// column to the last.
#[inline(always)] // into the kernels, which enable the vector's instruction set
unsafe fn max_sum<V: Vf, const C: usize>(cols: &[V; C]) -> (V, V) {
    // The maximum in `super::row_max`'s order (four chains over whole blocks of 4 columns,
    // one over the rest), so that even ties of -0.0 and +0.0 resolve the same way.
    // `max(b, a)` is `b > a ? b : a`: a NaN never wins.
    let ninf = V::splat(f32::NEG_INFINITY);
    let (mut chains, mut rest) = ([ninf; 4], ninf);
    for (j, &col) in cols.iter().enumerate() {
        if j < C / 4 * 4 {
            chains[j % 4] = V::max(col, chains[j % 4]);
        } else {
            rest = V::max(col, rest);
        }
    }
    let [c0, c1, c2, c3] = chains;
    let m = V::max(rest, V::max(V::max(c3, c2), V::max(c1, c0)));
    let m = m.select::<_CMP_EQ_OQ>(m, ninf, V::zero()); // none: 0
    let mut s = V::zero();
    for &col in cols {
        s = s.add(exp(col.sub(m)));
    }
    (m, s)
}

/// Writes the columns `cols(0..C)` of a group (`V::N` rows of `C`) at `out`, in the row layout:
/// [`columns`] backwards (the 4x4 transposes, then a 128-bit store per row and block). The
/// last block of a row is written first and may spill into the next row's first block,
/// written after it; only the group's last row stores just its own values of that block.
///
/// # Safety
/// The CPU has `V`'s instruction set; `out` is valid for `V::N * C` writes.
#[inline(always)]
unsafe fn store_columns<V: Vf, const C: usize>(cols: impl Fn(usize) -> V, out: *mut f32) {
    let last = V::N - 1;
    for q in (0..C).step_by(4).rev() {
        let col = |j: usize| if q + j < C { cols(q + j) } else { V::zero() };
        let (t0, t1) = V::unpack(col(0), col(1));
        let (t2, t3) = V::unpack(col(2), col(3));
        let ((r0, r1), (r2, r3)) = (V::halves(t0, t2), V::halves(t1, t3));
        // Vector k's quarter i is row k + 4i.
        let rows = [r0.to_quarters(), r1.to_quarters(), r2.to_quarters(), r3.to_quarters()];
        for i in 0..V::N {
            let (p, v) = (out.add(i * C + q), rows[i % 4][i / 4]);
            if i == last && q + 4 > C {
                // Through a buffer: with a masked store (`vmaskmovps`) instead, log_softmax
                // over rows of 10 in columns at AVX2 took 282 us against 262 (Zen 4).
                let mut buf = [0f32; 4];
                _mm_storeu_ps(buf.as_mut_ptr(), v);
                std::ptr::copy_nonoverlapping(buf.as_ptr(), p, C - q);
            } else {
                _mm_storeu_ps(p, v);
            }
        }
    }
}

/// Whole groups of `super::softmax_rows`: `(x - max) - ln(sum)` or `exp(x - max) * (1 / sum)`,
/// with `sum` the sum of `exp(x - max)` over the row, from the first column to the last.
#[inline(always)] // into the builds of `widths!`
unsafe fn softmax_groups<V: Vf, const C: usize>(x: &[f32], out: &mut [f32], log: bool) -> usize {
    let n = V::N;
    let groups = x.len().min(out.len()) / (n * C);
    for g in 0..groups {
        // SAFETY: group `g` is in `x` and `out` (`groups` whole groups fit in both).
        let cols = columns::<V, C>(x.as_ptr().add(g * n * C));
        let (m, s) = max_sum(&cols);
        let out = &mut out[g * n * C..(g + 1) * n * C];
        if V::COLUMN_STORES {
            // The output columns are made as they are stored; softmax computes its
            // exponentials again, as the portable kernel does.
            if log {
                let lse = ln(s);
                store_columns::<V, C>(
                    #[inline(always)]
                    |j| cols[j].sub(m).sub(lse),
                    out.as_mut_ptr(),
                );
            } else {
                let r = V::splat(1.0).div(s);
                store_columns::<V, C>(
                    #[inline(always)]
                    |j| exp(cols[j].sub(m)).mul(r),
                    out.as_mut_ptr(),
                );
            }
            continue;
        }
        // Row by row from each row's max and sum: (x - max) - lse for log_softmax, x - max
        // for softmax...
        let (mut max, mut sub) = ([0f32; 16], [0f32; 16]);
        m.store(max.as_mut_ptr());
        (if log { ln(s) } else { V::zero() }).store(sub.as_mut_ptr());
        let xg = &x[g * n * C..];
        for (i, (xr, or)) in xg.chunks_exact(C).zip(out.chunks_exact_mut(C)).enumerate() {
            or.iter_mut().zip(xr).for_each(|(o, &v)| *o = (v - max[i]) - sub[i]);
        }
        if !log {
            // ...then exp(x - max) times 1 / sum, the exponentials over the whole group at once.
            for v in out.chunks_exact_mut(n) {
                exp(V::load(v.as_ptr())).store(v.as_mut_ptr());
            }
            V::splat(1.0).div(s).store(sub.as_mut_ptr());
            for (i, or) in out.chunks_exact_mut(C).enumerate() {
                or.iter_mut().for_each(|o| *o *= sub[i]);
            }
        }
    }
    groups * n
}

/// Whole groups of `super::RowStats::of`.
#[inline(always)] // into the builds of `widths!`
unsafe fn stats_groups<V: Vf, const C: usize>(x: &[f32], max: &mut [f32], lse: &mut [f32]) -> usize {
    let n = V::N;
    let groups = (x.len() / (n * C)).min(max.len() / n).min(lse.len() / n);
    for g in 0..groups {
        // SAFETY: group `g` is in `x` (`groups` whole groups fit).
        let cols = columns::<V, C>(x.as_ptr().add(g * n * C));
        let (m, s) = max_sum(&cols);
        m.store(max.as_mut_ptr().add(g * n));
        ln(s).store(lse.as_mut_ptr().add(g * n));
    }
    groups * n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::available_vector;

    /// `a` and `b` hold the same floats, bit for bit (any NaN matches any NaN).
    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    /// The capabilities of this CPU that run lane kernels (AVX2, AVX-512).
    fn lane_caps() -> Vec<Capability> {
        let caps = available_vector();
        if caps.is_empty() {
            eprintln!("no AVX2+FMA on this CPU: the lane kernels never run here");
        }
        caps
    }

    /// `rows` rows of `c` test values, with special rows: 1 a NaN, 2 all -inf, 3 a +inf,
    /// 9 so large that exp underflows, 11 -0.0 and +0.0 tying for the maximum.
    fn test_rows(rows: usize, c: usize) -> Vec<f32> {
        let mut x: Vec<f32> = (0..rows * c).map(|i| ((i * 7919) % 2000) as f32 / 40.0 - 25.0).collect();
        x[c] = f32::NAN;
        x[2 * c..3 * c].fill(f32::NEG_INFINITY);
        x[3 * c + 1] = f32::INFINITY;
        x[9 * c..10 * c].iter_mut().for_each(|v| *v *= 1e6);
        x[11 * c..12 * c].fill(-1.0);
        (x[11 * c + 1], x[11 * c + c / 2]) = (-0.0, 0.0);
        x
    }

    #[test]
    fn row_kernel_matches_the_portable_fma_build_bit_for_bit() {
        // Rows of 17 to 32 (every length, tails of 0 to 7 values), with the special rows of
        // the lane kernels' test and attention's causal rows (row r: values past r are -inf).
        for cap in lane_caps() {
            for c in 17..=32usize {
                let rows = 40;
                let mut x = test_rows(rows, c); // (its special rows, and:)
                x[4 * c + c - 1] = f32::NAN; // row 4: a NaN in the last value (the tail)
                for r in 12..rows {
                    x[r * c + (r - 12 + 1).min(c)..(r + 1) * c].fill(f32::NEG_INFINITY);
                }
                for log in [true, false] {
                    let (mut row, mut port) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
                    assert_eq!(softmax_rows_at(cap, &x, c, &mut row, log), rows, "{cap:?}, c = {c}");
                    // SAFETY: the CPU has AVX2 and FMA (it has `cap`).
                    unsafe { super::super::softmax_avx2(&x, c, &mut port, log) };
                    assert!(same_bits(&row, &port), "{cap:?}, c = {c}, log = {log}:\n{row:?}\n{port:?}");
                    // Defined special rows: NaN rows, an all -inf row gives NaN, +inf gives NaN.
                    assert!(row[c].is_nan() && row[2 * c].is_nan() && row[4 * c].is_nan());
                    // The causal row of one value: softmax 1 (log 0) there, 0 (-inf) elsewhere.
                    let one = &row[12 * c..13 * c];
                    assert_eq!(one[0], if log { 0.0 } else { 1.0 });
                    assert!(one[1..].iter().all(|&v| v == if log { f32::NEG_INFINITY } else { 0.0 }));
                }
            }
            // Other lengths are left to the other kernels.
            for c in [16, 33] {
                let x = vec![0.5f32; 2 * c];
                assert_eq!(softmax_rows_at(cap, &x, c, &mut vec![0.0; 2 * c], false), 0);
            }
        }
    }

    #[test]
    fn lane_kernels_match_the_portable_fma_build_bit_for_bit() {
        for cap in lane_caps() {
            for c in 2..=16usize {
                // 91 rows: 88 in whole groups (five of 16 and one of 8 at AVX-512, eleven of 8
                // at AVX2), then three rows the portable kernel finishes.
                let rows = 91;
                let mut x = test_rows(rows, c); // (its special rows, and:)
                x[4 * c] = f32::NEG_INFINITY; // row 4: one -inf
                x[85 * c + 1] = f32::NAN; // row 85 (in the AVX2 group after AVX-512's): a NaN
                let done = softmax_at(cap, &x, c, &mut vec![0.0; x.len()], true);
                assert_eq!(done, 88, "{cap:?}, c = {c}: whole groups only");
                let n = done * c;
                for log in [true, false] {
                    let (mut lane, mut port) = (vec![0.0f32; n], vec![0.0f32; n]);
                    softmax_at(cap, &x[..n], c, &mut lane, log);
                    // SAFETY: the CPU has AVX2 and FMA (it has `cap`).
                    unsafe { super::super::softmax_avx2(&x[..n], c, &mut port, log) };
                    assert!(same_bits(&lane, &port), "{cap:?}, c = {c}, log = {log}:\n{lane:?}\n{port:?}");
                }
                let (mut lm, mut ll, mut pm, mut pl) =
                    (vec![0.0f32; done], vec![0.0f32; done], vec![0.0; done], vec![0.0; done]);
                assert_eq!(stats_at(cap, &x[..n], c, &mut lm, &mut ll), done);
                // SAFETY: as above.
                unsafe { super::super::stats_avx2(&x[..n], c, &mut pm, &mut pl) };
                assert!(
                    same_bits(&lm, &pm) && same_bits(&ll, &pl),
                    "{cap:?}, c = {c}: {lm:?} {ll:?} vs {pm:?} {pl:?}"
                );
                // The special rows came out as defined: NaN row, all -inf row gives NaN softmax.
                assert!(ll[1].is_nan() && ll[2] == f32::NEG_INFINITY && lm[2] == 0.0 && ll[3].is_nan());
                assert!(ll[85].is_nan() && ll[84].is_finite());
                // The tie: the same zero as the portable kernel (same_bits above), which is a zero.
                assert_eq!(lm[11], 0.0);
            }
        }
    }

    #[test]
    fn every_whole_group_is_lane_work_and_other_inputs_are_not() {
        for cap in lane_caps() {
            // c = 10, 16 rows: the last 4-column block of the last row is a masked load (at
            // either width), so the data is whole groups with nothing after them, done in
            // lanes, matching the portable kernel.
            let x: Vec<f32> = (0..16 * 10).map(|i| (i % 13) as f32 * 0.7 - 4.0).collect();
            let (mut lane, mut port) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
            assert_eq!(softmax_at(cap, &x, 10, &mut lane, true), 16);
            // SAFETY: the CPU has AVX2 and FMA (it has `cap`).
            unsafe { super::super::softmax_avx2(&x, 10, &mut port, true) };
            assert!(same_bits(&lane, &port));
            // Row lengths outside 2..=16 and f64 data are not lane work.
            assert_eq!(softmax_at(cap, &vec![0.5f32; 17 * 40], 17, &mut vec![0.0; 17 * 40], true), 0);
            assert_eq!(softmax_at(cap, &vec![0.5f64; 400], 10, &mut vec![0.0; 400], true), 0);
        }
        // The portable capability runs no lane kernel.
        assert_eq!(softmax_at(Capability::Default, &[0.5f32; 80], 10, &mut [0.0; 80], true), 0);
    }
}
