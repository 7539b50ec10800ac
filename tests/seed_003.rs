//! Seed 003, the notebook "Cross Entropy": every number it printed for the inputs it printed
//! (see `examples/bce_and_xor.rs` and `examples/xor.rs`).
//!
//! The notebook drew its inputs with `torch.randn` and printed them rounded to 4 decimals,
//! so our results from those printed inputs may differ from its printed outputs by the
//! output rounding (5e-5) plus the effect of the input rounding, which
//! `printed::tolerance_4dp` bounds from the derivatives of each computation.

mod printed;

use printed::{assert_printed, flat, half_unit_5_significant, input_rounding_bound, tolerance_4dp, F32_REL};
use torchlet::nn::{BCELoss, CrossEntropyLoss};
use torchlet::prelude::*;
use torchlet_examples::seeds::seed003::*;

/// `v` (flat, f64) as a `(rows, cols)` tensor of `dtype`.
fn t2(v: &[f64], rows: usize, dtype: DType) -> Tensor {
    Tensor::from_data(TensorData::from_vec(v.to_vec(), [rows, v.len() / rows]).unwrap())
        .to_dtype(dtype)
        .unwrap()
}

fn sigmoid_values(x: &[f64], dtype: DType) -> Vec<f64> {
    t2(x, 1, dtype).sigmoid().unwrap().to_f64_vec()
}

#[test]
fn sigmoid_of_the_printed_last_layers_gives_the_printed_predictions() {
    let mut n = 0;
    for (name, logits, printed) in [
        ("In [187] predictions", flat(&CE_LAST_LAYER), flat(&CE_PREDICTIONS)),
        ("In [91] predictions", flat(&BCE_LAST_LAYER), flat(&BCE_PREDICTIONS)),
    ] {
        // sigmoid' <= 1/4, so each prediction may also move by up to 1.25e-5 from the
        // logits' rounding; 0.7822 -> 0.686154 printed as 0.6861 needs part of that.
        let tol = tolerance_4dp(|x| sigmoid_values(x, DType::F64), &logits, &printed);
        n += assert_printed(name, &sigmoid_values(&logits, DType::F32), &printed, &tol);
    }
    assert_eq!(n, 25);
}

fn ce_loss(p: &[f64], dtype: DType) -> Vec<f64> {
    let loss = CrossEntropyLoss::new().forward(&t2(p, 5, dtype), &ce_truth()).unwrap();
    vec![loss.item().unwrap()]
}

#[test]
fn cross_entropy_of_the_sigmoid_outputs_is_the_printed_0_6149() {
    let printed = [CE_PRINTED_LOSS];
    // From the printed predictions: each row's logit gradient sums to at most 2/5 in
    // absolute value, so the input rounding adds at most 1e-4.
    let p = flat(&CE_PREDICTIONS);
    assert_printed(
        "loss from predictions",
        &ce_loss(&p, DType::F32),
        &printed,
        &tolerance_4dp(|x| ce_loss(x, DType::F64), &p, &printed),
    );
    // From the printed last_layer, through the sigmoid.
    let from_logits = |x: &[f64], dt| ce_loss(&sigmoid_values(x, dt), dt);
    let x = flat(&CE_LAST_LAYER);
    let tol = tolerance_4dp(|x| from_logits(x, DType::F64), &x, &printed);
    assert_printed("loss from last_layer", &from_logits(&x, DType::F32), &printed, &tol);
    // Sigmoid outputs are no logits: the loss can never go below ln(1 + 1/e) = 0.3133,
    // even for perfect predictions (1 for the true class, 0 for the other).
    let perfect: Vec<f64> = ce_truth()
        .to_vec::<i64>()
        .unwrap()
        .iter()
        .flat_map(|&t| if t == 0 { [1.0, 0.0] } else { [0.0, 1.0] })
        .collect();
    let floor = ce_loss(&perfect, DType::F64)[0];
    assert!((floor - (1.0 + (-1.0f64).exp()).ln()).abs() < 1e-12, "{floor}");
}

fn bce(p: &[f64], t: &[[f32; 3]; 5], dtype: DType) -> Vec<f64> {
    let truth = tensor(*t, dtype).unwrap();
    vec![BCELoss::new().forward(&t2(p, 5, dtype), &truth).unwrap().item().unwrap()]
}

