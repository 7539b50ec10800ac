//! The [`Module`] trait (`torch.nn.Module`) and [`Parameter`], which prints a parameter the
//! way PyTorch does.

use std::fmt;
use torchlet_autograd::{DType, Error, Result, Tensor, TensorData};

/// A layer or a network: maps an input tensor to an output tensor and owns parameters.
///
/// `Display` must print the module as PyTorch's `repr` does (`Linear(in_features=2,
/// out_features=5, bias=True)`), so a model prints exactly like its PyTorch twin.
pub trait Module: fmt::Display + Send + Sync {
    /// Computes the output for `x` (PyTorch's `module(x)`), recording the graph when a
    /// parameter or the input requires grad.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// The parameters with PyTorch's names (`weight`, `bias`; `0.weight`, `0.bias`, ... inside
    /// a [`crate::Sequential`]), in a stable order: registration order, weight before bias.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// The parameters in the order of [`Module::named_parameters`] (what an optimizer takes).
    /// The tensors are shared handles: updating them updates the module.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters().into_iter().map(|(_, p)| p).collect()
    }

    /// Clears every parameter's gradient (sets it to `None`, PyTorch's default
    /// `set_to_none=True`).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Total number of parameter elements (`sum(p.numel() for p in model.parameters())`).
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Tensor::numel).sum()
    }

    /// The parameter values by name (`model.state_dict()`): `0.weight`, `0.bias`, ... in
    /// [`Module::named_parameters`] order. Values are O(1) snapshots; see
    /// [`crate::state::state_dict`]. Save them with [`crate::safetensors::save_file`].
    fn state_dict(&self) -> Vec<(String, TensorData)> {
        crate::state::state_dict(self)
    }

    /// Copies `state` into the parameters (`model.load_state_dict(sd)`), strictly and
    /// atomically: missing, unexpected or duplicated keys and mismatched shapes or dtypes are
    /// all reported in one [`torchlet_autograd::Error::InvalidArgument`] and leave the model
    /// unchanged. See [`crate::state::load_state_dict`].
    fn load_state_dict(&self, state: &[(String, TensorData)]) -> Result<()> {
        crate::state::load_state_dict(self, crate::state::short_type_name::<Self>(), state, true).map(drop)
    }

    /// `model.load_state_dict(sd, strict=False)` when `strict` is false: the entries whose
    /// names match are loaded, and the keys missing from `state` or not in the model are
    /// returned instead of failing ([`crate::state::IncompatibleKeys`], like PyTorch's
    /// `_IncompatibleKeys`). Shape or dtype mismatches of matching keys are still errors, and
    /// any error leaves the model unchanged. With `strict` true this is
    /// [`Module::load_state_dict`].
    fn load_state_dict_with(
        &self,
        state: &[(String, TensorData)],
        strict: bool,
    ) -> Result<crate::state::IncompatibleKeys> {
        crate::state::load_state_dict(self, crate::state::short_type_name::<Self>(), state, strict)
    }

    /// Converts every parameter to `dtype` in place (`model.to(torch.float64)`); gradients are
    /// cleared. Parameters require grad, so `dtype` must be a float dtype (checked before
    /// anything changes).
    fn to_dtype(&self, dtype: DType) -> Result<()> {
        let params = self.parameters();
        if !dtype.is_float() && params.iter().any(Tensor::requires_grad) {
            return Err(Error::dtype(
                "to_dtype",
                "a float dtype for a module whose parameters require grad",
                dtype,
                "",
            ));
        }
        params.iter().try_for_each(|p| p.to_dtype_(dtype))
    }

    /// Every parameter to f64 (`model.double()`).
    fn double(&self) -> Result<()> {
        self.to_dtype(DType::F64)
    }

    /// Every parameter to f32 (`model.float()`).
    fn float(&self) -> Result<()> {
        self.to_dtype(DType::F32)
    }
}

/// Prints a tensor as PyTorch prints an `nn.Parameter`:
/// `Parameter containing:\ntensor([...], requires_grad=True)`.
///
/// ```
/// # use torchlet_autograd::Tensor;
/// let w = Tensor::from([1.0f32, 2.0]).requires_grad_(true)?;
/// assert!(torchlet_nn::Parameter(&w).to_string().starts_with("Parameter containing:\ntensor("));
/// # Ok::<(), torchlet_autograd::Error>(())
/// ```
pub struct Parameter<'a>(pub &'a Tensor);

impl fmt::Display for Parameter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Parameter containing:\n{}", self.0)
    }
}

/// Indents every line of `s` but the first by two spaces (PyTorch's `_addindent`), so a
/// child module's multi-line repr nests inside its parent's.
pub(crate) fn add_indent(s: &str) -> String {
    let mut lines = s.split('\n');
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push_str("\n  ");
        out.push_str(line);
    }
    out
}
