//! Learning-rate schedulers (`torch.optim.lr_scheduler`), with PyTorch's step semantics and
//! its exact formulas (the recursive, "chainable" ones where PyTorch uses them).
//!
//! A scheduler is built on an optimizer and, like PyTorch's, sets the optimizer's learning
//! rates right away (step 0) and again on every [`LrScheduler::step`]. Rust's borrow rules
//! keep the two apart: the scheduler does not hold the optimizer, each call is given it.
//!
//! ```
//! # use torchlet_autograd::Tensor;
//! use torchlet_nn::optim::{LrScheduler, Optimizer, StepLR, SGD};
//! # let params = vec![Tensor::from(vec![1.0f32]).requires_grad_(true)?];
//! let mut opt = SGD::new(params, 0.1)?;
//! let mut sched = StepLR::new(&mut opt, 2, 0.5)?; // step_size 2, gamma 0.5
//! let mut lrs = vec![];
//! for _epoch in 0..5 {
//!     lrs.push(opt.lr());
//!     // ... forward, backward ...
//!     opt.step()?;
//!     sched.step(&mut opt)?;
//! }
//! assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05, 0.025]);
//! assert_eq!(sched.get_last_lr(), [0.025]); // epoch 5: 0.1 * 0.5^(5 / 2), integer division
//! # Ok::<(), torchlet_autograd::Error>(())
//! ```
//!
//! With `t` = [`LrScheduler::last_epoch`] (0 at construction, +1 per step), `lr` the group's
//! current learning rate and `base` its `initial_lr` (its learning rate when the first
//! scheduler was attached):
//!
//! | scheduler | learning rate at step `t` |
//! |---|---|
//! | [`StepLR`] | `lr * gamma` when `t > 0` and `t % step_size == 0`, else `lr` (so `base * gamma^(t / step_size)`) |
//! | [`MultiStepLR`] | `lr * gamma^k` when `t` is a milestone listed `k` times, else `lr` |
//! | [`ExponentialLR`] | `lr * gamma` for `t > 0` (so `base * gamma^t`) |
//! | [`CosineAnnealingLR`] | `eta_min + (lr - eta_min) * (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max))`, approximating `eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2` |
//! | [`LinearLR`] | `base * start_factor` at `t = 0`, then `lr * (1 + (end - start) / (total_iters * start + (t-1) (end - start)))` up to `t = total_iters` (so `base * (start + (end - start) * min(t, total_iters) / total_iters)`) |
//! | [`OneCycleLR`] | warm up from `max_lr / div_factor` to `max_lr`, then anneal to `initial_lr / final_div_factor` (cosine or linear); the momentum cycles the other way |
//! | [`LambdaLR`] | `base * lr_lambda(t)` |
//! | [`ReduceLROnPlateau`] | `max(lr * factor, min_lr)` after more than `patience` steps whose metric did not improve (its `step` takes the metric) |
//!
//! A step that returns `Err` (a scheduler stepped with another optimizer than its own, a
//! [`OneCycleLR`] stepped past `total_steps`, a lambda giving a negative learning rate)
//! changes neither the scheduler nor the optimizer.

use super::Optimizer;
use std::str::FromStr;
use torchlet_autograd::{DType, Error, Result, TensorData};

/// What every scheduler offers (`torch.optim.lr_scheduler.LRScheduler`).
pub trait LrScheduler {
    /// Advances the schedule by one step (`scheduler.step()`, after `optimizer.step()`) and
    /// sets the learning rate of every group of `optimizer`, which must be the optimizer the
    /// scheduler was built on (the same parameters in the same groups). On `Err` nothing
    /// changed.
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()>;

    /// The learning rates the last step (or the construction) set, one per group
    /// (`scheduler.get_last_lr()`).
    fn get_last_lr(&self) -> &[f64];

    /// The number of steps taken (`scheduler.last_epoch`): 0 after construction.
    fn last_epoch(&self) -> usize;

    /// Every group's `initial_lr` (`scheduler.base_lrs`).
    fn base_lrs(&self) -> &[f64];

    /// The scheduler's progress (`scheduler.state_dict()`) as named tensors: `last_epoch`
    /// (i64, `[]`), `base_lrs` and `_last_lr` (f64, `[groups]`). The hyper-parameters
    /// (`gamma`, `T_max`, a lambda, ...) are not saved: they are the ones the scheduler was
    /// built with.
    fn state_dict(&self) -> Vec<(String, TensorData)>;

    /// Restores a state saved by [`LrScheduler::state_dict`]
    /// (`scheduler.load_state_dict(sd)`). Strict and atomic: on `Err` (a missing or unknown
    /// key, another number of groups, a wrong dtype or shape, a negative or non-finite
    /// learning rate) nothing changed. As in PyTorch, the optimizer's learning rates are not
    /// touched; the next [`LrScheduler::step`] continues from the loaded epoch.
    fn load_state_dict(&mut self, state: &[(String, TensorData)]) -> Result<()>;
}

/// What one step of a schedule sets: every group's learning rate and, for [`OneCycleLR`],
/// its momentum.
struct Update {
    lrs: Vec<f64>,
    momentums: Option<Vec<f64>>,
}

impl Update {
    fn lrs(lrs: Vec<f64>) -> Result<Update> {
        Ok(Update { lrs, momentums: None })
    }
}

/// What every scheduler keeps (PyTorch's `LRScheduler` attributes), and the two moves every
/// scheduler makes: [`Core::start`] and [`Core::step`].
#[derive(Clone, Debug)]
struct Core {
    /// `StepLR`, ... for messages.
    name: &'static str,
    /// The ids of the optimizer's parameters and its number of groups, to recognise it.
    params: Vec<u64>,
    groups: usize,
    base_lrs: Vec<f64>,
    last_epoch: usize,
    last_lr: Vec<f64>,
}

impl Core {
    /// PyTorch's `LRScheduler.__init__(optimizer, last_epoch=-1)`: every group's
    /// `initial_lr` is set to its learning rate unless a scheduler already set it (or to
    /// `initial` when given: [`OneCycleLR`] sets its own); those are the `base_lrs`. Then the
    /// initial step: epoch 0's values, given by `rule(0, current lrs, base_lrs)`, are set.
    fn start(
        name: &'static str,
        opt: &mut dyn Optimizer,
        initial: Option<Vec<f64>>,
        rule: impl FnOnce(usize, &[f64], &[f64]) -> Result<Update>,
    ) -> Result<Core> {
        let lrs = opt.lrs();
        let base_lrs = match initial {
            Some(initial) => initial,
            None => opt.initial_lrs().iter().zip(&lrs).map(|(init, lr)| init.unwrap_or(*lr)).collect(),
        };
        let mut core = Core {
            name,
            params: opt.params().iter().map(|p| p.id()).collect(),
            groups: lrs.len(),
            base_lrs,
            last_epoch: 0,
            last_lr: vec![],
        };
        let update = rule(0, &lrs, &core.base_lrs)?;
        core.apply(opt, 0, Some(&core.base_lrs.clone()), &update)?;
        core.last_lr = update.lrs;
        Ok(core)
    }

