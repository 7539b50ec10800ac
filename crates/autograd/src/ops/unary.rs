//! Elementwise functions of one tensor, `y = f(x)`, and their derivatives `dx = g f'(x)`.
//!
//! Most are one line of the table below: the method name (also the `F` function), PyTorch's
//! grad_fn name, what the derivative reads (the `input` x or the `output` y), the sample domain
//! of its catalog entry (`float`: anywhere in [-2, 2]; `positive`), what an integer or bool
//! input does (`to_float`: computed in the default float dtype, as `torch.exp(tensor([1, 2]))`
//! is; `as_is`: the kernel's own dtype rules), and `dx` as a function of the upstream gradient
//! `g` and that value, written over tensor-core's `Real` (`zip_real!`) so that the `exp`,
//! `tanh` or `erf` in a rule runs the same vectorised f32 math as the forward (with the
//! standard library's, `exp` in a plain closure was a scalar call per element: GELU's forward
//! and backward on (1000, 1000) took 5.5 ms against PyTorch's 1.0). The kernel is
//! tensor-core's function of the same name. The ops with arguments follow: `gelu_with` (`approximate`), `leaky_relu`
//! (`negative_slope`), `softplus_with` (`beta`, `threshold`), `clamp`, `pow_scalar`, scalar
//! arithmetic, `to_dtype`; their `F` forms are in [`option_functions`].

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, record_keeping, Backward, Grads};
use crate::ops::{one, zip_real};
use crate::tensor::Tensor;
use torchlet_tensor_core::{DType, Error, Result, Scalar, TensorData, GELU_TANH_BETA, GELU_TANH_KAPPA};

/// Generates, for each line: the `Tensor` method, its backward rule, the `F` function in
/// [`functions`], and the catalog entry.
macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident, $grad_fn:literal, $saves:ident, $domain:ident, $ints:ident => |$g:ident, $s:ident| $d:expr;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Result<Tensor> {
                    struct Rule(TensorData);
                    impl Backward for Rule {
                        fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
                            one(zip_real!(g, &self.0, |$g, $s| $d)?)
                        }
                    }
                    let x = unary_ops!(@ints $ints, self.data());
                    let y = x.$name()?;
                    Ok(record_keeping(y, $grad_fn, &[self], |y| Rule(unary_ops!(@saved $saves, x, y))))
                }
            )*
        }

        /// The table's functions in free-function form, for `F` (`F::tanh(&x)` is `x.tanh()`),
        /// and those with options ([`option_functions`]).
        pub mod functions {
            use crate::tensor::Tensor;
            use torchlet_tensor_core::Result;
            pub use super::option_functions::*;
            $(
                $(#[$doc])*
                pub fn $name(x: &Tensor) -> Result<Tensor> {
                    x.$name()
                }
            )*
        }

        fn table_catalog() -> Vec<OpInfo> {
            vec![$(OpInfo::new(stringify!($name), |s: &mut Sampler| {
                let shape = [s.size(2), s.size(5)];
                Case::new([s.$domain(&shape)], |t| t[0].$name())
            })),*]
        }
    };
    (@ints to_float, $x:expr) => {{
        let x = $x;
        if x.dtype().is_float() { x } else { x.to_dtype(torchlet_tensor_core::default_dtype()) }
    }};
    (@ints as_is, $x:expr) => { $x };
    (@saved input, $x:ident, $y:ident) => {{ let _ = $y; $x }};
    (@saved output, $x:ident, $y:ident) => { $y.clone() };
}

