//! Stochastic gradient descent with momentum, dampening, weight decay, Nesterov and maximize
//! (`torch.optim.SGD`).

use super::groups::{Groups, Hyper, ParamGroup};
use super::state::{self, Entries, ParamState};
use super::{check_non_negative, check_state, collect_grads, Optimizer};
use torchlet_autograd::{DType, Error, Result, Tensor, TensorData};
use torchlet_tensor_core::Float;

/// SGD's hyper-parameters, PyTorch's keyword arguments. `SgdOptions::new(0.1).momentum(0.9)`;
/// a bare learning rate converts: `SGD::new(params, 0.03)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdOptions {
    /// Learning rate (`lr`, default 1e-3), `>= 0`.
    pub lr: f64,
    /// Momentum factor (default 0), `>= 0`.
    pub momentum: f64,
    /// Dampening for momentum (default 0).
    pub dampening: f64,
    /// L2 penalty added to the gradient (default 0), `>= 0`.
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening = 0).
    pub nesterov: bool,
    /// Maximise the objective instead of minimising it.
    pub maximize: bool,
}

impl Default for SgdOptions {
    fn default() -> Self {
        SgdOptions {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

impl From<f64> for SgdOptions {
    fn from(lr: f64) -> Self {
        SgdOptions::new(lr)
    }
}

impl SgdOptions {
    /// Defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        SgdOptions { lr, ..Default::default() }
    }
    /// Sets `momentum`.
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self
    }
    /// Sets `dampening`.
    pub fn dampening(mut self, d: f64) -> Self {
        self.dampening = d;
        self
    }
    /// Sets `weight_decay`.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
    /// Sets `nesterov`.
    pub fn nesterov(mut self, on: bool) -> Self {
        self.nesterov = on;
        self
    }
    /// Sets `maximize`.
    pub fn maximize(mut self, on: bool) -> Self {
        self.maximize = on;
        self
    }

    fn check(&self) -> Result<()> {
        check_non_negative("SGD", "learning rate", self.lr)?;
        check_non_negative("SGD", "momentum value", self.momentum)?;
        check_non_negative("SGD", "weight_decay value", self.weight_decay)?;
        if !self.dampening.is_finite() {
            return Err(Error::invalid(
                "SGD",
                format!("invalid dampening {} (must be finite)", self.dampening),
            ));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::invalid(
                "SGD",
                format!(
                    "Nesterov momentum requires a momentum > 0 and zero dampening (got momentum {}, dampening {})",
                    self.momentum, self.dampening
                ),
            ));
        }
        Ok(())
    }
}

/// `torch.optim.SGD`. Per parameter `p` with gradient `grad`, with its group's options
/// (docs/semantics.md):
///
/// ```text
/// g = maximize ? -grad : grad
/// g = g + weight_decay * p
/// if momentum != 0:
///     buf = (first step) ? g : momentum * buf + (1 - dampening) * g
///     g   = nesterov ? g + momentum * buf : buf
/// p = p - lr * g
/// ```
pub struct SGD {
    groups: Groups<SgdOptions>,
    /// `state[p]` per parameter: the momentum buffer, created on its first step.
    state: Vec<SgdState>,
    /// Gradients read in phase one of a step (kept to reuse the allocation).
    grads: Vec<Option<TensorData>>,
}

/// SGD's state of one parameter (`optimizer.state[p]`).
#[derive(Clone, Default)]
struct SgdState {
    momentum_buffer: Option<TensorData>,
}

impl ParamState for SgdState {
    fn save(&self) -> Vec<(&'static str, TensorData)> {
        self.momentum_buffer.iter().map(|b| ("momentum_buffer", b.clone())).collect()
    }
    fn load(entries: &mut Entries, i: usize, param: &Tensor) -> Result<Self> {
        Ok(SgdState { momentum_buffer: entries.like("momentum_buffer", i, param)? })
    }
}

impl Hyper for SgdOptions {
    const OPTIONS: &'static [&'static str] =
        &["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"];

    fn merged(&self, g: &ParamGroup) -> Self {
        SgdOptions {
            lr: g.lr.unwrap_or(self.lr),
            momentum: g.momentum.unwrap_or(self.momentum),
            dampening: g.dampening.unwrap_or(self.dampening),
            weight_decay: g.weight_decay.unwrap_or(self.weight_decay),
            nesterov: g.nesterov.unwrap_or(self.nesterov),
            maximize: g.maximize.unwrap_or(self.maximize),
        }
    }
    fn validate(&self, _op: &'static str) -> Result<()> {
        self.check()
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> f64 {
        self.momentum
    }
    fn set_momentum(&mut self, m: f64) {
        self.momentum = m;
    }
    fn save(&self) -> Vec<(&'static str, TensorData)> {
        vec![
            ("lr", self.lr.into()),
            ("momentum", self.momentum.into()),
            ("dampening", self.dampening.into()),
            ("weight_decay", self.weight_decay.into()),
            ("nesterov", self.nesterov.into()),
            ("maximize", self.maximize.into()),
        ]
    }
    fn load(e: &mut Entries) -> Result<Self> {
        Ok(SgdOptions {
            lr: e.f64("lr")?,
            momentum: e.f64("momentum")?,
            dampening: e.f64("dampening")?,
            weight_decay: e.f64("weight_decay")?,
            nesterov: e.bool("nesterov")?,
            maximize: e.bool("maximize")?,
        })
    }
}

