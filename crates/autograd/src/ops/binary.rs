//! Elementwise functions of two tensors with NumPy/PyTorch broadcasting, and comparisons.
//!
//! A broadcast input's gradient is summed back over the dimensions it was broadcast along
//! (`sum_to_shape`): if `b` of shape `(4)` was added to `a` of shape `(3, 4)`, each `b_j`
//! was used 3 times and collects 3 gradients.

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::ops::{wanted, zip, zip_real};
use crate::tensor::Tensor;
use smallvec::smallvec;
use std::borrow::Cow;
use torchlet_tensor_core::promote::{result_type, Operand};
use torchlet_tensor_core::{default_dtype, DType, Error, Result, Scalar, Shape, TensorData};

/// `y = a + b`: `da = g`, `db = g` (`sign = 1`); `y = a - b`: `db = -g` (`sign = -1`).
struct AddSub {
    a: Shape,
    b: Shape,
    sign: f64,
}
impl Backward for AddSub {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let ga = wanted(needs[0], || g.sum_to_shape(&self.a))?;
        let gb =
            wanted(needs[1], || if self.sign < 0.0 { g.neg()? } else { g.clone() }.sum_to_shape(&self.b))?;
        Ok(smallvec![ga, gb])
    }
}

/// `y = a * b`: `da = g b`, `db = g a`.
struct Mul {
    a: TensorData,
    b: TensorData,
}
impl Backward for Mul {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let ga = wanted(needs[0], || by_number(g, &self.b, TensorData::mul)?.sum_to_shape(self.a.shape()))?;
        let gb = wanted(needs[1], || by_number(g, &self.a, TensorData::mul)?.sum_to_shape(self.b.shape()))?;
        Ok(smallvec![ga, gb])
    }
}

/// `op(g, c)` for a gradient `g` and a factor `c` of the backward rule. Where `g` is one value
/// broadcast to its shape (all strides 0: the gradient of a `sum` or `mean`, before any
/// elementwise rule) and `c` is a single number, the result is one value too: `op` runs on
/// that value alone and the result is broadcast the same way (a view), instead of a tensor
/// of equal values being written in full. The same value and dtype: `(0.5 * t).mean()` gives
/// `t` the gradient `0.5 / n` everywhere either way.
fn by_number(
    g: &TensorData,
    c: &TensorData,
    op: impl Fn(&TensorData, &TensorData) -> Result<TensorData>,
) -> Result<TensorData> {
    let uniform = g.numel() > 1 && g.layout().strides.iter().all(|&s| s == 0);
    if uniform && c.numel() == 1 && c.ndim() <= g.ndim() {
        let first = (0..g.ndim()).try_fold(g.clone(), |t, d| t.narrow(d as isize, 0, 1))?;
        return op(&first, c)?.expand(g.shape().clone());
    }
    op(g, c)
}

/// `y = a / b`: `da = g / b`, `db = -g a / b^2`.
struct Div {
    a: TensorData,
    b: TensorData,
}
impl Backward for Div {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let g_b = by_number(g, &self.b, TensorData::div)?;
        let gb = wanted(needs[1], || g_b.mul(&self.a)?.div(&self.b)?.neg()?.sum_to_shape(self.b.shape()))?;
        let ga = wanted(needs[0], || g_b.sum_to_shape(self.a.shape()))?;
        Ok(smallvec![ga, gb])
    }
}

/// `y = a^b`: `da = g b a^(b-1)` (0 where `b = 0`), `db = g y ln a` (0 where `a = 0` and
/// `b >= 0`): PyTorch's masks, so `0^0` has gradient 0 rather than NaN.
struct Pow {
    a: TensorData,
    b: TensorData,
    y: TensorData,
}
impl Backward for Pow {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let (a, b, y) = (&self.a, &self.b, &self.y);
        let ga = wanted(needs[0], || {
            let d = if b.ndim() == 0 && b.dtype().is_float() {
                // One exponent: `b * a^(b - 1)` through `pow_scalar`'s shortcuts (`b = 3`:
                // `3 (a a)`), as PyTorch's `pow_backward` for a number does it.
                match b.item()? {
                    0.0 => a.zeros_like(),
                    e => a.pow_scalar(e - 1.0)?.mul_scalar(e)?,
                }
            } else {
                zip_real!(b, a, |b, a| if b == T::ZERO { T::ZERO } else { b * a.powf(b - T::ONE) })?
            };
            g.mul(&d)?.sum_to_shape(a.shape())
        })?;
        let gb = wanted(needs[1], || {
            let ln_a = zip_real!(a, b, |a, b| if a == T::ZERO && b >= T::ZERO { T::ZERO } else { a.ln() })?;
            g.mul(y)?.mul(&ln_a)?.sum_to_shape(b.shape())
        })?;
        Ok(smallvec![ga, gb])
    }
}

