//! Elementwise kernels with NumPy/PyTorch broadcasting. Each public op dispatches on the
//! dtype once, then runs a monomorphised loop over contiguous slices (or a strided walk
//! for broadcast/non-contiguous operands).

use crate::shape::{for_each_offset2, Shape};
use crate::{with_float, with_numeric, DType, Element, Error, Float, Numeric, Result, TensorData};

impl TensorData {
    /// Applies `f` to every element (`A` must be the tensor's dtype).
    pub fn map<A: Element, O: Element>(&self, f: impl Fn(A) -> O) -> Result<TensorData> {
        self.map_named("map", f)
    }

    /// [`TensorData::map`] for the op `op` (named in its errors).
    pub(crate) fn map_named<A: Element, O: Element>(
        &self,
        op: &'static str,
        f: impl Fn(A) -> O,
    ) -> Result<TensorData> {
        let v = self.values_for::<A>(op)?;
        let mut out: Vec<O> = crate::pool::try_vec_with_capacity(op, self.shape())?;
        out.extend(v.iter().map(|&x| f(x)));
        Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
    }

    /// Combines two tensors elementwise after broadcasting them to a common shape.
    pub fn zip_map<A: Element, B: Element, O: Element>(
        &self,
        other: &TensorData,
        op: &'static str,
        f: impl Fn(A, B) -> O,
    ) -> Result<TensorData> {
        let shape = Shape::broadcast(op, self.shape(), other.shape())?;
        let (sa, sb) = (self.buf_slice::<A>(op)?, other.buf_slice::<B>(op)?);
        // The result's size is checked (and its memory allocated, fallibly) before any work.
        let mut out: Vec<O> = crate::pool::try_vec_with_capacity(op, &shape)?;
        let n = shape.numel();
        let (la, lb) = (&self.layout, &other.layout);
        if n == 0 {
            // Nothing to compute (and an empty view's offset may lie past its buffer).
        } else if la.shape == lb.shape && la.is_contiguous() && lb.is_contiguous() {
            let (xa, xb) = (&sa[la.offset..la.offset + n], &sb[lb.offset..lb.offset + n]);
            out.extend(xa.iter().zip(xb).map(|(&x, &y)| f(x, y)));
        } else if other.numel() == 1 && la.shape == shape && la.is_contiguous() {
            let y = sb[lb.offset];
            out.extend(sa[la.offset..la.offset + n].iter().map(|&x| f(x, y)));
        } else if self.numel() == 1 && lb.shape == shape && lb.is_contiguous() {
            let x = sa[la.offset];
            out.extend(sb[lb.offset..lb.offset + n].iter().map(|&y| f(x, y)));
        } else {
            let (ta, tb) = (la.broadcast_strides(&shape), lb.broadcast_strides(&shape));
            for_each_offset2(shape.dims(), &ta, la.offset, &tb, lb.offset, |i, j| out.push(f(sa[i], sb[j])));
        }
        Ok(TensorData::from_vec_unchecked(out, shape))
    }

    /// The whole buffer as `&[T]`, or a dtype error naming `op`.
    pub(crate) fn buf_slice<T: Element>(&self, op: &'static str) -> Result<&[T]> {
        T::slice(&self.buf).ok_or_else(|| {
            Error::dtype(
                op,
                format!("a tensor of dtype {}", T::DTYPE),
                self.dtype(),
                format!(
                    "; both operands must have the same dtype (convert with .to_dtype(DType::{:?}))",
                    T::DTYPE
                ),
            )
        })
    }

    fn check_same_dtype(&self, other: &TensorData, op: &'static str) -> Result<()> {
        if self.dtype() != other.dtype() {
            return Err(Error::dtype(
                op,
                format!("operands of the same dtype (the first is {})", self.dtype()),
                other.dtype(),
                format!("; convert one with .to_dtype(DType::{:?})", self.dtype()),
            ));
        }
        Ok(())
    }

    fn numeric_binary(&self, other: &TensorData, op: &'static str, kind: Binary) -> Result<TensorData> {
        self.check_same_dtype(other, op)?;
        with_numeric!(self.dtype(), op, |T| binary_kernel::<T>(self, other, op, kind))
    }

