//! Mathematical properties on random inputs (proptest): softmax rows are distributions,
//! log_softmax <= 0, cross-entropy and KL are non-negative, `CE = H(p) + KL(p || q)`,
//! BCE-with-logits agrees with BCE on sigmoid outputs, and `gradcheck` passes for every
//! differentiable op on random shapes (f64, inputs kept away from kinks and ties).
//!
//! Cases per property: 128 by default (the gradcheck properties 64); `TORCHLET_PROPTEST_CASES=N`
//! runs N cases of every property, e.g.
//! `TORCHLET_PROPTEST_CASES=2000 cargo test --release --test properties`.

use proptest::prelude::*;
use torchlet::autograd::info;
use torchlet::nn::functional::{
    self as F, BceOpts, BceWithLogitsOpts, CosineEmbeddingOpts, CrossEntropyOpts, KlDivOpts, NllLossOpts,
    Reduction,
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
    prop::collection::vec(lo..hi, n).prop_map(move |v| Tensor::from_vec(v, shape.clone()).unwrap())
}

/// Values in `[-2, 2]`, all distinct and at least `0.1/n` away from 0, -0.5 and 1 (the kinks
/// of relu, abs, clamp and the ties of max/min/maximum): the ranks of random draws placed on
/// a shifted grid, so their order stays random.
fn spread(v: &[f64]) -> Vec<f64> {
    let n = v.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = -2.0 + (4.0 * rank as f64 + 2.1) / n as f64;
    }
    out
}

fn kink_free(shape: Vec<usize>) -> impl Strategy<Value = TensorData> {
    let n: usize = shape.iter().product();
    prop::collection::vec(-1.0f64..1.0, n)
        .prop_map(move |v| TensorData::from_vec(spread(&v), shape.clone()).unwrap())
}

fn positive(shape: Vec<usize>) -> impl Strategy<Value = TensorData> {
    let n: usize = shape.iter().product();
    prop::collection::vec(0.3f64..3.0, n).prop_map(move |v| TensorData::from_vec(v, shape.clone()).unwrap())
}

