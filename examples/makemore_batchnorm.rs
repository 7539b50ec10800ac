//! makemore part 3 beside the lecture (`makemore_part3_bn.ipynb`): the deep network
//! `Linear-BatchNorm1d-Tanh` x 5 + `Linear-BatchNorm1d`, written with the lecture's own
//! layer classes (`crates/examples/src/lecture_layers.rs`), trained with SGD on minibatches
//! of 32; after step 1000 the lecture's diagnostics (activation mean/std/saturation per tanh
//! layer, the activations' gradients, each weight's gradient:data ratio), then train and
//! validation loss in eval mode (running statistics) and 20 sampled names. The program is
//! `crates/examples/src/makemore_batchnorm.rs`; `tools/lectures/makemore_batchnorm.py`
//! prints the same lines in PyTorch.
//!
//! ```text
//! cargo run --release --example makemore_batchnorm                   # 200,000 steps
//! cargo run --release --example makemore_batchnorm -- --steps 20000
//! cargo run --release --example makemore_batchnorm -- --steps 1001 --plot bn
//! ```
//!
//! `--plot PREFIX` writes the lecture's four figures: `PREFIX-activations.png`,
//! `PREFIX-gradients.png`, `PREFIX-weight-gradients.png` (histograms at the diagnostic step)
//! and `PREFIX-update-ratio.png` (log10 update:data ratio of each weight per step, with the
//! lecture's 1e-3 guide line).

use torchlet::{Error, Result};
use torchlet_examples::plot::{self, Series};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let steps = match value("--steps") {
        Some(s) => s.parse().map_err(|_| {
            Error::invalid("makemore_batchnorm", format!("--steps needs a number, got {s:?}"))
        })?,
        None => 200_000,
    };
    let d = torchlet_examples::makemore_batchnorm::run(steps, |line| println!("{line}"))?;
    if let Some(prefix) = value("--plot") {
        let charts = [
            ("activations", "activation distribution", &d.activations),
            ("gradients", "gradient distribution", &d.gradients),
            ("weight-gradients", "weights gradient distribution", &d.weight_gradients),
        ];
        for (file, title, curves) in charts {
            let series: Vec<Series> = curves.iter().map(|(name, points)| Series { name, points }).collect();
            plot::lines(format!("{prefix}-{file}.png"), title, "value", "density", &series, None)?;
        }
        let names: Vec<String> = d.weights.iter().map(|i| format!("param {i}")).collect();
        let ratios: Vec<Vec<(f64, f64)>> = d
            .weights
            .iter()
            .map(|&i| d.ud.iter().enumerate().map(|(step, ud)| (step as f64, ud[i])).collect())
            .collect();
        let series: Vec<Series> =
            names.iter().zip(&ratios).map(|(name, points)| Series { name, points }).collect();
        plot::lines(
            format!("{prefix}-update-ratio.png"),
            "update:data ratio (log10)",
            "step",
            "log10 ratio",
            &series,
            Some(-3.0),
        )?;
        println!("wrote {prefix}-activations.png, {prefix}-gradients.png, {prefix}-weight-gradients.png, {prefix}-update-ratio.png");
    }
    Ok(())
}