/// `y = max(a, b)` (or min): the gradient goes to the winner, half to each on ties, and in
/// full to both where either is NaN (PyTorch's rule: `where(a == b, g/2, g)`, zeroed only
/// where the other input won).
struct Extremum {
    a: TensorData,
    b: TensorData,
    max: bool,
}
impl Backward for Extremum {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let (a, b, max) = (&self.a, &self.b, self.max);
        // weight of the first input: 1/2 on ties, 0 where the other won, else 1
        let share = |x: &TensorData, y: &TensorData| {
            zip!(x, y, |x, y| if x == y {
                T::c(0.5)
            } else if (max && x < y) || (!max && x > y) {
                T::ZERO
            } else {
                T::ONE
            })
        };
        let ga = wanted(needs[0], || g.mul(&share(a, b)?)?.sum_to_shape(a.shape()))?;
        let gb = wanted(needs[1], || g.mul(&share(b, a)?)?.sum_to_shape(b.shape()))?;
        Ok(smallvec![ga, gb])
    }
}

/// `y = cond ? a : b`: `a` gets `g` where `cond` holds, `b` where it does not.
struct Where {
    cond: TensorData,
    a: Shape,
    b: Shape,
}
impl Backward for Where {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let z = g.zeros_like();
        let ga = wanted(needs[0], || TensorData::where_cond(&self.cond, g, &z)?.sum_to_shape(&self.a))?;
        let gb = wanted(needs[1], || TensorData::where_cond(&self.cond, &z, g)?.sum_to_shape(&self.b))?;
        Ok(smallvec![ga, gb])
    }
}

/// The second operand of a binary op: a tensor (`&y`) or a number (`2`, `0.5`, `true`), so
/// `x.add(&y)` and `x.add(2)` read like PyTorch's `x.add(y)` and `x.add(2)`.
#[derive(Clone, Copy, Debug)]
pub enum Other<'a> {
    /// A tensor.
    Tensor(&'a Tensor),
    /// A number, which promotes as a Python number does (see `torchlet_tensor_core::promote`).
    Scalar(Scalar),
}

impl<'a> From<&'a Tensor> for Other<'a> {
    fn from(t: &'a Tensor) -> Self {
        Other::Tensor(t)
    }
}

macro_rules! other_from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Other<'_> {
            fn from(x: $t) -> Self {
                Other::Scalar(Scalar::from(x))
            }
        }
    )*};
}
other_from_number!(f64, f32, i64, i32, usize, bool, Scalar);

/// Which binary op: decides the result dtype (true division is float) and the rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
}

