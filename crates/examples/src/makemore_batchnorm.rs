//! makemore part 3 (`examples/makemore_batchnorm.rs`): a deeper MLP made of the lecture's
//! own layers (Linear, BatchNorm1d, Tanh five times, then Linear + BatchNorm1d), trained
//! with plain SGD, and the diagnostics the lecture uses to see whether a deep network is
//! healthy: per-layer activation statistics and saturation, the gradients of the
//! activations, the weights' gradient:data ratios and the update:data ratio over time. Every
//! printed line is PyTorch's (`tools/lectures/makemore_batchnorm.py`) from the same seeds.

use crate::lecture_layers::{BatchNorm1d, Layer, Linear, Tanh};
use crate::makemore::{sample_with_context, splits, Splits};
use torchlet::nn::functional as F;
use torchlet::prelude::*;
use torchlet::{no_grad, DType, Error, Generator, Result};

/// What the lecture plots: histogram curves `(name, points)` of the tanh activations, of
/// their gradients and of the weights' gradients at the diagnostic step, and the update:data
/// ratios (`log10(std(lr * grad) / std(data))`) of every parameter at every step.
#[derive(Default)]
pub struct Diagnostics {
    /// Density histograms of the tanh layers' outputs.
    pub activations: Vec<(String, Vec<(f64, f64)>)>,
    /// Density histograms of the gradients of the tanh layers' outputs.
    pub gradients: Vec<(String, Vec<(f64, f64)>)>,
    /// Density histograms of the 2-D parameters' gradients.
    pub weight_gradients: Vec<(String, Vec<(f64, f64)>)>,
    /// `ud[step][parameter]`, the log10 update:data ratio.
    pub ud: Vec<Vec<f64>>,
    /// The indices of the 2-D parameters (the lecture plots the ratio of those).
    pub weights: Vec<usize>,
}

/// `torch.histogram(t, bins=100, density=True)` as `(left bin edge, density)` points: 100
/// equal bins over `[min, max]`, each count divided by `count * bin width`.
pub fn histogram(t: &Tensor) -> Result<Vec<(f64, f64)>> {
    let (lo, hi) = (t.min()?.item()?, t.max()?.item()?);
    let counts = t.to_dtype(DType::F64)?.histc(100, lo, hi)?.to_vec::<f64>()?;
    let width = (hi - lo) / 100.0;
    let total: f64 = counts.iter().sum();
    Ok(counts.iter().enumerate().map(|(i, c)| (lo + i as f64 * width, c / (total * width))).collect())
}

