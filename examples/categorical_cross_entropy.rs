//! Seed 004, the blog post "Categorical Cross Entropy", replayed with torchlet.
//!
//! `cargo run --release --example categorical_cross_entropy -- [--mnist DIR]`
//!
//! 1. Softmax and log-softmax by hand on the post's five class scores.
//! 2. The negative log-likelihood by indexing (`sm_preds[range(n), target]`), and
//!    `F.nll_loss(F.log_softmax(x, -1), y) == F.cross_entropy(x, y)`.
//! 3. The post's MNIST-shaped model `Linear(784, 32) - ReLU - Linear(32, 10)` on a
//!    `(50000, 784)` batch: forward, loss, backward. With `--mnist DIR` it reads the real
//!    images from `DIR/train-images-idx3-ubyte` and `DIR/train-labels-idx1-ubyte`
//!    (uncompressed IDX files, see `torchlet_examples::idx`); otherwise random data of the same shape.

use std::path::PathBuf;
use std::time::Instant;
use torchlet::nn::Module;
use torchlet::prelude::*;
use torchlet_examples::seeds::seed004::{
    load_mnist_train, log_softmax_by_hand, model, nll, pick_by_flat_index, random_mnist_like,
    softmax_by_hand, CLASSES, PRED_TENSOR, PRINTED_LOG_SOFTMAX, PRINTED_MNIST_LOSS,
};

/// The post's training set size: MNIST's first 50000 images (the rest validate).
const N_TRAIN: usize = 50_000;

/// Prints a line of code as the notebook would show it.
fn cell(code: &str) {
    println!("\n>>> {code}");
}

const USAGE: &str = "usage: cargo run --release --example categorical_cross_entropy -- [--mnist DIR]";

fn main() -> torchlet::Result<()> {
    let mnist = parse_args().unwrap_or_else(|msg| {
        eprintln!("error: {msg}\n{USAGE}");
        std::process::exit(2);
    });
    softmax_section()?;
    nll_section()?;
    mnist_section(mnist)
}

/// `--mnist DIR`, or nothing.
fn parse_args() -> std::result::Result<Option<PathBuf>, String> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--mnist" => dir = Some(PathBuf::from(args.next().ok_or("--mnist needs a directory")?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(dir)
}

fn softmax_section() -> torchlet::Result<()> {
    println!("=== 1. Softmax and log-softmax by hand ===");
    cell("pred_tensor = torch.Tensor([2.44, 3.92, 2.50, -1.27, 3.23])  # cat dog plane fish building");
    let pred = Tensor::from(PRED_TENSOR);
    println!("{pred}");
    cell("pred_tensor.exp()/(pred_tensor.exp().sum())");
    let sm = softmax_by_hand(&pred)?;
    println!("{sm}");
    println!("# the post's comment shows the input again (\"Softmax is tensor([ 2.4400, 3.9200, ...\"); the");
    println!("# softmax is the line above: positive, summing to {:.4}.", sm.sum()?.item()?);
    let best = sm.argmax(0, false)?.item()? as usize;
    println!("The largest score wins: {} with probability {:.4}.", CLASSES[best], sm.to_f64_vec()[best]);

    cell("(pred_tensor.exp()/(pred_tensor.exp().sum(-1, keepdim=True))).log()");
    let lsm = log_softmax_by_hand(&pred)?;
    println!("{lsm}");
    println!("# the post: tensor({PRINTED_LOG_SOFTMAX:?})");
    cell("F.log_softmax(pred_tensor, -1)  # the stable form (x - max) - log(sum(exp(x - max)))");
    println!("{}", F::log_softmax(&pred, -1)?);
    let lse = pred.logsumexp(0, false)?.item()?;
    println!("log_softmax(x)_i = x_i - log(sum_j exp(x_j)): every score minus the same {lse:.4}.");

    println!("\nWhy the library subtracts the max first: scale the scores by 100 and exp overflows f32");
    cell("(pred_tensor * 100).exp().sum(), log_softmax_by_hand(pred_tensor * 100)");
    let big = pred.mul_scalar(100.0)?;
    println!("{}, {}", big.exp()?.sum()?, log_softmax_by_hand(&big)?);
    cell("F.log_softmax(pred_tensor * 100, -1)");
    println!("{}", F::log_softmax(&big, -1)?);
    println!("(exp(392) = inf and inf / inf = nan; after subtracting the max 392 the largest term is");
    println!("exp(0) = 1 and nothing overflows.)");

    println!("\nSeed 000's x = np.random.normal(size=(4)) * 10000, with its output's differences:");
    let x = Tensor::from([9000.0f32, 3462.9968, 1407.6932, 7922.8265]);
    println!("x = {x}");
    println!("naive softmax     {}", softmax_by_hand(&x)?);
    println!("F::softmax        {}", F::softmax(&x, 0)?);
    println!("log(F::softmax)   {}", F::softmax(&x, 0)?.log()?);
    println!("F::log_softmax    {}", F::log_softmax(&x, 0)?);
    println!("Even the stable softmax underflows (exp(-1077) = 0), so log(softmax) is -inf and a loss on it");
    println!("infinite; log_softmax never forms the tiny probability. With target class 3:");
    let (row, t) = (x.unsqueeze(0)?, Tensor::from(vec![3i64]));
    println!("F::nll_loss(F::softmax(x).log(), [3])   {}", F::nll_loss(&F::softmax(&row, 1)?.log()?, &t)?);
    println!("F::nll_loss(F::log_softmax(x), [3])     {}", F::nll_loss(&F::log_softmax(&row, 1)?, &t)?);
    println!("F::cross_entropy(x, [3])                {}", F::cross_entropy(&row, &t)?);
    println!("See docs/guide/03-softmax-and-stability.md.");
    Ok(())
}

