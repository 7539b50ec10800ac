//! `info` (textbook information theory on probabilities) against the seed-000 notebook's
//! printed numbers, and `Categorical` against PyTorch's `categorical_entropy` parity cases.

use torchlet_autograd::distributions::Categorical;
use torchlet_autograd::{gradcheck, info, DType, Error, Generator, Tensor, TensorData};

fn dist(v: [f64; 5]) -> Tensor {
    Tensor::with_dtype(v, DType::F64)
}

// The seed notebook's distributions.
const NORMAL: [f64; 5] = [0.1, 0.2, 0.4, 0.2, 0.1];
const UNIFORM: [f64; 5] = [0.2; 5];
const RANDOM: [f64; 5] = [0.4, 0.1, 0.05, 0.20, 0.25];

fn close(got: &Tensor, want: f64) {
    let g = got.item().unwrap();
    assert!((g - want).abs() <= 1e-14 * want.abs().max(1.0), "{g} vs {want}");
}

#[test]
fn seed_000_information_entropy_cross_entropy_kl() {
    // h(0) = -ln 0.1
    let h = info::information(&dist(NORMAL)).unwrap().to_f64_vec();
    assert!((h[0] - 2.3025850929940455).abs() < 1e-15);
    close(&info::entropy(&dist(NORMAL), 0).unwrap(), 1.4708084763221112);
    close(&info::entropy(&dist(RANDOM), 0).unwrap(), 1.415022588493559);
    close(&info::cross_entropy(&dist(NORMAL), &dist(RANDOM), 0).unwrap(), 2.21095601980663);
    close(&info::cross_entropy(&dist(NORMAL), &dist(UNIFORM), 0).unwrap(), 1.6094379124341003);
    close(&info::cross_entropy(&dist(RANDOM), &dist(NORMAL), 0).unwrap(), 2.0253262207700673);
    close(&info::kl_divergence(&dist(NORMAL), &dist(RANDOM), 0).unwrap(), 0.7401475434845188);
    close(&info::kl_divergence(&dist(NORMAL), &dist(UNIFORM), 0).unwrap(), 0.13862943611198902);
    close(&info::kl_divergence(&dist(RANDOM), &dist(NORMAL), 0).unwrap(), 0.6103036322765085);
    close(&info::kl_divergence(&dist(RANDOM), &dist(RANDOM), 0).unwrap(), 0.0);
}

#[test]
fn info_zero_probabilities_contribute_zero() {
    // H([0, 1]) = 0 (0 ln 0 = 0); KL([0, 1] || [0.5, 0.5]) = ln 2.
    let p = Tensor::with_dtype(vec![0.0f64, 1.0], DType::F64);
    assert_eq!(info::entropy(&p, 0).unwrap().item().unwrap(), 0.0);
    let kl = info::kl_divergence(&p, &Tensor::with_dtype(vec![0.5f64, 0.5], DType::F64), 0)
        .unwrap()
        .item()
        .unwrap();
    assert!((kl - std::f64::consts::LN_2).abs() < 1e-15);
}

#[test]
fn info_gradcheck() {
    let mut g = Generator::new(40);
    let p = TensorData::randn_with([3, 4], DType::F64, &mut g).unwrap().softmax(1).unwrap();
    let q = TensorData::randn_with([3, 4], DType::F64, &mut g).unwrap().softmax(1).unwrap();
    let ok = |r: torchlet_autograd::Result<_>| r.map(|_| ()).unwrap_or_else(|e| panic!("{e}"));
    ok(gradcheck(|a| info::information(&a[0]), std::slice::from_ref(&p), 1e-6, 1e-7, 1e-5));
    ok(gradcheck(|a| info::entropy(&a[0], 1), std::slice::from_ref(&p), 1e-6, 1e-7, 1e-5));
    ok(gradcheck(|a| info::cross_entropy(&a[0], &a[1], 1), &[p.clone(), q.clone()], 1e-6, 1e-7, 1e-5));
    ok(gradcheck(|a| info::kl_divergence(&a[0], &a[1], -1), &[p, q], 1e-6, 1e-7, 1e-5));
}