#[test]
fn bce_on_the_multi_label_targets_is_the_printed_0_5796() {
    let printed = [BCE_PRINTED_LOSS];
    let p = flat(&BCE_PREDICTIONS);
    let tol = tolerance_4dp(|x| bce(x, &BCE_TRUTH, DType::F64), &p, &printed);
    assert_printed("BCE from predictions", &bce(&p, &BCE_TRUTH, DType::F32), &printed, &tol);
    let from_logits = |x: &[f64], dt| bce(&sigmoid_values(x, dt), &BCE_TRUTH, dt);
    let x = flat(&BCE_LAST_LAYER);
    let tol = tolerance_4dp(|x| from_logits(x, DType::F64), &x, &printed);
    assert_printed("BCE from last_layer", &from_logits(&x, DType::F32), &printed, &tol);
    // BCEWithLogits on the raw scores is the same loss.
    let truth = tensor(BCE_TRUTH, DType::F64).unwrap();
    let with_logits = F::binary_cross_entropy_with_logits(&t2(&x, 5, DType::F64), &truth).unwrap();
    assert!((with_logits.item().unwrap() - from_logits(&x, DType::F64)[0]).abs() < 1e-12);
}

#[test]
fn targets_outside_zero_one_are_rejected_and_the_old_formula_gives_0_5911() {
    let p = tensor(BAD_PREDICTIONS, DType::F32).unwrap();
    let t = tensor(BAD_TRUTH, DType::F32).unwrap();
    let e = BCELoss::new().forward(&p, &t).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "binary_cross_entropy: all elements of target should be between 0 and 1, but element 1 of the target \
         (shape [5, 3]) is 4; targets are probabilities of the positive class"
    );
    // What the PyTorch of 2019 printed, In [102], is the formula applied regardless. With
    // targets up to 4 the derivative w.r.t. p reaches (4/p + 3/(1-p)) / 15, so the rounding
    // of the printed predictions moves the loss by up to ~4e-4 (computed below).
    let old = |x: &[f64], dt| {
        let t = tensor(BAD_TRUTH, dt).unwrap();
        vec![bce_unchecked(&t2(x, 5, dt), &t).unwrap().item().unwrap()]
    };
    let x = flat(&BAD_PREDICTIONS);
    let printed = [BAD_PRINTED_LOSS];
    let tol = tolerance_4dp(|x| old(x, DType::F64), &x, &printed);
    assert!(tol[0] > 4e-4 && tol[0] < 5e-4, "{tol:?}");
    assert_printed("BCE with targets 0..4", &old(&x, DType::F32), &printed, &tol);
    // The unchecked formula agrees with the built-in wherever targets are valid.
    let ok = tensor(BCE_TRUTH, DType::F64).unwrap();
    let p64 = t2(&flat(&BCE_PREDICTIONS), 5, DType::F64);
    let (a, b) = (bce_unchecked(&p64, &ok).unwrap(), F::binary_cross_entropy(&p64, &ok).unwrap());
    assert!((a.item().unwrap() - b.item().unwrap()).abs() < 1e-14);
}

#[test]
fn one_hot_of_truth_is_the_printed_table() {
    let got = F::one_hot(&ce_truth(), None).unwrap();
    assert_eq!(got.dims(), vec![5, 2]);
    let printed: Vec<i64> = ONE_HOT_PRINTED.iter().flatten().copied().collect();
    assert_eq!(got.to_vec::<i64>().unwrap(), printed);
}

fn entropies(p: &[f64], dtype: DType) -> Vec<f64> {
    row_entropies(&t2(p, 5, dtype), &ce_truth()).unwrap().to_f64_vec()
}

#[test]
fn row_entropies_in_bits_are_the_printed_ones() {
    let printed: Vec<f64> = ROW_ENTROPIES_PRINTED.iter().flatten().copied().collect();
    // The notebook computed these from its unrounded predictions and printed them in full
    // (f32 values). From the 4-digit predictions, -log2(p) can differ by up to
    // 5e-5 / (p ln 2): 2.3e-4 for p = 0.3136, 3.8e-4 for p = 0.1897.
    let p = flat(&CE_PREDICTIONS);
    let tol: Vec<f64> = input_rounding_bound(|x| entropies(x, DType::F64), &p, printed::HALF_4DP)
        .iter()
        .zip(&printed)
        .map(|(b, v)| b + F32_REL * v)
        .collect();
    let got = entropies(&p, DType::F32);
    assert_printed("row entropies", &got, &printed, &tol);
    // The entries of the other class are exactly 0 (t = 0), as printed.
    for (g, v) in got.iter().zip(&printed) {
        if *v == 0.0 {
            assert_eq!(*g, 0.0);
        }
    }
    // The other way round: 2^-entropy is the notebook's unrounded prediction, which must
    // round to the printed one.
    for (row, h) in ROW_ENTROPIES_PRINTED.iter().enumerate() {
        let class = ce_truth().to_vec::<i64>().unwrap()[row] as usize;
        let p_full = (-(h[0] + h[1])).exp2();
        let p_printed = CE_PREDICTIONS[row][class] as f64;
        assert!((p_full - p_printed).abs() <= printed::HALF_4DP + 1e-9, "row {row}: {p_full} vs {p_printed}");
    }
    // Each row sums to -log2 p[truth]; the mean, in nats, is NLLLoss of log(predictions).
    let preds = t2(&p, 5, DType::F64);
    let mean_bits = entropies(&p, DType::F64).iter().sum::<f64>() / 5.0;
    let nll = F::nll_loss(&preds.log().unwrap(), &ce_truth()).unwrap().item().unwrap();
    assert!((mean_bits * std::f64::consts::LN_2 - nll).abs() < 1e-12);
}

