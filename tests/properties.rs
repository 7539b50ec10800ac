//! Mathematical properties on random inputs (proptest): softmax rows are distributions,
//! log_softmax <= 0, cross-entropy and KL are non-negative, `CE = H(p) + KL(p || q)`, and
//! BCE-with-logits agrees with BCE on sigmoid outputs. (The random-shape gradient checks of
//! every op are driven by the op catalog: `crates/autograd/tests/catalog.rs`.)
//!
//! Cases per property: 128 by default; `TORCHLET_PROPTEST_CASES=N`
//! runs N cases of every property, e.g.
//! `TORCHLET_PROPTEST_CASES=2000 cargo test --release --test properties`.

use proptest::prelude::*;
use torchlet::autograd::info;
use torchlet::nn::functional::{
    self as F, BceOpts, BceWithLogitsOpts, CrossEntropyOpts, KlDivOpts, Reduction,
};
use torchlet::prelude::*;

/// `TORCHLET_PROPTEST_CASES` cases, or `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("TORCHLET_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases) }
}

fn shape(max_rank: usize, max_size: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=max_size, 1..=max_rank)
}

/// An f64 tensor of `shape` with values in `[lo, hi)`.
fn tensor(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Tensor> {
    let n: usize = shape.iter().product();
    prop::collection::vec(lo..hi, n)
        .prop_map(move |v| Tensor::from_data(TensorData::from_vec(v, shape.clone()).unwrap()))
}

/// `(N, C)` or `(N, C, d)` logits shapes.
fn class_shape() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        (1usize..5, 1usize..6).prop_map(|(n, c)| vec![n, c]),
        (1usize..4, 1usize..5, 1usize..4).prop_map(|(n, c, d)| vec![n, c, d])
    ]
}

/// Class-index targets for logits of shape `s` (`(N)` or `(N, d)`), some equal to `ignore`.
fn class_targets(s: &[usize], ignore: i64) -> impl Strategy<Value = Tensor> {
    let c = s[1] as i64;
    let mut t_shape = s.to_vec();
    t_shape.remove(1);
    let n: usize = t_shape.iter().product();
    prop::collection::vec(prop_oneof![6 => 0..c, 1 => Just(ignore)], n)
        .prop_map(move |v| Tensor::from_vec(v, t_shape.clone()).unwrap())
}

fn reduction() -> impl Strategy<Value = Reduction> {
    prop::sample::select(vec![Reduction::None, Reduction::Mean, Reduction::Sum])
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * (1.0 + a.abs().max(b.abs()))
}