    /// `scheduler.step()`: epoch `last_epoch + 1`, whose values `rule(epoch, current lrs,
    /// base_lrs)` gives, set on `opt`. Changes nothing on `Err`.
    fn step(
        &mut self,
        opt: &mut dyn Optimizer,
        rule: impl FnOnce(usize, &[f64], &[f64]) -> Result<Update>,
    ) -> Result<()> {
        let same = opt.num_param_groups() == self.groups
            && opt.params().len() == self.params.len()
            && opt.params().iter().zip(&self.params).all(|(p, &id)| p.id() == id);
        if !same {
            return Err(Error::invalid(
                self.name,
                format!(
                    "step() was given an optimizer other than the one this scheduler was built on ({} parameter(s) in {} group(s), not these {} in {}); build one scheduler per optimizer",
                    self.params.len(),
                    self.groups,
                    opt.params().len(),
                    opt.num_param_groups()
                ),
            ));
        }
        let epoch = self.last_epoch + 1;
        let update = rule(epoch, &opt.lrs(), &self.base_lrs)?;
        self.apply(opt, epoch, None, &update)?;
        self.last_epoch = epoch;
        self.last_lr = update.lrs;
        Ok(())
    }

    /// Sets the values of `update` (and every group's `initial_lr`, when given) on `opt`,
    /// all or nothing: every learning rate is checked first, and should the optimizer refuse
    /// a value anyway (a momentum out of its range), what was set is restored.
    fn apply(
        &self,
        opt: &mut dyn Optimizer,
        epoch: usize,
        initial: Option<&[f64]>,
        update: &Update,
    ) -> Result<()> {
        for (g, &lr) in update.lrs.iter().enumerate() {
            if lr.is_nan() || lr < 0.0 {
                return Err(Error::invalid(
                    self.name,
                    format!("step {epoch} gives param group {g} the learning rate {lr} (must be >= 0); nothing was changed"),
                ));
            }
        }
        let (old_lrs, old_initial, old_momentums) = (opt.lrs(), opt.initial_lrs(), opt.momentums());
        let mut set = || -> Result<()> {
            if let Some(initial) = initial {
                for (g, &lr) in initial.iter().enumerate() {
                    opt.set_group_initial_lr(g, Some(lr))?;
                }
            }
            if let Some(momentums) = &update.momentums {
                for (g, &m) in momentums.iter().enumerate() {
                    opt.set_group_momentum(g, m)?;
                }
            }
            for (g, &lr) in update.lrs.iter().enumerate() {
                opt.set_group_lr(g, lr)?;
            }
            Ok(())
        };
        let result = set();
        if let Err(e) = result {
            // The old values were valid, so restoring them succeeds.
            for (g, (&lr, &init)) in old_lrs.iter().zip(&old_initial).enumerate() {
                let _ = opt.set_group_lr(g, lr);
                let _ = opt.set_group_initial_lr(g, init);
            }
            for (g, &m) in old_momentums.iter().flatten().enumerate() {
                let _ = opt.set_group_momentum(g, m);
            }
            return Err(Error::invalid(self.name, format!("{e}; nothing was changed")));
        }
        Ok(())
    }
}

impl Core {
    /// `last_epoch`, `base_lrs` and `_last_lr`.
    fn save(&self) -> Vec<(String, TensorData)> {
        vec![
            ("last_epoch".to_string(), TensorData::scalar(self.last_epoch as i64)),
            ("base_lrs".to_string(), TensorData::from(self.base_lrs.clone())),
            ("_last_lr".to_string(), TensorData::from(self.last_lr.clone())),
        ]
    }

    /// Reads what [`Core::save`] wrote; changes nothing on `Err`.
    fn load(&mut self, sd: &[(String, TensorData)]) -> Result<()> {
        let (epoch, base, last) = load_core(self.name, self.groups, sd)?;
        self.last_epoch = epoch;
        self.base_lrs = base;
        self.last_lr = last;
        Ok(())
    }
}

/// The error of a failed scheduler load.
fn bad_load(name: &str, msg: impl std::fmt::Display) -> Error {
    Error::invalid("load_state_dict", format!("{name} state dict: {msg}; the scheduler was not changed"))
}

/// Reads `last_epoch`, `base_lrs` and `_last_lr` (one learning rate per group, `groups`
/// of them) from a scheduler state dict holding exactly those keys.
fn load_core(name: &str, groups: usize, sd: &[(String, TensorData)]) -> Result<(usize, Vec<f64>, Vec<f64>)> {
    load_entries(name, sd, &["last_epoch", "base_lrs", "_last_lr"])?;
    let get = |k: &str| sd.iter().find(|(n, _)| n == k).map(|(_, t)| t);
    let epoch = get("last_epoch").ok_or_else(|| bad_load(name, "missing key \"last_epoch\""))?;
    if epoch.dtype() != DType::I64 || !epoch.dims().is_empty() {
        return Err(bad_load(
            name,
            format!(
                "\"last_epoch\" should be a 0-dimensional i64 tensor, got dtype {} and shape {}",
                epoch.dtype(),
                epoch.shape()
            ),
        ));
    }
    let e = epoch.to_vec::<i64>()?[0];
    let epoch =
        usize::try_from(e).map_err(|_| bad_load(name, format!("\"last_epoch\" is {e} (must be >= 0)")))?;
    let lrs = |k: &str| -> Result<Vec<f64>> {
        let t = get(k).ok_or_else(|| bad_load(name, format!("missing key \"{k}\"")))?;
        if !t.dtype().is_float() || t.dims() != [groups] {
            return Err(bad_load(
                name,
                format!(
                    "\"{k}\" should be a float tensor of shape [{groups}] (one learning rate per param group), got dtype {} and shape {}",
                    t.dtype(),
                    t.shape()
                ),
            ));
        }
        let v = t.try_to_f64_vec()?;
        if let Some(bad) = v.iter().find(|lr| !(**lr >= 0.0 && lr.is_finite())) {
            return Err(bad_load(
                name,
                format!("\"{k}\" holds the learning rate {bad} (must be a finite number >= 0)"),
            ));
        }
        Ok(v)
    };
    Ok((epoch, lrs("base_lrs")?, lrs("_last_lr")?))
}

/// Every key of `sd` must be one of `allowed`, and appear once.
fn load_entries(name: &str, sd: &[(String, TensorData)], allowed: &[&str]) -> Result<()> {
    for (i, (k, _)) in sd.iter().enumerate() {
        if !allowed.contains(&k.as_str()) {
            return Err(bad_load(name, format!("unexpected key \"{k}\" (expected {allowed:?})")));
        }
        if sd[..i].iter().any(|(j, _)| j == k) {
            return Err(bad_load(name, format!("key \"{k}\" appears twice")));
        }
    }
    Ok(())
}

