//! Adam and AdamW (`torch.optim.Adam`, `torch.optim.AdamW`): one implementation, differing
//! only in how weight decay is applied.

use super::groups::{Groups, Hyper, ParamGroup};
use super::state::{self, Entries, ParamState};
use super::{check_non_negative, check_state, collect_grads, Optimizer};
use torchlet_autograd::{DType, Error, Result, Tensor, TensorData};
use torchlet_tensor_core::Float;

/// Adam's and AdamW's hyper-parameters, PyTorch's keyword arguments:
/// `AdamOptions::new(0.01).betas(0.8, 0.99).amsgrad(true)`; a bare learning rate converts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    /// Learning rate (default 1e-3), `>= 0`.
    pub lr: f64,
    /// Decay rates of the first and second moment estimates (default (0.9, 0.999)), each
    /// in `[0, 1)`.
    pub betas: (f64, f64),
    /// Added to the denominator for stability (default 1e-8), `>= 0`.
    pub eps: f64,
    /// Weight decay, `>= 0`; `None` is the optimizer's default: 0 for Adam (L2 penalty
    /// added to the gradient), 0.01 for AdamW (decoupled: `p *= 1 - lr * wd`).
    pub weight_decay: Option<f64>,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
    /// Maximise the objective instead of minimising it.
    pub maximize: bool,
}

impl Default for AdamOptions {
    fn default() -> Self {
        AdamOptions {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: None,
            amsgrad: false,
            maximize: false,
        }
    }
}

impl From<f64> for AdamOptions {
    fn from(lr: f64) -> Self {
        AdamOptions::new(lr)
    }
}

impl AdamOptions {
    /// Defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdamOptions { lr, ..Default::default() }
    }
    /// Sets `betas`.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.betas = (beta1, beta2);
        self
    }
    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets `weight_decay`.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = Some(wd);
        self
    }
    /// Sets `amsgrad`.
    pub fn amsgrad(mut self, on: bool) -> Self {
        self.amsgrad = on;
        self
    }
    /// Sets `maximize`.
    pub fn maximize(mut self, on: bool) -> Self {
        self.maximize = on;
        self
    }

    fn check(&self, op: &'static str) -> Result<()> {
        check_non_negative(op, "learning rate", self.lr)?;
        check_non_negative(op, "epsilon value", self.eps)?;
        for (i, b) in [self.betas.0, self.betas.1].into_iter().enumerate() {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::invalid(
                    op,
                    format!("invalid beta parameter at index {i}: {b} (must be in [0, 1))"),
                ));
            }
        }
        if let Some(wd) = self.weight_decay {
            check_non_negative(op, "weight_decay value", wd)?;
        }
        Ok(())
    }
}

impl Hyper for AdamOptions {
    const OPTIONS: &'static [&'static str] = &["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"];

    fn merged(&self, g: &ParamGroup) -> Self {
        AdamOptions {
            lr: g.lr.unwrap_or(self.lr),
            betas: g.betas.unwrap_or(self.betas),
            eps: g.eps.unwrap_or(self.eps),
            weight_decay: g.weight_decay.or(self.weight_decay),
            amsgrad: g.amsgrad.unwrap_or(self.amsgrad),
            maximize: g.maximize.unwrap_or(self.maximize),
        }
    }
    fn validate(&self, op: &'static str) -> Result<()> {
        self.check(op)
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> f64 {
        self.betas.0
    }
    fn set_momentum(&mut self, m: f64) {
        self.betas.0 = m;
    }
    fn save(&self) -> Vec<(&'static str, TensorData)> {
        vec![
            ("lr", self.lr.into()),
            ("betas", [self.betas.0, self.betas.1].into()),
            ("eps", self.eps.into()),
            ("weight_decay", self.weight_decay.unwrap_or(0.0).into()),
            ("amsgrad", self.amsgrad.into()),
            ("maximize", self.maximize.into()),
        ]
    }
    fn load(e: &mut Entries) -> Result<Self> {
        Ok(AdamOptions {
            lr: e.f64("lr")?,
            betas: e.pair("betas")?,
            eps: e.f64("eps")?,
            weight_decay: Some(e.f64("weight_decay")?),
            amsgrad: e.bool("amsgrad")?,
            maximize: e.bool("maximize")?,
        })
    }
}

/// Per-parameter state (`optimizer.state[p]`), created on the parameter's first step.
#[derive(Clone, Default)]
struct AdamState {
    step: u64,
    exp_avg: Option<TensorData>,
    exp_avg_sq: Option<TensorData>,
    max_exp_avg_sq: Option<TensorData>,
}

