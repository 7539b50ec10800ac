//! "Let's build GPT" beside the lecture: `gpt.py` of karpathy/ng-video-lecture on
//! data/shakespeare.txt at a size that trains on two CPU cores in minutes. The model
//! (`Head`, `MultiHeadAttention`, `Block`, `Gpt`) is in `crates/examples/src/gpt.rs`;
//! `tools/lectures/gpt.py` is the same run in PyTorch, printing the same lines.
//!
//! ```text
//! cargo run --release --example gpt                          # 5000 steps
//! cargo run --release --example gpt -- --steps 200 --save gpt.safetensors
//! cargo run --release --example gpt -- --steps 0 --load gpt.safetensors   # sample only
//! ```
//! `--load` also reads a checkpoint saved by the lecture's code (`tools/lectures/gpt.py
//! --save`): its `ffwd.net.` keys are mapped by `lecture_key`.

use std::time::Instant;
use torchlet::nn::optim::{AdamW, Optimizer};
use torchlet::nn::{safetensors, Module};
use torchlet::{manual_seed, Error, NoGradGuard, Result, Tensor};
use torchlet_examples::gpt::{lecture_key, CharData, Gpt, GptConfig};
use torchlet_examples::progress::StepBar;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let number = |flag: &str, default: usize| -> Result<usize> {
        value(flag).map_or(Ok(default), |s| {
            s.parse().map_err(|_| Error::invalid("gpt", format!("{flag} needs a number, got {s:?}")))
        })
    };
    let (max_iters, eval_interval, eval_iters) =
        (number("--steps", 5000)?, 500, number("--eval-iters", 200)?);
    let (batch_size, learning_rate) = (16, 1e-3);
    let config = GptConfig { vocab_size: 0, block_size: 32, n_embd: 64, n_head: 4, n_layer: 4, dropout: 0.1 };

    manual_seed(1337);
    let path = torchlet_examples::project_path("data/shakespeare.txt");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::invalid("gpt", format!("cannot read {}: {e}", path.display())))?;
    let data = CharData::new(&text);
    let model = Gpt::new(&GptConfig { vocab_size: data.chars.len(), ..config })?;
    if let Some(file) = value("--load") {
        let state: Vec<_> =
            safetensors::load_file(&file)?.into_iter().map(|(k, v)| (lecture_key(&k), v)).collect();
        model.load_state_dict(&state)?;
        println!("loaded {file}");
    }
    println!("{} M parameters", model.num_parameters() as f64 / 1e6);
    let mut optimizer = AdamW::new(model.parameters(), learning_rate)?;

    // the mean loss over `eval_iters` batches of each split, in eval mode without gradients
    let estimate_loss = |model: &Gpt| -> Result<[f64; 2]> {
        let _no_grad = NoGradGuard::new();
        model.eval();
        let mut out = [0.0; 2];
        for (split, train) in [true, false].into_iter().enumerate() {
            for _ in 0..eval_iters {
                let (x, y) = data.get_batch(train, batch_size, config.block_size)?;
                out[split] += model.forward_loss(&x, Some(&y))?.1.map_or(Ok(f64::NAN), |l| l.item())?;
            }
            out[split] /= eval_iters as f64;
        }
        model.train();
        Ok(out)
    };

    let (bar, t0) = (StepBar::new(max_iters), Instant::now());
    for iter in 0..max_iters {
        if iter % eval_interval == 0 || iter == max_iters - 1 {
            let [train, val] = estimate_loss(&model)?;
            bar.println(&format!("step {iter}: train loss {train:.4}, val loss {val:.4}"));
        }
        let (xb, yb) = data.get_batch(true, batch_size, config.block_size)?;
        let loss = model.forward_loss(&xb, Some(&yb))?.1.ok_or_else(|| Error::invalid("gpt", "no loss"))?;
        let l = loss.item()?;
        if iter < 20 {
            bar.println(&format!("step {iter}: loss {l:.6}"));
        }
        optimizer.zero_grad();
        loss.backward()?;
        optimizer.step()?;
        bar.tick(l);
    }
    bar.finish();
    println!("trained in {:.1} s", t0.elapsed().as_secs_f64());

    // the lecture samples in training mode (dropout on), as it left the model after training
    let context = Tensor::zeros_dtype([1, 1], torchlet::DType::I64)?;
    println!("{}", data.decode(&model.generate(&context, 300)?.to_vec::<i64>()?));
    if let Some(file) = value("--save") {
        safetensors::save_safetensors(&model, &file)?;
        println!("wrote {file}");
    }
    Ok(())
}
