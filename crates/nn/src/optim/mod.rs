//! Optimizers (`torch.optim`): [`SGD`], [`Adam`] and [`AdamW`], with PyTorch's exact update
//! formulas; parameter groups ([`ParamGroup`]); optimizer state dicts; and the learning-rate
//! schedulers of [`lr_scheduler`].
//!
//! Every optimizer
//! - validates its hyper-parameters when it is built (`SGD: invalid learning rate -0.1
//!   (must be >= 0)`) and its parameter list (non-empty, float leaves, no duplicates);
//! - skips parameters whose `.grad()` is `None`, as PyTorch does;
//! - is *atomic*: [`Optimizer::step`] first checks every gradient and every piece of state,
//!   and only then updates, so a step that returns `Err` has changed no parameter and no
//!   state; so is [`Optimizer::load_state_dict`];
//! - updates the raw values in place (copy-on-write if the storage is shared), without
//!   recording graph operations, for f32 and f64 parameters. State buffers are allocated
//!   once, on a parameter's first step.
//!
//! # Parameter groups
//!
//! `torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay,
//! 'weight_decay': 0.0}], lr=3e-4)` is
//!
//! ```
//! # use torchlet_autograd::Tensor;
//! use torchlet_nn::optim::{AdamOptions, AdamW, Optimizer, ParamGroup};
//! # let w = Tensor::from(vec![1.0f32, 2.0]).requires_grad_(true)?;
//! # let b = Tensor::from(vec![0.5f32]).requires_grad_(true)?;
//! # let (decay, no_decay) = (vec![w], vec![b]);
//! let opt = AdamW::with_groups(
//!     vec![ParamGroup::new(decay).weight_decay(0.1), ParamGroup::new(no_decay).weight_decay(0.0)],
//!     AdamOptions::new(3e-4),
//! )?;
//! assert_eq!(opt.lrs(), vec![3e-4, 3e-4]);
//! # Ok::<(), torchlet_autograd::Error>(())
//! ```
//!
//! Each group takes the optimizer's options, overridden by what the group sets. A group may
//! be empty, but a group setting an option its optimizer does not have (`betas` for SGD) is
//! an error, as is a parameter appearing in two groups. [`Optimizer::params`] lists every
//! parameter, group after group: these are the indices of errors and state dicts.
//!
//! # State dicts
//!
//! [`Optimizer::state_dict`] gives the optimizer's state as `(name, tensor)` pairs, like a
//! module's state dict, so that [`crate::safetensors::save_file`] writes it and
//! [`crate::safetensors::load_file`] reads it back:
//!
//! ```no_run
//! # use torchlet_autograd::Tensor;
//! # use torchlet_nn::optim::{Adam, Optimizer};
//! use torchlet_nn::safetensors::{load_file, save_file};
//! # let params = vec![Tensor::from(vec![1.0f32]).requires_grad_(true)?];
//! # let opt = Adam::new(params.clone(), 1e-3)?;
//! save_file(&opt.state_dict(), "optimizer.safetensors")?;
//! // ... later, with the same parameters:
//! let mut opt = Adam::new(params, 1e-3)?;
//! opt.load_state_dict(&load_file("optimizer.safetensors")?)?;
//! # Ok::<(), torchlet_autograd::Error>(())
//! ```
//!
//! The names follow PyTorch's `optimizer.state_dict()` (`{'state': {i: {...}},
//! 'param_groups': [{...}]}`), flattened with dots. `i` is a parameter's index in
//! [`Optimizer::params`], `g` a group's index:
//!
//! | name | dtype, shape | holds |
//! |---|---|---|
//! | `state.{i}.step` | i64, `[]` | Adam/AdamW: steps taken by parameter `i` (PyTorch stores a float32 tensor) |
//! | `state.{i}.exp_avg`, `state.{i}.exp_avg_sq`, `state.{i}.max_exp_avg_sq` | the parameter's | Adam/AdamW moments (the last with `amsgrad`) |
//! | `state.{i}.momentum_buffer` | the parameter's | SGD with momentum |
//! | `param_groups.{g}.params` | i64, `[n]` | the indices of the group's parameters |
//! | `param_groups.{g}.lr`, `.weight_decay`, `.momentum`, `.dampening`, `.eps` | f64, `[]` | the group's hyper-parameters (those of its optimizer) |
//! | `param_groups.{g}.betas` | f64, `[2]` | Adam/AdamW's `(beta1, beta2)` |
//! | `param_groups.{g}.nesterov`, `.maximize`, `.amsgrad` | bool, `[]` | the group's flags |
//! | `param_groups.{g}.initial_lr` | f64, `[]` | present once a scheduler was attached ([`lr_scheduler`]) |
//!
//! A parameter that has not stepped yet has no `state.{i}` entries. Loading
//! ([`Optimizer::load_state_dict`]) is strict and atomic: the number of groups and each
//! group's number of parameters must match, every state tensor must have its parameter's
//! shape and dtype, every hyper-parameter must be present and valid and no name may be
//! unknown; otherwise nothing changes. As in PyTorch, loading restores the group
//! hyper-parameters (the learning rate included) along with the state.

