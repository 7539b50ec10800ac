//! Printing tensors exactly as PyTorch does (placeholder: replaced by the full formatter).

use crate::TensorData;
use std::fmt;

impl fmt::Display for TensorData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tensor({:?})", self.to_f64_vec())
    }
}

/// The printed form with `, key=value` suffixes before the closing parenthesis.
pub fn format_tensor(t: &TensorData, suffixes: &[String]) -> String {
    let mut s = t.to_string();
    s.pop();
    for x in suffixes {
        s.push_str(", ");
        s.push_str(x);
    }
    s.push(')');
    s
}
