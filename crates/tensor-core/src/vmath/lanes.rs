//! AVX2 kernels for the row maxima and sums of f32 rows of 2 to 16 values, eight rows at a time.
//!
//! The portable kernels in the parent module walk the data row by row, so for short rows
//! (the 10 logits of a digit classifier) the row maximum and the row sum are scalar code that
//! costs more than the exponentials. Here eight rows are one *group*: four columns at a time,
//! the rows are loaded and transposed in registers so that vector `j` holds column `j` of the
//! eight rows (lane `i` = row `i`). The maxima, `exp(x - max)`, the sums and their logs then
//! take `C` full-width steps per group, with no per-row work. What goes back in the row
//! layout (log_softmax, softmax) is written row by row from the eight maxima and sums.
//!
//! Each kernel returns how many rows it did (whole groups); the caller finishes the remaining
//! rows with the portable kernel. Results are bit-identical to the portable kernels' AVX2+FMA
//! build: the same operations in the same order (the exp polynomial with fused multiply-adds,
//! the log without, row sums from the first column to the last). The kernels that start
//! from saved statistics (softmax from `max` and `lse`, the cross-entropy gradient) have no
//! row reductions and stay portable: they were no faster in lanes.

use crate::dtype::{as_f32, as_f32_mut};
use crate::Float;

/// Rows per group: the f32 lanes of an AVX2 vector.
const GROUP: usize = 8;

/// Runs `$f::<C>($args)` with the row length `C` as a constant for `c` in `2..=16`; other
/// lengths do no rows (0).
macro_rules! with_c {
    ($c:expr, $f:ident($($arg:expr),*)) => {
        match $c {
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            9 => $f::<9>($($arg),*),
            10 => $f::<10>($($arg),*),
            11 => $f::<11>($($arg),*),
            12 => $f::<12>($($arg),*),
            13 => $f::<13>($($arg),*),
            14 => $f::<14>($($arg),*),
            15 => $f::<15>($($arg),*),
            16 => $f::<16>($($arg),*),
            _ => 0,
        }
    };
}

/// Whether the kernels run: the CPU has AVX2 and FMA and `TORCHLET_CPU_CAPABILITY` does not
/// lower the capability below AVX2 (see `crate::simd::enabled`).
fn avx2_fma() -> bool {
    crate::simd::enabled(crate::simd::Capability::Avx2)
}

/// softmax (or log_softmax) of the whole groups of rows of `x` into `out`; returns the rows done.
pub(super) fn softmax<T: Float>(x: &[T], c: usize, out: &mut [T], log: bool) -> usize {
    let (Some(x), Some(out)) = (as_f32(x), as_f32_mut(out)) else { return 0 };
    if !avx2_fma() {
        return 0;
    }
    // SAFETY: the CPU has AVX2 and FMA (checked above).
    unsafe { with_c!(c, softmax_groups(x, out, log)) }
}

/// Row maxima and `ln sum exp(x - max)` of the whole groups of rows of `x`; returns the rows done.
pub(super) fn stats<T: Float>(x: &[T], c: usize, max: &mut [T], lse: &mut [T]) -> usize {
    let (Some(x), Some(max), Some(lse)) = (as_f32(x), as_f32_mut(max), as_f32_mut(lse)) else { return 0 };
    if !avx2_fma() {
        return 0;
    }
    // SAFETY: the CPU has AVX2 and FMA (checked above).
    unsafe { with_c!(c, stats_groups(x, max, lse)) }
}

use std::arch::x86_64::*;

/// `[v; 8]`.
#[inline(always)]
unsafe fn splat(v: f32) -> __m256 {
    _mm256_set1_ps(v)
}

