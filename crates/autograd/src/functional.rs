//! The functional API, like `torch.nn.functional` (re-exported as `torchlet::nn::functional`,
//! conventionally imported as `F`). Each loss has a plain form with PyTorch's defaults and a
//! `_with` form taking an options struct built like `CrossEntropyOpts::default().label_smoothing(0.1)`.
//!
//! These losses take *logits* or *log-probabilities* as PyTorch's do; the textbook
//! information-theory functions on probability vectors live in `crate::info`. Feeding them
//! the wrong kind of values prints a pitfall warning naming the calling line (see
//! [`crate::warnings`]); the result is computed exactly as without it.

use crate::tensor::Tensor;
use std::panic::Location;
use torchlet_tensor_core::{Error, Result};

/// How a loss reduces its per-element values (`reduction=` in PyTorch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Per-element (or per-sample) losses.
    None,
    /// Sum divided by a loss-specific count (SPEC.md); NaN for zero elements.
    #[default]
    Mean,
    /// Plain sum (0 for zero elements).
    Sum,
    /// `kl_div` only: sum divided by the batch size (the size of dim 0).
    BatchMean,
}

impl std::str::FromStr for Reduction {
    type Err = Error;
    /// Parses PyTorch's strings: `none`, `mean`, `sum`, `batchmean`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            "batchmean" => Ok(Reduction::BatchMean),
            other => Err(Error::invalid("reduction", format!("{other:?} is not a valid value for reduction (expected one of \"none\", \"mean\", \"sum\", or \"batchmean\" for kl_div)"))),
        }
    }
}

/// Options of [`cross_entropy_with`] (PyTorch's defaults via `Default`).
#[derive(Clone, Debug)]
pub struct CrossEntropyOpts {
    /// Per-class rescaling weights of shape `(C)`.
    pub weight: Option<Tensor>,
    /// Targets equal to this are ignored (class-index targets only). Default -100.
    pub ignore_index: i64,
    /// Default `Mean`.
    pub reduction: Reduction,
    /// In `[0, 1]`; mixes the target with the uniform distribution. Default 0.
    pub label_smoothing: f64,
}