/// Predictions (8), loss (1) and first-weight gradient (10) of the XOR cells, in order.
fn xor_outputs(params: &[f64], dtype: DType) -> Vec<f64> {
    let cells = xor_cells(params, dtype).unwrap();
    let mut out = cells.predictions.to_f64_vec();
    out.push(cells.loss.item().unwrap());
    out.extend(cells.weight0_grad.to_f64_vec());
    out
}

/// The XOR cells' printed values: predictions (8), loss, first-weight gradient (10).
fn xor_printed() -> Vec<f64> {
    flat(&XOR_PREDICTIONS)
        .into_iter()
        .chain([XOR_PRINTED_LOSS])
        .chain(XOR_WEIGHT0_GRAD.iter().flatten().copied())
        .collect()
}

/// Tolerances for [`xor_printed`] when computed by `f` from the 27 printed parameters:
/// output rounding (5e-5 for the 4-decimal predictions and loss, half a unit of the 5th
/// significant digit for the gradients, printed like 3.5187e-04), plus the first-order
/// effect of the parameters' 4-decimal rounding, plus f32 slack.
fn xor_tolerances(f: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let bound = input_rounding_bound(f, &xor_parameters(), printed::HALF_4DP);
    xor_printed()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let out = if i < 9 { printed::HALF_4DP } else { half_unit_5_significant(v) };
            out + bound[i] + F32_REL * v.abs()
        })
        .collect()
}

#[test]
fn the_xor_cells_match_the_notebook_with_the_parameters_before_its_sgd_step() {
    // The notebook printed its parameters after one SGD step (see
    // `xor_parameters_before_step`): undo it, then every printed number follows.
    let before = |p: &[f64], dt| xor_outputs(&xor_parameters_before_step(p, dt).unwrap(), dt);
    let tol = xor_tolerances(|p| before(p, DType::F64));
    let n = assert_printed("XOR cells", &before(&xor_parameters(), DType::F32), &xor_printed(), &tol);
    assert_eq!(n, 19);
    // The tolerances are tight enough to mean something: the gradients, 1e-4 in size, are
    // pinned to about 1e-5, the predictions to about 1.4e-4.
    assert!(tol[9..].iter().all(|&t| t < 2e-5), "{:?}", &tol[9..]);
    assert!(tol[..8].iter().all(|&t| t < 1.5e-4), "{:?}", &tol[..8]);
    let cells = xor_cells(&xor_parameters(), DType::F32).unwrap();
    assert_eq!(cells.predictions.grad_fn(), Some("SigmoidBackward0"));
    assert_eq!(cells.loss.grad_fn(), Some("NllLossBackward0"));
}

#[test]
fn the_printed_xor_parameters_are_the_ones_after_the_step() {
    // Taken as the parameters of the printed predictions, the printed parameters miss the
    // first prediction by more than their rounding allows...
    let printed = xor_printed();
    let direct = xor_outputs(&xor_parameters(), DType::F64);
    let tol = xor_tolerances(|p| xor_outputs(p, DType::F64));
    assert!((direct[0] - printed[0]).abs() > tol[0], "{} vs {}", direct[0], printed[0]);
    // ... while one SGD step (lr 0.03) from the reconstructed parameters lands on them.
    let before = xor_parameters_before_step(&xor_parameters(), DType::F64).unwrap();
    let g = xor_cells(&before, DType::F64).unwrap().gradients;
    for (i, ((b, g), a)) in before.iter().zip(&g).zip(xor_parameters()).enumerate() {
        assert!((b - XOR_LR * g - a).abs() < 1e-12, "parameter {i}");
    }
    // The step is visible at 4 decimals only in the second layer (its gradients are ~1e-2).
    let moved: Vec<usize> = (0..27).filter(|&i| (before[i] - xor_parameters()[i]).abs() > 5e-5).collect();
    assert!(moved.iter().all(|&i| i >= 15) && !moved.is_empty(), "{moved:?}");
}