/// `get_last_lr`, `last_epoch`, `base_lrs` and the state dict of a scheduler with a `core`
/// field.
macro_rules! core_accessors {
    () => {
        fn state_dict(&self) -> Vec<(String, TensorData)> {
            self.core.save()
        }
        fn load_state_dict(&mut self, state: &[(String, TensorData)]) -> Result<()> {
            self.core.load(state)
        }
        fn get_last_lr(&self) -> &[f64] {
            &self.core.last_lr
        }
        fn last_epoch(&self) -> usize {
            self.core.last_epoch
        }
        fn base_lrs(&self) -> &[f64] {
            &self.core.base_lrs
        }
    };
}

/// One value for every param group (`max_lr`, `min_lr`): a single value repeats, a list must
/// have one per group; each must be a finite number >= 0.
fn per_group(op: &'static str, what: &str, values: &[f64], groups: usize) -> Result<Vec<f64>> {
    let all = match values.len() {
        1 => vec![values[0]; groups],
        k if k == groups => values.to_vec(),
        k => {
            return Err(Error::invalid(
                op,
                format!("expected one {what} or {groups} (one per param group), but got {k}"),
            ))
        }
    };
    if let Some(bad) = all.iter().find(|v| !(**v >= 0.0 && v.is_finite())) {
        return Err(Error::invalid(op, format!("invalid {what} {bad} (must be a finite number >= 0)")));
    }
    Ok(all)
}

/// `gamma` must be a finite number `> 0`. (PyTorch accepts any number; 0 or less would
/// stop or reverse training.)
fn check_gamma(op: &'static str, gamma: f64) -> Result<()> {
    if gamma > 0.0 && gamma.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(op, format!("invalid gamma {gamma} (must be a finite number > 0)")))
    }
}

// ----- StepLR --------------------------------------------------------------------------------

/// `torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)`: multiplies the learning
/// rate by `gamma` every `step_size` steps: at step `t > 0` with `t % step_size == 0`,
/// `lr = lr * gamma` (so `lr_t = base * gamma^(t / step_size)`, integer division).
pub struct StepLR {
    step_size: usize,
    gamma: f64,
    core: Core,
}

impl StepLR {
    /// Builds the schedule (PyTorch's default `gamma` is 0.1) and sets step 0's learning
    /// rates. Errors when `step_size` is 0 or `gamma` is not a finite number `> 0`.
    pub fn new(optimizer: &mut dyn Optimizer, step_size: usize, gamma: f64) -> Result<StepLR> {
        if step_size == 0 {
            return Err(Error::invalid("StepLR", "invalid step_size 0 (must be >= 1)"));
        }
        check_gamma("StepLR", gamma)?;
        let core = Core::start("StepLR", optimizer, None, |t, lrs, _| Self::rule(step_size, gamma, t, lrs))?;
        Ok(StepLR { step_size, gamma, core })
    }

    fn rule(step_size: usize, gamma: f64, t: usize, lrs: &[f64]) -> Result<Update> {
        if t == 0 || !t.is_multiple_of(step_size) {
            return Update::lrs(lrs.to_vec());
        }
        Update::lrs(lrs.iter().map(|lr| lr * gamma).collect())
    }
}

impl LrScheduler for StepLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let (step_size, gamma) = (self.step_size, self.gamma);
        self.core.step(optimizer, |t, lrs, _| Self::rule(step_size, gamma, t, lrs))
    }
    core_accessors!();
}

// ----- MultiStepLR ---------------------------------------------------------------------------

/// `torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma)`: at a step `t` that
/// is a milestone, `lr = lr * gamma^k` where `k` counts how often `t` is listed (so
/// `lr_t = base * gamma^(number of milestones <= t)`).
pub struct MultiStepLR {
    milestones: Vec<usize>,
    gamma: f64,
    core: Core,
}

impl MultiStepLR {
    /// Builds the schedule (PyTorch's default `gamma` is 0.1; milestones in any order, a
    /// repeated one counting twice) and sets step 0's learning rates. Errors when `gamma`
    /// is not a finite number `> 0`.
    pub fn new(optimizer: &mut dyn Optimizer, milestones: &[usize], gamma: f64) -> Result<MultiStepLR> {
        check_gamma("MultiStepLR", gamma)?;
        let milestones = milestones.to_vec();
        let core =
            Core::start("MultiStepLR", optimizer, None, |t, lrs, _| Self::rule(&milestones, gamma, t, lrs))?;
        Ok(MultiStepLR { milestones, gamma, core })
    }

    fn rule(milestones: &[usize], gamma: f64, t: usize, lrs: &[f64]) -> Result<Update> {
        let k = milestones.iter().filter(|&&m| m == t).count();
        if k == 0 {
            return Update::lrs(lrs.to_vec());
        }
        Update::lrs(lrs.iter().map(|lr| lr * gamma.powf(k as f64)).collect())
    }
}

impl LrScheduler for MultiStepLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let (milestones, gamma) = (&self.milestones, self.gamma);
        self.core.step(optimizer, |t, lrs, _| Self::rule(milestones, gamma, t, lrs))
    }
    core_accessors!();
}

// ----- ExponentialLR -------------------------------------------------------------------------

/// `torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)`: `lr = lr * gamma` at every
/// step `t > 0` (so `lr_t = base * gamma^t`).
pub struct ExponentialLR {
    gamma: f64,
    core: Core,
}

impl ExponentialLR {
    /// Builds the schedule and sets step 0's learning rates (unchanged). Errors when `gamma`
    /// is not a finite number `> 0`.
    pub fn new(optimizer: &mut dyn Optimizer, gamma: f64) -> Result<ExponentialLR> {
        check_gamma("ExponentialLR", gamma)?;
        let core = Core::start("ExponentialLR", optimizer, None, |t, lrs, _| Self::rule(gamma, t, lrs))?;
        Ok(ExponentialLR { gamma, core })
    }

    fn rule(gamma: f64, t: usize, lrs: &[f64]) -> Result<Update> {
        if t == 0 {
            return Update::lrs(lrs.to_vec());
        }
        Update::lrs(lrs.iter().map(|lr| lr * gamma).collect())
    }
}

impl LrScheduler for ExponentialLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let gamma = self.gamma;
        self.core.step(optimizer, |t, lrs, _| Self::rule(gamma, t, lrs))
    }
    core_accessors!();
}

// ----- CosineAnnealingLR ---------------------------------------------------------------------

