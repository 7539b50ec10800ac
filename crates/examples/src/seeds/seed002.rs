//! Seed 002, the Q&A "Cross Entropy in PyTorch": why `CrossEntropyLoss` of the logits
//! `[0, 0, 0, 1]` with target 3 is 0.7437 and not 0, and `NLLLoss` / `CrossEntropyLoss`
//! written by hand and compared with the built-ins over 1000 random batches.
//!
//! Used by `examples/cross_entropy_by_hand.rs` and `tests/seed_002.rs`.

use torchlet::nn::functional as F;
use torchlet::{DType, Generator, Result, Tensor, TensorData};

/// The question's logits, `torch.FloatTensor([0,0,0,1]).view(1, -1)`.
pub fn question_logits() -> Tensor {
    Tensor::from([[0.0f32, 0.0, 0.0, 1.0]])
}

/// The question's target, `torch.LongTensor([3])`.
pub fn question_target() -> Tensor {
    Tensor::from(vec![3i64])
}

/// What the question printed: `Variable containing: 0.7437`.
pub const QUESTION_PRINTED_LOSS: f64 = 0.7437;

/// The same loss in closed form: `-log softmax(x)_3 = -(1 - ln(e^0 + e^0 + e^0 + e^1))
/// = ln(3 + e) - 1`. The input is read as logits, so class 3 gets probability
/// `e / (3 + e) = 0.4754`, not 1.
pub fn question_loss_closed_form() -> f64 {
    (3.0 + std::f64::consts::E).ln() - 1.0
}

/// `x1[class_index]` of the seed's loops: element `(row, class)` of a 2-D tensor as a 0-d
/// tensor (differentiable, like Python indexing).
fn at(x: &Tensor, row: usize, class: usize) -> Result<Tensor> {
    x.narrow(0, row, 1)?.narrow(1, class, 1)?.reshape(())
}

/// The seed's `compute_nllloss_manual(x, y0)`: `loss = 0.; loss = loss + x1[class_index]`
/// for every row, then `-loss / n_batch`. Every addition rounds to `x`'s dtype, in row order.
pub fn nll_loss_manual(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let n_batch = x.size(0)?;
    let targets = y.to_vec::<i64>()?;
    let mut loss = Tensor::zeros_dtype([], x.dtype())?;
    for (i, &k) in targets.iter().enumerate() {
        loss = loss.add(&at(x, i, k as usize)?)?;
    }
    loss.neg()?.div(&Tensor::full([], n_batch as f64, x.dtype())?)
}

/// The seed's `compute_crossentropyloss_manual(x, y0)`: per row
/// `log(exp(x1[k]) / exp(x1).sum())`, summed in row order, then `-loss / n_batch`. The naive
/// form: no max subtraction, and a division before the log.
pub fn cross_entropy_manual(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let n_batch = x.size(0)?;
    let targets = y.to_vec::<i64>()?;
    let mut loss = Tensor::zeros_dtype([], x.dtype())?;
    for (i, &k) in targets.iter().enumerate() {
        let row = x.narrow(0, i, 1)?;
        let log_p = at(x, i, k as usize)?.exp()?.div(&row.exp()?.sum()?)?.log()?;
        loss = loss.add(&log_p)?;
    }
    loss.neg()?.div(&Tensor::full([], n_batch as f64, x.dtype())?)
}

/// Cross-entropy by hand in the stable form the built-in uses: per row
/// `log_softmax_k = (x_k - m) - log(sum(exp(x - m)))` with `m = max(x)`, then `-mean`.
/// Same formula as the library, yet not always the same bits: the row sum and the final
/// mean are accumulated in a different order (see [`agreement`]).
pub fn cross_entropy_manual_stable(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let n_batch = x.size(0)?;
    let targets = y.to_vec::<i64>()?;
    let mut loss = Tensor::zeros_dtype([], x.dtype())?;
    for (i, &k) in targets.iter().enumerate() {
        let row = x.narrow(0, i, 1)?;
        let m = row.max()?;
        let lse = row.sub(&m)?.exp()?.sum()?.log()?;
        loss = loss.add(&at(x, i, k as usize)?.sub(&m)?.sub(&lse)?)?;
    }
    loss.neg()?.div(&Tensor::full([], n_batch as f64, x.dtype())?)
}

/// The per-row negative log-probabilities `-log softmax(x)_{y}` in the seed's naive form,
/// `-log(exp(x_k) / sum(exp(x)))`, as a `(batch)` tensor.
pub fn cross_entropy_rows_naive(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let picked = x.exp()?.gather(1, &y.unsqueeze(1)?)?.squeeze_dim(1)?;
    picked.div(&x.exp()?.sum_dim(1, false)?)?.log()?.neg()
}

/// How often a hand-written loss agreed with the built-in over the random batches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Comparisons with `|built-in - manual| < tolerance` (the seed's test).
    pub within_tolerance: usize,
    /// Comparisons where the two results are the very same floating-point number.
    pub identical: usize,
    /// Number of comparisons.
    pub count: usize,
    /// The largest `|built-in - manual|` seen.
    pub max_abs_diff: f64,
    /// Mean `|built-in - exact|` and `|manual - exact|`, with "exact" the loss recomputed in
    /// f64 from the same inputs; only for f32 runs (`None` in f64).
    pub mean_errors: Option<(f64, f64)>,
}

