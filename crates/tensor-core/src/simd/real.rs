//! [`Real`]: the float type the elementwise formulas are written over, with f32 math that
//! vectorises.
//!
//! A formula of the `float_unary!` table (`elementwise.rs`) is a generic function of one
//! `T: Real`. For f64 tensors `T` is `f64` and every method is the standard library's. For f32
//! tensors `T` is [`Fma32`] (in the AVX2 and AVX-512 builds of [`crate::simd::dispatch!`]) or
//! [`Plain32`] (portable build): thin wrappers of `f32` whose `exp`, `ln`, `log2`, `log10`,
//! `ln_1p`, `tanh` and `erf` are branch-free polynomials, so a loop over the formula
//! vectorises at the build's width. Other methods (`sin`, `powf`, ...) are the standard
//! library's (correct, not vectorised).
//!
//! Accuracy of the f32 functions against the exact value (checked in the tests below over
//! their whole range, for both flavours): `exp` <= 2 ulp (results down to the smallest
//! denormal kept, below -104 exactly 0, above 88.72 +inf), `ln` <= 2 ulp (denormal inputs
//! included), `log2` <= 2 ulp (exact at powers of two), `log10` <= 2.1 ulp, `ln_1p` <= 3
//! ulp, `tanh` <= 3 ulp, `erf` <= 3 ulp; `gelu` within `5e-6 |gelu(x)| + 1e-7`. [`Fma32`] and
//! [`Plain32`] differ only in rounding their multiply-adds once or twice, so they agree within those bounds (not bit for bit); every
//! build that uses [`Fma32`] gives the same bits.

