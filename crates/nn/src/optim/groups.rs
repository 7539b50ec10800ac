//! Parameter groups: [`ParamGroup`] (what the user gives, PyTorch's `{'params': ..., 'lr':
//! ...}` dicts) and `Groups` (what an optimizer keeps: every parameter in one list, and per
//! group a range of that list with its resolved hyper-parameters).

use super::state::Entries;
use super::{check_non_negative, check_params};
use std::ops::Range;
use torchlet_autograd::{Error, Result, Tensor, TensorData};

/// One parameter group: PyTorch's `{'params': [...], 'lr': ..., 'weight_decay': ...}`. Every
/// option left `None` takes the optimizer's value.
///
/// ```
/// # use torchlet_autograd::Tensor;
/// use torchlet_nn::optim::{Optimizer, ParamGroup, SgdOptions, SGD};
/// # let (w, b) = (Tensor::from(vec![1.0f32]).requires_grad_(true)?, Tensor::from(vec![0.0f32]).requires_grad_(true)?);
/// // torch.optim.SGD([{'params': [w]}, {'params': [b], 'lr': 0.01}], lr=0.1, momentum=0.9)
/// let opt = SGD::with_groups(
///     vec![ParamGroup::new(vec![w]), ParamGroup::new(vec![b]).lr(0.01)],
///     SgdOptions::new(0.1).momentum(0.9),
/// )?;
/// assert_eq!(opt.lrs(), vec![0.1, 0.01]);
/// assert_eq!(opt.group_options(1).unwrap().momentum, 0.9);
/// # Ok::<(), torchlet_autograd::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ParamGroup {
    /// The group's parameters (`'params'`).
    pub params: Vec<Tensor>,
    /// `'lr'`.
    pub lr: Option<f64>,
    /// `'momentum'` (SGD).
    pub momentum: Option<f64>,
    /// `'dampening'` (SGD).
    pub dampening: Option<f64>,
    /// `'weight_decay'` (every optimizer).
    pub weight_decay: Option<f64>,
    /// `'nesterov'` (SGD).
    pub nesterov: Option<bool>,
    /// `'maximize'` (every optimizer).
    pub maximize: Option<bool>,
    /// `'betas'` (Adam, AdamW).
    pub betas: Option<(f64, f64)>,
    /// `'eps'` (Adam, AdamW).
    pub eps: Option<f64>,
    /// `'amsgrad'` (Adam, AdamW).
    pub amsgrad: Option<bool>,
}

impl ParamGroup {
    /// A group of `params` with every option taken from the optimizer.
    pub fn new(params: Vec<Tensor>) -> Self {
        ParamGroup { params, ..Default::default() }
    }
    /// Sets `lr`.
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = Some(lr);
        self
    }
    /// Sets `momentum` (SGD).
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = Some(m);
        self
    }
    /// Sets `dampening` (SGD).
    pub fn dampening(mut self, d: f64) -> Self {
        self.dampening = Some(d);
        self
    }
    /// Sets `weight_decay`.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = Some(wd);
        self
    }
    /// Sets `nesterov` (SGD).
    pub fn nesterov(mut self, on: bool) -> Self {
        self.nesterov = Some(on);
        self
    }
    /// Sets `maximize`.
    pub fn maximize(mut self, on: bool) -> Self {
        self.maximize = Some(on);
        self
    }
    /// Sets `betas` (Adam, AdamW).
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.betas = Some((beta1, beta2));
        self
    }
    /// Sets `eps` (Adam, AdamW).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = Some(eps);
        self
    }
    /// Sets `amsgrad` (Adam, AdamW).
    pub fn amsgrad(mut self, on: bool) -> Self {
        self.amsgrad = Some(on);
        self
    }

    /// The names of the options this group sets, for "SGD has no option betas" errors.
    pub(crate) fn set_options(&self) -> Vec<&'static str> {
        let mut names = vec![];
        let mut add = |name, set: bool| {
            if set {
                names.push(name)
            }
        };
        add("lr", self.lr.is_some());
        add("momentum", self.momentum.is_some());
        add("dampening", self.dampening.is_some());
        add("weight_decay", self.weight_decay.is_some());
        add("nesterov", self.nesterov.is_some());
        add("maximize", self.maximize.is_some());
        add("betas", self.betas.is_some());
        add("eps", self.eps.is_some());
        add("amsgrad", self.amsgrad.is_some());
        names
    }
}

