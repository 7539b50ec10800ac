//! The functional API, like `torch.nn.functional` (re-exported as `torchlet::nn::functional`,
//! conventionally imported as `F`): every loss and activation as a free function. Each loss
//! has a plain form with PyTorch's defaults and a `_with` form taking its options struct,
//! built like `CrossEntropyOpts::default().label_smoothing(0.1)`.
//!
//! Nothing is defined here: each function lives in its op's family file (`ops/`, `loss/`)
//! beside its derivative. The losses take *logits* or *log-probabilities* as PyTorch's do;
//! the textbook information-theory functions on probability vectors are in [`crate::info`].
//! Feeding a loss the wrong kind of values prints a pitfall warning naming the calling line
//! (see [`crate::warnings`]); the result is computed exactly as without it.

pub use crate::loss::bce::{
    binary_cross_entropy, binary_cross_entropy_with, binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_with, BceOpts, BceWithLogitsOpts,
};
pub use crate::loss::cosine_embedding::{
    cosine_embedding_loss, cosine_embedding_loss_with, CosineEmbeddingOpts,
};
pub use crate::loss::cross_entropy::{cross_entropy, cross_entropy_with, CrossEntropyOpts};
pub use crate::loss::kl_div::{kl_div, kl_div_with, KlDivOpts};
pub use crate::loss::mse::{mse_loss, mse_loss_with};
pub use crate::loss::nll::{nll_loss, nll_loss_with, NllLossOpts};
pub use crate::loss::Reduction;
pub use crate::ops::attention::AttentionOpts;
pub use crate::ops::functions::*;
pub use crate::ops::norm::BatchNormOpts;