/// `torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min)`: cosine annealing
/// from the base learning rate down to `eta_min` over `T_max` steps (and back up after,
/// periodically), in PyTorch's recursive form, which is what gives its exact numbers. At step
/// `t > 0`:
///
/// ```text
/// if (t - 1 - T_max) % (2 T_max) == 0:   lr = lr + (base - eta_min) * (1 - cos(pi / T_max)) / 2
/// else:   lr = (1 + cos(pi t / T_max)) / (1 + cos(pi (t - 1) / T_max)) * (lr - eta_min) + eta_min
/// ```
///
/// which follows the closed form `eta_min + (base - eta_min) * (1 + cos(pi t / T_max)) / 2`
/// as long as nothing else changes the learning rate.
pub struct CosineAnnealingLR {
    t_max: usize,
    eta_min: f64,
    core: Core,
}

impl CosineAnnealingLR {
    /// Builds the schedule (PyTorch's default `eta_min` is 0) and sets step 0's learning
    /// rates (unchanged). Errors when `t_max` is 0 or `eta_min` is not a finite number `>= 0`.
    pub fn new(optimizer: &mut dyn Optimizer, t_max: usize, eta_min: f64) -> Result<CosineAnnealingLR> {
        if t_max == 0 {
            return Err(Error::invalid("CosineAnnealingLR", "invalid T_max 0 (must be >= 1)"));
        }
        if !(eta_min >= 0.0 && eta_min.is_finite()) {
            return Err(Error::invalid(
                "CosineAnnealingLR",
                format!("invalid eta_min {eta_min} (must be a finite number >= 0)"),
            ));
        }
        let core = Core::start("CosineAnnealingLR", optimizer, None, |t, lrs, base| {
            Self::rule(t_max, eta_min, t, lrs, base)
        })?;
        Ok(CosineAnnealingLR { t_max, eta_min, core })
    }

    fn rule(t_max: usize, eta_min: f64, t: usize, lrs: &[f64], base: &[f64]) -> Result<Update> {
        use std::f64::consts::PI;
        if t == 0 {
            return Update::lrs(lrs.to_vec());
        }
        let (t, t_max_i) = (t as i64, t_max as i64);
        let tm = t_max as f64;
        if (t - 1 - t_max_i).rem_euclid(2 * t_max_i) == 0 {
            let lrs = lrs.iter().zip(base).map(|(lr, b)| lr + (b - eta_min) * (1.0 - (PI / tm).cos()) / 2.0);
            return Update::lrs(lrs.collect());
        }
        let ratio = (1.0 + (PI * t as f64 / tm).cos()) / (1.0 + (PI * (t - 1) as f64 / tm).cos());
        Update::lrs(lrs.iter().map(|lr| ratio * (lr - eta_min) + eta_min).collect())
    }
}

impl LrScheduler for CosineAnnealingLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let (t_max, eta_min) = (self.t_max, self.eta_min);
        self.core.step(optimizer, |t, lrs, base| Self::rule(t_max, eta_min, t, lrs, base))
    }
    core_accessors!();
}

// ----- LinearLR ------------------------------------------------------------------------------

/// `torch.optim.lr_scheduler.LinearLR(optimizer, start_factor, end_factor, total_iters)`:
/// the learning rate goes linearly from `base * start_factor` (step 0) to
/// `base * end_factor` (step `total_iters`), then stays. PyTorch's recursive form: at step 0
/// `lr = lr * start_factor`; at `0 < t <= total_iters`
///
/// ```text
/// lr = lr * (1 + (end - start) / (total_iters * start + (t - 1) * (end - start)))
/// ```
pub struct LinearLR {
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
    core: Core,
}

impl LinearLR {
    /// Builds the schedule (PyTorch's defaults: `start_factor` 1/3, `end_factor` 1,
    /// `total_iters` 5) and sets step 0's learning rates. Errors unless `0 < start_factor <=
    /// 1` and `0 <= end_factor <= 1`.
    pub fn new(
        optimizer: &mut dyn Optimizer,
        start_factor: f64,
        end_factor: f64,
        total_iters: usize,
    ) -> Result<LinearLR> {
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(Error::invalid(
                "LinearLR",
                format!("invalid start_factor {start_factor}: the starting multiplicative factor must be in (0, 1]"),
            ));
        }
        if !(0.0..=1.0).contains(&end_factor) {
            return Err(Error::invalid(
                "LinearLR",
                format!(
                    "invalid end_factor {end_factor}: the ending multiplicative factor must be in [0, 1]"
                ),
            ));
        }
        let (s, e, n) = (start_factor, end_factor, total_iters);
        let core = Core::start("LinearLR", optimizer, None, |t, lrs, _| Self::rule(s, e, n, t, lrs))?;
        Ok(LinearLR { start_factor, end_factor, total_iters, core })
    }

    fn rule(start: f64, end: f64, total_iters: usize, t: usize, lrs: &[f64]) -> Result<Update> {
        if t == 0 {
            return Update::lrs(lrs.iter().map(|lr| lr * start).collect());
        }
        if t > total_iters {
            return Update::lrs(lrs.to_vec());
        }
        let factor = 1.0 + (end - start) / (total_iters as f64 * start + (t - 1) as f64 * (end - start));
        Update::lrs(lrs.iter().map(|lr| lr * factor).collect())
    }
}

impl LrScheduler for LinearLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let (s, e, n) = (self.start_factor, self.end_factor, self.total_iters);
        self.core.step(optimizer, |t, lrs, _| Self::rule(s, e, n, t, lrs))
    }
    core_accessors!();
}

// ----- LambdaLR ------------------------------------------------------------------------------

/// A learning-rate factor as a function of the step, for [`LambdaLR`].
pub type LrLambda = Box<dyn Fn(usize) -> f64>;

/// `torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)`: `lr_t = base * lr_lambda(t)`
/// for every step `t`, 0 included.
///
/// ```
/// # use torchlet_autograd::Tensor;
/// use torchlet_nn::optim::{LambdaLR, LrScheduler, Optimizer, SGD};
/// # let params = vec![Tensor::from(vec![1.0f32]).requires_grad_(true)?];
/// let mut opt = SGD::new(params, 0.1)?;
/// // LambdaLR(opt, lr_lambda=lambda epoch: 0.95 ** epoch)
/// let mut sched = LambdaLR::new(&mut opt, |epoch| 0.95f64.powi(epoch as i32))?;
/// sched.step(&mut opt)?;
/// assert_eq!(opt.lr(), 0.1 * 0.95);
/// # Ok::<(), torchlet_autograd::Error>(())
/// ```
pub struct LambdaLR {
    lambdas: Vec<LrLambda>,
    core: Core,
}