impl SGD {
    /// `optim.SGD(params, ...)`: errors on invalid hyper-parameters or parameters.
    pub fn new(params: Vec<Tensor>, opts: impl Into<SgdOptions>) -> Result<SGD> {
        if params.is_empty() {
            return Err(Error::invalid("SGD", "got an empty parameter list"));
        }
        SGD::with_groups(vec![ParamGroup::new(params)], opts)
    }

    /// `optim.SGD([{'params': ..., 'lr': ...}, ...], ...)`: one [`ParamGroup`] per group,
    /// each taking `opts` where it sets nothing. Errors on invalid hyper-parameters (of the
    /// defaults or of a group), an option SGD does not have (`betas`), or invalid parameters.
    pub fn with_groups(groups: Vec<ParamGroup>, opts: impl Into<SgdOptions>) -> Result<SGD> {
        let groups = Groups::new("SGD", groups, &opts.into())?;
        let n = groups.params.len();
        Ok(SGD { groups, state: vec![SgdState::default(); n], grads: Vec::with_capacity(n) })
    }

    /// The hyper-parameters of the first group (the only one unless groups were given).
    pub fn options(&self) -> &SgdOptions {
        &self.groups.groups[0].hyper
    }

    /// The hyper-parameters of group `g` (`optimizer.param_groups[g]`).
    pub fn group_options(&self, g: usize) -> Option<&SgdOptions> {
        self.groups.hyper(g)
    }

    /// The momentum buffer of parameter `i` (`state[p]['momentum_buffer']`), once it exists.
    pub fn momentum_buffer(&self, i: usize) -> Option<Tensor> {
        self.state.get(i).and_then(|s| s.momentum_buffer.clone()).map(Tensor::from_data)
    }
}

impl Optimizer for SGD {
    fn step(&mut self) -> Result<()> {
        let params = &self.groups.params;
        // Phase one: check everything, change nothing.
        collect_grads("SGD", params, &mut self.grads)?;
        for (i, p) in params.iter().enumerate() {
            check_state("SGD", i, p, "momentum buffer", self.state[i].momentum_buffer.as_ref())?;
        }
        // Phase two: update, each group with its own options.
        for group in &self.groups.groups {
            let opts = &group.hyper;
            for i in group.range.clone() {
                let Some(g) = &self.grads[i] else { continue };
                let buf = &mut self.state[i].momentum_buffer;
                params[i].update_data(|d| match d.dtype() {
                    DType::F32 => sgd_update::<f32>(d, g, buf, opts),
                    DType::F64 => sgd_update::<f64>(d, g, buf, opts),
                    other => Err(Error::need_float("SGD", other)),
                })?;
            }
        }
        Ok(())
    }

    fn params(&self) -> &[Tensor] {
        &self.groups.params
    }
    fn lrs(&self) -> Vec<f64> {
        self.groups.lrs()
    }
    fn set_group_lr(&mut self, group: usize, lr: f64) -> Result<()> {
        self.groups.set_group_lr(group, lr)
    }
    fn initial_lrs(&self) -> Vec<Option<f64>> {
        self.groups.initial_lrs()
    }
    fn set_group_initial_lr(&mut self, group: usize, initial_lr: Option<f64>) -> Result<()> {
        self.groups.set_group_initial_lr(group, initial_lr)
    }
    fn momentums(&self) -> Option<Vec<f64>> {
        Some(self.groups.momentums())
    }
    fn set_group_momentum(&mut self, group: usize, momentum: f64) -> Result<()> {
        self.groups.set_group_momentum(group, momentum)
    }
    fn state_dict(&self) -> Vec<(String, TensorData)> {
        state::save(&self.groups, &self.state)
    }
    fn load_state_dict(&mut self, sd: &[(String, TensorData)]) -> Result<()> {
        let (groups, state) = state::load(&self.groups, sd)?;
        self.groups.groups = groups;
        self.state = state;
        Ok(())
    }
}

/// One SGD update of `param` in place; the constants are cast to `T` first, as PyTorch
/// casts its Python-float hyper-parameters to the tensor's dtype.
fn sgd_update<T: Float>(
    param: &mut TensorData,
    grad: &TensorData,
    buf: &mut Option<TensorData>,
    o: &SgdOptions,
) -> Result<()> {
    let g = grad.values::<T>()?;
    let shape = param.shape().clone();
    let p = param.values_mut::<T>()?;
    let (neg_lr, wd) = (T::c(-o.lr), T::c(o.weight_decay));
    let (momentum, damp) = (T::c(o.momentum), T::c(1.0 - o.dampening));
    // The gradient after maximize and weight decay.
    let d = |gi: T, pi: T| {
        let gi = if o.maximize { -gi } else { gi };
        if o.weight_decay != 0.0 {
            gi + wd * pi
        } else {
            gi
        }
    };
    if o.momentum == 0.0 {
        for (pi, &gi) in p.iter_mut().zip(g.iter()) {
            *pi += neg_lr * d(gi, *pi);
        }
        return Ok(());
    }
    let first = buf.is_none();
    let b = buf.get_or_insert_with(|| TensorData::zeros(shape, T::DTYPE)).values_mut::<T>()?;
    for ((pi, &gi), bi) in p.iter_mut().zip(g.iter()).zip(b.iter_mut()) {
        let di = d(gi, *pi);
        *bi = if first { di } else { *bi * momentum + damp * di };
        let step = if o.nesterov { di + momentum * *bi } else { *bi };
        *pi += neg_lr * step;
    }
    Ok(())
}
