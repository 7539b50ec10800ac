//! Seed 000, the notebook "Entropy Based Loss Functions": its hand-written functions, written
//! with torchlet tensor ops the way the notebook writes them with numpy, and the comparisons
//! of those against torchlet's built-in losses. Used by `examples/entropy.rs` and
//! `tests/seed_000.rs`.
//!
//! The fixed-distribution functions ([`h`], [`entropy`], [`cross_h`], [`kld`]) and the
//! epsilon-guarded losses ([`cce_loss`], [`bce_loss`], [`kld_loss`]) apply the notebook's
//! formulas operation for operation, in f64, and sum short vectors left to right as Python's
//! `sum` does, so they reproduce the notebook's printed digits exactly.

use torchlet::nn::functional::{self as F, KlDivOpts, Reduction};
use torchlet::optim::{Adam, Optimizer};
use torchlet::{DType, Generator, Result, Tensor, TensorData};

/// The notebook's three example distributions over five events, in its order.
pub const DISTRIBUTIONS: [(&str, [f64; 5]); 3] = [
    ("normal_dist", [0.1, 0.2, 0.4, 0.2, 0.1]),
    ("uniform_dist", [0.2, 0.2, 0.2, 0.2, 0.2]),
    ("random_dist", [0.4, 0.1, 0.05, 0.20, 0.25]),
];

/// The notebook's `eps` of its "safe" `log(x) = np.log(x + eps)`.
pub const EPS: f64 = 1e-12;

/// A distribution as an f64 tensor of shape `(5)` (numpy's default float is f64).
pub fn dist(p: &[f64; 5]) -> Tensor {
    Tensor::with_dtype(*p, DType::F64)
}

