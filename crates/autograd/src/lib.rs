//! # torchlet-autograd
//!
//! The user-facing [`Tensor`]: a tensor-core value plus the gradient tape. Every
//! differentiable operation records a node with its backward rule; `loss.backward()` fills
//! `.grad()` of every leaf that requires grad, as in PyTorch.
//!
//! Reading order:
//! 1. [`tensor`]: the handle, its value and its autograd state;
//! 2. `graph`: the `Backward` trait every rule implements, recording, `no_grad`,
//!    the backward walk;
//! 3. [`ops`]: the differentiable operations, one file per family, each op beside its
//!    derivative and its catalog entry;
//! 4. [`loss`]: the losses, one file each, with their options;
//! 5. [`functional`]: the `F` surface (re-exports only);
//! 6. [`gradcheck()`] and the [`catalog`] that enrols every op in the test suites.
//!
//! Around them: [`info`] (entropy and KL of probability vectors), [`distributions`],
//! [`warnings`] (the losses' pitfall warnings), `to_dot` (graph drawings), operator overloads.
//!
//! The modules import each other without cycles, except the inherent pair `tensor` <->
//! `graph` (a tensor holds its node, a node holds its input tensors); `tests/architecture.rs`
//! checks it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod catalog;
mod creation;
pub mod distributions;
mod dot;
pub mod functional;
pub mod gradcheck;
mod graph;
pub mod info;
pub mod loss;
pub mod ops;
mod overloads;
pub mod tensor;
pub mod warnings;

pub use gradcheck::{gradcheck, GradcheckReport};
pub use graph::{is_grad_enabled, no_grad, NoGradGuard};
pub use ops::binary::Other;
pub use ops::indexing::{Idx, IndexArg};
pub use tensor::Tensor;
pub use torchlet_tensor_core::Dims;
pub use torchlet_tensor_core::{
    default_dtype, get_rng_state, initial_seed, manual_seed, set_default_dtype, set_rng_state, DType, Error,
    Generator, GeneratorState, Result, Scalar, Shape, TensorData,
};

/// Every enrolled op (the [`catalog`]): the ops of [`ops`] and the losses of [`loss`].
pub fn op_catalog() -> Vec<catalog::OpInfo> {
    let mut all = ops::catalog();
    all.extend(loss::catalog());
    all
}
