//! Vectorisable math for the hot kernels of the softmax family and cross-entropy.
//!
//! - [`exp_f32`]: a branch-free `e^x` for f32 (Cephes' polynomial, error ~1 ulp) written with
//!   plain arithmetic and bit operations, so loops over it vectorise. f64 keeps the standard
//!   library's `exp` (gradient checks and the f64 parity cases at rtol 1e-10 need it).
//! - Row kernels over `(rows, c)` data, processed in blocks that stay in L1: the row maxima,
//!   `x - max` for the whole block, one flat `exp` pass over it (every SIMD lane busy even for
//!   c = 10), then the row sums. Softmax over a leading dim walks the rows of its matrices
//!   whole instead ([`softmax_cols`]: column maxima, exponentials, column sums).
//! - Each kernel runs an AVX2 build of the same code where the CPU has it (checked at run
//!   time), and inputs of [`PARALLEL_MIN`] elements or more are split across rayon's threads.
//! - On x86-64 with AVX2 or AVX-512, softmax, log_softmax and the row statistics of f32 rows
//!   of 2 to 16 values go through `lanes` (8 or 16 rows per vector, columns transposed in
//!   registers), with the same results bit for bit.

use crate::dtype::as_f32_mut;
use crate::{Element, Float};
use rayon::prelude::*;
use std::mem::MaybeUninit;

#[cfg(target_arch = "x86_64")]
mod lanes;

/// Off x86-64 the portable kernels do every row.
#[cfg(not(target_arch = "x86_64"))]
mod lanes {
    use crate::Float;
    pub(super) fn softmax<T: Float>(_: &[T], _: usize, _: &mut [T], _: bool) -> usize {
        0
    }
    pub(super) fn stats<T: Float>(_: &[T], _: usize, _: &mut [T], _: &mut [T]) -> usize {
        0
    }
    pub(super) fn softmax_rows<T: Float>(_: &[T], _: usize, _: &mut [T], _: bool) -> usize {
        0
    }
}

/// Elements per block of the row kernels.
pub const BLOCK: usize = 4096;
/// Inputs with at least this many elements are split across threads (256 under Miri, so that
/// its interpreted runs of the tests take the parallel paths with small inputs).
pub const PARALLEL_MIN: usize = if cfg!(miri) { 1 << 8 } else { 1 << 16 };

/// `e^x` for f32 without branches: `x = n ln2 + r`, `e^x = 2^n e^r` with `e^r` from a degree-6
/// polynomial on `|r| <= ln2/2`, and `2^n` applied as two factors `2^(n/2) 2^(n - n/2)` so
/// results near f32's limits (huge, or denormal) come out right. Below -104 the result is 0,
/// above 88.73 it is +inf, NaN stays NaN. `round(x log2 e)` uses the 1.5 * 2^23 trick, which
/// vectorises even on baseline x86-64 (no `round` call).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23
    const LO: f32 = -104.0; // e^-104 < the smallest denormal / 2
    const HI: f32 = 88.73; // e^88.73 > f32::MAX
    let xc = x.clamp(LO, HI);
    let t = xc * LOG2E + SHIFT;
    let n = t - SHIFT; // round(x log2 e), as a float...
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000); // ...and as an integer
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let er = p * (r * r) + r + 1.0;
    let (h1, h2) = (ni >> 1, ni - (ni >> 1));
    let pow2 = |k: i32| f32::from_bits((k.wrapping_add(127) as u32) << 23);
    let y = er * pow2(h1) * pow2(h2);
    let y = if x < LO { 0.0 } else { y };
    if x > HI {
        f32::INFINITY
    } else {
        y
    }
}

/// `ln x` for f32 without branches (Cephes' logf polynomial, error ~1 ulp): `x = 2^e m` with
/// `m` in `[sqrt(1/2), sqrt(2))`, `ln x = e ln2 + ln m`. Zero gives -inf, negative and NaN
/// give NaN, +inf gives +inf. Denormal inputs are not special-cased (their log is within
/// f32 range but computed from the unnormalised mantissa); the kernels only take logs of
/// sums of exponentials, which are >= 1.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.to_bits() as i32;
    let mut e = ((bits >> 23) & 0xff) - 126; // exponent such that m is in [0.5, 1)
    let mut m = f32::from_bits(((bits & 0x007f_ffff) | 0x3f00_0000) as u32);
    // Move m into [sqrt(1/2), sqrt(2)): if m < sqrt(1/2) { e -= 1; m = 2m - 1 } else { m - 1 }.
    let small = m < SQRT_HALF;
    e -= small as i32;
    m = if small { m + m } else { m } - 1.0;
    let z = m * m;
    let mut p = 7.037_683_6e-2_f32;
    p = p * m - 1.151_461e-1;
    p = p * m + 1.167_699_9e-1;
    p = p * m - 1.242_014_1e-1;
    p = p * m + 1.424_932_3e-1;
    p = p * m - 1.666_805_8e-1;
    p = p * m + 2.000_071_5e-1;
    p = p * m - 2.499_999_4e-1;
    p = p * m + 3.333_333e-1;
    let ef = e as f32;
    let y = p * m * z + ef * -2.121_944_4e-4 - 0.5 * z + m + ef * 0.693_359_4;
    let y = if x == 0.0 { f32::NEG_INFINITY } else { y };
    let y = if x < 0.0 || x.is_nan() { f32::NAN } else { y };
    if x == f32::INFINITY {
        f32::INFINITY
    } else {
        y
    }
}

/// `v[i] = ln(v[i])` (vectorised for f32).
#[inline(always)]
fn ln_body<T: Float>(v: &mut [T]) {
    match as_f32_mut(v) {
        Some(f) => f.iter_mut().for_each(|x| *x = ln_f32(*x)),
        None => v.iter_mut().for_each(|x| *x = x.ln()),
    }
}

/// [`exp_f32`] for `x <= 0` (or NaN), the only inputs the row kernels produce (`x - max`):
/// [`crate::simd::real::exp_nonpos_lanes`] of one value (see there: results down to the
/// smallest denormal kept, as PyTorch's, 0 below -104 by a select).
#[inline(always)]
fn exp_f32_nonpos<const FMA: bool>(x: f32) -> f32 {
    crate::simd::real::exp_nonpos_lanes::<FMA, 1>([x])[0]
}

