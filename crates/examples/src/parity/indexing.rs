//! The indexing ops of the curriculum cases (`docs/parity.md`), each called through the
//! public indexing API as a learner writes it: `index_tensor` is `input.i(&index)` (`C[X]`),
//! `index_pair` `input.i(s![&index0, &index1])`, `index_pair_nll` its `-log().mean()`,
//! `slice` `input.i(...)` with a stepped slice at `dim`, `gather`, `index_put`, `one_hot`,
//! `masked_fill` and `masked_softmax` (`masked_fill` then `softmax(-1)`).

use super::Value;
use std::collections::HashMap;
use torchlet::autograd::Idx;
use torchlet::{s, Tensor};

/// Whether `op` is one of this file's.
pub(super) fn handles(op: &str) -> bool {
    matches!(
        op,
        "index_tensor"
            | "index_pair"
            | "index_pair_nll"
            | "slice"
            | "gather"
            | "index_put"
            | "one_hot"
            | "masked_fill"
            | "masked_softmax"
    )
}

/// Calls the public API for `op` (one of [`handles`]).
pub(super) fn call(op: &str, args: &HashMap<String, Tensor>, o: &Value) -> Result<Tensor, String> {
    let arg = |k: &str| args.get(k).ok_or_else(|| format!("{op}: missing argument {k}"));
    let int = |k: &str| o[k].as_i64().ok_or_else(|| format!("{op}: missing option {k}"));
    let e = |r: torchlet::Result<Tensor>| r.map_err(|e| e.to_string());
    match op {
        "index_tensor" => e(arg("input")?.i(arg("index")?)),
        "index_pair" => e(arg("input")?.i(s![arg("index0")?, arg("index1")?])),
        "index_pair_nll" => {
            e(arg("input")?.i(s![arg("index0")?, arg("index1")?]).and_then(|p| p.log()?.mean()?.neg()))
        }
        "slice" => {
            // input[:, ..., start:end:step] with the slice at `dim`.
            let dim = int("dim")? as usize;
            let mut index: Vec<Idx> = vec![Idx::from(..); dim];
            index.push(Idx::Slice { start: Some(int("start")?), end: Some(int("end")?), step: int("step")? });
            e(arg("input")?.i(index))
        }
        "gather" => e(arg("input")?.gather(int("dim")? as isize, arg("index")?)),
        "index_put" => {
            let accumulate = o["accumulate"].as_bool().unwrap_or(false);
            e(arg("input")?.index_put([arg("index0")?, arg("index1")?], arg("values")?, accumulate))
        }
        "masked_fill" => e(arg("input")?.masked_fill(arg("mask")?, number(&o["value"])?)),
        "masked_softmax" => {
            e(arg("input")?.masked_fill(arg("mask")?, number(&o["value"])?).and_then(|t| t.softmax(-1)))
        }
        "one_hot" => e(arg("input")?.one_hot(o["num_classes"].as_i64().map(|n| n as usize))),
        other => Err(format!("op {other:?} is not an indexing op")),
    }
}

/// An option's number; non-finite values arrive as the strings `"inf"`, `"-inf"`, `"nan"`.
fn number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("bad number {n}")),
        Value::String(s) if s == "inf" => Ok(f64::INFINITY),
        Value::String(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
        Value::String(s) if s == "nan" => Ok(f64::NAN),
        other => Err(format!("bad number {other}")),
    }
}
