//! Small end-to-end trainings shared by the examples (`examples/xor.rs`,
//! `examples/digits.rs`) and the tests: [`train_xor`] and [`train_digits`].
//!
//! Both initialise their layers from an explicit [`Generator`] seeded by the caller, so a
//! run is reproducible and never touches the global generator (tests run in parallel). The
//! weights are PyTorch's: `Generator::new(seed)` draws what `torch.manual_seed(seed)` makes the
//! global generator draw, and `Linear` initialises as `nn.Linear` does, so the untrained
//! network equals `torch.manual_seed(seed); nn.Sequential(nn.Linear(...), ...)`.

use std::path::{Path, PathBuf};
use torchlet::nn::functional as F;
use torchlet::nn::{Linear, Module, ReLU, Sequential, Sigmoid};
use torchlet::optim::{Optimizer, SgdOptions, SGD};
use torchlet::{no_grad, Error, Generator, Result, Tensor};

/// The four XOR inputs `[[0,0],[0,1],[1,0],[1,1]]` (f32, shape `(4, 2)`).
pub fn xor_inputs() -> Tensor {
    Tensor::from([[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
}

/// The XOR labels `[0, 1, 1, 0]` (i64 class indices).
pub fn xor_targets() -> Tensor {
    Tensor::from(vec![0i64, 1, 1, 0])
}

/// The outcome of [`train_xor`].
pub struct XorRun {
    /// The trained network.
    pub model: Sequential,
    /// The loss of every step (every `every`-th step for [`train_xor_every`]: steps 0,
    /// every, 2 every, ...), measured before that step's update.
    pub losses: Vec<f64>,
    /// The loss of the trained model on the four inputs.
    pub final_loss: f64,
    /// The trained model's class probabilities (softmax of its logits), one row per input.
    pub probabilities: Tensor,
    /// The predicted class of each input (argmax of the logits).
    pub predictions: Vec<i64>,
    /// Fraction of the four inputs classified correctly.
    pub accuracy: f64,
}

/// Trains `Linear(2,5)-Sigmoid-Linear(5,2)` on XOR: mean cross-entropy on the *logits* of
/// the last layer, SGD with momentum 0.9 and learning rate `lr`, `steps` full-batch steps,
/// weights initialised from `Generator::new(seed)`: PyTorch's initial weights after
/// `torch.manual_seed(seed)`.
///
/// Why this converges where the seed notebook's setup (a Sigmoid after the last layer,
/// lr 0.03, no momentum) does not: squashing the logits into (0, 1) caps the softmax
/// probability of the right class at e/(1+e) ~ 0.73, so the loss cannot go below ~0.31 and
/// its gradient shrinks; and lr 0.03 moves the weights by ~1e-4 per step. Raw logits and
/// momentum (an effective step of lr/(1-0.9) = 10 lr) reach 100% accuracy within a few
/// hundred steps for lr around 0.5.
pub fn train_xor(seed: u64, steps: usize, lr: f64) -> Result<XorRun> {
    train_xor_every(seed, steps, lr, 1)
}

/// [`train_xor`] keeping only the loss of every `every`-th step (steps 0, every, 2 every,
/// ...), so memory stays constant however long it trains: the `xor` example records ten
/// losses, and its RSS is the same after 10^3 and 10^6 steps. `every` must be >= 1.
pub fn train_xor_every(seed: u64, steps: usize, lr: f64, every: usize) -> Result<XorRun> {
    if every == 0 {
        return Err(Error::invalid("train_xor_every", "every must be at least 1 (record every step)"));
    }
    let mut g = Generator::new(seed);
    let model = Sequential::new()
        .add(Linear::with_generator(2, 5, true, &mut g)?)
        .add(Sigmoid)
        .add(Linear::with_generator(5, 2, true, &mut g)?);
    let mut opt = SGD::new(model.parameters(), SgdOptions::new(lr).momentum(0.9))?;
    let (x, y) = (xor_inputs(), xor_targets());
    let mut losses = Vec::with_capacity(steps.div_ceil(every));
    for step in 0..steps {
        opt.zero_grad();
        // These are logits by construction. A fresh network's eight logits can all lie in
        // (0, 1) (seed 0 does), which the pitfall check would take for sigmoid outputs, so
        // its warnings are captured and dropped here.
        let (loss, _) = torchlet::warnings::capture(|| F::cross_entropy(&model.forward(&x)?, &y));
        let loss = loss?;
        if step % every == 0 {
            losses.push(loss.item()?);
        }
        loss.backward()?;
        opt.step()?;
    }
    let (logits, final_loss) = no_grad(|| -> Result<_> {
        let logits = model.forward(&x)?;
        let loss = F::cross_entropy(&logits, &y)?.item()?;
        Ok((logits, loss))
    })?;
    let predictions = logits.argmax(1, false)?.to_vec::<i64>()?;
    let accuracy = accuracy(&predictions, &y.to_vec::<i64>()?);
    let probabilities = logits.softmax(1)?;
    Ok(XorRun { model, losses, final_loss, probabilities, predictions, accuracy })
}

/// The loss graph of a trained XOR network, as Graphviz DOT (what `examples/xor.rs --graph`
/// writes): one forward pass of `run.model` on the four inputs and its mean cross-entropy,
/// drawn with [`Tensor::to_dot`]. Leaves: `0.weight`, `0.bias`, `2.weight`, `2.bias`, the
/// input and the target; operations: linear (`AddmmBackward0`), sigmoid, linear,
/// cross-entropy (`NllLossBackward0`). Builds a fresh graph (and never calls backward, which
/// would free it), so call it with gradients enabled, i.e. not inside `no_grad`.
pub fn xor_graph_dot(run: &XorRun) -> Result<String> {
    let loss = F::cross_entropy(&run.model.forward(&xor_inputs())?, &xor_targets())?;
    Ok(loss.to_dot())
}

/// `data/optdigits.csv` of this repository (located at compile time).
pub fn digits_default_path() -> PathBuf {
    crate::project_path("data/optdigits.csv")
}

/// The digits data set: `x` `(n, 64)` f32 pixels scaled to `[0, 1]`, `y` `(n)` i64 labels.
pub struct Digits {
    /// Pixels divided by 16, one image per row.
    pub x: Tensor,
    /// Digit labels 0..9.
    pub y: Tensor,
}

impl Digits {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.y.numel()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads the UCI optdigits CSV: each line 64 pixel values 0..16, then the label 0..9.
/// Errors name the file and the line.
pub fn load_digits(path: &Path) -> Result<Digits> {
    let io = |msg: String| Error::Io { op: "load_digits", msg };
    let text = std::fs::read_to_string(path).map_err(|e| {
        io(format!("cannot read {}: {e} (pass --data PATH to point at optdigits.csv)", path.display()))
    })?;
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |what: String| io(format!("{}:{}: {what}", path.display(), i + 1));
        let values: Vec<&str> = line.split(',').map(str::trim).collect();
        if values.len() != 65 {
            return Err(bad(format!(
                "expected 65 comma-separated values (64 pixels and a label), got {}",
                values.len()
            )));
        }
        for v in &values[..64] {
            let p: u8 = v
                .parse()
                .ok()
                .filter(|p| *p <= 16)
                .ok_or_else(|| bad(format!("pixel {v:?} is not an integer in 0..=16")))?;
            pixels.push(p as f32 / 16.0);
        }
        let label: i64 = values[64]
            .parse()
            .ok()
            .filter(|l| (0..10).contains(l))
            .ok_or_else(|| bad(format!("label {:?} is not a digit 0..9", values[64])))?;
        labels.push(label);
    }
    let n = labels.len();
    Ok(Digits { x: Tensor::from_vec(pixels, [n, 64])?, y: Tensor::from_vec(labels, [n])? })
}

/// The outcome of [`train_digits`].
pub struct DigitsRun {
    /// The trained network.
    pub model: Sequential,
    /// Mean of the batch losses of each epoch.
    pub epoch_losses: Vec<f64>,
    /// Accuracy on the 1437 training images after training.
    pub train_accuracy: f64,
    /// Accuracy on the 360 held-out images after training.
    pub test_accuracy: f64,
    /// Accuracy on the held-out images after each epoch.
    pub epoch_test_accuracy: Vec<f64>,
}

/// What [`train_digits_observed`] reports while it trains.
#[derive(Debug, Clone, Copy)]
pub enum DigitsEvent {
    /// A batch finished: its loss and the running mean loss of the epoch so far.
    Batch {
        /// Epoch number, from 1.
        epoch: usize,
        /// Batch number within the epoch, from 1.
        batch: usize,
        /// Mean of the batch losses so far in this epoch.
        running_loss: f64,
    },
    /// An epoch finished.
    Epoch {
        /// Epoch number, from 1.
        epoch: usize,
        /// Mean batch loss of the epoch.
        mean_loss: f64,
        /// Accuracy on the held-out images after the epoch.
        test_accuracy: f64,
    },
}

/// Number of batches per epoch in [`train_digits`] (1437 rows in batches of 32).
pub const DIGITS_BATCHES: usize = DIGITS_TRAIN_ROWS.div_ceil(32);

/// Number of training rows in the `digits_train` benchmark's split (docs/benchmarks.md; the
/// rest are the test set).
pub const DIGITS_TRAIN_ROWS: usize = 1437;

/// The `digits_train` benchmark (docs/benchmarks.md): the first 1437 rows train, the rest test;
/// `Linear(64,64)-ReLU-Linear(64,10)` initialised from `Generator::new(seed)` (PyTorch's
/// weights after `torch.manual_seed(seed)`),
/// SGD(lr 0.05, momentum 0.9), batches of 32 in file order (the last has 29 rows),
/// `epochs` epochs, mean cross-entropy.
pub fn train_digits(data: &Digits, epochs: usize, seed: u64) -> Result<DigitsRun> {
    train_digits_observed(data, epochs, seed, |_| {})
}

/// [`train_digits`], reporting every batch and epoch to `observe` (progress bars, plots).
pub fn train_digits_observed(
    data: &Digits,
    epochs: usize,
    seed: u64,
    mut observe: impl FnMut(DigitsEvent),
) -> Result<DigitsRun> {
    let n = data.len();
    if n <= DIGITS_TRAIN_ROWS {
        return Err(Error::invalid(
            "train_digits",
            format!("the digits data has {n} rows; need more than {DIGITS_TRAIN_ROWS} (train rows) to leave a test set"),
        ));
    }
    let (x_train, y_train) =
        (data.x.narrow(0, 0, DIGITS_TRAIN_ROWS)?, data.y.narrow(0, 0, DIGITS_TRAIN_ROWS)?);
    let n_test = n - DIGITS_TRAIN_ROWS;
    let (x_test, y_test) =
        (data.x.narrow(0, DIGITS_TRAIN_ROWS, n_test)?, data.y.narrow(0, DIGITS_TRAIN_ROWS, n_test)?);

    let mut g = Generator::new(seed);
    let model = Sequential::new()
        .add(Linear::with_generator(64, 64, true, &mut g)?)
        .add(ReLU)
        .add(Linear::with_generator(64, 10, true, &mut g)?);
    let mut opt = SGD::new(model.parameters(), SgdOptions::new(0.05).momentum(0.9))?;
    const BATCH: usize = 32;
    let mut epoch_losses = Vec::with_capacity(epochs);
    let mut epoch_test_accuracy = Vec::with_capacity(epochs);
    for epoch in 1..=epochs {
        let (mut sum, mut batches) = (0.0, 0);
        for start in (0..DIGITS_TRAIN_ROWS).step_by(BATCH) {
            let len = BATCH.min(DIGITS_TRAIN_ROWS - start);
            let (xb, yb) = (x_train.narrow(0, start, len)?, y_train.narrow(0, start, len)?);
            opt.zero_grad();
            let loss = F::cross_entropy(&model.forward(&xb)?, &yb)?;
            sum += loss.item()?;
            batches += 1;
            loss.backward()?;
            opt.step()?;
            observe(DigitsEvent::Batch { epoch, batch: batches, running_loss: sum / batches as f64 });
        }
        let mean_loss = sum / batches as f64;
        let test_accuracy = classify_accuracy(&model, &x_test, &y_test)?;
        epoch_losses.push(mean_loss);
        epoch_test_accuracy.push(test_accuracy);
        observe(DigitsEvent::Epoch { epoch, mean_loss, test_accuracy });
    }
    let train_accuracy = classify_accuracy(&model, &x_train, &y_train)?;
    let test_accuracy = classify_accuracy(&model, &x_test, &y_test)?;
    Ok(DigitsRun { model, epoch_losses, train_accuracy, test_accuracy, epoch_test_accuracy })
}

/// Fraction of rows of `x` whose argmax logit equals `y`.
fn classify_accuracy(model: &dyn Module, x: &Tensor, y: &Tensor) -> Result<f64> {
    let pred = no_grad(|| model.forward(x))?.argmax(1, false)?.to_vec::<i64>()?;
    Ok(accuracy(&pred, &y.to_vec::<i64>()?))
}

fn accuracy(pred: &[i64], truth: &[i64]) -> f64 {
    let right = pred.iter().zip(truth).filter(|(p, t)| p == t).count();
    right as f64 / truth.len().max(1) as f64
}