fn nll_section() -> torchlet::Result<()> {
    println!("\n=== 2. Negative log-likelihood by indexing ===");
    let mut g = Generator::new(4);
    let preds = Tensor::randn_with([3, 5], DType::F32, &mut g)?;
    let target = Tensor::from(vec![1i64, 0, 4]);
    cell("preds  # three data points, five classes (random scores)");
    println!("{preds}");
    cell("target");
    println!("{target}");
    cell("sm_preds = log_softmax(preds); sm_preds");
    let sm_preds = log_softmax_by_hand(&preds)?;
    println!("{sm_preds}");
    cell("sm_preds[range(target.shape[0]), target]  # row i, column target[i]");
    let picked = sm_preds.gather(1, &target.unsqueeze(1)?)?.squeeze_dim(1)?;
    println!("{picked}");
    println!(
        "# torchlet spells this sm_preds.gather(1, target.unsqueeze(1)); by flat offsets i * 5 + target[i]:"
    );
    println!("{}", pick_by_flat_index(&sm_preds, &target)?);
    cell("nll(sm_preds, target)  # -sm_preds[range(n), target].mean()");
    println!("{}", nll(&sm_preds, &target)?);
    cell("F.nll_loss(F.log_softmax(preds, -1), target)");
    println!("{}", F::nll_loss(&F::log_softmax(&preds, -1)?, &target)?);
    cell("F.cross_entropy(preds, target)  # log_softmax and nll_loss in one call");
    println!("{}", F::cross_entropy(&preds, &target)?);
    Ok(())
}

fn mnist_section(dir: Option<PathBuf>) -> torchlet::Result<()> {
    println!("\n=== 3. The MNIST-shaped model on a (50000, 784) batch ===");
    let mut g = Generator::new(0);
    let start = Instant::now();
    let (x_train, y_train) = match &dir {
        Some(dir) => {
            // A missing or malformed file is the user's to fix: say which and stop.
            let data = load_mnist_train(dir, N_TRAIN).unwrap_or_else(|e| {
                eprintln!("error: {e}\n{USAGE}");
                std::process::exit(1);
            });
            println!("MNIST from {}: the first {N_TRAIN} training images, pixels / 255", dir.display());
            data
        }
        None => {
            println!("No --mnist DIR given: RANDOM data of MNIST's shapes (pixels uniform in [0, 1), labels");
            println!("uniform in 0..9). Pass --mnist DIR (uncompressed train-images-idx3-ubyte and");
            println!("train-labels-idx1-ubyte) for the real images.");
            random_mnist_like(N_TRAIN, &mut g)?
        }
    };
    println!("data ready in {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
    cell("n, m = x_train.shape; c = y_train.max() + 1; x_train.shape, y_train.shape, c");
    let (n, m) = (x_train.size(0)?, x_train.size(1)?);
    let c = y_train.max()?.item()? as usize + 1;
    println!("({n}, {m}), ({n},), {c}");
    cell("y_train[0]");
    println!("{}", y_train.narrow(0, 0, 1)?.reshape(())?);
    if dir.is_some() {
        println!("# the post: tensor(5)");
    }

    cell("model = Model(m, nh=32, c); model");
    let model = model(m, 32, c, &mut g)?;
    println!("{model}");
    cell("preds = model(x_train)  # printing the shape after each layer, as the post's __call__ does");
    let start = Instant::now();
    let mut x = x_train.clone();
    for i in 0..model.len() {
        if let Some(layer) = model.get(i) {
            x = layer.forward(&x)?;
            println!("Shape of x during iterations torch.Size({:?})", x.dims());
        }
    }
    let preds = x;
    let forward_ms = start.elapsed().as_secs_f64() * 1e3;
    println!("forward: {forward_ms:.1} ms");

    cell("sm_preds = log_softmax(preds); sm_preds.shape; sm_preds[0:3]");
    let sm_preds = log_softmax_by_hand(&preds)?;
    println!("torch.Size({:?})", sm_preds.dims());
    println!("{}", sm_preds.narrow(0, 0, 3)?);
    println!("# every entry near log(1/10) = -2.3026: an untrained model is unsure of every class");

    cell("loss = nll(sm_preds, y_train); F.nll_loss(F.log_softmax(preds, -1), y_train); F.cross_entropy(preds, y_train)");
    let by_hand = nll(&sm_preds, &y_train)?;
    let nll_loss = F::nll_loss(&F::log_softmax(&preds, -1)?, &y_train)?;
    let start = Instant::now();
    let loss = F::cross_entropy(&preds, &y_train)?;
    let loss_ms = start.elapsed().as_secs_f64() * 1e3;
    println!("{by_hand}\n{nll_loss}\n{loss}");
    println!("# the post: tensor({PRINTED_MNIST_LOSS}, grad_fn=<NllLossBackward>) (its own random weights);");
    println!(
        "# the three agree to {:.1e}; cross_entropy took {loss_ms:.1} ms",
        (by_hand.item()? - loss.item()?).abs()
    );

    cell("loss.backward()");
    let start = Instant::now();
    loss.backward()?;
    let backward_ms = start.elapsed().as_secs_f64() * 1e3;
    for (name, p) in model.named_parameters() {
        let grad = p.grad().map_or("None".to_string(), |g| format!("{:?}", g.dims()));
        println!("{name:<9} {:?}  grad {grad}", p.dims());
    }
    println!("backward: {backward_ms:.1} ms (forward {forward_ms:.1} ms)");
    Ok(())
}
