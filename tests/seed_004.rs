//! Seed 004, "Categorical Cross Entropy": the printed log-softmax of the post's five scores,
//! and the identities it relies on (see `examples/categorical_cross_entropy.rs`).

mod printed;

use printed::{assert_printed, F32_REL, HALF_4DP};
use torchlet::nn::Module;
use torchlet::prelude::*;
use torchlet_examples::seeds::seed004::*;

#[test]
fn log_softmax_by_hand_of_the_five_scores_is_the_printed_one() {
    let pred = Tensor::from(PRED_TENSOR);
    // The inputs are exact as typed (2.44, ...), so only the printed rounding and f32 remain.
    let tol: Vec<f64> = PRINTED_LOG_SOFTMAX.iter().map(|v| HALF_4DP + F32_REL * v.abs()).collect();
    let mut n = 0;
    for got in [log_softmax_by_hand(&pred).unwrap(), F::log_softmax(&pred, -1).unwrap()] {
        n = assert_printed("log_softmax", &got.to_f64_vec(), &PRINTED_LOG_SOFTMAX, &tol);
    }
    assert_eq!(n, 5);
    // The softmax (which the post's comment misprints as the input) sums to 1, dog wins.
    let sm = softmax_by_hand(&pred).unwrap();
    assert!((sm.sum().unwrap().item().unwrap() - 1.0).abs() < 1e-6);
    assert_eq!(CLASSES[sm.argmax(0, false).unwrap().item().unwrap() as usize], "dog");
}

#[test]
fn the_max_subtraction_keeps_large_scores_finite() {
    let big = Tensor::from(PRED_TENSOR).mul_scalar(100.0).unwrap();
    // By hand, exp(392) overflows f32: inf / inf = NaN.
    assert!(log_softmax_by_hand(&big).unwrap().to_f64_vec().iter().any(|v| v.is_nan()));
    // The library's form is finite and exact: x - max - ln(sum(exp(x - max))).
    let got = F::log_softmax(&big, -1).unwrap().to_f64_vec();
    let want: Vec<f64> = PRED_TENSOR.iter().map(|&x| (x as f64 - 3.92) * 100.0).collect();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-3, "{got:?} vs {want:?}");
    }
}

fn random_batch(n: usize, c: usize, seed: u64, dtype: DType) -> (Tensor, Tensor) {
    let mut g = Generator::new(seed);
    let x = Tensor::randn_with([n, c], dtype, &mut g).unwrap().mul_scalar(3.0).unwrap();
    let y = Tensor::from_data(TensorData::randint_with(0, c as i64, [n], &mut g).unwrap());
    (x, y)
}

#[test]
fn nll_by_indexing_equals_nll_loss_of_log_softmax_equals_cross_entropy() {
    for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 2e-6)] {
        for seed in 0..5 {
            let (x, y) = random_batch(64, 10, seed, dtype);
            let sm_preds = log_softmax_by_hand(&x).unwrap();
            let picked = sm_preds.gather(1, &y.unsqueeze(1).unwrap()).unwrap().reshape([-1]).unwrap();
            assert_eq!(picked.to_f64_vec(), pick_by_flat_index(&sm_preds, &y).unwrap().to_f64_vec());
            let by_hand = nll(&sm_preds, &y).unwrap().item().unwrap();
            let nll_loss = F::nll_loss(&F::log_softmax(&x, -1).unwrap(), &y).unwrap().item().unwrap();
            let ce = F::cross_entropy(&x, &y).unwrap().item().unwrap();
            assert!((by_hand - ce).abs() < tol, "{dtype} seed {seed}: {by_hand} vs {ce}");
            assert!((nll_loss - ce).abs() < tol, "{dtype} seed {seed}: {nll_loss} vs {ce}");
        }
    }
}

#[test]
fn their_gradients_agree_too() {
    // d/dx cross_entropy = (softmax(x) - one_hot(y)) / n, whichever way it is computed.
    let (x, y) = random_batch(16, 5, 7, DType::F64);
    let grad = |f: &dyn Fn(&Tensor) -> Tensor| {
        let x = x.detach().requires_grad_(true).unwrap();
        f(&x).backward().unwrap();
        x.grad().unwrap().to_f64_vec()
    };
    let by_hand = grad(&|x| nll(&log_softmax_by_hand(x).unwrap(), &y).unwrap());
    let composed = grad(&|x| F::nll_loss(&F::log_softmax(x, -1).unwrap(), &y).unwrap());
    let fused = grad(&|x| F::cross_entropy(x, &y).unwrap());
    let sm = F::softmax(&x, 1).unwrap().to_f64_vec();
    let one_hot = F::one_hot(&y, Some(5)).unwrap().to_f64_vec();
    for i in 0..sm.len() {
        let want = (sm[i] - one_hot[i]) / 16.0;
        for (name, g) in [("by hand", &by_hand), ("composed", &composed), ("fused", &fused)] {
            assert!((g[i] - want).abs() < 1e-14, "{name}[{i}]: {} vs {want}", g[i]);
        }
    }
}

#[test]
fn the_mnist_shaped_model_runs_forward_loss_and_backward() {
    // The post's Model(784, 32, 10) on 512 random MNIST-shaped rows (the example runs 50000).
    let mut g = Generator::new(0);
    let (x, y) = random_mnist_like(512, &mut g).unwrap();
    assert_eq!((x.dims(), y.dims(), y.dtype()), (vec![512, 784], vec![512], DType::I64));
    let model = model(784, 32, 10, &mut g).unwrap();
    let preds = model.forward(&x).unwrap();
    assert_eq!(preds.dims(), vec![512, 10]);
    let sm_preds = log_softmax_by_hand(&preds).unwrap();
    let loss = F::cross_entropy(&preds, &y).unwrap();
    assert_eq!(loss.grad_fn(), Some("NllLossBackward0"));
    let by_hand = nll(&sm_preds, &y).unwrap();
    assert!((by_hand.item().unwrap() - loss.item().unwrap()).abs() < 1e-5);
    // Untrained, every class gets about 1/10: the loss is near ln 10 = 2.3026, as the
    // post's 2.3115 is.
    assert!((loss.item().unwrap() - 10f64.ln()).abs() < 0.1, "{}", loss.item().unwrap());
    assert!((PRINTED_MNIST_LOSS - 10f64.ln()).abs() < 0.1);
    loss.backward().unwrap();
    let shapes: Vec<(String, Vec<usize>)> =
        model.named_parameters().into_iter().map(|(n, p)| (n, p.grad().unwrap().dims())).collect();
    assert_eq!(
        shapes,
        [
            ("0.weight".to_string(), vec![32, 784]),
            ("0.bias".to_string(), vec![32]),
            ("2.weight".to_string(), vec![10, 32]),
            ("2.bias".to_string(), vec![10]),
        ]
    );
    // The last layer's bias gradient is the column mean of softmax - one_hot: it sums to 0.
    let gb: f64 = model.parameters()[3].grad().unwrap().to_f64_vec().iter().sum();
    assert!(gb.abs() < 1e-6, "{gb}");
}