/// Formats an f64 as Python's `repr` (and numpy's `float64` `str`) does: the shortest digits
/// that round-trip, `0.0` for zero, and exponent notation below 1e-4 or from 1e16 with a
/// signed exponent of at least two digits (`1e-05`, `-1.000088900581841e-12`).
pub fn py(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:?}` is the same shortest round-trip with the same switch to exponents;
    // only the exponent is written differently (`1e-5` for Python's `1e-05`).
    let s = format!("{x:?}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = exp.strip_prefix('-').map_or(('+', exp), |d| ('-', d));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

// ----- information theory on the fixed distributions ----------------------------------------

/// `h = lambda p, x: -np.log(p[x])`, for every event `x` at once: the information
/// (surprisal) `h(x) = -ln P(x)` in nats.
pub fn h(p: &Tensor) -> Result<Tensor> {
    p.log()?.neg()
}

/// `H = lambda p: -sum([p_x * np.log(p_x) for p_x in p])`: entropy `-sum P ln P`.
pub fn entropy(p: &Tensor) -> Result<Tensor> {
    p.mul(&p.log()?)?.sum()?.neg()
}

/// `crossH = lambda p, q: -sum([p_x * np.log(q_x) ...])`: cross-entropy `-sum P ln Q`.
pub fn cross_h(p: &Tensor, q: &Tensor) -> Result<Tensor> {
    p.mul(&q.log()?)?.sum()?.neg()
}

/// `KLD = lambda p, q: sum([p_x * (np.log(p_x) - np.log(q_x)) ...])`: `sum P (ln P - ln Q)`.
pub fn kld(p: &Tensor, q: &Tensor) -> Result<Tensor> {
    p.mul(&p.log()?.sub(&q.log()?)?)?.sum()
}

// ----- the notebook's loss functions, with its epsilon-guarded log ---------------------------

/// The notebook's safe `log(x) = np.log(x + eps)`: `log(0)` becomes `ln(1e-12) = -27.63...`
/// instead of `-inf`.
pub fn log(x: &Tensor) -> Result<Tensor> {
    x.add_scalar(EPS)?.log()
}

/// `cce_loss(p, y) = -log(p[y])`: the categorical cross-entropy of a probability vector `p`
/// for the correct class `y`.
pub fn cce_loss(p: &Tensor, y: usize) -> Result<Tensor> {
    log(&p.narrow(0, y, 1)?.squeeze()?)?.neg()
}

/// `bce_loss(p, y) = -log(1 - p)*(1 - y) - log(p)*y`, elementwise (`y` broadcasts).
pub fn bce_loss(p: &Tensor, y: &Tensor) -> Result<Tensor> {
    let (one_minus_p, one_minus_y) = (p.neg()?.add_scalar(1.0)?, y.neg()?.add_scalar(1.0)?);
    log(&one_minus_p)?.neg()?.mul(&one_minus_y)?.sub(&log(p)?.mul(y)?)
}

/// `kld_loss(p, y) = np.sum(y * (log(y) - log(p)))`: KL divergence of the prediction `p` from
/// the target distribution `y` (with the safe log, so `y = 0` terms are `0 * finite = 0`).
pub fn kld_loss(p: &Tensor, y: &Tensor) -> Result<Tensor> {
    y.mul(&log(y)?.sub(&log(p)?)?)?.sum()
}

/// A one-hot f64 vector of length `n` with the 1 at `target` (`np.zeros(n); t[target] = 1`).
pub fn one_hot(target: usize, n: usize) -> Result<Tensor> {
    Tensor::from(vec![target as i64]).one_hot(Some(n))?.to_dtype(DType::F64)?.squeeze_dim(0)
}

/// One row of the notebook's BCE table: `p`, `bce_loss(p, 0)` and `bce_loss(p, 1)`.
pub struct BceRow {
    /// The predicted probability `i / 10`.
    pub p: f64,
    /// The loss when the label is 0.
    pub y0: f64,
    /// The loss when the label is 1.
    pub y1: f64,
}

/// The BCE table for `p in np.arange(11) / 10`.
pub fn bce_table() -> Result<Vec<BceRow>> {
    let ps: Vec<f64> = (0..11).map(|i| i as f64 / 10.0).collect();
    let p = Tensor::with_dtype(ps.clone(), DType::F64);
    let y0 = bce_loss(&p, &Tensor::with_dtype(0.0f64, DType::F64))?.to_vec::<f64>()?;
    let y1 = bce_loss(&p, &Tensor::with_dtype(1.0f64, DType::F64))?.to_vec::<f64>()?;
    Ok(ps.into_iter().zip(y0).zip(y1).map(|((p, y0), y1)| BceRow { p, y0, y1 }).collect())
}

// ----- softmax, by hand ------------------------------------------------------------------------

/// `np.exp(x) / np.sum(np.exp(x))` over the last dim: overflows to `inf / inf = nan` once an
/// entry exceeds ~709 (f64) or ~88 (f32).
pub fn softmax_unstable(x: &Tensor) -> Result<Tensor> {
    let e = x.exp()?;
    e.div(&e.sum_dim(-1, true)?)
}

/// The max trick: `exp(x - max) / sum(exp(x - max))`; every exponent is `<= 0`, so nothing
/// overflows and the largest entry contributes exactly 1 to the sum.
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    let shifted = x.sub(&x.max_dim(-1, true)?.0)?;
    let e = shifted.exp()?;
    e.div(&e.sum_dim(-1, true)?)
}

/// `x - max - log(sum(exp(x - max)))`: never takes the log of an underflowed 0.
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let shifted = x.sub(&x.max_dim(-1, true)?.0)?;
    shifted.sub(&shifted.exp()?.sum_dim(-1, true)?.log()?)
}

// ----- batch versions and the comparisons with the built-in losses ----------------------------

/// `batch_cce_loss(p, y)`: the mean over the batch of `-log(p[i, y_i])`, for probabilities
/// `p` `(N, C)` and i64 class indices `y` `(N)`.
pub fn batch_cce_loss(p: &Tensor, y: &Tensor) -> Result<Tensor> {
    log(&p.gather(1, &y.unsqueeze(1)?)?)?.neg()?.mean()
}

/// `batch_bce_loss(p, y)`: the mean of [`bce_loss`] over the batch.
pub fn batch_bce_loss(p: &Tensor, y: &Tensor) -> Result<Tensor> {
    bce_loss(p, y)?.mean()
}

/// `batch_kld_loss(p, y)`: the sum of the per-sample [`kld_loss`] divided by the batch size,
/// for prediction and target distributions `p`, `y` of shape `(N, C)`.
pub fn batch_kld_loss(p: &Tensor, y: &Tensor) -> Result<Tensor> {
    let n = p.size(0)? as f64;
    y.mul(&log(y)?.sub(&log(p)?)?)?.sum()?.mul_scalar(1.0 / n)
}

/// Draws `(N, C)` standard-normal logits of `dtype`.
fn randn(g: &mut Generator, n: usize, c: usize, dtype: DType) -> Result<Tensor> {
    Tensor::randn_with([n, c], dtype, g)
}

/// The notebook's "Binary Classification" cell: `F::binary_cross_entropy` vs the hand-written
/// [`batch_bce_loss`] on `p ~ U(0, 1)` and labels in {0, 1}.
pub struct BinaryComparison {
    /// `p`, shape `(N)`.
    pub p: Tensor,
    /// The labels as floats, shape `(N)`.
    pub y: Tensor,
    /// `F::binary_cross_entropy(p, y)`.
    pub builtin: f64,
    /// [`batch_bce_loss`]`(p, y)`.
    pub hand_written: f64,
}

/// Runs the binary comparison on a batch of `n` drawn from `g`, in `dtype`.
pub fn compare_binary(g: &mut Generator, n: usize, dtype: DType) -> Result<BinaryComparison> {
    let p = Tensor::from_data(TensorData::rand_with([n], dtype, g)?);
    let y = Tensor::from_data(TensorData::randint_with(0, 2, [n], g)?).to_dtype(dtype)?;
    let builtin = F::binary_cross_entropy(&p, &y)?.item()?;
    let hand_written = batch_bce_loss(&p, &y)?.item()?;
    Ok(BinaryComparison { p, y, builtin, hand_written })
}

/// The notebook's "Multi-class Classification" cell: three built-in losses and two
/// hand-written ones that all compute the mean of `-ln softmax(logits)[i, y_i]`.
pub struct CategoricalComparison {
    /// The predicted probabilities `softmax(logits)`, shape `(N, C)`.
    pub p: Tensor,
    /// `F::cross_entropy(logits, y)`.
    pub cross_entropy: f64,
    /// `F::nll_loss(log_softmax(logits), y)`.
    pub nll_loss: f64,
    /// `F::kl_div(log_softmax(logits), one_hot(y), batchmean)`.
    pub kl_div: f64,
    /// [`batch_cce_loss`]`(softmax(logits), y)`.
    pub batch_cce_loss: f64,
    /// [`batch_kld_loss`]`(softmax(logits), one_hot(y))`.
    pub batch_kld_loss: f64,
}

/// Runs the multi-class comparison on `n` samples of `c` classes drawn from `g`, in `dtype`.
pub fn compare_categorical(
    g: &mut Generator,
    n: usize,
    c: usize,
    dtype: DType,
) -> Result<CategoricalComparison> {
    let logits = randn(g, n, c, dtype)?;
    let p = logits.softmax(-1)?;
    let log_p = logits.log_softmax(-1)?;
    let y = Tensor::from_data(TensorData::randint_with(0, c as i64, [n], g)?);
    // torch.eye(n_classes)[y]: row y_i of the identity.
    let y_one_hot = Tensor::eye(c)?.to_dtype(dtype)?.index_select(0, &y)?;
    let batchmean = KlDivOpts::default().reduction(Reduction::BatchMean);
    Ok(CategoricalComparison {
        p: p.clone(),
        cross_entropy: F::cross_entropy(&logits, &y)?.item()?,
        nll_loss: F::nll_loss(&log_p, &y)?.item()?,
        kl_div: F::kl_div_with(&log_p, &y_one_hot, &batchmean)?.item()?,
        batch_cce_loss: batch_cce_loss(&p, &y)?.item()?,
        batch_kld_loss: batch_kld_loss(&p, &y_one_hot)?.item()?,
    })
}

/// The notebook's "Fitting on Probability Distributions" cell: `kl_div(batchmean)` against
/// the hand-written [`batch_kld_loss`] with targets that are whole distributions.
pub struct DistributionComparison {
    /// The predicted probabilities `softmax(logits)`, shape `(N, C)`.
    pub p: Tensor,
    /// `F::kl_div(log_softmax(logits), y, batchmean)`.
    pub kl_div: f64,
    /// [`batch_kld_loss`]`(softmax(logits), y)`.
    pub batch_kld_loss: f64,
    /// `F::cross_entropy(logits, y)` with the probability targets `y`.
    pub cross_entropy: f64,
    /// The mean entropy of the target rows, `mean_i H(y_i)`.
    pub target_entropy: f64,
}

/// Runs the distribution-target comparison on `n` samples of `c` classes drawn from `g`.
pub fn compare_distribution_targets(
    g: &mut Generator,
    n: usize,
    c: usize,
    dtype: DType,
) -> Result<DistributionComparison> {
    let logits = randn(g, n, c, dtype)?;
    let p = logits.softmax(-1)?;
    let y = randn(g, n, c, dtype)?.softmax(-1)?;
    let batchmean = KlDivOpts::default().reduction(Reduction::BatchMean);
    Ok(DistributionComparison {
        kl_div: F::kl_div_with(&logits.log_softmax(-1)?, &y, &batchmean)?.item()?,
        batch_kld_loss: batch_kld_loss(&p, &y)?.item()?,
        cross_entropy: F::cross_entropy(&logits, &y)?.item()?,
        target_entropy: torchlet::autograd::info::entropy(&y, -1)?.mean()?.item()?,
        p,
    })
}

/// The outcome of [`fit_distributions`].
pub struct KlFit {
    /// `KL(targets || softmax(logits))` (batchmean) before each step.
    pub losses: Vec<f64>,
    /// The trained logits, one row per target distribution.
    pub logits: Tensor,
    /// `softmax(logits)`, to compare with the targets.
    pub probs: Tensor,
    /// Per-row cross-entropy `H(target, softmax(logits))` at the end (`F::cross_entropy` with
    /// probability targets, reduction none): it converges to the targets' entropies, not 0.
    pub cross_entropy: Tensor,
    /// Per-row `KL(target || softmax(logits))` at the end: converges to 0.
    pub kl: Tensor,
}

/// Learns the three [`DISTRIBUTIONS`]: free logits `(3, 5)` starting at 0 (uniform
/// predictions), loss `kl_div(log_softmax(logits), targets, batchmean)`, Adam with learning
/// rate `lr` for `steps` steps. Cross-entropy cannot express such targets with class
/// indices; kl_div (or cross_entropy with probability targets) can.
pub fn fit_distributions(steps: usize, lr: f64) -> Result<KlFit> {
    let rows: Vec<f64> = DISTRIBUTIONS.iter().flat_map(|(_, p)| *p).collect();
    let targets = Tensor::from_data(TensorData::from_vec(rows, [3, 5])?);
    let logits = Tensor::zeros_dtype([3, 5], DType::F64)?.requires_grad_(true)?;
    let mut opt = Adam::new(vec![logits.clone()], lr)?;
    let batchmean = KlDivOpts::default().reduction(Reduction::BatchMean);
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        opt.zero_grad();
        let loss = F::kl_div_with(&logits.log_softmax(-1)?, &targets, &batchmean)?;
        losses.push(loss.item()?);
        loss.backward()?;
        opt.step()?;
    }
    let logits = logits.detach();
    let per_row = F::CrossEntropyOpts::default().reduction(Reduction::None);
    Ok(KlFit {
        losses,
        probs: logits.softmax(-1)?,
        cross_entropy: F::cross_entropy_with(&logits, &targets, &per_row)?,
        kl: torchlet::autograd::info::kl_divergence(&targets, &logits.softmax(-1)?, -1)?,
        logits,
    })
}