/// `super::exp_f32_nonpos::<true>` on eight lanes, operation for operation (denormal results
/// included: `2^n` as the two factors `2^(n >> 1)` and `2^(n - (n >> 1))`).
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp8(x: __m256) -> __m256 {
    let shift = splat(12_582_912.0); // 1.5 * 2^23
    let lo = splat(-104.0);
    let xc = _mm256_max_ps(lo, x); // x < -104 ? -104 : x (NaN stays NaN: max returns its second operand)
    let t = _mm256_fmadd_ps(xc, splat(std::f32::consts::LOG2_E), shift);
    let n = _mm256_sub_ps(t, shift);
    let ni = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B40_0000));
    let r = _mm256_fmadd_ps(n, splat(2.121_944_4e-4), _mm256_fmadd_ps(n, splat(-0.693_359_4), xc));
    let mut p = splat(1.987_569_1e-4);
    for k in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
        p = _mm256_fmadd_ps(p, r, splat(k));
    }
    let h1 = _mm256_srai_epi32::<1>(ni);
    let h2 = _mm256_sub_epi32(ni, h1);
    let bias = _mm256_set1_epi32(127);
    let pow2_h1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(h1, bias)));
    let pow2_h2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(h2, bias)));
    let y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, splat(1.0)));
    let y = _mm256_mul_ps(_mm256_mul_ps(y, pow2_h1), pow2_h2);
    _mm256_and_ps(_mm256_cmp_ps::<_CMP_NLT_UQ>(x, lo), y) // x < -104 gives 0
}

/// `super::ln_f32` on eight lanes, operation for operation (no fused multiply-adds).
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn ln8(x: __m256) -> __m256 {
    let bits = _mm256_castps_si256(x);
    let e = _mm256_sub_epi32(
        _mm256_and_si256(_mm256_srai_epi32::<23>(bits), _mm256_set1_epi32(0xff)),
        _mm256_set1_epi32(126),
    );
    let mant = _mm256_or_si256(
        _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
        _mm256_set1_epi32(0x3f00_0000),
    );
    let m = _mm256_castsi256_ps(mant);
    let small = _mm256_cmp_ps::<_CMP_LT_OQ>(m, splat(std::f32::consts::FRAC_1_SQRT_2));
    let e = _mm256_add_epi32(e, _mm256_castps_si256(small)); // e -= 1 where small (mask = -1)
    let m = _mm256_sub_ps(_mm256_blendv_ps(m, _mm256_add_ps(m, m), small), splat(1.0));
    let z = _mm256_mul_ps(m, m);
    let mut p = splat(7.037_683_6e-2);
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
        p = _mm256_add_ps(_mm256_mul_ps(p, m), splat(k));
    }
    let ef = _mm256_cvtepi32_ps(e);
    let mut y =
        _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, m), z), _mm256_mul_ps(ef, splat(-2.121_944_4e-4)));
    y = _mm256_sub_ps(y, _mm256_mul_ps(splat(0.5), z));
    y = _mm256_add_ps(_mm256_add_ps(y, m), _mm256_mul_ps(ef, splat(0.693_359_4)));
    // 0 gives -inf; negative and NaN give NaN; +inf gives +inf.
    y = _mm256_blendv_ps(y, splat(f32::NEG_INFINITY), _mm256_cmp_ps::<_CMP_EQ_OQ>(x, splat(0.0)));
    y = _mm256_blendv_ps(y, splat(f32::NAN), _mm256_cmp_ps::<_CMP_NGE_UQ>(x, splat(0.0)));
    _mm256_blendv_ps(y, splat(f32::INFINITY), _mm256_cmp_ps::<_CMP_EQ_OQ>(x, splat(f32::INFINITY)))
}

/// The columns of the group at `x` (8 rows of `C`): lane `i` of vector `j` is `x[i*C + j]`.
/// Four columns at a time: 128-bit loads of rows `i` and `i + 4` side by side, then a 4x4
/// transpose in each half. When `C` is not a multiple of 4, the last block of a row reaches
/// into the next row (values that land in column vectors past `C`, unused); for row 7 that
/// would be past the group, so its last block is a masked load that reads row 7 only.
#[inline(always)]
unsafe fn columns<const C: usize>(x: *const f32) -> [__m256; C] {
    let mut cols = [_mm256_setzero_ps(); C];
    for q in (0..C).step_by(4) {
        let row = |i: usize| _mm_loadu_ps(x.add(i * C + q));
        let last = if q + 4 <= C {
            row(7)
        } else {
            let lanes = |l: usize| if q + l < C { -1 } else { 0 }; // lanes of row 7 proper
            _mm_maskload_ps(x.add(7 * C + q), _mm_setr_epi32(lanes(0), lanes(1), lanes(2), lanes(3)))
        };
        let pair = |i: usize, hi: __m128| _mm256_insertf128_ps::<1>(_mm256_castps128_ps256(row(i)), hi);
        let (v0, v1, v2, v3) = (pair(0, row(4)), pair(1, row(5)), pair(2, row(6)), pair(3, last));
        let (t0, t1) = (_mm256_unpacklo_ps(v0, v1), _mm256_unpackhi_ps(v0, v1)); // a0 b0 a1 b1 | a2 b2 a3 b3
        let (t2, t3) = (_mm256_unpacklo_ps(v2, v3), _mm256_unpackhi_ps(v2, v3)); // c0 d0 c1 d1 | c2 d2 c3 d3
        let block = [
            _mm256_shuffle_ps::<0x44>(t0, t2), // a0 b0 c0 d0
            _mm256_shuffle_ps::<0xEE>(t0, t2), // a1 b1 c1 d1
            _mm256_shuffle_ps::<0x44>(t1, t3), // a2 b2 c2 d2
            _mm256_shuffle_ps::<0xEE>(t1, t3), // a3 b3 c3 d3
        ];
        for (col, v) in cols[q..].iter_mut().zip(block) {
            *col = v;
        }
    }
    cols
}