impl Tensor {
    /// `self` as dtype `dt` (differentiable between floats): `self` itself when already of
    /// it, borrowed.
    fn cast(&self, dt: DType) -> Result<Cow<'_, Tensor>> {
        Ok(if self.dtype() == dt { Cow::Borrowed(self) } else { Cow::Owned(self.to_dtype(dt)?) })
    }

    /// Both operands promoted to their result dtype (PyTorch's type promotion; a number
    /// becomes a constant 0-d tensor), then `f` on them.
    fn promoted(
        &self,
        other: Other<'_>,
        kind: Kind,
        f: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let a = self.with_data(|d| d.operand());
        let b = match other {
            Other::Tensor(t) => t.with_data(|d| d.operand()),
            Other::Scalar(s) => Operand::Number(s),
        };
        let is_bool = |o: Operand| {
            matches!(
                o,
                Operand::Tensor(DType::Bool)
                    | Operand::ZeroDim(DType::Bool)
                    | Operand::Number(Scalar::Bool(_))
            )
        };
        if kind == Kind::Sub && (is_bool(a) || is_bool(b)) {
            return Err(Error::dtype("sub", "numeric operands (subtraction with a bool tensor is not supported; to invert a mask use logical_not)", DType::Bool, "; convert with .to_dtype(DType::I64) to subtract 0/1 values"));
        }
        let mut rt = result_type(&[a, b]).unwrap_or(self.dtype());
        if (kind == Kind::Div && !rt.is_float()) || (kind == Kind::Pow && rt == DType::Bool) {
            rt = if kind == Kind::Div { default_dtype() } else { DType::I64 };
        }
        let b = match other {
            Other::Tensor(t) => t.cast(rt)?,
            Other::Scalar(s) => Cow::Owned(Tensor::from_data(TensorData::from_scalar(s, rt))),
        };
        f(&*self.cast(rt)?, &b)
    }

    /// The op on two operands of one dtype, recorded with its rule. (`self`'s value is read
    /// in place: the rule, built only when a gradient is tracked, takes its own copy.)
    fn same_dtype(&self, b: &Tensor, kind: Kind, name: &'static str) -> Result<Tensor> {
        let y = b.data();
        let add_sub = |sign| AddSub { a: self.shape(), b: y.shape().clone(), sign };
        let out = self.with_data(|x| match kind {
            Kind::Add => x.add(&y),
            Kind::Sub => x.sub(&y),
            Kind::Mul => x.mul(&y),
            Kind::Div => x.div(&y),
            Kind::Max => x.maximum(&y),
            Kind::Min => x.minimum(&y),
            Kind::Pow => {
                // A constant exponent takes the fast path (x * x for 2).
                if y.ndim() == 0 && !b.requires_grad() && y.dtype().is_float() {
                    x.pow_scalar(y.item()?)
                } else {
                    x.pow(&y)
                }
            }
        })?;
        let inputs = [self, b];
        Ok(match kind {
            Kind::Add => record(out, name, &inputs, || add_sub(1.0)),
            Kind::Sub => record(out, name, &inputs, || add_sub(-1.0)),
            Kind::Mul => record(out, name, &inputs, || Mul { a: self.data(), b: y.clone() }),
            Kind::Div => record(out, name, &inputs, || Div { a: self.data(), b: y.clone() }),
            Kind::Max => record(out, name, &inputs, || Extremum { a: self.data(), b: y.clone(), max: true }),
            Kind::Min => record(out, name, &inputs, || Extremum { a: self.data(), b: y.clone(), max: false }),
            Kind::Pow => record(out.clone(), name, &inputs, || Pow { a: self.data(), b: y.clone(), y: out }),
        })
    }

    /// `self + other` (a tensor or a number) with broadcasting and type promotion.
    /// Derivative: 1 for both.
    pub fn add<'a>(&self, other: impl Into<Other<'a>>) -> Result<Tensor> {
        self.promoted(other.into(), Kind::Add, |a, b| a.same_dtype(b, Kind::Add, "AddBackward0"))
    }

    /// `self - other`. Derivatives: 1, -1.
    pub fn sub<'a>(&self, other: impl Into<Other<'a>>) -> Result<Tensor> {
        self.promoted(other.into(), Kind::Sub, |a, b| a.same_dtype(b, Kind::Sub, "SubBackward0"))
    }

    /// `other - self` (`2 - x`). Derivative: -1.
    pub fn rsub<'a>(&self, other: impl Into<Other<'a>>) -> Result<Tensor> {
        self.promoted(other.into(), Kind::Sub, |a, b| b.same_dtype(a, Kind::Sub, "RsubBackward1"))
    }

    /// `self * other`. Derivatives: `other`, `self`.
    pub fn mul<'a>(&self, other: impl Into<Other<'a>>) -> Result<Tensor> {
        self.promoted(other.into(), Kind::Mul, |a, b| a.same_dtype(b, Kind::Mul, "MulBackward0"))
    }

    /// `self / other`, true division (integers divide as the default float dtype).
    /// Derivatives: `1 / other`, `-self / other^2`.
    pub fn div<'a>(&self, other: impl Into<Other<'a>>) -> Result<Tensor> {
        self.promoted(other.into(), Kind::Div, |a, b| a.same_dtype(b, Kind::Div, "DivBackward0"))
    }

    /// `other / self` (`2 / x`). Derivative: `-other / self^2`.
    pub fn rdiv<'a>(&self, other: impl Into<Other<'a>>) -> Result<Tensor> {
        self.promoted(other.into(), Kind::Div, |a, b| b.same_dtype(a, Kind::Div, "DivBackward0"))
    }

    /// `self ** exponent` (a tensor or a number). Derivatives: `b a^(b-1)` (0 where `b = 0`),
    /// `y ln a` (0 at `0^b` for `b >= 0`).
    pub fn pow<'a>(&self, exponent: impl Into<Other<'a>>) -> Result<Tensor> {
        let e = exponent.into();
        let name = if matches!(e, Other::Scalar(_)) { "PowBackward0" } else { "PowBackward1" };
        self.promoted(e, Kind::Pow, |a, b| a.same_dtype(b, Kind::Pow, name))
    }

    /// `base ** self` for a number `base` (`10 ** lre`). Derivative: `base^x ln(base)`.
    pub fn rpow(&self, base: impl Into<Scalar>) -> Result<Tensor> {
        self.promoted(Other::Scalar(base.into()), Kind::Pow, |a, b| {
            b.same_dtype(a, Kind::Pow, "PowBackward2")
        })
    }

    /// `max(self, other)` elementwise. Derivative: to the larger, split on ties.
    pub fn maximum<'a>(&self, other: impl Into<Other<'a>>) -> Result<Tensor> {
        self.promoted(other.into(), Kind::Max, |a, b| a.same_dtype(b, Kind::Max, "MaximumBackward0"))
    }

    /// `min(self, other)` elementwise. Derivative: to the smaller, split on ties.
    pub fn minimum<'a>(&self, other: impl Into<Other<'a>>) -> Result<Tensor> {
        self.promoted(other.into(), Kind::Min, |a, b| a.same_dtype(b, Kind::Min, "MinimumBackward0"))
    }

    /// `cond ? a : b` elementwise with broadcasting (`torch.where(cond, a, b)`); `cond` is a
    /// bool tensor (a comparison's result), `a` and `b` tensors or numbers, promoted together.
    /// Derivative: `a` gets `g` where `cond` holds, `b` where it does not.
    pub fn where_cond<'a, 'b>(
        cond: &Tensor,
        a: impl Into<Other<'a>>,
        b: impl Into<Other<'b>>,
    ) -> Result<Tensor> {
        let (a, b) = (a.into(), b.into());
        let operand = |o: Other<'_>| match o {
            Other::Tensor(t) => t.data().operand(),
            Other::Scalar(s) => Operand::Number(s),
        };
        let rt = result_type(&[operand(a), operand(b)]).unwrap_or(DType::F32);
        fn leaf(o: Other<'_>, rt: DType) -> Result<Cow<'_, Tensor>> {
            match o {
                Other::Tensor(t) => t.cast(rt),
                Other::Scalar(s) => Ok(Cow::Owned(Tensor::from_data(TensorData::from_scalar(s, rt)))),
            }
        }
        let (a, b) = (leaf(a, rt)?, leaf(b, rt)?);
        let (c, x, y) = (cond.data(), a.data(), b.data());
        let out = TensorData::where_cond(&c, &x, &y)?;
        let rule = || Where { cond: c.clone(), a: x.shape().clone(), b: y.shape().clone() };
        Ok(record(out, "WhereBackward0", &[&*a, &*b], rule))
    }
}