/// `v[i] = e^(v[i])` for `v[i] <= 0` (vectorised for f32). (Four runs of the slice in
/// lockstep through `exp_nonpos_lanes`, as the unary `exp` kernel takes them, measured no
/// faster here: softmax(1) of (1000, 1000) on one thread 552-683 against 564-878 us.)
#[inline(always)]
fn exp_body<T: Float, const FMA: bool>(v: &mut [T]) {
    match as_f32_mut(v) {
        Some(f) => f.iter_mut().for_each(|x| *x = exp_f32_nonpos::<FMA>(*x)),
        None => v.iter_mut().for_each(|x| *x = x.exp()),
    }
}

/// Row maximum of the non-NaN values, in four independent chains (short dependency chains for
/// the unrolled small-`c` kernels). A NaN in the row still reaches every output: its
/// `exp(x - max)` is NaN, so the row's sum and `lse` are NaN. An all -inf row gives 0, so
/// `x - max` stays -inf and the row's softmax is NaN, as in PyTorch.
#[inline(always)]
fn row_max<T: Float>(row: &[T]) -> T {
    // The maximum's definition: four lanes (value i in lane i % 4), then the lanes and the
    // last `len % 4` values in order; NaN never enters (`b > a` is false).
    let mx = |a: T, b: T| if b > a { b } else { a };
    let four = |row: &[T]| {
        let mut acc = [T::neg_infinity(); 4];
        let (chunks, tail) = row.as_chunks::<4>();
        for ch in chunks {
            (0..4).for_each(|i| acc[i] = mx(acc[i], ch[i]));
        }
        mx(mx(mx(acc[0], acc[1]), mx(acc[2], acc[3])), tail.iter().fold(T::neg_infinity(), |a, &b| mx(a, b)))
    };
    // Thirty-two lanes find the same value (the order only decides between +0 and -0): with
    // four, LLVM paired lanes up with shuffles, a third of a wide softmax's time, and with
    // sixteen (one AVX-512 vector) a row of 1,000 was a chain of 63 dependent maxima. A
    // maximum of zero is found again by the definition, for its sign.
    let mut acc = [T::neg_infinity(); 32];
    let (chunks, tail) = row.as_chunks::<32>();
    for ch in chunks {
        (0..32).for_each(|i| acc[i] = mx(acc[i], ch[i]));
    }
    let m = acc.iter().chain(tail).fold(T::neg_infinity(), |a, &b| mx(a, b));
    let m = if m == T::ZERO { four(row) } else { m };
    if m == T::neg_infinity() {
        T::ZERO
    } else {
        m
    }
}

/// Sum of a row. Rows of up to 16 values are summed first to last, the order of the lane
/// kernels ([`lanes`]), which must give the same bits. Longer rows: eight independent chains
/// (one AVX2 vector of lanes) added pairwise, then the tail, so a row of 32 is four dependent
/// additions deep instead of 32 (the kind of sum PyTorch's vectorised softmax takes too:
/// lanes, then across them; `lanes::softmax_rows` adds rows of 17 to 32 in this order). Rows
/// of [`WIDE_SUM`] values or more first run 32 chains (two AVX-512 or four AVX2 vectors) over
/// their blocks of 32, folded into the eight as `(a_i + a_(i+8)) + (a_(i+16) + a_(i+24))`:
/// with eight, a row of 1,000 was a chain of 125 dependent vector additions, as long as its
/// exponentials took.
#[inline(always)]
fn row_sum<T: Float>(row: &[T]) -> T {
    if row.len() <= 16 {
        return row.iter().fold(T::ZERO, |a, &b| a + b);
    }
    let mut acc = [T::ZERO; 8];
    let mut rest = row;
    if row.len() >= WIDE_SUM {
        let mut wide = [T::ZERO; 32];
        let (blocks, after) = row.as_chunks::<32>();
        for b in blocks {
            (0..32).for_each(|i| wide[i] += b[i]);
        }
        (0..8).for_each(|i| acc[i] = (wide[i] + wide[i + 8]) + (wide[i + 16] + wide[i + 24]));
        rest = after;
    }
    // Two vectors' worth of the row at a time, each added into the same eight chains in
    // order (the loop over single groups of eight made the AVX-512 build pair lanes up with
    // shuffles, over half the kernel's time).
    let (pairs, rest) = rest.as_chunks::<16>();
    let (last, tail) = rest.as_chunks::<8>();
    let tail = tail.iter().fold(T::ZERO, |a, &b| a + b);
    let add = |acc: &mut [T; 8], v: &[T]| (0..8).for_each(|i| acc[i] += v[i]);
    for p in pairs {
        add(&mut acc, &p[..8]);
        add(&mut acc, &p[8..]);
    }
    last.iter().for_each(|v| add(&mut acc, v));
    (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))) + tail
}

/// Rows of this many values or more are summed by [`row_sum`] in 32 chains.
const WIDE_SUM: usize = 64;

/// softmax (or log_softmax) of every row of `c` values of `x` into `out`: per block of
/// rows, each row's maximum and `x - max`, one `exp` pass over the block, then each row's sum
/// `s`; softmax is `exp(x - max)` times `1 / s` (as PyTorch's `_vec_softmax_lastdim`: a
/// division per value took as long as the exponentials), log_softmax `(x - max) - ln s`.
#[inline(always)]
fn softmax_body<T: Float, const FMA: bool>(x: &[T], c: usize, out: &mut [T], log: bool) {
    let rows = (BLOCK / c).max(1);
    // Scratch for one block, never more than the input (a row length alone must not size
    // it): log_softmax keeps `x - max` in `out` and takes the exponentials in `e`.
    let mut e = if log { vec![T::ZERO; (rows * c).min(x.len())] } else { Vec::new() };
    let mut sums = vec![T::ZERO; rows.min(x.len())];
    for (xb, ob) in x.chunks(rows * c).zip(out.chunks_mut(rows * c)) {
        for (xr, or) in xb.chunks_exact(c).zip(ob.chunks_exact_mut(c)) {
            let m = row_max(xr);
            or.iter_mut().zip(xr).for_each(|(o, &v)| *o = v - m);
        }
        let sb = &mut sums[..xb.len() / c];
        if log {
            let eb = &mut e[..xb.len()];
            eb.copy_from_slice(ob);
            exp_body::<T, FMA>(eb);
            for (s, er) in sb.iter_mut().zip(eb.chunks_exact(c)) {
                *s = row_sum(er);
            }
            ln_body(sb);
            for (or, &ls) in ob.chunks_exact_mut(c).zip(sb.iter()) {
                or.iter_mut().for_each(|o| *o -= ls);
            }
        } else {
            let whole = sb.len() * c; // (rows of `c`: `x` holds nothing else)
            exp_body::<T, FMA>(&mut ob[..whole]);
            for (s, or) in sb.iter_mut().zip(ob.chunks_exact(c)) {
                *s = T::ONE / row_sum(or);
            }
            for (or, &r) in ob.chunks_exact_mut(c).zip(sb.iter()) {
                or.iter_mut().for_each(|o| *o *= r);
            }
        }
    }
}