impl ParamState for AdamState {
    fn save(&self) -> Vec<(&'static str, TensorData)> {
        let mut out = vec![];
        if self.step > 0 || self.exp_avg.is_some() {
            out.push(("step", TensorData::scalar(self.step as i64)));
        }
        for (name, t) in [
            ("exp_avg", &self.exp_avg),
            ("exp_avg_sq", &self.exp_avg_sq),
            ("max_exp_avg_sq", &self.max_exp_avg_sq),
        ] {
            if let Some(t) = t {
                out.push((name, t.clone()));
            }
        }
        out
    }
    fn load(e: &mut Entries, i: usize, param: &Tensor) -> Result<Self> {
        Ok(AdamState {
            step: e.count("step")?.unwrap_or(0),
            exp_avg: e.like("exp_avg", i, param)?,
            exp_avg_sq: e.like("exp_avg_sq", i, param)?,
            max_exp_avg_sq: e.like("max_exp_avg_sq", i, param)?,
        })
    }
}

/// The shared implementation. Every group's `weight_decay` is resolved (`Some`).
struct AdamCore {
    groups: Groups<AdamOptions>,
    decoupled: bool,
    state: Vec<AdamState>,
    grads: Vec<Option<TensorData>>,
}

impl AdamCore {
    fn new(
        op: &'static str,
        groups: Vec<ParamGroup>,
        mut opts: AdamOptions,
        decoupled: bool,
    ) -> Result<Self> {
        opts.weight_decay = Some(opts.weight_decay.unwrap_or(if decoupled { 0.01 } else { 0.0 }));
        let groups = Groups::new(op, groups, &opts)?;
        let n = groups.params.len();
        Ok(AdamCore { groups, decoupled, state: vec![AdamState::default(); n], grads: Vec::with_capacity(n) })
    }

    fn step(&mut self) -> Result<()> {
        let (op, params) = (self.groups.op, &self.groups.params);
        // Phase one: check everything, change nothing.
        collect_grads(op, params, &mut self.grads)?;
        for (i, (p, s)) in params.iter().zip(&self.state).enumerate() {
            check_state(op, i, p, "exp_avg", s.exp_avg.as_ref())?;
            check_state(op, i, p, "exp_avg_sq", s.exp_avg_sq.as_ref())?;
            check_state(op, i, p, "max_exp_avg_sq", s.max_exp_avg_sq.as_ref())?;
        }
        // Phase two: update, each group with its own options.
        for group in &self.groups.groups {
            let o = &group.hyper;
            let hp = StepOptions {
                lr: o.lr,
                betas: o.betas,
                eps: o.eps,
                weight_decay: o.weight_decay.unwrap_or(0.0),
                decoupled: self.decoupled,
                amsgrad: o.amsgrad,
                maximize: o.maximize,
            };
            for i in group.range.clone() {
                let Some(g) = &self.grads[i] else { continue };
                let s = &mut self.state[i];
                params[i].update_data(|d| match d.dtype() {
                    DType::F32 => adam_update::<f32>(d, g, s, &hp),
                    DType::F64 => adam_update::<f64>(d, g, s, &hp),
                    other => Err(Error::need_float(op, other)),
                })?;
            }
        }
        Ok(())
    }

    fn load_state_dict(&mut self, sd: &[(String, TensorData)]) -> Result<()> {
        let (groups, state) = state::load(&self.groups, sd)?;
        self.groups.groups = groups;
        self.state = state;
        Ok(())
    }
}

/// Resolved hyper-parameters of one group for one step.
struct StepOptions {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    amsgrad: bool,
    maximize: bool,
}

