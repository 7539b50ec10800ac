//! # torchlet-tensor-core
//!
//! The raw n-dimensional CPU tensor of torchlet, [`TensorData`]: dynamic shapes
//! (`smallvec` dims), a runtime [`DType`] (f32 by default, f64, i64 class indices, bool
//! masks), NumPy/PyTorch broadcasting, reductions, a real GEMM for `matmul`, indexing, and
//! PyTorch-style printing. There is no autograd here: the differentiable `Tensor` users hold
//! lives in `torchlet-autograd` and wraps this type.
//!
//! Reading order: [`shape`] (index arithmetic) → [`data`] (storage, views) → `elementwise`,
//! `reduce`, `matmul`, `index` (kernels) → `display`.

#![warn(missing_docs)]

pub mod attention;
pub mod conv;
mod copy;
pub mod data;
pub mod display;
pub mod dtype;
mod elementwise;
pub mod error;
mod index;
mod indexing;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod pooling;
pub mod promote;
pub mod random;
pub mod reduce;
pub mod shape;
pub mod simd;
pub mod vmath;

pub use data::{Literal, TensorData};
pub use display::format_tensor;
pub use dtype::{Buffer, DType, Element, Float, Numeric};
pub use elementwise::{erf, GELU_TANH_BETA, GELU_TANH_KAPPA};
pub use error::{Error, Result};
pub use promote::{default_dtype, set_default_dtype, Scalar};
pub use random::{get_rng_state, initial_seed, manual_seed, set_rng_state, Generator, GeneratorState};
pub use reduce::Dims;
pub use shape::{Layout, Shape, ShapeSpec, SpecDim};
