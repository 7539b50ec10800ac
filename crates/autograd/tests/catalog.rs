//! Every op of the catalog (`torchlet_autograd::op_catalog()`) against central finite
//! differences in f64: at the sample shapes its entry names, and on random shapes. `gradcheck`
//! weights non-scalar outputs with a fixed pseudo-random vector, so each check covers the full
//! Jacobian-vector product, broadcasting included. An op is enrolled by its catalog entry,
//! written beside its rule; nothing here lists ops, except the check that the catalog still
//! holds the ops the tape had when the catalog was introduced.
//!
//! Random-shape cases per op: 16 by default; `TORCHLET_PROPTEST_CASES=N` runs N.

use std::collections::HashSet;
use torchlet_autograd::catalog::{Mode, OpInfo, Sampler};
use torchlet_autograd::{gradcheck, op_catalog, Tensor};

fn cases(default: u64) -> u64 {
    std::env::var("TORCHLET_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Gradcheck of `op` drawn in `mode` from `seed`; the message names the op, seed and inputs.
fn check(op: &OpInfo, mode: Mode, seed: u64) -> Result<(), String> {
    let case = (op.sample)(&mut Sampler::new(mode, seed));
    let shapes: Vec<String> = case.inputs.iter().map(|x| x.shape().to_string()).collect();
    match gradcheck(|t: &[Tensor]| (case.call)(t), &case.inputs, 1e-6, 1e-7, 1e-5) {
        Ok(r) if r.checked > 0 || case.inputs.iter().all(|x| x.numel() == 0 || !x.dtype().is_float()) => {
            Ok(())
        }
        Ok(_) => Err(format!("{} ({mode:?}, seed {seed}, inputs {shapes:?}): nothing was checked", op.name)),
        Err(e) => Err(format!("{} ({mode:?}, seed {seed}, inputs {shapes:?}): {e}", op.name)),
    }
}

fn run_all(mode: Mode, seeds: u64) {
    let failures: Vec<String> = op_catalog()
        .iter()
        .filter(|op| op.differentiable)
        .flat_map(|op| (0..seeds).filter_map(move |seed| check(op, mode, seed).err()))
        .collect();
    assert!(failures.is_empty(), "{} gradcheck failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_op_passes_gradcheck_at_its_sample_shapes() {
    // Several seeds: the entries draw their dims, options and variants from the sampler.
    run_all(Mode::Check, 8);
}

#[test]
fn every_op_passes_gradcheck_on_random_shapes() {
    run_all(Mode::Random, cases(16));
}

#[test]
fn the_catalog_holds_every_op_once() {
    let names: Vec<&str> = op_catalog().iter().map(|op| op.name).collect();
    let unique: HashSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "duplicate names in {names:?}");
    // The ops of the tape when the catalog replaced the hand-written gradcheck list.
    for op in [
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "pow_scalar",
        "neg",
        "add_scalar",
        "mul_scalar",
        "maximum",
        "minimum",
        "exp",
        "log",
        "log1p",
        "sqrt",
        "abs",
        "clamp",
        "sigmoid",
        "tanh",
        "softplus",
        "log_sigmoid",
        "relu",
        "to_dtype",
        "softmax",
        "log_softmax",
        "logsumexp",
        "sum",
        "mean",
        "sum_dim",
        "mean_dim",
        "max_dim",
        "min_dim",
        "max",
        "min",
        "reshape",
        "permute",
        "transpose",
        "t",
        "squeeze_unsqueeze",
        "flatten",
        "expand",
        "narrow",
        "contiguous",
        "cat",
        "stack",
        "index_select",
        "gather",
        "matmul",
        "matmul_gemm",
        "matmul_transposed",
        "linear",
        "where_cond",
        "cross_entropy",
        "cross_entropy_probs",
        "nll_loss",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "kl_div",
        "mse_loss",
        "cosine_embedding_loss",
    ] {
        assert!(unique.contains(op), "{op} is not in the catalog");
    }
}

#[test]
fn a_two_layer_network_end_to_end() {
    // linear -> sigmoid -> linear -> log_softmax -> gather -> mean, composed.
    let mut s = Sampler::new(Mode::Check, 82);
    let target = torchlet_autograd::TensorData::from_vec(vec![0i64, 1, 1, 0], [4, 1]).unwrap();
    let inputs = vec![s.float(&[4, 2]), s.float(&[5, 2]), s.float(&[5]), s.float(&[2, 5]), target];
    let f = |t: &[Tensor]| {
        t[0].linear(&t[1], Some(&t[2]))?
            .sigmoid()?
            .linear(&t[3], None)?
            .log_softmax(1)?
            .gather(1, &t[4])?
            .mean()
    };
    let r = gradcheck(f, &inputs, 1e-6, 1e-7, 1e-5).unwrap();
    assert_eq!(r.checked, 8 + 10 + 5 + 10);
}