impl LambdaLR {
    /// One function for every group. Sets step 0's learning rates, `base * lr_lambda(0)`.
    pub fn new(
        optimizer: &mut dyn Optimizer,
        lr_lambda: impl Fn(usize) -> f64 + 'static,
    ) -> Result<LambdaLR> {
        let n = optimizer.num_param_groups();
        let f: std::rc::Rc<dyn Fn(usize) -> f64> = std::rc::Rc::new(lr_lambda);
        let lambdas = (0..n)
            .map(|_| {
                let f = f.clone();
                Box::new(move |t| f(t)) as LrLambda
            })
            .collect();
        Self::with_lambdas(optimizer, lambdas)
    }

    /// One function per group (`LambdaLR(opt, lr_lambda=[f, g])`); errors unless there are
    /// as many functions as groups.
    pub fn with_lambdas(optimizer: &mut dyn Optimizer, lr_lambdas: Vec<LrLambda>) -> Result<LambdaLR> {
        let n = optimizer.num_param_groups();
        if lr_lambdas.len() != n {
            return Err(Error::invalid(
                "LambdaLR",
                format!("expected {n} lr_lambdas (one per param group), but got {}", lr_lambdas.len()),
            ));
        }
        let core = Core::start("LambdaLR", optimizer, None, |t, _, base| Self::rule(&lr_lambdas, t, base))?;
        Ok(LambdaLR { lambdas: lr_lambdas, core })
    }

    fn rule(lambdas: &[LrLambda], t: usize, base: &[f64]) -> Result<Update> {
        Update::lrs(base.iter().zip(lambdas).map(|(b, f)| b * f(t)).collect())
    }
}

impl LrScheduler for LambdaLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let lambdas = &self.lambdas;
        self.core.step(optimizer, |t, _, base| Self::rule(lambdas, t, base))
    }
    core_accessors!();
}

// ----- OneCycleLR ----------------------------------------------------------------------------

/// How [`OneCycleLR`] moves between two values as `pct` goes from 0 to 1
/// (`anneal_strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AnnealStrategy {
    /// `"cos"` (the default): `end + (start - end) / 2 * (cos(pi * pct) + 1)`.
    #[default]
    Cos,
    /// `"linear"`: `(end - start) * pct + start`.
    Linear,
}

impl AnnealStrategy {
    /// The value at `pct` between `start` (pct 0) and `end` (pct 1).
    pub fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            AnnealStrategy::Cos => {
                let cos_out = (std::f64::consts::PI * pct).cos() + 1.0;
                end + (start - end) / 2.0 * cos_out
            }
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

impl FromStr for AnnealStrategy {
    type Err = Error;
    /// `"cos"` or `"linear"`, PyTorch's strings.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cos" => Ok(AnnealStrategy::Cos),
            "linear" => Ok(AnnealStrategy::Linear),
            other => Err(Error::invalid(
                "OneCycleLR",
                format!("anneal_strategy must be one of 'cos' or 'linear', instead got '{other}'"),
            )),
        }
    }
}

/// [`OneCycleLR`]'s arguments, PyTorch's keyword arguments and defaults:
/// `OneCycleOptions::new(max_lr, total_steps).pct_start(0.25).three_phase(true)`.
#[derive(Clone, Debug, PartialEq)]
pub struct OneCycleOptions {
    /// The peak learning rate: one value for every group, or one per group.
    pub max_lr: Vec<f64>,
    /// The number of steps in the cycle (PyTorch's `total_steps`, or `epochs *
    /// steps_per_epoch`), `>= 1`.
    pub total_steps: usize,
    /// The fraction of the cycle spent increasing the learning rate (default 0.3), in
    /// `[0, 1]`.
    pub pct_start: f64,
    /// Cosine (default) or linear annealing.
    pub anneal_strategy: AnnealStrategy,
    /// Cycle the momentum (SGD's `momentum`, Adam's `beta1`) inversely to the learning rate
    /// (default true).
    pub cycle_momentum: bool,
    /// The momentum at the peak learning rate (default 0.85).
    pub base_momentum: f64,
    /// The momentum at the start and the end of the cycle (default 0.95).
    pub max_momentum: f64,
    /// `initial_lr = max_lr / div_factor` (default 25).
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (default 1e4).
    pub final_div_factor: f64,
    /// Three phases (up, down to `initial_lr`, then down to `min_lr`) instead of two (up,
    /// down to `min_lr`) (default false).
    pub three_phase: bool,
}