    /// `self + other` with broadcasting.
    pub fn add(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "add", Binary::Add)
    }
    /// `self - other` with broadcasting.
    pub fn sub(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "sub", Binary::Sub)
    }
    /// `self * other` with broadcasting.
    pub fn mul(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "mul", Binary::Mul)
    }
    /// `self / other` with broadcasting (float tensors; true division).
    pub fn div(&self, other: &TensorData) -> Result<TensorData> {
        self.check_same_dtype(other, "div")?;
        with_float!(self.dtype(), "div", |T| binary_kernel::<T>(self, other, "div", Binary::Div))
    }
    /// Elementwise maximum (NaN propagates), like `torch.maximum`.
    pub fn maximum(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "maximum", Binary::Max)
    }
    /// Elementwise minimum (NaN propagates), like `torch.minimum`.
    pub fn minimum(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "minimum", Binary::Min)
    }
    /// `self ** other` elementwise with broadcasting (float tensors).
    pub fn pow(&self, other: &TensorData) -> Result<TensorData> {
        self.check_same_dtype(other, "pow")?;
        with_float!(self.dtype(), "pow", |T| self.zip_map::<T, T, T>(other, "pow", |a, b| a.powf(b)))
    }

    /// A 0-d tensor of `self`'s dtype holding `v`.
    pub fn scalar_like(&self, v: f64) -> TensorData {
        TensorData::full(Shape::scalar(), v, self.dtype())
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: f64) -> Result<TensorData> {
        self.add(&self.scalar_like(s))
    }
    /// `self * s`.
    pub fn mul_scalar(&self, s: f64) -> Result<TensorData> {
        self.mul(&self.scalar_like(s))
    }
    /// `self ** e` for a scalar exponent.
    pub fn pow_scalar(&self, e: f64) -> Result<TensorData> {
        with_float!(self.dtype(), "pow", |T| {
            let e = T::c(e);
            if e == T::c(2.0) {
                self.map_named::<T, T>("pow", |x| x * x)
            } else {
                self.map_named::<T, T>("pow", |x| x.powf(e))
            }
        })
    }

    /// Clamps every element into `[min, max]` (either bound optional), like `torch.clamp`.
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<TensorData> {
        with_numeric!(self.dtype(), "clamp", |T| {
            let (lo, hi) = (min.map(T::from_f64), max.map(T::from_f64));
            self.map_named::<T, T>("clamp", |mut x| {
                if let Some(l) = lo {
                    x = if x < l { l } else { x };
                }
                if let Some(h) = hi {
                    x = if x > h { h } else { x };
                }
                x
            })
        })
    }

    /// `-self`.
    pub fn neg(&self) -> Result<TensorData> {
        // `-x`, not `0 - x`: PyTorch's neg(0.0) is -0.0.
        with_numeric!(self.dtype(), "neg", |T| self.map_named::<T, T>("neg", |x| x.neg_w()))
    }

    /// `|self|` (`0 - x` for x <= 0, so abs(-0.0) is +0.0 as in PyTorch).
    pub fn abs(&self) -> Result<TensorData> {
        with_numeric!(self.dtype(), "abs", |T| self.map_named::<T, T>("abs", |x| {
            if x <= T::ZERO {
                T::ZERO.sub_w(x)
            } else {
                x
            }
        }))
    }

    /// Elementwise `cond ? a : b` with broadcasting over all three (`cond` is a bool mask).
    pub fn where_cond(cond: &TensorData, a: &TensorData, b: &TensorData) -> Result<TensorData> {
        if cond.dtype() != DType::Bool {
            return Err(Error::dtype(
                "where",
                "a bool mask as condition",
                cond.dtype(),
                "; build one with a comparison such as x.gt_scalar(0.0)",
            ));
        }
        a.check_same_dtype(b, "where")?;
        let shape =
            Shape::broadcast("where", &Shape::broadcast("where", cond.shape(), a.shape())?, b.shape())?;
        shape.validate("where", a.dtype())?; // (then no expand below can fail on the size)
        let (c, a, b) = (cond.expand(shape.clone())?, a.expand(shape.clone())?, b.expand(shape)?);
        crate::with_any!(a.dtype(), |T| {
            let mut out: Vec<T> = crate::pool::try_fresh("where", c.shape())?;
            let (cv, av, bv) =
                (c.values_for::<bool>("where")?, a.values_for::<T>("where")?, b.values_for::<T>("where")?);
            out.extend(cv.iter().zip(av.iter().zip(bv.iter())).map(|(&c, (&x, &y))| if c { x } else { y }));
            Ok(TensorData::from_vec_unchecked(out, c.shape().clone()))
        })
    }

    /// Elementwise `|a - b| <= atol + rtol * |b|` (NaN equals NaN when `equal_nan`). Like
    /// PyTorch, an infinite difference is never close: only equal infinities are.
    pub fn isclose(&self, other: &TensorData, rtol: f64, atol: f64, equal_nan: bool) -> Result<TensorData> {
        self.check_same_dtype(other, "isclose")?;
        with_numeric!(self.dtype(), "isclose", |T| self.zip_map::<T, T, bool>(other, "isclose", |a, b| {
            let (a, b) = (a.to_f64(), b.to_f64());
            if a.is_nan() || b.is_nan() {
                return equal_nan && a.is_nan() && b.is_nan();
            }
            let diff = (a - b).abs();
            a == b || (diff.is_finite() && diff <= atol + rtol * b.abs())
        }))
    }

    /// True when every element is close (see [`TensorData::isclose`]); shapes must broadcast.
    pub fn allclose(&self, other: &TensorData, rtol: f64, atol: f64) -> Result<bool> {
        Ok(self.isclose(other, rtol, atol, false)?.values::<bool>()?.iter().all(|&b| b))
    }

    /// Sums a broadcast gradient back to `shape` (the inverse of broadcasting `shape` up to
    /// `self.shape()`): dimensions that were added or expanded from 1 are summed.
    pub fn sum_to_shape(&self, shape: &Shape) -> Result<TensorData> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let full = Shape::broadcast("sum_to_shape", shape, self.shape())?;
        if &full != self.shape() {
            return Err(Error::shapes(
                "sum_to_shape",
                self.shape(),
                shape,
                "do not broadcast to the first shape",
            ));
        }
        with_numeric!(self.dtype(), "sum_to_shape", |T| {
            let mut out = crate::pool::try_fresh("sum_to_shape", shape)?;
            out.resize(shape.numel(), T::ZERO);
            let src = crate::shape::Layout::contiguous(shape.clone()).broadcast_strides(self.shape());
            let x = self.values_for::<T>("sum_to_shape")?;
            let mut k = 0;
            let ones = self.layout.shape.contiguous_strides();
            for_each_offset2(self.dims(), &ones, 0, &src, 0, |_, j| {
                out[j] = out[j].add_w(x[k]);
                k += 1;
            });
            Ok(TensorData::from_vec_unchecked(out, shape.clone()))
        })
    }
}

