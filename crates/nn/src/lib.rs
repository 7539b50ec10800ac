//! # torchlet-nn
//!
//! Modules, loss modules and optimizers (filled in by the nn work).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use torchlet_autograd::functional;

/// Optimizers (SGD, Adam, AdamW).
pub mod optim {}
