//! The curriculum's layers as a PyTorch user meets them: BatchNorm's running statistics after
//! one call, modes, printed reprs, `state_dict` names with buffers, and the errors of misuse.
//! Expected values were printed by PyTorch 2.9.1 (quoted beside each).

// PyTorch's printed numbers are quoted digit for digit.
#![allow(clippy::excessive_precision)]

use torchlet::nn::{BatchNorm1d, Embedding, Flatten, LayerNorm, Linear, Module, Sequential, Tanh};
use torchlet::{Result, Tensor};

/// `x = [[0.1,0.2,0.3],[0.4,0.5,0.6],[0.7,0.8,0.9],[1.0,1.1,1.2]] * [1, 2, -3]` (f32).
fn bn_input() -> Result<Tensor> {
    let x = Tensor::from(vec![0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]).view([4, 3])?;
    Ok(x * Tensor::from(vec![1.0f32, 2.0, -3.0]))
}

fn close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "element {i}: {g} vs PyTorch {w}\n got {got:?}\nwant {want:?}");
    }
}

#[test]
fn batchnorm_one_call_in_training_then_eval() -> Result<()> {
    let bn = BatchNorm1d::new_1d(3)?;
    let x = bn_input()?;
    // bn = nn.BatchNorm1d(3); y = bn(x)
    let y = bn.forward(&x)?;
    #[rustfmt::skip]
    close(&y.to_vec::<f32>()?, &[
        -1.34158123, -1.34162593, 1.34163415, -0.44719380, -0.44720876, 0.44721133,
        0.44719362, 0.44720849, -0.44721127, 1.34158111, 1.34162569, -1.34163439,
    ], 2e-6);
    // bn.running_mean, bn.running_var, bn.num_batches_tracked after that one call
    close(&bn.running_mean().expect("tracked").to_vec::<f32>()?, &[0.055, 0.13000001, -0.22500001], 1e-7);
    close(&bn.running_var().expect("tracked").to_vec::<f32>()?, &[0.91499996, 0.95999998, 1.03499997], 1e-7);
    let state = bn.state_dict();
    let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    assert_eq!(state[4].1.to_vec::<i64>()?, [1]);

    // bn.eval(); bn(x): the running statistics now
    bn.eval();
    assert!(!bn.is_training());
    #[rustfmt::skip]
    close(&bn.forward(&x)?.to_vec::<f32>()?, &[
        0.04704349, 0.27556619, -0.66348565, 0.36066678, 0.88793546, -1.54813325,
        0.67429006, 1.50030470, -2.43278050, 0.98791337, 2.11267400, -3.31742835,
    ], 2e-6);
    // ... and eval mode does not touch them
    close(&bn.running_mean().expect("tracked").to_vec::<f32>()?, &[0.055, 0.13000001, -0.22500001], 1e-7);
    Ok(())
}

#[test]
fn reprs_are_pytorchs() -> Result<()> {
    assert_eq!(
        BatchNorm1d::new_1d(3)?.to_string(),
        "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    );
    assert_eq!(
        BatchNorm1d::new_2d(8)?.momentum(None).to_string(),
        "BatchNorm2d(8, eps=1e-05, momentum=None, affine=True, track_running_stats=True)"
    );
    assert_eq!(LayerNorm::new(&[4])?.to_string(), "LayerNorm((4,), eps=1e-05, elementwise_affine=True)");
    assert_eq!(
        LayerNorm::with_options(&[2, 3], 1e-5, false, true)?.to_string(),
        "LayerNorm((2, 3), eps=1e-05, elementwise_affine=False)"
    );
    assert_eq!(Embedding::with_padding(5, 3, Some(0))?.to_string(), "Embedding(5, 3, padding_idx=0)");
    assert_eq!(torchlet::nn::Dropout::new(0.1)?.to_string(), "Dropout(p=0.1, inplace=False)");
    Ok(())
}

#[test]
fn sequential_names_modules_and_buffers_as_pytorch() -> Result<()> {
    let m = Sequential::new()
        .add(Embedding::new(27, 10)?)
        .add(Flatten::new())
        .add(Linear::without_bias(30, 5)?)
        .add(BatchNorm1d::new_1d(5)?)
        .add(Tanh);
    // print(m) in PyTorch:
    let torch = "Sequential(
  (0): Embedding(27, 10)
  (1): Flatten(start_dim=1, end_dim=-1)
  (2): Linear(in_features=30, out_features=5, bias=False)
  (3): BatchNorm1d(5, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
  (4): Tanh()
)";
    assert_eq!(m.to_string(), torch);
    let names: Vec<String> = m.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "2.weight",
            "3.weight",
            "3.bias",
            "3.running_mean",
            "3.running_var",
            "3.num_batches_tracked"
        ]
    );
    // eval() reaches every child that has a mode (Embedding, Linear, Flatten and Tanh behave
    // the same in both); the outputs of each layer can be read (makemore part 3)
    assert!(m.is_training());
    m.eval();
    assert!(!m.is_training());
    assert!(m.named_modules().iter().all(|(_, m)| m.mode() != Some(true)));
    m.train();
    assert_eq!(m.named_modules()[4].1.mode(), Some(true)); // "3": the BatchNorm1d
    m.eval();
    let outs = m.forward_with_outputs(&Tensor::from(vec![1i64, 2, 3, 4, 5, 6]).view([2, 3])?)?;
    assert_eq!(
        outs.iter().map(|o| o.shape().dims().to_vec()).collect::<Vec<_>>(),
        [vec![2, 3, 10], vec![2, 30], vec![2, 5], vec![2, 5], vec![2, 5]]
    );
    Ok(())
}

