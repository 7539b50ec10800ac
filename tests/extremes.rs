//! Numerical extremes keep PyTorch's behaviour: logits of magnitude 1e4, sigmoid at ±1e3,
//! probabilities of exactly 0 and 1 in BCE (the -100 log clamp), `-inf` logits, all targets
//! ignored, and empty batches (N = 0) for every loss and reduction. The expected values are
//! hand-derived (see the comments) or PyTorch's documented results (docs/semantics.md, the
//! parity cases).

use torchlet::nn::functional::{
    self as F, BceOpts, BceWithLogitsOpts, CosineEmbeddingOpts, CrossEntropyOpts, KlDivOpts, NllLossOpts,
    Reduction,
};
use torchlet::prelude::*;
use torchlet::Result;

const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

fn leaf(v: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape.to_vec()).unwrap().requires_grad_(true).unwrap()
}

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec()
}

fn grad(t: &Tensor) -> Vec<f64> {
    t.grad().expect("a gradient").to_f64_vec()
}

// ----- logits of magnitude 1e4 ------------------------------------------------------------------

#[test]
fn logits_of_1e4_give_finite_cross_entropy_log_softmax_and_exact_gradients() {
    // Row 0: x = [1e4, -1e4, 0], target 1: lp = x - 1e4 = [0, -2e4, -1e4], loss 2e4.
    // Row 1: x = [-1e4, -1e4, 1e4], target 2: lp = [-2e4, -2e4, 0], loss 0.
    // mean = 1e4; grad = (softmax - onehot) / N = ([1,0,0] - [0,1,0]) / 2 and 0.
    let x = leaf(vec![1e4, -1e4, 0.0, -1e4, -1e4, 1e4], &[2, 3]);
    let t = Tensor::from(vec![1i64, 2]);
    let l = F::cross_entropy(&x, &t).unwrap();
    assert_eq!(l.item().unwrap(), 1e4);
    l.backward().unwrap();
    assert_eq!(grad(&x), vec![0.5, -0.5, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(vals(&x.log_softmax(1).unwrap()), vec![0.0, -2e4, -1e4, -2e4, -2e4, 0.0]);
    assert_eq!(vals(&x.softmax(1).unwrap()), vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    // Through the two-step form too: nll_loss(log_softmax(x)).
    let y = leaf(vec![1e4, -1e4, 0.0, -1e4, -1e4, 1e4], &[2, 3]);
    let l2 = F::nll_loss(&y.log_softmax(1).unwrap(), &t).unwrap();
    assert_eq!(l2.item().unwrap(), 1e4);
    l2.backward().unwrap();
    assert_eq!(grad(&y), vec![0.5, -0.5, 0.0, 0.0, 0.0, 0.0]);
    // logsumexp of [1e4, 1e4] is 1e4 + ln 2 (f64: no overflow in exp).
    let z = Tensor::with_dtype(vec![1e4f64, 1e4], DType::F64);
    assert!((z.logsumexp(0, false).unwrap().item().unwrap() - (1e4 + 2f64.ln())).abs() < 1e-9);
}

// ----- sigmoid at ±1e3 ----------------------------------------------------------------------------

#[test]
fn sigmoid_saturates_exactly_at_plus_minus_1e3_without_nan() {
    for dt in [DType::F32, DType::F64] {
        let x = Tensor::with_dtype(vec![-1e3f64, 1e3, -40.0, 40.0], DType::F64)
            .to_dtype(dt)
            .unwrap()
            .requires_grad_(true)
            .unwrap();
        let y = x.sigmoid().unwrap();
        let v = vals(&y);
        assert_eq!(v[0], 0.0, "{dt}");
        assert_eq!(v[1], 1.0, "{dt}");
        assert!(v.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)), "{dt}: {v:?}");
        y.sum().unwrap().backward().unwrap();
        // y (1 - y) is exactly 0 at both saturated ends: no NaN from inf/inf.
        let g = grad(&x);
        assert_eq!(&g[..2], &[0.0, 0.0], "{dt}");
        assert!(g.iter().all(|g| g.is_finite()));
        // The stable companions stay finite: log_sigmoid(-1e3) = -1e3, softplus(1e3) = 1e3.
        assert_eq!(vals(&x.log_sigmoid().unwrap())[..2], [-1e3, 0.0]);
        assert_eq!(vals(&x.softplus().unwrap())[..2], [0.0, 1e3]);
    }
}

#[test]
fn bce_with_logits_at_plus_minus_1e3_is_finite_and_exact() {
    // l = (1 - t) x - log_sigmoid(x): x = 1e3, t = 0 -> 1e3; x = -1e3, t = 1 -> 1e3;
    // x = 1e3, t = 1 -> 0; x = -1e3, t = 0 -> 0. Gradient sigmoid(x) - t: [1, -1, 0, 0].
    let x = leaf(vec![1e3, -1e3, 1e3, -1e3], &[4]);
    let t = Tensor::from(vec![0.0f32, 1.0, 1.0, 0.0]);
    let l = F::binary_cross_entropy_with_logits_with(
        &x,
        &t,
        &BceWithLogitsOpts::default().reduction(Reduction::None),
    )
    .unwrap();
    assert_eq!(vals(&l), vec![1e3, 1e3, 0.0, 0.0]);
    l.sum().unwrap().backward().unwrap();
    assert_eq!(grad(&x), vec![1.0, -1.0, 0.0, 0.0]);
}

// ----- BCE at p = 0 and 1 -------------------------------------------------------------------------

#[test]
fn bce_clamps_the_log_at_minus_100_for_p_of_0_and_1() {
    // Wrong and certain: -log clamped at -100 -> loss 100 each. Right and certain: 0.
    let p = leaf(vec![0.0, 1.0, 0.0, 1.0], &[4]);
    let t = Tensor::from(vec![1.0f32, 0.0, 0.0, 1.0]);
    let l = F::binary_cross_entropy_with(&p, &t, &BceOpts::default().reduction(Reduction::None)).unwrap();
    assert_eq!(vals(&l), vec![100.0, 100.0, 0.0, 0.0]);
    let mean = F::binary_cross_entropy(&p, &t).unwrap();
    assert_eq!(mean.item().unwrap(), 50.0);
    mean.backward().unwrap();
    // (p - t) / max(p (1 - p), 1e-12) / 4: huge but finite, with PyTorch's sign; 0 where p == t.
    let g = grad(&p);
    assert!(g.iter().all(|g| g.is_finite()), "{g:?}");
    assert!(g[0] < -1e10 && g[1] > 1e10 && g[2] == 0.0 && g[3] == 0.0, "{g:?}");
}

// ----- -inf logits ----------------------------------------------------------------------------------

#[test]
fn minus_inf_logits_get_probability_zero_and_keep_the_rest_finite() {
    let ninf = f32::NEG_INFINITY;
    // PyTorch's parity case softmax/f32/neg_inf: [[0, -inf, 1], [-inf, 2, -inf]].
    let x = leaf(vec![0.0, ninf, 1.0, ninf, 2.0, ninf], &[2, 3]);
    let p = x.softmax(-1).unwrap();
    let pv = vals(&p);
    assert_eq!((pv[1], pv[3], pv[4], pv[5]), (0.0, 0.0, 1.0, 0.0));
    assert!((pv[0] - 0.268_941_43).abs() < 1e-6 && (pv[2] - 0.731_058_6).abs() < 1e-6);
    let lp = vals(&x.log_softmax(-1).unwrap());
    assert_eq!((lp[1], lp[3], lp[4], lp[5]), (f64::NEG_INFINITY, f64::NEG_INFINITY, 0.0, f64::NEG_INFINITY));
    // Softmax backward: no NaN at the -inf entries (y = 0 there).
    p.mul(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]).unwrap())
        .unwrap()
        .sum()
        .unwrap()
        .backward()
        .unwrap();
    assert!(grad(&x).iter().all(|g| g.is_finite()));

    // Cross-entropy with targets on finite logits is finite: row 0 target 2: -ln(0.7311) = 0.3133;
    // row 1 target 1: 0. Gradient softmax - onehot, 0 at the -inf logits.
    let x = leaf(vec![0.0, ninf, 1.0, ninf, 2.0, ninf], &[2, 3]);
    let l = F::cross_entropy_with(
        &x,
        &Tensor::from(vec![2i64, 1]),
        &CrossEntropyOpts::default().reduction(Reduction::Sum),
    )
    .unwrap();
    assert!((l.item().unwrap() - 0.313_261_7).abs() < 1e-6);
    l.backward().unwrap();
    let g = grad(&x);
    assert!((g[0] - 0.268_941_43).abs() < 1e-6 && (g[2] + 0.268_941_43).abs() < 1e-6);
    assert_eq!((g[1], g[3], g[4], g[5]), (0.0, 0.0, 0.0, 0.0));

    // A target whose logit is -inf: the loss is +inf (PyTorch: -log_softmax = inf).
    let l = F::cross_entropy(&x.detach(), &Tensor::from(vec![1i64, 1])).unwrap();
    assert_eq!(l.item().unwrap(), f64::INFINITY);
    // A row with no finite logit has no distribution: NaN, as in PyTorch.
    let all = Tensor::from(vec![ninf, ninf]).softmax(0).unwrap();
    assert!(vals(&all).iter().all(|v| v.is_nan()));
}