impl Default for CrossEntropyOpts {
    fn default() -> Self {
        CrossEntropyOpts {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

impl CrossEntropyOpts {
    /// Sets per-class weights.
    pub fn weight(mut self, w: Tensor) -> Self {
        self.weight = Some(w);
        self
    }
    /// Sets `ignore_index`.
    pub fn ignore_index(mut self, i: i64) -> Self {
        self.ignore_index = i;
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
    /// Sets label smoothing.
    pub fn label_smoothing(mut self, ls: f64) -> Self {
        self.label_smoothing = ls;
        self
    }
}

/// Options of [`nll_loss_with`].
#[derive(Clone, Debug)]
pub struct NllLossOpts {
    /// Per-class weights `(C)`.
    pub weight: Option<Tensor>,
    /// Default -100.
    pub ignore_index: i64,
    /// Default `Mean`.
    pub reduction: Reduction,
}

impl Default for NllLossOpts {
    fn default() -> Self {
        NllLossOpts { weight: None, ignore_index: -100, reduction: Reduction::Mean }
    }
}

impl NllLossOpts {
    /// Sets per-class weights.
    pub fn weight(mut self, w: Tensor) -> Self {
        self.weight = Some(w);
        self
    }
    /// Sets `ignore_index`.
    pub fn ignore_index(mut self, i: i64) -> Self {
        self.ignore_index = i;
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
}

/// Options of [`binary_cross_entropy_with`].
#[derive(Clone, Debug, Default)]
pub struct BceOpts {
    /// Weights broadcast to the input's shape.
    pub weight: Option<Tensor>,
    /// Default `Mean`.
    pub reduction: Reduction,
}

impl BceOpts {
    /// Sets the weights.
    pub fn weight(mut self, w: Tensor) -> Self {
        self.weight = Some(w);
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
}

/// Options of [`binary_cross_entropy_with_logits_with`].
#[derive(Clone, Debug, Default)]
pub struct BceWithLogitsOpts {
    /// Weights broadcast to the input's shape.
    pub weight: Option<Tensor>,
    /// Weight of positive examples, broadcast along the last (class) dimension.
    pub pos_weight: Option<Tensor>,
    /// Default `Mean`.
    pub reduction: Reduction,
}

impl BceWithLogitsOpts {
    /// Sets the weights.
    pub fn weight(mut self, w: Tensor) -> Self {
        self.weight = Some(w);
        self
    }
    /// Sets `pos_weight`.
    pub fn pos_weight(mut self, w: Tensor) -> Self {
        self.pos_weight = Some(w);
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
}

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

/// Options of [`cosine_embedding_loss_with`].
#[derive(Clone, Debug, Default)]
pub struct CosineEmbeddingOpts {
    /// Default 0.
    pub margin: f64,
    /// Default `Mean`.
    pub reduction: Reduction,
}

impl CosineEmbeddingOpts {
    /// Sets the margin.
    pub fn margin(mut self, m: f64) -> Self {
        self.margin = m;
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
}

/// `cross_entropy(input, target)` with PyTorch's defaults: see [`cross_entropy_with`].
#[track_caller]
pub fn cross_entropy(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    cross_entropy_with(input, target, &CrossEntropyOpts::default())
}

/// Cross-entropy between logits `input` and class-index (i64) or probability (float, same
/// shape) targets, exactly as SPEC.md describes; forward and backward are fused.
///
/// With `lp = log_softmax(x)` over the class dim (0 for a 1-D input, else 1):
/// - **probability targets** (float, `input`'s shape): `t' = t (1 - ls) + ls / C`,
///   `l = -sum_c w_c t'_c lp_c` per sample; `mean` divides by the number of samples.
/// - **class indices** (i64, `()`, `(N)` or `(N, d1..dk)`): `l = (1 - ls) (-w_t lp_t) +
///   (ls / C) (-sum_c w_c lp_c)`, 0 where `t == ignore_index`; `mean` divides by the sum of
///   `w_t` over non-ignored targets (NaN when all are ignored).
///
/// Derivative: `dl/dx_c = softmax(x)_c * sum(mass) - mass_c` with `mass` the per-class weight
/// of `-lp` in `l`; for probability targets also `dl/dt_c = -w_c (1 - ls) lp_c`. The forward is
/// one pass per row (max, sum of exps, the target's term); backward recomputes softmax from
/// the saved per-row max and log-sum-exp.
///
/// Errors: targets out of `[0, C)` (`Target 4 is out of bounds.`), batch or spatial shape
/// mismatches, a weight not of length C, label_smoothing outside `[0, 1]`, ignore_index >= 0
/// with probability targets, `BatchMean`, integer targets of the input's shape or float
/// targets of another shape.
///
/// Warns ([`crate::warnings`], once per call site by default) when the input looks like
/// probabilities instead of logits: every value in `[0, 1]` with every row summing to 1
/// (softmax output), or every value strictly in `(0, 1)` (sigmoid output).
#[track_caller]
pub fn cross_entropy_with(input: &Tensor, target: &Tensor, opts: &CrossEntropyOpts) -> Result<Tensor> {
    crate::loss::cross_entropy(input, target, opts, Location::caller())
}

/// `nll_loss(input, target)` with PyTorch's defaults.
#[track_caller]
pub fn nll_loss(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    nll_loss_with(input, target, &NllLossOpts::default())
}

/// Negative log-likelihood of log-probabilities `input` at class indices `target`:
/// `l_i = -w[t_i] x[i, t_i]` (0 where `t_i == ignore_index`); `mean` divides by the sum of
/// `w[t_i]` over non-ignored elements. Shapes as for [`cross_entropy_with`] with i64 targets.
///
/// Derivative: `dl_i/dx[i, t_i] = -w[t_i]`, zero elsewhere; targets get no gradient.
///
/// Warns ([`crate::warnings`]) when the input has a positive value: log-probabilities are
/// `<= 0`, so it was given probabilities or raw scores.
#[track_caller]
pub fn nll_loss_with(input: &Tensor, target: &Tensor, opts: &NllLossOpts) -> Result<Tensor> {
    crate::loss::nll_loss(input, target, opts, Location::caller())
}

/// `binary_cross_entropy(p, t)` with PyTorch's defaults.
pub fn binary_cross_entropy(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    binary_cross_entropy_with(input, target, &BceOpts::default())
}

/// Binary cross-entropy of probabilities `input` against targets in `[0, 1]`, with the log
/// clamped at -100: `l = -w (t max(ln p, -100) + (1 - t) max(ln(1 - p), -100))`; `mean`
/// divides by numel. Input and target must have the same shape; weight broadcasts to it.
///
/// Derivatives: `dl/dp = w (p - t) / max(p (1 - p), 1e-12)`, `dl/dt = w ln((1 - p) / p)`.
/// Errors on inputs or targets outside `[0, 1]` (pass logits to
/// [`binary_cross_entropy_with_logits_with`]).
pub fn binary_cross_entropy_with(input: &Tensor, target: &Tensor, opts: &BceOpts) -> Result<Tensor> {
    crate::loss::binary_cross_entropy(input, target, opts)
}

/// `binary_cross_entropy_with_logits(x, t)` with PyTorch's defaults.
pub fn binary_cross_entropy_with_logits(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    binary_cross_entropy_with_logits_with(input, target, &BceWithLogitsOpts::default())
}

/// Binary cross-entropy on logits, computed through log-sigmoid (stable for |x| = 1000):
/// `l = w ((1 - t) x - (1 + (pw - 1) t) log_sigmoid(x))` with `pw` the `pos_weight`
/// (broadcast along the last dim; 1 without it) and `log_sigmoid(x) = min(x, 0) - ln(1 + e^-|x|)`.
///
/// Derivatives: `dl/dx = w ((pw t + 1 - t) sigmoid(x) - pw t)`,
/// `dl/dt = w (log_sigmoid(-x) - pw log_sigmoid(x))` (`-w x` without `pos_weight`).
pub fn binary_cross_entropy_with_logits_with(
    input: &Tensor,
    target: &Tensor,
    opts: &BceWithLogitsOpts,
) -> Result<Tensor> {
    crate::loss::binary_cross_entropy_with_logits(input, target, opts)
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
    crate::loss::kl_div(input, target, opts, Location::caller())
}

/// `cosine_embedding_loss(x1, x2, y)` with PyTorch's defaults.
pub fn cosine_embedding_loss(x1: &Tensor, x2: &Tensor, y: &Tensor) -> Result<Tensor> {
    cosine_embedding_loss_with(x1, x2, y, &CosineEmbeddingOpts::default())
}

/// `1 - cos` where y = 1, `max(0, cos - margin)` where y = -1, 0 for other y, with
/// `cos = sum(x1 x2) / sqrt((sum(x1^2) + 1e-12) (sum(x2^2) + 1e-12))` over the last dim.
/// Shapes: `(N, D), (N, D)` with y `(N)`, or `(D), (D)` with y `()`.
///
/// Built from differentiable ops like PyTorch's, so both inputs get
/// `d cos/dx1 = x2 / sqrt(m1 m2) - cos x1 / m1` (and symmetrically), times `-1` or `1`.
pub fn cosine_embedding_loss_with(
    x1: &Tensor,
    x2: &Tensor,
    y: &Tensor,
    opts: &CosineEmbeddingOpts,
) -> Result<Tensor> {
    crate::loss::cosine_embedding_loss(x1, x2, y, opts)
}

/// `mse_loss(x, t)` with the mean reduction.
#[track_caller]
pub fn mse_loss(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    mse_loss_with(input, target, Reduction::Mean)
}

/// Mean squared error `(x - t)^2`, reduced (`mean` over the broadcast numel). Shapes that
/// differ but broadcast work and print a warning (usually a bug, as PyTorch warns; see
/// [`crate::warnings`]).
///
/// Derivatives: `dl/dx = 2 (x - t)`, `dl/dt = -2 (x - t)`.
#[track_caller]
pub fn mse_loss_with(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    crate::loss::mse_loss(input, target, reduction, Location::caller())
}

/// `softmax(x, dim)`.
pub fn softmax(x: &Tensor, dim: isize) -> Result<Tensor> {
    x.softmax(dim)
}

/// `log_softmax(x, dim)`.
pub fn log_softmax(x: &Tensor, dim: isize) -> Result<Tensor> {
    x.log_softmax(dim)
}

/// `sigmoid(x)`.
pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    x.sigmoid()
}

/// `relu(x)`.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    x.relu()
}

/// `linear(x, weight, bias) = x @ weight^T + bias`.
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    x.linear(weight, bias)
}

/// `one_hot(t, num_classes)` for i64 class indices.
pub fn one_hot(t: &Tensor, num_classes: Option<usize>) -> Result<Tensor> {
    t.one_hot(num_classes)
}
