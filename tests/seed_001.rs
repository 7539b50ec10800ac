//! Seed 001, "Learning various pytorch loss function APIs".
//!
//! The notebook draws all its inputs at random, so none of its numbers can be reproduced.
//! What can be checked: (1) the relations between the numbers it printed, which must hold
//! whatever the inputs were (its digits are copied from the outputs the notebook printed),
//! and (2) the same relations for torchlet on seeded random inputs, plus every claim of the
//! cheat sheet.

use torchlet::autograd::distributions::Categorical;
use torchlet::autograd::info;
use torchlet::nn::functional::{self as F, KlDivOpts, Reduction};
use torchlet::nn::{
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, KLDivLoss, LogSoftmax,
};
use torchlet::nn::{Module, NLLLoss};
use torchlet::{DType, Generator, Tensor, TensorData};
use torchlet_examples::seeds::seed001::{self as nb, cheat_sheet_table, CHEAT_SHEET};

fn inputs(seed: u64) -> nb::Inputs {
    nb::inputs(&mut Generator::new(seed), 2, 4).unwrap()
}

fn item(t: torchlet::Result<Tensor>) -> f64 {
    t.unwrap().item().unwrap()
}

// ----- the notebook's own numbers --------------------------------------------------------------

#[test]
fn seed_001_kl_batchmean_is_num_class_times_mean() {
    // Cell 3: KLDivLoss() divides the sum by N*C = 8 elements, batchmean by N = 2 samples.
    let (mean, batchmean) = (0.0361519530415535f64, 0.144607812166214f64);
    // Both are f32 results printed as f64: equal up to f32 rounding (2^-24 relative).
    assert!((batchmean / mean - 4.0).abs() <= 4.0 * 6e-8, "{}", batchmean / mean);
}

#[test]
fn seed_001_ce_sample_is_entropy_plus_kl() {
    // Cell 4, printed with 4 decimals: each value is within 5e-5 of the true one, so a sum of
    // two printed values is within 1e-4 of the true sum, and the identity within 1.5e-4.
    let ce = [1.5688f64, 1.4553];
    let kl = [0.1949f64, 0.0943];
    let h = [1.3739f64, 1.3610];
    for i in 0..2 {
        assert!((ce[i] - (kl[i] + h[i])).abs() <= 1.5e-4, "sample {i}");
        // A distribution over 4 classes has entropy at most ln 4.
        assert!(h[i] <= 4f64.ln() + 5e-5);
    }
    // Cells 3 and 4 ran on the same data (In [128], In [129]): batchmean is the mean of the
    // per-sample KL sums.
    assert!((0.144607812166214 - (kl[0] + kl[1]) / 2.0).abs() <= 5e-5);
}

#[test]
fn seed_001_bce_equals_nll_of_two_classes() {
    // Cell 5: the two losses printed the same f32 value, and allclose said True.
    let (bce, nll) = (0.9651271104812622f64, 0.9651271104812622f64);
    assert_eq!(bce, nll);
}

// ----- the same relations for torchlet ---------------------------------------------------------

#[test]
fn cross_entropy_with_indices_is_nll_of_log_softmax() {
    for seed in 0..5 {
        let d = inputs(seed);
        let ce = CrossEntropyLoss::new().forward(&d.logits, &d.target_indices).unwrap();
        let lp = LogSoftmax::new(-1).forward(&d.logits).unwrap();
        let nll = NLLLoss::new().forward(&lp, &d.target_indices).unwrap();
        assert!(ce.allclose(&nll, 1e-6, 1e-7).unwrap(), "seed {seed}: {ce} vs {nll}");
        // By hand: mean_i -lp[i, t_i].
        let picked = lp.gather(1, &d.target_indices.unsqueeze(1).unwrap()).unwrap();
        assert!((ce.item().unwrap() + picked.mean().unwrap().item().unwrap()).abs() <= 1e-6);
    }
}

#[test]
fn cross_entropy_with_probabilities_is_the_expected_surprisal() {
    for seed in 0..5 {
        let d = inputs(seed);
        let ce = item(CrossEntropyLoss::new().forward(&d.logits, &d.target_logits));
        let lp = d.logits.log_softmax(-1).unwrap();
        let by_hand =
            item(d.target_logits.mul(&lp).unwrap().sum_dim(-1, false).unwrap().neg().unwrap().mean());
        assert!((ce - by_hand).abs() <= 1e-6 * ce, "seed {seed}: {ce} vs {by_hand}");
        // And it equals the textbook H(p, softmax(logits)) on probabilities.
        let q = d.logits.softmax(-1).unwrap();
        let textbook = item(info::cross_entropy(&d.target_logits, &q, -1).unwrap().mean());
        assert!((ce - textbook).abs() <= 1e-6 * ce, "seed {seed}");
    }
}