// ----- all targets ignored ----------------------------------------------------------------------------

#[test]
fn all_targets_ignored_mean_is_nan_sum_is_zero_and_gradients_are_zero() {
    let t = Tensor::from(vec![-100i64, -100, -100]);
    for red in REDUCTIONS {
        for ls in [0.0, 0.2] {
            let x = leaf((0..12).map(|i| i as f32 / 7.0 - 0.8).collect(), &[3, 4]);
            let o = CrossEntropyOpts::default().reduction(red).label_smoothing(ls);
            let l = F::cross_entropy_with(&x, &t, &o).unwrap();
            match red {
                Reduction::Mean => assert!(l.item().unwrap().is_nan(), "mean over no targets is 0/0"),
                Reduction::Sum => assert_eq!(l.item().unwrap(), 0.0),
                _ => assert_eq!(vals(&l), vec![0.0; 3]),
            }
            l.sum().unwrap().backward().unwrap();
            assert_eq!(grad(&x), vec![0.0; 12], "{red:?}, ls {ls}");
        }
        let x = leaf(vec![0.5; 12], &[3, 4]);
        let l = F::nll_loss_with(&x, &t, &NllLossOpts::default().reduction(red)).unwrap();
        match red {
            Reduction::Mean => assert!(l.item().unwrap().is_nan()),
            Reduction::Sum => assert_eq!(l.item().unwrap(), 0.0),
            _ => assert_eq!(vals(&l), vec![0.0; 3]),
        }
        l.sum().unwrap().backward().unwrap();
        assert_eq!(grad(&x), vec![0.0; 12]);
    }
}