#[test]
fn categorical_entropy_matches_pytorch_cases() {
    // categorical_entropy/f64/[5]: output and gradient for grad_output 0.75.
    let probs = Tensor::with_dtype(
        vec![
            0.41627917668450864f64,
            0.1363251687035159,
            0.25793508661563713,
            0.05446283088013615,
            0.13499773711620214,
        ],
        DType::F64,
    )
    .requires_grad_(true)
    .unwrap();
    let h = Categorical::from_probs(&probs).unwrap().entropy().unwrap();
    assert!((h.item().unwrap() - 1.4148301398040264).abs() < 1e-12);
    h.backward_with(&Tensor::with_dtype(0.75f64, DType::F64)).unwrap();
    let want = [
        -0.40382324534776604,
        0.43341162064275496,
        -0.044837108866030706,
        1.1215550042831568,
        0.44075034223678,
    ];
    for (g, w) in probs.grad().unwrap().to_f64_vec().iter().zip(want) {
        assert!((g - w).abs() < 1e-10 * w.abs() + 1e-12, "{g} vs {w}");
    }
    // categorical_entropy/{f32,f64}/one_hot: -ln(1 - eps) for the one-hot row, ln 2 for [.5, .5, 0].
    let rows = [0.0, 1.0, 0.0, 0.5, 0.5, 0.0];
    let h32 = Categorical::from_probs(&Tensor::from_vec(rows.map(|v| v as f32).to_vec(), [2, 3]).unwrap())
        .unwrap()
        .entropy()
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    // (within 1 ulp: the libm logf here rounds ln(1 - 2^-23) down, PyTorch's rounds it up)
    for (g, w) in h32.iter().zip([1.1920930376163597e-07f64, 0.6931471824645996]) {
        assert!((*g as f64 - w).abs() <= 2e-7 * w, "{g} vs {w}");
    }
    let h64 =
        Categorical::from_probs(&Tensor::from_data(TensorData::from_vec(rows.to_vec(), [2, 3]).unwrap()))
            .unwrap()
            .entropy()
            .unwrap();
    let h64 = h64.to_f64_vec();
    assert!((h64[0] - 2.220446049250313e-16).abs() <= 1e-15 * 2.220446049250313e-16);
    assert!((h64[1] - std::f64::consts::LN_2).abs() < 1e-16); // PyTorch: 0.6931471805599453
}

#[test]
fn categorical_from_logits_and_log_prob() {
    // logits [0, 0, 0, 1]: p(3) = e / (3 + e), so log_prob(3) = 1 - ln(3 + e) = -0.7436683806.
    let c = Categorical::from_logits(&Tensor::with_dtype(vec![0.0f64, 0.0, 0.0, 1.0], DType::F64)).unwrap();
    let lp = c.log_prob(&Tensor::scalar(3i64)).unwrap().item().unwrap();
    assert!((lp + 0.7436683806).abs() < 1e-9);
    // unnormalised probs are normalised: [1, 3] -> [0.25, 0.75]
    let c = Categorical::from_probs(&Tensor::from_data(
        TensorData::from_vec(vec![1.0f64, 3.0, 2.0, 2.0], [2, 2]).unwrap(),
    ))
    .unwrap();
    let lp = c.log_prob(&Tensor::from(vec![1i64, 0])).unwrap().to_f64_vec();
    assert!((lp[0] - 0.75f64.ln()).abs() < 1e-15 && (lp[1] - 0.5f64.ln()).abs() < 1e-15);
    let mut g = Generator::new(41);
    let l = TensorData::randn_with([3, 4], DType::F64, &mut g).unwrap();
    let v = Tensor::from(vec![0i64, 3, 2]);
    gradcheck(|a| Categorical::from_logits(&a[0])?.log_prob(&v), std::slice::from_ref(&l), 1e-6, 1e-7, 1e-5)
        .unwrap();
    gradcheck(|a| Categorical::from_logits(&a[0])?.entropy(), std::slice::from_ref(&l), 1e-6, 1e-7, 1e-5)
        .unwrap();
    let p = l.softmax(1).unwrap();
    gradcheck(|a| Categorical::from_probs(&a[0])?.entropy(), &[p], 1e-6, 1e-7, 1e-5).unwrap();
}

#[test]
fn categorical_errors() {
    let e = Categorical::from_probs(&Tensor::with_dtype(vec![0.5f64, -0.1], DType::F64)).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }) && e.to_string().contains("non-negative"), "{e}");
    let e = Categorical::from_probs(&Tensor::with_dtype(vec![0.0f64, 0.0], DType::F64)).unwrap_err();
    assert!(e.to_string().contains("positive sum"), "{e}");
    let e = Categorical::from_probs(&Tensor::with_dtype(1.0f64, DType::F64)).unwrap_err();
    assert!(e.to_string().contains("at least one dimension"), "{e}");
    let c = Categorical::from_probs(&Tensor::with_dtype(vec![0.5f64, 0.5], DType::F64)).unwrap();
    assert!(matches!(
        c.log_prob(&Tensor::scalar(2i64)).unwrap_err(),
        Error::IndexOutOfRange { index: 2, size: 2, .. }
    ));
    assert!(matches!(
        c.log_prob(&Tensor::with_dtype(1.0f64, DType::F64)).unwrap_err(),
        Error::DTypeMismatch { .. }
    ));
}
