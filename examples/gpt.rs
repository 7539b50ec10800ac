//! "Let's build GPT": the lecture's `gpt.py` on data/shakespeare.txt, sized for two CPU cores
//! (model: `crates/examples/src/gpt.rs`; PyTorch twin: `tools/lectures/gpt.py`). Flags:
//! `--steps N` (5000), `--eval-iters N` (200), `--save FILE`, `--load FILE` (safetensors;
//! the lecture's own checkpoints load too).

use std::time::Instant;
use torchlet::nn::optim::{AdamW, Optimizer};
use torchlet::nn::{safetensors, Module};
use torchlet::{manual_seed, DType, Error, NoGradGuard, Result, Tensor};
use torchlet_examples::gpt::{lecture_key, CharData, Gpt, GptConfig};
use torchlet_examples::progress::StepBar;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let number = |name: &str, default: usize| {
        flag(name).map_or(Ok(default), |s| {
            s.parse().map_err(|_| Error::invalid("gpt", format!("{name} needs a number, got {s:?}")))
        })
    };
    let (max_iters, eval_interval, eval_iters) =
        (number("--steps", 5000)?, 500, number("--eval-iters", 200)?);
    let (batch_size, block_size, learning_rate) = (16, 32, 1e-3);

    manual_seed(1337);
    let path = torchlet_examples::project_path("data/shakespeare.txt");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::invalid("gpt", format!("{}: {e}", path.display())))?;
    let data = CharData::new(&text);
    let (n_embd, n_head, n_layer, dropout) = (64, 4, 4, 0.1);
    let config = GptConfig { vocab_size: data.chars.len(), block_size, n_embd, n_head, n_layer, dropout };
    let model = Gpt::new(&config)?;
    if let Some(file) = flag("--load") {
        let state = safetensors::load_file(&file)?.into_iter().map(|(k, v)| (lecture_key(&k), v));
        model.load_state_dict(&state.collect::<Vec<_>>())?;
    }
    println!("{} M parameters", model.num_parameters() as f64 / 1e6);
    let mut optimizer = AdamW::new(model.parameters(), learning_rate)?;

    // the mean loss of `eval_iters` batches of each split, in eval mode
    let estimate_loss = || -> Result<[f64; 2]> {
        let (_no_grad, mut out) = (NoGradGuard::new(), [0.0; 2]);
        model.eval();
        for (split, train) in [(0, true), (1, false)] {
            for _ in 0..eval_iters {
                let (x, y) = data.get_batch(train, batch_size, block_size)?;
                out[split] += model.forward_loss(&x, Some(&y))?.1.map_or(Ok(f64::NAN), |l| l.item())?
                    / eval_iters as f64;
            }
        }
        model.train();
        Ok(out)
    };

    let (bar, t0) = (StepBar::new(max_iters), Instant::now());
    for iter in 0..max_iters {
        if iter % eval_interval == 0 || iter == max_iters - 1 {
            let [train, val] = estimate_loss()?;
            bar.println(&format!("step {iter}: train loss {train:.4}, val loss {val:.4}"));
        }
        let (xb, yb) = data.get_batch(true, batch_size, block_size)?;
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

    // like the lecture, sample in training mode (dropout on)
    let context = Tensor::zeros_dtype([1, 1], DType::I64)?;
    println!("{}", data.decode(&model.generate(&context, 300)?.to_vec::<i64>()?));
    if let Some(file) = flag("--save") {
        safetensors::save_safetensors(&model, &file)?;
        println!("wrote {file}");
    }
    Ok(())
}
