//! makemore part 5 beside the lecture (`makemore_part5_cnn1.ipynb`): block size 8, the
//! hierarchical "WaveNet" model (`Embedding`, then `FlattenConsecutive(2)`, `Linear`,
//! `BatchNorm1d` over 3-D input and `Tanh` three times, then `Linear`), written with the
//! lecture's layer classes (`crates/examples/src/lecture_layers.rs`), 76,579 parameters,
//! SGD on minibatches of 32; train and validation loss in eval mode, 20 sampled names.
//! The program is `crates/examples/src/makemore_wavenet.rs`;
//! `tools/lectures/makemore_wavenet.py` prints the same lines in PyTorch.
//!
//! ```text
//! cargo run --release --example makemore_wavenet                   # 200,000 steps
//! cargo run --release --example makemore_wavenet -- --steps 20000 --plot loss.png
//! ```
//!
//! `--plot PATH` draws the lecture's loss curve: log10 of the loss averaged over each 1,000
//! steps (`torch.tensor(lossi).view(-1, 1000).mean(1)`).

use torchlet::{Error, Result};
use torchlet_examples::plot::{self, Series};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let steps = match value("--steps") {
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid("makemore_wavenet", format!("--steps needs a number, got {s:?}")))?,
        None => 200_000,
    };
    let lossi = torchlet_examples::makemore_wavenet::run(steps, |line| println!("{line}"))?;
    if let Some(path) = value("--plot") {
        let points: Vec<(f64, f64)> = lossi
            .chunks_exact(1000)
            .enumerate()
            .map(|(k, c)| (k as f64, c.iter().sum::<f64>() / 1000.0))
            .collect();
        let series = [Series { name: "log10 loss, mean of 1000 steps", points: &points }];
        plot::lines(&path, "makemore part 5: training loss", "thousand steps", "log10 loss", &series, None)?;
        println!("wrote {path}");
    }
    Ok(())
}
