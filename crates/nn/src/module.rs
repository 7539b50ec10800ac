//! The [`Module`] trait (`torch.nn.Module`) and [`Parameter`], which prints a parameter the
//! way PyTorch does.

use std::fmt;
use torchlet_autograd::{Result, Tensor};

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