fn within(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = TensorData> {
    let n: usize = shape.iter().product();
    prop::collection::vec(lo..hi, n).prop_map(move |v| TensorData::from_vec(v, shape.clone()).unwrap())
}

/// Checks `f` at `inputs` against finite differences.
fn check(
    name: &str,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[TensorData],
) -> std::result::Result<(), TestCaseError> {
    torchlet::gradcheck(f, inputs, 1e-6, 1e-6, 1e-4).map(drop).map_err(|e| {
        TestCaseError::fail(format!(
            "{name}: {e} (input shapes {:?})",
            inputs.iter().map(|i| i.shape().clone()).collect::<Vec<_>>()
        ))
    })
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
            o = o.weight(Tensor::from_vec((0..c).map(|i| 0.5 + i as f64).collect::<Vec<_>>(), [c]).unwrap());
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

// ----- gradcheck on random shapes ------------------------------------------------------------------

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn unary_ops_pass_gradcheck(x in shape(3, 4).prop_flat_map(kink_free), p in shape(3, 4).prop_flat_map(positive), e in -2.0f64..3.0) {
        let x = &[x];
        check("exp", |t| t[0].exp(), x)?;
        check("abs", |t| t[0].abs(), x)?;
        check("relu", |t| t[0].relu(), x)?;
        check("sigmoid", |t| t[0].sigmoid(), x)?;
        check("tanh", |t| t[0].tanh(), x)?;
        check("softplus", |t| t[0].softplus(), x)?;
        check("log_sigmoid", |t| t[0].log_sigmoid(), x)?;
        check("neg", |t| t[0].neg(), x)?;
        check("add_scalar", |t| t[0].add_scalar(e), x)?;
        check("mul_scalar", |t| t[0].mul_scalar(e), x)?;
        check("clamp", |t| t[0].clamp(Some(-0.5), Some(1.0)), x)?;
        check("clamp_min", |t| t[0].clamp(Some(0.0), None), x)?;
        check("to_dtype", |t| t[0].to_dtype(DType::F64)?.mul(&t[0]), x)?;
        let p = &[p];
        check("log", |t| t[0].log(), p)?;
        check("log1p", |t| t[0].log1p(), p)?;
        check("sqrt", |t| t[0].sqrt(), p)?;
        check("pow_scalar", |t| t[0].pow_scalar(e), p)?;
    }

    #[test]
    fn binary_ops_with_broadcasting_pass_gradcheck(
        (a, b, pb) in shape(3, 4).prop_flat_map(|s| {
            // b: a's shape with some dims set to 1 and some leading dims dropped.
            let n = s.len();
            let bs = (prop::collection::vec(any::<bool>(), n), 0..n).prop_map({
                let s = s.clone();
                move |(ones, drop): (Vec<bool>, usize)| s.iter().zip(ones).map(|(&d, o)| if o { 1 } else { d }).skip(drop).collect::<Vec<_>>()
            });
            (Just(s), bs)
        }).prop_flat_map(|(s, bs)| {
            let (na, nb) = (s.iter().product::<usize>(), bs.iter().product::<usize>());
            (prop::collection::vec(-1.0f64..1.0, na + nb), positive(bs.clone()), Just((s, bs)))
        }).prop_map(|(v, pb, (s, bs))| {
            // a and b drawn from one spread grid: no ties between them (maximum / minimum).
            let v = spread(&v);
            let na = s.iter().product::<usize>();
            (TensorData::from_vec(v[..na].to_vec(), s).unwrap(), TensorData::from_vec(v[na..].to_vec(), bs).unwrap(), pb)
        }),
    ) {
        let ab = [a.clone(), b.clone()];
        check("add", |t| t[0].add(&t[1]), &ab)?;
        check("sub", |t| t[1].sub(&t[0]), &ab)?;
        check("mul", |t| t[0].mul(&t[1]), &ab)?;
        check("maximum", |t| t[0].maximum(&t[1]), &ab)?;
        check("minimum", |t| t[1].minimum(&t[0]), &ab)?;
        check("where", |t| Tensor::where_cond(&t[0].data().gt_scalar(0.0)?, &t[0], &t[1]), &ab)?;
        let apb = [a.clone(), pb.clone()];
        check("div", |t| t[0].div(&t[1]), &apb)?;
        check("pow", |t| t[1].pow(&t[0]), &apb)?;
    }

    #[test]
    fn reductions_and_softmax_pass_gradcheck(
        (x, dim) in shape(4, 4).prop_flat_map(|s| { let r = s.len() as isize; (kink_free(s), -r..r) }),
        keep in any::<bool>(),
    ) {
        let x = &[x];
        check("sum", |t| t[0].sum(), x)?;
        check("mean", |t| t[0].mean(), x)?;
        check("max", |t| t[0].max(), x)?;
        check("min", |t| t[0].min(), x)?;
        check("sum_dim", |t| t[0].sum_dim(dim, keep), x)?;
        check("mean_dim", |t| t[0].mean_dim(dim, keep), x)?;
        check("max_dim", |t| Ok(t[0].max_dim(dim, keep)?.0), x)?;
        check("min_dim", |t| Ok(t[0].min_dim(dim, keep)?.0), x)?;
        check("logsumexp", |t| t[0].logsumexp(dim, keep), x)?;
        check("softmax", |t| t[0].softmax(dim), x)?;
        check("log_softmax", |t| t[0].log_softmax(dim), x)?;
    }

    #[test]
    fn shape_and_index_ops_pass_gradcheck(
        (x, dim, idx) in shape(4, 4).prop_flat_map(|s| {
            let r = s.len() as isize;
            (kink_free(s.clone()), 0..r).prop_flat_map(move |(x, d)| {
                let size = s[d as usize] as i64;
                (Just(x), Just(d), prop::collection::vec(0..size, 1..6))
            })
        }),
    ) {
        let d = dim as usize;
        let dims = x.dims().to_vec();
        let x1 = std::slice::from_ref(&x);
        let n = dims.len() as isize;
        check("reshape", |t| t[0].reshape(&[-1]), x1)?;
        check("flatten", |t| t[0].flatten(0, dim), x1)?;
        check("permute", |t| t[0].permute(&(0..n).rev().collect::<Vec<_>>()), x1)?;
        check("transpose", |t| t[0].transpose(0, dim), x1)?;
        check("unsqueeze+squeeze", |t| t[0].unsqueeze(dim)?.mul_scalar(2.0)?.squeeze_dim(dim), x1)?;
        check("squeeze", |t| t[0].squeeze(), x1)?;
        check("contiguous", |t| t[0].transpose(0, dim)?.contiguous(), x1)?;
        check("narrow", |t| t[0].narrow(dim, dims[d] / 2, dims[d] - dims[d] / 2), x1)?;
        let mut big = vec![2usize];
        big.extend(&dims);
        check("expand", |t| t[0].expand(Shape::new(&big)), x1)?;
        check("cat", |t| Tensor::cat(&[&t[0], &t[0].mul_scalar(3.0)?], dim), x1)?;
        check("stack", |t| Tensor::stack(&[&t[0], &t[0].exp()?], dim), x1)?;
        let index = Tensor::from(idx.clone());
        check("index_select", |t| t[0].index_select(dim, &index), x1)?;
        // gather: an index of x's shape with idx's values cycled along every position.
        let gi: Vec<i64> = (0..x.numel()).map(|i| idx[i % idx.len()]).collect();
        let gather_index = Tensor::from_vec(gi, x.shape()).unwrap();
        check("gather", |t| t[0].gather(dim, &gather_index), x1)?;
    }

    #[test]
    fn matmul_and_linear_pass_gradcheck(
        (a, b, bias) in (1usize..4, 1usize..4, 1usize..4, prop::collection::vec(1usize..3, 0..2), any::<bool>())
            .prop_flat_map(|(m, k, n, batch, vec_rhs)| {
                let mut sa = batch.clone();
                sa.extend([m, k]);
                let sb = if vec_rhs { vec![k] } else { let mut s = batch.clone(); s.extend([k, n]); s };
                (within(sa, -1.0, 1.0), within(sb, -1.0, 1.0), within(vec![n], -1.0, 1.0))
            }),
        w in (1usize..4).prop_flat_map(|o| within(vec![o, 3], -1.0, 1.0)),
    ) {
        check("matmul", |t| t[0].matmul(&t[1]), &[a.clone(), b.clone()])?;
        let o = w.dims()[0];
        let x = TensorData::from_vec((0..12).map(|i| (i as f64 * 0.37).sin()).collect::<Vec<_>>(), [4, 3]).unwrap();
        let b = TensorData::from_vec(bias.to_vec::<f64>().unwrap().into_iter().cycle().take(o).collect::<Vec<_>>(), [o]).unwrap();
        check("linear", |t| t[0].linear(&t[1], Some(&t[2])), &[x.clone(), w.clone(), b])?;
        check("linear no bias", |t| t[0].linear(&t[1], None), &[x.reshape(&[2, 2, 3]).unwrap(), w])?;
    }

    #[test]
    fn losses_pass_gradcheck(
        (x, t) in class_shape().prop_flat_map(|s| (within(s.clone(), -3.0, 3.0), class_targets(&s, 1))),
        q in class_shape().prop_flat_map(|s| (within(s.clone(), -3.0, 3.0), within(s, 0.0, 1.0))),
        ls in prop_oneof![Just(0.0), 0.0f64..1.0], red in reduction(), weighted in any::<bool>(),
        (p, y) in shape(3, 4).prop_flat_map(|s| (within(s.clone(), 0.05, 0.95), within(s, 0.05, 0.95))),
        margin in -0.5f64..0.5,
    ) {
        let c = x.dims()[1];
        let w = weighted.then(|| Tensor::from_vec((0..c).map(|i| 0.5 + 0.25 * i as f64).collect::<Vec<_>>(), [c]).unwrap());
        let mut ce = CrossEntropyOpts::default().label_smoothing(ls).reduction(red).ignore_index(1);
        let mut nll = NllLossOpts::default().reduction(red).ignore_index(1);
        if let Some(w) = &w {
            ce = ce.weight(w.clone());
            nll = nll.weight(w.clone());
        }
        // With ignore_index 1 every target 1 is ignored; a mean over only ignored ones is NaN.
        let live = t.to_vec::<i64>().unwrap().iter().any(|&k| k != 1);
        if live || red != Reduction::Mean {
            check("cross_entropy", |v| F::cross_entropy_with(&v[0], &t, &ce), std::slice::from_ref(&x))?;
            check("nll_loss", |v| F::nll_loss_with(&v[0].log_softmax(1)?, &t, &nll), std::slice::from_ref(&x))?;
        }
        let (qx, qt) = q;
        let mut cep = CrossEntropyOpts::default().label_smoothing(ls).reduction(red);
        if qx.dims()[1] == c {
            if let Some(w) = &w {
                cep = cep.weight(w.clone());
            }
        }
        check("cross_entropy probs", |v| F::cross_entropy_with(&v[0], &v[1], &cep), &[qx, qt])?;
        check("binary_cross_entropy", |v| F::binary_cross_entropy_with(&v[0], &v[1], &BceOpts::default().reduction(red)), &[p.clone(), y.clone()])?;
        let last = *p.dims().last().unwrap();
        let pw = Tensor::from_vec((0..last).map(|i| 0.5 + i as f64).collect::<Vec<_>>(), [last]).unwrap();
        let bo = BceWithLogitsOpts::default().reduction(red).pos_weight(pw).weight(Tensor::scalar(0.7f64));
        check("binary_cross_entropy_with_logits", |v| F::binary_cross_entropy_with_logits_with(&v[0], &v[1], &bo), &[p.clone(), y.clone()])?;
        for log_target in [false, true] {
            let ko = KlDivOpts::default().reduction(if red == Reduction::Mean { Reduction::BatchMean } else { red }).log_target(log_target);
            check("kl_div", |v| F::kl_div_with(&v[0], &v[1], &ko), &[p.clone(), y.clone()])?;
        }
        check("mse_loss", |v| F::mse_loss_with(&v[0], &v[1], red), &[p.clone(), y.clone()])?;
        if p.ndim() <= 2 {
            let n = if p.ndim() == 2 { p.dims()[0] } else { 0 };
            let yy = if p.ndim() == 2 {
                Tensor::from_vec((0..n).map(|i| if i % 2 == 0 { 1i64 } else { -1 }).collect::<Vec<_>>(), [n]).unwrap()
            } else {
                Tensor::scalar(-1i64)
            };
            // Keep cos - margin away from the hinge at 0.
            let co = CosineEmbeddingOpts::default().margin(margin).reduction(red);
            let ok = no_grad(|| -> Result<bool> {
                let (a, b) = (Tensor::from_data(p.clone()), Tensor::from_data(y.clone()).add_scalar(-0.5)?);
                let d = a.ndim() as isize - 1;
                let cos = a.mul(&b)?.sum_dim(d, false)?.div(&a.mul(&a)?.sum_dim(d, false)?.mul(&b.mul(&b)?.sum_dim(d, false)?)?.sqrt()?)?;
                Ok(cos.to_f64_vec().iter().all(|c| (c - margin).abs() > 1e-3))
            }).unwrap();
            if ok {
                check("cosine_embedding_loss", |v| F::cosine_embedding_loss_with(&v[0], &v[1].add_scalar(-0.5)?, &yy, &co), &[p.clone(), y.clone()])?;
            }
        }
    }
}