/// Comparisons, computed in the promoted dtype, returning bool tensors (no gradient).
macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                pub fn $name<'a>(&self, other: impl Into<Other<'a>>) -> Result<Tensor> {
                    Ok(Tensor::from_data(match other.into() {
                        Other::Tensor(t) => self.data().$name(&t.data())?,
                        Other::Scalar(s) => self.with_data(|a| a.with_number(s, |a, b| a.$name(b)))?,
                    }))
                }
            )*
        }
    };
}

comparisons! {
    /// `self == other` elementwise, as a bool tensor (`x.eq(&y)`, `x.eq(0)`).
    eq;
    /// `self != other` elementwise, as a bool tensor.
    ne;
    /// `self < other` elementwise, as a bool tensor.
    lt;
    /// `self <= other` elementwise, as a bool tensor.
    le;
    /// `self > other` elementwise, as a bool tensor.
    gt;
    /// `self >= other` elementwise, as a bool tensor.
    ge;
}

/// `(m, n)` and a shape that broadcasts with it: `()`, `(n)`, `(m, 1)`, `(1, n)` or `(m, n)`.
fn pair(s: &mut Sampler) -> (Vec<usize>, Vec<usize>) {
    let (m, n) = (s.size(3), s.size(4));
    let other = s.pick(&[vec![], vec![n], vec![m, 1], vec![1, n], vec![m, n]]);
    if s.flag() {
        (vec![m, n], other)
    } else {
        (other, vec![m, n])
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        OpInfo::new("add", |s| {
            let (a, b) = pair(s);
            Case::new([s.float(&a), s.float(&b)], |t| t[0].add(&t[1]))
        }),
        OpInfo::new("sub", |s| {
            let (a, b) = pair(s);
            Case::new([s.float(&a), s.float(&b)], |t| t[0].sub(&t[1]))
        }),
        OpInfo::new("mul", |s| {
            let (a, b) = pair(s);
            Case::new([s.float(&a), s.float(&b)], |t| t[0].mul(&t[1]))
        }),
        OpInfo::new("div", |s| {
            let (a, b) = pair(s);
            Case::new([s.float(&a), s.positive(&b)], |t| t[0].div(&t[1]))
        }),
        OpInfo::new("pow", |s| {
            let (a, b) = pair(s);
            Case::new([s.positive(&a), s.float(&b)], |t| t[0].pow(&t[1]))
        }),
        OpInfo::new("maximum", |s| {
            let (a, b) = pair(s);
            Case::new([s.float(&a), s.float(&b)], |t| t[0].maximum(&t[1]))
        }),
        OpInfo::new("minimum", |s| {
            let (a, b) = pair(s);
            Case::new([s.float(&a), s.float(&b)], |t| t[0].minimum(&t[1]))
        }),
        OpInfo::new("where_cond", |s| {
            let (a, b) = pair(s);
            let cond = Tensor::from_data(s.mask(&a, 0.5));
            Case::new([s.float(&a), s.float(&b)], move |t| Tensor::where_cond(&cond, &t[0], &t[1]))
        }),
    ]
}
