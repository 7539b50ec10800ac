//! `train_model` parity cases: whole training runs of the curriculum's models (makemore's
//! MLP with and without BatchNorm, a CNN on 8x8 digits, the lecture's GPT), each started from
//! PyTorch's `state_dict` and compared step by step and on the final `state_dict`.
//!
//! Each step is PyTorch's loop in training mode: `zero_grad(set_to_none=True)`, forward, loss,
//! backward, optimizer step; then `eval()` and the loss on `batches[0]` without gradients.

use super::train::{build_optimizer, field, str_field};
use super::{compare, parse_tensor};
use crate::gpt::{Gpt, GptConfig};
use serde_json::Value;
use torchlet::nn::functional as F;
use torchlet::nn::{
    children, BatchNorm1d, Conv2d, Embedding, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential,
};
use torchlet::{DType, NoGradGuard, Tensor, TensorData};

/// makemore part 2/3's MLP: `C` embeds the `block_size` previous characters, `l1` (without
/// bias when followed by `bn`), optional `bn`, `tanh`, `l2` to the next character's logits.
#[allow(non_snake_case)]
struct MakemoreMlp {
    C: Embedding,
    l1: Linear,
    bn: Option<BatchNorm1d>,
    l2: Linear,
}

impl Module for MakemoreMlp {
    fn forward(&self, x: &Tensor) -> torchlet::Result<Tensor> {
        let emb = self.C.forward(x)?; // (B, block_size, n_embd)
        let h = self.l1.forward(&emb.view([emb.size(0)? as isize, -1])?)?;
        let h = match &self.bn {
            Some(bn) => bn.forward(&h)?,
            None => h,
        };
        self.l2.forward(&h.tanh()?)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut c = children![self.C, self.l1];
        if let Some(bn) = &self.bn {
            c.push(("bn".into(), bn));
        }
        c.extend(children![self.l2]);
        c
    }
}

/// The case's architecture with arbitrary weights (the case's `init` replaces them).
enum Model {
    /// Classifier of `X[rows]` against `Y[rows]`.
    Classifier(Box<dyn Module>),
    /// Next-character model of `text` windows.
    Gpt(Gpt),
}

impl Model {
    fn module(&self) -> &dyn Module {
        match self {
            Model::Classifier(m) => m.as_ref(),
            Model::Gpt(m) => m,
        }
    }
}

fn usize_of(config: &Value, key: &str) -> Result<usize, String> {
    field(config, key)?.as_u64().map(|v| v as usize).ok_or_else(|| format!("config.{key} is not an integer"))
}

fn build(options: &Value) -> Result<Model, String> {
    let c = field(options, "config")?;
    let e = |e: torchlet::Error| e.to_string();
    Ok(match str_field(options, "model")? {
        "makemore_mlp" => {
            let (vocab, block, n_embd, hidden) = (
                usize_of(c, "vocab")?,
                usize_of(c, "block_size")?,
                usize_of(c, "n_embd")?,
                usize_of(c, "n_hidden")?,
            );
            let batchnorm = field(c, "batchnorm")?.as_bool().ok_or("config.batchnorm is not a boolean")?;
            let l1 = if batchnorm {
                Linear::without_bias(block * n_embd, hidden)
            } else {
                Linear::new(block * n_embd, hidden)
            };
            Model::Classifier(Box::new(MakemoreMlp {
                C: Embedding::new(vocab, n_embd).map_err(e)?,
                l1: l1.map_err(e)?,
                bn: if batchnorm { Some(BatchNorm1d::new_1d(hidden).map_err(e)?) } else { None },
                l2: Linear::new(hidden, vocab).map_err(e)?,
            }))
        }
        "cnn_digits" => {
            // (N, 1, 8, 8) -> conv k -> (8 - k + 1)^2 -> pooled -> flattened -> classes
            let (ch, k, pool) = (usize_of(c, "channels")?, usize_of(c, "kernel_size")?, usize_of(c, "pool")?);
            let side = (8 - k + 1) / pool;
            Model::Classifier(Box::new(
                Sequential::new()
                    .add(Conv2d::new(1, ch, k).map_err(e)?)
                    .add(ReLU)
                    .add(MaxPool2d::new(pool))
                    .add(Flatten::new())
                    .add(Linear::new(ch * side * side, usize_of(c, "classes")?).map_err(e)?),
            ))
        }
        "gpt" => Model::Gpt(
            Gpt::new(&GptConfig {
                vocab_size: usize_of(c, "vocab")?,
                block_size: usize_of(c, "block_size")?,
                n_embd: usize_of(c, "n_embd")?,
                n_head: usize_of(c, "n_head")?,
                n_layer: usize_of(c, "n_layer")?,
                dropout: 0.0,
            })
            .map_err(e)?,
        ),
        other => Err(format!("unknown model {other:?}"))?,
    })
}

