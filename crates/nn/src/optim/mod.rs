//! Optimizers (`torch.optim`): [`SGD`], [`Adam`] and [`AdamW`], with PyTorch's exact update
//! formulas.
//!
//! Every optimizer
//! - validates its hyper-parameters when it is built (`SGD: invalid learning rate -0.1
//!   (must be >= 0)`) and its parameter list (non-empty, float leaves, no duplicates);
//! - skips parameters whose `.grad()` is `None`, as PyTorch does;
//! - is *atomic*: [`Optimizer::step`] first checks every gradient and every piece of state,
//!   and only then updates, so a step that returns `Err` has changed no parameter and no
//!   state;
//! - updates the raw values in place (copy-on-write if the storage is shared), without
//!   recording graph operations, for f32 and f64 parameters. State buffers are allocated
//!   once, on a parameter's first step.

mod adam;
mod sgd;

pub use adam::{Adam, AdamOptions, AdamW};
pub use sgd::{SgdOptions, SGD};

use torchlet_autograd::{Error, Result, Tensor, TensorData};

/// What every optimizer offers (`torch.optim.Optimizer`).
pub trait Optimizer {
    /// Applies one update to every parameter that has a gradient. On `Err` nothing changed.
    fn step(&mut self) -> Result<()>;

    /// The parameters being optimised, in the order given at construction.
    fn params(&self) -> &[Tensor];

    /// Clears the gradients of all parameters (sets them to `None`, PyTorch's default
    /// `set_to_none=True`).
    fn zero_grad(&self) {
        for p in self.params() {
            p.zero_grad();
        }
    }

    /// The current learning rate.
    fn lr(&self) -> f64;

    /// Changes the learning rate (for schedules); must be `>= 0`.
    fn set_lr(&mut self, lr: f64) -> Result<()>;
}

/// `parameter 0 (0.weight)`: how errors point at a parameter.
fn label(i: usize, p: &Tensor) -> String {
    match p.name() {
        Some(n) => format!("parameter {i} ({n})"),
        None => format!("parameter {i}"),
    }
}

/// `x >= 0` (and not NaN), else `{op}: invalid {what} {x} (must be >= 0)`.
fn check_non_negative(op: &'static str, what: &str, x: f64) -> Result<()> {
    if x >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(op, format!("invalid {what} {x} (must be >= 0)")))
    }
}

/// The parameter list must be non-empty and hold distinct floating-point leaf tensors.
fn check_params(op: &'static str, params: &[Tensor]) -> Result<()> {
    if params.is_empty() {
        return Err(Error::invalid(op, "got an empty parameter list"));
    }
    for (i, p) in params.iter().enumerate() {
        if !p.is_leaf() {
            return Err(Error::invalid(
                op,
                format!("can't optimize a non-leaf tensor: {} was produced by an operation", label(i, p)),
            ));
        }
        if !p.dtype().is_float() {
            return Err(Error::need_float(op, p.dtype()));
        }
        if let Some(j) = params[..i].iter().position(|q| q.same(p)) {
            return Err(Error::invalid(
                op,
                format!(
                    "{} is the same tensor as parameter {j}; each parameter may appear only once",
                    label(i, p)
                ),
            ));
        }
    }
    Ok(())
}

/// Phase one of a step: reads every gradient into `grads` (reused across steps, so no
/// allocation) and checks that each matches its parameter's shape and dtype.
fn collect_grads(op: &'static str, params: &[Tensor], grads: &mut Vec<Option<TensorData>>) -> Result<()> {
    grads.clear();
    for (i, p) in params.iter().enumerate() {
        let g = p.grad_data();
        if let Some(g) = &g {
            let d = p.data();
            if !d.dtype().is_float() {
                return Err(Error::need_float(op, d.dtype()));
            }
            if g.shape() != d.shape() || g.dtype() != d.dtype() {
                return Err(Error::shapes(
                    op,
                    d.shape(),
                    g.shape(),
                    format!(
                        "mismatch: {} ({}) has a gradient of another shape or dtype ({}); no parameter was updated",
                        label(i, p),
                        d.dtype(),
                        g.dtype()
                    ),
                ));
            }
        }
        grads.push(g);
    }
    Ok(())
}

/// A state buffer must still fit its parameter (it might not if the parameter's value was
/// replaced with one of another shape).
fn check_state(op: &'static str, i: usize, p: &Tensor, what: &str, s: Option<&TensorData>) -> Result<()> {
    let Some(s) = s else { return Ok(()) };
    let d = p.data();
    if s.shape() != d.shape() || s.dtype() != d.dtype() {
        return Err(Error::shapes(
            op,
            d.shape(),
            s.shape(),
            format!(
                "mismatch: the {what} of {} no longer fits the parameter ({} vs {}); no parameter was updated",
                label(i, p),
                d.dtype(),
                s.dtype()
            ),
        ));
    }
    Ok(())
}
