//! Seed 004, the blog post "Categorical Cross Entropy": softmax and log-softmax by hand,
//! the negative log-likelihood by indexing (`sm_preds[range(n), target]`), PyTorch's
//! `F.nll_loss(F.log_softmax(preds, -1), y)` and `F.cross_entropy(preds, y)`, and the
//! MNIST-shaped model `Linear(784, 32) - ReLU - Linear(32, 10)`.
//!
//! Used by `examples/categorical_cross_entropy.rs` and `tests/seed_004.rs`.

use std::path::Path;
use torchlet::nn::{Linear, ReLU, Sequential};
use torchlet::{Error, Generator, Result, Tensor, TensorData};

/// `pred_tensor = torch.Tensor([2.44, 3.92, 2.50, -1.27, 3.23])`, "our predictions as a
/// result of the model" for the five classes cat, dog, plane, fish, building.
pub const PRED_TENSOR: [f32; 5] = [2.44, 3.92, 2.50, -1.27, 3.23];

/// The five classes of the post's example.
pub const CLASSES: [&str; 5] = ["cat", "dog", "plane", "fish", "building"];

/// The post's `(pred_tensor.exp()/(pred_tensor.exp().sum(-1, keepdim=True))).log()`.
pub const PRINTED_LOG_SOFTMAX: [f64; 5] = [-2.1613, -0.6813, -2.1013, -5.8713, -1.3713];

/// The post's `F.cross_entropy(preds, y_train)` for its (randomly initialised) model on
/// MNIST: `tensor(2.3115, grad_fn=<NllLossBackward>)`. Not reproducible (random weights),
/// but any untrained 10-class model lands near `ln 10 = 2.3026`.
pub const PRINTED_MNIST_LOSS: f64 = 2.3115;

/// `x.exp() / x.exp().sum(-1, keepdim=True)`: softmax over the last dim, by hand (the
/// naive form: overflows for logits above ~88 in f32).
pub fn softmax_by_hand(x: &Tensor) -> Result<Tensor> {
    let e = x.exp()?;
    e.div(&e.sum_dim(-1, true)?)
}

/// The post's `log_softmax(preds) = (preds.exp() / preds.exp().sum(-1, keepdim=True)).log()`.
pub fn log_softmax_by_hand(x: &Tensor) -> Result<Tensor> {
    softmax_by_hand(x)?.log()
}

/// The post's `nll(sm_preds, target) = -sm_preds[range(target.shape[0]), target].mean()`:
/// row `i` contributes its entry in column `target[i]`. `gather(1, target.unsqueeze(1))`
/// is torchlet's (and PyTorch's) name for that fancy indexing.
pub fn nll(sm_preds: &Tensor, target: &Tensor) -> Result<Tensor> {
    sm_preds.gather(1, &target.unsqueeze(1)?)?.mean()?.neg()
}

/// `sm_preds[range(n), target]` spelled out: the entries at flat offsets `i * C + target[i]`
/// of the row-major `(n, C)` tensor.
pub fn pick_by_flat_index(sm_preds: &Tensor, target: &Tensor) -> Result<Tensor> {
    let c = sm_preds.size(1)? as i64;
    let offsets: Vec<i64> =
        target.to_vec::<i64>()?.iter().enumerate().map(|(i, &t)| i as i64 * c + t).collect();
    sm_preds.reshape([-1])?.index_select(0, &Tensor::from(offsets))
}

/// The post's `Model(n_in, nh, n_out)`: `Linear(n_in, nh) - ReLU - Linear(nh, n_out)`,
/// initialised like `nn.Linear` from `g`.
pub fn model(n_in: usize, nh: usize, n_out: usize, g: &mut Generator) -> Result<Sequential> {
    Ok(Sequential::new()
        .add(Linear::with_generator(n_in, nh, true, g)?)
        .add(ReLU)
        .add(Linear::with_generator(nh, n_out, true, g)?))
}

/// MNIST's training images and labels from the uncompressed IDX files in `dir`
/// (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`): the first `n` images as
/// `x` `(n, 784)` f32 scaled to [0, 1] (divided by 255), and their labels `y` `(n)` i64.
/// The post's pickled MNIST uses the first 50000 as `x_train`.
pub fn load_mnist_train(dir: &Path, n: usize) -> Result<(Tensor, Tensor)> {
    let images = crate::idx::read_idx(dir.join("train-images-idx3-ubyte"))?;
    let labels = crate::idx::read_idx(dir.join("train-labels-idx1-ubyte"))?;
    let bad = |msg: String| Error::Io { op: "load_mnist_train", msg: format!("{}: {msg}", dir.display()) };
    if images.ndim() != 3 || labels.ndim() != 1 || images.dims()[0] != labels.dims()[0] {
        return Err(bad(format!(
            "expected images (N, rows, cols) and labels (N), got shapes {} and {}",
            images.shape(),
            labels.shape()
        )));
    }
    if images.dims()[0] < n {
        return Err(bad(format!("asked for {n} images, the files hold {}", images.dims()[0])));
    }
    let x = Tensor::from_data(images.narrow(0, 0, n)?.contiguous())
        .reshape([n as isize, -1])?
        .mul_scalar(1.0 / 255.0)?;
    let y = Tensor::from_data(labels.narrow(0, 0, n)?.contiguous());
    Ok((x, y))
}

/// Random stand-ins of MNIST's shapes: `x` `(n, 784)` uniform in [0, 1) and labels `y`
/// `(n)` uniform in 0..10, from `g`.
pub fn random_mnist_like(n: usize, g: &mut Generator) -> Result<(Tensor, Tensor)> {
    let x = TensorData::rand_with([n, 784], torchlet::DType::F32, g)?;
    let y = TensorData::randint_with(0, 10, [n], g)?;
    Ok((Tensor::from_data(x), Tensor::from_data(y)))
}