#[derive(Clone, Copy)]
enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

fn binary_kernel<T: Numeric>(
    a: &TensorData,
    b: &TensorData,
    op: &'static str,
    kind: Binary,
) -> Result<TensorData> {
    match kind {
        Binary::Add => a.zip_map::<T, T, T>(b, op, |x, y| x.add_w(y)),
        Binary::Sub => a.zip_map::<T, T, T>(b, op, |x, y| x.sub_w(y)),
        Binary::Mul => a.zip_map::<T, T, T>(b, op, |x, y| x.mul_w(y)),
        Binary::Div => a.zip_map::<T, T, T>(b, op, |x, y| x / y),
        Binary::Max => a.zip_map::<T, T, T>(b, op, |x, y| x.max_val(y)),
        Binary::Min => a.zip_map::<T, T, T>(b, op, |x, y| x.min_val(y)),
    }
}

/// Float unary functions: one line each, `name => |x| formula`.
macro_rules! float_unary {
    ($($(#[$doc:meta])* $name:ident => |$x:ident| $e:expr;)*) => {
        impl TensorData {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Result<TensorData> {
                    with_float!(self.dtype(), stringify!($name), |T| self.map_named::<T, T>(stringify!($name), |$x: T| $e))
                }
            )*
        }
    };
}

float_unary! {
    /// `e^x`.
    exp => |x| x.exp();
    /// Natural logarithm.
    log => |x| x.ln();
    /// `log(1 + x)`, accurate for small x.
    log1p => |x| x.ln_1p();
    /// Square root.
    sqrt => |x| x.sqrt();
    /// `1 / x`.
    reciprocal => |x| T::ONE / x;
    /// Hyperbolic tangent.
    tanh => |x| x.tanh();
    /// `1 / (1 + e^-x)`; saturates to exactly 0 or 1 without NaN for large |x|.
    sigmoid => |x| T::ONE / (T::ONE + (-x).exp());
    /// `max(x, 0)`; NaN stays NaN, like PyTorch's `relu` (a `clamp_min`).
    relu => |x| if x > T::ZERO || x.is_nan() { x } else { T::ZERO };
    /// `log(1 + e^x)`, returning x itself above 20 like PyTorch (beta=1, threshold=20).
    softplus => |x| if x > T::c(20.0) { x } else { x.exp().ln_1p() };
    /// `log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|)`, stable for any x.
    log_sigmoid => |x| x.min(T::ZERO) - (-x.abs()).exp().ln_1p();
}

/// Comparisons producing bool masks.
macro_rules! compare {
    ($($(#[$doc:meta])* $name:ident, $sname:ident => $op:tt;)*) => {
        impl TensorData {
            $(
                $(#[$doc])*
                pub fn $name(&self, other: &TensorData) -> Result<TensorData> {
                    self.check_same_dtype(other, stringify!($name))?;
                    crate::with_any!(self.dtype(), |T| self.zip_map::<T, T, bool>(other, stringify!($name), |a, b| a $op b))
                }
                $(#[$doc])*
                /// (Scalar right-hand side.)
                pub fn $sname(&self, s: f64) -> Result<TensorData> {
                    self.$name(&self.scalar_like(s))
                }
            )*
        }
    };
}

compare! {
    /// Elementwise `==` as a bool mask.
    eq, eq_scalar => ==;
    /// Elementwise `!=` as a bool mask.
    ne, ne_scalar => !=;
    /// Elementwise `<` as a bool mask.
    lt, lt_scalar => <;
    /// Elementwise `<=` as a bool mask.
    le, le_scalar => <=;
    /// Elementwise `>` as a bool mask.
    gt, gt_scalar => >;
    /// Elementwise `>=` as a bool mask.
    ge, ge_scalar => >=;
}
