//! Loss modules forward their options to the functional losses: values from the seed
//! notebooks (printed by PyTorch) and by hand.

use torchlet_autograd::functional::Reduction;
use torchlet_autograd::{DType, Tensor};
use torchlet_nn::{
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, KLDivLoss, MSELoss, NLLLoss,
};

fn close(t: Tensor, want: f64, tol: f64) {
    let got = t.item().unwrap();
    assert!((got - want).abs() <= tol, "got {got}, want {want}");
}

#[test]
fn cross_entropy_loss_matches_the_seeds() {
    // Seed 002: logits [0, 0, 0, 1] with target 3 gives 0.7437 = ln(3 + e) - 1.
    let x = Tensor::from([[0.0f32, 0.0, 0.0, 1.0]]);
    close(CrossEntropyLoss::new().forward(&x, &Tensor::from(vec![3i64])).unwrap(), 0.7437, 1e-4);
    // Seed 003 (In [189]): sigmoid outputs as logits, truth [0, 0, 0, 1, 0] -> tensor(0.6149).
    let p = Tensor::from([
        [0.3136f32, 0.3328],
        [0.4025, 0.2240],
        [0.6256, 0.1918],
        [0.3765, 0.6219],
        [0.1897, 0.1764],
    ]);
    let loss = CrossEntropyLoss::new().forward(&p, &Tensor::from(vec![0i64, 0, 0, 1, 0])).unwrap();
    close(loss, 0.6149, 1e-4);
}

#[test]
fn cross_entropy_loss_options_are_used() {
    // logits [0, ln 3] -> log-probs [ln 1/4, ln 3/4]; target 1, label_smoothing 0.2, C = 2:
    // 0.8 * (-ln 3/4) + (0.2/2) * (-(ln 1/4 + ln 3/4)) = 0.8*0.287682 + 0.1*1.673976 = 0.397544
    let x = Tensor::with_dtype([[0.0f64, 3.0f64.ln()]], DType::F64);
    let t = Tensor::from(vec![1i64]);
    close(CrossEntropyLoss::new().label_smoothing(0.2).forward(&x, &t).unwrap(), 0.397544, 1e-6);
    // ignore_index = 1 ignores the only sample: mean over nothing is NaN.
    assert!(CrossEntropyLoss::new().ignore_index(1).forward(&x, &t).unwrap().item().unwrap().is_nan());
    // reduction none keeps the per-sample loss -ln 3/4.
    let none = CrossEntropyLoss::new().reduction(Reduction::None).forward(&x, &t).unwrap();
    assert_eq!(none.dims(), vec![1]);
}

#[test]
fn bce_loss_matches_seed_003() {
    // In [96]: BCELoss on these predictions and 0/1 truth -> tensor(0.5796).
    let p = Tensor::from([
        [0.1167f32, 0.5521, 0.6312],
        [0.3506, 0.7541, 0.6043],
        [0.6861, 0.7007, 0.5714],
        [0.7413, 0.8510, 0.6266],
        [0.6276, 0.3715, 0.2140],
    ]);
    let t = Tensor::from([
        [0.0f32, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 1.0, 1.0],
        [1.0, 1.0, 1.0],
        [1.0, 0.0, 0.0],
    ]);
    close(BCELoss::new().forward(&p, &t).unwrap(), 0.5796, 1e-4);
}

#[test]
fn other_losses_by_hand() {
    // NLL: -x[0, 1] = 2; with class weights [1, 3]: -3*(-2) / 3 = 2 (mean divides by the weight).
    let lp = Tensor::with_dtype([[-1.0f64, -2.0]], DType::F64);
    let t = Tensor::from(vec![1i64]);
    close(NLLLoss::new().forward(&lp, &t).unwrap(), 2.0, 1e-12);
    close(
        NLLLoss::new()
            .weight(Tensor::with_dtype(vec![1.0f64, 3.0], DType::F64))
            .reduction(Reduction::Sum)
            .forward(&lp, &t)
            .unwrap(),
        6.0,
        1e-12,
    );
    // MSE: ((1-0)^2 + (2-0)^2) / 2 = 2.5; sum 5.
    let (a, z) = (
        Tensor::with_dtype(vec![1.0f64, 2.0], DType::F64),
        Tensor::with_dtype(vec![0.0f64, 0.0], DType::F64),
    );
    close(MSELoss::new().forward(&a, &z).unwrap(), 2.5, 1e-12);
    close(MSELoss::new().reduction(Reduction::Sum).forward(&a, &z).unwrap(), 5.0, 1e-12);
    // BCE with logits: x = 0, t = 1 -> -ln sigmoid(0) = ln 2.
    let x0 = Tensor::with_dtype(vec![0.0f64], DType::F64);
    close(
        BCEWithLogitsLoss::new().forward(&x0, &Tensor::with_dtype(vec![1.0f64], DType::F64)).unwrap(),
        2f64.ln(),
        1e-12,
    );
    // KL(p || p) = 0.
    let p = Tensor::with_dtype([[0.5f64, 0.5]], DType::F64);
    let kl = KLDivLoss::new().reduction(Reduction::BatchMean).forward(&p.log().unwrap(), &p).unwrap();
    close(kl, 0.0, 1e-12);
    // Cosine embedding: orthogonal pair with y = 1 -> 1 - 0 = 1; identical pair with
    // y = -1 and margin 0.5 -> max(0, 1 - 0.5) = 0.5.
    let (e0, e1) =
        (Tensor::with_dtype([[1.0f64, 0.0]], DType::F64), Tensor::with_dtype([[0.0f64, 1.0]], DType::F64));
    close(CosineEmbeddingLoss::new().forward(&e0, &e1, &Tensor::from(vec![1i64])).unwrap(), 1.0, 1e-9);
    let l = CosineEmbeddingLoss::new().margin(0.5).forward(&e0, &e0, &Tensor::from(vec![-1i64])).unwrap();
    close(l, 0.5, 1e-9);
}

#[test]
fn loss_modules_report_the_callers_line_in_warnings() {
    use torchlet_autograd::warnings::{self, WarningMode};
    // The mode is global: no other test of this binary relies on it (nor on warnings).
    warnings::set_mode(WarningMode::Once);
    let probs = Tensor::from([[0.2f32, 0.8], [0.6, 0.4]]);
    let (t, log_probs, column) =
        (Tensor::from(vec![1i64, 0]), probs.log().unwrap(), Tensor::from([[0.5f32], [0.5]]));
    let ce = line!() + 1;
    let (r1, w1) = warnings::capture(|| CrossEntropyLoss::new().forward(&probs, &t));
    let nll = line!() + 1;
    let (r2, w2) = warnings::capture(|| NLLLoss::new().forward(&probs, &t));
    let kl = line!() + 1;
    let (r3, w3) = warnings::capture(|| KLDivLoss::new().forward(&log_probs, &probs));
    let mse = line!() + 1;
    let (r4, w4) = warnings::capture(|| MSELoss::new().forward(&probs, &column));
    for r in [r1, r2, r3, r4] {
        r.unwrap();
    }
    for (w, line, what) in
        [(w1, ce, "cross_entropy"), (w2, nll, "nll_loss"), (w3, kl, "kl_div"), (w4, mse, "mse_loss")]
    {
        assert_eq!(w.len(), 1, "{what}: {w:#?}");
        assert!(w[0].contains(what), "{}", w[0]);
        assert!(w[0].contains(&format!("(at {}:{line}:", file!())), "{what} names the wrong line: {}", w[0]);
    }
}
