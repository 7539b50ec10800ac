//! `clip_grad_norm` and `lr_scheduler` parity cases (the curriculum file, see
//! `docs/parity.md`), run through the public API as a user writes it.

use super::{compare, parse_tensor};
use serde_json::{Map, Value};
use torchlet::nn::clip_grad_norm_;
use torchlet::optim::{
    AdamOptions, AdamW, CosineAnnealingLR, ExponentialLR, LinearLR, LrScheduler, MultiStepLR, OneCycleLR,
    OneCycleOptions, Optimizer, StepLR, SGD,
};
use torchlet::{DType, Tensor, TensorData};

/// `clip_grad_norm`: parameters whose gradients are `grad0..gradK`,
/// `clip_grad_norm_(params, max_norm, norm_type)`; the returned total norm and every clipped
/// gradient must match.
pub(crate) fn run_clip_grad_norm(case: &Value) -> Result<(), String> {
    let args = case["args"].as_object().ok_or("case without args")?;
    let mut params = vec![];
    for k in 0.. {
        let Some(g) = args.get(&format!("grad{k}")) else { break };
        let g = parse_tensor(g).map_err(|e| format!("grad{k}: {e}"))?;
        let p = Tensor::from_data(TensorData::zeros(g.shape().clone(), g.dtype()))
            .requires_grad_(true)
            .map_err(|e| e.to_string())?;
        p.set_grad(Some(g)).map_err(|e| e.to_string())?;
        params.push(p);
    }
    let o = &case["options"];
    let max_norm = o["max_norm"].as_f64().ok_or("options.max_norm is not a number")?;
    let norm_type = match &o["norm_type"] {
        Value::String(s) if s == "inf" => f64::INFINITY,
        v => v.as_f64().ok_or("options.norm_type is not a number or \"inf\"")?,
    };
    let (rtol, atol) = (case["rtol"].as_f64().unwrap_or(1e-5), case["atol"].as_f64().unwrap_or(1e-6));
    let expected = &case["expected"];
    let result = clip_grad_norm_(&params, max_norm, norm_type);
    if let Some(msg) = expected.get("error") {
        return match result {
            Err(_) => Ok(()),
            Ok(_) => Err(format!("returned Ok but PyTorch raises: {}", msg.as_str().unwrap_or(""))),
        };
    }
    let total = result.map_err(|e| format!("returned Err({e}) but PyTorch succeeds"))?;
    compare("total norm", &total.data(), &parse_tensor(&expected["output"])?, rtol, atol)?;
    for (k, p) in params.iter().enumerate() {
        let want = parse_tensor(&expected[format!("clipped{k}")])?;
        let got = p.grad_data().ok_or_else(|| format!("parameter {k} lost its gradient"))?;
        compare(&format!("clipped{k}"), &got, &want, rtol, atol)?;
    }
    Ok(())
}

/// `lr_scheduler`: one parameter, an `sgd` or `adamw` optimizer with `lr`, the scheduler
/// built with `kwargs`; then `steps` times: record the learning rate, `optimizer.step()`,
/// `scheduler.step()`. The recorded learning rates must match.
pub(crate) fn run_lr_scheduler(case: &Value) -> Result<(), String> {
    let o = &case["options"];
    let lr = o["lr"].as_f64().ok_or("options.lr is not a number")?;
    let steps = o["steps"].as_u64().ok_or("options.steps is not an integer")? as usize;
    let e = |e: torchlet::Error| e.to_string();
    // A parameter with a gradient, so that every optimizer step really updates.
    let p = Tensor::with_dtype(vec![1.0, -2.0], DType::F64).requires_grad_(true).map_err(e)?;
    let mut opt: Box<dyn Optimizer> = match o["optimizer"].as_str() {
        Some("sgd") => Box::new(SGD::new(vec![p.clone()], lr).map_err(e)?),
        Some("adamw") => Box::new(AdamW::new(vec![p.clone()], AdamOptions::new(lr)).map_err(e)?),
        other => return Err(format!("unsupported optimizer {other:?}")),
    };
    let empty = Map::new();
    let kw = o["kwargs"].as_object().unwrap_or(&empty);
    let mut sched = build_scheduler(o["scheduler"].as_str().unwrap_or(""), kw, &mut opt)?;
    let mut lrs = Vec::with_capacity(steps);
    for step in 0..steps {
        let at = |e: torchlet::Error| format!("step {step}: {e}");
        let current = opt.lr();
        if sched.get_last_lr() != [current] {
            return Err(format!(
                "step {step}: get_last_lr() {:?} but the optimizer's lr is {current}",
                sched.get_last_lr()
            ));
        }
        lrs.push(current);
        p.set_grad(Some(TensorData::from(vec![0.5f64, -0.25]))).map_err(at)?;
        opt.step().map_err(at)?;
        sched.step(&mut opt).map_err(at)?;
    }
    let (rtol, atol) = (case["rtol"].as_f64().unwrap_or(1e-12), case["atol"].as_f64().unwrap_or(1e-15));
    let got = TensorData::from(lrs);
    compare("learning rates", &got, &parse_tensor(&case["expected"]["output"])?, rtol, atol)
}

