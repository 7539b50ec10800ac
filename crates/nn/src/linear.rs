//! [`Linear`]: `y = x W^T + b` (`torch.nn.Linear`).

use crate::module::Module;
use torchlet_autograd::{DType, Error, Generator, Result, Tensor};
use torchlet_tensor_core::random::with_global;

/// A fully connected layer: `forward(x) = x @ weight^T + bias` for `x` of shape
/// `(*, in_features)`.
///
/// `weight` has PyTorch's layout `(out_features, in_features)` and `bias` shape
/// `(out_features)`. They are initialised exactly as PyTorch's `reset_parameters` does, from
/// the same generator in the same order (see [`crate::init::linear_`]): the weight by
/// `kaiming_uniform_(a = sqrt(5))`, i.e. `U(-b, b)` with
/// `b = sqrt(3) * sqrt(2 / (1 + 5)) / sqrt(in_features)` (which is `1/sqrt(in_features)` up
/// to rounding), then the bias by `U(-1/sqrt(in_features), 1/sqrt(in_features))`. So after
/// `manual_seed(42)`, `Linear::new(2, 5)` holds the weights `nn.Linear(2, 5)` holds after
/// `torch.manual_seed(42)`. The parameters are named `weight` and `bias` (renamed
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
        Linear::with_dtype(in_features, out_features, true, torchlet_autograd::default_dtype())
    }

    /// `nn.Linear(in_features, out_features, bias=False)` from the global generator.
    pub fn without_bias(in_features: usize, out_features: usize) -> Result<Linear> {
        Linear::with_dtype(in_features, out_features, false, torchlet_autograd::default_dtype())
    }

    /// `nn.Linear(in_features, out_features, bias=bias, dtype=dtype)` from the global
    /// generator (an f64 layer draws f64 uniforms, 53 bits from two words each).
    pub fn with_dtype(in_features: usize, out_features: usize, bias: bool, dtype: DType) -> Result<Linear> {
        with_global(|g| Linear::init(in_features, out_features, bias, dtype, g))
    }

    /// An f32 layer initialised from an explicit generator (weight drawn first, then bias),
    /// as `nn.Linear` would draw from `g` if it were the default generator.
    pub fn with_generator(
        in_features: usize,
        out_features: usize,
        bias: bool,
        g: &mut Generator,
    ) -> Result<Linear> {
        Linear::init(in_features, out_features, bias, torchlet_autograd::default_dtype(), g)
    }

    fn init(
        in_features: usize,
        out_features: usize,
        bias: bool,
        dtype: DType,
        g: &mut Generator,
    ) -> Result<Linear> {
        let w = crate::init::zeros("Linear", &[out_features, in_features], dtype)?;
        let b = if bias { Some(crate::init::zeros("Linear", &[out_features], dtype)?) } else { None };
        crate::init::linear_with_(&w, b.as_ref(), g)?;
        Linear::from_weights(w, b)
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

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }

    fn extra_repr(&self) -> String {
        let bias = if self.bias.is_some() { "True" } else { "False" };
        format!("in_features={}, out_features={}, bias={bias}", self.in_features, self.out_features)
    }
}

crate::display_as_repr!(Linear);