/// `out = exp(x - max)` for rows of `c` values, `max` one value per column: the shifted
/// exponentials of [`softmax_cols`], in blocks of rows that stay in L1 (the subtraction, then
/// one flat `exp` pass over the block).
#[inline(always)]
fn shifted_exp_body<T: Float, const FMA: bool>(x: &[T], c: usize, max: &[T], out: &mut [T]) {
    let rows = (BLOCK / c).max(1);
    for (xb, ob) in x.chunks(rows * c).zip(out.chunks_mut(rows * c)) {
        for (xr, or) in xb.chunks_exact(c).zip(ob.chunks_exact_mut(c)) {
            or.iter_mut().zip(xr).zip(max).for_each(|((o, &v), &m)| *o = v - m);
        }
        exp_body::<T, FMA>(ob);
    }
}

/// The last pass of [`softmax_cols`] over rows of `c` values, `max` and `s` one value per
/// column: softmax `out *= s` (`s` the reciprocals of the column sums), log_softmax
/// `out = (x - max) - s` (`s` their logarithms).
#[inline(always)]
fn cols_finish_body<T: Float, const FMA: bool>(
    x: &[T],
    c: usize,
    max: &[T],
    s: &[T],
    out: &mut [T],
    log: bool,
) {
    for (xr, or) in x.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
        if log {
            or.iter_mut().zip(xr).zip(max.iter().zip(s)).for_each(|((o, &v), (&m, &l))| *o = (v - m) - l);
        } else {
            or.iter_mut().zip(s).for_each(|(o, &r)| *o *= r);
        }
    }
}

/// Per row: `max[r]` and `lse[r] = ln sum(exp(x - max))`, so `log_softmax = (x - max) - lse`.
#[inline(always)]
fn stats_body<T: Float, const FMA: bool>(x: &[T], c: usize, max: &mut [T], lse: &mut [T]) {
    let rows = (BLOCK / c).max(1);
    let mut e = vec![T::ZERO; (rows * c).min(x.len())]; // (as in `softmax_body`)
    for ((xb, mb), lb) in x.chunks(rows * c).zip(max.chunks_mut(rows)).zip(lse.chunks_mut(rows)) {
        let eb = &mut e[..xb.len()];
        for ((xr, er), m) in xb.chunks_exact(c).zip(eb.chunks_exact_mut(c)).zip(mb.iter_mut()) {
            *m = row_max(xr);
            er.iter_mut().zip(xr).for_each(|(o, &v)| *o = v - *m);
        }
        exp_body::<T, FMA>(eb);
        for (er, l) in eb.chunks_exact(c).zip(lb.iter_mut()) {
            *l = row_sum(er);
        }
        ln_body(lb);
    }
}

/// `out = exp((x - max[r]) - lse[r])` row by row: softmax recomputed from saved statistics.
#[inline(always)]
fn softmax_from_stats_body<T: Float, const FMA: bool>(
    x: &[T],
    c: usize,
    max: &[T],
    lse: &[T],
    out: &mut [T],
) {
    for (((xr, or), &m), &l) in x.chunks_exact(c).zip(out.chunks_exact_mut(c)).zip(max).zip(lse) {
        or.iter_mut().zip(xr).for_each(|(o, &v)| *o = (v - m) - l);
    }
    exp_body::<T, FMA>(out);
}

/// Cross-entropy gradient for class-index targets, row by row from saved statistics:
/// `out[r, j] = s_r softmax(x_r)_j - s_r [j == t_r]` with `s_r = u_r w[t_r]` (`u` holds one
/// value per row, or a single value for all rows; `w` is empty for no class weights). Rows
/// whose target is `ignore` get zeros. Targets other than `ignore` must be in `0..c`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn ce_grad_body<T: Float, const FMA: bool>(
    x: &[T],
    c: usize,
    max: &[T],
    lse: &[T],
    t: &[i64],
    ignore: i64,
    u: &[T],
    w: &[T],
    out: &mut [MaybeUninit<T>],
) {
    // The `unsafe` below reads `out` as initialised: every element must be written, which
    // holds when `out` pairs up with `x` in whole rows of `c` and each row has its statistics.
    // (`ce_grad_index` checks the same before calling; checked here again, once per call, so
    // that the soundness of this function does not depend on its caller.)
    let nrows = x.len() / c.max(1);
    assert!(
        c > 0
            && x.len().is_multiple_of(c)
            && out.len() == x.len()
            && max.len() >= nrows
            && lse.len() >= nrows,
        "internal: ce_grad_body needs whole rows with their statistics"
    );
    let rows = (BLOCK / c).max(1);
    let blocks = x.chunks(rows * c).zip(out.chunks_mut(rows * c));
    for (b, (xb, ob)) in blocks.enumerate() {
        let r0 = b * rows;
        // Shifted logits of the whole block, then one flat exp pass: softmax in L1.
        for (((xr, or), &m), &l) in
            xb.chunks_exact(c).zip(ob.chunks_exact_mut(c)).zip(&max[r0..]).zip(&lse[r0..])
        {
            or.iter_mut().zip(xr).for_each(|(o, &v)| {
                o.write((v - m) - l);
            });
        }
        // SAFETY: `ob` has as many elements as `xb` (the same block of rows of `c`: `out` and
        // `x` have the same length, asserted at the top), and the loop above wrote every one
        // of them (each row has its `max` and `lse`, also asserted), so all are initialised;
        // `MaybeUninit<T>` has the layout of `T`, and the borrow of `ob` moves into the result.
        let ob = unsafe { std::slice::from_raw_parts_mut(ob.as_mut_ptr() as *mut T, ob.len()) };
        exp_body::<T, FMA>(ob);
        for (i, or) in ob.chunks_exact_mut(c).enumerate() {
            let r = r0 + i;
            if t[r] == ignore {
                or.iter_mut().for_each(|o| *o = T::ZERO); // ignored: no gradient
                continue;
            }
            let k = t[r] as usize;
            let s = if u.len() == 1 { u[0] } else { u[r] } * if w.is_empty() { T::ONE } else { w[k] };
            or.iter_mut().for_each(|o| *o *= s);
            or[k] -= s;
        }
    }
}

