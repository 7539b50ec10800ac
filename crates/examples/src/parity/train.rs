//! `train` parity cases: a whole training run compared step by step with PyTorch.
//!
//! A case gives the layers (with PyTorch's initial weights), the data, the loss and the
//! optimizer. Each step is exactly PyTorch's loop: zero the gradients, forward, loss,
//! backward, optimizer step. Every step's loss (taken before that step's update) and every
//! final parameter must match within the case's tolerance. Only the public API is used
//! (the paths a user writes as `torchlet::...`).

use super::{compare, parse_tensor};
use serde_json::Value;
use torchlet::nn::functional::Reduction;
use torchlet::nn::{
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Linear, MSELoss, Module, NLLLoss, ReLU, Sequential, Sigmoid,
};
use torchlet::optim::{Adam, AdamOptions, AdamW, Optimizer, SgdOptions, SGD};
use torchlet::{Tensor, TensorData};

type Loss = Box<dyn Fn(&Tensor, &Tensor) -> torchlet::Result<Tensor>>;

/// Runs one `train` case; `Err` describes what differed (and by how much).
pub(crate) fn run_train(case: &Value) -> Result<(), String> {
    let model = build_model(field(case, "model")?)?;
    let args = field(case, "args")?;
    let (x, y) = (json_tensor(field(args, "x")?)?, json_tensor(field(args, "y")?)?);
    let options = field(case, "options")?;
    let loss_fn = build_loss(str_field(options, "loss")?, options.get("loss_options"))?;
    let steps = field(options, "steps")?.as_u64().ok_or("options.steps is not an integer")? as usize;
    let mut opt = build_optimizer(field(options, "optimizer")?, model.parameters())?;
    let rtol = field(case, "rtol")?.as_f64().ok_or("rtol is not a number")?;
    let atol = field(case, "atol")?.as_f64().ok_or("atol is not a number")?;

    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let err = |e: torchlet::Error| format!("step {step}: {e}");
        opt.zero_grad();
        let out = model.forward(&x).map_err(err)?;
        let loss = loss_fn(&out, &y).map_err(err)?;
        losses.push(loss.item().map_err(err)?);
        loss.backward().map_err(err)?;
        opt.step().map_err(err)?;
    }

    let expected = field(case, "expected")?;
    let want_losses = parse_tensor(field(expected, "losses")?)?;
    // The losses were computed in the case's dtype, so the f64 round trip is exact.
    let got_losses =
        TensorData::from_vec(losses, [steps]).map_err(|e| e.to_string())?.to_dtype(want_losses.dtype());
    compare("losses (per step)", &got_losses, &want_losses, rtol, atol)?;
    let want_params = field(expected, "params")?.as_array().ok_or("expected.params is not a list")?;
    let got_params = model.named_parameters();
    if got_params.len() != want_params.len() {
        return Err(format!("{} parameters, PyTorch has {}", got_params.len(), want_params.len()));
    }
    for ((name, got), want) in got_params.iter().zip(want_params) {
        compare(&format!("param {name} after step {steps}"), &got.data(), &parse_tensor(want)?, rtol, atol)?;
    }
    Ok(())
}

/// `Sequential` of the case's layers, the Linear weights taken as given (PyTorch layout).
fn build_model(layers: &Value) -> Result<Sequential, String> {
    let mut model = Sequential::new();
    for layer in layers.as_array().ok_or("model is not a list")? {
        match str_field(layer, "type")? {
            "linear" => {
                let w = json_tensor(field(layer, "weight")?)?;
                let b = layer.get("bias").filter(|b| !b.is_null()).map(json_tensor).transpose()?;
                model.push(Linear::from_weights(w, b).map_err(|e| e.to_string())?);
            }
            "sigmoid" => model.push(Sigmoid),
            "relu" => model.push(ReLU),
            other => return Err(format!("unsupported layer type {other:?}")),
        }
    }
    Ok(model)
}