#[test]
fn label_smoothing_is_a_probability_target() {
    for seed in 0..5 {
        let d = inputs(seed);
        let smoothed =
            item(CrossEntropyLoss::new().label_smoothing(0.1).forward(&d.logits, &d.target_indices));
        let one_hot = d.target_indices.one_hot(Some(4)).unwrap().to_dtype(DType::F32).unwrap();
        let soft = one_hot.mul_scalar(0.9).unwrap().add_scalar(0.025).unwrap();
        let as_probs = item(CrossEntropyLoss::new().forward(&d.logits, &soft));
        assert!((smoothed - as_probs).abs() <= 1e-6 * smoothed, "seed {seed}: {smoothed} vs {as_probs}");
    }
}

#[test]
fn kl_div_mean_divides_by_elements_and_batchmean_by_samples() {
    for seed in 0..5 {
        let d = inputs(seed);
        let lp = d.logits.log_softmax(-1).unwrap();
        let mean = item(KLDivLoss::new().forward(&lp, &d.target_logits));
        let batchmean = item(KLDivLoss::new().reduction(Reduction::BatchMean).forward(&lp, &d.target_logits));
        assert!((batchmean - 4.0 * mean).abs() <= 1e-6 * batchmean, "seed {seed}");
        // batchmean is the KL divergence of the definition, averaged over the batch.
        let kl =
            item(info::kl_divergence(&d.target_logits, &d.logits.softmax(-1).unwrap(), -1).unwrap().mean());
        assert!((batchmean - kl).abs() <= 1e-6 * kl + 1e-7, "seed {seed}: {batchmean} vs {kl}");
    }
}

#[test]
fn ce_per_sample_is_entropy_plus_kl() {
    for seed in 0..5 {
        let d = inputs(seed);
        // Once-softmaxed targets (cell 1) and twice-softmaxed ones (the notebook's cell 4).
        for target in [d.target_logits.clone(), d.target_logits.softmax(-1).unwrap()] {
            let dec = nb::decomposition(&d.logits, &target).unwrap();
            assert_eq!(dec.ce.dims(), vec![2]);
            assert!(dec.ce.allclose(&dec.kl.add(&dec.entropy).unwrap(), 1e-5, 1e-8).unwrap(), "seed {seed}");
            assert!(dec.kl.to_f64_vec().iter().all(|&k| k >= -1e-7), "KL >= 0");
        }
        // In f64 the identity holds to rounding. (Targets made in f64: an f32 softmax cast to
        // f64 sums to 1 only within 1e-7, and Categorical renormalises while CE does not.)
        let mut g = Generator::new(seed);
        let logits = Tensor::randn_with([2, 4], DType::F64, &mut g).unwrap();
        let target = Tensor::randn_with([2, 4], DType::F64, &mut g).unwrap().softmax(-1).unwrap();
        let dec = nb::decomposition(&logits, &target).unwrap();
        assert!(
            dec.ce.allclose(&dec.kl.add(&dec.entropy).unwrap(), 1e-13, 1e-15).unwrap(),
            "seed {seed} f64"
        );
    }
}

#[test]
fn categorical_entropy_is_the_entropy_and_zero_for_a_delta() {
    let d = inputs(3);
    let h = Categorical::from_probs(&d.target_logits).unwrap().entropy().unwrap();
    assert!(h.allclose(&info::entropy(&d.target_logits, -1).unwrap(), 1e-6, 1e-7).unwrap());
    // A delta target: entropy is -ln(1 - eps) = 1.19e-7 with eps = f32::EPSILON = 2^-23
    // (PyTorch's clamp), so cross-entropy and KL coincide up to that. -ln(1 - 2^-23) lies
    // almost halfway between two f32 values, so allow either.
    let one_hot = d.target_indices.one_hot(Some(4)).unwrap().to_dtype(DType::F32).unwrap();
    let h = Categorical::from_probs(&one_hot).unwrap().entropy().unwrap().to_vec::<f32>().unwrap();
    assert!(h.iter().all(|&v| (v - f32::EPSILON).abs() <= 2e-14), "{h:?}");
}

#[test]
fn bce_is_nll_over_two_classes() {
    for seed in 0..5 {
        let mut g = Generator::new(seed);
        let prob_1 = Tensor::randn_with([6], DType::F32, &mut g).unwrap().sigmoid().unwrap();
        let target = Tensor::from_data(TensorData::randint_with(0, 2, [6], &mut g).unwrap());
        let bce = BCELoss::new().forward(&prob_1, &target.to_dtype(DType::F32).unwrap()).unwrap();
        let nll = nb::bce_via_nll(&prob_1, &target).unwrap();
        assert!(nll.allclose(&bce, 1e-5, 1e-8).unwrap(), "seed {seed}: {nll} vs {bce}");
    }
}

