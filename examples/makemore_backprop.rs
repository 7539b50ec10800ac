//! makemore part 4 beside the lecture (`makemore_part4_backprop.ipynb`, "becoming a backprop
//! ninja"): the two-layer MLP with BatchNorm, its forward pass cut into 19 small steps; every
//! gradient computed by hand with tensor ops and compared with autograd's (`retain_grad`),
//! printing the lecture's `exact / approximate / maxdiff` lines; the fused cross-entropy and
//! BatchNorm backward formulas; then a training run with the manual backward pass only,
//! BatchNorm calibrated over the training set, train/val loss and 20 sampled names. The
//! program is `crates/examples/src/makemore_backprop.rs`;
//! `tools/lectures/makemore_backprop.py` prints the same lines in PyTorch.
//!
//! ```text
//! cargo run --release --example makemore_backprop                   # 200,000 steps
//! cargo run --release --example makemore_backprop -- --steps 20000
//! ```

use torchlet::{Error, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = match args.iter().position(|a| a == "--steps").and_then(|i| args.get(i + 1)) {
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid("makemore_backprop", format!("--steps needs a number, got {s:?}")))?,
        None => 200_000,
    };
    torchlet_examples::makemore_backprop::run(steps, |line| println!("{line}"))
}