/// The hyper-parameters of one group of an optimizer (`SgdOptions`, `AdamOptions`).
pub(crate) trait Hyper: Clone {
    /// The options a group of this optimizer may set.
    const OPTIONS: &'static [&'static str];
    /// `self` (the optimizer's options) overridden by what `group` sets.
    fn merged(&self, group: &ParamGroup) -> Self;
    /// Checks every value, as at construction.
    fn validate(&self, op: &'static str) -> Result<()>;
    /// `lr`.
    fn lr(&self) -> f64;
    /// Sets `lr` (validated by the caller).
    fn set_lr(&mut self, lr: f64);
    /// The momentum a schedule cycles: SGD's `momentum`, Adam's `beta1`.
    fn momentum(&self) -> f64;
    /// Sets it (validated by the caller with [`Hyper::validate`]).
    fn set_momentum(&mut self, m: f64);
    /// The values a state dict stores, PyTorch's names.
    fn save(&self) -> Vec<(&'static str, TensorData)>;
    /// Reads the values [`Hyper::save`] stores (every one must be present).
    fn load(entries: &mut Entries) -> Result<Self>;
}

/// One group inside an optimizer: its parameters are `params[range]` of [`Groups::params`].
#[derive(Clone, Debug)]
pub(crate) struct Group<H> {
    pub range: Range<usize>,
    pub hyper: H,
    pub initial_lr: Option<f64>,
}

/// Every parameter of an optimizer in one list, and its groups.
pub(crate) struct Groups<H> {
    pub op: &'static str,
    pub params: Vec<Tensor>,
    pub groups: Vec<Group<H>>,
}

impl<H: Hyper> Groups<H> {
    /// The groups of `optim.X([{...}, {...}], **defaults)`: every group's options are
    /// `defaults` with its overrides, validated; the parameters are checked together.
    pub fn new(op: &'static str, groups: Vec<ParamGroup>, defaults: &H) -> Result<Self> {
        defaults.validate(op)?;
        if groups.is_empty() {
            return Err(Error::invalid(op, "got an empty list of parameter groups"));
        }
        let (mut params, mut out) = (vec![], vec![]);
        let many = groups.len() > 1;
        for (g, group) in groups.into_iter().enumerate() {
            if let Some(bad) = group.set_options().into_iter().find(|o| !H::OPTIONS.contains(o)) {
                return Err(Error::invalid(
                    op,
                    format!(
                        "param group {g} sets {bad}, which {op} does not have (its options: {})",
                        H::OPTIONS.join(", ")
                    ),
                ));
            }
            let hyper = defaults.merged(&group);
            hyper.validate(op).map_err(|e| in_group(e, g, many))?;
            let start = params.len();
            params.extend(group.params);
            out.push(Group { range: start..params.len(), hyper, initial_lr: None });
        }
        check_params(op, &params)?;
        Ok(Groups { op, params, groups: out })
    }

    /// The group `g`, or an index error.
    fn group_mut(&mut self, g: usize) -> Result<&mut Group<H>> {
        let n = self.groups.len();
        self.groups.get_mut(g).ok_or(Error::IndexOutOfRange {
            op: self.op,
            what: "parameter group",
            index: g as i64,
            size: n,
            extra: String::new(),
        })
    }

    /// The hyper-parameters of group `g`.
    pub fn hyper(&self, g: usize) -> Option<&H> {
        self.groups.get(g).map(|grp| &grp.hyper)
    }

    pub fn lrs(&self) -> Vec<f64> {
        self.groups.iter().map(|g| g.hyper.lr()).collect()
    }

    pub fn set_group_lr(&mut self, g: usize, lr: f64) -> Result<()> {
        check_non_negative(self.op, "learning rate", lr)?;
        self.group_mut(g)?.hyper.set_lr(lr);
        Ok(())
    }

    pub fn initial_lrs(&self) -> Vec<Option<f64>> {
        self.groups.iter().map(|g| g.initial_lr).collect()
    }

    pub fn set_group_initial_lr(&mut self, g: usize, lr: Option<f64>) -> Result<()> {
        if let Some(lr) = lr {
            check_non_negative(self.op, "initial_lr", lr)?;
        }
        self.group_mut(g)?.initial_lr = lr;
        Ok(())
    }

    pub fn momentums(&self) -> Vec<f64> {
        self.groups.iter().map(|g| g.hyper.momentum()).collect()
    }

    pub fn set_group_momentum(&mut self, g: usize, m: f64) -> Result<()> {
        let op = self.op;
        let group = self.group_mut(g)?;
        let mut hyper = group.hyper.clone();
        hyper.set_momentum(m);
        hyper.validate(op)?;
        group.hyper = hyper;
        Ok(())
    }
}

/// Prefixes an error's message with the group it is about (when there are several).
pub(crate) fn in_group(e: Error, g: usize, many: bool) -> Error {
    match e {
        Error::InvalidArgument { op, msg } if many => Error::invalid(op, format!("param group {g}: {msg}")),
        other => other,
    }
}