unary_ops! {
    /// `e^x`. Derivative: `d/dx e^x = e^x = y`.
    exp, "ExpBackward0", output, float, to_float => |g, y| g * y;
    /// Natural log. Derivative: `1 / x`.
    log, "LogBackward0", input, positive, to_float => |g, x| g / x;
    /// `ln(1 + x)`, accurate near 0. Derivative: `1 / (1 + x)`.
    log1p, "Log1PBackward0", input, positive, to_float => |g, x| g / (T::ONE + x);
    /// Square root. Derivative: `1 / (2 sqrt(x)) = 1 / (2y)`.
    sqrt, "SqrtBackward0", output, positive, to_float => |g, y| g / (y + y);
    /// `|x|`. Derivative: `sign(x)`, 0 at 0 (PyTorch's choice).
    abs, "AbsBackward0", input, float, as_is => |g, x| if x > T::ZERO { g } else if x < T::ZERO { -g } else { T::ZERO };
    /// `1 / (1 + e^-x)`. Derivative: `y (1 - y)`.
    sigmoid, "SigmoidBackward0", output, float, to_float => |g, y| g * y * (T::ONE - y);
    /// `max(x, 0)`. Derivative: 1 where `y > 0`, else 0; a NaN passes `g` through (PyTorch's
    /// `threshold_backward` zeroes only where `y <= 0`).
    relu, "ReluBackward0", output, float, as_is => |g, y| if y <= T::ZERO { T::ZERO } else { g };
    /// `tanh(x)`. Derivative: `1 - y^2`.
    tanh, "TanhBackward0", output, float, to_float => |g, y| g * (T::ONE - y * y);
    /// `ln sigmoid(x) = min(x, 0) - ln(1 + e^-|x|)`. Derivative: `1 - sigmoid(x) = sigmoid(-x)`.
    /// (`F.logsigmoid` in PyTorch's spelling: [`crate::ops::unary::option_functions::logsigmoid`].)
    log_sigmoid, "LogSigmoidBackward0", input, float, as_is => |g, x| g / (T::ONE + x.exp());
    /// `1 / sqrt(x)`. Derivative: `-1 / (2 x^(3/2)) = -y^3 / 2`.
    rsqrt, "RsqrtBackward0", output, positive, to_float => |g, y| T::c(-0.5) * g * y * y * y;
    /// Base-10 logarithm. Derivative: `1 / (x ln 10)`.
    log10, "Log10Backward0", input, positive, to_float => |g, x| g / (x * T::c(std::f64::consts::LN_10));
    /// Base-2 logarithm. Derivative: `1 / (x ln 2)`.
    log2, "Log2Backward0", input, positive, to_float => |g, x| g / (x * T::c(std::f64::consts::LN_2));
    /// The Gauss error function. Derivative: `2/sqrt(pi) e^(-x^2)`.
    erf, "ErfBackward0", input, float, to_float => |g, x| g * T::c(std::f64::consts::FRAC_2_SQRT_PI) * (-(x * x)).exp();
    /// GELU, exact: `x Phi(x)` (`Phi` the standard normal CDF, `F.gelu(x)`). Derivative:
    /// `Phi(x) + x phi(x)`, with the density `phi(x) = e^(-x^2/2) / sqrt(2 pi)`.
    gelu, "GeluBackward0", input, float, as_is => |g, x| {
        let cdf = T::c(0.5) * (T::ONE + (x * T::c(std::f64::consts::FRAC_1_SQRT_2)).erf());
        let pdf = T::c(FRAC_1_SQRT_2PI) * (T::c(-0.5) * x * x).exp();
        g * (cdf + x * pdf)
    };
    /// GELU, tanh approximation: `x/2 (1 + t)` with `t = tanh(b (x + k x^3))`, `b = sqrt(2/pi)`,
    /// `k = 0.044715` (`F.gelu(x, approximate="tanh")`). Derivative (product and chain rules):
    /// `(1 + t)/2 + x/2 (1 - t^2) b (1 + 3 k x^2)`.
    gelu_tanh, "GeluBackward0", input, float, as_is => |g, x| {
        let (b, k) = (T::c(GELU_TANH_BETA), T::c(GELU_TANH_KAPPA));
        let t = (b * (x + k * x * x * x)).tanh();
        g * (T::c(0.5) * (T::ONE + t) + T::c(0.5) * x * (T::ONE - t * t) * b * (T::ONE + T::c(3.0) * k * x * x))
    };
    /// SiLU (swish), `x sigmoid(x)`. Derivative: `s + x s (1 - s) = s (1 + x (1 - s))` with
    /// `s = sigmoid(x)`.
    silu, "SiluBackward0", input, float, as_is => |g, x| {
        let s = T::ONE / (T::ONE + (-x).exp());
        g * s * (T::ONE + x * (T::ONE - s))
    };
    /// The sign, -1, 0 or 1 (`torch.sign`; NaN gives 0). Derivative: 0 (PyTorch's, also at 0).
    sign, "SignBackward0", output, float, as_is => |_g, _y| T::ZERO;
    /// Rounds toward -inf (integers unchanged). Derivative: 0 (PyTorch's; a step function).
    floor, "FloorBackward0", output, float, as_is => |_g, _y| T::ZERO;
    /// Rounds toward +inf (integers unchanged). Derivative: 0.
    ceil, "CeilBackward0", output, float, as_is => |_g, _y| T::ZERO;
    /// Rounds to the nearest integer, halves to even (integers unchanged). Derivative: 0.
    round, "RoundBackward0", output, float, as_is => |_g, _y| T::ZERO;
    /// Rounds toward 0 (integers unchanged). Derivative: 0.
    trunc, "TruncBackward0", output, float, as_is => |_g, _y| T::ZERO;
}

/// `1 / sqrt(2 pi)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Which GELU to compute, PyTorch's `approximate=` argument of `F.gelu` and `nn.GELU`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Approximate {
    /// The exact form `x Phi(x)` with erf (`approximate="none"`, the default).
    #[default]
    None,
    /// The tanh approximation (`approximate="tanh"`), as GPT-2 used.
    Tanh,
}