/// One Adam update of `param` in place, in PyTorch's order (`_single_tensor_adam`):
///
/// ```text
/// g = maximize ? -grad : grad
/// AdamW: p = p * (1 - lr*wd)          Adam: g = g + wd*p
/// m = lerp(m, g, 1 - b1)              (= b1*m + (1-b1)*g)
/// v = b2*v + (1 - b2)*g*g
/// vmax = max(vmax, v)                 (amsgrad; then v := vmax below)
/// step_size = lr / (1 - b1^t)
/// denom = sqrt(v) / sqrt(1 - b2^t) + eps
/// p = p - step_size * m / denom
/// ```
/// The bias corrections are computed in f64 (Python floats in PyTorch), then cast to `T`.
fn adam_update<T: Float>(
    param: &mut TensorData,
    grad: &TensorData,
    s: &mut AdamState,
    h: &StepOptions,
) -> Result<()> {
    let g = grad.values::<T>()?;
    let shape = param.shape().clone();
    let p = param.values_mut::<T>()?;
    let zeros = || TensorData::zeros(shape.clone(), T::DTYPE);
    let m = s.exp_avg.get_or_insert_with(zeros).values_mut::<T>()?;
    let v = s.exp_avg_sq.get_or_insert_with(zeros).values_mut::<T>()?;
    let vmax = match h.amsgrad {
        true => Some(s.max_exp_avg_sq.get_or_insert_with(zeros).values_mut::<T>()?),
        false => None,
    };
    s.step += 1;
    let t = s.step as f64;
    let (b1, b2) = h.betas;
    let bias_correction1 = 1.0 - b1.powf(t);
    let bias_correction2 = 1.0 - b2.powf(t);
    let neg_step_size = T::c(-(h.lr / bias_correction1));
    let bc2_sqrt = T::c(bias_correction2.sqrt());
    let (w, one_minus_w) = (T::c(1.0 - b1), T::c(b1));
    let (beta2, one_minus_b2) = (T::c(b2), T::c(1.0 - b2));
    let (eps, wd, decay) = (T::c(h.eps), T::c(h.weight_decay), T::c(1.0 - h.lr * h.weight_decay));
    let half = T::c(0.5);
    // One element; every branch is on a loop invariant, so the loops below vectorise (the
    // branches become selects), compiled for the CPU's widest vectors by `dispatch!`. Plain
    // multiplies and adds (no fused multiply-adds), so every build gives the same bits.
    #[inline(always)]
    fn step<T: Float>(
        h: &StepOptions,
        [neg_step_size, bc2_sqrt, w, one_minus_w, beta2, one_minus_b2, eps, wd, decay, half]: [T; 10],
        (pi, gi, mi, vi): (&mut T, T, &mut T, &mut T),
        vmax: Option<&mut T>,
    ) {
        let mut gi = if h.maximize { -gi } else { gi };
        if h.weight_decay != 0.0 {
            if h.decoupled {
                *pi *= decay;
            } else {
                gi += wd * *pi;
            }
        }
        // ATen's lerp(start, end, w): start + w*(end - start) for w < 0.5, else
        // end - (end - start)*(1 - w).
        *mi = if w < half { *mi + w * (gi - *mi) } else { gi - (gi - *mi) * one_minus_w };
        *vi = *vi * beta2 + one_minus_b2 * gi * gi;
        let second = match vmax {
            Some(vm) => {
                *vm = vm.max_val(*vi);
                *vm
            }
            None => *vi,
        };
        let denom = second.sqrt() / bc2_sqrt + eps;
        *pi += neg_step_size * *mi / denom;
    }
    let k = [neg_step_size, bc2_sqrt, w, one_minus_w, beta2, one_minus_b2, eps, wd, decay, half];
    let elems = p.iter_mut().zip(g.iter()).zip(m.iter_mut().zip(v.iter_mut()));
    torchlet_tensor_core::dispatch!(torchlet_tensor_core::simd::capability(), |F| match vmax {
        None => elems.for_each(|((pi, &gi), (mi, vi))| step(h, k, (pi, gi, mi, vi), None)),
        Some(vmax) => elems.zip(vmax.iter_mut()).for_each(|(((pi, &gi), (mi, vi)), vm)| step(
            h,
            k,
            (pi, gi, mi, vi),
            Some(vm)
        )),
    });
    Ok(())
}

/// `torch.optim.Adam`: adaptive moments with bias correction; weight decay is an L2 penalty
/// added to the gradient. Per parameter, with its group's options, in PyTorch's order:
///
/// ```text
/// g = maximize ? -grad : grad
/// g = g + weight_decay * p
/// m = beta1 * m + (1 - beta1) * g          (computed as lerp(m, g, 1 - beta1))
/// v = beta2 * v + (1 - beta2) * g * g
/// v = max(vmax, v)                           (amsgrad, vmax kept)
/// p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// ```
pub struct Adam(AdamCore);

/// `torch.optim.AdamW`: Adam with decoupled weight decay, default `weight_decay` 0.01: the
/// weight is decayed first, `p = p * (1 - lr * weight_decay)`, then Adam's update (without
/// the L2 term) is applied, as in [`Adam`].
pub struct AdamW(AdamCore);

impl Adam {
    /// `optim.Adam(params, ...)`: errors on invalid hyper-parameters or parameters.
    pub fn new(params: Vec<Tensor>, opts: impl Into<AdamOptions>) -> Result<Adam> {
        if params.is_empty() {
            return Err(Error::invalid("Adam", "got an empty parameter list"));
        }
        Adam::with_groups(vec![ParamGroup::new(params)], opts)
    }

    /// `optim.Adam([{'params': ..., 'weight_decay': ...}, ...], ...)`: one [`ParamGroup`]
    /// per group, each taking `opts` where it sets nothing. Errors on invalid
    /// hyper-parameters, an option Adam does not have (`momentum`), or invalid parameters.
    pub fn with_groups(groups: Vec<ParamGroup>, opts: impl Into<AdamOptions>) -> Result<Adam> {
        AdamCore::new("Adam", groups, opts.into(), false).map(Adam)
    }