use std::array::from_fn;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A float that the elementwise formulas are written over: f64, or one of the f32 flavours
/// [`Fma32`] and [`Plain32`]. The methods mirror `num_traits::Float`'s names.
pub trait Real:
    Copy
    + PartialOrd
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Send
    + Sync
    + 'static
{
    /// The tensor element type it computes (`f32` or `f64`).
    type Elem: crate::Float;
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Machine epsilon of the element type.
    const EPS: Self;
    /// Wraps an element.
    fn from_elem(v: Self::Elem) -> Self;
    /// The element.
    fn elem(self) -> Self::Elem;
    /// An f64 constant in this type.
    fn c(v: f64) -> Self;
    /// This value as f64.
    fn to_f64(self) -> f64;
    /// `e^x`.
    fn exp(self) -> Self;
    /// `e^x - 1`.
    fn exp_m1(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + x)`, accurate near 0.
    fn ln_1p(self) -> Self;
    /// Base-2 logarithm.
    fn log2(self) -> Self;
    /// Base-10 logarithm.
    fn log10(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// `1 / x`.
    fn recip(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// The error function.
    fn erf(self) -> Self;
    /// GELU, `x Phi(x)` with `Phi(x) = (1 + erf(x / sqrt 2)) / 2` the standard normal CDF
    /// (f32: [`gelu`], a polynomial and three squarings, no `exp`, within
    /// `5e-6 |gelu(x)| + 1e-7`; f64: musl's `erfc`).
    fn gelu(self) -> Self;
    /// Hyperbolic sine.
    fn sinh(self) -> Self;
    /// Hyperbolic cosine.
    fn cosh(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Tangent.
    fn tan(self) -> Self;
    /// Arctangent.
    fn atan(self) -> Self;
    /// `x^e`.
    fn powf(self, e: Self) -> Self;
    /// `x^n`.
    fn powi(self, n: i32) -> Self;
    /// `|x|`.
    fn abs(self) -> Self;
    /// 1, -1 or NaN by sign (`f32::signum`).
    fn signum(self) -> Self;
    /// The smaller value, ignoring a NaN (`f32::min`).
    fn min(self, o: Self) -> Self;
    /// The larger value, ignoring a NaN (`f32::max`).
    fn max(self, o: Self) -> Self;
    /// Rounds down.
    fn floor(self) -> Self;
    /// Rounds up.
    fn ceil(self) -> Self;
    /// Rounds half away from zero.
    fn round(self) -> Self;
    /// Rounds toward zero.
    fn trunc(self) -> Self;
    /// `self * a + b` (fused where the build has FMA).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// NaN?
    fn is_nan(self) -> bool;
    /// Neither infinite nor NaN?
    fn is_finite(self) -> bool;
    /// +-inf?
    fn is_infinite(self) -> bool;
    /// +inf.
    fn infinity() -> Self;
    /// -inf.
    fn neg_infinity() -> Self;
    /// NaN.
    fn nan() -> Self;
}

impl Real for f64 {
    type Elem = f64;
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const EPS: Self = f64::EPSILON;
    #[inline(always)]
    fn from_elem(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn elem(self) -> f64 {
        self
    }
    #[inline(always)]
    fn c(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn erf(self) -> Self {
        libm::erf(self) // musl's erf, as `elementwise::erf` for f64
    }
    #[inline(always)]
    fn gelu(self) -> Self {
        self * (0.5 * libm::erfc(-self * std::f64::consts::FRAC_1_SQRT_2))
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
    #[inline(always)]
    fn powf(self, e: Self) -> Self {
        f64::powf(self, e)
    }
    std_methods!(f64, exp, exp_m1, ln, ln_1p, log2, log10, tanh);
    std_methods!(f64, common);
}

/// The methods that are the standard library's for both f32 and f64.
macro_rules! std_methods {
    ($t:ty, common) => {
        std_methods!($t, sqrt, sinh, cosh, sin, cos, tan, atan, abs, signum, floor, ceil, round, trunc);
        #[inline(always)]
        fn recip(self) -> Self {
            Self::ONE / self
        }
        #[inline(always)]
        fn powi(self, n: i32) -> Self {
            <$t>::powi(self.into(), n).into()
        }
        #[inline(always)]
        fn min(self, o: Self) -> Self {
            <$t>::min(self.into(), o.into()).into()
        }
        #[inline(always)]
        fn max(self, o: Self) -> Self {
            <$t>::max(self.into(), o.into()).into()
        }
        #[inline(always)]
        fn is_nan(self) -> bool {
            <$t>::is_nan(self.into())
        }
        #[inline(always)]
        fn is_finite(self) -> bool {
            <$t>::is_finite(self.into())
        }
        #[inline(always)]
        fn is_infinite(self) -> bool {
            <$t>::is_infinite(self.into())
        }
        #[inline(always)]
        fn infinity() -> Self {
            <$t>::INFINITY.into()
        }
        #[inline(always)]
        fn neg_infinity() -> Self {
            <$t>::NEG_INFINITY.into()
        }
        #[inline(always)]
        fn nan() -> Self {
            <$t>::NAN.into()
        }
    };
    ($t:ty, $($m:ident),*) => {
        $(
            #[inline(always)]
            fn $m(self) -> Self {
                <$t>::$m(self.into()).into()
            }
        )*
    };
}
use std_methods;

/// An f32 whose multiply-adds are fused (`FMA = true`, one rounding; the builds for CPUs
/// with FMA) or not (two roundings; the portable build, where a fused one would be a slow
/// library call). Use the aliases [`Fma32`] and [`Plain32`].
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
#[repr(transparent)]
pub struct F32<const FMA: bool>(pub f32);

/// f32 with fused multiply-adds (the AVX2 and AVX-512 builds).
pub type Fma32 = F32<true>;
/// f32 with separate multiplies and adds (the portable build).
pub type Plain32 = F32<false>;

impl<const FMA: bool> From<f32> for F32<FMA> {
    #[inline(always)]
    fn from(v: f32) -> Self {
        F32(v)
    }
}
impl<const FMA: bool> From<F32<FMA>> for f32 {
    #[inline(always)]
    fn from(v: F32<FMA>) -> f32 {
        v.0
    }
}

macro_rules! f32_ops {
    ($($tr:ident $m:ident $atr:ident $am:ident $op:tt),*) => {$(
        impl<const FMA: bool> $tr for F32<FMA> {
            type Output = Self;
            #[inline(always)]
            fn $m(self, o: Self) -> Self {
                F32(self.0 $op o.0)
            }
        }
        impl<const FMA: bool> $atr for F32<FMA> {
            #[inline(always)]
            fn $am(&mut self, o: Self) {
                self.0 = self.0 $op o.0;
            }
        }
    )*};
}
f32_ops!(Add add AddAssign add_assign +, Sub sub SubAssign sub_assign -, Mul mul MulAssign mul_assign *, Div div DivAssign div_assign /);

impl<const FMA: bool> Neg for F32<FMA> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        F32(-self.0)
    }
}

impl<const FMA: bool> Real for F32<FMA> {
    type Elem = f32;
    const ZERO: Self = F32(0.0);
    const ONE: Self = F32(1.0);
    const EPS: Self = F32(f32::EPSILON);
    #[inline(always)]
    fn from_elem(v: f32) -> Self {
        F32(v)
    }
    #[inline(always)]
    fn elem(self) -> f32 {
        self.0
    }
    #[inline(always)]
    fn c(v: f64) -> Self {
        F32(v as f32)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self.0 as f64
    }
    #[inline(always)]
    fn exp_m1(self) -> Self {
        F32(self.0.exp_m1())
    }
    poly_methods!(exp, ln, ln_1p, log2, log10, tanh, erf, gelu);
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        F32(madd::<FMA>(self.0, a.0, b.0))
    }
    #[inline(always)]
    fn powf(self, e: Self) -> Self {
        F32(pow::<FMA>(self.0, e.0))
    }
    std_methods!(f32, common);
}

/// `F32`'s methods that are this module's polynomial of the same name (`fn exp(self)` is
/// `F32(exp::<FMA>(self.0))`).
macro_rules! poly_methods {
    ($($m:ident),*) => {
        $(
            #[inline(always)]
            fn $m(self) -> Self {
                F32($m::<FMA>(self.0))
            }
        )*
    };
}
use poly_methods;

/// `a * b + c`: one fused instruction when `FMA` (compiled only into builds for CPUs that have
/// it), a multiply and an add otherwise (`mul_add` would be a slow library call there).
#[inline(always)]
pub fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `p(x)` for coefficients from the constant term up, by Horner's rule, for `N` values in
/// lockstep (see [`exp_lanes`]).
#[inline(always)]
fn horner_lanes<const FMA: bool, const N: usize>(x: [f32; N], c: &[f32]) -> [f32; N] {
    let mut p = [c[c.len() - 1]; N];
    for &k in c[..c.len() - 1].iter().rev() {
        p = from_fn(|i| madd::<FMA>(p[i], x[i], k));
    }
    p
}

/// `2^k` for `k` in `-126..=127`, built from its exponent bits.
#[inline(always)]
fn pow2i(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32) << 23)
}

/// `e^x` for f32 without branches: `x = n ln2 + r` (|r| <= ln2/2, `ln2` in two parts),
/// `e^r` by a degree-6 polynomial (Cephes' coefficients), and `2^n` applied as two normal
/// factors `2^(n >> 1) 2^(n - (n >> 1))`, so that results near f32's limits (huge, or
/// denormal) round once. Below -104 the result is 0, above 88.72 +inf; NaN stays NaN.
#[inline(always)]
pub fn exp<const FMA: bool>(x: f32) -> f32 {
    exp_lanes::<FMA, 1>([x])[0]
}

/// [`exp`] of `N` independent values in lockstep: each step is applied to all `N` before the
/// next one starts, so that a loop over `exp_lanes::<_, 4>` (vectorised along four separate
/// runs of a tensor, `UnaryFn::call_lanes`) has four independent chains of dependent
/// operations side by side in its instruction stream. One chain per iteration is what bounds
/// the AVX2 loop (~14 cycles per 8 lanes on Zen 4 for ~30 instructions: the multiply-adds
/// wait on one another, and the next iteration's enter the out-of-order window too late to
/// fill the gaps); four side by side, `exp_1000x1000` went 234 -> 199 us on AVX2 and 145 ->
/// 136 us on AVX-512 (medians of 7 alternating rounds). Every lane goes through exactly
/// [`exp`]'s operations: the same bits. (Estrin's scheme for the polynomial, a shorter chain,
/// gained 6% but changed the last bit of some results, and with them a digit of a lecture's
/// printed diagnostics that matches PyTorch's.)
#[inline(always)]
pub fn exp_lanes<const FMA: bool, const N: usize>(x: [f32; N]) -> [f32; N] {
    const LO: f32 = -104.0; // e^-104 is below half the smallest denormal
    const HI: f32 = 88.73; // e^88.73 is above f32::MAX
    let (er, n) = exp_reduced::<FMA, N>(x.map(|v| v.clamp(LO, HI))); // (NaN stays NaN)
    let h = n.map(|k| k >> 1);
    let y: [f32; N] = from_fn(|i| er[i] * pow2i(h[i]));
    // No select for the ends is needed: at the clamp `HI`, `n = 128` and `e^r 2^64 2^64`
    // overflows to +inf; at `LO`, `e^-104 < 2^-150` rounds to 0 (the same bits as with
    // selects, checked over every f32 with and without FMA: 4 fewer instructions per vector,
    // `exp_1000x1000` 204 -> 179 us on AVX2, 135 -> 118 on AVX-512, medians of 6-8 rounds).
    from_fn(|i| y[i] * pow2i(n[i] - h[i]))
}

/// [`exp`] of `N` values `x <= 0` (or NaN) in lockstep, for the softmax family's row
/// kernels (`x - max`): the same operations, so the same bits, except that below -104 the
/// result is 0 by a select after computing `e^0` in its place, where [`exp`] clamps to -104
/// and lets `e^-104` round to 0. On Intel CPUs an arithmetic result that underflows takes a
/// microcode assist (~100+ cycles) unless flush-to-zero is set, and a causal attention mask
/// makes half of its softmax inputs -inf: with -104 there, softmax took 37% of
/// `sdpa_causal_fwd_bwd` with AVX2 on a 2-core Xeon. Results from -104 to -87.3 are denormal
/// on purpose, as PyTorch's (`softmax([0, -100, -90])` is `[1, 3.7835e-44, 8.1940e-40]`):
/// `2^n` is applied as two normal factors, so a denormal result is rounded once.
#[inline(always)]
pub fn exp_nonpos_lanes<const FMA: bool, const N: usize>(x: [f32; N]) -> [f32; N] {
    const LO: f32 = -104.0;
    let xc = x.map(|v| if v < LO { 0.0 } else { v }); // keeps NaN (f32::max would drop it)
    let (er, n) = exp_reduced::<FMA, N>(xc);
    let h = n.map(|k| k >> 1);
    let y: [f32; N] = from_fn(|i| er[i] * pow2i(h[i]) * pow2i(n[i] - h[i]));
    from_fn(|i| if x[i] < LO { 0.0 } else { y[i] })
}

/// The shared part of [`exp`]: for `x` within its clamp, `(e^r, n)` with `x = n ln2 + r`,
/// `|r| <= ln2/2` and `n` an integer ([`exp_parts`]). `e^x = e^r 2^n`.
#[inline(always)]
fn exp_reduced<const FMA: bool, const N: usize>(x: [f32; N]) -> ([f32; N], [i32; N]) {
    let (p, r, ni) = exp_parts::<FMA, N>(x);
    (from_fn(|i| madd::<FMA>(p[i], r[i] * r[i], r[i] + 1.0)), ni)
}

/// The range reduction and polynomial of [`exp`] (and [`tanh`]): `(p, r, n)` with
/// `x = n ln2 + r`, `|r| <= ln2/2` (`ln2` in two parts so that `r` is exact), `n` an integer
/// and `e^r = 1 + r + p r^2`, `p` by the degree-5 polynomial (Cephes' coefficients).
#[inline(always)]
fn exp_parts<const FMA: bool, const N: usize>(x: [f32; N]) -> ([f32; N], [f32; N], [i32; N]) {
    let t = x.map(|v| madd::<FMA>(v, std::f32::consts::LOG2_E, 12_582_912.0)); // + 1.5 * 2^23 rounds
    let n = t.map(|v| v - 12_582_912.0); // round(x log2 e)...
    let ni = t.map(|v| (v.to_bits() as i32).wrapping_sub(0x4B40_0000)); // ...and as an integer
    let r: [f32; N] = from_fn(|i| madd::<FMA>(n[i], -0.693_359_4, x[i]));
    let r: [f32; N] = from_fn(|i| madd::<FMA>(n[i], 2.121_944_4e-4, r[i]));
    let p = horner_lanes::<FMA, N>(
        r,
        &[0.5, 1.666_666_5e-1, 4.166_579_6e-2, 8.333_452e-3, 1.398_199_9e-3, 1.987_569_1e-4],
    );
    (p, r, ni)
}

/// `ln x` for f32 without branches: `x = 2^e m` with `m` in `[sqrt(1/2), sqrt(2))`,
/// `ln x = e ln2 + ln m`, `ln m` by Cephes' polynomial (`log_reduced`). Denormal inputs
/// are scaled by 2^23 first. 0 gives -inf, negative numbers and NaN give NaN, +inf gives +inf.
#[inline(always)]
pub fn ln<const FMA: bool>(x: f32) -> f32 {
    ln_lanes::<FMA, 1>([x])[0]
}

/// [`ln`] of `N` values in lockstep (as [`exp_lanes`]; the same bits).
#[inline(always)]
pub fn ln_lanes<const FMA: bool, const N: usize>(x: [f32; N]) -> [f32; N] {
    let (ef, m, z, p) = log_reduced::<FMA, N>(x);
    from_fn(|i| {
        let y = madd::<FMA>(p[i] * m[i], z[i], ef[i] * -2.121_944_4e-4);
        let y = madd::<FMA>(-0.5, z[i], y) + m[i];
        log_ends(x[i], madd::<FMA>(ef[i], 0.693_359_4, y))
    })
}

/// `log2 x = e + ln(m) log2(e)` with [`ln`]'s `x = 2^e m` and `ln m`: exact at powers of two
/// (`m = 1`), and no cancellation for `x` in `[sqrt(1/2), sqrt(2))` (`e = 0`). Ends as [`ln`].
#[inline(always)]
pub fn log2<const FMA: bool>(x: f32) -> f32 {
    log2_lanes::<FMA, 1>([x])[0]
}

/// [`log2`] of `N` values in lockstep (the same bits).
#[inline(always)]
pub fn log2_lanes<const FMA: bool, const N: usize>(x: [f32; N]) -> [f32; N] {
    let (e, l) = exponent_and_ln_m::<FMA, N>(x);
    from_fn(|i| log_ends(x[i], madd::<FMA>(l[i], std::f32::consts::LOG2_E, e[i])))
}

/// `log10 x = e log10(2) + ln(m) log10(e)` with [`ln`]'s `x = 2^e m` and `ln m`; `log10(2)` in
/// two parts, the first with few enough bits that `e` times it is exact. Ends as [`ln`].
#[inline(always)]
pub fn log10<const FMA: bool>(x: f32) -> f32 {
    log10_lanes::<FMA, 1>([x])[0]
}

/// [`log10`] of `N` values in lockstep (the same bits).
#[inline(always)]
pub fn log10_lanes<const FMA: bool, const N: usize>(x: [f32; N]) -> [f32; N] {
    const LOG10_2_HI: f32 = f32::from_bits(0x3E9A_2000); // 0.301025390625: 11 significant bits
    const LOG10_2_LO: f32 = 4.605_039_5e-6; // log10(2) - LOG10_2_HI
    let (e, l) = exponent_and_ln_m::<FMA, N>(x);
    from_fn(|i| {
        let y = madd::<FMA>(l[i], std::f32::consts::LOG10_E, e[i] * LOG10_2_LO);
        log_ends(x[i], madd::<FMA>(e[i], LOG10_2_HI, y))
    })
}

/// `(e, ln m)` for `x = 2^e m` ([`log_reduced`]): what [`log2`] and [`log10`] scale.
#[inline(always)]
fn exponent_and_ln_m<const FMA: bool, const N: usize>(x: [f32; N]) -> ([f32; N], [f32; N]) {
    let (e, m, z, p) = log_reduced::<FMA, N>(x);
    (e, from_fn(|i| madd::<FMA>(-0.5, z[i], (p[i] * m[i]) * z[i]) + m[i]))
}

/// The reduction shared by [`ln`], [`log2`] and [`log10`]: `(e, m - 1, (m - 1)^2, p)` for
/// `x = 2^e m`, `m` in `[sqrt(1/2), sqrt(2))`, and `ln m = (m - 1) - (m - 1)^2 / 2 + p (m - 1)^3`
/// with `p` Cephes' polynomial. A denormal `x` is scaled by 2^23 first.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn log_reduced<const FMA: bool, const N: usize>(x: [f32; N]) -> ([f32; N], [f32; N], [f32; N], [f32; N]) {
    let tiny = x.map(|v| v < f32::MIN_POSITIVE);
    let bits: [i32; N] = from_fn(|i| (if tiny[i] { x[i] * 8_388_608.0 } else { x[i] }).to_bits() as i32); // 2^23
    let m0 = bits.map(|b| f32::from_bits(((b & 0x007f_ffff) | 0x3f00_0000) as u32)); // in [0.5, 1)
    let small = m0.map(|m| m < std::f32::consts::FRAC_1_SQRT_2);
    let e: [f32; N] =
        from_fn(|i| (((bits[i] >> 23) & 0xff) - 126 - if tiny[i] { 23 } else { 0 } - small[i] as i32) as f32);
    let m: [f32; N] = from_fn(|i| if small[i] { m0[i] + m0[i] } else { m0[i] } - 1.0);
    let z = m.map(|v| v * v);
    let p = horner_lanes::<FMA, N>(
        m,
        &[
            3.333_333e-1,
            -2.499_999_4e-1,
            2.000_071_5e-1,
            -1.666_805_8e-1,
            1.424_932_3e-1,
            -1.242_014_1e-1,
            1.167_699_9e-1,
            -1.151_461e-1,
            7.037_683_6e-2,
        ],
    );
    (e, m, z, p)
}

/// A logarithm's value `y` of `x`, with its ends: -inf at 0, NaN below 0 and at NaN, +inf at
/// +inf.
#[inline(always)]
fn log_ends(x: f32, y: f32) -> f32 {
    let y = if x == 0.0 { f32::NEG_INFINITY } else { y };
    let y = if x < 0.0 || x.is_nan() { f32::NAN } else { y };
    if x == f32::INFINITY {
        f32::INFINITY
    } else {
        y
    }
}

/// `ln(1 + x)`: with `u = 1 + x` (rounded), `ln(u) x / (u - 1)` corrects the rounding of
/// `u`; `x` itself where `u == 1`. -1 gives -inf, below -1 NaN, +inf +inf.
#[inline(always)]
pub fn ln_1p<const FMA: bool>(x: f32) -> f32 {
    let u = 1.0 + x;
    let d = u - 1.0;
    let y = ln::<FMA>(u) * (x / if d == 0.0 { 1.0 } else { d });
    let y = if d == 0.0 { x } else { y };
    if x == f32::INFINITY {
        f32::INFINITY
    } else {
        y
    }
}

/// `tanh x = sign(x) m / (m + 2)` with `m = e^(2|x|) - 1` (`expm1`, without its
/// cancellation): `2|x| = n ln2 + r` as in [`exp`], `e^r - 1 = r + p r^2` by exp's polynomial
/// (`exp_parts`), then `m = 2^n (e^r - 1) + (2^n - 1)`. Near 0 (`n = 0`) `m` is
/// `2|x| + p (2x)^2`, accurate relative to `|x|`; near 1 the error is in the small term
/// `2 / (m + 2)`. One exp, one division, no second formula for small `|x|` (the form before
/// computed a polynomial for `|x| < 0.6` and `1 - 2 / (e^(2|x|) + 1)` and chose:
/// `tanh_1000x1000` 263 -> 206 us natively, 360 -> 239 with AVX2 on a 2-core Xeon, medians
/// of 6 alternating rounds). `|x|` is capped at 9.5: from there `m >= 2^27` absorbs the `+ 2`
/// and the result is exactly 1 (tanh rounds to 1 from 9.01 on); `n <= 27`, and `2^n - 1`
/// rounds only for `n > 24`, where it is negligible. -0 gives -0, +-inf +-1, NaN NaN. Error
/// <= 3 ulp (at most 2.42 over every f32, with and without FMA).
#[inline(always)]
pub fn tanh<const FMA: bool>(x: f32) -> f32 {
    tanh_lanes::<FMA, 1>([x])[0]
}

/// [`tanh`] of `N` values in lockstep (as [`exp_lanes`]; the same bits).
#[inline(always)]
pub fn tanh_lanes<const FMA: bool, const N: usize>(x: [f32; N]) -> [f32; N] {
    // |x| capped at 9.5 by a compare, which keeps NaN (f32::min would drop it).
    let z = x.map(|v| {
        let a = v.abs();
        let a = if a > 9.5 { 9.5 } else { a };
        a + a
    });
    let (p, r, n) = exp_parts::<FMA, N>(z);
    let em1r: [f32; N] = from_fn(|i| madd::<FMA>(p[i], r[i] * r[i], r[i])); // e^r - 1
    let two_n = n.map(pow2i);
    let m: [f32; N] = from_fn(|i| madd::<FMA>(em1r[i], two_n[i], two_n[i] - 1.0));
    from_fn(|i| {
        let y = m[i] / (m[i] + 2.0);
        f32::from_bits(y.to_bits() | (x[i].to_bits() & 0x8000_0000)) // sign of x
    })
}

/// GELU `x Phi(x)` (`Phi` the standard normal CDF) without `exp` or a division: with
/// `a = |x|`, the lower tail `h = Phi(-a) = erfc(a / sqrt 2) / 2` is `R(a - 2.77)^8` for a
/// polynomial `R` of degree 7 ([`GELU_R`]); then `x Phi(x) = x - a h` for `x >= 0` and
/// `-a h` for `x < 0`, one fused multiply-add either way (from `-0` below 0, so that the
/// sign of a zero result is PyTorch's). `h = +0` from `a = 5.54` on, where
/// `a Phi(-a) < 1e-7`.
///
/// `R` is a weighted minimax fit of `h^(1/8)` on `[0, 5.54]` made for this kernel: its
/// error is measured in `gelu` itself against `5e-6 |gelu(x)| + 1e-7`, a relative bound
/// where `|gelu(x)|` is large and an absolute one in the tails (PyTorch's f32 GELU,
/// `x/2 (1 + erf(x / sqrt 2))`, is itself only absolutely accurate there, where `1 + erf`
/// cancels; its parity cases allow `1e-5 |want| + 1e-6`). A fit for a relative 5e-6
/// everywhere needs degree 10. `R` is evaluated with adapted coefficients
/// ([`gelu_root`]): 5 multiply-adds and 4 additions instead of Horner's 7 multiply-adds,
/// since the multiply-adds are what bounds this kernel's speed (on Zen 4 multiply-adds,
/// products and float compares into AVX-512 masks share two pipes; adds, logic, integer ops
/// and `max` use two others). Worst over the tests' sweep, rounding included: 0.69 of the
/// bound with FMA, 0.72 without (near x = -0.6; Horner's rule gave 0.68 and 0.67).
///
/// NaN and +-inf give NaN (`a h` is `inf * 0` there), as PyTorch's `F.gelu` does.
/// [`gelu_slice`] computes the same bits for whole AVX2 and AVX-512 vectors.
#[inline(always)]
pub fn gelu<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs();
    let r = gelu_root::<FMA>(a);
    let r2 = r * r;
    let r4 = r2 * r2;
    let h = f32::from_bits((r4 * r4).to_bits() & below_edge(a));
    let base = if x < 0.0 { -0.0 } else { x };
    madd::<FMA>(-a, h, base)
}

/// `R(a - GELU_MID)` ([`GELU_R`]) by adapted coefficients (Knuth, *The Art of Computer
/// Programming* 2, 4.6.4): in the scaled variable `s = GELU_SCALE (a - GELU_MID)`, with
/// `GELU_SCALE^7` the leading coefficient of `R`, `R` is a monic `P(s) = s Q(s) + GELU_R[0]`, and the
/// monic sextic `Q` is `(w + z + a4) w + a5` with `z = (s + a0) s + a1` and
/// `w = (s + a2) z + a3` ([`GELU_ADAPTED`]: the real solution of the six equations that
/// match `Q`'s coefficients). Five multiply-adds (`s`, `z`, `w`, `Q`, `P`) where Horner's rule
/// takes seven; the intermediate values stay within a few units for `a` in `[0, 5.54]`, so the
/// rounding error stays close to Horner's (see [`gelu`]). The AVX2 and AVX-512 kernels do the same
/// operations in the same order.
#[inline(always)]
pub fn gelu_root<const FMA: bool>(a: f32) -> f32 {
    let [a0, a1, a2, a3, a4, a5] = GELU_ADAPTED;
    let s = madd::<FMA>(a, GELU_SCALE, GELU_SHIFT);
    let z = madd::<FMA>(s + a0, s, a1);
    let w = madd::<FMA>(s + a2, z, a3);
    let q = madd::<FMA>((z + a4) + w, w, a5);
    madd::<FMA>(s, q, GELU_R[0])
}

/// The cut of [`gelu`]'s lower tail: from here on `h = Phi(-|x|)` is taken as 0.
pub const GELU_EDGE: f32 = 5.54;
/// The middle of `[0, GELU_EDGE]`, where [`GELU_R`] is centred.
pub const GELU_MID: f32 = 2.77;
/// `R(t)`, `t = |x| - GELU_MID`, with `R^8 ~ Phi(-|x|)`, from the constant term up (the fit;
/// [`gelu_root`] evaluates it through [`GELU_ADAPTED`]).
pub const GELU_R: [f32; 8] = [
    0.479_677_38,
    -0.184_085_44,
    0.007_697_707,
    0.005_718_712,
    -6.225_131e-4,
    -1.170_698_4e-4,
    2.440_823_7e-5,
    2.857_423e-6,
];
/// `GELU_R[7]^(1/7)`: in `s = GELU_SCALE t` the polynomial [`GELU_R`] is monic.
pub const GELU_SCALE: f32 = 0.161_434_5;
/// `-GELU_MID * GELU_SCALE`, so that `s = GELU_SCALE |x| + GELU_SHIFT` is one multiply-add.
pub const GELU_SHIFT: f32 = -0.447_173_57;
/// [`gelu_root`]'s adapted coefficients `a0..a5` for [`GELU_R`] (solved with 40 digits by
/// `tools/kernels/gelu_adapted.py`, which also gives [`GELU_SCALE`] and [`GELU_SHIFT`], then
/// rounded to f32; `gelu_root_evaluates_gelu_r` checks them against [`GELU_R`]).
pub const GELU_ADAPTED: [f32; 6] =
    [0.534_608_6, -0.729_366_84, -0.345_118_17, 0.715_045_87, -0.961_818_93, -0.439_965_37];

/// All ones when `0 <= a < GELU_EDGE`, 0 from the edge on and for NaN: the bits of a
/// non-negative float compared as integers (what the AVX-512 kernel does, where a float
/// compare would take a multiply pipe).
#[inline(always)]
fn below_edge(a: f32) -> u32 {
    ((a.to_bits() as i32).wrapping_sub(GELU_EDGE.to_bits() as i32) >> 31) as u32
}

/// [`gelu`] with fused multiply-adds over the whole AVX2 or AVX-512 vectors of `x` (at
/// `cap`, as far as the CPU has it), written to `out`; returns how many values it did (0 at
/// the default capability and off x86-64; the caller does the rest with [`gelu`]). The
/// same operations as `gelu::<true>`, so the same bits at either width. Written with
/// intrinsics because the autovectorised loop makes the two selects float compares, which
/// on Zen 4 take the multiply pipes ([`gelu`]'s note): here, at AVX-512, the cut is an
/// integer compare of the bits and the sign of zero a `max`, leaving 5 multiply-adds
/// ([`gelu_root`]), 3 squarings and the final multiply-add on those pipes.
///
/// # Panics
/// If the lengths differ.
pub fn gelu_slice(cap: crate::simd::Capability, x: &[f32], out: &mut [std::mem::MaybeUninit<f32>]) -> usize {
    assert_eq!(x.len(), out.len(), "gelu_slice: input and output lengths differ");
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{supported, Capability};
        match supported(cap) {
            // SAFETY: `supported` never exceeds what the CPU has; the lengths are equal.
            Capability::Avx512 => return unsafe { gelu_kernel::w16(x, out) },
            // SAFETY: as above.
            Capability::Avx2 => return unsafe { gelu_kernel::w8(x, out) },
            Capability::Default => {}
        }
    }
    let _ = cap;
    0
}

#[cfg(target_arch = "x86_64")]
mod gelu_kernel {
    use super::{GELU_ADAPTED, GELU_EDGE, GELU_R, GELU_SCALE, GELU_SHIFT};
    use crate::simd::vector::F32s;
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    /// What [`run`] needs beyond [`F32s`], with the same bits at either width.
    trait GeluOps: F32s {
        /// `|self|`: the sign bit cleared.
        unsafe fn abs(self) -> Self;
        /// `self` in the lanes where `0 <= a < GELU_EDGE`, +0 in the others (`a` from
        /// [`GeluOps::abs`]; a NaN `a` gives +0).
        unsafe fn below_edge(self, a: Self) -> Self;
        /// `b - self * a`, rounded once.
        unsafe fn nmadd(self, a: Self, b: Self) -> Self;
    }

    impl GeluOps for __m256 {
        #[inline(always)]
        unsafe fn abs(self) -> Self {
            _mm256_andnot_ps(_mm256_set1_ps(-0.0), self)
        }
        #[inline(always)]
        unsafe fn below_edge(self, a: Self) -> Self {
            // A float compare (ordered: false for NaN) into a vector mask, off the multiply
            // pipes at this width.
            _mm256_and_ps(self, _mm256_cmp_ps::<_CMP_LT_OQ>(a, _mm256_set1_ps(GELU_EDGE)))
        }
        #[inline(always)]
        unsafe fn nmadd(self, a: Self, b: Self) -> Self {
            _mm256_fnmadd_ps(self, a, b)
        }
    }

    impl GeluOps for __m512 {
        #[inline(always)]
        unsafe fn abs(self) -> Self {
            _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(self), _mm512_set1_epi32(0x7FFF_FFFF)))
        }
        #[inline(always)]
        unsafe fn below_edge(self, a: Self) -> Self {
            // `a - GELU_EDGE` on the bits (both non-negative: no overflow), its sign spread
            // over the lane: all ones below the edge.
            let d = _mm512_sub_epi32(_mm512_castps_si512(a), _mm512_set1_epi32(GELU_EDGE.to_bits() as i32));
            _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(self), _mm512_srai_epi32::<31>(d)))
        }
        #[inline(always)]
        unsafe fn nmadd(self, a: Self, b: Self) -> Self {
            _mm512_fnmadd_ps(self, a, b)
        }
    }

    /// `R(|v| - GELU_MID)` by [`gelu_root::<true>`](super::gelu_root)'s operations: the first
    /// part of [`gelu::<true>`](super::gelu), its chain of dependent multiply-adds.
    #[inline(always)]
    unsafe fn tail_root<V: GeluOps>(v: V) -> V {
        // Splats one by one, not `map`: see `sums_by` in norm/row_sums.rs on closures.
        let [a0, a1, a2, a3, a4, a5] = GELU_ADAPTED;
        let (a0, a1, a2, a3, a4, a5) =
            (V::splat(a0), V::splat(a1), V::splat(a2), V::splat(a3), V::splat(a4), V::splat(a5));
        let s = v.abs().fmadd(V::splat(GELU_SCALE), V::splat(GELU_SHIFT));
        let z = s.add(a0).fmadd(s, a1);
        let w = s.add(a2).fmadd(z, a3);
        let q = z.add(a4).add(w).fmadd(w, a5);
        s.fmadd(q, V::splat(GELU_R[0]))
    }

    /// The rest of [`gelu::<true>`](super::gelu) from `r` ([`tail_root`]): with `a = |v|`,
    /// `h = r^8` (0 from the edge on), then `max(-0, v) - a h`.
    #[inline(always)]
    unsafe fn finish<V: GeluOps>(v: V, r: V) -> V {
        let a = v.abs();
        let r2 = r.mul(r);
        let r4 = r2.mul(r2);
        let h = r4.mul(r4).below_edge(a);
        // `max(-0, v)` is -0 for v < 0 and v otherwise (NaN included): the scalar's `base`
        a.nmadd(h, V::max(V::splat(-0.0), v))
    }

    /// Values per chunk of [`run`]'s two passes (a 2 KiB buffer, in L1).
    const CHUNK: usize = 512;

    /// `gelu::<true>` over the whole vectors of `x`; returns how many values.
    ///
    /// With `TWO_PASSES`, per [`CHUNK`] values: first every vector's `r` ([`tail_root`]) into a
    /// buffer, then from it the rest ([`finish`]); the same operations, so the same bits. One
    /// vector's chain is ~46 cycles long (abs 1, add 3, 7 multiply-adds 28, 3 squarings 9, mask 1,
    /// multiply-add 4) for 16 vector instructions. At AVX2's width the one-pass loop ran at 7.6
    /// cycles per 8 lanes (one thread, 500,000 values) where its 11 multiply-pipe instructions take
    /// 5.5; removing instructions (wrong values, to measure) saved 0.25-0.75 cycles each on either
    /// kind of pipe, and two or four vectors per iteration or Estrin's scheme were no faster
    /// (7.9-9.0 against 8.3 in L1). Most likely too few of the chains' waiting instructions fit in
    /// Zen 4's out-of-order window (a loop of 14 dependent multiply-adds per loaded vector ran at
    /// 0.63 cycles per multiply-add, independent ones at 0.50). In two passes each chain is
    /// shorter: 6.6 cycles per 8 lanes (8.3 -> 7.4 with the data in L1; three passes: 7.1-7.3). At
    /// AVX-512's width the loop is bound by the multiply pipes (a 512-bit instruction takes both):
    /// 12.7 -> 12.4 cycles per 16 lanes from the L2 and 12.5 -> 13.2 from L1, so that width keeps
    /// one pass. (Those measurements are of Horner's rule for `R`. Since `gelu_root`'s adapted
    /// coefficients, 5 multiply-adds and 4 additions where Horner took 7 multiply-adds, the
    /// chain is ~27 cycles to `r`; one thread over 16,384 values in the L2 took 0.230 -> 0.197
    /// ns per value at AVX-512 and 0.245 -> 0.230 at AVX2; AVX2 still gains from two passes,
    /// 128.6 against 136.7 us for `gelu_1000x1000` in one, and AVX-512 still loses, 108.3
    /// against 98.2.)
    #[inline(always)]
    unsafe fn run<V: GeluOps, const TWO_PASSES: bool>(x: &[f32], out: &mut [MaybeUninit<f32>]) -> usize {
        let n = x.len() - x.len() % V::N;
        let (px, po) = (x.as_ptr(), out.as_mut_ptr().cast::<f32>());
        if !TWO_PASSES {
            for i in (0..n).step_by(V::N) {
                let v = V::load(px.add(i));
                finish(v, tail_root(v)).store(po.add(i));
            }
            return n;
        }
        let mut roots = [0.0f32; CHUNK];
        for c0 in (0..n).step_by(CHUNK) {
            let len = CHUNK.min(n - c0);
            for i in (0..len).step_by(V::N) {
                tail_root(V::load(px.add(c0 + i))).store(roots.as_mut_ptr().add(i));
            }
            for i in (0..len).step_by(V::N) {
                let v = V::load(px.add(c0 + i));
                finish(v, V::load(roots.as_ptr().add(i))).store(po.add(c0 + i));
            }
        }
        n
    }

    /// [`run`] on `__m512`. Safety: the CPU has AVX-512 F, BW, VL and DQ, AVX2 and FMA.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
    pub(super) unsafe fn w16(x: &[f32], out: &mut [MaybeUninit<f32>]) -> usize {
        run::<__m512, false>(x, out)
    }

    /// [`run`] on `__m256`. Safety: the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn w8(x: &[f32], out: &mut [MaybeUninit<f32>]) -> usize {
        run::<__m256, true>(x, out)
    }
}

/// `erf x`: `x P(x^2)` for `|x| < 1` (degree 6 in `x^2`, relative error 1.3e-9), else
/// `sign(x) (1 - e^(-x^2 + g(|x|)))` with `g(x) = ln(erfc(x) e^(x^2))` by a degree-9
/// polynomial in `|x| - 2.5` (absolute error 5e-9); +-1 beyond |x| = 3.92. Both fitted for
/// this kernel.
#[inline(always)]
pub fn erf<const FMA: bool>(x: f32) -> f32 {
    erf_lanes::<FMA, 1>([x])[0]
}

/// [`erf`] of `N` values in lockstep (as [`exp_lanes`]; the same bits). A vector computes
/// both of `erf`'s forms for every lane and keeps one: three chains of dependent operations
/// (two polynomials and an `exp`), which four runs side by side overlap.
#[inline(always)]
pub fn erf_lanes<const FMA: bool, const N: usize>(x: [f32; N]) -> [f32; N] {
    let small = horner_lanes::<FMA, N>(
        x.map(|v| v * v),
        &[
            std::f32::consts::FRAC_2_SQRT_PI,
            -0.376_126_26,
            0.112_835_85,
            -0.026_853_81,
            0.005_188_326,
            -8.010_176e-4,
            7.853_799e-5,
        ],
    );
    let ac = x.map(|v| v.abs().min(3.92));
    let g = horner_lanes::<FMA, N>(
        ac.map(|a| a - 2.5),
        &[
            -1.556_815_3,
            -0.352_680_73,
            0.056_106_36,
            -0.010_858_22,
            0.002_165_166,
            -4.206_192e-4,
            7.739_043e-5,
            -1.302_815_4e-5,
            1.614_948e-6,
            -5.554_838e-8,
        ],
    );
    let erfc = exp_lanes::<FMA, N>(from_fn(|i| madd::<FMA>(-ac[i], ac[i], g[i])));
    from_fn(|i| {
        let (x, a) = (x[i], x[i].abs());
        let big = if a >= 3.92 { 1.0 } else { 1.0 - erfc[i] };
        let big = f32::from_bits(big.to_bits() | (x.to_bits() & 0x8000_0000));
        if a < 1.0 {
            x * small[i]
        } else if x.is_nan() {
            x
        } else {
            big
        }
    })
}

/// `a * b + c` in f64, fused when `FMA` (see [`madd`]).
#[inline(always)]
fn madd64<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `c0 + c1 x + ... + c7 x^7` in f64 by Estrin's scheme: pairs `c[2i] + c[2i+1] x`, then
/// pairs of those with `x^2`, then with `x^4`: a chain of three multiply-adds after the
/// squarings instead of Horner's seven (its rounding differs from Horner's in the last bits
/// of the f64, far below an f32's).
#[inline(always)]
fn estrin64_8<const FMA: bool>(x: f64, c: [f64; 8]) -> f64 {
    let (x2, m) = (x * x, |a, b, c| madd64::<FMA>(a, b, c));
    let x4 = x2 * x2;
    let lo = m(m(c[3], x, c[2]), x2, m(c[1], x, c[0]));
    let hi = m(m(c[7], x, c[6]), x2, m(c[5], x, c[4]));
    m(hi, x4, lo)
}

/// `ln a` for `N` positive, finite, normal f64 values (every nonzero f32 magnitude is one;
/// other inputs give values the caller must replace), without branches or calls, so that
/// it vectorises: `a = 2^k m` with `m` in `[sqrt(1/2), sqrt(2))`, and `ln m = 2 atanh(f) =
/// 2 f (1 + f^2/3 + f^4/5 + ... + f^20/21)` with `f = (m - 1)/(m + 1)`, `|f| <= 0.172`
/// (eleven terms by Horner's rule, truncation error below 3e-17 relatively), plus `k ln 2`.
/// About an f64 ulp from the correctly rounded logarithm.
#[inline(always)]
pub fn ln64_lanes<const FMA: bool, const N: usize>(a: [f64; N]) -> [f64; N] {
    const TWO52: f64 = 4_503_599_627_370_496.0; // 2^52
                                                // k = the biased exponent - 1023, read as a float (the field placed in 2^52's
                                                // significand), m in [1, 2), then in [sqrt(1/2), sqrt(2)).
    let km: [(f64, f64); N] = from_fn(|i| {
        let bits = a[i].to_bits();
        let k = f64::from_bits((bits >> 52) | TWO52.to_bits()) - (TWO52 + 1023.0);
        let m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 1f64.to_bits());
        if m > std::f64::consts::SQRT_2 {
            (k + 1.0, m * 0.5)
        } else {
            (k, m)
        }
    });
    from_fn(|i| {
        let f = (km[i].1 - 1.0) / (km[i].1 + 1.0);
        let f2 = f * f;
        let mut p = 1.0 / 21.0;
        for d in [19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
            p = madd64::<FMA>(p, f2, 1.0 / d);
        }
        madd64::<FMA>(km[i].0, std::f64::consts::LN_2, 2.0 * f * p)
    })
}