impl OneCycleOptions {
    /// The defaults with the peak `max_lr` for every group and a cycle of `total_steps` steps.
    pub fn new(max_lr: f64, total_steps: usize) -> Self {
        OneCycleOptions {
            max_lr: vec![max_lr],
            total_steps,
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }
    /// PyTorch's `epochs=..., steps_per_epoch=...`: a cycle of `epochs * steps_per_epoch`
    /// steps.
    pub fn with_epochs(max_lr: f64, epochs: usize, steps_per_epoch: usize) -> Self {
        Self::new(max_lr, epochs.saturating_mul(steps_per_epoch))
    }
    /// One peak learning rate per group.
    pub fn max_lrs(mut self, max_lrs: Vec<f64>) -> Self {
        self.max_lr = max_lrs;
        self
    }
    /// Sets `pct_start`.
    pub fn pct_start(mut self, pct: f64) -> Self {
        self.pct_start = pct;
        self
    }
    /// Sets `anneal_strategy`.
    pub fn anneal_strategy(mut self, s: AnnealStrategy) -> Self {
        self.anneal_strategy = s;
        self
    }
    /// Sets `cycle_momentum`.
    pub fn cycle_momentum(mut self, on: bool) -> Self {
        self.cycle_momentum = on;
        self
    }
    /// Sets `base_momentum`.
    pub fn base_momentum(mut self, m: f64) -> Self {
        self.base_momentum = m;
        self
    }
    /// Sets `max_momentum`.
    pub fn max_momentum(mut self, m: f64) -> Self {
        self.max_momentum = m;
        self
    }
    /// Sets `div_factor`.
    pub fn div_factor(mut self, f: f64) -> Self {
        self.div_factor = f;
        self
    }
    /// Sets `final_div_factor`.
    pub fn final_div_factor(mut self, f: f64) -> Self {
        self.final_div_factor = f;
        self
    }
    /// Sets `three_phase`.
    pub fn three_phase(mut self, on: bool) -> Self {
        self.three_phase = on;
        self
    }
}

/// One of the points a [`OneCycleLR`] phase starts or ends at.
#[derive(Clone, Copy, Debug)]
enum Point {
    /// `initial_lr`, `max_lr`, `min_lr`.
    InitialLr,
    MaxLr,
    MinLr,
    /// `max_momentum`, `base_momentum`.
    MaxMomentum,
    BaseMomentum,
}

/// A phase of the cycle: from `start` to `end` (a learning rate and a momentum) by step
/// `end_step`.
#[derive(Clone, Copy, Debug)]
struct Phase {
    end_step: f64,
    lr: (Point, Point),
    momentum: (Point, Point),
}

/// One group's values.
#[derive(Clone, Copy, Debug)]
struct Cycle {
    initial_lr: f64,
    max_lr: f64,
    min_lr: f64,
    max_momentum: f64,
    base_momentum: f64,
}

impl Cycle {
    fn get(&self, p: Point) -> f64 {
        match p {
            Point::InitialLr => self.initial_lr,
            Point::MaxLr => self.max_lr,
            Point::MinLr => self.min_lr,
            Point::MaxMomentum => self.max_momentum,
            Point::BaseMomentum => self.base_momentum,
        }
    }
}

/// The schedule itself, apart from the [`Core`].
struct OneCyclePlan {
    total_steps: usize,
    phases: Vec<Phase>,
    anneal: AnnealStrategy,
    cycle_momentum: bool,
    groups: Vec<Cycle>,
}

impl OneCyclePlan {
    /// The learning rate (and momentum) of every group at step `t`: in the phase `t` falls
    /// in (the last one past its end), `pct = (t - phase start) / (phase end - phase start)`
    /// and the value is annealed from the phase's start to its end.
    fn at(&self, t: usize) -> Result<Update> {
        if t > self.total_steps {
            return Err(Error::invalid(
                "OneCycleLR",
                format!(
                    "tried to step {t} times; the specified number of total steps is {}",
                    self.total_steps
                ),
            ));
        }
        let step = t as f64;
        let (mut lrs, mut momentums) = (vec![], vec![]);
        for cycle in &self.groups {
            let mut start = 0.0;
            for (i, phase) in self.phases.iter().enumerate() {
                if step <= phase.end_step || i == self.phases.len() - 1 {
                    let span = phase.end_step - start;
                    if span == 0.0 {
                        return Err(Error::invalid(
                            "OneCycleLR",
                            format!("phase {i} of the cycle has no steps (it ends at step {start}, where it starts), so step {t} has no place in it: raise total_steps or change pct_start"),
                        ));
                    }
                    let pct = (step - start) / span;
                    lrs.push(self.anneal.anneal(cycle.get(phase.lr.0), cycle.get(phase.lr.1), pct));
                    momentums.push(self.anneal.anneal(
                        cycle.get(phase.momentum.0),
                        cycle.get(phase.momentum.1),
                        pct,
                    ));
                    break;
                }
                start = phase.end_step;
            }
        }
        Ok(Update { lrs, momentums: self.cycle_momentum.then_some(momentums) })
    }
}

/// `torch.optim.lr_scheduler.OneCycleLR`: the 1cycle policy. Per group, with `initial_lr =
/// max_lr / div_factor` and `min_lr = initial_lr / final_div_factor`, the phases (two by
/// default, three with `three_phase`) are:
///
/// | phase | ends at step | learning rate | momentum |
/// |---|---|---|---|
/// | 1 | `pct_start * total_steps - 1` | `initial_lr` to `max_lr` | `max_momentum` to `base_momentum` |
/// | 2 (two phases) | `total_steps - 1` | `max_lr` to `min_lr` | `base_momentum` to `max_momentum` |
/// | 2 (three phases) | `2 * pct_start * total_steps - 2` | `max_lr` to `initial_lr` | `base_momentum` to `max_momentum` |
/// | 3 (three phases) | `total_steps - 1` | `initial_lr` to `min_lr` | `max_momentum` |
///
/// Within a phase the value moves by [`AnnealStrategy::anneal`] with `pct = (t - phase
/// start) / (phase end - phase start)`. With `cycle_momentum` (the default) it sets the
/// momentum too: SGD's `momentum` (so plain SGD becomes SGD with momentum, as in PyTorch),
/// Adam's and AdamW's `beta1`. Stepping past `total_steps` is an error.
pub struct OneCycleLR {
    plan: OneCyclePlan,
    core: Core,
}

impl OneCycleLR {
    /// Builds the schedule, records every group's `initial_lr` (overwriting a previous
    /// scheduler's, as PyTorch does) and sets step 0's learning rates (and momentums).
    ///
    /// Errors when `total_steps` is 0, `pct_start` is outside `[0, 1]`, a `max_lr` is not a
    /// finite number `>= 0` or there is neither one nor one per group, `div_factor` or
    /// `final_div_factor` is not a finite number `> 0`, a momentum is not a finite number
    /// `>= 0` the optimizer accepts, `cycle_momentum` is asked of an optimizer without
    /// momentum, or a phase of the cycle has no steps.
    pub fn new(optimizer: &mut dyn Optimizer, opts: OneCycleOptions) -> Result<OneCycleLR> {
        const OP: &str = "OneCycleLR";
        let o = &opts;
        if o.total_steps == 0 {
            return Err(Error::invalid(
                OP,
                "expected a positive integer total_steps (or epochs and steps_per_epoch), but got 0",
            ));
        }
        if !(0.0..=1.0).contains(&o.pct_start) {
            return Err(Error::invalid(
                OP,
                format!("expected pct_start between 0 and 1, but got {}", o.pct_start),
            ));
        }
        for (what, f) in [("div_factor", o.div_factor), ("final_div_factor", o.final_div_factor)] {
            if !(f > 0.0 && f.is_finite()) {
                return Err(Error::invalid(OP, format!("invalid {what} {f} (must be a finite number > 0)")));
            }
        }
        for (what, m) in [("base_momentum", o.base_momentum), ("max_momentum", o.max_momentum)] {
            if !(m >= 0.0 && m.is_finite()) {
                return Err(Error::invalid(OP, format!("invalid {what} {m} (must be a finite number >= 0)")));
            }
        }
        let max_lrs = per_group(OP, "max_lr", &o.max_lr, optimizer.num_param_groups())?;
        if o.cycle_momentum && optimizer.momentums().is_none() {
            return Err(Error::invalid(
                OP,
                "optimizer must support momentum or beta1 with the cycle_momentum option enabled",
            ));
        }
        let groups: Vec<Cycle> = max_lrs
            .iter()
            .map(|&max_lr| {
                let initial_lr = max_lr / o.div_factor;
                Cycle {
                    initial_lr,
                    max_lr,
                    min_lr: initial_lr / o.final_div_factor,
                    max_momentum: o.max_momentum,
                    base_momentum: o.base_momentum,
                }
            })
            .collect();
        let total = o.total_steps as f64;
        let phases = if o.three_phase {
            vec![
                Phase {
                    end_step: o.pct_start * total - 1.0,
                    lr: (Point::InitialLr, Point::MaxLr),
                    momentum: (Point::MaxMomentum, Point::BaseMomentum),
                },
                Phase {
                    end_step: 2.0 * o.pct_start * total - 2.0,
                    lr: (Point::MaxLr, Point::InitialLr),
                    momentum: (Point::BaseMomentum, Point::MaxMomentum),
                },
                Phase {
                    end_step: total - 1.0,
                    lr: (Point::InitialLr, Point::MinLr),
                    momentum: (Point::MaxMomentum, Point::MaxMomentum),
                },
            ]
        } else {
            vec![
                Phase {
                    end_step: o.pct_start * total - 1.0,
                    lr: (Point::InitialLr, Point::MaxLr),
                    momentum: (Point::MaxMomentum, Point::BaseMomentum),
                },
                Phase {
                    end_step: total - 1.0,
                    lr: (Point::MaxLr, Point::MinLr),
                    momentum: (Point::BaseMomentum, Point::MaxMomentum),
                },
            ]
        };
        let initial = groups.iter().map(|c| c.initial_lr).collect();
        let plan = OneCyclePlan {
            total_steps: o.total_steps,
            phases,
            anneal: o.anneal_strategy,
            cycle_momentum: o.cycle_momentum,
            groups,
        };
        let core = Core::start(OP, optimizer, Some(initial), |t, _, _| plan.at(t))?;
        Ok(OneCycleLR { plan, core })
    }

