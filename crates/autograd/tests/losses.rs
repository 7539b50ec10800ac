//! Every loss, with every option combination, checked against central finite differences
//! (f64 `gradcheck`), plus every error condition (variant and key words of the message).
//! Forward values are checked against PyTorch by the parity cases (`tests/parity.rs`); the
//! few values asserted here are hand-derived in comments.

use torchlet_autograd::functional::{self as F, Reduction};
use torchlet_autograd::{gradcheck, DType, Error, Generator, Result, Shape, Tensor, TensorData};

const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

fn randn(shape: &[usize], seed: u64) -> TensorData {
    TensorData::randn_with(shape, DType::F64, &mut Generator::new(seed)).unwrap()
}

/// Values in `(lo, hi)`: `lo + (hi - lo) * sigmoid(randn)`.
fn between(shape: &[usize], seed: u64, lo: f64, hi: f64) -> TensorData {
    randn(shape, seed).sigmoid().unwrap().mul_scalar(hi - lo).unwrap().add_scalar(lo).unwrap()
}

fn t(d: TensorData) -> Tensor {
    Tensor::from_data(d)
}

fn idx(v: Vec<i64>, shape: &[usize]) -> TensorData {
    TensorData::from_vec(v, Shape::new(shape)).unwrap()
}

fn check(name: &str, f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: Vec<TensorData>) {
    match gradcheck(f, &inputs, 1e-6, 1e-7, 1e-5) {
        Ok(r) => assert!(r.checked > 0, "{name}: nothing was checked"),
        Err(e) => panic!("{name}: {e}"),
    }
}

/// `(input shape, target shape)` for the three class-index layouts: `(C)/()`, `(N,C)/(N)`,
/// `(N,C,d1,d2)/(N,d1,d2)`, with C = 4.
fn index_layouts() -> Vec<(Vec<usize>, Vec<usize>)> {
    vec![(vec![4], vec![]), (vec![5, 4], vec![5]), (vec![2, 4, 2, 3], vec![2, 2, 3])]
}

/// Class indices in [0, 4) that include class 1 (the ignore_index used below) several times,
/// but not first (a lone 0-D target is not ignored, which would make `mean` NaN).
fn targets(shape: &[usize]) -> TensorData {
    let n: usize = shape.iter().product();
    idx((0..n).map(|i| [3, 1, 0, 1, 2][i % 5]).collect(), shape)
}

fn weight4() -> Tensor {
    t(TensorData::from(vec![0.5f64, 2.0, 1.0, 1.5]))
}

// ----- cross_entropy ---------------------------------------------------------------------