/// `(sin t, cos t)` for `N` f64 values with `|t| < 2^20`, without branches or calls: `t = q
/// pi/2 + r` (`q` the nearest integer, `pi/2` in two parts, the first of 33 bits so that
/// `q` times it is exact), `|r| <= pi/4`, then the polynomials of fdlibm's `__kernel_sin`
/// and `__kernel_cos` (errors below 2^-58 there) and the quadrant's swap and signs.
/// About an f64 ulp from the correctly rounded values.
#[inline(always)]
pub fn sincos64_lanes<const FMA: bool, const N: usize>(t: [f64; N]) -> ([f64; N], [f64; N]) {
    const SHIFTER: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer
    const PIO2_HI: f64 = 1.570_796_326_734_125_6; // the first 33 bits of pi/2
    const PIO2_LO: f64 = 6.077_100_506_506_192e-11; // pi/2 - PIO2_HI
    const S: [f64; 6] = [
        -1.666_666_666_666_663_2e-1,
        8.333_333_333_322_49e-3,
        -1.984_126_982_985_795e-4,
        2.755_731_370_707_007e-6,
        -2.505_076_025_340_686_3e-8,
        1.589_690_995_211_55e-10,
    ];
    const C: [f64; 6] = [
        4.166_666_666_666_66e-2,
        -1.388_888_888_887_411e-3,
        2.480_158_728_947_673e-5,
        -2.755_731_435_139_066_3e-7,
        2.087_572_321_298_175e-9,
        -1.135_964_755_778_819_5e-11,
    ];
    let mut sin = [0.0; N];
    let mut cos = [0.0; N];
    for i in 0..N {
        let qs = madd64::<FMA>(t[i], std::f64::consts::FRAC_2_PI, SHIFTER);
        let q = qs - SHIFTER;
        let quadrant = qs.to_bits() & 3; // the integer's low bits (two's complement mod 4)
        let r = madd64::<FMA>(-q, PIO2_LO, madd64::<FMA>(-q, PIO2_HI, t[i]));
        let z = r * r;
        let ps = madd64::<FMA>(
            madd64::<FMA>(
                madd64::<FMA>(madd64::<FMA>(madd64::<FMA>(S[5], z, S[4]), z, S[3]), z, S[2]),
                z,
                S[1],
            ),
            z,
            S[0],
        );
        let pc = madd64::<FMA>(
            madd64::<FMA>(
                madd64::<FMA>(madd64::<FMA>(madd64::<FMA>(C[5], z, C[4]), z, C[3]), z, C[2]),
                z,
                C[1],
            ),
            z,
            C[0],
        );
        let s = madd64::<FMA>(r * z, ps, r);
        let c = madd64::<FMA>(z * z, pc, madd64::<FMA>(-0.5, z, 1.0));
        // quadrant 0: (s, c); 1: (c, -s); 2: (-s, -c); 3: (-c, s)
        let (a, b) = if quadrant & 1 == 1 { (c, s) } else { (s, c) };
        let sa = if quadrant == 1 || quadrant == 2 { -b } else { b };
        sin[i] = if quadrant >= 2 { -a } else { a };
        cos[i] = sa;
    }
    (sin, cos)
}