/// Per row of the group that starts `x` (8 rows of `C`): the maximum of the non-NaN values
/// (0 when there is none) and the sum of `exp(x - max)` over the row.
///
/// # Panics
///
/// If `x` is shorter than the group.
#[inline(always)] // into the kernels, which enable AVX2 and FMA
unsafe fn group_max_sum<const C: usize>(x: &[f32]) -> (__m256, __m256) {
    assert!(x.len() >= GROUP * C);
    // SAFETY: `columns` reads the group only (asserted to be in `x`).
    let cols = columns::<C>(x.as_ptr());
    // The maximum in `super::row_max`'s order (four chains over whole blocks of 4 columns,
    // one over the rest), so that even ties of -0.0 and +0.0 resolve the same way.
    // `max(b, a)` is `b > a ? b : a`: a NaN never wins.
    let (mut chains, mut rest) = ([splat(f32::NEG_INFINITY); 4], splat(f32::NEG_INFINITY));
    for (j, &col) in cols.iter().enumerate() {
        if j < C / 4 * 4 {
            chains[j % 4] = _mm256_max_ps(col, chains[j % 4]);
        } else {
            rest = _mm256_max_ps(col, rest);
        }
    }
    let [c0, c1, c2, c3] = chains;
    let mut m = _mm256_max_ps(rest, _mm256_max_ps(_mm256_max_ps(c3, c2), _mm256_max_ps(c1, c0)));
    m = _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(m, splat(f32::NEG_INFINITY)), m); // none: 0
    let mut s = _mm256_setzero_ps();
    for &col in &cols {
        s = _mm256_add_ps(s, exp8(_mm256_sub_ps(col, m)));
    }
    (m, s)
}

/// Whole groups of `super::softmax_rows`: `(x - max) - ln(sum)` or `exp(x - max) / sum`.
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_groups<const C: usize>(x: &[f32], out: &mut [f32], log: bool) -> usize {
    let groups = x.len().min(out.len()) / (GROUP * C);
    for (g, og) in out.chunks_exact_mut(GROUP * C).take(groups).enumerate() {
        let xg = &x[g * GROUP * C..];
        let (m, s) = group_max_sum::<C>(xg);
        let (mut max, mut sub) = ([0f32; GROUP], [0f32; GROUP]);
        _mm256_storeu_ps(max.as_mut_ptr(), m);
        _mm256_storeu_ps(sub.as_mut_ptr(), if log { ln8(s) } else { _mm256_setzero_ps() });
        // Row by row (C values each): (x - max) - lse for log_softmax, x - max for softmax...
        for (i, (xr, or)) in xg.chunks_exact(C).zip(og.chunks_exact_mut(C)).enumerate() {
            or.iter_mut().zip(xr).for_each(|(o, &v)| *o = (v - max[i]) - sub[i]);
        }
        if !log {
            // ...then exp(x - max) / sum, the exponentials over the whole group at once.
            for v in og.chunks_exact_mut(GROUP) {
                _mm256_storeu_ps(v.as_mut_ptr(), exp8(_mm256_loadu_ps(v.as_ptr())));
            }
            _mm256_storeu_ps(sub.as_mut_ptr(), s);
            for (i, or) in og.chunks_exact_mut(C).enumerate() {
                or.iter_mut().for_each(|o| *o /= sub[i]);
            }
        }
    }
    groups * GROUP
}

