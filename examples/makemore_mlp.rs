//! makemore part 2 beside the lecture (`makemore_part2_mlp.ipynb`): block size 3, 10-d
//! embeddings, 200 tanh units, minibatches of 32, the learning-rate sweep
//! `10**linspace(-3, 0, 1000)`, the train/dev/test split of `random.shuffle` after
//! `random.seed(42)`, train and dev loss, 20 sampled names. The program is
//! `crates/examples/src/makemore_mlp.rs`; `tools/lectures/makemore_mlp.py` prints the same
//! lines in PyTorch.
//!
//! `--plot PATH` draws the learning-rate sweep as the lecture's `plt.plot(lri, lossi)`: the
//! minibatch loss of each of its 1000 steps against the exponent of the learning rate.
//!
//! ```text
//! cargo run --release --example makemore_mlp                  # 200,000 steps, as the lecture
//! cargo run --release --example makemore_mlp -- --steps 20000
//! cargo run --release --example makemore_mlp -- --steps 20000 --plot lr_sweep.png
//! ```

use torchlet::{Error, Result};
use torchlet_examples::plot::{self, Series};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let steps = match value("--steps") {
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid("makemore_mlp", format!("--steps needs a number, got {s:?}")))?,
        None => 200_000,
    };
    let sweep = torchlet_examples::makemore_mlp::run(steps, |line| println!("{line}"))?;
    if let Some(path) = value("--plot") {
        // plt.plot(lri, lossi)
        let title = "learning-rate sweep: minibatch loss at lr = 10**exponent";
        let series = [Series { name: "loss", points: &sweep }];
        plot::lines(path, title, "learning rate exponent", "loss", &series, None)?;
        println!("wrote {path}");
    }
    Ok(())
}
