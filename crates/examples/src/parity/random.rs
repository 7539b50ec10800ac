//! The `random` cases of `tests/data/curriculum_cases.json`: PyTorch's CPU random streams.
//!
//! A case seeds one generator (`generator: "global"` → `manual_seed(seed)` and the global
//! functions; `"local"` → `Generator::new(seed)` and the `_with` functions), runs its `calls`
//! in order through the public API, and compares each call's results with
//! `expected.outputs` in order: float tensors within the case's tolerance, integer tensors
//! exactly.

use super::{compare, parse_tensor};
use serde_json::Value;
use std::collections::HashMap;
use torchlet::nn::data::{DataLoader, TensorDataset};
use torchlet::nn::{self, init, Conv2d, Linear};
use torchlet::{manual_seed, DType, Generator, Tensor, TensorData};

/// Where a case's calls take their numbers from.
enum Source {
    Global,
    Local(Box<Generator>),
}

/// Runs one `random` case.
pub(super) fn run_random(case: &Value) -> Result<(), String> {
    let opts = &case["options"];
    let seed = opts["seed"].as_u64().ok_or("random case without a seed")?;
    let mut source = match opts["generator"].as_str() {
        Some("global") => {
            manual_seed(seed);
            Source::Global
        }
        Some("local") => Source::Local(Box::new(Generator::new(seed))),
        other => return Err(format!("unknown generator {other:?}")),
    };
    let mut args: HashMap<String, Tensor> = HashMap::new();
    if let Some(obj) = case["args"].as_object() {
        for (k, v) in obj {
            args.insert(
                k.clone(),
                Tensor::from_data(parse_tensor(v).map_err(|e| format!("argument {k}: {e}"))?),
            );
        }
    }
    let calls = opts["calls"].as_array().ok_or("random case without calls")?;
    let expected = case["expected"]["outputs"].as_array().ok_or("random case without expected outputs")?;
    let (rtol, atol) = (case["rtol"].as_f64().unwrap_or(1e-6), case["atol"].as_f64().unwrap_or(1e-7));
    let mut want = expected.iter();
    for (i, c) in calls.iter().enumerate() {
        let fname = c["fn"].as_str().unwrap_or("?");
        let outs = call(c, &args, &mut source).map_err(|e| format!("call {i} ({fname}): {e}"))?;
        for (k, got) in outs.iter().enumerate() {
            let w =
                want.next().ok_or_else(|| format!("call {i} ({fname}) gives more outputs than PyTorch"))?;
            let w = parse_tensor(w)?;
            let what = format!("call {i} ({fname}) output {k}");
            if w.dtype() == DType::I64 {
                exact(&what, got, &w)?;
            } else {
                compare(&what, got, &w, rtol, atol)?;
            }
        }
    }
    if want.next().is_some() {
        return Err("PyTorch gives more outputs than the calls produced".into());
    }
    Ok(())
}

/// Integer streams must match exactly.
fn exact(what: &str, got: &TensorData, want: &TensorData) -> Result<(), String> {
    if got.dims() != want.dims() || got.dtype() != want.dtype() {
        return Err(format!(
            "{what}: {} {} but PyTorch gives {} {}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    let (g, w) =
        (got.to_vec::<i64>().map_err(|e| e.to_string())?, want.to_vec::<i64>().map_err(|e| e.to_string())?);
    match g.iter().zip(&w).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!("{what}: element {i} is {} but PyTorch gives {} (got {g:?})", g[i], w[i])),
    }
}

fn size(c: &Value) -> Result<Vec<usize>, String> {
    c["size"]
        .as_array()
        .ok_or("missing size")?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize).ok_or_else(|| format!("bad dimension {d}")))
        .collect()
}

fn dtype(c: &Value) -> Result<DType, String> {
    match c["dtype"].as_str() {
        None | Some("f32") => Ok(DType::F32),
        Some("f64") => Ok(DType::F64),
        Some(other) => Err(format!("unknown dtype {other:?}")),
    }
}