// ----- empty batch ------------------------------------------------------------------------------------

/// Checks a loss over an empty batch: `none` gives `none_shape` (no elements), `mean` NaN
/// (0/0), `sum` 0; backward works and gives empty gradients.
fn check_empty(name: &str, red: Reduction, l: Result<Tensor>, none_shape: &[usize], inputs: &[&Tensor]) {
    let l = l.unwrap_or_else(|e| panic!("{name} {red:?}: {e}"));
    match red {
        Reduction::None => assert_eq!(l.dims(), none_shape, "{name}"),
        Reduction::Mean | Reduction::BatchMean => {
            assert!(l.item().unwrap().is_nan(), "{name} {red:?}: mean of zero elements is NaN")
        }
        Reduction::Sum => assert_eq!(l.item().unwrap(), 0.0, "{name}: sum of zero elements is 0"),
    }
    l.sum().unwrap().backward().unwrap_or_else(|e| panic!("{name} {red:?} backward: {e}"));
    for x in inputs {
        if x.requires_grad() {
            assert_eq!(x.grad().map(|g| g.numel()), Some(0), "{name} {red:?}: empty gradient");
        }
    }
}

#[test]
fn empty_batches_give_nan_means_zero_sums_and_empty_gradients() {
    for red in REDUCTIONS {
        let x = leaf(vec![], &[0, 3]);
        let t = Tensor::from_vec(Vec::<i64>::new(), [0]).unwrap();
        let ce = CrossEntropyOpts::default().reduction(red);
        check_empty("cross_entropy", red, F::cross_entropy_with(&x, &t, &ce), &[0], &[&x]);
        let x = leaf(vec![], &[0, 3]);
        check_empty(
            "cross_entropy ls",
            red,
            F::cross_entropy_with(&x, &t, &ce.clone().label_smoothing(0.1)),
            &[0],
            &[&x],
        );
        let (x, p) = (leaf(vec![], &[0, 3]), leaf(vec![], &[0, 3]));
        check_empty("cross_entropy probs", red, F::cross_entropy_with(&x, &p, &ce), &[0], &[&x, &p]);
        let x = leaf(vec![], &[0, 3, 2]);
        let t2 = Tensor::from_vec(Vec::<i64>::new(), [0, 2]).unwrap();
        check_empty("cross_entropy spatial", red, F::cross_entropy_with(&x, &t2, &ce), &[0, 2], &[&x]);
        let x = leaf(vec![], &[0, 3]);
        check_empty(
            "nll_loss",
            red,
            F::nll_loss_with(&x, &t, &NllLossOpts::default().reduction(red)),
            &[0],
            &[&x],
        );
        let (p, y) = (leaf(vec![], &[0]), leaf(vec![], &[0]));
        check_empty(
            "bce",
            red,
            F::binary_cross_entropy_with(&p, &y, &BceOpts::default().reduction(red)),
            &[0],
            &[&p, &y],
        );
        let (p, y) = (leaf(vec![], &[0, 2]), leaf(vec![], &[0, 2]));
        let o = BceWithLogitsOpts::default().reduction(red).pos_weight(Tensor::from(vec![1.0f32, 2.0]));
        check_empty(
            "bce_with_logits",
            red,
            F::binary_cross_entropy_with_logits_with(&p, &y, &o),
            &[0, 2],
            &[&p, &y],
        );
        let (a, b) = (leaf(vec![], &[0, 4]), leaf(vec![], &[0, 4]));
        check_empty(
            "kl_div",
            red,
            F::kl_div_with(&a, &b, &KlDivOpts::default().reduction(red)),
            &[0, 4],
            &[&a, &b],
        );
        let (a, b) = (leaf(vec![], &[0, 4]), leaf(vec![], &[0, 4]));
        check_empty("mse_loss", red, F::mse_loss_with(&a, &b, red), &[0, 4], &[&a, &b]);
        let (a, b) = (leaf(vec![], &[0, 4]), leaf(vec![], &[0, 4]));
        let yy = Tensor::from_vec(Vec::<i64>::new(), [0]).unwrap();
        let co = CosineEmbeddingOpts::default().reduction(red);
        check_empty(
            "cosine_embedding_loss",
            red,
            F::cosine_embedding_loss_with(&a, &b, &yy, &co),
            &[0],
            &[&a, &b],
        );
    }
    // kl_div batchmean divides the sum (0) by the batch size (0): NaN, like PyTorch.
    let (a, b) = (leaf(vec![], &[0, 4]), leaf(vec![], &[0, 4]));
    let o = KlDivOpts::default().reduction(Reduction::BatchMean);
    check_empty("kl_div batchmean", Reduction::BatchMean, F::kl_div_with(&a, &b, &o), &[], &[&a, &b]);
}