    /// Number of steps taken for parameter `i` (`state[p]['step']`).
    pub fn state_step(&self, i: usize) -> u64 {
        self.0.state.get(i).map_or(0, |s| s.step)
    }

    /// First moment estimate of parameter `i` (`state[p]['exp_avg']`), once it exists.
    pub fn exp_avg(&self, i: usize) -> Option<Tensor> {
        self.0.state.get(i).and_then(|s| s.exp_avg.clone()).map(Tensor::from_data)
    }

    /// Second moment estimate of parameter `i` (`state[p]['exp_avg_sq']`), once it exists.
    pub fn exp_avg_sq(&self, i: usize) -> Option<Tensor> {
        self.0.state.get(i).and_then(|s| s.exp_avg_sq.clone()).map(Tensor::from_data)
    }

    /// The hyper-parameters of group `g` (`optimizer.param_groups[g]`), `weight_decay`
    /// resolved.
    pub fn group_options(&self, g: usize) -> Option<&AdamOptions> {
        self.0.groups.hyper(g)
    }
}

impl AdamW {
    /// `optim.AdamW(params, ...)`: errors on invalid hyper-parameters or parameters.
    pub fn new(params: Vec<Tensor>, opts: impl Into<AdamOptions>) -> Result<AdamW> {
        if params.is_empty() {
            return Err(Error::invalid("AdamW", "got an empty parameter list"));
        }
        AdamW::with_groups(vec![ParamGroup::new(params)], opts)
    }

    /// `optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay,
    /// 'weight_decay': 0.0}], ...)`: one [`ParamGroup`] per group, each taking `opts` where
    /// it sets nothing (and 0.01 for `weight_decay` if neither sets it).
    pub fn with_groups(groups: Vec<ParamGroup>, opts: impl Into<AdamOptions>) -> Result<AdamW> {
        AdamCore::new("AdamW", groups, opts.into(), true).map(AdamW)
    }

    /// Number of steps taken for parameter `i` (`state[p]['step']`).
    pub fn state_step(&self, i: usize) -> u64 {
        self.0.state.get(i).map_or(0, |s| s.step)
    }

    /// First moment estimate of parameter `i` (`state[p]['exp_avg']`), once it exists.
    pub fn exp_avg(&self, i: usize) -> Option<Tensor> {
        self.0.state.get(i).and_then(|s| s.exp_avg.clone()).map(Tensor::from_data)
    }

    /// Second moment estimate of parameter `i` (`state[p]['exp_avg_sq']`), once it exists.
    pub fn exp_avg_sq(&self, i: usize) -> Option<Tensor> {
        self.0.state.get(i).and_then(|s| s.exp_avg_sq.clone()).map(Tensor::from_data)
    }

    /// The weight decay of the first group (0.01 unless set).
    pub fn weight_decay(&self) -> f64 {
        self.0.groups.groups[0].hyper.weight_decay.unwrap_or(0.0)
    }

    /// The hyper-parameters of group `g` (`optimizer.param_groups[g]`), `weight_decay`
    /// resolved.
    pub fn group_options(&self, g: usize) -> Option<&AdamOptions> {
        self.0.groups.hyper(g)
    }
}

macro_rules! delegate_optimizer {
    ($($t:ty),*) => {$(
        impl Optimizer for $t {
            fn step(&mut self) -> Result<()> {
                self.0.step()
            }
            fn params(&self) -> &[Tensor] {
                &self.0.groups.params
            }
            fn lrs(&self) -> Vec<f64> {
                self.0.groups.lrs()
            }
            fn set_group_lr(&mut self, group: usize, lr: f64) -> Result<()> {
                self.0.groups.set_group_lr(group, lr)
            }
            fn initial_lrs(&self) -> Vec<Option<f64>> {
                self.0.groups.initial_lrs()
            }
            fn set_group_initial_lr(&mut self, group: usize, initial_lr: Option<f64>) -> Result<()> {
                self.0.groups.set_group_initial_lr(group, initial_lr)
            }
            /// Every group's `beta1`.
            fn momentums(&self) -> Option<Vec<f64>> {
                Some(self.0.groups.momentums())
            }
            /// Sets group `group`'s `beta1` (in `[0, 1)`).
            fn set_group_momentum(&mut self, group: usize, momentum: f64) -> Result<()> {
                self.0.groups.set_group_momentum(group, momentum)
            }
            fn state_dict(&self) -> Vec<(String, TensorData)> {
                state::save(&self.0.groups, &self.0.state)
            }
            fn load_state_dict(&mut self, sd: &[(String, TensorData)]) -> Result<()> {
                self.0.load_state_dict(sd)
            }
        }
    )*};
}
delegate_optimizer!(Adam, AdamW);
