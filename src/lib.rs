//! torchlet: a small, fast, autograd-capable tensor framework that reads like PyTorch.
pub use torchlet_tensor_core as core;
