//! Printing tensors exactly as PyTorch does (placeholder: replaced by the full formatter).

use crate::TensorData;
use std::fmt;

impl fmt::Display for TensorData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tensor({:?})", self.to_f64_vec())
    }
}