mod adam;
mod groups;
pub mod lr_scheduler;
mod sgd;
mod state;

pub use adam::{Adam, AdamOptions, AdamW};
pub use groups::ParamGroup;
pub use lr_scheduler::{
    AnnealStrategy, CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, LrLambda, LrScheduler, MultiStepLR,
    OneCycleLR, OneCycleOptions, PlateauMode, PlateauOptions, ReduceLROnPlateau, StepLR, ThresholdMode,
};
pub use sgd::{SgdOptions, SGD};

use torchlet_autograd::{Error, Result, Tensor, TensorData};

/// What every optimizer offers (`torch.optim.Optimizer`).
///
/// The per-group methods (`lrs`, `set_group_lr`, `initial_lrs`, `momentums`, ...) are
/// PyTorch's `optimizer.param_groups[g]['lr']` and friends: what the schedulers of
/// [`lr_scheduler`] read and write.
pub trait Optimizer {
    /// Applies one update to every parameter that has a gradient. On `Err` nothing changed.
    fn step(&mut self) -> Result<()>;

    /// The parameters being optimised: every group's, in order.
    fn params(&self) -> &[Tensor];

    /// Clears the gradients of all parameters: `p.grad = None` (PyTorch's default
    /// `zero_grad()`, `set_to_none=True`).
    fn zero_grad(&self) {
        for p in self.params() {
            p.zero_grad();
        }
    }

    /// `zero_grad(set_to_none)`: with `true` as [`Optimizer::zero_grad`]; with `false` every
    /// existing gradient becomes zeros of its shape and dtype (`p.grad.zero_()`), and
    /// parameters without a gradient keep `None`. Errors only if the zeros cannot be
    /// allocated (gradients zeroed before that stay zeroed).
    fn zero_grad_with(&self, set_to_none: bool) -> Result<()> {
        for p in self.params() {
            if set_to_none {
                p.zero_grad();
            } else if let Some(g) = p.grad_data() {
                p.set_grad(Some(g.try_zeros_like()?))?;
            }
        }
        Ok(())
    }

    /// The learning rate of every parameter group (`[g['lr'] for g in opt.param_groups]`).
    fn lrs(&self) -> Vec<f64>;

    /// Sets the learning rate of group `group`; it must be `>= 0` and the group must exist.
    fn set_group_lr(&mut self, group: usize, lr: f64) -> Result<()>;

    /// Every group's `initial_lr`: `None` until a scheduler records the learning rate it
    /// starts from (PyTorch's `group.setdefault('initial_lr', group['lr'])`).
    fn initial_lrs(&self) -> Vec<Option<f64>>;

    /// Sets (or, with `None`, removes) group `group`'s `initial_lr` (`>= 0`).
    fn set_group_initial_lr(&mut self, group: usize, initial_lr: Option<f64>) -> Result<()>;

