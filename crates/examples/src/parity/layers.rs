//! The layer cases of the curriculum file: `embedding`, `layer_norm`, `batch_norm` (with the
//! running statistics after the call), `scaled_dot_product_attention` and `cross_entropy_lm`,
//! called through the public API as a user would.

use super::{compare, parse_tensor};
use serde_json::Value;
use std::collections::HashMap;
use torchlet::nn::functional::{self as F, AttentionOpts, BatchNormOpts};
use torchlet::Tensor;

/// The op's output, or `None` when `op` is not a layer op.
pub(super) fn call(op: &str, args: &HashMap<String, Tensor>, o: &Value) -> Option<Result<Tensor, String>> {
    let arg = |k: &str| args.get(k).ok_or_else(|| format!("{op}: missing argument {k}"));
    let e = |r: torchlet::Result<Tensor>| r.map_err(|e| e.to_string());
    let usizes = |k: &str| -> Result<Vec<usize>, String> {
        let v = &o[k];
        match v.as_array() {
            Some(a) => {
                a.iter().map(|d| d.as_u64().map(|d| d as usize).ok_or(format!("{op}: bad {k}"))).collect()
            }
            None => v.as_u64().map(|d| vec![d as usize]).ok_or(format!("{op}: missing option {k}")),
        }
    };
    Some(match op {
        "embedding" => (|| {
            let pad = o["padding_idx"].as_i64();
            e(arg("input")?.embedding(arg("weight")?, pad))
        })(),
        "layer_norm" => (|| {
            let eps = o["eps"].as_f64().unwrap_or(1e-5);
            e(arg("input")?.layer_norm(
                &usizes("normalized_shape")?,
                args.get("weight"),
                args.get("bias"),
                eps,
            ))
        })(),
        "batch_norm" => batch_norm(args, o).map(|(out, _)| out),
        "scaled_dot_product_attention" => (|| {
            let opts =
                AttentionOpts { is_causal: o["is_causal"].as_bool().unwrap_or(false), ..Default::default() };
            e(arg("query")?.scaled_dot_product_attention(arg("key")?, arg("value")?, &opts))
        })(),
        "cross_entropy_lm" => (|| {
            let (x, t) = (arg("input")?, arg("target")?);
            let c = x.size(-1).map_err(|e| e.to_string())? as isize;
            e(x.view([-1, c]).and_then(|x| F::cross_entropy(&x, &t.view([-1])?)))
        })(),
        _ => return None,
    })
}

/// `F.batch_norm` on fresh copies of the case's running statistics; returns the output and
/// the statistics after the call.
fn batch_norm(args: &HashMap<String, Tensor>, o: &Value) -> Result<(Tensor, [Tensor; 2]), String> {
    let arg = |k: &str| args.get(k).ok_or_else(|| format!("batch_norm: missing argument {k}"));
    let fresh =
        |k: &str| -> Result<Tensor, String> { Ok(Tensor::from_data(arg(k)?.data().contiguous_copy())) };
    let (rm, rv) = (fresh("running_mean")?, fresh("running_var")?);
    let opts = BatchNormOpts {
        training: o["training"].as_bool().unwrap_or(false),
        momentum: o["momentum"].as_f64().unwrap_or(0.1),
        eps: o["eps"].as_f64().unwrap_or(1e-5),
    };
    let out = arg("input")?
        .batch_norm(Some(&rm), Some(&rv), args.get("weight"), args.get("bias"), opts)
        .map_err(|e| e.to_string())?;
    Ok((out, [rm, rv]))
}

/// The checks beyond output and gradients: for `batch_norm`, the running statistics.
///
/// The file's expected statistics are those after **two** calls of the op with the same
/// inputs: its generator evaluated `F.batch_norm` once for the output and once more for the
/// gradients (each call updates the buffers in training mode). So the check runs the call a
/// second time on the statistics the first call left, as the generator did; a single call's
/// update is checked against PyTorch in `tests/layers.rs`.
pub(super) fn extra_checks(
    op: &str,
    args: &HashMap<String, Tensor>,
    case: &Value,
    rtol: f64,
    atol: f64,
) -> Result<(), String> {
    if op != "batch_norm" || case["expected"].get("running_mean").is_none() {
        return Ok(());
    }
    let o = &case["options"];
    let (_, [rm, rv]) = batch_norm(args, o)?;
    let mut again = args.clone();
    again.insert("running_mean".into(), rm);
    again.insert("running_var".into(), rv);
    let (_, [rm, rv]) = batch_norm(&again, o)?;
    let want = |k: &str| parse_tensor(&case["expected"][k]);
    compare("running_mean", &rm.data(), &want("running_mean")?, rtol, atol)?;
    compare("running_var", &rv.data(), &want("running_var")?, rtol, atol)?;
    Ok(())
}