/// Whole groups of `super::RowStats::of`.
#[target_feature(enable = "avx2,fma")]
unsafe fn stats_groups<const C: usize>(x: &[f32], max: &mut [f32], lse: &mut [f32]) -> usize {
    let groups = (x.len() / (GROUP * C)).min(max.len() / GROUP).min(lse.len() / GROUP);
    for g in 0..groups {
        let (m, s) = group_max_sum::<C>(&x[g * GROUP * C..]);
        _mm256_storeu_ps(max.as_mut_ptr().add(g * GROUP), m);
        _mm256_storeu_ps(lse.as_mut_ptr().add(g * GROUP), ln8(s));
    }
    groups * GROUP
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a` and `b` hold the same floats, bit for bit (any NaN matches any NaN).
    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    #[test]
    fn lane_kernels_match_the_portable_fma_build_bit_for_bit() {
        if !avx2_fma() {
            eprintln!("no AVX2+FMA on this CPU: the lane kernels never run here");
            return;
        }
        for c in 2..=16usize {
            // 43 rows: five whole groups, then rows the portable kernel finishes.
            let rows = 5 * GROUP + 3;
            let mut x: Vec<f32> = (0..rows * c).map(|i| ((i * 7919) % 2000) as f32 / 40.0 - 25.0).collect();
            x[c] = f32::NAN; // row 1: a NaN
            x[2 * c..3 * c].fill(f32::NEG_INFINITY); // row 2: all -inf
            x[3 * c + 1] = f32::INFINITY; // row 3: +inf
            x[4 * c] = f32::NEG_INFINITY; // row 4: one -inf
            x[9 * c..10 * c].iter_mut().for_each(|v| *v *= 1e6); // row 9: exp underflows
            x[11 * c..12 * c].fill(-1.0); // row 11: -0.0 and +0.0 tie for the maximum
            (x[11 * c + 1], x[11 * c + c / 2]) = (-0.0, 0.0);
            let done = softmax(&x, c, &mut vec![0.0; x.len()], true);
            assert_eq!(done, 5 * GROUP, "c = {c}: whole groups only");
            assert!(done < rows);
            let n = done * c;
            for log in [true, false] {
                let (mut lane, mut port) = (vec![0.0f32; n], vec![0.0f32; n]);
                softmax(&x[..n], c, &mut lane, log);
                // SAFETY: the CPU has AVX2 and FMA (checked at the top).
                unsafe { super::super::softmax_avx2(&x[..n], c, &mut port, log) };
                assert!(same_bits(&lane, &port), "c = {c}, log = {log}:\n{lane:?}\n{port:?}");
            }
            let (mut lm, mut ll, mut pm, mut pl) =
                (vec![0.0f32; done], vec![0.0f32; done], vec![0.0; done], vec![0.0; done]);
            assert_eq!(stats(&x[..n], c, &mut lm, &mut ll), done);
            // SAFETY: as above.
            unsafe { super::super::stats_avx2(&x[..n], c, &mut pm, &mut pl) };
            assert!(same_bits(&lm, &pm) && same_bits(&ll, &pl), "c = {c}: {lm:?} {ll:?} vs {pm:?} {pl:?}");
            // The special rows came out as defined: NaN row, all -inf row gives NaN softmax.
            assert!(ll[1].is_nan() && ll[2] == f32::NEG_INFINITY && lm[2] == 0.0 && ll[3].is_nan());
            // The tie: the same zero as the portable kernel (same_bits above), which is a zero.
            assert_eq!(lm[11], 0.0);
        }
    }

    #[test]
    fn every_whole_group_is_lane_work_and_other_inputs_are_not() {
        if !avx2_fma() {
            return;
        }
        // c = 10: the last 4-column block of row 7 is a masked load, so exactly one group of
        // data (nothing after it) is done in lanes, and matches the portable kernel.
        let x: Vec<f32> = (0..GROUP * 10).map(|i| (i % 13) as f32 * 0.7 - 4.0).collect();
        let (mut lane, mut port) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
        assert_eq!(softmax(&x, 10, &mut lane, true), GROUP);
        // SAFETY: the CPU has AVX2 and FMA (checked at the top).
        unsafe { super::super::softmax_avx2(&x, 10, &mut port, true) };
        assert!(same_bits(&lane, &port));
        // Row lengths outside 2..=16 and f64 data are not lane work.
        assert_eq!(softmax(&vec![0.5f32; 17 * 40], 17, &mut vec![0.0; 17 * 40], true), 0);
        assert_eq!(softmax(&vec![0.5f64; 400], 10, &mut vec![0.0; 400], true), 0);
    }
}
