//! The math cases of the curriculum file: elementwise functions with options (`gelu`,
//! `leaky_relu`, `softplus`, `pow`, `clamp`, ...), reductions over one dim, a list of dims or
//! all of them (`sum`, `mean`, `var`, `std`, `max_dim` with its indices, `argmax`, `cumsum`,
//! `logsumexp`, `norm`), the triangles `tril`/`triu`, `masked_fill` and `masked_softmax`, called through the
//! public API as a user would.

use super::{compare, parse_tensor};
use serde_json::Value;
use std::collections::HashMap;
use torchlet::nn::functional::{self as F, Approximate};
use torchlet::{Dims, Tensor};

/// The op's output, or `None` when `op` is not a math op.
pub(super) fn call(op: &str, args: &HashMap<String, Tensor>, o: &Value) -> Option<Result<Tensor, String>> {
    let arg = |k: &str| args.get(k).ok_or_else(|| format!("{op}: missing argument {k}"));
    let e = |r: torchlet::Result<Tensor>| r.map_err(|e| e.to_string());
    let num = |k: &str, default: f64| -> Result<f64, String> {
        match &o[k] {
            Value::Null => Ok(default),
            v => number(v).ok_or_else(|| format!("{op}: option {k} is not a number: {v}")),
        }
    };
    let keepdim = || o["keepdim"].as_bool().unwrap_or(false);
    let dim = || o["dim"].as_i64().map(|d| d as isize).ok_or_else(|| format!("{op}: missing option dim"));
    Some(match op {
        "tanh" => (|| e(arg("input")?.tanh()))(),
        "gelu" => (|| {
            let a = o["approximate"].as_str().unwrap_or("none");
            let a: Approximate = a.parse().map_err(|e: torchlet::Error| e.to_string())?;
            e(F::gelu_with(arg("input")?, a))
        })(),
        "silu" => (|| e(F::silu(arg("input")?)))(),
        "leaky_relu" => (|| e(F::leaky_relu(arg("input")?, num("negative_slope", 0.01)?)))(),
        "softplus" => (|| e(F::softplus_with(arg("input")?, num("beta", 1.0)?, num("threshold", 20.0)?)))(),
        "logsigmoid" => (|| e(F::logsigmoid(arg("input")?)))(),
        "sqrt" => (|| e(arg("input")?.sqrt()))(),
        "rsqrt" => (|| e(arg("input")?.rsqrt()))(),
        "log10" => (|| e(arg("input")?.log10()))(),
        "log2" => (|| e(arg("input")?.log2()))(),
        "abs" => (|| e(arg("input")?.abs()))(),
        "sign" => (|| e(arg("input")?.sign()))(),
        "floor" => (|| e(arg("input")?.floor()))(),
        "round" => (|| e(arg("input")?.round()))(),
        "pow" => (|| match (args.get("exponent"), &o["exponent"]) {
            (Some(t), _) => e(arg("input")?.pow(t)),
            (None, v) => {
                let p = number(v).ok_or_else(|| format!("pow: option exponent is not a number: {v}"))?;
                e(arg("input")?.pow(p))
            }
        })(),
        "clamp" => (|| {
            let bound = |k: &str| -> Result<Option<f64>, String> {
                match &o[k] {
                    Value::Null => Ok(None),
                    v => number(v).map(Some).ok_or_else(|| format!("clamp: option {k} is not a number: {v}")),
                }
            };
            e(arg("input")?.clamp(bound("min")?, bound("max")?))
        })(),
        "sum" => (|| e(arg("input")?.sum_dim(dims(op, &o["dim"])?, keepdim())))(),
        "mean" => (|| e(arg("input")?.mean_dim(dims(op, &o["dim"])?, keepdim())))(),
        "var" => (|| e(arg("input")?.var_with(dims(op, &o["dim"])?, num("correction", 1.0)?, keepdim())))(),
        "std" => (|| e(arg("input")?.std_with(dims(op, &o["dim"])?, num("correction", 1.0)?, keepdim())))(),
        "max_dim" => (|| e(arg("input")?.max_dim(dim()?, keepdim()).map(|(v, _)| v)))(),
        "min_dim" => (|| e(arg("input")?.min_dim(dim()?, keepdim()).map(|(v, _)| v)))(),
        "argmax" => (|| e(arg("input")?.argmax(dim()?, keepdim())))(),
        "argmin" => (|| e(arg("input")?.argmin(dim()?, keepdim())))(),
        "cumsum" => (|| e(arg("input")?.cumsum(dim()?)))(),
        "logsumexp" => (|| e(arg("input")?.logsumexp(dims(op, &o["dim"])?, keepdim())))(),
        "norm" => (|| e(arg("input")?.vector_norm(num("p", 2.0)?, dims(op, &o["dim"])?, keepdim())))(),
        "tril" => (|| e(arg("input")?.tril(o["diagonal"].as_i64().unwrap_or(0))))(),
        "triu" => (|| e(arg("input")?.triu(o["diagonal"].as_i64().unwrap_or(0))))(),
        "masked_fill" => (|| e(arg("input")?.masked_fill(arg("mask")?, num("value", 0.0)?)))(),
        "masked_softmax" => (|| {
            let value = num("value", f64::NEG_INFINITY)?;
            e(arg("input")?.masked_fill(arg("mask")?, value).and_then(|x| x.softmax(-1)))
        })(),
        _ => return None,
    })
}

/// A number option: a JSON number, or `"inf"`, `"-inf"`, `"nan"`.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            "nan" => Some(f64::NAN),
            _ => None,
        },
        _ => None,
    }
}

/// The `dim` option of a reduction: absent or null (all dims), an int or a list of ints.
fn dims(op: &str, v: &Value) -> Result<Dims, String> {
    let int = |d: &Value| d.as_i64().map(|d| d as isize).ok_or_else(|| format!("{op}: bad dim {d}"));
    match v {
        Value::Null => Ok(Dims::All),
        Value::Array(a) => Ok(a.iter().map(int).collect::<Result<Vec<_>, _>>()?.into()),
        d => Ok(int(d)?.into()),
    }
}

/// The checks beyond output and gradients: for `max_dim` (`min_dim`), the indices.
pub(super) fn extra_checks(
    op: &str,
    args: &HashMap<String, Tensor>,
    case: &Value,
    rtol: f64,
    atol: f64,
) -> Result<(), String> {
    let Some(want) = case["expected"].get("indices") else { return Ok(()) };
    if op != "max_dim" && op != "min_dim" {
        return Ok(());
    }
    let o = &case["options"];
    let x = args.get("input").ok_or("max_dim: missing argument input")?;
    let dim = o["dim"].as_i64().ok_or("max_dim: missing option dim")? as isize;
    let keepdim = o["keepdim"].as_bool().unwrap_or(false);
    let r = if op == "max_dim" { x.max_dim(dim, keepdim) } else { x.min_dim(dim, keepdim) };
    let (_, idx) = r.map_err(|e| e.to_string())?;
    compare("indices", &idx.data(), &parse_tensor(want)?, rtol, atol)
}