/// Calls `$body($args)` with the row length `c` as a compile-time constant for the common
/// small class counts (2..=16): the kernels are `#[inline(always)]`, so each call site gets
/// its own copy with the per-row loops fully unrolled.
macro_rules! small_c {
    ($body:expr, $c:ident, ($($arg:ident),*)) => {
        match $c {
            2 => { let $c = 2; $body($($arg),*) }
            3 => { let $c = 3; $body($($arg),*) }
            4 => { let $c = 4; $body($($arg),*) }
            5 => { let $c = 5; $body($($arg),*) }
            6 => { let $c = 6; $body($($arg),*) }
            7 => { let $c = 7; $body($($arg),*) }
            8 => { let $c = 8; $body($($arg),*) }
            9 => { let $c = 9; $body($($arg),*) }
            10 => { let $c = 10; $body($($arg),*) }
            11 => { let $c = 11; $body($($arg),*) }
            12 => { let $c = 12; $body($($arg),*) }
            16 => { let $c = 16; $body($($arg),*) }
            _ => $body($($arg),*),
        }
    };
}

/// Defines `$name`, which runs `$body` compiled for the capability in force
/// ([`crate::simd::capability`]: AVX-512, AVX2 with FMA, or the baseline build), specialised for
/// small row lengths `c`. `$avx` is the AVX2 build (the lane kernels' tests compare with it).
/// The AVX-512 build is the same code with wider vectors and the same operations in the
/// same order (the chains of `row_max` and `row_sum` are fixed), so the same bits; it takes
/// rows of more than 16 values (softmax of rows of 32 to 128: 12-17% faster than AVX2), while
/// shorter rows stay in the AVX2 build (the cross-entropy of rows of 10 was 30% slower in
/// the AVX-512 one: its vectors are wider than the rows).
macro_rules! dispatch {
    ($(#[$doc:meta])* fn $name:ident / $avx:ident <T>($($arg:ident: $ty:ty),*) [$c:ident] => $body:ident) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx<T: Float>($($arg: $ty),*) {
            small_c!($body::<T, true>, $c, ($($arg),*))
        }
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        fn $name<T: Float>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn wide<T: Float>($($arg: $ty),*) {
                    small_c!($body::<T, true>, $c, ($($arg),*))
                }
                // SAFETY (both calls): `enabled` never exceeds what `simd::detected` found on
                // this CPU, so it has the features the function's `#[target_feature]` names,
                // the only requirement of calling it; the body is the same safe code as the
                // baseline build.
                if $c > 16 && crate::simd::enabled(crate::simd::Capability::Avx512) {
                    return unsafe { wide($($arg),*) };
                }
                if crate::simd::enabled(crate::simd::Capability::Avx2) {
                    return unsafe { $avx($($arg),*) };
                }
            }
            small_c!($body::<T, false>, $c, ($($arg),*))
        }
    };
}

dispatch!(
    /// [`softmax_seq`] for any rows, one at a time.
    fn softmax_portable / softmax_avx2<T>(x: &[T], c: usize, out: &mut [T], log: bool) [c] => softmax_body
);
dispatch!(
    /// [`stats_seq`] for any rows, one at a time.
    fn stats_portable / stats_avx2<T>(x: &[T], c: usize, max: &mut [T], lse: &mut [T]) [c] => stats_body
);
dispatch!(
    /// One thread's share of [`ce_grad_index`].
    fn ce_grad_seq / ce_grad_avx2<T>(x: &[T], c: usize, max: &[T], lse: &[T], t: &[i64], ignore: i64, u: &[T], w: &[T], out: &mut [MaybeUninit<T>]) [c] => ce_grad_body
);
dispatch!(
    /// One thread's share of [`softmax_from_stats`].
    fn from_stats_seq / from_stats_avx2<T>(x: &[T], c: usize, max: &[T], lse: &[T], out: &mut [T]) [c] => softmax_from_stats_body
);

dispatch!(
    /// [`shifted_exp_body`] in the vector build.
    fn shifted_exp / shifted_exp_avx2<T>(x: &[T], c: usize, max: &[T], out: &mut [T]) [c] => shifted_exp_body
);
dispatch!(
    /// [`cols_finish_body`] in the vector build.
    fn cols_finish / cols_finish_avx2<T>(x: &[T], c: usize, max: &[T], s: &[T], out: &mut [T], log: bool) [c] => cols_finish_body
);

// One thread's share of the kernels that need row maxima and sums: whole groups of 16 or 8
// rows in the AVX-512 and AVX2 lane kernels (f32, 2 to 16 classes), the remaining rows in
// the portable ones. (The kernels that start from saved statistics are no faster in lanes.)

/// One thread's share of [`softmax_rows`].
fn softmax_seq<T: Float>(x: &[T], c: usize, out: &mut [T], log: bool) {
    let mut n = lanes::softmax(x, c, out, log) * c;
    n += lanes::softmax_rows(&x[n..], c, &mut out[n..], log) * c;
    softmax_portable(&x[n..], c, &mut out[n..], log);
}

/// One thread's share of [`RowStats::of`].
fn stats_seq<T: Float>(x: &[T], c: usize, max: &mut [T], lse: &mut [T]) {
    let r = lanes::stats(x, c, max, lse);
    stats_portable(&x[r * c..], c, &mut max[r..], &mut lse[r..]);
}

/// Rows per parallel task for `n` elements in rows of `c`: the whole input when it is small.
/// At least 1, so that chunks of `rows * c` are never empty.
fn rows_per_task(n: usize, c: usize) -> usize {
    let rows = n / c.max(1);
    if n < PARALLEL_MIN {
        rows.max(1)
    } else {
        // The rows are split among the threads, in a multiple of 16 rows per task: the lane
        // kernels do whole groups of 16 (AVX-512) or 8 (AVX2).
        crate::simd::threads::keep_awake();
        rows.div_ceil(4 * rayon::current_num_threads()).next_multiple_of(16).max(1)
    }
}

/// Rows of `c` values need `c > 0` unless there are none.
#[track_caller]
fn check_rows(op: &str, x: &[impl Sized], c: usize) {
    assert!(c > 0 || x.is_empty(), "{op}: rows of 0 values ({} values given)", x.len());
}

/// softmax (`log = false`) or log_softmax of each row of `c` values of `x` (`x.len()` a
/// multiple of `c`) into `out`, stable (max-subtracted). Empty input: nothing to do.
///
/// # Panics
/// If `c == 0` and `x` is not empty.
pub fn softmax_rows<T: Float>(x: &[T], c: usize, out: &mut [T], log: bool) {
    check_rows("softmax_rows", x, c);
    if x.is_empty() {
        return;
    }
    let k = rows_per_task(x.len(), c) * c;
    x.par_chunks(k).zip(out.par_chunks_mut(k)).for_each(|(xs, os)| softmax_seq(xs, c, os, log));
}

