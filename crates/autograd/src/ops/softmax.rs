//! `softmax` and `log_softmax` over one dimension. The kernels (tensor-core) subtract the
//! row maximum first, so logits of magnitude 1e4 stay finite; strided rows (any `dim` but the
//! last) run through the same row kernel as contiguous ones.
//!
//! With `y` the output and `g` the upstream gradient, both derivatives need only `y`:
//! - softmax: `dy_i/dx_j = y_i ([i = j] - y_j)`, so `dx = (g - sum(g y, dim)) y`;
//! - log_softmax: `dy_i/dx_j = [i = j] - softmax_j`, so `dx = g - e^y sum(g, dim)`.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record_keeping, Backward, Grads};
use crate::ops::one;
use crate::tensor::Tensor;
use torchlet_tensor_core::{Result, TensorData};

/// What both rules keep: the output and the dim.
struct Rule {
    y: TensorData,
    dim: isize,
    log: bool,
}
impl Backward for Rule {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let (y, dim) = (&self.y, self.dim);
        if self.log {
            one(TensorData::log_softmax_backward(y, g, dim)?)
        } else {
            one(TensorData::softmax_backward(y, g, dim)?)
        }
    }
}

impl Tensor {
    /// `softmax(x, dim)_i = e^(x_i - m) / sum_j e^(x_j - m)` with `m = max(x, dim)`.
    /// Derivative: `dx = (g - sum(g y, dim)) y`.
    pub fn softmax(&self, dim: isize) -> Result<Tensor> {
        let y = self.with_data(|x| x.softmax(dim))?;
        Ok(record_keeping(y, "SoftmaxBackward0", &[self], |y| Rule { y: y.clone(), dim, log: false }))
    }

    /// `log_softmax(x, dim) = (x - m) - ln sum(e^(x - m), dim)`. Derivative:
    /// `dx = g - e^y sum(g, dim)`.
    pub fn log_softmax(&self, dim: isize) -> Result<Tensor> {
        let y = self.with_data(|x| x.log_softmax(dim))?;
        Ok(record_keeping(y, "LogSoftmaxBackward0", &[self], |y| Rule { y: y.clone(), dim, log: true }))
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        OpInfo::new("softmax", |s| {
            let d = s.dim(3);
            Case::new([s.sized(&[2, 3, 4])], move |t| t[0].softmax(d))
        }),
        OpInfo::new("log_softmax", |s| {
            let d = s.dim(3);
            Case::new([s.sized(&[2, 3, 4])], move |t| t[0].log_softmax(d))
        }),
    ]
}