#[test]
fn cosine_embedding_loss_matches_the_formula() {
    for seed in 0..5 {
        let mut g = Generator::new(seed);
        let v1 = Tensor::randn_with([4, 512], DType::F64, &mut g).unwrap();
        let v2 = Tensor::randn_with([4, 512], DType::F64, &mut g).unwrap();
        let y = Tensor::from(vec![1i64, -1, 1, -1]);
        let builtin = item(CosineEmbeddingLoss::new().forward(&v1, &v2, &y));
        // The built-in adds 1e-12 to squared norms of ~512: a relative change of ~1e-15.
        let by_hand = item(nb::cosine_embedding_by_hand(&v1, &v2, &y));
        assert!((builtin - by_hand).abs() <= 1e-13, "seed {seed}: {builtin} vs {by_hand}");
    }
    // Identical vectors: cos = 14 / (14 + 1e-12) (the 1e-12 guards the norms), so a +1 pair
    // costs ~7e-14 and a -1 pair ~1.
    let v = Tensor::with_dtype([[1.0f64, 2.0, 3.0]], DType::F64);
    assert!(item(F::cosine_embedding_loss(&v, &v, &Tensor::from(vec![1i64]))).abs() < 1e-13);
    assert!((item(F::cosine_embedding_loss(&v, &v, &Tensor::from(vec![-1i64]))) - 1.0).abs() < 1e-13);
}

// ----- the cheat sheet: each row's claim -------------------------------------------------------

#[test]
fn cheat_sheet_binary_losses() {
    let x = Tensor::from([[-2.0f32, 0.5], [3.0, -0.1]]);
    let t = Tensor::from([[0.0f32, 1.0], [1.0, 0.0]]);
    // binary_cross_entropy takes probabilities: logits outside [0, 1] are rejected...
    let e = F::binary_cross_entropy(&x, &t).unwrap_err().to_string();
    assert!(e.contains("between 0 and 1"), "{e}");
    // ...and binary_cross_entropy_with_logits applies the sigmoid itself.
    let with_logits = BCEWithLogitsLoss::new().forward(&x, &t).unwrap();
    let on_probs = BCELoss::new().forward(&x.sigmoid().unwrap(), &t).unwrap();
    assert!(with_logits.allclose(&on_probs, 1e-6, 1e-7).unwrap());
    // The target must have the input's shape.
    assert!(F::binary_cross_entropy(&x.sigmoid().unwrap(), &Tensor::from([0.0f32, 1.0])).is_err());
}

#[test]
fn cheat_sheet_cross_entropy_and_nll() {
    let d = inputs(7);
    let lp = d.logits.log_softmax(-1).unwrap();
    // cross_entropy takes logits: it is nll_loss after log_softmax.
    let ce = item(F::cross_entropy(&d.logits, &d.target_indices));
    assert!((ce - item(F::nll_loss(&lp, &d.target_indices))).abs() <= 1e-6);
    // nll_loss on raw logits runs but computes something else.
    assert!((ce - item(F::nll_loss(&d.logits, &d.target_indices))).abs() > 1e-3);
    // Targets: i64 indices (N) or float probabilities (N, C); float (N) is neither.
    assert!(F::cross_entropy(&d.logits, &d.target_logits).is_ok());
    assert!(F::cross_entropy(&d.logits, &d.target_indices.to_dtype(DType::F32).unwrap()).is_err());
    // nll_loss only takes class indices.
    let e = F::nll_loss(&lp, &d.target_indices.to_dtype(DType::F32).unwrap()).unwrap_err().to_string();
    assert!(e.contains("i64"), "{e}");
    assert!(F::nll_loss(&lp, &d.target_logits).is_err());
}

#[test]
fn cheat_sheet_kl_div_and_cosine() {
    let d = inputs(8);
    let lp = d.logits.log_softmax(-1).unwrap();
    let batchmean = KlDivOpts::default().reduction(Reduction::BatchMean);
    // kl_div takes log-probabilities; with log_target the target is log-probabilities too.
    let plain = item(F::kl_div_with(&lp, &d.target_logits, &batchmean));
    let log_t = d.target_logits.log().unwrap();
    let logged = item(F::kl_div_with(&lp, &log_t, &batchmean.clone().log_target(true)));
    assert!((plain - logged).abs() <= 1e-6 * plain);
    // cosine_embedding_loss takes its 1 / -1 targets as i64 or float alike.
    let mut g = Generator::new(8);
    let v1 = Tensor::randn_with([3, 16], DType::F32, &mut g).unwrap();
    let v2 = Tensor::randn_with([3, 16], DType::F32, &mut g).unwrap();
    let y = Tensor::from(vec![1i64, -1, 1]);
    let a = item(F::cosine_embedding_loss(&v1, &v2, &y));
    let b = item(F::cosine_embedding_loss(&v1, &v2, &y.to_dtype(DType::F32).unwrap()));
    assert_eq!(a, b);
}

#[test]
fn cheat_sheet_table_lists_every_loss_aligned() {
    let table = cheat_sheet_table();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2 + CHEAT_SHEET.len());
    assert!(lines[0].starts_with("function"));
    for (row, line) in CHEAT_SHEET.iter().zip(&lines[2..]) {
        assert!(line.starts_with(row.function) && line.contains(row.module) && line.ends_with(row.target));
    }
    // Columns line up: the separators sit at the same byte offsets on every line.
    let bars = |l: &str| l.match_indices(['|', '+']).map(|(i, _)| i).collect::<Vec<_>>();
    assert!(lines.iter().all(|l| bars(l) == bars(lines[0])), "{table}");
    for name in ["binary_cross_entropy", "with_logits", "cross_entropy", "nll_loss", "kl_div", "cosine"] {
        assert!(table.contains(name), "{name}");
    }
}