    /// The momentum (SGD's `momentum` or Adam's `beta1`) the last step set, per group;
    /// `None` without `cycle_momentum`.
    pub fn get_last_momentum(&self) -> Option<Vec<f64>> {
        self.plan.at(self.core.last_epoch).ok().and_then(|u| u.momentums)
    }
}

impl LrScheduler for OneCycleLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let plan = &self.plan;
        self.core.step(optimizer, |t, _, _| plan.at(t))
    }
    core_accessors!();
}

// ----- ReduceLROnPlateau ---------------------------------------------------------------------

/// Whether [`ReduceLROnPlateau`] watches a metric that should go down (`"min"`, a loss) or
/// up (`"max"`, an accuracy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PlateauMode {
    /// `"min"` (the default): a metric that should decrease.
    #[default]
    Min,
    /// `"max"`: a metric that should increase.
    Max,
}

/// How [`ReduceLROnPlateau`] decides that a metric improved on the best one (`threshold_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ThresholdMode {
    /// `"rel"` (the default): better than `best * (1 - threshold)` (`min`) or
    /// `best * (1 + threshold)` (`max`).
    #[default]
    Rel,
    /// `"abs"`: better than `best - threshold` (`min`) or `best + threshold` (`max`).
    Abs,
}

/// [`ReduceLROnPlateau`]'s arguments with PyTorch's defaults (`mode='min'`, `factor=0.1`,
/// `patience=10`, `threshold=1e-4`, `threshold_mode='rel'`, `cooldown=0`, `min_lr=0`,
/// `eps=1e-8`), set with the builder methods.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateauOptions {
    mode: PlateauMode,
    factor: f64,
    patience: usize,
    threshold: f64,
    threshold_mode: ThresholdMode,
    cooldown: usize,
    min_lr: Vec<f64>,
    eps: f64,
}

impl Default for PlateauOptions {
    fn default() -> Self {
        PlateauOptions {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: vec![0.0],
            eps: 1e-8,
        }
    }
}

impl PlateauOptions {
    /// PyTorch's defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// `mode`: [`PlateauMode::Min`] or [`PlateauMode::Max`].
    pub fn mode(mut self, mode: PlateauMode) -> Self {
        self.mode = mode;
        self
    }
    /// `factor`: the learning rate becomes `lr * factor` (must be in `[0, 1)`).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }
    /// `patience`: how many steps without improvement are tolerated before reducing.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }
    /// `threshold`: how much better a metric must be to count as an improvement.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
    /// `threshold_mode`: [`ThresholdMode::Rel`] or [`ThresholdMode::Abs`].
    pub fn threshold_mode(mut self, mode: ThresholdMode) -> Self {
        self.threshold_mode = mode;
        self
    }
    /// `cooldown`: steps after a reduction during which bad steps are not counted.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }
    /// `min_lr` for every group: the learning rate is never reduced below it.
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = vec![min_lr];
        self
    }
    /// `min_lr=[...]`: one lower bound per group.
    pub fn min_lrs(mut self, min_lrs: Vec<f64>) -> Self {
        self.min_lr = min_lrs;
        self
    }
    /// `eps`: a reduction smaller than this is skipped.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

/// `torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, ...)`: reduces every group's
/// learning rate by `factor` (not below its `min_lr`) once a watched metric has not improved
/// for more than `patience` steps. Unlike the other schedulers its [`ReduceLROnPlateau::step`]
/// takes the metric, and it does not change the learning rates when built. Per step with
/// metric `m`:
///
/// ```text
/// if m is better than best (see ThresholdMode): best = m, bad = 0 else bad += 1
/// if cooling down: cooldown_counter -= 1, bad = 0
/// if bad > patience: lr = max(lr * factor, min_lr) where that lowers lr by more than eps;
///                    cooldown_counter = cooldown, bad = 0
/// ```
///
/// A NaN metric is never better (it counts as a bad step), as in PyTorch.
///
/// ```
/// # use torchlet_autograd::Tensor;
/// use torchlet_nn::optim::{Optimizer, PlateauOptions, ReduceLROnPlateau, SGD};
/// # let params = vec![Tensor::from(vec![1.0f32]).requires_grad_(true)?];
/// let mut opt = SGD::new(params, 0.1)?;
/// let mut sched = ReduceLROnPlateau::new(&mut opt, PlateauOptions::new().patience(1))?;
/// for loss in [1.0, 0.5, 0.6, 0.7] {
///     sched.step(&mut opt, loss)?;
/// }
/// // 0.6 and 0.7 do not improve on 0.5: two bad steps > patience 1
/// assert_eq!(sched.get_last_lr(), [0.1 * 0.1]);
/// # Ok::<(), torchlet_autograd::Error>(())
/// ```
pub struct ReduceLROnPlateau {
    opts: PlateauOptions,
    /// One per group.
    min_lrs: Vec<f64>,
    best: f64,
    num_bad_epochs: usize,
    cooldown_counter: usize,
    last_epoch: usize,
    last_lr: Vec<f64>,
    params: Vec<u64>,
}

impl ReduceLROnPlateau {
    /// Builds the scheduler; the learning rates are left as they are. Errors when `factor`
    /// is not in `[0, 1)`, `threshold` or `eps` is not a finite number `>= 0`, or there is
    /// neither one `min_lr` nor one per group, or one is not a finite number `>= 0`.
    pub fn new(optimizer: &mut dyn Optimizer, opts: PlateauOptions) -> Result<ReduceLROnPlateau> {
        const OP: &str = "ReduceLROnPlateau";
        if !(0.0..1.0).contains(&opts.factor) {
            return Err(Error::invalid(
                OP,
                format!("invalid factor {} (should be >= 0 and < 1.0)", opts.factor),
            ));
        }
        for (what, x) in [("threshold", opts.threshold), ("eps", opts.eps)] {
            if !(x >= 0.0 && x.is_finite()) {
                return Err(Error::invalid(OP, format!("invalid {what} {x} (must be a finite number >= 0)")));
            }
        }
        let min_lrs = per_group(OP, "min_lr", &opts.min_lr, optimizer.num_param_groups())?;
        Ok(ReduceLROnPlateau {
            best: Self::worse(opts.mode),
            opts,
            min_lrs,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
            last_lr: optimizer.lrs(),
            params: optimizer.params().iter().map(|p| p.id()).collect(),
        })
    }