fn num(c: &Value, k: &str) -> Result<f64, String> {
    c[k].as_f64().ok_or_else(|| format!("missing number {k}"))
}

fn count(c: &Value, k: &str) -> Result<usize, String> {
    c[k].as_u64().map(|v| v as usize).ok_or_else(|| format!("missing count {k}"))
}

/// Runs one call through the public API; its results in PyTorch's order.
fn call(c: &Value, args: &HashMap<String, Tensor>, source: &mut Source) -> Result<Vec<TensorData>, String> {
    let e = |r: torchlet::Result<Tensor>| r.map(|t| vec![t.data()]).map_err(|e| e.to_string());
    let arg = |k: &str| -> Result<&Tensor, String> {
        let name = c[k].as_str().ok_or_else(|| format!("missing argument name {k}"))?;
        args.get(name).ok_or_else(|| format!("missing argument {name}"))
    };
    let global_only = |f: &str| format!("{f} draws from the global generator only (as in PyTorch)");
    let fname = c["fn"].as_str().ok_or("call without fn")?;
    match fname {
        "rand" => e(match source {
            Source::Global => Tensor::rand_dtype(size(c)?, dtype(c)?),
            Source::Local(g) => Tensor::rand_with(size(c)?, dtype(c)?, g),
        }),
        "randn" => e(match source {
            Source::Global => Tensor::randn_dtype(size(c)?, dtype(c)?),
            Source::Local(g) => Tensor::randn_with(size(c)?, dtype(c)?, g),
        }),
        "randint" => {
            let (low, high) =
                (c["low"].as_i64().ok_or("missing low")?, c["high"].as_i64().ok_or("missing high")?);
            e(match source {
                Source::Global => Tensor::randint(low, high, size(c)?),
                Source::Local(g) => Tensor::randint_with(low, high, size(c)?, g),
            })
        }
        "randperm" => e(match source {
            Source::Global => Tensor::randperm(count(c, "n")?),
            Source::Local(g) => Tensor::randperm_with(count(c, "n")?, g),
        }),
        "multinomial" => {
            let p = arg("probs")?;
            let (n, rep) = (count(c, "num_samples")?, c["replacement"].as_bool().unwrap_or(false));
            e(match source {
                Source::Global => p.multinomial(n, rep),
                Source::Local(g) => p.multinomial_with(n, rep, g),
            })
        }
        "bernoulli" => {
            let p = arg("probs")?;
            e(match source {
                Source::Global => p.bernoulli(),
                Source::Local(g) => p.bernoulli_with(g),
            })
        }
        "normal_" | "uniform_" | "exponential_" => {
            let t = Tensor::zeros_dtype(size(c)?, dtype(c)?).map_err(|e| e.to_string())?;
            let r = match (fname, source) {
                ("normal_", Source::Global) => t.normal_(num(c, "mean")?, num(c, "std")?),
                ("normal_", Source::Local(g)) => t.normal_with_(num(c, "mean")?, num(c, "std")?, g),
                ("uniform_", Source::Global) => t.uniform_(num(c, "from")?, num(c, "to")?),
                ("uniform_", Source::Local(g)) => t.uniform_with_(num(c, "from")?, num(c, "to")?, g),
                (_, Source::Global) => t.exponential_(num(c, "lambd")?),
                (_, Source::Local(g)) => t.exponential_with_(num(c, "lambd")?, g),
            };
            r.map_err(|e| e.to_string())?;
            Ok(vec![t.data()])
        }
        "random_int64" => {
            let t = Tensor::zeros_dtype([], DType::I64).map_err(|e| e.to_string())?;
            match source {
                Source::Global => t.random_(),
                Source::Local(g) => t.random_with_(g),
            }
            .map_err(|e| e.to_string())?;
            Ok(vec![t.data()])
        }
        "dropout" => {
            let x = arg("input")?;
            e(match source {
                Source::Global => nn::dropout(x, num(c, "p")?, true),
                Source::Local(g) => nn::dropout::dropout_with(x, num(c, "p")?, true, g),
            })
        }
        _ if matches!(source, Source::Local(_)) => Err(global_only(fname)),
        "linear_init" => {
            let bias = c["bias"].as_bool().unwrap_or(true);
            let l = Linear::with_dtype(count(c, "in_features")?, count(c, "out_features")?, bias, dtype(c)?)
                .map_err(|e| e.to_string())?;
            let mut out = vec![l.weight().data()];
            out.extend(l.bias().map(|b| b.data()));
            Ok(out)
        }
        "conv2d_init" => {
            let conv = Conv2d::builder(
                count(c, "in_channels")?,
                count(c, "out_channels")?,
                count(c, "kernel_size")?,
            )
            .dtype(dtype(c)?)
            .build()
            .map_err(|e| e.to_string())?;
            let mut out = vec![conv.weight().data()];
            out.extend(conv.bias().map(|b| b.data()));
            Ok(out)
        }
        "embedding_init" => e(init::embedding_weight(
            count(c, "num_embeddings")?,
            count(c, "embedding_dim")?,
            None,
            dtype(c)?,
        )),
        "kaiming_normal_" => {
            let t = Tensor::zeros_dtype(size(c)?, dtype(c)?).map_err(|e| e.to_string())?;
            let mode: init::FanMode =
                c["mode"].as_str().unwrap_or("fan_in").parse().map_err(|e: torchlet::Error| e.to_string())?;
            let nl: init::Nonlinearity = c["nonlinearity"]
                .as_str()
                .unwrap_or("leaky_relu")
                .parse()
                .map_err(|e: torchlet::Error| e.to_string())?;
            init::kaiming_normal_(&t, c["a"].as_f64().unwrap_or(0.0), mode, nl).map_err(|e| e.to_string())?;
            Ok(vec![t.data()])
        }
        "xavier_uniform_" => {
            let t = Tensor::zeros_dtype(size(c)?, dtype(c)?).map_err(|e| e.to_string())?;
            init::xavier_uniform_(&t, c["gain"].as_f64().unwrap_or(1.0)).map_err(|e| e.to_string())?;
            Ok(vec![t.data()])
        }
        "dataloader_order" => {
            let n = count(c, "n")?;
            let ds = TensorDataset::new(vec![Tensor::from((0..n as i64).collect::<Vec<i64>>())])
                .map_err(|e| e.to_string())?;
            let mut loader = DataLoader::new(ds, count(c, "batch_size")?)
                .map_err(|e| e.to_string())?
                .shuffle(true)
                .drop_last(c["drop_last"].as_bool().unwrap_or(false));
            let mut order: Vec<i64> = Vec::new();
            for _ in 0..count(c, "epochs")? {
                for batch in loader.iter().map_err(|e| e.to_string())? {
                    let batch = batch.map_err(|e| e.to_string())?;
                    order.extend(batch[0].to_vec::<i64>().map_err(|e| e.to_string())?);
                }
            }
            let len = order.len();
            TensorData::from_vec(order, [len]).map(|t| vec![t]).map_err(|e| e.to_string())
        }
        other => Err(format!("random fn {other:?} is not supported by torchlet's parity runner")),
    }
}

/// Rewrites the bare `NaN`, `Infinity` and `-Infinity` tokens that Python's `json.dump`
/// writes for non-finite numbers (the curriculum file has a few in its options) as the strings
/// `"nan"`, `"inf"` and `"-inf"` the file format uses for TENSOR data, so a strict JSON parser
/// reads the file. Text inside strings is left alone.
pub(super) fn python_json_to_strict(text: &str) -> std::borrow::Cow<'_, str> {
    if !(text.contains("NaN") || text.contains("Infinity")) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_string = false;
            }
        } else if ch == '"' {
            in_string = true;
        } else {
            let token = [("-Infinity", "\"-inf\""), ("Infinity", "\"inf\""), ("NaN", "\"nan\"")]
                .into_iter()
                .find(|(t, _)| rest.starts_with(t));
            if let Some((t, s)) = token {
                out.push_str(s);
                rest = &rest[t.len()..];
                continue;
            }
        }
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}
