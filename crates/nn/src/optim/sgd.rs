//! Stochastic gradient descent with momentum, dampening, weight decay, Nesterov and maximize
//! (`torch.optim.SGD`).

use super::{check_non_negative, check_params, check_state, collect_grads, Optimizer};
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

    fn validate(&self) -> Result<()> {
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

/// `torch.optim.SGD`. Per parameter `p` with gradient `grad` (docs/semantics.md):
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
    params: Vec<Tensor>,
    opts: SgdOptions,
    /// `momentum_buffer` per parameter, created on its first step.
    momentum_buffers: Vec<Option<TensorData>>,
    /// Gradients read in phase one of a step (kept to reuse the allocation).
    grads: Vec<Option<TensorData>>,
}

impl SGD {
    /// `optim.SGD(params, ...)`: errors on invalid hyper-parameters or parameters.
    pub fn new(params: Vec<Tensor>, opts: impl Into<SgdOptions>) -> Result<SGD> {
        let opts = opts.into();
        opts.validate()?;
        check_params("SGD", &params)?;
        let n = params.len();
        Ok(SGD { params, opts, momentum_buffers: vec![None; n], grads: Vec::with_capacity(n) })
    }

    /// The hyper-parameters.
    pub fn options(&self) -> &SgdOptions {
        &self.opts
    }

    /// The momentum buffer of parameter `i` (`state[p]['momentum_buffer']`), once it exists.
    pub fn momentum_buffer(&self, i: usize) -> Option<Tensor> {
        self.momentum_buffers.get(i).cloned().flatten().map(Tensor::from_data)
    }
}

impl Optimizer for SGD {
    fn step(&mut self) -> Result<()> {
        // Phase one: check everything, change nothing.
        collect_grads("SGD", &self.params, &mut self.grads)?;
        for (i, p) in self.params.iter().enumerate() {
            check_state("SGD", i, p, "momentum buffer", self.momentum_buffers[i].as_ref())?;
        }
        // Phase two: update.
        let opts = &self.opts;
        for ((p, g), buf) in self.params.iter().zip(&self.grads).zip(&mut self.momentum_buffers) {
            let Some(g) = g else { continue };
            p.update_data(|d| match d.dtype() {
                DType::F32 => sgd_update::<f32>(d, g, buf, opts),
                DType::F64 => sgd_update::<f64>(d, g, buf, opts),
                other => Err(Error::need_float("SGD", other)),
            })?;
        }
        Ok(())
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn lr(&self) -> f64 {
        self.opts.lr
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        check_non_negative("SGD", "learning rate", lr)?;
        self.opts.lr = lr;
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