#[test]
fn cross_entropy_index_targets_gradcheck_all_options() {
    for (xs, ts) in index_layouts() {
        for red in REDUCTIONS {
            for weighted in [false, true] {
                for ignore in [-100, 1] {
                    for ls in [0.0, 0.2] {
                        let mut o = F::CrossEntropyOpts::default()
                            .reduction(red)
                            .ignore_index(ignore)
                            .label_smoothing(ls);
                        if weighted {
                            o = o.weight(weight4());
                        }
                        let name =
                            format!("cross_entropy {xs:?} {red:?} w={weighted} ignore={ignore} ls={ls}");
                        check(
                            &name,
                            |a| F::cross_entropy_with(&a[0], &a[1], &o),
                            vec![randn(&xs, 1), targets(&ts)],
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn cross_entropy_probability_targets_gradcheck_all_options() {
    for xs in [vec![4], vec![3, 4], vec![2, 4, 3]] {
        let class_dim = if xs.len() == 1 { 0 } else { 1 };
        let probs = randn(&xs, 2).softmax(class_dim).unwrap();
        for red in REDUCTIONS {
            for weighted in [false, true] {
                for ls in [0.0, 0.3] {
                    let mut o = F::CrossEntropyOpts::default().reduction(red).label_smoothing(ls);
                    if weighted {
                        o = o.weight(weight4());
                    }
                    let name = format!("cross_entropy probs {xs:?} {red:?} w={weighted} ls={ls}");
                    // Gradients are checked for both the logits and the target probabilities.
                    check(
                        &name,
                        |a| F::cross_entropy_with(&a[0], &a[1], &o),
                        vec![randn(&xs, 3), probs.clone()],
                    );
                }
            }
        }
    }
}

#[test]
fn cross_entropy_hand_values_and_grad_fn() {
    // logits [0, 0, 0, 1], target 3 (seed 002): -ln(e / (3 + e)) = ln(3 + e) - 1 = 0.7436683806.
    let x = t(TensorData::from(vec![0.0f64, 0.0, 0.0, 1.0])).requires_grad_(true).unwrap();
    let l = F::cross_entropy(&x, &t(TensorData::scalar(3i64))).unwrap();
    assert!((l.item().unwrap() - 0.7436683806).abs() < 1e-9);
    assert_eq!(l.grad_fn(), Some("NllLossBackward0"));
    l.backward().unwrap();
    // d/dx = softmax(x) - onehot(3) = [1, 1, 1, e] / (3 + e) - [0, 0, 0, 1].
    let e = std::f64::consts::E;
    let want = [1.0 / (3.0 + e), 1.0 / (3.0 + e), 1.0 / (3.0 + e), e / (3.0 + e) - 1.0];
    for (g, w) in x.grad().unwrap().to_f64_vec().iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
    let ls = F::cross_entropy_with(
        &x,
        &t(TensorData::scalar(3i64)),
        &F::CrossEntropyOpts::default().label_smoothing(0.1),
    );
    assert_eq!(ls.unwrap().grad_fn(), Some("AddBackward0"));
}

#[test]
fn cross_entropy_all_ignored_mean_is_nan_with_zero_gradient() {
    let x = t(randn(&[3, 4], 4)).requires_grad_(true).unwrap();
    let l = F::cross_entropy(&x, &t(idx(vec![-100; 3], &[3]))).unwrap();
    assert!(l.item().unwrap().is_nan());
    l.backward().unwrap();
    assert!(x.grad().unwrap().to_f64_vec().iter().all(|&g| g == 0.0));
    // sum of nothing is 0
    let s = F::cross_entropy_with(
        &x,
        &t(idx(vec![-100; 3], &[3])),
        &F::CrossEntropyOpts::default().reduction(Reduction::Sum),
    );
    assert_eq!(s.unwrap().item().unwrap(), 0.0);
}

#[test]
fn cross_entropy_large_logits_stay_finite_f32() {
    // Logits of magnitude 1e4: the max subtraction keeps everything finite. Row [1e4, 0] with
    // target 1 has loss 1e4 exactly (log-sum-exp = 1e4 in f32).
    let x = t(TensorData::from([[10000.0f32, 0.0], [0.0, -10000.0]])).requires_grad_(true).unwrap();
    let l = F::cross_entropy_with(
        &x,
        &t(idx(vec![1, 0], &[2])),
        &F::CrossEntropyOpts::default().reduction(Reduction::None),
    )
    .unwrap();
    assert_eq!(l.to_vec::<f32>().unwrap(), vec![10000.0, 0.0]);
    l.sum().unwrap().backward().unwrap();
    assert!(x.grad().unwrap().to_f64_vec().iter().all(|g| g.is_finite()));
}

fn err_of(r: Result<Tensor>) -> Error {
    match r {
        Err(e) => e,
        Ok(t) => panic!("expected an error, got {t}"),
    }
}

fn assert_words(e: &Error, words: &[&str]) {
    let msg = e.to_string();
    for w in words {
        assert!(msg.contains(w), "message {msg:?} lacks {w:?}");
    }
}

#[test]
fn cross_entropy_errors() {
    let x = t(randn(&[2, 4], 5));
    let ce = |tg: TensorData, o: F::CrossEntropyOpts| F::cross_entropy_with(&x, &t(tg), &o);
    let d = F::CrossEntropyOpts::default;

    let e = err_of(ce(idx(vec![0, 4], &[2]), d()));
    assert!(matches!(e, Error::IndexOutOfRange { index: 4, size: 4, .. }), "{e:?}");
    assert_words(&e, &["cross_entropy", "Target 4 is out of bounds", "[0, 4)", "ignore_index -100"]);

    let e = err_of(ce(idx(vec![-3, 0], &[2]), d()));
    assert!(matches!(e, Error::IndexOutOfRange { index: -3, .. }), "{e:?}");
    assert_words(&e, &["Target -3 is out of bounds"]);

    let e = err_of(F::cross_entropy(&t(randn(&[3, 4], 5)), &t(idx(vec![0, 1], &[2]))));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert_words(&e, &["Expected input batch_size (3) to match target batch_size (2)", "[3, 4]", "[2]"]);

    let e = err_of(ce(idx(vec![0, 1], &[2]), d().weight(t(TensorData::from(vec![1.0f64, 1.0, 1.0])))));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert_words(&e, &["weight tensor should be defined either for all 4 classes", "[3]"]);

    for ls in [-0.1, 1.5] {
        let e = err_of(ce(idx(vec![0, 1], &[2]), d().label_smoothing(ls)));
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        assert_words(&e, &["label_smoothing must be between 0.0 and 1.0"]);
    }

    let e = err_of(ce(idx(vec![0, 1], &[2]), d().reduction(Reduction::BatchMean)));
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert_words(&e, &["BatchMean", "kl_div"]);

    // Float targets of another shape than the input: neither indices nor probabilities.
    let e = err_of(ce(randn(&[2, 3], 6), d()));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert_words(&e, &["0D or 1D target tensor expected, multi-target not supported", "probabilities"]);

    // Float class indices of shape (N): must be i64.
    let e = err_of(ce(TensorData::from(vec![0.0f64, 1.0]), d()));
    assert!(matches!(e, Error::DTypeMismatch { got: DType::F64, .. }), "{e:?}");
    assert_words(&e, &["i64"]);

    // Integer targets of the input's shape: probabilities must be float.
    let e = err_of(ce(idx(vec![0; 8], &[2, 4]), d()));
    assert!(matches!(e, Error::DTypeMismatch { got: DType::I64, .. }), "{e:?}");
    assert_words(&e, &["Expected floating point type for target with class probabilities"]);

    // ignore_index >= 0 with probability targets (negative values, like the default, are fine).
    let probs = randn(&[2, 4], 7).softmax(1).unwrap();
    let e = err_of(ce(probs.clone(), d().ignore_index(1)));
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert_words(&e, &["ignore_index is not supported for floating point target"]);
    assert!(ce(probs, d().ignore_index(-5)).is_ok());

    // K-dim: spatial target shape mismatch; a 0-d input.
    let e = err_of(F::cross_entropy(&t(randn(&[2, 4, 3], 8)), &t(idx(vec![0; 4], &[2, 2]))));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert_words(&e, &["Expected target size [2, 3]"]);
    let e = err_of(F::cross_entropy(&t(TensorData::scalar(1.0f64)), &t(TensorData::scalar(0i64))));
    assert_words(&e, &["Expected 1 or more dimensions"]);
}

// ----- nll_loss ----------------------------------------------------------------------------

#[test]
fn nll_loss_gradcheck_all_options() {
    for (xs, ts) in index_layouts() {
        let class_dim = if xs.len() == 1 { 0 } else { 1 };
        for red in REDUCTIONS {
            for weighted in [false, true] {
                for ignore in [-100, 1] {
                    let mut o = F::NllLossOpts::default().reduction(red).ignore_index(ignore);
                    if weighted {
                        o = o.weight(weight4());
                    }
                    let name = format!("nll_loss {xs:?} {red:?} w={weighted} ignore={ignore}");
                    let logp = randn(&xs, 9).log_softmax(class_dim).unwrap();
                    check(&name, |a| F::nll_loss_with(&a[0], &a[1], &o), vec![logp, targets(&ts)]);
                }
            }
        }
    }
}

#[test]
fn nll_loss_weighted_mean_hand_value() {
    // l = -(w[1] x[0,1] + w[0] x[1,0]) / (w[1] + w[0]) = -(2 * -1 + 0.5 * -3) / 2.5 = 1.4
    let x = t(TensorData::from([[0.0f64, -1.0, -2.0, -4.0], [-3.0, 0.0, 0.0, 0.0]]));
    let o = F::NllLossOpts::default().weight(weight4());
    let l = F::nll_loss_with(&x, &t(idx(vec![1, 0], &[2])), &o).unwrap();
    assert!((l.item().unwrap() - 1.4).abs() < 1e-12);
}

#[test]
fn nll_loss_errors() {
    let x = t(randn(&[2, 3], 10));
    let e = err_of(F::nll_loss(&x, &t(idx(vec![0, 3], &[2]))));
    assert!(matches!(e, Error::IndexOutOfRange { index: 3, size: 3, .. }), "{e:?}");
    assert_words(&e, &["nll_loss", "Target 3 is out of bounds"]);
    let e = err_of(F::nll_loss(&x, &t(idx(vec![0, -1], &[2]))));
    assert_words(&e, &["Target -1 is out of bounds"]);
    let e = err_of(F::nll_loss(&x, &t(idx(vec![0, 1, 2], &[3]))));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert_words(&e, &["Expected input batch_size (2) to match target batch_size (3)"]);
    let e = err_of(F::nll_loss(&x, &t(TensorData::from(vec![0.0f64, 1.0]))));
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e:?}");
    assert_words(&e, &["i64"]);
    let e =
        err_of(F::nll_loss_with(&x, &t(idx(vec![0, 1], &[2])), &F::NllLossOpts::default().weight(weight4())));
    assert_words(&e, &["weight tensor should be defined either for all 3 classes", "[4]"]);
    let e = err_of(F::nll_loss_with(
        &x,
        &t(idx(vec![0, 1], &[2])),
        &F::NllLossOpts::default().reduction(Reduction::BatchMean),
    ));
    assert_words(&e, &["BatchMean"]);
    // A target equal to ignore_index may lie outside [0, C).
    assert!(
        F::nll_loss_with(&x, &t(idx(vec![0, 7], &[2])), &F::NllLossOpts::default().ignore_index(7)).is_ok()
    );
}

// ----- binary cross-entropy ------------------------------------------------------------------

#[test]
fn bce_gradcheck_all_options() {
    for shape in [vec![5], vec![2, 3], vec![2, 3, 2]] {
        let last = *shape.last().unwrap();
        for red in REDUCTIONS {
            // no weight, a full weight, a weight broadcast along the last dim
            for weight in [None, Some(between(&shape, 11, 0.5, 2.0)), Some(between(&[last], 12, 0.5, 2.0))] {
                let mut o = F::BceOpts::default().reduction(red);
                if let Some(w) = &weight {
                    o = o.weight(t(w.clone()));
                }
                let name =
                    format!("bce {shape:?} {red:?} w={:?}", weight.as_ref().map(|w| w.shape().clone()));
                let (p, tg) = (between(&shape, 13, 0.05, 0.95), between(&shape, 14, 0.1, 0.9));
                check(&name, |a| F::binary_cross_entropy_with(&a[0], &a[1], &o), vec![p, tg]);
            }
        }
    }
}

#[test]
fn bce_log_clamp_keeps_edges_finite() {
    // p = 0 with t = 1 and p = 1 with t = 0: -max(ln 0, -100) = 100 (the -100 clamp).
    let p = t(TensorData::from(vec![0.0f64, 1.0, 0.0, 1.0]));
    let tg = t(TensorData::from(vec![1.0f64, 0.0, 0.0, 1.0]));
    let l = F::binary_cross_entropy_with(&p, &tg, &F::BceOpts::default().reduction(Reduction::None)).unwrap();
    assert_eq!(l.to_f64_vec(), vec![100.0, 100.0, 0.0, 0.0]);
}

#[test]
fn bce_errors() {
    let ok = t(TensorData::from(vec![0.2f64, 0.7]));
    let e = err_of(F::binary_cross_entropy(&t(TensorData::from(vec![0.2f64, 1.5])), &ok));
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert_words(
        &e,
        &["binary_cross_entropy", "all elements of input should be between 0 and 1", "1.5", "with_logits"],
    );
    let e = err_of(F::binary_cross_entropy(&t(TensorData::from(vec![-0.1f64, 0.5])), &ok));
    assert_words(&e, &["all elements of input should be between 0 and 1"]);
    let e = err_of(F::binary_cross_entropy(&ok, &t(TensorData::from(vec![0.0f64, 4.0]))));
    assert_words(&e, &["all elements of target should be between 0 and 1", "4"]);
    let e = err_of(F::binary_cross_entropy(&ok, &t(TensorData::from(vec![-1.0f64, 0.0]))));
    assert_words(&e, &["all elements of target should be between 0 and 1"]);
    let e = err_of(F::binary_cross_entropy(&t(TensorData::from(vec![0.2f64, 0.3, 0.4])), &ok));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert_words(&e, &["Please ensure they have the same size", "[3]", "[2]"]);
    let e = err_of(F::binary_cross_entropy_with(
        &ok,
        &ok,
        &F::BceOpts::default().weight(t(TensorData::from(vec![1.0f64, 2.0, 3.0]))),
    ));
    assert_words(&e, &["weight", "broadcast"]);
    let e = err_of(F::binary_cross_entropy_with(
        &ok,
        &ok,
        &F::BceOpts::default().reduction(Reduction::BatchMean),
    ));
    assert_words(&e, &["BatchMean"]);
    let e = err_of(F::binary_cross_entropy(&ok, &t(idx(vec![0, 1], &[2]))));
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e:?}");
}

#[test]
fn bce_with_logits_gradcheck_all_options() {
    for shape in [vec![5], vec![3, 4]] {
        let last = *shape.last().unwrap();
        for red in REDUCTIONS {
            for weighted in [false, true] {
                for pos_weighted in [false, true] {
                    let mut o = F::BceWithLogitsOpts::default().reduction(red);
                    if weighted {
                        o = o.weight(t(between(&shape, 15, 0.5, 2.0)));
                    }
                    if pos_weighted {
                        o = o.pos_weight(t(between(&[last], 16, 0.5, 3.0)));
                    }
                    let name = format!("bce_with_logits {shape:?} {red:?} w={weighted} pw={pos_weighted}");
                    let inputs =
                        vec![randn(&shape, 17).mul_scalar(3.0).unwrap(), between(&shape, 18, 0.0, 1.0)];
                    check(&name, |a| F::binary_cross_entropy_with_logits_with(&a[0], &a[1], &o), inputs);
                }
            }
        }
    }
}

#[test]
fn bce_with_logits_is_stable_for_huge_logits() {
    // x = +-1000: l(1000, t=0) = 1000, l(-1000, t=1) = 1000, l(1000, t=1) = 0 (no overflow).
    let x = t(TensorData::from(vec![1000.0f32, -1000.0, 1000.0])).requires_grad_(true).unwrap();
    let tg = t(TensorData::from(vec![0.0f32, 1.0, 1.0]));
    let l = F::binary_cross_entropy_with_logits_with(
        &x,
        &tg,
        &F::BceWithLogitsOpts::default().reduction(Reduction::None),
    )
    .unwrap();
    assert_eq!(l.to_vec::<f32>().unwrap(), vec![1000.0, 1000.0, 0.0]);
    l.sum().unwrap().backward().unwrap();
    // d/dx = sigmoid(x) - t = [1, -1, 0]
    assert_eq!(x.grad().unwrap().to_vec::<f32>().unwrap(), vec![1.0, -1.0, 0.0]);
}

#[test]
fn bce_with_logits_errors() {
    let x = t(randn(&[2, 3], 19));
    let e = err_of(F::binary_cross_entropy_with_logits(&x, &t(randn(&[3, 2], 20))));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    let e = err_of(F::binary_cross_entropy_with_logits_with(
        &x,
        &t(randn(&[2, 3], 20)),
        &F::BceWithLogitsOpts::default().pos_weight(t(randn(&[2], 21))),
    ));
    assert_words(&e, &["pos_weight", "broadcast"]);
}

// ----- kl_div ------------------------------------------------------------------------------

#[test]
fn kl_div_gradcheck_all_options() {
    for red in [Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean] {
        for log_target in [false, true] {
            // same shapes, and a target broadcast over the batch
            for tshape in [vec![3, 4], vec![4]] {
                let o = F::KlDivOpts::default().reduction(red).log_target(log_target);
                let input = randn(&[3, 4], 22).log_softmax(1).unwrap();
                let target = if log_target {
                    randn(&tshape, 23).log_softmax(-1).unwrap()
                } else {
                    randn(&tshape, 23).softmax(-1).unwrap()
                };
                let name = format!("kl_div {red:?} log_target={log_target} target {tshape:?}");
                check(&name, |a| F::kl_div_with(&a[0], &a[1], &o), vec![input, target]);
            }
        }
    }
}

#[test]
fn kl_div_zero_target_contributes_zero() {
    // t = [0, 1], input = ln [0.5, 0.5]: sum t (ln t - input) = 0 + 1 * (0 - ln 0.5) = ln 2.
    let input = t(TensorData::from(vec![0.5f64.ln(), 0.5f64.ln()])).requires_grad_(true).unwrap();
    let target = t(TensorData::from(vec![0.0f64, 1.0]));
    let l = F::kl_div_with(&input, &target, &F::KlDivOpts::default().reduction(Reduction::Sum)).unwrap();
    assert!((l.item().unwrap() - std::f64::consts::LN_2).abs() < 1e-15);
    l.backward().unwrap();
    assert_eq!(input.grad().unwrap().to_f64_vec(), vec![0.0, -1.0]); // -t
}

#[test]
fn kl_div_errors() {
    let e = err_of(F::kl_div(&t(randn(&[2, 3], 24)), &t(randn(&[2, 4], 25))));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    let e = err_of(F::kl_div(&t(randn(&[2, 3], 24)), &t(idx(vec![0; 6], &[2, 3]))));
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e:?}");
}

// ----- cosine_embedding_loss and mse_loss ---------------------------------------------------

#[test]
fn cosine_embedding_loss_gradcheck_all_options() {
    for red in REDUCTIONS {
        for margin in [0.0, 0.3, -0.2] {
            let o = F::CosineEmbeddingOpts::default().reduction(red).margin(margin);
            let y = t(idx(vec![1, -1, -1, 1, -1], &[5]));
            check(
                &format!("cosine_embedding (N,D) {red:?} margin={margin}"),
                |a| F::cosine_embedding_loss_with(&a[0], &a[1], &y, &o),
                vec![randn(&[5, 3], 26), randn(&[5, 3], 27)],
            );
            for yv in [1i64, -1] {
                let y0 = t(TensorData::scalar(yv));
                check(
                    &format!("cosine_embedding (D) {red:?} margin={margin} y={yv}"),
                    |a| F::cosine_embedding_loss_with(&a[0], &a[1], &y0, &o),
                    vec![randn(&[4], 28), randn(&[4], 29)],
                );
            }
        }
    }
}

#[test]
fn cosine_embedding_loss_hand_values_and_errors() {
    // x1 = [1, 0], x2 = [0, 1]: cos = 0, so y = 1 gives 1, y = -1 gives max(0, 0 - m) = 0.
    let (a, b) = (t(TensorData::from(vec![1.0f64, 0.0])), t(TensorData::from(vec![0.0f64, 1.0])));
    let l = F::cosine_embedding_loss(&a, &b, &t(TensorData::scalar(1i64))).unwrap();
    assert!((l.item().unwrap() - 1.0).abs() < 1e-12);
    let e = err_of(F::cosine_embedding_loss(
        &t(randn(&[2, 3], 30)),
        &t(randn(&[2, 3], 31)),
        &t(TensorData::scalar(1i64)),
    ));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert_words(&e, &["cosine_embedding_loss", "(N, D)"]);
    let e = err_of(F::cosine_embedding_loss(
        &t(randn(&[2, 3], 30)),
        &t(randn(&[2, 4], 31)),
        &t(idx(vec![1, 1], &[2])),
    ));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
}

#[test]
fn mse_loss_gradcheck_all_options() {
    for red in REDUCTIONS {
        for (xs, ts) in [(vec![5], vec![5]), (vec![2, 3], vec![2, 3]), (vec![2, 3], vec![3])] {
            check(
                &format!("mse {xs:?} vs {ts:?} {red:?}"),
                |a| F::mse_loss_with(&a[0], &a[1], red),
                vec![randn(&xs, 32), randn(&ts, 33)],
            );
        }
    }
}

#[test]
fn mse_loss_hand_value_grad_fn_and_errors() {
    // ((1 - 0)^2 + (2 - 4)^2) / 2 = 2.5
    let x = t(TensorData::from(vec![1.0f64, 2.0])).requires_grad_(true).unwrap();
    let l = F::mse_loss(&x, &t(TensorData::from(vec![0.0f64, 4.0]))).unwrap();
    assert_eq!(l.item().unwrap(), 2.5);
    assert_eq!(l.grad_fn(), Some("MseLossBackward0"));
    let e = err_of(F::mse_loss(&x, &t(TensorData::from(vec![0.0f64, 4.0, 1.0]))));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    let e = err_of(F::mse_loss_with(&x, &x, Reduction::BatchMean));
    assert_words(&e, &["BatchMean", "kl_div"]);
}

#[test]
fn large_mse_losses_sum_on_every_core_and_keep_their_gradients() {
    // 300 x 300 = 90,000 losses, past the 65,536 a running sum adds in order: the partial
    // sums agree with a running f64 sum to rounding, and the gradients are 2 (x - t) u with
    // u = 1/n (mean), 1 (sum) or g (none), exactly as f64 computes them.
    let (x, tg) = (randn(&[300, 300], 60), randn(&[300, 300], 61));
    let (xv, tv) = (x.to_vec::<f64>().unwrap(), tg.to_vec::<f64>().unwrap());
    let running: f64 = xv.iter().zip(&tv).map(|(a, b)| (a - b) * (a - b)).sum();
    let n = xv.len() as f64;
    for (red, want, u) in [(Reduction::Sum, running, 1.0), (Reduction::Mean, running / n, 1.0 / n)] {
        let xt = t(x.clone()).requires_grad_(true).unwrap();
        let l = F::mse_loss_with(&xt, &t(tg.clone()), red).unwrap();
        let got = l.item().unwrap();
        assert!((got - want).abs() <= 1e-12 * want, "{red:?}: {got} vs {want}");
        l.backward().unwrap();
        let g = xt.grad().unwrap().to_vec::<f64>().unwrap();
        assert!(g.iter().zip(xv.iter().zip(&tv)).all(|(&g, (a, b))| g == 2.0 * (a - b) * u), "{red:?}");
    }
    // Reduction None: the upstream gradient of each loss, 2 (x - t) g.
    let xt = t(x.clone()).requires_grad_(true).unwrap();
    let up = randn(&[300, 300], 62);
    let l = F::mse_loss_with(&xt, &t(tg.clone()), Reduction::None).unwrap();
    l.mul(&t(up.clone())).unwrap().sum().unwrap().backward().unwrap();
    let g = xt.grad().unwrap().to_vec::<f64>().unwrap();
    let uv = up.to_vec::<f64>().unwrap();
    assert!(g.iter().zip(xv.iter().zip(&tv)).zip(&uv).all(|((&g, (a, b)), u)| g == 2.0 * (a - b) * u));
    // f32 at this size: within f32 rounding of the f64 loss.
    let (x32, t32) = (t(x.to_dtype(DType::F32)), t(tg.to_dtype(DType::F32)));
    let l32 = F::mse_loss(&x32, &t32).unwrap().item().unwrap();
    assert!((l32 - running / n).abs() <= 1e-6 * running / n, "{l32}");
}

#[test]
fn grad_fn_names_follow_pytorch() {
    let p = t(TensorData::from(vec![0.3f64, 0.6])).requires_grad_(true).unwrap();
    let tg = t(TensorData::from(vec![0.0f64, 1.0]));
    assert_eq!(F::binary_cross_entropy(&p, &tg).unwrap().grad_fn(), Some("BinaryCrossEntropyBackward0"));
    assert_eq!(
        F::binary_cross_entropy_with_logits(&p, &tg).unwrap().grad_fn(),
        Some("BinaryCrossEntropyWithLogitsBackward0")
    );
    let x = t(randn(&[2, 3], 34)).requires_grad_(true).unwrap();
    assert_eq!(F::nll_loss(&x, &t(idx(vec![0, 2], &[2]))).unwrap().grad_fn(), Some("NllLossBackward0"));
}
