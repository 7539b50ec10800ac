//! The convolution and pooling cases of the curriculum file: `conv1d`, `conv2d` (`input`,
//! `weight`, optional `bias`; `stride`, `padding`, `dilation`, `groups`), `max_pool2d` and
//! `avg_pool2d` (`input`; `kernel_size`, `stride`, `padding`). A size option is a number or a
//! list of one per spatial dimension; a missing or null `stride` of a pooling is its kernel
//! size, as in PyTorch.

use serde_json::Value;
use std::collections::HashMap;
use torchlet::nn::functional::{self as F, AvgPool2dOpts, Conv1dOpts, Conv2dOpts, MaxPool2dOpts, Size2};
use torchlet::Tensor;

/// A size option for two spatial dimensions: `3` or `[3, 2]`; `None` when absent or null.
fn size2(o: &Value, key: &str) -> Result<Option<Size2>, String> {
    let bad = || format!("option {key}: expected a non-negative integer or a list of two, got {}", o[key]);
    match &o[key] {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(Size2::Both(n.as_u64().ok_or_else(bad)? as usize))),
        Value::Array(a) if a.len() == 2 => {
            let v: Vec<usize> =
                a.iter().map(|x| x.as_u64().map(|x| x as usize).ok_or_else(bad)).collect::<Result<_, _>>()?;
            Ok(Some(Size2::Pair(v[0], v[1])))
        }
        _ => Err(bad()),
    }
}

/// A size option for one spatial dimension: `3` or `[3]`.
fn size1(o: &Value, key: &str) -> Result<Option<usize>, String> {
    let bad = || format!("option {key}: expected a non-negative integer or a list of one, got {}", o[key]);
    match &o[key] {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(n.as_u64().ok_or_else(bad)? as usize)),
        Value::Array(a) if a.len() == 1 => Ok(Some(a[0].as_u64().ok_or_else(bad)? as usize)),
        _ => Err(bad()),
    }
}

/// Calls the public API for one of this file's ops; `Err` for anything it rejects.
pub(super) fn call(op: &str, args: &HashMap<String, Tensor>, o: &Value) -> Result<Tensor, String> {
    let arg = |k: &str| args.get(k).ok_or_else(|| format!("{op}: missing argument {k}"));
    let e = |r: torchlet::Result<Tensor>| r.map_err(|e| e.to_string());
    let groups = o["groups"].as_u64().map_or(1, |g| g as usize);
    match op {
        "conv1d" => {
            let opts = Conv1dOpts::default()
                .stride(size1(o, "stride")?.unwrap_or(1))
                .padding(size1(o, "padding")?.unwrap_or(0))
                .dilation(size1(o, "dilation")?.unwrap_or(1))
                .groups(groups);
            e(F::conv1d_with(arg("input")?, arg("weight")?, args.get("bias"), &opts))
        }
        "conv2d" => {
            let opts = Conv2dOpts::default()
                .stride(size2(o, "stride")?.unwrap_or(Size2::Both(1)))
                .padding(size2(o, "padding")?.unwrap_or(Size2::Both(0)))
                .dilation(size2(o, "dilation")?.unwrap_or(Size2::Both(1)))
                .groups(groups);
            e(F::conv2d_with(arg("input")?, arg("weight")?, args.get("bias"), &opts))
        }
        "max_pool2d" => {
            let k = size2(o, "kernel_size")?.ok_or("max_pool2d: missing option kernel_size")?;
            let mut opts = MaxPool2dOpts::new(k)
                .padding(size2(o, "padding")?.unwrap_or(Size2::Both(0)))
                .dilation(size2(o, "dilation")?.unwrap_or(Size2::Both(1)))
                .ceil_mode(o["ceil_mode"].as_bool().unwrap_or(false));
            opts.stride = size2(o, "stride")?;
            e(F::max_pool2d_with(arg("input")?, &opts))
        }
        "avg_pool2d" => {
            let k = size2(o, "kernel_size")?.ok_or("avg_pool2d: missing option kernel_size")?;
            let mut opts = AvgPool2dOpts::new(k)
                .padding(size2(o, "padding")?.unwrap_or(Size2::Both(0)))
                .ceil_mode(o["ceil_mode"].as_bool().unwrap_or(false))
                .count_include_pad(o["count_include_pad"].as_bool().unwrap_or(true))
                .divisor_override(o["divisor_override"].as_u64().map(|d| d as usize));
            opts.stride = size2(o, "stride")?;
            e(F::avg_pool2d_with(arg("input")?, &opts))
        }
        other => Err(format!("op {other:?} is not a convolution or pooling")),
    }
}
