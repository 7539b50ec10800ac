//! Masks: `masked_fill` (a bool mask's positions replaced by a number, e.g. `-inf` before a
//! softmax for causal attention). The filled positions no longer depend on the input, so
//! their gradient is 0; the others pass `g` through.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::ops::one;
use crate::tensor::Tensor;
use torchlet_tensor_core::{DType, Error, Result, Scalar, Shape, TensorData};

/// `y = x.masked_fill(mask, v)`: `dx = g` where the mask is false, 0 where true (summed back
/// over the dims `x` was broadcast along).
struct MaskedFill {
    mask: TensorData,
    shape: Shape,
}
impl Backward for MaskedFill {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let zero = TensorData::from_scalar(Scalar::Int(0), g.dtype());
        one(TensorData::where_cond(&self.mask, &zero, g)?.sum_to_shape(&self.shape)?)
    }
}

impl Tensor {
    /// `self` with the positions where `mask` (a bool tensor broadcasting with `self`) is true
    /// replaced by `value` (converted to `self`'s dtype), like `x.masked_fill(mask, value)`:
    /// `wei.masked_fill(&tril.eq(0)?, f64::NEG_INFINITY)` before a softmax.
    /// Derivative: 1 where the mask is false, 0 where it is true.
    pub fn masked_fill(&self, mask: &Tensor, value: impl Into<Scalar>) -> Result<Tensor> {
        let (x, m) = (self.data(), mask.data());
        if m.dtype() != DType::Bool {
            return Err(Error::dtype(
                "masked_fill",
                "a bool mask (e.g. from a comparison: x.eq(0))",
                m.dtype(),
                "; compare to make one, e.g. .ne(0)",
            ));
        }
        let shape = Shape::broadcast("masked_fill", x.shape(), m.shape()).map_err(|e| match e {
            Error::ShapeMismatch { reason, .. } => {
                Error::shapes("masked_fill", x.shape(), m.shape(), format!("(input and mask) {reason}"))
            }
            e => e,
        })?;
        let fill = TensorData::from_scalar(value.into(), x.dtype());
        let out = TensorData::where_cond(&m, &fill, &x)?;
        // (`where` gives the shape of mask and input broadcast together: `shape` itself.)
        debug_assert_eq!(out.shape(), &shape);
        Ok(record(out, "MaskedFillBackward0", &[self], || MaskedFill { mask: m, shape: x.shape().clone() }))
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![OpInfo::new("masked_fill", |s| {
        let (m, n) = (s.size(3), s.size(4));
        let mask_shape = s.pick(&[vec![m, n], vec![n], vec![m, 1]]);
        let mask = Tensor::from_data(s.mask(&mask_shape, 0.4));
        let value = s.scalar(-3.0, 3.0);
        Case::new([s.float(&[m, n])], move |t| t[0].masked_fill(&mask, value))
    })]
}