// ----- distributions and information ------------------------------------------------------------

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn softmax_rows_are_distributions_and_log_softmax_is_non_positive(
        (x, dim) in shape(4, 5).prop_flat_map(|s| { let r = s.len() as isize; (tensor(s, -60.0, 60.0), -r..r) }),
        f32_too in any::<bool>(),
    ) {
        let x = if f32_too { x.to_dtype(DType::F32).unwrap() } else { x };
        let p = x.softmax(dim).unwrap();
        for v in p.to_f64_vec() {
            prop_assert!((0.0..=1.0).contains(&v), "softmax value {v} outside [0, 1]");
        }
        let tol = if f32_too { 1e-5 } else { 1e-12 };
        for s in p.sum_dim(dim, false).unwrap().to_f64_vec() {
            prop_assert!((s - 1.0).abs() <= tol, "softmax row sums to {s}");
        }
        for v in x.log_softmax(dim).unwrap().to_f64_vec() {
            prop_assert!(v <= 0.0, "log_softmax value {v} > 0");
        }
        // exp(log_softmax) is softmax.
        let e = x.log_softmax(dim).unwrap().exp().unwrap();
        prop_assert!(e.allclose(&p, 1e-4, 1e-6).unwrap());
    }

    #[test]
    fn cross_entropy_is_non_negative(
        (x, t) in class_shape().prop_flat_map(|s| (tensor(s.clone(), -20.0, 20.0), class_targets(&s, -100))),
        ls in prop_oneof![Just(0.0), 0.0f64..=1.0], red in reduction(), weighted in any::<bool>(),
    ) {
        let mut o = CrossEntropyOpts::default().label_smoothing(ls).reduction(red);
        if weighted {
            let c = x.dims()[1];
            o = o.weight(Tensor::from_data(TensorData::from_vec((0..c).map(|i| 0.5 + i as f64).collect::<Vec<_>>(), [c]).unwrap()));
        }
        let l = F::cross_entropy_with(&x, &t, &o).unwrap();
        for v in l.to_f64_vec() {
            // NaN only for a mean over all-ignored targets (0/0).
            prop_assert!(v >= 0.0 || (v.is_nan() && red == Reduction::Mean), "cross_entropy {v} < 0");
        }
    }

    #[test]
    fn cross_entropy_with_probability_targets_is_entropy_plus_kl(
        (x, q) in class_shape().prop_flat_map(|s| (tensor(s.clone(), -10.0, 10.0), tensor(s, -10.0, 10.0))),
    ) {
        // Targets p = softmax(q) (rows are distributions); for class dim 1 of (N, C) or (N, C, d).
        let p = q.softmax(1).unwrap();
        let ce = F::cross_entropy_with(&x, &p, &CrossEntropyOpts::default().reduction(Reduction::None)).unwrap();
        let h = info::entropy(&p, 1).unwrap();
        let kl = info::kl_divergence(&p, &x.softmax(1).unwrap(), 1).unwrap();
        let ce_info = info::cross_entropy(&p, &x.softmax(1).unwrap(), 1).unwrap();
        prop_assert_eq!(ce.dims(), h.dims());
        for ((c, (h, k)), ci) in ce.to_f64_vec().into_iter().zip(h.to_f64_vec().into_iter().zip(kl.to_f64_vec())).zip(ce_info.to_f64_vec()) {
            prop_assert!(close(c, h + k, 1e-9), "CE {c} != H {h} + KL {k}");
            prop_assert!(close(c, ci, 1e-9), "functional CE {c} != info::cross_entropy {ci}");
            prop_assert!(k >= -1e-12, "KL {k} < 0");
        }
    }

    #[test]
    fn kl_div_batchmean_of_distributions_is_non_negative(
        (a, b) in shape(3, 5).prop_flat_map(|s| (tensor(s.clone(), -8.0, 8.0), tensor(s, -8.0, 8.0))),
        log_target in any::<bool>(),
    ) {
        let last = a.ndim() as isize - 1;
        let (log_q, p) = (a.log_softmax(last).unwrap(), b.softmax(last).unwrap());
        let target = if log_target { p.log().unwrap() } else { p.clone() };
        let o = KlDivOpts::default().reduction(Reduction::BatchMean).log_target(log_target);
        let kl = F::kl_div_with(&log_q, &target, &o).unwrap().item().unwrap();
        prop_assert!(kl >= -1e-12, "kl_div batchmean {kl} < 0");
        // The same number as info::kl_divergence summed over rows, divided by the batch size.
        let rows = info::kl_divergence(&p, &log_q.exp().unwrap(), last).unwrap().sum().unwrap().item().unwrap();
        prop_assert!(close(kl, rows / a.dims()[0] as f64, 1e-9), "kl_div {kl} vs info {}", rows / a.dims()[0] as f64);
    }

    #[test]
    fn bce_with_logits_equals_bce_of_sigmoid(
        (x, t) in shape(3, 5).prop_flat_map(|s| (tensor(s.clone(), -15.0, 15.0), tensor(s, 0.0, 1.0))),
        red in reduction(),
    ) {
        // |x| <= 15 keeps ln(sigmoid) and ln(1 - sigmoid) far above BCE's -100 clamp, so both
        // forms compute the same finite number.
        let a = F::binary_cross_entropy_with_logits_with(&x, &t, &BceWithLogitsOpts::default().reduction(red)).unwrap();
        let b = F::binary_cross_entropy_with(&x.sigmoid().unwrap(), &t, &BceOpts::default().reduction(red)).unwrap();
        for (u, v) in a.to_f64_vec().into_iter().zip(b.to_f64_vec()) {
            prop_assert!(v.is_finite());
            prop_assert!(close(u, v, 1e-7), "with_logits {u} vs bce(sigmoid) {v}");
        }
    }
}

// Gradient checks on random shapes: every op of the catalog, in
// `crates/autograd/tests/catalog.rs` (`every_op_passes_gradcheck_on_random_shapes`).
