//! makemore part 2 beside the lecture (`makemore_part2_mlp.ipynb`): block size 3, 10-d
//! embeddings, 200 tanh units, minibatches of 32, the learning-rate sweep
//! `10**linspace(-3, 0, 1000)`, the train/dev/test split of `random.shuffle` after
//! `random.seed(42)`, train and dev loss, 20 sampled names. The program is
//! `crates/examples/src/makemore_mlp.rs`; `tools/lectures/makemore_mlp.py` prints the same
//! lines in PyTorch.
//!
//! ```text
//! cargo run --release --example makemore_mlp                  # 200,000 steps, as the lecture
//! cargo run --release --example makemore_mlp -- --steps 20000
//! ```

use torchlet::{Error, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = match args.iter().position(|a| a == "--steps").and_then(|i| args.get(i + 1)) {
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid("makemore_mlp", format!("--steps needs a number, got {s:?}")))?,
        None => 200_000,
    };
    torchlet_examples::makemore_mlp::run(steps, |line| println!("{line}"))
}
