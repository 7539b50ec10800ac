//! # torchlet
//!
//! A small, fast, autograd-capable tensor framework in Rust that reads like PyTorch.
//!
//! ```
//! use torchlet::prelude::*;
//!
//! let x = Tensor::from([[0.0f32, 1.0], [1.0, 0.0]]);
//! let w = Tensor::from([[0.5f32, -0.5], [0.25, 0.75]]).requires_grad_(true)?;
//! let y = x.matmul(&w.t()?)?.sigmoid()?.sum()?;
//! y.backward()?;
//! assert_eq!(w.grad().unwrap().dims(), vec![2, 2]);
//! # Ok::<(), torchlet::Error>(())
//! ```
//!
//! This crate is only a facade: it re-exports the three crates of torchlet, [`tensor_core`]
//! (raw data and kernels), [`autograd`] (the [`Tensor`] users hold, the tape, the ops and
//! losses) and [`nn`] (modules, optimizers in [`optim`], saving and loading), plus the
//! [`prelude`]. The examples, their plotting and data helpers and the PyTorch parity runner
//! live in the `torchlet-examples` crate of this repository, so depending on `torchlet` pulls
//! in no plotting, image, progress-bar or JSON crates.

pub use torchlet_autograd as autograd;
pub use torchlet_nn as nn;
pub use torchlet_tensor_core as tensor_core;

pub use torchlet_autograd::warnings;
pub use torchlet_autograd::Dims;
pub use torchlet_autograd::{
    default_dtype, get_rng_state, initial_seed, manual_seed, set_default_dtype, set_rng_state, DType, Error,
    Generator, GeneratorState, Other, Result, Scalar, Shape, TensorData,
};
pub use torchlet_autograd::{gradcheck, is_grad_enabled, no_grad, NoGradGuard, Tensor};
pub use torchlet_autograd::{s, Idx, IndexArg};
pub use torchlet_nn::optim;

/// Everything a training script needs: `use torchlet::prelude::*;`.
///
/// It does not export torchlet's `Result` alias, so `fn main() -> Result<(), Box<dyn
/// std::error::Error>>` keeps meaning the standard `Result`; write `torchlet::Result<T>` for
/// the alias. torchlet's `Error` converts from `std::io::Error`, so `?` works on file I/O in a
/// function returning `torchlet::Result`.
pub mod prelude {
    pub use crate::nn::functional as F;
    pub use crate::Dims;
    pub use crate::{
        manual_seed, no_grad, set_default_dtype, DType, Error, Generator, NoGradGuard, Shape, Tensor,
        TensorData,
    };
    pub use crate::{s, Idx};
}