/// `x^e` for f32 without branches or library calls, so that a loop over it vectorises:
/// `e^(e ln|x|)` carried in f64, whose ~1e-14 relative error leaves the result rounded to f32
/// correctly except within that distance of a rounding boundary (at most 1 ulp off; the
/// standard library's `powf` is a call per element: 1.5-2.1x PyTorch's time for its `pow`).
/// - `ln|x|` by [`ln64_lanes`] (f32 denormals are normal in f64).
/// - `e^y`, `y = e ln|x|` clamped to `[-110, 90]` (beyond, the f32 result is 0 or inf):
///   `y = n ln2 + r` (`ln2` in two parts), `|r| <= ln2/2`, `e^r` by its Taylor polynomial of
///   degree 10 (error 2e-13), times `2^n` exactly; one rounding to f32 (denormals included).
/// - The IEEE cases, by selects: `x^0 = 1` and `1^e = 1` (even for NaN), `0^e` and `inf^e`
///   through `ln 0 = -inf`, `ln inf = inf`; a negative `x` gives `-|x|^e` for an odd integer
///   `e`, `|x|^e` for an even one, and NaN for a non-integer `e` (unless `x` is -0 or -inf,
///   as `powf`); `(-1)^(+-inf) = 1`; NaN otherwise propagates.
#[inline(always)]
pub fn pow<const FMA: bool>(x: f32, e: f32) -> f32 {
    pow_lanes::<FMA, 1>([x], e)[0]
}