// ----- integer overflow ---------------------------------------------------------------------------

#[test]
fn integer_arithmetic_wraps_around_like_pytorch() {
    // PyTorch's int64 tensors use two's-complement arithmetic: i64::MAX + 1 == i64::MIN.
    let big = Tensor::from(vec![i64::MAX, i64::MIN, 3]);
    let one = Tensor::from(vec![1i64, 1, 1]);
    assert_eq!(big.add(&one).unwrap().to_vec::<i64>().unwrap(), vec![i64::MIN, i64::MIN + 1, 4]);
    assert_eq!(big.sub(&one).unwrap().to_vec::<i64>().unwrap(), vec![i64::MAX - 1, i64::MAX, 2]);
    assert_eq!(big.mul_scalar(2).unwrap().to_vec::<i64>().unwrap(), vec![-2, 0, 6]);
    assert_eq!(big.neg().unwrap().to_vec::<i64>().unwrap(), vec![i64::MIN + 1, i64::MIN, -3]);
    assert_eq!(big.abs().unwrap().to_vec::<i64>().unwrap(), vec![i64::MAX, i64::MIN, 3]);
    // MAX + MIN + 3 = -1 + 3 = 2, whatever the order of the wrapping partial sums.
    assert_eq!(big.sum().unwrap().item().unwrap(), 2.0);
    let two = Tensor::from(vec![i64::MAX, i64::MAX]);
    assert_eq!(two.sum().unwrap().to_vec::<i64>().unwrap(), vec![-2]);
    assert_eq!(two.sum_dim(0, false).unwrap().to_vec::<i64>().unwrap(), vec![-2]);
    assert_eq!(two.data().prod().unwrap().to_vec::<i64>().unwrap(), vec![1]);
}