impl std::str::FromStr for Approximate {
    type Err = Error;
    /// `"none"` or `"tanh"`, PyTorch's spellings.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Approximate::None),
            "tanh" => Ok(Approximate::Tanh),
            other => Err(Error::invalid(
                "gelu",
                format!("approximate argument must be either none or tanh, got {other:?}"),
            )),
        }
    }
}

/// `y = leaky_relu(x, a)`: `dx = g` where `x > 0`, else `a g`.
struct LeakyRelu {
    x: TensorData,
    slope: f64,
}
impl Backward for LeakyRelu {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let a = self.slope;
        // Both sides, then a select (which vectorises; a branch per value does not).
        one(zip_real!(g, &self.x, [a], |g, x| {
            let low = g * T::c(a);
            if x > T::ZERO {
                g
            } else {
                low
            }
        })?)
    }
}

/// `y = softplus(x, beta, threshold)`: `dx = g z / (z + 1)` with `z = e^(beta x)` (that is,
/// `g sigmoid(beta x)`), and `g` itself where `beta x > threshold` (where `y = x`).
struct Softplus {
    x: TensorData,
    beta: f64,
    threshold: f64,
}
impl Backward for Softplus {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let (beta, threshold) = (self.beta, self.threshold);
        one(zip_real!(g, &self.x, [beta, threshold], |g, x| {
            let bx = x * T::c(beta);
            if bx > T::c(threshold) {
                g
            } else {
                let z = bx.exp();
                g * z / (z + T::ONE)
            }
        })?)
    }
}

/// `dx = g * s` for a constant `s` (`neg`: `s = -1`).
struct Scale(f64);
impl Backward for Scale {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(if self.0 == -1.0 { g.neg()? } else { g.mul_scalar(self.0)? })
    }
}

/// `d/dx clamp(x, min, max)` = 1 inside `[min, max]` (bounds included), else 0.
struct Clamp {
    x: TensorData,
    lo: f64,
    hi: f64,
}
impl Backward for Clamp {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let (lo, hi) = (self.lo, self.hi);
        one(zip_real!(g, &self.x, [lo, hi], |g, x| if x >= T::c(lo) && x <= T::c(hi) { g } else { T::ZERO })?)
    }
}

/// A dtype cast passes the gradient back in the input's dtype.
struct Cast(DType);
impl Backward for Cast {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(g.to_dtype(self.0))
    }
}

impl Tensor {
    /// GELU in the form `approximate` picks: [`Tensor::gelu`] (exact, the default) or
    /// [`Tensor::gelu_tanh`], like `F.gelu(x, approximate=...)`.
    pub fn gelu_with(&self, approximate: Approximate) -> Result<Tensor> {
        match approximate {
            Approximate::None => self.gelu(),
            Approximate::Tanh => self.gelu_tanh(),
        }
    }

    /// `x` where `x > 0`, else `negative_slope * x`, like `F.leaky_relu(x, negative_slope)`
    /// (PyTorch's default slope is 0.01). Derivative: 1 where `x > 0`, else `negative_slope`.
    pub fn leaky_relu(&self, negative_slope: f64) -> Result<Tensor> {
        let x = self.data();
        let y = x.leaky_relu(negative_slope)?;
        Ok(record(y, "LeakyReluBackward0", &[self], || LeakyRelu { x, slope: negative_slope }))
    }

    /// `ln(1 + e^x)`, a smooth relu, with PyTorch's defaults `beta = 1`, `threshold = 20`:
    /// see [`Tensor::softplus_with`].
    pub fn softplus(&self) -> Result<Tensor> {
        self.softplus_with(1.0, 20.0)
    }

    /// `ln(1 + e^(beta x)) / beta`, and `x` itself where `beta x > threshold`, like
    /// `F.softplus(x, beta, threshold)`. Derivative: `sigmoid(beta x)` (exactly 1 above the
    /// threshold).
    pub fn softplus_with(&self, beta: f64, threshold: f64) -> Result<Tensor> {
        let x = self.data();
        let y = x.softplus_with(beta, threshold)?;
        Ok(record(y, "SoftplusBackward0", &[self], || Softplus { x, beta, threshold }))
    }

    /// `-x`. Derivative: -1.
    pub fn neg(&self) -> Result<Tensor> {
        Ok(record(self.data().neg()?, "NegBackward0", &[self], || Scale(-1.0)))
    }

