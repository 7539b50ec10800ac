//! A small convolutional network on the UCI digits (`data/optdigits.csv`, 8x8 images): the
//! first 1437 images train, the last 360 test, as in the `digits` MLP example (test accuracy
//! about 0.91). `manual_seed(0)`; Conv2d(1, 8, 3), ReLU, MaxPool2d(2), Flatten, Linear(72, 10);
//! Adam(lr = 0.01); shuffled batches of 32. `tools/lectures/cnn_digits.py` is the same in
//! PyTorch: same initial weights, same batches, so the same losses.
//!
//! ```text
//! cargo run --release --example cnn_digits                 # 10 epochs
//! cargo run --release --example cnn_digits -- --epochs 3
//! ```

use torchlet::{Error, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let epochs = match args.iter().position(|a| a == "--epochs").and_then(|i| args.get(i + 1)) {
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid("cnn_digits", format!("--epochs needs a number, got {s:?}")))?,
        None => 10,
    };
    // the training loop is in crates/examples/src/cnn.rs
    torchlet_examples::cnn::run(epochs, |line| println!("{line}"))
}