/// Runs one `train_model` case; `Err` describes the first difference.
pub(crate) fn run_train_model(case: &Value) -> Result<(), String> {
    let options = field(case, "options")?;
    let dtype: DType = str_field(case, "dtype")?.parse().map_err(|e: torchlet::Error| e.to_string())?;
    let model = build(options)?;
    let m = model.module();
    m.to_dtype(dtype).map_err(|e| e.to_string())?;
    let init = named_tensors(field(case, "init")?)?;
    m.load_state_dict(&init).map_err(|e| e.to_string())?;

    let args = field(case, "args")?;
    let arg = |k: &str| parse_tensor(field(args, k)?).map(Tensor::from_data);
    let batch = |rows: &Value| -> Result<(Tensor, Tensor), String> {
        let rows: Vec<i64> =
            rows.as_array().ok_or("a batch is not a list")?.iter().filter_map(Value::as_i64).collect();
        let e = |e: torchlet::Error| e.to_string();
        match &model {
            Model::Classifier(_) => {
                let idx = Tensor::from(rows);
                Ok((arg("X")?.index_select(0, &idx).map_err(e)?, arg("Y")?.index_select(0, &idx).map_err(e)?))
            }
            Model::Gpt(g) => {
                let (text, t) = (arg("text")?, g.config.block_size);
                let window = |shift: usize| -> torchlet::Result<Tensor> {
                    let rows: Vec<Tensor> = rows
                        .iter()
                        .map(|&i| text.narrow(0, i as usize + shift, t))
                        .collect::<torchlet::Result<_>>()?;
                    Tensor::stack(&rows.iter().collect::<Vec<_>>(), 0)
                };
                Ok((window(0).map_err(e)?, window(1).map_err(e)?))
            }
        }
    };
    let loss_of = |x: &Tensor, y: &Tensor| -> torchlet::Result<Tensor> {
        match &model {
            Model::Classifier(m) => F::cross_entropy(&m.forward(x)?, y),
            Model::Gpt(g) => Ok(g.forward_loss(x, Some(y))?.1.expect("targets given")),
        }
    };

    let batches = field(options, "batches")?.as_array().ok_or("options.batches is not a list")?;
    let mut opt = build_optimizer(field(options, "optimizer")?, m.parameters())?;
    m.train();
    let mut losses = Vec::with_capacity(batches.len());
    for (step, rows) in batches.iter().enumerate() {
        let err = |e: torchlet::Error| format!("step {step}: {e}");
        let (x, y) = batch(rows)?;
        opt.zero_grad();
        let loss = loss_of(&x, &y).map_err(err)?;
        losses.push(loss.item().map_err(err)?);
        loss.backward().map_err(err)?;
        opt.step().map_err(err)?;
    }
    m.eval();
    let eval_loss = {
        let _g = NoGradGuard::new();
        let (x, y) = batch(batches.first().ok_or("no batches")?)?;
        loss_of(&x, &y).and_then(|l| l.item()).map_err(|e| format!("eval: {e}"))?
    };

    let (rtol, atol) = (case["rtol"].as_f64().unwrap_or(1e-5), case["atol"].as_f64().unwrap_or(1e-6));
    let expected = field(case, "expected")?;
    let want_losses = parse_tensor(field(expected, "losses")?)?;
    let got_losses =
        TensorData::from_vec(losses, [batches.len()]).map_err(|e| e.to_string())?.to_dtype(dtype);
    compare("losses (per step)", &got_losses, &want_losses, rtol, atol)?;
    let want_eval = field(expected, "eval_loss")?.as_f64().ok_or("expected.eval_loss is not a number")?;
    let eval = TensorData::from_vec(vec![eval_loss], [1]).map_err(|e| e.to_string())?;
    let want = TensorData::from_vec(vec![want_eval], [1]).map_err(|e| e.to_string())?;
    compare("eval_loss", &eval, &want, rtol, atol)?;

    let want_state = named_tensors(field(expected, "state_dict")?)?;
    let got_state = m.state_dict();
    let names = |s: &[(String, TensorData)]| s.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(&got_state) != names(&want_state) {
        return Err(format!("state_dict keys {:?}, PyTorch has {:?}", names(&got_state), names(&want_state)));
    }
    for ((name, got), (_, want)) in got_state.iter().zip(&want_state) {
        compare(&format!("state_dict[{name}]"), got, want, rtol, atol)?;
    }
    Ok(())
}

/// A JSON object of TENSORs, in the file's order (PyTorch's `state_dict` order).
fn named_tensors(v: &Value) -> Result<Vec<(String, TensorData)>, String> {
    let obj = v.as_object().ok_or("a state_dict is not an object")?;
    obj.iter().map(|(k, t)| Ok((k.clone(), parse_tensor(t).map_err(|e| format!("{k}: {e}"))?))).collect()
}
