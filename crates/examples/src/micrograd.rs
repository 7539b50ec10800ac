//! micrograd's demo notebook (`karpathy/micrograd`, `demo.ipynb`) in torchlet: a 2-16-16-1
//! ReLU network learns the two moons with an SVM "max-margin" loss plus L2 regularisation,
//! trained by plain gradient descent written by hand, `p -= lr * p.grad` under `no_grad`.
//!
//! micrograd computes with Python floats (f64) and draws every weight with
//! `random.uniform(-1, 1)` after `random.seed(1337)`, neuron after neuron; biases start at 0.
//! [`mlp`] draws the same numbers from Python's generator ([`PyRandom`]), so from the same data
//! (`data/moons.csv`) the losses are the notebook's: `step 0 loss 0.8958441028683222,
//! accuracy 50.0%`. Only the order of the sums differs (a matrix product instead of a Python
//! loop), which moves the last digit or two.

use std::path::{Path, PathBuf};
use torchlet::nn::{Linear, Module, ReLU, Sequential};
use torchlet::tensor_core::random::PyRandom;
use torchlet::{no_grad, DType, Error, Result, Tensor, TensorData};

/// The two moons: `x` `(100, 2)` f64 points, `y` `(100, 1)` f64 labels -1 or +1.
pub struct Moons {
    /// The points, one per row.
    pub x: Tensor,
    /// The labels, -1 or +1, as a column.
    pub y: Tensor,
}

/// `data/moons.csv` of this repository.
pub fn moons_default_path() -> PathBuf {
    crate::project_path("data/moons.csv")
}

/// Reads a CSV of `x0,x1,y` rows (with a header line), like `data/moons.csv`.
pub fn load_moons(path: &Path) -> Result<Moons> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Io { op: "load_moons", msg: format!("cannot read {}: {e}", path.display()) })?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
        let v: Vec<f64> =
            line.split(',').map(|f| f.trim().parse::<f64>()).collect::<std::result::Result<_, _>>().map_err(
                |e| Error::Io { op: "load_moons", msg: format!("{} line {}: {e}", path.display(), i + 1) },
            )?;
        if v.len() != 3 {
            return Err(Error::Io {
                op: "load_moons",
                msg: format!("{} line {}: expected x0,x1,y", path.display(), i + 1),
            });
        }
        x.extend_from_slice(&v[..2]);
        y.push(v[2]);
    }
    let n = y.len();
    Ok(Moons {
        x: Tensor::from_data(TensorData::from_vec(x, [n, 2])?),
        y: Tensor::from_data(TensorData::from_vec(y, [n, 1])?),
    })
}

/// micrograd's `MLP(2, [16, 16, 1])` in f64: `Linear(2, 16)`, ReLU, `Linear(16, 16)`, ReLU,
/// `Linear(16, 1)`, every weight `random.uniform(-1, 1)` from `random.seed(seed)` in
/// micrograd's order (layer by layer, neuron by neuron: the rows of each weight), biases 0.
pub fn mlp(seed: u64) -> Result<Sequential> {
    let mut rng = PyRandom::seed(seed);
    let mut layer = |nin: usize, nout: usize| -> Result<Linear> {
        let w: Vec<f64> = (0..nin * nout).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let w = Tensor::from_data(TensorData::from_vec(w, [nout, nin])?);
        Linear::from_weights(w, Some(Tensor::zeros_dtype([nout], DType::F64)?))
    };
    Ok(Sequential::new().add(layer(2, 16)?).add(ReLU).add(layer(16, 16)?).add(ReLU).add(layer(16, 1)?))
}

/// The notebook's `loss()`: the mean SVM loss `relu(1 - y * score)` plus `1e-4 * sum(p^2)`,
/// and the accuracy (the fraction of points whose score has the label's sign).
// `reg_loss = reg_loss + x` records an addition in the graph, as in Python; `reg_loss += x`
// would update `reg_loss` in place instead (PyTorch's semantics too), which backward refuses.
#[allow(clippy::assign_op_pattern)]
pub fn loss(model: &Sequential, data: &Moons) -> Result<(Tensor, f64)> {
    let scores = model.forward(&data.x)?;
    // svm "max-margin" loss
    let losses = (1.0 + -(&data.y * &scores)).relu()?;
    let data_loss = losses.sum()? * (1.0 / losses.numel() as f64);
    // L2 regularization
    let alpha = 1e-4;
    let mut reg_loss = Tensor::zeros_dtype([], DType::F64)?;
    for p in model.parameters() {
        reg_loss = reg_loss + (&p * &p).sum()?;
    }
    let total_loss = data_loss + alpha * reg_loss;
    // also get accuracy
    let accuracy = data.y.gt(0)?.eq(&scores.gt(0)?)?.to_dtype(DType::F64)?.mean()?.item()?;
    Ok((total_loss, accuracy))
}

/// One step of the notebook's optimisation loop: loss, `zero_grad`, backward, and the update
/// `p -= learning_rate * p.grad` with `learning_rate = 1 - 0.9 k / 100`. Returns the loss and
/// accuracy before the update.
pub fn step(model: &Sequential, data: &Moons, k: usize) -> Result<(f64, f64)> {
    // forward
    let (total_loss, acc) = loss(model, data)?;
    // backward
    model.zero_grad();
    total_loss.backward()?;
    // update (sgd)
    let learning_rate = 1.0 - 0.9 * k as f64 / 100.0;
    no_grad(|| {
        for mut p in model.parameters() {
            let grad = p.grad().ok_or_else(|| Error::autograd("step", "a parameter got no gradient"))?;
            p -= learning_rate * grad;
        }
        Ok::<(), Error>(())
    })?;
    Ok((total_loss.item()?, acc))
}

/// The notebook's decision-boundary grid: points every `h` over the data's range widened by
/// 1 on each side, and whether the model scores each positive (row by row, `y` then `x`).
pub fn decision_grid(model: &Sequential, data: &Moons, h: f64) -> Result<crate::plot::Grid> {
    let pts = data.x.to_vec::<f64>()?;
    let (xs, ys): (Vec<f64>, Vec<f64>) = pts.chunks(2).map(|p| (p[0], p[1])).unzip();
    let range = |v: &[f64]| {
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let n = ((hi + 1.0 - (lo - 1.0)) / h).ceil() as usize;
        (0..n).map(|i| lo - 1.0 + i as f64 * h).collect::<Vec<f64>>() // np.arange(lo - 1, hi + 1, h)
    };
    let (gx, gy) = (range(&xs), range(&ys));
    let mesh: Vec<f64> = gy.iter().flat_map(|&y| gx.iter().flat_map(move |&x| [x, y])).collect();
    let n = gx.len() * gy.len();
    let scores = no_grad(|| model.forward(&Tensor::from_data(TensorData::from_vec(mesh, [n, 2])?)))?;
    let positive = scores.gt(0)?.to_vec::<bool>()?;
    Ok(crate::plot::Grid { xs: gx, ys: gy, positive })
}