    fn worse(mode: PlateauMode) -> f64 {
        match mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        }
    }

    fn is_better(&self, a: f64) -> bool {
        let (best, th) = (self.best, self.opts.threshold);
        match (self.opts.mode, self.opts.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - th),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - th,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (th + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + th,
        }
    }

    /// `scheduler.step(metric)`: one step with the watched metric (e.g. the validation loss),
    /// reducing the learning rates of `optimizer` (the one the scheduler was built on) after
    /// too many steps without improvement. On `Err` nothing changed.
    pub fn step(&mut self, optimizer: &mut dyn Optimizer, metric: f64) -> Result<()> {
        let same = optimizer.num_param_groups() == self.min_lrs.len()
            && optimizer.params().len() == self.params.len()
            && optimizer.params().iter().zip(&self.params).all(|(p, &id)| p.id() == id);
        if !same {
            return Err(Error::invalid(
                "ReduceLROnPlateau",
                format!(
                    "step() was given an optimizer other than the one this scheduler was built on ({} parameter(s) in {} group(s), not these {} in {}); build one scheduler per optimizer",
                    self.params.len(),
                    self.min_lrs.len(),
                    optimizer.params().len(),
                    optimizer.num_param_groups()
                ),
            ));
        }
        let (mut best, mut bad, mut cooldown) = (self.best, self.num_bad_epochs, self.cooldown_counter);
        if self.is_better(metric) {
            best = metric;
            bad = 0;
        } else {
            bad += 1;
        }
        if cooldown > 0 {
            cooldown -= 1;
            bad = 0;
        }
        if bad > self.opts.patience {
            let old = optimizer.lrs();
            for (g, (&lr, &min_lr)) in old.iter().zip(&self.min_lrs).enumerate() {
                let new_lr = (lr * self.opts.factor).max(min_lr);
                if lr - new_lr > self.opts.eps {
                    if let Err(e) = optimizer.set_group_lr(g, new_lr) {
                        for (h, &before) in old[..g].iter().enumerate() {
                            let _ = optimizer.set_group_lr(h, before);
                        }
                        return Err(e);
                    }
                }
            }
            cooldown = self.opts.cooldown;
            bad = 0;
        }
        self.best = best;
        self.num_bad_epochs = bad;
        self.cooldown_counter = cooldown;
        self.last_epoch += 1;
        self.last_lr = optimizer.lrs();
        Ok(())
    }

    /// The learning rates after the last step (at construction: the optimizer's), one per
    /// group (`scheduler.get_last_lr()`).
    pub fn get_last_lr(&self) -> &[f64] {
        &self.last_lr
    }

    /// The number of steps taken (`scheduler.last_epoch`).
    pub fn last_epoch(&self) -> usize {
        self.last_epoch
    }

    /// The best metric seen (`scheduler.best`; infinity, of the bad sign, before any step).
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Steps without improvement since the best metric or the last reduction
    /// (`scheduler.num_bad_epochs`).
    pub fn num_bad_epochs(&self) -> usize {
        self.num_bad_epochs
    }

    /// The progress (`scheduler.state_dict()`): `last_epoch`, `best` (f64),
    /// `num_bad_epochs`, `cooldown_counter` (i64) and `_last_lr` (f64, `[groups]`); the
    /// options are those it was built with.
    pub fn state_dict(&self) -> Vec<(String, TensorData)> {
        vec![
            ("last_epoch".to_string(), TensorData::scalar(self.last_epoch as i64)),
            ("best".to_string(), TensorData::scalar(self.best)),
            ("num_bad_epochs".to_string(), TensorData::scalar(self.num_bad_epochs as i64)),
            ("cooldown_counter".to_string(), TensorData::scalar(self.cooldown_counter as i64)),
            ("_last_lr".to_string(), TensorData::from(self.last_lr.clone())),
        ]
    }

    /// Restores a state saved by [`ReduceLROnPlateau::state_dict`]; strict and atomic like
    /// [`LrScheduler::load_state_dict`].
    pub fn load_state_dict(&mut self, sd: &[(String, TensorData)]) -> Result<()> {
        const NAME: &str = "ReduceLROnPlateau";
        load_entries(NAME, sd, &["last_epoch", "best", "num_bad_epochs", "cooldown_counter", "_last_lr"])?;
        let get = |k: &str| {
            sd.iter()
                .find(|(n, _)| n == k)
                .map(|(_, t)| t)
                .ok_or_else(|| bad_load(NAME, format!("missing key \"{k}\"")))
        };
        let count = |k: &str| -> Result<usize> {
            let t = get(k)?;
            if t.dtype() != DType::I64 || !t.dims().is_empty() {
                return Err(bad_load(
                    NAME,
                    format!(
                        "\"{k}\" should be a 0-dimensional i64 tensor, got dtype {} and shape {}",
                        t.dtype(),
                        t.shape()
                    ),
                ));
            }
            let v = t.to_vec::<i64>()?[0];
            usize::try_from(v).map_err(|_| bad_load(NAME, format!("\"{k}\" is {v} (must be >= 0)")))
        };
        let (last_epoch, bad, cooldown) =
            (count("last_epoch")?, count("num_bad_epochs")?, count("cooldown_counter")?);
        let best = get("best")?;
        if !best.dtype().is_float() || !best.dims().is_empty() {
            return Err(bad_load(
                NAME,
                format!(
                    "\"best\" should be a 0-dimensional float tensor, got dtype {} and shape {}",
                    best.dtype(),
                    best.shape()
                ),
            ));
        }
        let best = best.item()?;
        // `_last_lr` has the shape and checks of the other schedulers' entry.
        let lr_only: Vec<(String, TensorData)> = vec![
            ("last_epoch".to_string(), TensorData::scalar(0i64)),
            ("base_lrs".to_string(), get("_last_lr")?.clone()),
            ("_last_lr".to_string(), get("_last_lr")?.clone()),
        ];
        let (_, _, last_lr) = load_core(NAME, self.min_lrs.len(), &lr_only)?;
        self.last_epoch = last_epoch;
        self.num_bad_epochs = bad;
        self.cooldown_counter = cooldown;
        self.best = best;
        self.last_lr = last_lr;
        Ok(())
    }
}
