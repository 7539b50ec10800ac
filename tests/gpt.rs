//! The lecture's GPT (`crates/examples/src/gpt.rs`) against PyTorch 2.9.1 running the
//! lecture's own code (`tools/lectures/gpt.py`, n_embd 64, 4 heads, 4 layers, block 32,
//! batch 16, dropout 0.1, AdamW 1e-3, `torch.manual_seed(1337)`).

use torchlet::nn::optim::{AdamW, Optimizer};
use torchlet::nn::{safetensors, Module};
use torchlet::{manual_seed, NoGradGuard, Result, Tensor};
use torchlet_examples::gpt::{lecture_key, CharData, Gpt, GptConfig};

const BATCH: usize = 16;

/// Both tests draw from the global generator (`Gpt::new` initialises from it): one at a time.
static GLOBAL_GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn data() -> CharData {
    let text = std::fs::read_to_string(torchlet_examples::project_path("data/shakespeare.txt"))
        .expect("data/shakespeare.txt");
    CharData::new(&text)
}

fn config(data: &CharData) -> GptConfig {
    GptConfig {
        vocab_size: data.chars.len(),
        block_size: 32,
        n_embd: 64,
        n_head: 4,
        n_layer: 4,
        dropout: 0.1,
    }
}

/// The lecture's `estimate_loss` (eval mode, no gradients; it draws `2 * iters` batches).
fn estimate_loss(model: &Gpt, data: &CharData, iters: usize) -> Result<[f64; 2]> {
    let _no_grad = NoGradGuard::new();
    model.eval();
    let mut out = [0.0; 2];
    for (split, train) in [true, false].into_iter().enumerate() {
        for _ in 0..iters {
            let (x, y) = data.get_batch(train, BATCH, 32)?;
            out[split] += model.forward_loss(&x, Some(&y))?.1.expect("targets").item()? / iters as f64;
        }
    }
    model.train();
    Ok(out)
}

#[test]
fn first_twenty_steps_are_pytorchs() -> Result<()> {
    // `python tools/lectures/gpt.py --steps 20 --eval-iters 2` printed:
    let torch_losses = [
        4.364622, 4.174199, 4.035911, 4.054836, 3.954566, 3.943916, 3.861800, 3.848849, 3.784906, 3.819100,
        3.670855, 3.687704, 3.625723, 3.628074, 3.515947, 3.544350, 3.629966, 3.452045, 3.548027, 3.465947,
    ];
    let torch_evals = [[4.3814, 4.3674], [3.4273, 3.4505]]; // step 0 and step 19 (train, val)
    let _one_at_a_time = GLOBAL_GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let data = data();
    manual_seed(1337);
    let model = Gpt::new(&config(&data))?;
    assert_eq!(model.num_parameters(), 211_277); // "0.211277 M parameters"
    let mut opt = AdamW::new(model.parameters(), 1e-3)?;
    for (step, want) in torch_losses.iter().enumerate() {
        if step == 0 || step == 19 {
            let got = estimate_loss(&model, &data, 2)?;
            let want = torch_evals[(step == 19) as usize];
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 6e-5, "step {step}: estimate_loss {got:?}, PyTorch {want:?}");
            }
        }
        let (x, y) = data.get_batch(true, BATCH, 32)?;
        let loss = model.forward_loss(&x, Some(&y))?.1.expect("targets");
        let got = loss.item()?;
        assert!((got - want).abs() <= 1e-4 * want, "step {step}: loss {got}, PyTorch {want}");
        opt.zero_grad();
        loss.backward()?;
        opt.step()?;
    }
    Ok(())
}

/// The first `BATCH` windows of the validation text and their shifted targets.
fn first_val_windows(data: &CharData) -> (Tensor, Tensor) {
    let rows = |s: usize| Tensor::from(data.val[s..s + BATCH * 32].to_vec()).view([BATCH, 32]).expect("view");
    (rows(0), rows(1))
}

#[test]
fn loads_a_checkpoint_saved_by_the_lectures_code() -> Result<()> {
    // `python tools/lectures/gpt.py --steps 20 --eval-iters 2 --save
    // tests/data/gpt_lecture_20_steps.safetensors` printed "saved model's loss on the first
    // 16 val windows: 3.3763630" (windows val[32 i .. 32 i + 32], eval mode).
    let _one_at_a_time = GLOBAL_GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let data = data();
    let model = Gpt::new(&config(&data))?;
    let path = torchlet_examples::project_path("tests/data/gpt_lecture_20_steps.safetensors");
    let state = safetensors::load_file(&path)?;

    // The lecture's keys (`blocks.0.ffwd.net.0.weight`) do not load as they are ...
    let err = model.load_state_dict(&state).expect_err("ffwd.net keys are not torchlet's").to_string();
    assert!(err.contains("ffwd.net.0.weight"), "{err}");
    // ... and do after `lecture_key` (every key, buffers included).
    let state: Vec<_> = state.into_iter().map(|(k, v)| (lecture_key(&k), v)).collect();
    assert_eq!(state.len(), model.state_dict().len());
    model.load_state_dict(&state)?;

    model.eval();
    let (x, y) = first_val_windows(&data);
    let loss = {
        let _g = NoGradGuard::new();
        model.forward_loss(&x, Some(&y))?.1.expect("targets").item()?
    };
    assert!((loss - 3.376_363).abs() < 2e-5, "loss {loss}, PyTorch 3.3763630");
    Ok(())
}