/// Softmax over a dim other than the last runs [`softmax_cols`] where the matrices' rows hold
/// at least this many values; narrower lanes are transposed into rows for the row kernel and
/// back. Measured on a Zen 4 (best of 5 rounds, two runs, AVX-512 / AVX2): the column kernel
/// took `softmax(0)` of (1000, 1000) from 526-583 to 307-321 us / 652-775 to 444-467, of
/// (1000, 64) 49 -> 37.5 / 63 -> 45, `softmax(1)` of (8, 512, 64) 135-146 -> 91-94 / 194-278
/// -> 98-119; but in its first form, for all widths, `softmax(0)` of (1000, 16) took 11.5 ->
/// 18.5 us and of (1000, 10) 9 -> 30, and `softmax(1)` of (4, 5000, 32) 289-309 -> 328-578:
/// a row of fewer than 64 values is too short for each pass's loop over it.
pub const COLS_MIN: usize = 64;

/// softmax (`log = false`) or log_softmax over the leading dim of each `(n, c)` matrix of
/// `x`, laid out `(outer, n, c)` (the strided lanes of a softmax over any dim but the last;
/// used for rows of at least [`COLS_MIN`] values), into `out`, in passes over whole rows,
/// vectorised across the row (as PyTorch's `_vec_softmax` for an inner size above 1): the
/// column maxima of the values that are not NaN ([`max_cols`]; an all -inf column's maximum
/// taken as 0, as `row_max`), `e = exp(x - max)` row by row, the column sums `s` of `e`
/// ([`sum_cols`]: blocks of 128 rows, the same order for any thread count), then
/// `e * (1 / s)` or `(x - max) - ln s`. A matrix of at least [`PARALLEL_MIN`] values has its
/// passes split across threads, smaller ones are split among the threads whole.
///
/// [`max_cols`]: crate::simd::kernels::max_cols
/// [`sum_cols`]: crate::simd::kernels::sum_cols
///
/// # Panics
/// If `x` and `out` are not the same whole number of `(n, c)` matrices, or `n * c` is 0 with
/// `x` not empty.
pub fn softmax_cols<T: Float>(x: &[T], (n, c): (usize, usize), out: &mut [T], log: bool) {
    let m = n * c;
    assert!(
        x.len() == out.len() && (m > 0 || x.is_empty()) && x.len().is_multiple_of(m.max(1)),
        "softmax_cols: x ({}) and out ({}) must be whole ({n}, {c}) matrices",
        x.len(),
        out.len()
    );
    if x.is_empty() {
        return;
    }
    let cap = crate::simd::capability();
    let matrix = |x: &[T], out: &mut [T]| {
        let (mut max, mut s) = (vec![T::ZERO; c], vec![T::ZERO; c]);
        crate::simd::kernels::max_cols(cap, x, &mut max);
        max.iter_mut().filter(|v| **v == T::neg_infinity()).for_each(|v| *v = T::ZERO);
        let rows = |out: &mut [T], pass: &(dyn Fn(&[T], &mut [T]) + Sync)| {
            crate::simd::kernels::by_units(out, c, |r, part| pass(&x[r * c..r * c + part.len()], part))
        };
        rows(out, &|x, part| shifted_exp(x, c, &max, part));
        crate::simd::kernels::sum_cols(cap, out, &mut s);
        if log {
            ln_body(&mut s);
        } else {
            s.iter_mut().for_each(|v| *v = T::ONE / *v);
        }
        rows(out, &|x, part| cols_finish(x, c, &max, &s, part, log));
    };
    if m < PARALLEL_MIN && x.len() >= PARALLEL_MIN {
        crate::simd::threads::keep_awake();
        x.par_chunks_exact(m).zip(out.par_chunks_exact_mut(m)).for_each(|(x, o)| matrix(x, o));
    } else {
        x.chunks_exact(m).zip(out.chunks_exact_mut(m)).for_each(|(x, o)| matrix(x, o));
    }
}

/// Per-row statistics of rows of `c` values: the maximum and `lse = ln sum(exp(x - max))`,
/// so that `log_softmax(x_r) = (x_r - max[r]) - lse[r]` and `softmax = exp` of that. Two
/// numbers per row are all a cross-entropy needs to recompute softmax in its backward pass.
///
/// Both vectors come from the buffer cache and go back to it when the statistics are dropped
/// (a cross-entropy's graph keeps them until its backward pass): as plain vectors, those of
/// the 50,000 rows of `mlp_784_32_10_fwd_bwd_50000` (200 KB each) went back to glibc, which
/// unmapped them, and each step faulted their ~100 pages in afresh.
#[derive(Clone, Debug)]
pub struct RowStats<T: Element> {
    /// Row maxima (0 for an all -inf row).
    pub max: Vec<T>,
    /// `ln sum(exp(x_r - max[r]))` per row.
    pub lse: Vec<T>,
}

impl<T: Element> Drop for RowStats<T> {
    fn drop(&mut self) {
        crate::pool::give_back(std::mem::take(&mut self.max));
        crate::pool::give_back(std::mem::take(&mut self.lse));
    }
}

impl<T: Float> RowStats<T> {
    /// The statistics of every row of `c` values of `x` (`x.len()` a multiple of `c`; no rows
    /// when `c` is 0), computed in parallel above [`PARALLEL_MIN`] elements.
    ///
    /// # Panics
    /// If `c == 0` and `x` is not empty.
    pub fn of(x: &[T], c: usize) -> RowStats<T> {
        check_rows("RowStats::of", x, c);
        let rows = x.len().checked_div(c).unwrap_or(0);
        let mut st =
            RowStats { max: crate::pool::filled(rows, T::ZERO), lse: crate::pool::filled(rows, T::ZERO) };
        if rows > 0 {
            let per = rows_per_task(x.len(), c);
            x.par_chunks(per * c)
                .zip(st.max.par_chunks_mut(per))
                .zip(st.lse.par_chunks_mut(per))
                .for_each(|((xs, ms), ls)| stats_seq(xs, c, ms, ls));
        }
        st
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.max.len()
    }
}

/// Class-index targets of rows: one target per row (rows whose target is `ignore_index` are
/// skipped), and optional per-class weights (`weight` empty for none).
#[derive(Clone, Copy, Debug)]
pub struct ClassTargets<'a, T> {
    /// One class index per row.
    pub targets: &'a [i64],
    /// Rows with this target contribute nothing.
    pub ignore_index: i64,
    /// `w[c]` scales the loss of rows whose target is `c`; empty for none.
    pub weight: &'a [T],
}

