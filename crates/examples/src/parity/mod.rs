//! Runs the PyTorch parity cases (`tests/data/torch_cases.json`, format in
//! `docs/parity.md`) through the public API exactly as a user would call it, and compares
//! outputs and gradients with `|got - want| <= atol + rtol * |want|` (NaN matches NaN, an
//! infinity matches the same infinity). Error cases pass when the API returns `Err`.
//! A case the project cannot express counts as failed; a panic counts as failed.

mod conv;
mod indexing;
mod layers;
mod math;
mod optim;
mod random;
mod train;
mod train_model;

use serde_json::Value;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use torchlet::autograd::distributions::Categorical;
use torchlet::nn::functional::{self as F, Reduction};
use torchlet::{DType, Tensor, TensorData};

/// The outcome of a run: counts and, for every failing case, why.
#[derive(Debug, Default)]
pub struct Summary {
    /// Cases that matched PyTorch.
    pub passed: usize,
    /// Failing cases: `(name, what differed)`.
    pub failures: Vec<(String, String)>,
}

impl Summary {
    /// Number of failing cases.
    pub fn failed(&self) -> usize {
        self.failures.len()
    }
}

/// Runs every case of the file at `path` whose name starts with `filter` (all when `None`).
pub fn run_file(path: impl AsRef<Path>, filter: Option<&str>) -> Result<Summary, String> {
    run_file_where(path, |case| filter.is_none_or(|f| name(case).starts_with(f)))
}

/// Runs every case of the file at `path` for which `select` returns true.
pub fn run_file_where(path: impl AsRef<Path>, select: impl Fn(&Value) -> bool) -> Result<Summary, String> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let json: Value = serde_json::from_str(&random::python_json_to_strict(&text))
        .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    let cases = json["cases"].as_array().ok_or_else(|| format!("{}: no \"cases\" array", path.display()))?;
    let mut summary = Summary::default();
    for case in cases.iter().filter(|c| select(c)) {
        match run_case(case) {
            Ok(()) => summary.passed += 1,
            Err(why) => summary.failures.push((name(case).to_string(), why)),
        }
    }
    Ok(summary)
}

/// Runs one case, turning a panic into a failure.
pub fn run_case(case: &Value) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| run_case_inner(case))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {msg}"))
        }
    }
}

fn name(case: &Value) -> &str {
    case["name"].as_str().unwrap_or("<unnamed>")
}

/// Parses a TENSOR object (`{"dtype", "shape", "data"}`; non-finite values are strings).
pub fn parse_tensor(v: &Value) -> Result<TensorData, String> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .ok_or("tensor without a shape")?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize).ok_or("bad dimension"))
        .collect::<Result<_, _>>()?;
    let data = v["data"].as_array().ok_or("tensor without data")?;
    let num = |x: &Value| -> Result<f64, String> {
        match x {
            Value::Number(n) => n.as_f64().ok_or_else(|| format!("bad number {n}")),
            Value::String(s) => match s.as_str() {
                "nan" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(format!("bad value {other:?}")),
            },
            other => Err(format!("bad value {other}")),
        }
    };
    let t = match v["dtype"].as_str() {
        Some("f32") => TensorData::from_vec(
            data.iter().map(|x| num(x).map(|x| x as f32)).collect::<Result<Vec<_>, _>>()?,
            shape,
        ),
        Some("f64") => TensorData::from_vec(data.iter().map(num).collect::<Result<Vec<_>, _>>()?, shape),
        Some("bool") => TensorData::from_vec(
            data.iter()
                .map(|x| x.as_bool().ok_or_else(|| format!("bad bool {x}")))
                .collect::<Result<Vec<_>, _>>()?,
            shape,
        ),
        Some("i64") => TensorData::from_vec(
            data.iter()
                .map(|x| x.as_i64().ok_or_else(|| format!("bad integer {x}")))
                .collect::<Result<Vec<_>, _>>()?,
            shape,
        ),
        other => return Err(format!("unknown dtype {other:?}")),
    };
    t.map_err(|e| e.to_string())
}

