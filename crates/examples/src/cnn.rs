//! The digits CNN walkthrough (`examples/cnn_digits.rs`): a small convolutional network on
//! the UCI digits, every printed line PyTorch's (`tools/lectures/cnn_digits.py`).

use torchlet::nn::data::{DataLoader, TensorDataset};
use torchlet::nn::optim::{Adam, Optimizer};
use torchlet::nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential};
use torchlet::prelude::*;
use torchlet::{manual_seed, no_grad, DType, Result};

use crate::demos::{digits_default_path, load_digits};

/// Trains for `epochs` epochs from `manual_seed(0)`, handing `out` each line to print: the
/// model, its parameter count, the first 5 losses, then each epoch's mean training loss and
/// test accuracy.
pub fn run(epochs: usize, mut out: impl FnMut(String)) -> Result<()> {
    let data = load_digits(&digits_default_path())?;
    let x = data.x.view([-1, 1, 8, 8])?; // (N, channels, height, width)
    let (x_train, y_train) = (x.i(s![..1437])?, data.y.i(s![..1437])?);
    let (x_test, y_test) = (x.i(s![1437..])?, data.y.i(s![1437..])?);

    manual_seed(0);
    let model = Sequential::new()
        .add(Conv2d::new(1, 8, 3)?) // (N, 8, 6, 6)
        .add(ReLU)
        .add(MaxPool2d::new(2)) // (N, 8, 3, 3)
        .add(Flatten::new()) // (N, 72)
        .add(Linear::new(72, 10)?);
    out(model.to_string());
    out(format!("parameters: {}", model.num_parameters()));
    let mut opt = Adam::new(model.parameters(), 0.01)?;
    let mut loader = DataLoader::new(TensorDataset::new(vec![x_train, y_train])?, 32)?.shuffle(true);
    for epoch in 0..epochs {
        let (mut total, mut n) = (0.0, 0);
        for (step, batch) in loader.iter()?.enumerate() {
            let batch = batch?;
            let loss = F::cross_entropy(&model.forward(&batch[0])?, &batch[1])?;
            if epoch == 0 && step < 5 {
                out(format!("epoch 0 step {step}: loss {:.6}", loss.item()?));
            }
            opt.zero_grad();
            loss.backward()?;
            opt.step()?;
            total += loss.item()? * batch[1].numel() as f64;
            n += batch[1].numel();
        }
        let pred = no_grad(|| model.forward(&x_test))?.argmax(1, false)?;
        let acc = pred.eq(&y_test)?.to_dtype(DType::F32)?.mean()?.item()?;
        out(format!("epoch {}: train loss {:.4}, test accuracy {acc:.4}", epoch + 1, total / n as f64));
    }
    Ok(())
}