/// [`pow`] of `N` values to one exponent in lockstep (as [`exp_lanes`]; the same bits): its
/// chain of dependent operations (a division, two polynomials, the reductions) is long, and
/// four side by side overlap.
#[inline(always)]
pub fn pow_lanes<const FMA: bool, const N: usize>(x: [f32; N], e: f32) -> [f32; N] {
    const TWO52: f64 = 4_503_599_627_370_496.0; // 2^52
    const SHIFTER: f64 = 1.5 * TWO52; // adding it rounds to an integer
    const LN2_HI: f64 = 0.693_147_180_369_123_8; // 0x3FE62E42FEE00000: n LN2_HI is exact
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let a = x.map(|v| v.abs() as f64);
    let ln_a = ln64_lanes::<FMA, N>(a);
    let y: [f64; N] = from_fn(|i| {
        let ln = if a[i] == 0.0 {
            f64::NEG_INFINITY
        } else if a[i] == f64::INFINITY {
            f64::INFINITY
        } else if a[i].is_nan() {
            f64::NAN
        } else {
            ln_a[i]
        };
        (e as f64 * ln).clamp(-110.0, 90.0) // (NaN stays NaN)
    });
    // y = n ln2 + r: n = round(y / ln2) by the shifter, as a float and (low bits) an integer.
    let t = y.map(|y| madd64::<FMA>(y, std::f64::consts::LOG2_E, SHIFTER));
    let r: [f64; N] = from_fn(|i| {
        let n = t[i] - SHIFTER;
        madd64::<FMA>(n, -LN2_LO, madd64::<FMA>(n, -LN2_HI, y[i]))
    });
    // e^r = sum r^i / i! up to i = 10: the first eight terms by Estrin, then r^8 (the rest).
    const C: [f64; 11] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
    ]; // 1 / i!
    let er: [f64; N] = from_fn(|i| {
        let (r, r2) = (r[i], r[i] * r[i]);
        let tail = madd64::<FMA>(madd64::<FMA>(C[10], r, C[9]), r, C[8]);
        let head = estrin64_8::<FMA>(r, [C[0], C[1], C[2], C[3], C[4], C[5], C[6], C[7]]);
        madd64::<FMA>(tail, (r2 * r2) * (r2 * r2), head)
    });
    // A negative x: the sign for an odd integer e; NaN for a non-integer one.
    let int = e.trunc() == e; // (true for +-inf, false for NaN)
    let odd = int && (e * 0.5).trunc() != e * 0.5;
    from_fn(|i| {
        let ni = (t[i].to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
        let scale = f64::from_bits((ni.wrapping_add(1023) as u64) << 52); // 2^n, n in -159..=130
        let mut out = (er[i] * scale) as f32;
        if a[i] == 1.0 {
            out = 1.0; // 1^e, and (-1)^e before its sign below
        }
        if x[i].is_sign_negative() && odd {
            out = -out;
        }
        if x[i] < 0.0 && x[i] > f32::NEG_INFINITY && !int {
            out = f32::NAN;
        }
        if e == 0.0 {
            out = 1.0;
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Error of `got` against `want` in units of `want`'s f64 ulp.
    fn ulps64(got: f64, want: f64) -> f64 {
        let ulp = f64::from_bits(want.abs().to_bits() + 1) - want.abs();
        (got - want).abs() / ulp
    }

    /// [`ln64_lanes`] against the standard library's `ln` (correctly rounded nearly always)
    /// over f32 magnitudes from denormal to `f32::MAX`, and around the `sqrt(2)` switch and
    /// 1: within 2 f64 ulps, with and without FMA.
    #[test]
    fn ln64_is_within_two_ulps_of_std() {
        let mut xs: Vec<f64> = (0..200_000u32).map(|i| f32::from_bits(1 + i * 10_653) as f64).collect();
        xs.extend([1.0, 0.5, 2.0, std::f64::consts::SQRT_2, 1.0 - 1e-7, 1.0 + 1e-7, 2f64.powi(-24)]);
        xs.extend((1..=1000).map(|i| 1.0 - i as f64 * 2f64.powi(-24)));
        let mut worst = 0.0f64;
        for c in xs.chunks(8) {
            let a: [f64; 8] = std::array::from_fn(|i| c[i % c.len()]);
            for got in [ln64_lanes::<true, 8>(a), ln64_lanes::<false, 8>(a)] {
                for (g, x) in got.iter().zip(a) {
                    let want = x.ln();
                    let e = if want == 0.0 { g.abs() } else { ulps64(*g, want) };
                    assert!(e <= 2.0, "ln({x}) = {g}, std {want}: {e} ulps");
                    worst = worst.max(e);
                }
            }
        }
        assert!(worst > 0.0, "the sweep never reached the last bit");
    }

    /// [`sincos64_lanes`] against the standard library's `sin` and `cos` over `[0, 2 pi)` as
    /// the normal transform reaches it (`f32(2 pi)` times multiples of `2^-24`), negative
    /// arguments and up to 1000, including the f32 values nearest the multiples of `pi/2`
    /// (where a value is tiny and the reduction must not lose it): within 2 f64 ulps, with
    /// and without FMA.
    #[test]
    fn sincos64_is_within_two_ulps_of_std() {
        let two_pi = (2.0 * std::f64::consts::PI) as f32;
        let mut ts: Vec<f64> =
            (0..(1u32 << 24)).step_by(97).map(|i| (two_pi * i as f32 * 2f32.powi(-24)) as f64).collect();
        ts.extend((-3000..3000).map(|i| i as f64 * 0.333_3));
        for q in 1..8 {
            let t = (q as f64 * std::f64::consts::FRAC_PI_2) as f32;
            ts.extend(
                [t, f32::from_bits(t.to_bits() + 1), f32::from_bits(t.to_bits() - 1)].map(|t| t as f64),
            );
        }
        for c in ts.chunks(8) {
            let t: [f64; 8] = std::array::from_fn(|i| c[i % c.len()]);
            for (sin, cos) in [sincos64_lanes::<true, 8>(t), sincos64_lanes::<false, 8>(t)] {
                for i in 0..8 {
                    let (ws, wc) = (t[i].sin(), t[i].cos());
                    let (es, ec) = (ulps64(sin[i], ws), ulps64(cos[i], wc));
                    assert!(
                        es <= 2.0 && ec <= 2.0,
                        "t = {}: sin {} (std {ws}, {es} ulps), cos {} (std {wc}, {ec} ulps)",
                        t[i],
                        sin[i],
                        cos[i]
                    );
                }
            }
        }
    }

    /// Largest error in ulp of the f32 result of `f` against `want` (f64), over `xs`.
    fn worst_ulp(xs: impl Iterator<Item = f32>, f: impl Fn(f32) -> f32, want: impl Fn(f64) -> f64) -> f64 {
        let mut worst = 0.0f64;
        for x in xs {
            let (got, w) = (f(x), want(x as f64));
            if w.is_nan() {
                assert!(got.is_nan(), "{x}: {got} vs NaN");
                continue;
            }
            if w.is_infinite() || (w as f32).is_infinite() {
                assert_eq!(got, w as f32, "{x}");
                continue;
            }
            let a = (w as f32).abs(); // the ulp of the correctly rounded result
            let ulp = f32::from_bits(a.to_bits() + 1) as f64 - a as f64;
            worst = worst.max((got as f64 - w).abs() / ulp);
        }
        worst
    }

    /// Every `step`-th f32 bit pattern between `lo` and `hi` (both signs handled).
    fn sweep(lo: f32, hi: f32, count: usize) -> impl Iterator<Item = f32> {
        let f = |v: f32| -> i64 {
            if v < 0.0 {
                -(v.abs().to_bits() as i64)
            } else {
                v.to_bits() as i64
            }
        };
        let (a, b) = (f(lo), f(hi));
        let step = ((b - a) / count as i64).max(1);
        (0..=count as i64).map(move |i| a + i * step).filter(move |&k| k <= b).map(|k| {
            if k < 0 {
                -f32::from_bits((-k) as u32)
            } else {
                f32::from_bits(k as u32)
            }
        })
    }

    fn both(name: &str, lo: f32, hi: f32, bound: f64, f: fn(f32, bool) -> f32, want: fn(f64) -> f64) {
        for fma in [false, true] {
            let w = worst_ulp(sweep(lo, hi, 400_000), |x| f(x, fma), want);
            assert!(w <= bound, "{name} (fma {fma}): {w} ulp > {bound}");
        }
    }

    #[test]
    fn exp_within_2_ulp_with_denormal_results() {
        both("exp", -110.0, 90.0, 2.0, |x, f| if f { exp::<true>(x) } else { exp::<false>(x) }, f64::exp);
        // e^-100 = 26.5 times the smallest denormal: PyTorch's softmax([0, -100, -90]) has 27.
        assert_eq!(exp::<true>(-100.0).to_bits(), 27);
        assert_eq!(exp::<false>(-100.0).to_bits(), 27);
        assert!(exp::<false>(f32::NAN).is_nan() && exp::<true>(f32::NEG_INFINITY) == 0.0);
        assert_eq!(exp::<true>(f32::INFINITY), f32::INFINITY);
        // The ends without selects: overflow past the clamp, underflow to 0 below it.
        for fma in [false, true] {
            let e = |x: f32| if fma { exp::<true>(x) } else { exp::<false>(x) };
            assert_eq!((e(88.73), e(100.0), e(f32::MAX)), (f32::INFINITY, f32::INFINITY, f32::INFINITY));
            assert_eq!((e(-104.0).to_bits(), e(-200.0).to_bits(), e(f32::MIN).to_bits()), (0, 0, 0));
            assert!(e(88.72) < f32::INFINITY && e(-103.0) > 0.0);
        }
    }

    #[test]
    fn pow_is_correctly_rounded_away_from_ties_and_follows_powf_at_the_special_values() {
        // Against f64's pow (exact enough for an f32 result): within half an ulp and a hair
        // (the f64 path's ~1e-14), over positive x from denormals to f32::MAX, for exponents
        // of either sign, integer or not, with and without FMA.
        for e in [1.5f32, 0.5, -0.5, 3.0, -2.7, 0.1, 7.3, 1.0 / 3.0, 1.0, -1.0, 0.001, 25.5] {
            let f = |x: f32, fma: bool| if fma { pow::<true>(x, e) } else { pow::<false>(x, e) };
            for fma in [false, true] {
                let w = worst_ulp(sweep(0.0, f32::MAX, 200_000), |x| f(x, fma), |x| x.powf(e as f64));
                assert!(w <= 0.501, "pow(x, {e}) (fma {fma}): {w} ulp");
            }
        }
        // The IEEE cases: the bits of the standard library's powf (NaN for NaN), and within
        // an ulp where both are finite and nonzero.
        let xs = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            2.0,
            -2.0,
            0.5,
            -0.5,
            -3.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e-45,
            -1e-45,
            f32::MAX,
            f32::MIN_POSITIVE,
        ];
        let es = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            2.0,
            3.0,
            -3.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            7.0,
            1e10,
            -1e10,
            16_777_215.0, // 2^24 - 1: odd
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        for x in xs {
            for e in es {
                let want = x.powf(e);
                for got in [pow::<true>(x, e), pow::<false>(x, e)] {
                    if want.is_nan() {
                        assert!(got.is_nan(), "pow({x}, {e}) = {got}, want NaN");
                    } else if want == 0.0 || want.is_infinite() || got == 0.0 || got.is_infinite() {
                        assert_eq!(got.to_bits(), want.to_bits(), "pow({x}, {e}) = {got}, want {want}");
                    } else {
                        let rel = ((got as f64 - want as f64) / want as f64).abs();
                        assert!(rel <= f32::EPSILON as f64, "pow({x}, {e}) = {got}, want {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn log2_and_log10_within_bounds_exact_at_powers_of_two() {
        // Over every positive f32 (checked once, with and without FMA): log2 within 1.90 ulp,
        // log10 within 2.04, both worst near x = 1.33-1.40. Here a sweep, and the ends.
        let l2 = |x: f32, f: bool| if f { log2::<true>(x) } else { log2::<false>(x) };
        let l10 = |x: f32, f: bool| if f { log10::<true>(x) } else { log10::<false>(x) };
        both("log2", 0.0, f32::MAX, 2.0, l2, f64::log2);
        both("log10", 0.0, f32::MAX, 2.1, l10, f64::log10);
        both("log10", 0.5, 2.0, 2.1, l10, f64::log10);
        for f in [false, true] {
            // Powers of two, denormals included: exactly their exponent.
            for k in -149..128 {
                assert_eq!(l2((k as f32).exp2(), f), k as f32, "log2(2^{k})");
            }
            assert_eq!((l10(1.0, f), l10(10.0, f), l10(1000.0, f)), (0.0, 1.0, 3.0));
            for l in [l2, l10] {
                assert_eq!((l(0.0, f), l(f32::INFINITY, f)), (f32::NEG_INFINITY, f32::INFINITY));
                assert!(l(-1.0, f).is_nan() && l(f32::NAN, f).is_nan() && l(-0.0, f) == f32::NEG_INFINITY);
            }
        }
    }

    #[test]
    fn ln_and_ln_1p_within_bounds() {
        both("ln", 0.0, f32::MAX, 2.0, |x, f| if f { ln::<true>(x) } else { ln::<false>(x) }, f64::ln);
        assert!((ln::<true>(1e-40) as f64 - (1e-40f32 as f64).ln()).abs() < 1e-5);
        assert_eq!(ln::<false>(0.0), f32::NEG_INFINITY);
        assert!(ln::<true>(-1.0).is_nan() && ln::<true>(f32::NAN).is_nan());
        both(
            "ln_1p",
            -0.999,
            1e30,
            3.0,
            |x, f| if f { ln_1p::<true>(x) } else { ln_1p::<false>(x) },
            f64::ln_1p,
        );
        both(
            "ln_1p",
            -1e-20,
            1e-20,
            3.0,
            |x, f| if f { ln_1p::<true>(x) } else { ln_1p::<false>(x) },
            f64::ln_1p,
        );
        assert_eq!(ln_1p::<true>(-1.0), f32::NEG_INFINITY);
        assert_eq!(ln_1p::<true>(f32::INFINITY), f32::INFINITY);
    }

    #[test]
    fn gelu_root_evaluates_gelu_r() {
        // The adapted coefficients describe the fitted polynomial: in f64 (no rounding but
        // that of the f32 constants) both forms agree to 3e-7 relative on [0, GELU_EDGE],
        // where R lies in [0.10, 0.92]; rounding the six coefficients to f32 accounts for
        // up to 1.7e-7 of it. Any coefficient off by 1e-5 moves them 3.4e-6 or more apart.
        let c = |v: f32| v as f64;
        let [a0, a1, a2, a3, a4, a5] = GELU_ADAPTED.map(c);
        for i in 0..=100_000 {
            let a = c(GELU_EDGE) * i as f64 / 100_000.0;
            let t = a - c(GELU_MID);
            let r = GELU_R.iter().rev().fold(0.0, |p, &k| p * t + c(k));
            let s = a * c(GELU_SCALE) + c(GELU_SHIFT);
            let z = (s + a0) * s + a1;
            let w = (s + a2) * z + a3;
            let p = s * (((z + a4) + w) * w + a5) + c(GELU_R[0]);
            assert!((p - r).abs() <= 3e-7 * r, "a = {a}: adapted {p} vs R {r}");
        }
    }

    #[test]
    fn gelu_slice_gives_the_fma_bits_at_every_capability() {
        use crate::simd::{available, Capability};
        use std::mem::MaybeUninit;
        // Every region of the formula: both signs, the cut (and the floats next to it),
        // zeros, tiny and huge values, infinities and NaNs; 16 * 800 + 5 values, so that
        // both widths leave a rest for the scalar.
        let edge = GELU_EDGE.to_bits();
        let mut x: Vec<f32> = (0..12_000).map(|i| (i as f32 - 6000.0) * 1.3e-3).collect();
        for b in [edge - 1, edge, edge + 1] {
            x.extend([f32::from_bits(b), -f32::from_bits(b)]);
        }
        x.extend([
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            1e30,
            -1e30,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ]);
        x.extend([f32::NAN, -f32::NAN, f32::MIN_POSITIVE, -f32::MIN_POSITIVE]);
        x.extend((0..x.len().next_multiple_of(16) - x.len() + 16 * 50 + 5).map(|i| -20.0 + i as f32 * 0.05));
        for cap in available() {
            let mut out = vec![MaybeUninit::new(0.0f32); x.len()];
            let done = gelu_slice(cap, &x, &mut out);
            let whole = |width: usize| x.len() - x.len() % width;
            let want_done = match cap {
                Capability::Default => 0,
                Capability::Avx2 => whole(8),
                Capability::Avx512 => whole(16),
            };
            assert_eq!(done, want_done, "{cap:?}");
            for (&v, o) in x.iter().zip(&out[..done]) {
                // SAFETY: `gelu_slice` wrote the first `done` values.
                let (got, want) = (unsafe { o.assume_init() }, gelu::<true>(v));
                assert!(
                    got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan(),
                    "{cap:?}: gelu({v}) {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn tanh_erf_and_gelu_within_their_bounds() {
        both("tanh", -12.0, 12.0, 3.0, |x, f| if f { tanh::<true>(x) } else { tanh::<false>(x) }, f64::tanh);
        both(
            "tanh",
            -1e-30,
            1e-30,
            1.0,
            |x, f| if f { tanh::<true>(x) } else { tanh::<false>(x) },
            f64::tanh,
        );
        for fma in [false, true] {
            let t = |x: f32| if fma { tanh::<true>(x) } else { tanh::<false>(x) };
            // Saturation: exactly +-1 from 9.5 on (tanh rounds to 1 in f32 from 9.01).
            assert_eq!((t(9.5), t(20.0), t(f32::MAX), t(f32::INFINITY)), (1.0, 1.0, 1.0, 1.0));
            assert_eq!((t(-9.5), t(f32::NEG_INFINITY)), (-1.0, -1.0));
        }
        assert_eq!(tanh::<true>(-0.0).to_bits(), (-0.0f32).to_bits());
        assert!(tanh::<false>(f32::NAN).is_nan());
        both("erf", -5.0, 5.0, 3.0, |x, f| if f { erf::<true>(x) } else { erf::<false>(x) }, libm::erf);
        assert_eq!(erf::<true>(f32::NEG_INFINITY), -1.0);
        // GELU, x Phi(x), within 5e-6 |gelu(x)| + 1e-7 of its exact value (PyTorch's parity
        // cases allow 1e-5 |want| + 1e-6); from the cut at -5.54 on (Phi < 2^-26 there) -0
        // against |x| Phi(x) < 1e-7.
        for fma in [false, true] {
            let gelu = |x: f32| if fma { gelu::<true>(x) } else { gelu::<false>(x) };
            let (mut worst, mut at) = (0.0f64, 0.0f32);
            for x in (0..=300_000).map(|i| -15.0 + i as f32 * 1e-4).chain(sweep(-1e-30, 1e-30, 1000)) {
                let tail = 0.5 * libm::erfc((x as f64).abs() / std::f64::consts::SQRT_2);
                let want = x as f64 * if x < 0.0 { tail } else { 1.0 - tail };
                let got = gelu(x);
                if x <= -GELU_EDGE {
                    assert!(got.to_bits() == (-0.0f32).to_bits() && want.abs() < 1e-7, "gelu({x}) = {got}");
                } else if x >= GELU_EDGE {
                    assert_eq!(got, x);
                } else if x != 0.0 {
                    let e = (got as f64 - want).abs() / (5e-6 * want.abs() + 1e-7);
                    if e > worst {
                        (worst, at) = (e, x);
                    }
                }
            }
            assert!(worst <= 1.0, "gelu (fma {fma}): {worst} times the bound at {at}");
            eprintln!("gelu (fma {fma}): {worst} times the bound at {at}");
            // the sign of zero as PyTorch's; NaN and both infinities give NaN as in PyTorch
            assert_eq!([gelu(0.0).to_bits(), gelu(-0.0).to_bits()], [0, (-0.0f32).to_bits()]);
            assert!([f32::NAN, f32::INFINITY, f32::NEG_INFINITY].iter().all(|&x| gelu(x).is_nan()));
        }
        assert!(erf::<false>(f32::NAN).is_nan());
    }
}