/// `out = softmax(x)` row by row from the statistics of [`RowStats::of`].
///
/// # Panics
/// If `c == 0` and `x` is not empty.
pub fn softmax_from_stats<T: Float>(x: &[T], c: usize, stats: &RowStats<T>, out: &mut [T]) {
    check_rows("softmax_from_stats", x, c);
    if x.is_empty() {
        return;
    }
    let rows = rows_per_task(x.len(), c);
    x.par_chunks(rows * c)
        .zip(out.par_chunks_mut(rows * c))
        .zip(stats.max.par_chunks(rows).zip(stats.lse.par_chunks(rows)))
        .for_each(|((xs, os), (ms, ls))| from_stats_seq(xs, c, ms, ls, os));
}

/// Negative log-likelihood per row of class-index targets, from the row statistics:
/// `loss[r] = -((x[r, t_r] - max[r]) - lse[r])`, times `w[t_r]` with class weights, and 0 for
/// rows whose target is ignored. Rows run in parallel above [`PARALLEL_MIN`] elements.
/// Returns `Err(r)` with the first row `r` whose target is neither ignored nor in `0..c` (the
/// losses are then unspecified).
///
/// # Panics
///
/// If the slices do not describe the same rows (`x.len() = rows * c` with `c > 0`; the
/// statistics, the targets and `loss` of length `rows`).
pub fn nll_rows<T: Float>(
    x: &[T],
    c: usize,
    stats: &RowStats<T>,
    t: &ClassTargets<'_, T>,
    loss: &mut [T],
) -> Result<(), usize> {
    let (max, lse, ignore, w) = (&stats.max[..], &stats.lse[..], t.ignore_index, t.weight);
    assert!(c > 0, "nll_rows: rows of 0 classes");
    let nrows = x.len() / c;
    assert!(x.len() == nrows * c && [max.len(), lse.len(), t.targets.len(), loss.len()] == [nrows; 4], "nll_rows: x ({} values in rows of {c}), max ({}), lse ({}), targets ({}) and loss ({}) must describe the same rows", x.len(), max.len(), lse.len(), t.targets.len(), loss.len());
    let rows = rows_per_task(x.len(), c);
    // One chunk of rows (starting at row `r0`): the first bad row, if any.
    let chunk = |r0: usize, xs: &[T], ls: &mut [T], ms: &[T], es: &[T], ts: &[i64]| {
        for (r, (((row, l), (&m, &e)), &k)) in
            xs.chunks_exact(c).zip(ls).zip(ms.iter().zip(es)).zip(ts).enumerate()
        {
            *l = if k == ignore {
                T::ZERO
            } else if !(0..c as i64).contains(&k) {
                return Some(r0 + r);
            } else if w.is_empty() {
                -((row[k as usize] - m) - e)
            } else {
                -(w[k as usize] * ((row[k as usize] - m) - e))
            };
        }
        None
    };
    let first_bad = x
        .par_chunks(rows * c)
        .zip(loss.par_chunks_mut(rows))
        .zip(max.par_chunks(rows).zip(lse.par_chunks(rows)))
        .zip(t.targets.par_chunks(rows))
        .enumerate()
        .filter_map(|(i, (((xs, ls), (ms, es)), ts))| chunk(i * rows, xs, ls, ms, es, ts))
        .min();
    first_bad.map_or(Ok(()), Err)
}