/// Compares `got` with `want` elementwise: shape, dtype, then `atol + rtol * |want|`.
pub fn compare(what: &str, got: &TensorData, want: &TensorData, rtol: f64, atol: f64) -> Result<(), String> {
    if got.dims() != want.dims() {
        return Err(format!("{what}: shape {} but PyTorch gives {}", got.shape(), want.shape()));
    }
    if got.dtype() != want.dtype() {
        return Err(format!("{what}: dtype {} but PyTorch gives {}", got.dtype(), want.dtype()));
    }
    let (g, w) = (got.to_f64_vec(), want.to_f64_vec());
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
        let ok = if b.is_nan() {
            a.is_nan()
        } else if b.is_infinite() {
            a == b
        } else {
            (a - b).abs() <= atol + rtol * b.abs()
        };
        if !ok {
            let err = if a.is_finite() { (a - b).abs() } else { f64::INFINITY };
            if worst.is_none_or(|(_, e)| err > e || e.is_nan()) {
                worst = Some((i, err));
            }
        }
    }
    match worst {
        None => Ok(()),
        Some((i, err)) => Err(format!(
            "{what}: element {i} is {} but PyTorch gives {} (largest error {err:e}, allowed {:e} + {:e}*|want|)",
            g[i], w[i], atol, rtol
        )),
    }
}

