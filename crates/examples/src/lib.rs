//! # torchlet-examples
//!
//! What torchlet's examples share, kept out of the `torchlet` facade so that depending on it
//! pulls in no plotting, image, progress-bar or JSON crates: the computations of the seed
//! walkthroughs ([`seeds`]), small trainings and data loaders ([`demos`], [`idx`]), charts
//! ([`plot`]), progress bars ([`progress`]) and the PyTorch parity runner ([`parity`]).
//!
//! This package also owns the repository's top-level `examples/`, `tests/` and `benches/`
//! (see its Cargo.toml), which use only `torchlet`'s public API plus this crate.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

pub mod cnn;
pub mod demos;
pub mod gpt;
pub mod idx;
pub mod lecture_layers;
pub mod makemore;
pub mod makemore_backprop;
pub mod makemore_batchnorm;
pub mod makemore_mlp;
pub mod makemore_wavenet;
pub mod micrograd;
pub mod parity;
pub mod plot;
pub mod progress;
pub mod seeds;

/// A path inside the repository (`project_path("data/optdigits.csv")`), located at compile
/// time: this crate sits in `crates/examples/`.
pub fn project_path(rel: impl AsRef<Path>) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

/// The guide's chapters, compiled as doctests (their ```rust blocks).
#[cfg(doctest)]
pub mod guide {
    #[doc = include_str!("../../../docs/guide/07-micrograd.md")]
    pub struct Ch07;
    #[doc = include_str!("../../../docs/guide/08-gpt.md")]
    pub struct Ch08;
    #[doc = include_str!("../../../docs/guide/09-makemore-bigram.md")]
    pub struct Ch09;
    #[doc = include_str!("../../../docs/guide/10-cnn-digits.md")]
    pub struct Ch10;
    #[doc = include_str!("../../../docs/guide/11-makemore-mlp.md")]
    pub struct Ch11;
    #[doc = include_str!("../../../docs/guide/12-makemore-batchnorm.md")]
    pub struct Ch12;
    #[doc = include_str!("../../../docs/guide/13-makemore-backprop.md")]
    pub struct Ch13;
    #[doc = include_str!("../../../docs/guide/14-makemore-wavenet.md")]
    pub struct Ch14;
}
