//! Loss modules (`nn.CrossEntropyLoss`, ...): each holds its options and calls the
//! functional loss of the same name (in `torchlet_autograd::functional`, where the math and
//! the backward rule live). Build like `CrossEntropyLoss::new().label_smoothing(0.1)` and
//! call `criterion.forward(&logits, &target)`. They print as PyTorch's do: `CrossEntropyLoss()`.
//!
//! The pitfall warnings of the functional losses (`torchlet_autograd::warnings`) name the line
//! that calls `forward`, not this file.

use std::fmt;
use torchlet_autograd::functional::{
    self as F, BceOpts, BceWithLogitsOpts, CosineEmbeddingOpts, CrossEntropyOpts, KlDivOpts, NllLossOpts,
    Reduction,
};
use torchlet_autograd::{Result, Tensor};

/// Writes `Name()`: PyTorch's loss modules have no `extra_repr`, whatever their options.
macro_rules! loss_display {
    ($($t:ident),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "()"))
            }
        }
    )*};
}
loss_display!(CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss, CosineEmbeddingLoss, MSELoss);

/// The option setters of a loss module, forwarded to its options struct's builder (where each
/// option is documented): `CrossEntropyLoss::new().label_smoothing(0.1)` is
/// `CrossEntropyLoss { opts: CrossEntropyOpts::default().label_smoothing(0.1) }`.
macro_rules! forward_builders {
    ($t:ident($opts:ident) { $($name:ident: $arg:ty),* $(,)? }) => {
        impl $t {
            $(
                #[doc = concat!("Sets `", stringify!($name), "` (see [`", stringify!($opts), "::", stringify!($name), "`]).")]
                pub fn $name(mut self, value: $arg) -> Self {
                    self.opts = self.opts.$name(value);
                    self
                }
            )*
        }
    };
}
forward_builders!(CrossEntropyLoss(CrossEntropyOpts) { weight: Tensor, ignore_index: i64, reduction: Reduction, label_smoothing: f64 });
forward_builders!(NLLLoss(NllLossOpts) { weight: Tensor, ignore_index: i64, reduction: Reduction });
forward_builders!(BCELoss(BceOpts) { weight: Tensor, reduction: Reduction });
forward_builders!(BCEWithLogitsLoss(BceWithLogitsOpts) { weight: Tensor, pos_weight: Tensor, reduction: Reduction });
forward_builders!(KLDivLoss(KlDivOpts) { reduction: Reduction, log_target: bool });
forward_builders!(CosineEmbeddingLoss(CosineEmbeddingOpts) { margin: f64, reduction: Reduction });

/// `nn.CrossEntropyLoss`: cross-entropy of logits against class indices or probabilities
/// (see `functional::cross_entropy_with`).
#[derive(Clone, Debug, Default)]
pub struct CrossEntropyLoss {
    /// The options passed to the functional form.
    pub opts: CrossEntropyOpts,
}

impl CrossEntropyLoss {
    /// PyTorch's defaults: no weight, `ignore_index=-100`, `reduction='mean'`, no smoothing.
    pub fn new() -> Self {
        Self::default()
    }
    /// The loss of logits `input` `(N, C)` (or `(C)`, `(N, C, d...)`) against `target`.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        F::cross_entropy_with(input, target, &self.opts)
    }
}

/// `nn.NLLLoss`: negative log-likelihood of log-probabilities at class indices.
#[derive(Clone, Debug, Default)]
pub struct NLLLoss {
    /// The options passed to the functional form.
    pub opts: NllLossOpts,
}

impl NLLLoss {
    /// PyTorch's defaults: no weight, `ignore_index=-100`, `reduction='mean'`.
    pub fn new() -> Self {
        Self::default()
    }
    /// The loss of log-probabilities `input` (e.g. from `LogSoftmax`) at i64 `target`.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        F::nll_loss_with(input, target, &self.opts)
    }
}

/// `nn.BCELoss`: binary cross-entropy of probabilities (e.g. after `Sigmoid`).
#[derive(Clone, Debug, Default)]
pub struct BCELoss {
    /// The options passed to the functional form.
    pub opts: BceOpts,
}

impl BCELoss {
    /// PyTorch's defaults: no weight, `reduction='mean'`.
    pub fn new() -> Self {
        Self::default()
    }
    /// The loss of probabilities `input` against targets in `[0, 1]` of the same shape.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        F::binary_cross_entropy_with(input, target, &self.opts)
    }
}

/// `nn.BCEWithLogitsLoss`: sigmoid and binary cross-entropy in one stable step.
#[derive(Clone, Debug, Default)]
pub struct BCEWithLogitsLoss {
    /// The options passed to the functional form.
    pub opts: BceWithLogitsOpts,
}

impl BCEWithLogitsLoss {
    /// PyTorch's defaults: no weight, no `pos_weight`, `reduction='mean'`.
    pub fn new() -> Self {
        Self::default()
    }
    /// The loss of logits `input` against targets in `[0, 1]` of the same shape.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        F::binary_cross_entropy_with_logits_with(input, target, &self.opts)
    }
}

/// `nn.KLDivLoss`: KL divergence with the input as log-probabilities.
#[derive(Clone, Debug, Default)]
pub struct KLDivLoss {
    /// The options passed to the functional form.
    pub opts: KlDivOpts,
}

impl KLDivLoss {
    /// PyTorch's defaults: `reduction='mean'` (not the KL definition; prefer
    /// `reduction(Reduction::BatchMean)`), `log_target=False`.
    pub fn new() -> Self {
        Self::default()
    }
    /// `KL(target || exp(input))` summed pointwise and reduced.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        F::kl_div_with(input, target, &self.opts)
    }
}

/// `nn.CosineEmbeddingLoss`: pulls pairs together (`y = 1`) or apart (`y = -1`).
#[derive(Clone, Debug, Default)]
pub struct CosineEmbeddingLoss {
    /// The options passed to the functional form.
    pub opts: CosineEmbeddingOpts,
}

impl CosineEmbeddingLoss {
    /// PyTorch's defaults: `margin=0`, `reduction='mean'`.
    pub fn new() -> Self {
        Self::default()
    }
    /// The loss of pairs `(x1, x2)` with labels `y` (1 or -1).
    pub fn forward(&self, x1: &Tensor, x2: &Tensor, y: &Tensor) -> Result<Tensor> {
        F::cosine_embedding_loss_with(x1, x2, y, &self.opts)
    }
}

/// `nn.MSELoss`: mean squared error.
#[derive(Clone, Copy, Debug, Default)]
pub struct MSELoss {
    /// Default `Mean`.
    pub reduction: Reduction,
}

impl MSELoss {
    /// PyTorch's default: `reduction='mean'`.
    pub fn new() -> Self {
        Self::default()
    }
    /// The reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
    /// `(input - target)^2`, reduced.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        F::mse_loss_with(input, target, self.reduction)
    }
}
