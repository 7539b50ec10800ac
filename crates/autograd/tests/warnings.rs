//! Pitfall warnings: each fires for its mistake (the seeds' mistakes among them), stays silent
//! for correct use, is shown once per call site by default, and follows the global mode.
//!
//! Warnings are recorded with `warnings::capture` (per thread, so parallel tests do not mix).
//! The mode is global, so every test holds `LOCK` and sets the mode it expects.

use std::sync::{Mutex, MutexGuard};
use torchlet_autograd::functional::{self as F, KlDivOpts, Reduction};
use torchlet_autograd::warnings::{self, WarningMode};
use torchlet_autograd::{DType, Generator, Result, Tensor, TensorData};

static LOCK: Mutex<()> = Mutex::new(());

/// Serialises the tests and sets `mode` (restored to `Once` when the guard drops).
struct ModeGuard(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Drop for ModeGuard {
    fn drop(&mut self) {
        warnings::set_mode(WarningMode::Once);
    }
}

fn mode(m: WarningMode) -> ModeGuard {
    let g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    warnings::set_mode(m);
    ModeGuard(g)
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::from_data(TensorData::randn_with(shape, DType::F32, &mut Generator::new(seed)).unwrap())
}

fn classes(v: Vec<i64>) -> Tensor {
    Tensor::from(v)
}

/// The warnings `f` emits, with its result checked to be `Ok`.
fn warned(f: impl FnOnce() -> Result<Tensor>) -> Vec<String> {
    let (r, w) = warnings::capture(f);
    r.unwrap();
    w
}

fn assert_one(w: &[String], start: &str) {
    assert_eq!(w.len(), 1, "expected one warning, got {w:#?}");
    let prefix = format!("torchlet warning: {start}");
    assert!(w[0].starts_with(&prefix), "{:?} does not start with {prefix:?}", w[0]);
    assert!(w[0].contains(&format!("(at {}:", file!())), "no call site in {:?}", w[0]);
}

const CE: &str = "cross_entropy expects raw logits; applying softmax/sigmoid first makes the loss wrong";

// ----- cross_entropy ---------------------------------------------------------------------------

#[test]
fn cross_entropy_warns_on_softmax_outputs() {
    let _m = mode(WarningMode::Once);
    let x = randn(&[4, 3], 1);
    let w = warned(|| F::cross_entropy(&x.softmax(1)?, &classes(vec![0, 1, 2, 1])));
    assert_one(&w, CE);
    assert!(w[0].contains("every row sums to 1"), "{}", w[0]);
    // Probability targets too: the input is what matters.
    let t = randn(&[4, 3], 2).softmax(1).unwrap();
    assert_one(&warned(|| F::cross_entropy(&x.softmax(1)?, &t)), CE);
    // (N, C, d) inputs: softmax over the class dim, rows are gathered across the layout.
    let x3 = randn(&[2, 3, 5], 3);
    assert_one(
        &warned(|| F::cross_entropy(&x3.softmax(1)?, &Tensor::from([[0i64, 1, 2, 0, 1], [2, 2, 1, 0, 0]]))),
        CE,
    );
}

#[test]
fn cross_entropy_warns_on_sigmoid_outputs() {
    let _m = mode(WarningMode::Once);
    // Seed 003: nn.CrossEntropyLoss()(torch.sigmoid(last_layer), truth).
    let last_layer = Tensor::from([
        [-0.7833f32, -0.6955],
        [-0.3951, -1.2426],
        [0.5134, -1.4385],
        [-0.5044, 0.4975],
        [-1.4518, -1.5407],
    ]);
    let truth = classes(vec![0, 0, 0, 1, 0]);
    let (loss, w) = warnings::capture(|| F::cross_entropy(&last_layer.sigmoid()?, &truth));
    assert_one(&w, CE);
    assert!(w[0].contains("after a sigmoid"), "{}", w[0]);
    assert!(w[0].contains("nll_loss") && w[0].contains("binary_cross_entropy"), "no hint in {}", w[0]);
    // The value is untouched by the check: PyTorch printed tensor(0.6149).
    assert!((loss.unwrap().item().unwrap() - 0.6149).abs() < 1e-4);
}

#[test]
fn cross_entropy_is_silent_for_logits() {
    let _m = mode(WarningMode::Always);
    let t = classes(vec![0, 1, 2]);
    // Ordinary logits.
    assert!(warned(|| F::cross_entropy(&randn(&[3, 3], 4), &t)).is_empty());
    // Logits that happen to lie in [0, 1] for some rows (one even sums to 1), but not all.
    let x = Tensor::from([[0.2f32, 0.3, 0.5], [0.1, 0.9, 0.4], [1.7, -0.3, 0.2]]);
    assert!(warned(|| F::cross_entropy(&x, &t)).is_empty());
    // Values in [0, 1] with a 0 or 1 in them whose rows do not all sum to 1 (neither softmax nor sigmoid).
    let x = Tensor::from([[0.0f32, 1.0, 0.5], [0.2, 0.3, 0.5], [0.0, 0.0, 0.0]]);
    assert!(warned(|| F::cross_entropy(&x, &t)).is_empty());
    // log_softmax output is a valid input (cross_entropy is shift-invariant per row).
    assert!(warned(|| F::cross_entropy(&randn(&[3, 3], 5).log_softmax(1)?, &t)).is_empty());
    // Off-by-one rows: mostly in range, one NaN-free negative value.
    let x = Tensor::from([[0.2f32, 0.3, 0.5], [0.1, 0.6, 0.3], [0.5, 0.5, -0.001]]);
    assert!(warned(|| F::cross_entropy(&x, &t)).is_empty());
}

// ----- nll_loss -------------------------------------------------------------------------------

#[test]
fn nll_loss_warns_on_probabilities_not_on_log_softmax() {
    let _m = mode(WarningMode::Always);
    let x = randn(&[4, 5], 6);
    let t = classes(vec![4, 0, 2, 1]);
    let w = warned(|| F::nll_loss(&x.softmax(1)?, &t));
    assert_one(&w, "nll_loss expects log-probabilities (values <= 0, e.g. from log_softmax)");
    // Raw logits (some positive) are the other mistake it catches.
    assert_one(
        &warned(|| F::nll_loss(&x, &t)),
        "nll_loss expects log-probabilities (values <= 0, e.g. from log_softmax)",
    );
    assert!(warned(|| F::nll_loss(&x.log_softmax(1)?, &t)).is_empty());
    // log(p) of probabilities is fine too.
    assert!(warned(|| F::nll_loss(&x.softmax(1)?.log()?, &t)).is_empty());
}

// ----- kl_div ---------------------------------------------------------------------------------

const KL_POS: &str = "kl_div expects log-probabilities as input (values <= 0); got a positive value";
const KL_MEAN: &str = "kl_div: reduction Mean divides by the number of elements";

#[test]
fn kl_div_warns_on_probability_inputs() {
    let _m = mode(WarningMode::Always);
    let p = randn(&[3, 4], 7).softmax(1).unwrap();
    let q = randn(&[3, 4], 8).softmax(1).unwrap();
    let batchmean = KlDivOpts::default().reduction(Reduction::BatchMean);
    let w = warned(|| F::kl_div_with(&p, &q, &batchmean));
    assert_one(&w, KL_POS);
    assert!(w[0].contains("log_softmax / .log()"), "{}", w[0]);
    // The correct call: log-probabilities in, probabilities as the target, batchmean.
    assert!(warned(|| F::kl_div_with(&p.log()?, &q, &batchmean)).is_empty());
    assert!(warned(|| F::kl_div_with(&randn(&[3, 4], 9).log_softmax(1)?, &q, &batchmean)).is_empty());
    // log_target: both sides log-probabilities.
    let both_log = batchmean.clone().log_target(true);
    assert!(warned(|| F::kl_div_with(&p.log()?, &q.log()?, &both_log)).is_empty());
}

#[test]
fn kl_div_warns_on_mean() {
    let _m = mode(WarningMode::Always);
    let lp = randn(&[3, 4], 10).log_softmax(1).unwrap();
    let q = randn(&[3, 4], 11).softmax(1).unwrap();
    // Seed 001: KLDivLoss's default mean is not the KL divergence.
    assert_one(&warned(|| F::kl_div(&lp, &q)), KL_MEAN);
    // Both mistakes at once: two warnings.
    let w = warned(|| F::kl_div(&q, &q));
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(w.iter().any(|l| l.contains(KL_MEAN)) && w.iter().any(|l| l.contains(KL_POS)));
    for r in [Reduction::BatchMean, Reduction::Sum, Reduction::None] {
        assert!(warned(|| F::kl_div_with(&lp, &q, &KlDivOpts::default().reduction(r))).is_empty());
    }
}

// ----- mse_loss -------------------------------------------------------------------------------

#[test]
fn mse_loss_warns_on_broadcasting_shapes() {
    let _m = mode(WarningMode::Always);
    let x = Tensor::from(vec![1.0f32, 2.0, 3.0]);
    let col = Tensor::from([[1.0f32], [2.0], [3.0]]);
    // [3] vs [3, 1] broadcasts to [3, 3]: nine differences where three were meant.
    let (loss, w) = warnings::capture(|| F::mse_loss(&x, &col));
    assert_one(&w, "mse_loss: Using a target size ([3, 1]) that is different to the input size ([3])");
    // (0 + 1 + 4) + (1 + 0 + 1) + (4 + 1 + 0) = 12 over 9 elements.
    assert!((loss.unwrap().item().unwrap() - 12.0 / 9.0).abs() < 1e-6);
    assert_one(&warned(|| F::mse_loss_with(&col, &x, Reduction::Sum)), "mse_loss: Using a target size ([3])");
    assert!(warned(|| F::mse_loss(&x, &x.mul_scalar(2.0)?)).is_empty());
    assert!(warned(|| F::mse_loss(&col, &col)).is_empty());
}

// ----- modes and call sites ---------------------------------------------------------------------

fn probs() -> Tensor {
    randn(&[2, 3], 12).softmax(1).unwrap()
}

fn two_classes() -> Tensor {
    classes(vec![0, 2])
}

#[test]
fn once_per_call_site() {
    let _m = mode(WarningMode::Once);
    let (x, t) = (probs(), two_classes());
    // One call site, three calls: one warning.
    let (_, w) = warnings::capture(|| {
        for _ in 0..3 {
            F::cross_entropy(&x, &t).unwrap();
        }
    });
    assert_one(&w, CE);
    // Another loop is another call site: one more.
    let (_, w) = warnings::capture(|| {
        for _ in 0..2 {
            F::cross_entropy(&x, &t).unwrap();
        }
    });
    assert_eq!(w.len(), 1, "{w:#?}");
    // Two sites: one warning each, naming different lines.
    let (_, w) = warnings::capture(|| {
        F::cross_entropy(&x, &t).unwrap();
        F::cross_entropy_with(&x, &t, &Default::default()).unwrap();
    });
    assert_eq!(w.len(), 2, "{w:#?}");
    assert_ne!(w[0], w[1]);
    // The reported site is this file's line, not the library's.
    let line = line!() + 1;
    let (_, w) = warnings::capture(|| F::cross_entropy(&x, &t).unwrap());
    assert!(w[0].ends_with(&format!("(at {}:{line}:39)", file!())), "{}", w[0]);
}

#[test]
fn repeated_site_in_a_helper_warns_once() {
    let _m = mode(WarningMode::Once);
    fn step(x: &Tensor, t: &Tensor) -> Tensor {
        F::nll_loss(x, t).unwrap()
    }
    let (x, t) = (probs(), two_classes());
    let (_, w) = warnings::capture(|| (0..5).for_each(|_| drop(step(&x, &t))));
    assert_eq!(w.len(), 1, "{w:#?}");
    let (_, w) = warnings::capture(|| (0..5).for_each(|_| drop(step(&x, &t))));
    assert!(w.is_empty(), "already shown at that site: {w:#?}");
}

#[test]
fn always_repeats_and_off_silences() {
    let _m = mode(WarningMode::Always);
    assert_eq!(warnings::mode(), WarningMode::Always);
    let (x, t) = (probs(), two_classes());
    let (_, w) = warnings::capture(|| (0..3).for_each(|_| drop(F::cross_entropy(&x, &t).unwrap())));
    assert_eq!(w.len(), 3, "{w:#?}");

    warnings::set_mode(WarningMode::Off);
    assert_eq!(warnings::mode(), WarningMode::Off);
    let (_, w) = warnings::capture(|| {
        F::cross_entropy(&x, &t).unwrap();
        F::nll_loss(&x, &t).unwrap();
        F::kl_div(&x, &x).unwrap();
        F::mse_loss(&Tensor::from(vec![1.0f32, 2.0]), &Tensor::from([[1.0f32], [2.0]])).unwrap();
    });
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn checks_do_not_change_results() {
    let _m = mode(WarningMode::Always);
    let (x, t) = (probs().detach().requires_grad_(true).unwrap(), two_classes());
    let (on, w) = warnings::capture(|| F::cross_entropy(&x, &t).unwrap());
    assert_eq!(w.len(), 1);
    on.backward().unwrap();
    let g_on = x.grad().unwrap().to_f64_vec();
    x.zero_grad();
    warnings::set_mode(WarningMode::Off);
    let off = F::cross_entropy(&x, &t).unwrap();
    off.backward().unwrap();
    assert_eq!(on.item().unwrap().to_bits(), off.item().unwrap().to_bits());
    assert_eq!(g_on, x.grad().unwrap().to_f64_vec());
}

#[test]
fn mode_parses_like_the_environment_variable() {
    assert_eq!("off".parse::<WarningMode>().unwrap(), WarningMode::Off);
    assert_eq!(" Always ".parse::<WarningMode>().unwrap(), WarningMode::Always);
    assert_eq!("once".parse::<WarningMode>().unwrap(), WarningMode::Once);
    assert!("loud".parse::<WarningMode>().is_err());
    assert_eq!(WarningMode::default(), WarningMode::Once);
    assert_eq!(WarningMode::Always.to_string(), "always");
}

#[test]
fn capture_is_per_thread_and_nests() {
    let _m = mode(WarningMode::Always);
    let (x, t) = (probs(), two_classes());
    let ((inner, other), outer) = warnings::capture(|| {
        let (_, inner) = warnings::capture(|| F::cross_entropy(&x, &t).unwrap());
        // Another thread's warnings go to its own sink (here: its own capture).
        let other = std::thread::scope(|s| {
            s.spawn(|| warnings::capture(|| F::cross_entropy(&probs(), &two_classes()).unwrap()).1)
                .join()
                .unwrap()
        });
        F::cross_entropy(&x, &t).unwrap();
        (inner, other)
    });
    assert_eq!((inner.len(), other.len(), outer.len()), (1, 1, 1));
}
