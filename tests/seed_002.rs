//! Seed 002, "Cross Entropy in PyTorch": the printed 0.7437, and the claims about the
//! hand-written NLLLoss / CrossEntropyLoss (see `examples/cross_entropy_by_hand.rs`).

mod printed;

use printed::{assert_printed, F32_REL, HALF_4DP};
use torchlet::nn::CrossEntropyLoss;
use torchlet::prelude::*;
use torchlet_examples::seeds::seed002::*;

#[test]
fn logits_0001_with_target_3_give_the_printed_0_7437() {
    let loss = CrossEntropyLoss::new().forward(&question_logits(), &question_target()).unwrap();
    // The inputs are exact (0 and 1), so only the printed rounding (5e-5) and f32 rounding
    // separate our value from the seed's.
    let n = assert_printed("loss", &[loss.item().unwrap()], &[QUESTION_PRINTED_LOSS], &[HALF_4DP + F32_REL]);
    assert_eq!(n, 1);
    // ... and it is ln(3 + e) - 1, not 0: the input is read as logits.
    assert!((loss.item().unwrap() - question_loss_closed_form()).abs() < 1e-6);
    let p3 = F::softmax(&question_logits(), 1).unwrap().to_f64_vec()[3];
    let e = std::f64::consts::E;
    assert!((p3 - e / (3.0 + e)).abs() < 1e-6, "class 3 gets e / (3 + e), got {p3}");
}

#[test]
fn hand_written_losses_compute_the_formulas() {
    // x[i][y[i]] picked by hand: -(-1 + -4) / 2 = 2.5, exactly.
    let x = Tensor::with_dtype([[-1.0f64, -2.0], [-3.0, -4.0]], DType::F64);
    let y = Tensor::from(vec![0i64, 1]);
    assert_eq!(nll_loss_manual(&x, &y).unwrap().item().unwrap(), 2.5);
    // Cross-entropy of uniform logits over 4 classes is ln 4 for any target.
    let u = Tensor::with_dtype([[0.5f64, 0.5, 0.5, 0.5], [2.0, 2.0, 2.0, 2.0]], DType::F64);
    let t = Tensor::from(vec![3i64, 0]);
    for ce in [cross_entropy_manual(&u, &t).unwrap(), cross_entropy_manual_stable(&u, &t).unwrap()] {
        assert!((ce.item().unwrap() - 4f64.ln()).abs() < 1e-15);
    }
}

#[test]
fn hand_written_losses_agree_with_the_builtins_in_f64() {
    // The seed's claim "correct up to 15 decimal places" holds in f64 for every batch:
    // spacing near 2.3 is 4.4e-16, and the two forms differ by at most two units there.
    let a = agreement(DType::F64, 300, 10, 10, 0, 1e-15).unwrap();
    for (name, t) in [("nll", &a.nll), ("ce naive", &a.ce_naive), ("ce stable", &a.ce_stable)] {
        assert_eq!(t.count, 300, "{name}");
        assert_eq!(t.within_tolerance, 300, "{name}: max diff {}", t.max_abs_diff);
    }
    // NLL adds the same f64 values in the same order as the loop: the very same bits.
    assert_eq!(a.nll.identical, 300);
    // The cross-entropies are computed differently and are not always bit-identical.
    assert!(a.ce_naive.identical < 300);
}

#[test]
fn in_f32_agreeing_to_1e_15_means_bit_identical() {
    let a = agreement(DType::F32, 300, 10, 10, 0, 1e-15).unwrap();
    for (name, t) in
        [("nll", &a.nll), ("ce naive", &a.ce_naive), ("ce stable", &a.ce_stable), ("rows", &a.rows_naive)]
    {
        // No two distinct f32 values near 0.5..3 are within 1e-15 of each other.
        assert_eq!(t.within_tolerance, t.identical, "{name}");
        // Where they differ, it is by a few units in the last place (2.4e-7 near 2.3).
        assert!(t.max_abs_diff < 1e-6, "{name}: {}", t.max_abs_diff);
        // The seed's precision problem exists: some results differ, most do not.
        assert!(t.identical > t.count / 3 && t.identical < t.count, "{name}: {} of {}", t.identical, t.count);
    }
    // The built-in is the more accurate one (closer to the loss recomputed in f64): it
    // accumulates the batch mean in f64, the seed's loop rounds after every addition.
    for (name, t) in [("nll", &a.nll), ("ce naive", &a.ce_naive)] {
        let (builtin, manual) = t.mean_errors.unwrap();
        assert!(builtin < manual, "{name}: built-in error {builtin:e} vs manual {manual:e}");
    }
    // The first batch, which the seed prints: module and manual agree to 4 decimals.
    let (m, h) = &a.first_ce;
    assert!((m.item().unwrap() - h.item().unwrap()).abs() < 1e-6);
}
