//! [`Linear`]: `y = x W^T + b` (`torch.nn.Linear`).

use crate::module::Module;
use std::fmt;
use torchlet_autograd::{DType, Error, Generator, Result, Tensor, TensorData};
use torchlet_tensor_core::random::with_global;

/// A fully connected layer: `forward(x) = x @ weight^T + bias` for `x` of shape
/// `(*, in_features)`.
///
/// `weight` has PyTorch's layout `(out_features, in_features)` and `bias` shape
/// `(out_features)`. Both start uniform in `[-1/sqrt(in_features), 1/sqrt(in_features))`,
/// like PyTorch's `reset_parameters` (Kaiming-uniform with `a = sqrt(5)` reduces to exactly
/// that bound for the weight). The parameters are named `weight` and `bias` (renamed
/// `0.weight`, ... by [`crate::Sequential`]).
#[derive(Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
    in_features: usize,
    out_features: usize,
}

impl Linear {
    /// `nn.Linear(in_features, out_features)`: f32 with bias, initialised from the global
    /// generator (reseed it with `manual_seed` for reproducible weights).
    pub fn new(in_features: usize, out_features: usize) -> Result<Linear> {
        with_global(|g| Linear::with_generator(in_features, out_features, true, g))
    }

    /// `nn.Linear(in_features, out_features, bias=False)` from the global generator.
    pub fn without_bias(in_features: usize, out_features: usize) -> Result<Linear> {
        with_global(|g| Linear::with_generator(in_features, out_features, false, g))
    }

    /// A layer initialised from an explicit generator (weight drawn first, then bias).
    pub fn with_generator(
        in_features: usize,
        out_features: usize,
        bias: bool,
        g: &mut Generator,
    ) -> Result<Linear> {
        // For in_features = 0 PyTorch skips the init (the bound would be infinite); the
        // weight is empty anyway and the bias becomes U(0, 0) = 0.
        let k = if in_features == 0 { 0.0 } else { 1.0 / (in_features as f64).sqrt() };
        let w = TensorData::uniform_with([out_features, in_features], -k, k, DType::F32, g)?;
        let b = if bias {
            Some(Tensor::from_data(TensorData::uniform_with([out_features], -k, k, DType::F32, g)?))
        } else {
            None
        };
        Linear::from_weights(Tensor::from_data(w), b)
    }

    /// A layer with the given `weight` `(out, in)` and optional `bias` `(out)` (any float
    /// dtype, both the same). The tensors become this layer's parameters: they are detached
    /// from any graph, set to require grad and named.
    pub fn from_weights(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        let w = weight.detach();
        if w.ndim() != 2 {
            return Err(Error::invalid(
                "Linear",
                format!("weight must have shape (out_features, in_features), got shape {}", w.shape()),
            ));
        }
        if !w.dtype().is_float() {
            return Err(Error::need_float("Linear", w.dtype()));
        }
        let (out_features, in_features) = (w.dims()[0], w.dims()[1]);
        let bias = match bias {
            None => None,
            Some(b) => {
                let b = b.detach();
                if b.dims() != [out_features] {
                    return Err(Error::shapes(
                        "Linear",
                        &w.shape(),
                        &b.shape(),
                        format!(
                            "mismatch: a weight of shape {} needs a bias of shape [{out_features}]",
                            w.shape()
                        ),
                    ));
                }
                if b.dtype() != w.dtype() {
                    return Err(Error::dtype(
                        "Linear",
                        format!("a bias of the weight's dtype {}", w.dtype()),
                        b.dtype(),
                        "",
                    ));
                }
                let b = b.requires_grad_(true)?;
                b.set_name("bias");
                Some(b)
            }
        };
        let w = w.requires_grad_(true)?;
        w.set_name("weight");
        Ok(Linear { weight: w, bias, in_features, out_features })
    }

    /// The weight `(out_features, in_features)` (a shared handle).
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias `(out_features)`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Size of each input sample.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Size of each output sample.
    pub fn out_features(&self) -> usize {
        self.out_features
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.linear(&self.weight, self.bias.as_ref())
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
}

impl fmt::Display for Linear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Linear(in_features={}, out_features={}, bias={})",
            self.in_features,
            self.out_features,
            if self.bias.is_some() { "True" } else { "False" }
        )
    }
}
