pub use torchlet_tensor_core as core;