fn run_case_inner(case: &Value) -> Result<(), String> {
    let op = case["op"].as_str().ok_or("case without op")?;
    if op == "train" {
        return train::run_train(case);
    }
    if op == "train_model" {
        return train_model::run_train_model(case);
    }
    if op == "random" {
        return random::run_random(case);
    }
    if op == "clip_grad_norm" {
        return optim::run_clip_grad_norm(case);
    }
    if op == "lr_scheduler" {
        return optim::run_lr_scheduler(case);
    }
    let requires: Vec<&str> = case["requires_grad"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let mut args: HashMap<String, Tensor> = HashMap::new();
    if let Some(obj) = case["args"].as_object() {
        for (k, v) in obj {
            let t = Tensor::from_data(parse_tensor(v).map_err(|e| format!("argument {k}: {e}"))?);
            let t = if requires.contains(&k.as_str()) {
                t.requires_grad_(true).map_err(|e| e.to_string())?
            } else {
                t
            };
            args.insert(k.clone(), t);
        }
    }
    let opts = &case["options"];
    let result = call(op, &args, opts);
    let expected = &case["expected"];
    if let Some(msg) = expected.get("error") {
        return match result {
            Err(_) => Ok(()),
            Ok(_) => Err(format!("returned Ok but PyTorch raises: {}", msg.as_str().unwrap_or(""))),
        };
    }
    let out = result.map_err(|e| format!("returned Err({e}) but PyTorch succeeds"))?;
    let (rtol, atol) = (case["rtol"].as_f64().unwrap_or(1e-5), case["atol"].as_f64().unwrap_or(1e-6));
    compare("output", &out.data(), &parse_tensor(&expected["output"])?, rtol, atol)?;
    let grads = expected["grads"].as_object().filter(|g| !g.is_empty());
    if let Some(grads) = grads {
        let go = Tensor::from_data(parse_tensor(&case["grad_output"])?);
        out.backward_with(&go).map_err(|e| format!("backward returned Err({e})"))?;
        for (k, want) in grads {
            let got = args
                .get(k)
                .and_then(|t| t.grad_data())
                .ok_or_else(|| format!("no gradient for {k} but PyTorch computes one"))?;
            compare(&format!("grad of {k}"), &got, &parse_tensor(want)?, rtol, atol)?;
        }
    }
    layers::extra_checks(op, &args, case, rtol, atol)?;
    math::extra_checks(op, &args, case, rtol, atol)
}

/// Calls the public API for `op`; `Err` for anything it rejects (or cannot express).
fn call(op: &str, args: &HashMap<String, Tensor>, o: &Value) -> Result<Tensor, String> {
    let arg = |k: &str| args.get(k).ok_or_else(|| format!("{op}: missing argument {k}"));
    let opt = |k: &str| args.get(k).cloned();
    let reduction = || -> Result<Reduction, String> {
        o["reduction"]
            .as_str()
            .map_or(Ok(Reduction::Mean), |s| s.parse::<Reduction>().map_err(|e| e.to_string()))
    };
    let dim = || o["dim"].as_i64().map(|d| d as isize).ok_or_else(|| format!("{op}: missing option dim"));
    let e = |r: torchlet::Result<Tensor>| r.map_err(|e| e.to_string());
    match op {
        "sigmoid" => e(F::sigmoid(arg("input")?)),
        "relu" => e(F::relu(arg("input")?)),
        "exp" => e(arg("input")?.exp()),
        "log" => e(arg("input")?.log()),
        "softmax" => e(F::softmax(arg("input")?, dim()?)),
        "log_softmax" => e(F::log_softmax(arg("input")?, dim()?)),
        "matmul" => e(arg("input")?.matmul(arg("other")?)),
        "linear" => e(F::linear(arg("input")?, arg("weight")?, args.get("bias"))),
        "cross_entropy" => {
            let mut c = F::CrossEntropyOpts::default().reduction(reduction()?);
            if let Some(w) = opt("weight") {
                c = c.weight(w);
            }
            if let Some(i) = o["ignore_index"].as_i64() {
                c = c.ignore_index(i);
            }
            if let Some(ls) = o["label_smoothing"].as_f64() {
                c = c.label_smoothing(ls);
            }
            e(F::cross_entropy_with(arg("input")?, arg("target")?, &c))
        }
        "nll_loss" => {
            let mut c = F::NllLossOpts::default().reduction(reduction()?);
            if let Some(w) = opt("weight") {
                c = c.weight(w);
            }
            if let Some(i) = o["ignore_index"].as_i64() {
                c = c.ignore_index(i);
            }
            e(F::nll_loss_with(arg("input")?, arg("target")?, &c))
        }
        "binary_cross_entropy" => {
            let mut c = F::BceOpts::default().reduction(reduction()?);
            if let Some(w) = opt("weight") {
                c = c.weight(w);
            }
            e(F::binary_cross_entropy_with(arg("input")?, arg("target")?, &c))
        }
        "binary_cross_entropy_with_logits" => {
            let mut c = F::BceWithLogitsOpts::default().reduction(reduction()?);
            if let Some(w) = opt("weight") {
                c = c.weight(w);
            }
            if let Some(w) = opt("pos_weight") {
                c = c.pos_weight(w);
            }
            e(F::binary_cross_entropy_with_logits_with(arg("input")?, arg("target")?, &c))
        }
        "kl_div" => {
            let c = F::KlDivOpts::default()
                .reduction(reduction()?)
                .log_target(o["log_target"].as_bool().unwrap_or(false));
            e(F::kl_div_with(arg("input")?, arg("target")?, &c))
        }
        "cosine_embedding_loss" => {
            let c = F::CosineEmbeddingOpts::default()
                .reduction(reduction()?)
                .margin(o["margin"].as_f64().unwrap_or(0.0));
            e(F::cosine_embedding_loss_with(arg("input1")?, arg("input2")?, arg("target")?, &c))
        }
        "mse_loss" => e(F::mse_loss_with(arg("input")?, arg("target")?, reduction()?)),
        "conv1d" | "conv2d" | "max_pool2d" | "avg_pool2d" => conv::call(op, args, o),
        op if indexing::handles(op) => indexing::call(op, args, o),
        "categorical_entropy" => e(Categorical::from_probs(arg("probs")?).and_then(|c| c.entropy())),
        other => match layers::call(other, args, o).or_else(|| math::call(other, args, o)) {
            Some(r) => r,
            None => Err(format!("op {other:?} is not supported by torchlet's parity runner")),
        },
    }
    .and_then(|t| if t.dtype() == DType::Bool { Err(format!("{op}: bool output")) } else { Ok(t) })
}