    /// `x + s` for a number `s` (the same as `add(s)`).
    pub fn add_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.add(s.into())
    }

    /// `x * s` for a number `s` (the same as `mul(s)`).
    pub fn mul_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.mul(s.into())
    }

    /// `x ** e` for a number `e` (the same as `pow(e)`).
    pub fn pow_scalar(&self, e: impl Into<Scalar>) -> Result<Tensor> {
        self.pow(e.into())
    }

    /// Clamps into `[min, max]` (either bound optional). Derivative: 1 inside the range
    /// (bounds included), 0 outside. Both bounds `None` is an error, as in PyTorch.
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            return Err(Error::invalid("clamp", "at least one of min or max must not be None"));
        }
        let x = self.data();
        let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
        Ok(record(x.clamp(min, max)?, "ClampBackward1", &[self], || Clamp { x, lo, hi }))
    }

    /// A copy converted to `dtype`; differentiable between float dtypes (the gradient is cast
    /// back). A cast to an integer dtype is untracked, as in PyTorch.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        let x = self.data();
        let from = x.dtype();
        if !dtype.is_float() {
            return Ok(Tensor::from_data(x.to_dtype(dtype)));
        }
        Ok(record(x.to_dtype(dtype), "ToCopyBackward0", &[self], || Cast(from)))
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    let mut ops = table_catalog();
    ops.extend([
        OpInfo::new("neg", |s| Case::new([s.sized(&[3, 4])], |t| t[0].neg())),
        OpInfo::new("add_scalar", |s| {
            let c = s.scalar(-3.0, 3.0);
            Case::new([s.sized(&[3, 4])], move |t| t[0].add_scalar(c))
        }),
        OpInfo::new("mul_scalar", |s| {
            let c = s.scalar(-3.0, 3.0);
            Case::new([s.sized(&[3, 4])], move |t| t[0].mul_scalar(c))
        }),
        OpInfo::new("pow_scalar", |s| {
            let e = s.pick(&[2.0, 3.0, -1.5, 0.5, 0.0]);
            let shape = [s.size(3), s.size(4)];
            Case::new([s.positive(&shape)], move |t| t[0].pow_scalar(e))
        }),
        // Bounds at -0.5 and 1: the sampler keeps values away from them.
        OpInfo::new("clamp", |s| {
            // Both bounds absent is an error (as in PyTorch), so at least one is given.
            let (lo, hi) = s.pick(&[(Some(-0.5), Some(1.0)), (Some(-0.5), None), (None, Some(1.0))]);
            Case::new([s.sized(&[3, 4])], move |t| t[0].clamp(lo, hi))
        }),
        OpInfo::new("to_dtype", |s| Case::new([s.sized(&[3, 4])], |t| t[0].to_dtype(DType::F64)?.exp())),
        // The kink at 0: the sampler keeps values away from it.
        OpInfo::new("leaky_relu", |s| {
            let a = s.pick(&[0.01, 0.1, -0.5, 2.0]);
            Case::new([s.sized(&[3, 4])], move |t| t[0].leaky_relu(a))
        }),
        // Thresholds above the sample range [-2, 2], and inside it with the switch from
        // softplus to x (a jump) at the points 1 and -0.5 that the sampler avoids.
        OpInfo::new("softplus", |s| {
            let (beta, threshold) = s.pick(&[(1.0, 20.0), (2.0, 20.0), (1.0, 1.0), (2.0, -1.0), (0.5, 0.5)]);
            Case::new([s.sized(&[3, 4])], move |t| t[0].softplus_with(beta, threshold))
        }),
    ]);
    ops
}

/// The elementwise functions with options in free-function form, for `F` (with PyTorch's
/// names: `F::logsigmoid` is `F.logsigmoid`).
pub mod option_functions {
    pub use super::Approximate;
    use crate::tensor::Tensor;
    use torchlet_tensor_core::Result;

    /// `F.gelu(x, approximate=...)`: see [`Tensor::gelu_with`] (`F::gelu(&x)` is the exact form).
    pub fn gelu_with(x: &Tensor, approximate: Approximate) -> Result<Tensor> {
        x.gelu_with(approximate)
    }

    /// `F.leaky_relu(x, negative_slope)`: see [`Tensor::leaky_relu`].
    pub fn leaky_relu(x: &Tensor, negative_slope: f64) -> Result<Tensor> {
        x.leaky_relu(negative_slope)
    }

    /// `F.softplus(x)` with `beta = 1`, `threshold = 20`: see [`Tensor::softplus`].
    pub fn softplus(x: &Tensor) -> Result<Tensor> {
        x.softplus()
    }

    /// `F.softplus(x, beta, threshold)`: see [`Tensor::softplus_with`].
    pub fn softplus_with(x: &Tensor, beta: f64, threshold: f64) -> Result<Tensor> {
        x.softplus_with(beta, threshold)
    }

    /// `F.logsigmoid(x) = ln sigmoid(x)`: see [`Tensor::log_sigmoid`].
    pub fn logsigmoid(x: &Tensor) -> Result<Tensor> {
        x.log_sigmoid()
    }
}
