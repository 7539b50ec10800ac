//! `kl_div`: the Kullback-Leibler divergence with the input given as log-probabilities,
//! pointwise `t (ln t - x)` with `0 ln 0 = 0` (with `log_target`, `e^t (t - x)`).
//!
//! Derivatives: `dl/dx = -t` and `dl/dt = ln t + 1 - x` (PyTorch's composite rule for
//! `xlogy(t, t)`, `xlogy(t != 0, t) + t / t`, which is NaN at `t = 0`); with `log_target`,
//! `dl/dx = -e^t` and `dl/dt = e^t (t - x + 1)`.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::loss::{broadcast_pair, first_positive, Reduced, Reduction, Site, Upstream};
use crate::tensor::Tensor;
use crate::warnings::{self, Pitfall};
use smallvec::smallvec;
use std::panic::Location;
use torchlet_tensor_core::{with_float, Float, Numeric, Result, Shape, TensorData};

/// Options of [`kl_div_with`].
#[derive(Clone, Debug, Default)]
pub struct KlDivOpts {
    /// Default `Mean` (which PyTorch and torchlet warn about; prefer `BatchMean`).
    pub reduction: Reduction,
    /// Whether the target is given as log-probabilities. Default false.
    pub log_target: bool,
}

impl KlDivOpts {
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
    /// Sets `log_target`.
    pub fn log_target(mut self, on: bool) -> Self {
        self.log_target = on;
        self
    }
}

/// `kl_div(input, target)` with PyTorch's defaults (reduction `mean`, which warns).
#[track_caller]
pub fn kl_div(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    kl_div_with(input, target, &KlDivOpts::default())
}

/// KL divergence with `input` as log-probabilities: pointwise `t (ln t - input)` with
/// `0 ln 0 = 0` (`log_target`: `e^t (t - input)`); input and target broadcast. `BatchMean`
/// divides the sum by the batch size (the KL definition), `Mean` by the number of elements
/// (warns, as PyTorch does). Also warns when the input has a positive value (probabilities
/// instead of log-probabilities); see [`crate::warnings`].
///
/// Derivatives: `dl/dinput = -t` (`-e^t`); `dl/dt = ln t + 1 - input` (`e^t (t - input + 1)`),
/// which is NaN at `t = 0` exactly as PyTorch's composite gives.
#[track_caller]
pub fn kl_div_with(input: &Tensor, target: &Tensor, opts: &KlDivOpts) -> Result<Tensor> {
    forward(input, target, opts, Location::caller())
}

/// What the rule keeps: `x`, `t` broadcast to the output shape, and the original shapes.
struct KlDiv {
    x: TensorData,
    t: TensorData,
    log_target: bool,
    red: Reduced,
    shapes: (Shape, Shape),
}

impl Backward for KlDiv {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let (x, t, log_target, want_t) = (&self.x, &self.t, self.log_target, needs[1]);
        let (gx, gt) = with_float!(x.dtype(), "kl_div", |T| {
            let (xv, tv) = (x.values::<T>()?, t.values::<T>()?);
            let up = Upstream::<T>::new(g, self.red)?;
            let (mut gx, mut gt) = (Vec::with_capacity(xv.len()), Vec::new());
            for (i, (&x, &t)) in xv.iter().zip(tv.iter()).enumerate() {
                let u = up.at(i);
                if log_target {
                    let e = t.exp();
                    gx.push(-(e * u));
                    if want_t {
                        gt.push(e * (t - x + T::ONE) * u);
                    }
                } else {
                    gx.push(-(t * u));
                    if want_t {
                        // d/dt xlogy(t, t) = xlogy(t != 0, t) + t / t (NaN at t = 0)
                        let ln = if t == T::ZERO { T::ZERO } else { t.ln() };
                        let t_over_t = if t != T::ZERO && t.is_finite() { T::ONE } else { T::c(f64::NAN) };
                        gt.push((ln + t_over_t - x) * u);
                    }
                }
            }
            let shape = x.shape();
            Ok((
                TensorData::from_vec_unchecked(gx, shape.clone()),
                want_t.then(|| TensorData::from_vec_unchecked(gt, shape.clone())),
            ))
        })?;
        Ok(smallvec![
            Some(gx.sum_to_shape(&self.shapes.0)?),
            gt.map(|gt| gt.sum_to_shape(&self.shapes.1)).transpose()?
        ])
    }
}

/// Pointwise losses and (when `check`) the input's first positive value.
fn pointwise<T: Float>(
    x: &TensorData,
    t: &TensorData,
    log_target: bool,
    check: bool,
) -> Result<(Vec<T>, Option<f64>)> {
    let (xv, tv) = (x.values::<T>()?, t.values::<T>()?);
    let positive = if check { first_positive(&xv) } else { None };
    let v = xv
        .iter()
        .zip(tv.iter())
        .map(|(&x, &t)| {
            if log_target {
                t.exp() * (t - x)
            } else {
                // xlogy(t, t) - t x, with 0 ln 0 = 0
                let tlogt = if t == T::ZERO { T::ZERO } else { t * t.ln() };
                tlogt - t * x
            }
        })
        .collect();
    Ok((v, positive))
}

fn forward(input: &Tensor, target: &Tensor, o: &KlDivOpts, at: Site) -> Result<Tensor> {
    const OP: &str = "kl_div";
    let (x0, t0) = (input.data(), target.data());
    let (x, t) = broadcast_pair(OP, &x0, &t0)?;
    let red = match o.reduction {
        Reduction::BatchMean => Reduced::Mean(x0.dims().first().map_or(1.0, |&n| n as f64)),
        Reduction::Mean => Reduced::Mean(x.numel() as f64),
        r => Reduced::new(OP, r, 1.0)?,
    };
    let check = warnings::wanted(Pitfall::KlDivNotLogProbabilities, at);
    let (out, positive) = with_float!(x.dtype(), OP, |T| {
        let (v, positive) = pointwise::<T>(&x, &t, o.log_target, check)?;
        Ok((red.apply(v, x.shape().clone()), positive))
    })?;
    if o.reduction == Reduction::Mean {
        warnings::warn(Pitfall::KlDivMean, at, || {
            "kl_div: reduction Mean divides by the number of elements, which is not the KL divergence; use Reduction::BatchMean (sum / batch size) for the mathematical definition".to_string()
        });
    }
    if let Some(v) = positive {
        warnings::warn(Pitfall::KlDivNotLogProbabilities, at, || {
            format!("kl_div expects log-probabilities as input (values <= 0); got a positive value {v} in the input (shape {}). Did you pass probabilities? Use log_softmax / .log() on the input (the target stays probabilities unless log_target is set)", x0.shape())
        });
    }
    let shapes = (x0.shape().clone(), t0.shape().clone());
    Ok(record(out, "KlDivBackward0", &[input, target], || KlDiv {
        x,
        t,
        log_target: o.log_target,
        red,
        shapes,
    }))
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![OpInfo::new("kl_div", |s| {
        let (m, n) = (s.size(3), s.size(4));
        let log_target = s.flag();
        let opts = KlDivOpts {
            reduction: s.pick(&[Reduction::None, Reduction::Sum, Reduction::BatchMean]),
            log_target,
        };
        // log-probability input; target probabilities (or log-probabilities), maybe broadcast
        let x = s.within(&[m, n], -3.0, -0.1);
        let tshape = s.pick(&[vec![m, n], vec![n]]);
        let t = if log_target { s.within(&tshape, -3.0, -0.1) } else { s.unit(&tshape) };
        Case::new([x, t], move |a| kl_div_with(&a[0], &a[1], &opts))
    })]
}