    /// The momentum a schedule may cycle, per group: SGD's `momentum`, Adam's `beta1`.
    /// `None` for an optimizer without one (the default).
    fn momentums(&self) -> Option<Vec<f64>> {
        None
    }

    /// Sets group `group`'s momentum (SGD's `momentum`, Adam's `beta1`), validated as at
    /// construction. The default refuses: the optimizer has no momentum.
    fn set_group_momentum(&mut self, group: usize, momentum: f64) -> Result<()> {
        let _ = (group, momentum);
        Err(Error::invalid("set_group_momentum", "this optimizer has no momentum or beta1 to set"))
    }

    /// The number of parameter groups (`len(opt.param_groups)`).
    fn num_param_groups(&self) -> usize {
        self.lrs().len()
    }

    /// The learning rate of the first group (the only one unless groups were given).
    fn lr(&self) -> f64 {
        self.lrs().first().copied().unwrap_or(0.0)
    }

    /// Sets the learning rate of every group; must be `>= 0`. On `Err` nothing changed.
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        let old = self.lrs();
        for g in 0..old.len() {
            if let Err(e) = self.set_group_lr(g, lr) {
                for (h, &before) in old[..g].iter().enumerate() {
                    let _ = self.set_group_lr(h, before);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// The optimizer's state (`optimizer.state_dict()`) as named tensors; the names are
    /// listed in the [module docs](self#state-dicts).
    fn state_dict(&self) -> Vec<(String, TensorData)>;

    /// Restores a state saved by [`Optimizer::state_dict`] (`optimizer.load_state_dict(sd)`):
    /// the per-parameter state and every group's hyper-parameters. Strict and atomic: on
    /// `Err` (another number of groups or parameters, a shape or dtype that does not fit,
    /// a missing, unknown or invalid entry) nothing changed.
    fn load_state_dict(&mut self, state: &[(String, TensorData)]) -> Result<()>;
}

/// A boxed optimizer is an optimizer, so `Box<dyn Optimizer>` works with the schedulers.
impl<O: Optimizer + ?Sized> Optimizer for Box<O> {
    fn step(&mut self) -> Result<()> {
        (**self).step()
    }
    fn params(&self) -> &[Tensor] {
        (**self).params()
    }
    fn zero_grad(&self) {
        (**self).zero_grad()
    }
    fn zero_grad_with(&self, set_to_none: bool) -> Result<()> {
        (**self).zero_grad_with(set_to_none)
    }
    fn lrs(&self) -> Vec<f64> {
        (**self).lrs()
    }
    fn set_group_lr(&mut self, group: usize, lr: f64) -> Result<()> {
        (**self).set_group_lr(group, lr)
    }
    fn initial_lrs(&self) -> Vec<Option<f64>> {
        (**self).initial_lrs()
    }
    fn set_group_initial_lr(&mut self, group: usize, initial_lr: Option<f64>) -> Result<()> {
        (**self).set_group_initial_lr(group, initial_lr)
    }
    fn momentums(&self) -> Option<Vec<f64>> {
        (**self).momentums()
    }
    fn set_group_momentum(&mut self, group: usize, momentum: f64) -> Result<()> {
        (**self).set_group_momentum(group, momentum)
    }
    fn num_param_groups(&self) -> usize {
        (**self).num_param_groups()
    }
    fn lr(&self) -> f64 {
        (**self).lr()
    }
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        (**self).set_lr(lr)
    }
    fn state_dict(&self) -> Vec<(String, TensorData)> {
        (**self).state_dict()
    }
    fn load_state_dict(&mut self, state: &[(String, TensorData)]) -> Result<()> {
        (**self).load_state_dict(state)
    }
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

/// The parameters (every group's, flattened) must be distinct floating-point leaf tensors.
fn check_params(op: &'static str, params: &[Tensor]) -> Result<()> {
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
                    "{} is the same tensor as parameter {j}; each parameter may appear only once (in one parameter group)",
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