/// The loss by PyTorch's functional name; `nll_loss` is applied to `log_softmax(output, -1)`.
fn build_loss(name: &str, options: Option<&Value>) -> Result<Loss, String> {
    let empty = serde_json::Map::new();
    let options = match options {
        None | Some(Value::Null) => &empty,
        Some(v) => v.as_object().ok_or("options.loss_options is not an object")?,
    };
    let mut reduction = Reduction::Mean;
    let (mut label_smoothing, mut ignore_index) = (0.0, -100);
    for (key, v) in options {
        match key.as_str() {
            "reduction" => {
                reduction =
                    v.as_str().ok_or("reduction is not a string")?.parse().map_err(|e| format!("{e}"))?
            }
            "label_smoothing" => label_smoothing = v.as_f64().ok_or("label_smoothing is not a number")?,
            "ignore_index" => ignore_index = v.as_i64().ok_or("ignore_index is not an integer")?,
            other => return Err(format!("unsupported loss option {other:?}")),
        }
    }
    let only_reduction = |what: &str| -> Result<(), String> {
        if label_smoothing != 0.0 || ignore_index != -100 {
            return Err(format!("{what} takes no label_smoothing/ignore_index"));
        }
        Ok(())
    };
    Ok(match name {
        "cross_entropy" => {
            let l = CrossEntropyLoss::new()
                .reduction(reduction)
                .label_smoothing(label_smoothing)
                .ignore_index(ignore_index);
            Box::new(move |out, y| l.forward(out, y))
        }
        "nll_loss" => {
            if label_smoothing != 0.0 {
                return Err("nll_loss takes no label_smoothing".into());
            }
            let l = NLLLoss::new().reduction(reduction).ignore_index(ignore_index);
            Box::new(move |out, y| l.forward(&out.log_softmax(-1)?, y))
        }
        "mse_loss" => {
            only_reduction(name)?;
            let l = MSELoss::new().reduction(reduction);
            Box::new(move |out, y| l.forward(out, y))
        }
        "binary_cross_entropy" => {
            only_reduction(name)?;
            let l = BCELoss::new().reduction(reduction);
            Box::new(move |out, y| l.forward(out, y))
        }
        "binary_cross_entropy_with_logits" => {
            only_reduction(name)?;
            let l = BCEWithLogitsLoss::new().reduction(reduction);
            Box::new(move |out, y| l.forward(out, y))
        }
        other => return Err(format!("unsupported loss {other:?}")),
    })
}

/// `{"name": "sgd"|"adam"|"adamw", ...PyTorch keyword arguments}`; unknown keys are errors,
/// so an option is never silently ignored.
pub(super) fn build_optimizer(spec: &Value, params: Vec<Tensor>) -> Result<Box<dyn Optimizer>, String> {
    let spec = spec.as_object().ok_or("options.optimizer is not an object")?;
    let num = |v: &Value, k: &str| v.as_f64().ok_or(format!("optimizer option {k} is not a number"));
    let flag = |v: &Value, k: &str| v.as_bool().ok_or(format!("optimizer option {k} is not a boolean"));
    let name = spec.get("name").and_then(Value::as_str).ok_or("optimizer has no name")?;
    let opt: torchlet::Result<Box<dyn Optimizer>> = match name {
        "sgd" => {
            let mut o = SgdOptions::default();
            for (k, v) in spec {
                match k.as_str() {
                    "name" => {}
                    "lr" => o.lr = num(v, k)?,
                    "momentum" => o.momentum = num(v, k)?,
                    "dampening" => o.dampening = num(v, k)?,
                    "weight_decay" => o.weight_decay = num(v, k)?,
                    "nesterov" => o.nesterov = flag(v, k)?,
                    "maximize" => o.maximize = flag(v, k)?,
                    other => return Err(format!("unsupported SGD option {other:?}")),
                }
            }
            SGD::new(params, o).map(|o| Box::new(o) as Box<dyn Optimizer>)
        }
        "adam" | "adamw" => {
            let mut o = AdamOptions::default();
            for (k, v) in spec {
                match k.as_str() {
                    "name" => {}
                    "lr" => o.lr = num(v, k)?,
                    "betas" => {
                        let b = v.as_array().filter(|b| b.len() == 2).ok_or("betas is not a pair")?;
                        o.betas = (num(&b[0], k)?, num(&b[1], k)?);
                    }
                    "eps" => o.eps = num(v, k)?,
                    "weight_decay" => o.weight_decay = Some(num(v, k)?),
                    "amsgrad" => o.amsgrad = flag(v, k)?,
                    "maximize" => o.maximize = flag(v, k)?,
                    other => return Err(format!("unsupported Adam option {other:?}")),
                }
            }
            if name == "adam" {
                Adam::new(params, o).map(|o| Box::new(o) as Box<dyn Optimizer>)
            } else {
                AdamW::new(params, o).map(|o| Box::new(o) as Box<dyn Optimizer>)
            }
        }
        other => return Err(format!("unsupported optimizer {other:?}")),
    };
    opt.map_err(|e| e.to_string())
}

pub(super) fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("missing field {key:?}"))
}

pub(super) fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    field(v, key)?.as_str().ok_or_else(|| format!("field {key:?} is not a string"))
}

/// A TENSOR `{"dtype", "shape", "data"}` as a leaf [`Tensor`].
fn json_tensor(t: &Value) -> Result<Tensor, String> {
    parse_tensor(t).map(Tensor::from_data)
}
