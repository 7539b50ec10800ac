//! micrograd's demo notebook beside the lecture: a 2-16-16-1 ReLU network learns the two
//! moons with an SVM max-margin loss plus L2, trained by hand-written gradient descent
//! (`p -= lr * p.grad` under `no_grad`). The weights are micrograd's own
//! (`random.uniform(-1, 1)` after `random.seed(1337)`), so the losses are the notebook's:
//! `step 0 loss 0.8958441028683222, accuracy 50.0%`. The code is in
//! `crates/examples/src/micrograd.rs`; `tools/lectures/micrograd.py` is the same in PyTorch.
//!
//! ```text
//! cargo run --release --example micrograd                       # 100 steps
//! cargo run --release --example micrograd -- --steps 20 --plot moons.png
//! ```

use std::time::Instant;
use torchlet::nn::Module;
use torchlet::Result;
use torchlet_examples::micrograd::{decision_grid, load_moons, mlp, moons_default_path, step};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let steps: usize = match value("--steps") {
        Some(s) => s.parse().map_err(|_| {
            torchlet::Error::invalid("micrograd", format!("--steps needs a number, got {s:?}"))
        })?,
        None => 100,
    };

    let data = load_moons(&moons_default_path())?;
    // model = MLP(2, [16, 16, 1]) # 2-layer neural network
    let model = mlp(1337)?;
    println!("{model}");
    println!("number of parameters {}", model.num_parameters());

    let t0 = Instant::now();
    for k in 0..steps {
        let (loss, acc) = step(&model, &data, k)?;
        println!("step {k} loss {loss}, accuracy {:?}%", acc * 100.0);
    }
    println!("trained in {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);

    if let Some(path) = value("--plot") {
        let grid = decision_grid(&model, &data, 0.25)?;
        let pts: Vec<(f64, f64)> = data.x.to_vec::<f64>()?.chunks(2).map(|p| (p[0], p[1])).collect();
        let title = format!("decision boundary after {steps} steps");
        torchlet_examples::plot::decision_boundary(&path, &title, &grid, &pts, &data.y.to_vec::<f64>()?)?;
        println!("wrote {path}");
    }
    Ok(())
}
