//! `train` parity cases: a whole training run compared step by step with PyTorch.
//! (Stub: filled in by the nn work.)

use serde_json::Value;

/// Runs one `train` case; `Err` describes what differed (and by how much).
#[allow(dead_code)]
pub(crate) fn run_train(_case: &Value) -> Result<(), String> {
    Err("train cases are not supported yet".into())
}
