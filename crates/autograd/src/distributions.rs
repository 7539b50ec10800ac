//! Probability distributions, like `torch.distributions` (differentiable).

use crate::tensor::Tensor;
use torchlet_tensor_core::random::with_global;
use torchlet_tensor_core::{with_float, DType, Error, Generator, Numeric, Result, Shape, TensorData};

/// A categorical distribution over the last dimension, like `torch.distributions.Categorical`:
/// a batch of distributions of shape `probs.shape[:-1]` over `C = probs.shape[-1]` classes.
#[derive(Clone, Debug)]
pub struct Categorical {
    probs: Tensor,
    logits: Tensor,
}

impl Categorical {
    /// From (unnormalised) probabilities: `probs = p / sum(p, -1)`, and
    /// `logits = ln(clamp(probs, eps, 1 - eps))` with `eps` the dtype's machine epsilon.
    /// Errors on negative or non-finite values, rows summing to 0, and 0-D tensors.
    pub fn from_probs(p: &Tensor) -> Result<Categorical> {
        const OP: &str = "Categorical::from_probs";
        let d = p.data();
        check_batch(OP, &d)?;
        with_float!(d.dtype(), OP, |T| {
            let v = d.values::<T>()?;
            if let Some(bad) = v.iter().find(|&&x| !(x >= T::ZERO && x.is_finite())) {
                return Err(Error::invalid(OP, format!("probs must be non-negative and finite, found {bad} (shape {}); for unnormalised log-probabilities use Categorical::from_logits", d.shape())));
            }
            Ok(())
        })?;
        let probs = p.div(&p.sum_dim(-1, true)?)?;
        if probs.to_f64_vec().iter().any(|x| !x.is_finite()) {
            return Err(Error::invalid(
                OP,
                format!("every row of probs (shape {}) must have a positive sum", d.shape()),
            ));
        }
        let eps = match d.dtype() {
            DType::F32 => f32::EPSILON as f64,
            _ => f64::EPSILON,
        };
        let logits = probs.clamp(Some(eps), Some(1.0 - eps))?.log()?;
        Ok(Categorical { probs, logits })
    }

    /// From unnormalised log-probabilities: `logits = l - logsumexp(l, -1)`,
    /// `probs = softmax(l, -1)`.
    pub fn from_logits(l: &Tensor) -> Result<Categorical> {
        check_batch("Categorical::from_logits", &l.data())?;
        let logits = l.sub(&l.logsumexp(-1, true)?)?;
        let probs = logits.softmax(-1)?;
        Ok(Categorical { probs, logits })
    }

    /// The normalised probabilities.
    pub fn probs(&self) -> &Tensor {
        &self.probs
    }

    /// The normalised log-probabilities.
    pub fn logits(&self) -> &Tensor {
        &self.logits
    }

    /// The number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.probs.shape().dims().last().copied().unwrap_or(0)
    }

    /// One sample per distribution of the batch (`dist.sample()`), i64 of the batch shape,
    /// from the global generator. Like PyTorch this is
    /// `multinomial(probs.reshape(-1, C), 1, replacement=True)`: the argmax of `p / E` with
    /// `E ~ Exp(1)` drawn for every class of every row (see `Tensor::multinomial`).
    pub fn sample(&self) -> Result<Tensor> {
        self.sample_n(&[])
    }

    /// [`Categorical::sample`] from an explicit generator.
    pub fn sample_with(&self, g: &mut Generator) -> Result<Tensor> {
        self.sample_n_with(&[], g)
    }

    /// `dist.sample(sample_shape)`: i64 samples of shape `sample_shape + batch_shape`, from
    /// the global generator. PyTorch draws
    /// `multinomial(probs.reshape(-1, C), prod(sample_shape), replacement=True)` and
    /// transposes it, and so does this (one sample goes through exponential variates,
    /// several through the cumulative distribution).
    pub fn sample_n(&self, sample_shape: &[usize]) -> Result<Tensor> {
        with_global(|g| self.sample_n_with(sample_shape, g))
    }

    /// [`Categorical::sample_n`] from an explicit generator.
    pub fn sample_n_with(&self, sample_shape: &[usize], g: &mut Generator) -> Result<Tensor> {
        let c = self.num_classes() as isize;
        let n: usize = sample_shape.iter().product();
        let probs_2d = self.probs.data().contiguous().reshape([-1, c])?;
        let samples = probs_2d.multinomial_with(n, true, g)?.t()?.contiguous();
        let pshape = self.probs.shape();
        let mut shape: Vec<isize> = sample_shape.iter().map(|&d| d as isize).collect();
        shape.extend(pshape.dims()[..pshape.ndim() - 1].iter().map(|&d| d as isize));
        Ok(Tensor::from_data(samples.reshape(&shape)?))
    }

    /// Entropy `-sum_c p_c logits_c` over the last dim, with `logits` clamped below at the
    /// dtype's most negative finite value (so `p = 0` contributes 0). A one-hot row gives
    /// `-ln(1 - eps)` (~1.19e-7 in f32), as in PyTorch. Differentiable in `probs`/`logits`.
    pub fn entropy(&self) -> Result<Tensor> {
        let min = match self.logits.dtype() {
            DType::F32 => f32::MIN as f64,
            _ => f64::MIN,
        };
        self.logits.clamp(Some(min), None)?.mul(&self.probs)?.sum_dim(-1, false)?.neg()
    }

    /// `ln p(value)`: the log-probability of the i64 class indices `value`, whose shape
    /// broadcasts with the batch shape. Errors on non-i64 values and values outside `[0, C)`.
    pub fn log_prob(&self, value: &Tensor) -> Result<Tensor> {
        const OP: &str = "Categorical::log_prob";
        let v = value.data();
        if v.dtype() != DType::I64 {
            return Err(Error::dtype(
                OP,
                "i64 class indices",
                v.dtype(),
                "; convert with .to_dtype(DType::I64)",
            ));
        }
        let c = self.num_classes();
        if let Some(&bad) = v.values::<i64>()?.iter().find(|&&k| k < 0 || k as usize >= c) {
            return Err(Error::IndexOutOfRange {
                op: OP,
                what: "value",
                index: bad,
                size: c,
                extra: " (a class index of the distribution)".into(),
            });
        }
        let lshape = self.logits.shape();
        let batch = Shape::new(&lshape.dims()[..lshape.ndim() - 1]);
        let shape = Shape::broadcast(OP, v.shape(), &batch)?;
        let mut full = shape.0.clone();
        full.push(c);
        let logits = self.logits.expand(Shape(full))?;
        let idx = Tensor::from_data(v.expand(shape)?.contiguous().unsqueeze(-1)?);
        logits.gather(-1, &idx)?.squeeze_dim(-1)
    }
}

fn check_batch(op: &'static str, d: &TensorData) -> Result<()> {
    if d.ndim() == 0 || d.dims()[d.ndim() - 1] == 0 {
        return Err(Error::invalid(op, format!("expected a tensor with at least one dimension holding at least one class (the last dim), got shape {}", d.shape())));
    }
    Ok(())
}
