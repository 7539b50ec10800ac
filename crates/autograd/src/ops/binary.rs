//! Elementwise functions of two tensors with NumPy/PyTorch broadcasting, and comparisons.
//!
//! A broadcast input's gradient is summed back over the dimensions it was broadcast along
//! (`sum_to_shape`): if `b` of shape `(4)` was added to `a` of shape `(3, 4)`, each `b_j`
//! was used 3 times and collects 3 gradients.

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::ops::{wanted, zip};
use crate::tensor::Tensor;
use smallvec::smallvec;
use torchlet_tensor_core::{Result, Shape, TensorData};

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
        let ga = wanted(needs[0], || g.mul(&self.b)?.sum_to_shape(self.a.shape()))?;
        let gb = wanted(needs[1], || g.mul(&self.a)?.sum_to_shape(self.b.shape()))?;
        Ok(smallvec![ga, gb])
    }
}

/// `y = a / b`: `da = g / b`, `db = -g a / b^2`.
struct Div {
    a: TensorData,
    b: TensorData,
}
impl Backward for Div {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let g_b = g.div(&self.b)?;
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
            let d = zip!(b, a, |b, a| if b == T::ZERO { T::ZERO } else { b * a.powf(b - T::ONE) })?;
            g.mul(&d)?.sum_to_shape(a.shape())
        })?;
        let gb = wanted(needs[1], || {
            let ln_a = zip!(a, b, |a, b| if a == T::ZERO && b >= T::ZERO { T::ZERO } else { a.ln() })?;
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

impl Tensor {
    /// `self + other` with broadcasting. Derivative: 1 for both.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        let rule = || AddSub { a: a.shape().clone(), b: b.shape().clone(), sign: 1.0 };
        Ok(record(a.add(&b)?, "AddBackward0", &[self, other], rule))
    }

    /// `self - other`. Derivatives: 1, -1.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        let rule = || AddSub { a: a.shape().clone(), b: b.shape().clone(), sign: -1.0 };
        Ok(record(a.sub(&b)?, "SubBackward0", &[self, other], rule))
    }

    /// `self * other`. Derivatives: `other`, `self`.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        Ok(record(a.mul(&b)?, "MulBackward0", &[self, other], || Mul { a, b }))
    }

    /// `self / other`. Derivatives: `1 / other`, `-self / other^2`.
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        Ok(record(a.div(&b)?, "DivBackward0", &[self, other], || Div { a, b }))
    }

    /// `self ** other` elementwise. Derivatives: `b a^(b-1)`, `y ln a` (0 at `0^0`).
    pub fn pow(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        let y = a.pow(&b)?;
        Ok(record(y.clone(), "PowBackward1", &[self, other], || Pow { a, b, y }))
    }

    /// `max(self, other)` elementwise. Derivative: to the larger, split on ties.
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        Ok(record(a.maximum(&b)?, "MaximumBackward0", &[self, other], || Extremum { a, b, max: true }))
    }

    /// `min(self, other)` elementwise. Derivative: to the smaller, split on ties.
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        Ok(record(a.minimum(&b)?, "MinimumBackward0", &[self, other], || Extremum { a, b, max: false }))
    }

    /// `cond ? a : b` elementwise with broadcasting (`torch.where(cond, a, b)`).
    pub fn where_cond(cond: &TensorData, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let (x, y) = (a.data(), b.data());
        let out = TensorData::where_cond(cond, &x, &y)?;
        let rule = || Where { cond: cond.clone(), a: x.shape().clone(), b: y.shape().clone() };
        Ok(record(out, "WhereBackward0", &[a, b], rule))
    }

    // ----- comparisons (no gradient) --------------------------------------------------------

    /// Elementwise `self > s` as a bool mask.
    pub fn gt_scalar(&self, s: f64) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().gt_scalar(s)?))
    }

    /// Elementwise `self == other` as a bool mask.
    pub fn eq(&self, other: &Tensor) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().eq(&other.data())?))
    }
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
            let cond = s.mask(&a, 0.5);
            Case::new([s.float(&a), s.float(&b)], move |t| Tensor::where_cond(&cond, &t[0], &t[1]))
        }),
    ]
}
