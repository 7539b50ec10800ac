//! # torchlet-nn
//!
//! `torch.nn` for torchlet: the [`Module`] trait, layers ([`Linear`]), activations
//! ([`Sigmoid`], [`ReLU`], [`Tanh`], [`Softmax`], [`LogSoftmax`], [`Flatten`]), the
//! [`Sequential`] container, loss modules ([`CrossEntropyLoss`], [`NLLLoss`], ...),
//! [`Dropout`], PyTorch's initialisations in [`init`], data loading in [`data`]
//! ([`TensorDataset`], [`DataLoader`], [`random_split`]; PyTorch's shuffle order), the
//! optimizers in [`optim`], and saving/loading: state dicts ([`state`]) and safetensors
//! files ([`save_safetensors`], [`load_safetensors`]).
//!
//! ```
//! use torchlet_autograd::Tensor;
//! use torchlet_nn::{Linear, Module, Sequential, Sigmoid};
//!
//! torchlet_autograd::manual_seed(0);
//! let model = Sequential::new()
//!     .add(Linear::new(2, 5)?)
//!     .add(Sigmoid)
//!     .add(Linear::new(5, 2)?)
//!     .add(Sigmoid);
//! let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
//! let out = model.forward(&Tensor::from([[0.0f32, 1.0]]))?;
//! assert_eq!(out.dims(), vec![1, 2]);
//! # Ok::<(), torchlet_autograd::Error>(())
//! ```
//!
//! Reading order: [`module`] (the trait and the printing helpers) → [`init`] → [`linear`] →
//! [`activation`] → [`dropout`](mod@dropout) → [`container`] → [`loss`] → [`data`] → [`optim`] → [`state`] →
//! [`safetensors`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activation;
pub mod clip;
pub mod container;
pub mod conv;
pub mod data;
pub mod dropout;
pub mod init;
pub mod layers;
pub mod linear;
pub mod loss;
pub mod module;
pub mod optim;
pub mod pool;
pub mod safetensors;
pub mod state;

pub use activation::*;
pub use clip::{
    clip_grad_norm_, clip_grad_norm_with, clip_grad_value_, clip_grads_with_norm_, get_total_norm,
};
pub use container::{ModuleDict, ModuleList, Sequential};
pub use conv::{Conv1d, Conv1dBuilder, Conv2d, Conv2dBuilder};
pub use data::{random_split, DataLoader, Dataset, Subset, TensorDataset};
pub use dropout::{dropout, Dropout};
pub use layers::{BatchNorm, BatchNorm1d, BatchNorm2d, Embedding, Identity, LayerNorm};
pub use linear::Linear;
pub use loss::{
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, KLDivLoss, MSELoss, NLLLoss,
};
pub use module::{py_bool, py_float, Module, Parameter};
pub use pool::{AvgPool2d, MaxPool2d};
pub use safetensors::{load_safetensors, save_safetensors};
pub use torchlet_autograd::functional;
#[doc(hidden)]
pub use torchlet_autograd::Tensor as __Tensor;
