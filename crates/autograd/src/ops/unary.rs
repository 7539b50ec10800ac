//! Elementwise functions of one tensor, `y = f(x)`, and their derivatives `dx = g f'(x)`.
//!
//! Most are one line of the table below: the method name (also the `F` function), PyTorch's
//! grad_fn name, what the derivative reads (the `input` x or the `output` y), the sample domain
//! of its catalog entry (`float`: anywhere in [-2, 2]; `positive`), what an integer or bool
//! input does (`to_float`: computed in the default float dtype, as `torch.exp(tensor([1, 2]))`
//! is; `as_is`: the kernel's own dtype rules), and `dx` as a function of the upstream gradient
//! `g` and that value. The kernel is tensor-core's function of the same
//! name. The ops with arguments (`clamp`, `pow_scalar`, scalar arithmetic, `to_dtype`) follow.

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::ops::{one, zip};
use crate::tensor::Tensor;
use torchlet_tensor_core::{DType, Result, Scalar, TensorData};

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
                            one(zip!(g, &self.0, |$g, $s| $d)?)
                        }
                    }
                    let x = unary_ops!(@ints $ints, self.data());
                    let y = x.$name()?;
                    Ok(record(y.clone(), $grad_fn, &[self], || Rule(unary_ops!(@saved $saves, x, y))))
                }
            )*
        }

        /// The table's functions in free-function form, for `F` (`F::tanh(&x)` is `x.tanh()`).
        pub mod functions {
            use crate::tensor::Tensor;
            use torchlet_tensor_core::Result;
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
    (@saved input, $x:ident, $y:ident) => { $x };
    (@saved output, $x:ident, $y:ident) => { $y };
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
    /// `ln(1 + e^x)`, and `x` itself above 20 (PyTorch's threshold). Derivative: `sigmoid(x)`
    /// (exactly 1 above the threshold).
    softplus, "SoftplusBackward0", input, float, as_is => |g, x| if x > T::c(20.0) { g } else { g / (T::ONE + (-x).exp()) };
    /// `ln sigmoid(x) = min(x, 0) - ln(1 + e^-|x|)`. Derivative: `1 - sigmoid(x) = sigmoid(-x)`.
    log_sigmoid, "LogSigmoidBackward0", input, float, as_is => |g, x| g / (T::ONE + x.exp());
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
        one(zip!(g, &self.x, |g, x| if x >= T::c(lo) && x <= T::c(hi) { g } else { T::ZERO })?)
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
    /// (bounds included), 0 outside.
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
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
            let (lo, hi) = (s.pick(&[Some(-0.5), None]), s.pick(&[Some(1.0), None]));
            Case::new([s.sized(&[3, 4])], move |t| t[0].clamp(lo, hi))
        }),
        OpInfo::new("to_dtype", |s| Case::new([s.sized(&[3, 4])], |t| t[0].to_dtype(DType::F64)?.exp())),
    ]);
    ops
}