#[test]
fn strict_state_dict_names_what_is_wrong_and_changes_nothing() -> Result<()> {
    let m = Sequential::new().add(Linear::new(2, 3)?).add(BatchNorm1d::new_1d(3)?);
    let good = m.state_dict();
    let before: Vec<f32> = m.parameters()[0].to_vec()?;

    let mut missing = good.clone();
    missing.retain(|(n, _)| n != "1.running_var");
    let e = m.load_state_dict(&missing).expect_err("missing key").to_string();
    assert!(e.contains("Missing key") && e.contains("1.running_var"), "{e}");

    let mut unexpected = good.clone();
    unexpected.push(("2.weight".into(), good[0].1.clone()));
    let e = m.load_state_dict(&unexpected).expect_err("unexpected key").to_string();
    assert!(e.contains("Unexpected key") && e.contains("2.weight"), "{e}");
    // with strict = false the same dict loads and reports the key
    let report = m.load_state_dict_with(&unexpected, false)?;
    assert_eq!(report.unexpected_keys, ["2.weight"]);

    let mut misshaped = good.clone();
    misshaped[0].1 = torchlet::TensorData::zeros([3, 3], torchlet::DType::F32);
    let e = m.load_state_dict(&misshaped).expect_err("mis-shaped").to_string();
    assert!(e.contains("0.weight") && e.contains("[3, 3]") && e.contains("[3, 2]"), "{e}");
    assert_eq!(m.parameters()[0].to_vec::<f32>()?, before, "a failed load changed the weights");
    Ok(())
}

#[test]
fn activation_modules_match_pytorch() -> Result<()> {
    use torchlet::nn::{LeakyReLU, SiLU, GELU};
    let x = Tensor::from(vec![-2.0f32, -0.5, 0.0, 0.5, 2.0]);
    // nn.GELU()(x), nn.GELU('tanh')(x), nn.SiLU()(x), nn.LeakyReLU(0.2)(x) in PyTorch 2.9.1:
    let cases: [(&dyn Module, &str, [f32; 5]); 4] = [
        (&GELU::new(), "GELU(approximate='none')", [-0.04550028, -0.15426877, 0.0, 0.34573123, 1.9544997]),
        (&GELU::tanh(), "GELU(approximate='tanh')", [-0.04540229, -0.154286, 0.0, 0.345714, 1.9545977]),
        (&SiLU, "SiLU()", [-0.23840584, -0.18877034, 0.0, 0.31122968, 1.761594]),
        (&LeakyReLU::new(0.2), "LeakyReLU(negative_slope=0.2)", [-0.4, -0.1, 0.0, 0.5, 2.0]),
    ];
    for (m, repr, want) in cases {
        assert_eq!(m.repr(), repr);
        close(&m.forward(&x)?.to_vec::<f32>()?, &want, 1e-6);
    }
    assert_eq!(LeakyReLU::default().to_string(), "LeakyReLU(negative_slope=0.01)");
    Ok(())
}

#[test]
fn a_linear_at_inference_follows_its_weights_through_an_optimizer_step() -> Result<()> {
    use torchlet::nn::optim::{Optimizer, SGD};
    use torchlet::NoGradGuard;
    // Linear(64, 256) on 32 rows: a product small enough for the kernel that keeps an
    // inference weight packed between calls (from the second call on). Integer weights,
    // bias and inputs keep every sum exact in f32, so the expected outputs are exact:
    // y[i, j] = sum_p x[i, p] W[j, p] + b[j], summed here in i64.
    let (rows, inputs, outputs) = (32usize, 64usize, 256usize);
    let lin = Linear::new(inputs, outputs)?;
    let w: Vec<i64> = (0..outputs * inputs).map(|i| (i as i64 * 7) % 5 - 2).collect();
    let b: Vec<i64> = (0..outputs).map(|j| j as i64 % 3 - 1).collect();
    let xs: Vec<i64> = (0..rows * inputs).map(|i| (i as i64 * 3) % 7 - 3).collect();
    let as_f32 = |v: &[i64]| v.iter().map(|&e| e as f32).collect::<Vec<f32>>();
    lin.weight().set_data(Tensor::from_vec(as_f32(&w), [outputs, inputs])?.data())?;
    lin.bias().expect("Linear::new has a bias").set_data(Tensor::from_vec(as_f32(&b), [outputs])?.data())?;
    let x = Tensor::from_vec(as_f32(&xs), [rows, inputs])?;
    let expected = |w: &[i64], b: &[i64]| -> Vec<f32> {
        let y = |i: usize, j: usize| {
            (0..inputs).map(|p| xs[i * inputs + p] * w[j * inputs + p]).sum::<i64>() + b[j]
        };
        (0..rows * outputs).map(|e| y(e / outputs, e % outputs) as f32).collect()
    };
    let infer = || -> Result<Vec<f32>> {
        let _g = NoGradGuard::new();
        lin.forward(&x)?.to_vec::<f32>()
    };
    let before = expected(&w, &b);
    for call in 0..3 {
        assert_eq!(infer()?, before, "inference call {call}");
    }
    // One SGD step (lr 1) on sum(y): dW[j, p] = sum_i x[i, p], db[j] = 32 (rows).
    let mut opt = SGD::new(lin.parameters(), 1.0)?;
    lin.forward(&x)?.sum()?.backward()?;
    opt.step()?;
    let col: Vec<i64> = (0..inputs).map(|p| (0..rows).map(|i| xs[i * inputs + p]).sum()).collect();
    let w2: Vec<i64> = w.iter().enumerate().map(|(e, &v)| v - col[e % inputs]).collect();
    let b2: Vec<i64> = b.iter().map(|&v| v - rows as i64).collect();
    let after = expected(&w2, &b2);
    assert_ne!(after, before);
    for call in 0..3 {
        assert_eq!(infer()?, after, "inference call {call} after the step");
    }
    Ok(())
}