impl Tally {
    fn add(&mut self, builtin: f64, manual: f64, tolerance: f64, exact: Option<f64>) {
        let d = (builtin - manual).abs();
        self.within_tolerance += usize::from(d < tolerance);
        self.identical += usize::from(builtin == manual);
        self.count += 1;
        self.max_abs_diff = self.max_abs_diff.max(d);
        if let Some(e) = exact {
            let (b, m) = self.mean_errors.get_or_insert((0.0, 0.0));
            // Running means.
            let n = self.count as f64;
            *b += ((builtin - e).abs() - *b) / n;
            *m += ((manual - e).abs() - *m) / n;
        }
    }

    /// `within_tolerance / count` as a percentage (the seed prints `81.39999999999999`).
    pub fn percent_within(&self) -> f64 {
        100.0 * self.within_tolerance as f64 / self.count.max(1) as f64
    }

    /// `identical / count` as a percentage.
    pub fn percent_identical(&self) -> f64 {
        100.0 * self.identical as f64 / self.count.max(1) as f64
    }
}

/// The outcome of [`agreement`].
#[derive(Clone, Debug)]
pub struct Agreement {
    /// The dtype the batches were drawn and computed in.
    pub dtype: DType,
    /// Number of random batches.
    pub iterations: usize,
    /// The tolerance of the comparison (the seed's `10**-15`).
    pub tolerance: f64,
    /// Per batch: `nll_loss` vs [`nll_loss_manual`].
    pub nll: Tally,
    /// Per batch: `cross_entropy` vs [`cross_entropy_manual`] (the seed's naive form).
    pub ce_naive: Tally,
    /// Per batch: `cross_entropy` vs [`cross_entropy_manual_stable`].
    pub ce_stable: Tally,
    /// Per row (no averaging, so no summation order involved): the built-in's per-sample
    /// losses (`reduction='none'`) vs [`cross_entropy_rows_naive`].
    pub rows_naive: Tally,
    /// The first batch's `(built-in, manual)` NLL losses (the seed prints these).
    pub first_nll: (Tensor, Tensor),
    /// The first batch's `(built-in, manual)` cross-entropies.
    pub first_ce: (Tensor, Tensor),
}

/// The seed's experiment: `iterations` batches of `x = rand(batch, classes)` (uniform in
/// [0, 1), of `dtype`) and `y0 = randint(0, classes, (batch,))` from `Generator::new(seed)`;
/// each built-in loss is compared with its hand-written twin at `tolerance`.
pub fn agreement(
    dtype: DType,
    iterations: usize,
    batch: usize,
    classes: usize,
    seed: u64,
    tolerance: f64,
) -> Result<Agreement> {
    let mut g = Generator::new(seed);
    let mut nll = Tally::default();
    let (mut ce_naive, mut ce_stable, mut rows_naive) = (nll.clone(), nll.clone(), nll.clone());
    let per_row = F::CrossEntropyOpts::default().reduction(F::Reduction::None);
    let mut first = None;
    for _ in 0..iterations {
        let x = Tensor::from_data(TensorData::rand_with([batch, classes], dtype, &mut g)?);
        let y0 = Tensor::from_data(TensorData::randint_with(0, classes as i64, [batch], &mut g)?);
        // The "exact" values: the same losses from the same inputs, computed in f64.
        let x64 = x.to_dtype(DType::F64)?;
        let exact = |v: f64| (dtype != DType::F64).then_some(v);

        let nll_pair = (F::nll_loss(&x, &y0)?, nll_loss_manual(&x, &y0)?);
        let nll_exact = exact(F::nll_loss(&x64, &y0)?.item()?);
        nll.add(nll_pair.0.item()?, nll_pair.1.item()?, tolerance, nll_exact);

        let ce_pair = (F::cross_entropy(&x, &y0)?, cross_entropy_manual(&x, &y0)?);
        let ce = ce_pair.0.item()?;
        let ce_exact = exact(F::cross_entropy(&x64, &y0)?.item()?);
        ce_naive.add(ce, ce_pair.1.item()?, tolerance, ce_exact);
        ce_stable.add(ce, cross_entropy_manual_stable(&x, &y0)?.item()?, tolerance, ce_exact);

        let rows_builtin = F::cross_entropy_with(&x, &y0, &per_row)?.to_f64_vec();
        let rows_exact = F::cross_entropy_with(&x64, &y0, &per_row)?.to_f64_vec();
        let rows_manual = cross_entropy_rows_naive(&x, &y0)?.to_f64_vec();
        for ((b, m), e) in rows_builtin.iter().zip(&rows_manual).zip(&rows_exact) {
            rows_naive.add(*b, *m, tolerance, exact(*e));
        }
        first.get_or_insert((nll_pair, ce_pair));
    }
    let (first_nll, first_ce) = match first {
        Some(f) => f,
        None => {
            let zero = || Tensor::zeros([]);
            ((zero()?, zero()?), (zero()?, zero()?))
        }
    };
    Ok(Agreement { dtype, iterations, tolerance, nll, ce_naive, ce_stable, rows_naive, first_nll, first_ce })
}