#[test]
fn linear_with_zero_in_features_on_3d_input_is_the_bias() -> Result<()> {
    // PyTorch 2.9.1: F.linear(zeros(2, 3, 0), zeros(4, 0), b=[1, 2, 3, 4]) has shape (2, 3, 4),
    // every row b; after .sum().backward(): x.grad (2, 3, 0), W.grad (4, 0), b.grad [6, 6, 6, 6].
    let x = Tensor::zeros([2, 3, 0])?.requires_grad_(true)?;
    let w = Tensor::zeros([4, 0])?.requires_grad_(true)?;
    let b = leaf(vec![1.0, 2.0, 3.0, 4.0], &[4]);
    let y = F::linear(&x, &w, Some(&b))?;
    assert_eq!(y.shape().dims(), [2, 3, 4]);
    assert_eq!(vals(&y)[..4], [1.0, 2.0, 3.0, 4.0]);
    y.sum()?.backward()?;
    assert_eq!(grad(&b), [6.0; 4]);
    assert_eq!(x.grad().expect("x.grad").shape().dims(), [2, 3, 0]);
    assert_eq!(w.grad().expect("w.grad").shape().dims(), [4, 0]);
    Ok(())
}

#[test]
fn mse_overflow_is_inf_with_the_gradient_pytorch_gives() -> Result<()> {
    // PyTorch 2.9.1 (f32): mse_loss([1e20, 1], [0, 0]) = inf (the square overflows) while the
    // gradient 2 (x - y) / n = [1e20, 1] stays finite; mse_loss([3e38], [-3e38]) = inf, grad inf.
    let x = leaf(vec![1e20, 1.0], &[2]);
    let l = F::mse_loss(&x, &Tensor::from(vec![0.0f32, 0.0]))?;
    assert_eq!(l.item()?, f64::INFINITY);
    l.backward()?;
    let g = grad(&x);
    assert!((g[0] - 1e20).abs() <= 1e20 * 1e-6 && g[1] == 1.0, "{g:?}");
    let x = leaf(vec![3e38], &[1]);
    let l = F::mse_loss(&x, &Tensor::from(vec![-3e38f32]))?;
    l.backward()?;
    assert_eq!((l.item()?, grad(&x)[0]), (f64::INFINITY, f64::INFINITY));
    Ok(())
}

