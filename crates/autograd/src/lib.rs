//! # torchlet-autograd
//!
//! The user-facing [`Tensor`]: a tensor-core value plus the gradient tape. Every
//! differentiable operation records a node with its backward rule; `loss.backward()` fills
//! `.grad()` of every leaf that requires grad, as in PyTorch.
//!
//! Reading order: [`tensor`] (the handle and its autograd state) → `graph` (recording,
//! `no_grad`, the backward walk) → `backward` (every rule on one screen) → `ops` (the
//! differentiable operations) → `loss` and [`functional`] → [`gradcheck()`]. The losses'
//! pitfall warnings (and how to silence them) are in [`warnings`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backward;
pub mod distributions;
mod dot;
pub mod functional;
pub mod gradcheck;
mod graph;
pub mod info;
mod loss;
mod ops;
mod overloads;
pub mod tensor;
pub mod warnings;

pub use gradcheck::{gradcheck, GradcheckReport};
pub use graph::{is_grad_enabled, no_grad, NoGradGuard};
pub use tensor::Tensor;
pub use torchlet_tensor_core::{
    get_rng_state, initial_seed, manual_seed, set_rng_state, DType, Error, Generator, GeneratorState, Result,
    Shape, TensorData,
};