/// Cross-entropy gradient for class-index targets (one per row), in one pass per element:
/// `out[r, j] = s_r (softmax(x_r)_j - [j == t_r])`, `s_r = u_r w[t_r]`, softmax recomputed
/// from the row statistics. `u` has one upstream value per row, or a single one for all
/// rows. Ignored rows get zeros; every other target must be in `0..c` (panics otherwise).
/// Returns the gradient as a new vector of `x.len()` values, written once each (no
/// zero-fill first).
///
/// # Panics
///
/// If the slices do not describe the same rows (`x.len() = rows * c`, the statistics and
/// targets of length `rows`, `u` of length 1 or `rows`), or a target is out of range.
pub fn ce_grad_index<T: Float>(
    x: &[T],
    c: usize,
    stats: &RowStats<T>,
    t: &ClassTargets<'_, T>,
    u: &[T],
) -> Vec<T> {
    if c == 0 {
        return vec![T::ZERO; x.len()];
    }
    let (max, lse, tv, ignore, w) = (&stats.max[..], &stats.lse[..], t.targets, t.ignore_index, t.weight);
    let n = x.len();
    // The soundness of `set_len` below rests on these: every chunk of `out` is paired with a
    // chunk of every input, so all of `out` is written.
    let nrows = n / c;
    assert!(n.is_multiple_of(c) && max.len() == nrows && lse.len() == nrows && tv.len() == nrows, "ce_grad_index: x ({n} values in rows of {c}), max ({}), lse ({}) and targets ({}) must describe the same rows", max.len(), lse.len(), tv.len());
    assert!(u.len() == 1 || u.len() == nrows, "ce_grad_index: u needs 1 or {nrows} values, got {}", u.len());
    let mut out = crate::pool::vec_with_capacity(n);
    let rows = rows_per_task(n, c);
    let per_row_u = u.len() != 1;
    x.par_chunks(rows * c)
        .zip(out.spare_capacity_mut()[..n].par_chunks_mut(rows * c))
        .zip(max.par_chunks(rows).zip(lse.par_chunks(rows)))
        .zip(tv.par_chunks(rows))
        .enumerate()
        .for_each(|(i, (((xs, os), (ms, ls)), ts))| {
            let us = if per_row_u { &u[i * rows..(i * rows + ts.len())] } else { u };
            ce_grad_seq(xs, c, ms, ls, ts, ignore, us, w, os)
        });
    // SAFETY: the capacity is at least `n`, and every element of `out[..n]` was written: each
    // chunk of it was paired with an equally long chunk of `x` (`x.len()` is a multiple of
    // `c`, so the rows of stats and targets pair up too), and `ce_grad_body` writes every
    // element of its output.
    unsafe { out.set_len(n) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_is_within_two_ulp_of_std() {
        // Every 997th f32 bit pattern over the normal range of results, [-87.3, 88.72].
        let mut worst = 0.0f64;
        let mut x = -87.3f32;
        while x < 88.72 {
            let (got, want) = (exp_f32(x) as f64, (x as f64).exp());
            worst = worst.max(((got - want) / want).abs());
            let stride = if cfg!(miri) { 997 * 1009 } else { 997 }; // Miri interprets: fewer points
            x = f32::from_bits(if x < 0.0 { x.to_bits() - stride } else { x.to_bits() + stride });
            if x > -1e-30 && x < 0.0 {
                x = 0.0;
            }
        }
        assert!(worst < 2.5e-7, "max relative error {worst:e}"); // 2 ulp of f32 = 2.4e-7
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-1000.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(1000.0), f32::INFINITY);
        assert!(exp_f32(88.72).is_finite() && exp_f32(88.73).is_infinite());
        // Denormal results: e^-100 = 3.72e-44 (a few ulp of the smallest denormal).
        assert!((exp_f32(-100.0) as f64 - (-100.0f64).exp()).abs() < 3e-45);
        assert!(exp_f32(f32::NAN).is_nan());
        // The kernels' variant for x <= 0 agrees with the general one down to e^-104, within
        // an ulp (and, for denormal results, within one ulp of the smallest denormal).
        let mut x = 0.0f32;
        while x > -104.5 {
            let (a, b) = (exp_f32_nonpos::<false>(x), exp_f32(x));
            assert!((a - b).abs() <= (f32::EPSILON * b).max(1.5e-45), "{x}: {a:e} vs {b:e}");
            x -= 0.013;
        }
        // Denormal results against f64's exp: within half a denormal ulp plus the
        // polynomial's relative error, i.e. correctly rounded or one ulp off.
        let mut x = -87.0f32;
        while x > -104.0 {
            let (got, want) = (exp_f32_nonpos::<true>(x) as f64, (x as f64).exp());
            assert!((got - want).abs() <= 1.4013e-45 * 0.5 + want * 1e-6, "{x}: {got:e} vs {want:e}");
            x -= 0.0071;
        }
        assert_eq!(exp_f32_nonpos::<false>(-104.5), 0.0);
        assert_eq!(exp_f32_nonpos::<false>(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32_nonpos::<false>(f32::NAN).is_nan());
    }

    #[test]
    fn every_build_keeps_denormal_results() {
        // PyTorch 2.9.1: torch.tensor([0., -100., -90.]).softmax(0).view(torch.int32)
        // -> [1065353216, 27, 584744], in the baseline build, the FMA build and the dispatched
        // kernel (the lanes need groups of 8 or 16 rows: `lanes` checks them against the FMA
        // build).
        let x = [0.0f32, -100.0, -90.0];
        let want = [1.0f32.to_bits(), 27, 584744];
        let (mut base, mut fma, mut disp) = ([0.0f32; 3], [0.0f32; 3], [0.0f32; 3]);
        softmax_body::<f32, false>(&x, 3, &mut base, false);
        softmax_body::<f32, true>(&x, 3, &mut fma, false);
        softmax_rows(&x, 3, &mut disp, false);
        for out in [base, fma, disp] {
            assert_eq!(out.map(f32::to_bits), want);
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_dispatched_build_gives_the_avx2_builds_bits() {
        // At AVX-512 (when this CPU has it and TORCHLET_CPU_CAPABILITY allows it) the kernels
        // run in the AVX-512 build: the same operations in the same order as the AVX2 build,
        // so the same bits, for rows long enough to take the chains of `row_max`/`row_sum`.
        if !crate::simd::enabled(crate::simd::Capability::Avx2) {
            return;
        }
        for c in [17usize, 32, 65, 128, 1000] {
            let n = 37 * c;
            let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 50.0 - 10.0).collect();
            for log in [false, true] {
                let (mut disp, mut avx2) = (vec![0.0f32; n], vec![0.0f32; n]);
                softmax_portable(&x, c, &mut disp, log);
                // SAFETY: the CPU has AVX2 and FMA (checked at the top).
                unsafe { softmax_avx2(&x, c, &mut avx2, log) };
                assert!(
                    disp.iter().zip(&avx2).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "c = {c}, log = {log}"
                );
            }
            let (mut dm, mut dl, mut am, mut al) =
                (vec![0.0f32; 37], vec![0.0f32; 37], vec![0.0; 37], vec![0.0; 37]);
            stats_portable(&x, c, &mut dm, &mut dl);
            // SAFETY: as above.
            unsafe { stats_avx2(&x, c, &mut am, &mut al) };
            assert_eq!((dm, dl), (am, al), "c = {c}");
        }
    }

    #[test]
    fn long_rows_match_the_f64_definition() {
        // Rows on either side of the sums' 8 and 32 chains (17, 63, 64, 100, 1000, 1031
        // values), serial and threaded: softmax within 8 ulp (and the rounding of x - max) of
        // the f64 definition exp(x - max) / sum(exp(x - max)), log_softmax within 1e-5, f64
        // within 1e-14.
        for c in [17usize, 63, 64, 100, 1000, 1031] {
            for rows in [3usize, PARALLEL_MIN / c + 5] {
                let n = rows * c;
                let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 50.0 - 10.0).collect();
                let (mut sm, mut ls) = (vec![0.0f32; n], vec![0.0f32; n]);
                softmax_rows(&x, c, &mut sm, false);
                softmax_rows(&x, c, &mut ls, true);
                let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
                let mut sm64 = vec![0.0f64; n];
                softmax_rows(&x64, c, &mut sm64, false);
                for (r, xr) in x.chunks(c).enumerate().step_by(rows.div_ceil(7)) {
                    let m = xr.iter().fold(f64::MIN, |a, &b| a.max(b as f64));
                    let s: f64 = xr.iter().map(|&v| (v as f64 - m).exp()).sum();
                    for (j, &v) in xr.iter().enumerate() {
                        let (want, k) = ((v as f64 - m).exp() / s, r * c + j);
                        let got = sm[k] as f64;
                        // f32's `x - max` is rounded (by up to |x - max| eps / 2), which
                        // moves its exponential by as much relatively.
                        let tol = (8.0 + (v as f64 - m).abs()) * f32::EPSILON as f64 * want;
                        assert!((got - want).abs() <= tol, "c {c} [{r}, {j}]: {got:e} vs {want:e}");
                        assert!((ls[k] as f64 - (v as f64 - m - s.ln())).abs() < 1e-5, "c {c} [{r}, {j}]");
                        assert!(
                            (sm64[k] - want).abs() <= 1e-14 * want,
                            "c {c} [{r}, {j}]: {:e} vs {want:e}",
                            sm64[k]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn ln_f32_is_within_two_ulp_of_std() {
        let mut worst = 0.0f64;
        let mut x = f32::MIN_POSITIVE;
        while x < 3.0e38 {
            let (got, want) = (ln_f32(x) as f64, (x as f64).ln());
            worst = worst.max((got - want).abs() / want.abs().max(1e-30));
            x = f32::from_bits(x.to_bits() + if cfg!(miri) { 9973 * 101 } else { 9973 });
        }
        assert!(worst < 2.5e-7, "max relative error {worst:e}");
        assert_eq!(ln_f32(1.0), 0.0);
        assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
        assert!(ln_f32(-1.0).is_nan() && ln_f32(f32::NAN).is_nan());
    }

    #[test]
    fn dispatched_kernels_agree_with_the_baseline_and_the_definition() {
        // Rows of 10 and of 3 (blocks do not divide evenly), big enough to run in parallel.
        for c in [10usize, 3, 1] {
            let n = (PARALLEL_MIN + 77 * c) / c * c;
            let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 50.0 - 10.0).collect();
            let (mut fast, mut base) = (vec![0.0f32; n], vec![0.0f32; n]);
            softmax_rows(&x, c, &mut fast, true);
            softmax_body::<f32, false>(&x, c, &mut base, true);
            // The AVX2+FMA build may round the last bit differently (fused multiply-adds).
            for (f, b) in fast.iter().zip(&base) {
                assert!((f - b).abs() <= 4.0 * f32::EPSILON * b.abs().max(1.0), "{f} vs {b}");
            }
            // Definition, in f64: log_softmax = x - max - ln(sum(exp(x - max))).
            for (xr, fr) in x.chunks(c).zip(fast.chunks(c)).take(50) {
                let m = xr.iter().fold(f64::MIN, |a, &b| a.max(b as f64));
                let l = xr.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
                for (&v, &f) in xr.iter().zip(fr) {
                    assert!((f as f64 - (v as f64 - m - l)).abs() < 1e-5);
                }
            }
            let stats = RowStats::of(&x, c);
            assert_eq!(stats.rows(), n / c);
            let mut sm = vec![0.0f32; n];
            softmax_from_stats(&x, c, &stats, &mut sm);
            for (s, f) in sm.iter().zip(&fast) {
                assert!((s - f.exp()).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn ce_grad_index_matches_softmax_minus_one_hot() {
        // Rows of 10 and 3, big enough to run in parallel; some rows ignored (-100).
        for c in [10usize, 3] {
            let rows = PARALLEL_MIN / c + 37;
            let x: Vec<f32> = (0..rows * c).map(|i| ((i * 7919) % 1000) as f32 / 50.0 - 10.0).collect();
            let t: Vec<i64> =
                (0..rows).map(|r| if r % 7 == 3 { -100 } else { (r * 31 % c) as i64 }).collect();
            let stats = RowStats::of(&x, c);
            let mut sm = vec![0.0f32; rows * c];
            softmax_from_stats(&x, c, &stats, &mut sm);
            let w: Vec<f32> = (0..c).map(|j| 0.5 + j as f32).collect();
            let per_row: Vec<f32> = (0..rows).map(|r| (r % 5) as f32 - 2.0).collect();
            for (u, w) in [(&[0.25f32][..], &[][..]), (&per_row[..], &w[..])] {
                let targets = ClassTargets { targets: &t, ignore_index: -100, weight: w };
                let g = ce_grad_index(&x, c, &stats, &targets, u);
                assert_eq!(g.len(), rows * c);
                for (r, (gr, sr)) in g.chunks(c).zip(sm.chunks(c)).enumerate() {
                    let s = if t[r] == -100 { 0.0 } else { u[if u.len() == 1 { 0 } else { r }] };
                    let s = if w.is_empty() || t[r] == -100 { s } else { s * w[t[r] as usize] };
                    for (j, (&gv, &p)) in gr.iter().zip(sr).enumerate() {
                        let want = s * p - if j as i64 == t[r] { s } else { 0.0 };
                        assert!((gv - want).abs() <= 1e-6 * want.abs().max(1.0), "{gv} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn nll_rows_picks_the_target_and_reports_the_first_bad_one() {
        // Big enough to run in parallel chunks. Rows r: x[r, j] = j / 10 (so with max and lse
        // from RowStats::of, the loss is lse + max - t/10), targets r % 10, every 7th ignored.
        let (c, rows) = (10usize, PARALLEL_MIN / 10 + 37);
        let x: Vec<f32> = (0..rows * c).map(|i| (i % c) as f32 / 10.0).collect();
        let mut t: Vec<i64> = (0..rows).map(|r| if r % 7 == 3 { -100 } else { (r % c) as i64 }).collect();
        let stats = RowStats::of(&x, c);
        // Every row is [0, 0.1, .., 0.9]: max 0.9, lse = ln(sum_j e^(j/10 - 0.9)), here in f64.
        let lse: f64 = (0..c).map(|j| (j as f64 / 10.0 - 0.9).exp()).sum::<f64>().ln();
        let w: Vec<f32> = (0..c).map(|j| 1.0 + j as f32).collect();
        for weights in [&[][..], &w[..]] {
            let mut loss = vec![f32::NAN; rows];
            let targets = ClassTargets { targets: &t, ignore_index: -100, weight: weights };
            assert_eq!(nll_rows(&x, c, &stats, &targets, &mut loss), Ok(()));
            for (r, &l) in loss.iter().enumerate() {
                let k = r % c;
                let want = if t[r] == -100 {
                    0.0
                } else {
                    (lse + 0.9 - k as f64 / 10.0) * if weights.is_empty() { 1.0 } else { 1.0 + k as f64 }
                };
                assert!((l as f64 - want).abs() < 1e-5, "row {r}: {l} vs {want}");
            }
        }
        // Two bad targets in different chunks: the first in row order is reported.
        let early = rows / 5; // row 1318 of 6590 (row 12 of 62 under Miri)
        (t[rows - 5], t[early]) = (10, -1);
        let targets = ClassTargets { targets: &t, ignore_index: -100, weight: &[] };
        assert_eq!(nll_rows(&x, c, &stats, &targets, &mut vec![0.0; rows]), Err(early));
    }

    #[test]
    fn rows_of_minus_infinity_and_nan() {
        let x = [0.0f32, f32::NEG_INFINITY, 1.0, f32::NEG_INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY];
        let mut out = [0.0f32; 6];
        softmax_rows(&x, 3, &mut out, false);
        assert!((out[0] - 0.268_941_43).abs() < 1e-6 && out[1] == 0.0 && (out[2] - 0.731_058_6).abs() < 1e-6);
        assert!(out[3..].iter().all(|v| v.is_nan()), "an all -inf row is NaN, as in PyTorch");
        let mut out64 = [0.0f64; 2];
        softmax_rows(&[f64::NAN, 1.0], 2, &mut out64, true);
        assert!(out64.iter().all(|v| v.is_nan()));
    }
}