#[test]
fn cross_entropy_with_zero_total_weight_is_nan_with_or_without_label_smoothing() -> Result<()> {
    // PyTorch 2.9.1: cross_entropy(logits (2, 3), [0, 2], weight=zeros(3), label_smoothing=0.1
    // or 0) is nan (0 / 0 for the mean), and every gradient element is nan.
    for ls in [0.1, 0.0] {
        let lg = leaf(vec![1.0, 2.0, 3.0, 0.5, 0.1, 0.2], &[2, 3]);
        let opts = CrossEntropyOpts::default().weight(Tensor::zeros([3])?).label_smoothing(ls);
        let l = F::cross_entropy_with(&lg, &Tensor::from(vec![0i64, 2]), &opts)?;
        assert!(l.item()?.is_nan(), "label_smoothing {ls}");
        l.backward()?;
        assert!(grad(&lg).iter().all(|g| g.is_nan()), "label_smoothing {ls}: {:?}", grad(&lg));
    }
    Ok(())
}

#[test]
fn gradients_at_nan_and_zero_are_pytorchs() -> Result<()> {
    let nan = f32::NAN;
    let same = |got: Vec<f64>, want: &[f64]| assert_eq!(got, want);
    // PyTorch 2.9.1: x = [1, nan, 3, nan]; x.max().backward() -> x.grad = [0, 0.5, 0, 0.5]
    let x = leaf(vec![1.0, nan, 3.0, nan], &[4]);
    x.max()?.backward()?;
    same(grad(&x), &[0.0, 0.5, 0.0, 0.5]);
    // torch.maximum([1, nan, 2], [nan, 0.5, 1]).sum().backward(): a.grad [1, 1, 1], b.grad [1, 1, 0]
    let (a, b) = (leaf(vec![1.0, nan, 2.0], &[3]), leaf(vec![nan, 0.5, 1.0], &[3]));
    a.maximum(&b)?.sum()?.backward()?;
    same(grad(&a), &[1.0, 1.0, 1.0]);
    same(grad(&b), &[1.0, 1.0, 0.0]);
    // relu([nan, -1, 1]).sum().backward() -> [1, 0, 1]: the NaN passes its gradient
    let r = leaf(vec![nan, -1.0, 1.0], &[3]);
    r.relu()?.sum()?.backward()?;
    same(grad(&r), &[1.0, 0.0, 1.0]);
    // z = [0, 2]; z.pow(0) -> z.grad [0, 0]; z.pow(e = [0, 0]) -> z.grad [0, 0], e.grad [0, ln 2]
    let z = leaf(vec![0.0, 2.0], &[2]);
    z.pow(0.0)?.sum()?.backward()?;
    same(grad(&z), &[0.0, 0.0]);
    let (z, e) = (leaf(vec![0.0, 2.0], &[2]), leaf(vec![0.0, 0.0], &[2]));
    z.pow(&e)?.sum()?.backward()?;
    same(grad(&z), &[0.0, 0.0]);
    assert_eq!(grad(&e)[0], 0.0);
    assert!((grad(&e)[1] - std::f64::consts::LN_2).abs() < 1e-7);
    // torch.tensor(5.).index_select(0, tensor([0, 0])) raises "Index to scalar can have only 1 value"
    let err = Tensor::scalar(5.0f32).index_select(0, &Tensor::from(vec![0i64, 0])).expect_err("2 indices");
    assert!(err.to_string().contains("only 1 value"), "{err}");
    // softmax([0, -100, -90]) = [1, 3.7835e-44, 8.1940e-40]: subnormal results are not flushed
    let p = vals(&Tensor::from(vec![0.0f32, -100.0, -90.0]).softmax(0)?);
    assert!(p[1] > 3.7e-44 && p[1] < 3.9e-44 && (p[2] / 8.194008692231508e-40 - 1.0).abs() < 1e-5, "{p:?}");
    Ok(())
}