/// Python's `'%e' % x`: six decimals and an exponent of at least two digits (`2.640702e-03`).
pub fn sci(x: f64) -> String {
    let s = format!("{x:.6e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// The network: the embedding table `C` and the lecture's layers, drawn from `g` in the
/// lecture's order (the last BatchNorm's gamma scaled by 0.1: "make it less confident").
fn model(g: &mut Generator, n_embd: usize, n_hidden: usize) -> Result<(Tensor, Vec<Box<dyn Layer>>)> {
    let c = Tensor::randn_with(vec![27, n_embd], DType::F32, g)?;
    let mut layers: Vec<Box<dyn Layer>> = vec![];
    let mut fan_in = n_embd * 3;
    for _ in 0..5 {
        layers.push(Box::new(Linear::new(fan_in, n_hidden, false, Some(g))?));
        layers.push(Box::new(BatchNorm1d::new(n_hidden)?));
        layers.push(Box::new(Tanh::default()));
        fan_in = n_hidden;
    }
    layers.push(Box::new(Linear::new(n_hidden, 27, false, Some(g))?));
    let last = BatchNorm1d::new(27)?;
    no_grad(|| last.gamma.mul_(0.1))?; // last layer: make less confident
    layers.push(Box::new(last));
    Ok((c, layers))
}

/// The logits of contexts `x` `(n, 3)`: embed, concatenate, then every layer in turn.
fn forward(c: &Tensor, layers: &mut [Box<dyn Layer>], x: &Tensor) -> Result<Tensor> {
    let emb = c.i(x)?; // (n, 3, n_embd)
    let mut x = emb.view([emb.size(0)? as isize, -1])?; // (n, 3 * n_embd)
    for layer in layers.iter_mut() {
        x = layer.forward(&x)?;
    }
    Ok(x)
}

/// The lecture's diagnostic printout at the current step, appended to `d`.
fn diagnose(
    layers: &[Box<dyn Layer>],
    params: &[Tensor],
    d: &mut Diagnostics,
    out: &mut impl FnMut(String),
) -> Result<()> {
    let missing = || Error::autograd("makemore_batchnorm", "a tanh layer has no output or gradient");
    let tanhs: Vec<(usize, &Tensor)> = layers[..layers.len() - 1] // exclude the output layer
        .iter()
        .enumerate()
        .filter(|(_, l)| l.name() == "Tanh")
        .map(|(i, l)| l.out().map(|t| (i, t)).ok_or_else(missing))
        .collect::<Result<_>>()?;
    out("activation distribution".into());
    for &(i, t) in &tanhs {
        let saturated = t.abs()?.gt(0.97)?.to_dtype(DType::F32)?.mean()?.item()? * 100.0;
        let (mean, std) = (t.mean()?.item()?, t.std()?.item()?);
        out(format!("layer {i} ({:>10}): mean {mean:+.2}, std {std:.2}, saturated: {saturated:.2}%", "Tanh"));
        d.activations.push((format!("layer {i} (Tanh)"), histogram(t)?));
    }
    out("gradient distribution".into());
    for &(i, t) in &tanhs {
        let g = t.grad().ok_or_else(missing)?;
        let (mean, std) = (g.mean()?.item()?, g.std()?.item()?);
        out(format!("layer {i} ({:>10}): mean {mean:+.6}, std {}", "Tanh", sci(std)));
        d.gradients.push((format!("layer {i} (Tanh)"), histogram(&g)?));
    }
    out("weights gradient distribution".into());
    for (i, p) in params.iter().enumerate().filter(|(_, p)| p.ndim() == 2) {
        let g = p.grad().ok_or_else(missing)?;
        let (mean, std) = (g.mean()?.item()?, g.std()?.item()?);
        let shape = format!("({}, {})", p.size(0)?, p.size(1)?);
        let ratio = std / p.std()?.item()?;
        out(format!(
            "weight {shape:>10} | mean {mean:+.6} | std {} | grad:data ratio {}",
            sci(std),
            sci(ratio)
        ));
        d.weight_gradients.push((format!("{i} {shape}"), histogram(&g)?));
    }
    Ok(())
}

/// Runs the lecture's program with `steps` training steps (the learning rate drops from 0.1
/// to 0.01 after three quarters of them), printing the diagnostics after step
/// `min(1000, steps - 1)` (where the lecture stops its debugging run), handing `out` each
/// line to print; returns what the lecture plots.
pub fn run(steps: usize, mut out: impl FnMut(String)) -> Result<Diagnostics> {
    let Splits { itos, train: (xtr, ytr), dev: (xdev, ydev), .. } = splits(3)?;

    let mut g = Generator::new(2147483647);
    let (c, mut layers) = model(&mut g, 10, 100)?;
    let params: Vec<Tensor> =
        std::iter::once(c.clone()).chain(layers.iter().flat_map(|l| l.parameters())).collect();
    out(format!("{}", params.iter().map(Tensor::numel).sum::<usize>()));
    let params = params.into_iter().map(|p| p.requires_grad_(true)).collect::<Result<Vec<_>>>()?;

    let mut d = Diagnostics {
        weights: (0..params.len()).filter(|&i| params[i].ndim() == 2).collect(),
        ..Default::default()
    };
    let debug_step = 1000.min(steps.saturating_sub(1));
    for i in 0..steps {
        let ix = Tensor::randint_with(0, xtr.size(0)? as i64, [32], &mut g)?; // minibatch
        let logits = forward(&c, &mut layers, &xtr.i(&ix)?)?;
        let loss = F::cross_entropy(&logits, &ytr.i(&ix)?)?;
        layers.iter().filter_map(|l| l.out()).for_each(Tensor::retain_grad);
        params.iter().for_each(Tensor::zero_grad);
        loss.backward()?;
        let lr = if i < steps * 3 / 4 { 0.1 } else { 0.01 }; // step learning rate decay
        let grads = params
            .iter()
            .map(|p| p.grad().ok_or_else(|| Error::autograd("makemore_batchnorm", "no gradient")));
        let grads = grads.collect::<Result<Vec<_>>>()?;
        no_grad(|| params.iter().zip(&grads).try_for_each(|(p, g)| p.add_(&(g * -lr))))?;
        if i < 5 || i % 10000 == 0 {
            out(format!("{i:7}/{steps:7}: {:.4}", loss.item()?));
        }
        let ud = params
            .iter()
            .zip(&grads)
            .map(|(p, g)| Ok((lr * g).std()?.item()?.log10() - p.std()?.item()?.log10()));
        d.ud.push(ud.collect::<Result<Vec<f64>>>()?);
        if i == debug_step {
            diagnose(&layers, &params, &mut d, &mut out)?;
        }
    }

    layers.iter_mut().for_each(|l| l.set_training(false)); // put layers into eval mode
    no_grad(|| -> Result<()> {
        for (split, x, y) in [("train", &xtr, &ytr), ("val", &xdev, &ydev)] {
            out(format!("{split} {}", F::cross_entropy(&forward(&c, &mut layers, x)?, y)?.item()?));
        }
        let mut g = Generator::new(2147483647 + 10); // sample from the model
        let names = sample_with_context(20, 3, &itos, |context| {
            let probs = forward(&c, &mut layers, context)?.softmax(1)?;
            Ok(probs.multinomial_with(1, false, &mut g)?.item()? as i64)
        })?;
        names.into_iter().for_each(&mut out);
        Ok(())
    })?;
    Ok(d)
}