/// `torch.optim.lr_scheduler.<name>(optimizer, **kwargs)`, PyTorch's defaults for the
/// keyword arguments not given; an unknown keyword is an error.
fn build_scheduler(
    name: &str,
    kw: &Map<String, Value>,
    opt: &mut Box<dyn Optimizer>,
) -> Result<Box<dyn LrScheduler>, String> {
    let num = |k: &str, default: Option<f64>| -> Result<f64, String> {
        match kw.get(k) {
            Some(v) => v.as_f64().ok_or(format!("{name}: {k} is not a number")),
            None => default.ok_or(format!("{name}: missing argument {k}")),
        }
    };
    let int = |k: &str, default: Option<usize>| -> Result<usize, String> {
        match kw.get(k) {
            Some(v) => {
                v.as_u64().map(|x| x as usize).ok_or(format!("{name}: {k} is not a non-negative integer"))
            }
            None => default.ok_or(format!("{name}: missing argument {k}")),
        }
    };
    let known = |allowed: &[&str]| -> Result<(), String> {
        match kw.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!("{name}: unsupported argument {k:?}")),
            None => Ok(()),
        }
    };
    let e = |e: torchlet::Error| e.to_string();
    let sched: Box<dyn LrScheduler> = match name {
        "StepLR" => {
            known(&["step_size", "gamma"])?;
            Box::new(StepLR::new(opt, int("step_size", None)?, num("gamma", Some(0.1))?).map_err(e)?)
        }
        "MultiStepLR" => {
            known(&["milestones", "gamma"])?;
            let milestones = kw
                .get("milestones")
                .and_then(Value::as_array)
                .ok_or("MultiStepLR: milestones is not a list")?
                .iter()
                .map(|m| m.as_u64().map(|m| m as usize).ok_or("MultiStepLR: a milestone is not an integer"))
                .collect::<Result<Vec<_>, _>>()?;
            Box::new(MultiStepLR::new(opt, &milestones, num("gamma", Some(0.1))?).map_err(e)?)
        }
        "ExponentialLR" => {
            known(&["gamma"])?;
            Box::new(ExponentialLR::new(opt, num("gamma", None)?).map_err(e)?)
        }
        "CosineAnnealingLR" => {
            known(&["T_max", "eta_min"])?;
            Box::new(CosineAnnealingLR::new(opt, int("T_max", None)?, num("eta_min", Some(0.0))?).map_err(e)?)
        }
        "LinearLR" => {
            known(&["start_factor", "end_factor", "total_iters"])?;
            Box::new(
                LinearLR::new(
                    opt,
                    num("start_factor", Some(1.0 / 3.0))?,
                    num("end_factor", Some(1.0))?,
                    int("total_iters", Some(5))?,
                )
                .map_err(e)?,
            )
        }
        "OneCycleLR" => {
            known(&[
                "max_lr",
                "total_steps",
                "epochs",
                "steps_per_epoch",
                "pct_start",
                "anneal_strategy",
                "cycle_momentum",
                "base_momentum",
                "max_momentum",
                "div_factor",
                "final_div_factor",
                "three_phase",
            ])?;
            let max_lr = num("max_lr", None)?;
            let mut o = match kw.get("total_steps") {
                Some(_) => OneCycleOptions::new(max_lr, int("total_steps", None)?),
                None => {
                    OneCycleOptions::with_epochs(max_lr, int("epochs", None)?, int("steps_per_epoch", None)?)
                }
            };
            o = o
                .pct_start(num("pct_start", Some(0.3))?)
                .base_momentum(num("base_momentum", Some(0.85))?)
                .max_momentum(num("max_momentum", Some(0.95))?)
                .div_factor(num("div_factor", Some(25.0))?)
                .final_div_factor(num("final_div_factor", Some(1e4))?);
            if let Some(s) = kw.get("anneal_strategy") {
                o = o.anneal_strategy(
                    s.as_str().ok_or("anneal_strategy is not a string")?.parse().map_err(e)?,
                );
            }
            if let Some(b) = kw.get("cycle_momentum") {
                o = o.cycle_momentum(b.as_bool().ok_or("cycle_momentum is not a boolean")?);
            }
            if let Some(b) = kw.get("three_phase") {
                o = o.three_phase(b.as_bool().ok_or("three_phase is not a boolean")?);
            }
            Box::new(OneCycleLR::new(opt, o).map_err(e)?)
        }
        other => return Err(format!("scheduler {other:?} is not supported by torchlet's parity runner")),
    };
    Ok(sched)
}
