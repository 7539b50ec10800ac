//! Modules: PyTorch's printed forms, parameter names and order, Linear's init bounds and
//! forward values (by hand), and errors instead of panics.

use torchlet_autograd::{DType, Generator, Tensor};
use torchlet_nn::{
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, Flatten, KLDivLoss, Linear,
    LogSoftmax, MSELoss, Module, NLLLoss, Parameter, ReLU, Sequential, Sigmoid, Softmax, Tanh,
};

fn xor_model(seed: u64) -> Sequential {
    let mut g = Generator::new(seed);
    Sequential::new()
        .add(Linear::with_generator(2, 5, true, &mut g).unwrap())
        .add(Sigmoid)
        .add(Linear::with_generator(5, 2, true, &mut g).unwrap())
        .add(Sigmoid)
}

#[test]
fn sequential_prints_like_pytorch() {
    // print(nn.Sequential(nn.Linear(2,5), nn.Sigmoid(), nn.Linear(5,2), nn.Sigmoid()))
    assert_eq!(
        xor_model(0).to_string(),
        "Sequential(\n  (0): Linear(in_features=2, out_features=5, bias=True)\n  (1): Sigmoid()\n  \
         (2): Linear(in_features=5, out_features=2, bias=True)\n  (3): Sigmoid()\n)"
    );
    assert_eq!(Sequential::new().to_string(), "Sequential()");
}

#[test]
fn nested_sequential_indents_like_pytorch() {
    // print(nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU())))
    let inner = Sequential::new().add(Linear::without_bias(4, 3).unwrap()).add(ReLU);
    let outer = Sequential::new().add(Flatten::new()).add(inner);
    assert_eq!(
        outer.to_string(),
        "Sequential(\n  (0): Flatten(start_dim=1, end_dim=-1)\n  (1): Sequential(\n    \
         (0): Linear(in_features=4, out_features=3, bias=False)\n    (1): ReLU()\n  )\n)"
    );
    let names: Vec<String> = outer.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["1.0.weight"]);
    assert_eq!(outer.parameters()[0].name().as_deref(), Some("1.0.weight"));
}

#[test]
fn activations_and_losses_print_like_pytorch() {
    assert_eq!(Tanh.to_string(), "Tanh()");
    assert_eq!(Softmax::new(1).to_string(), "Softmax(dim=1)");
    assert_eq!(LogSoftmax::new(-1).to_string(), "LogSoftmax(dim=-1)");
    assert_eq!(Flatten::with_dims(0, 2).to_string(), "Flatten(start_dim=0, end_dim=2)");
    // PyTorch's losses print no options at all.
    assert_eq!(CrossEntropyLoss::new().label_smoothing(0.1).to_string(), "CrossEntropyLoss()");
    assert_eq!(NLLLoss::new().to_string(), "NLLLoss()");
    assert_eq!(BCELoss::new().to_string(), "BCELoss()");
    assert_eq!(BCEWithLogitsLoss::new().to_string(), "BCEWithLogitsLoss()");
    assert_eq!(KLDivLoss::new().to_string(), "KLDivLoss()");
    assert_eq!(CosineEmbeddingLoss::new().to_string(), "CosineEmbeddingLoss()");
    assert_eq!(MSELoss::new().to_string(), "MSELoss()");
}

#[test]
fn named_parameters_use_pytorch_names_in_order() {
    let model = xor_model(0);
    let named = model.named_parameters();
    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    let shapes: Vec<Vec<usize>> = named.iter().map(|(_, p)| p.dims()).collect();
    assert_eq!(shapes, [vec![5, 2], vec![5], vec![2, 5], vec![2]]);
    // The tensors carry their names (for graph drawings) and require grad.
    for (n, p) in &named {
        assert_eq!(p.name().as_deref(), Some(n.as_str()));
        assert!(p.requires_grad() && p.is_leaf());
    }
    // parameters() are the same tensors, in the same order.
    for ((_, a), b) in named.iter().zip(model.parameters()) {
        assert!(a.same(&b));
    }
    assert_eq!(model.num_parameters(), 5 * 2 + 5 + 2 * 5 + 2);
    assert_eq!(Linear::new(3, 4).unwrap().named_parameters()[1].0, "bias");
}

#[test]
fn linear_init_is_uniform_within_one_over_sqrt_in() {
    // in_features = 100: bound 1/sqrt(100) = 0.1 for weight and bias.
    let l = Linear::with_generator(100, 50, true, &mut Generator::new(3)).unwrap();
    let w = l.weight().to_vec::<f32>().unwrap();
    let b = l.bias().unwrap().to_vec::<f32>().unwrap();
    assert!(w.iter().chain(&b).all(|v| (-0.1..=0.1).contains(v)));
    // 5000 uniform draws cover the range: P(all above -0.09) = 0.95^5000, never.
    let (lo, hi) = w.iter().fold((1.0f32, -1.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(lo < -0.09 && hi > 0.09, "range [{lo}, {hi}]");
    let mean = w.iter().sum::<f32>() / w.len() as f32;
    assert!(mean.abs() < 0.01, "mean {mean}"); // sd of the mean: 0.1/sqrt(3)/sqrt(5000) = 8e-4
    assert_eq!(l.weight().dtype(), DType::F32);
}

#[test]
fn linear_init_is_reproducible_from_a_generator() {
    let a = xor_model(7).parameters();
    let b = xor_model(7).parameters();
    let c = xor_model(8).parameters();
    assert_eq!(a[0].to_vec::<f32>().unwrap(), b[0].to_vec::<f32>().unwrap());
    assert_ne!(a[0].to_vec::<f32>().unwrap(), c[0].to_vec::<f32>().unwrap());
}

#[test]
fn linear_forward_by_hand() {
    // W = [[1, 2], [3, 4]], b = [0.5, -1], x = [[1, 1], [0, 2]]:
    // x W^T + b = [[1+2+0.5, 3+4-1], [0+4+0.5, 0+8-1]] = [[3.5, 6], [4.5, 7]]
    let l = Linear::from_weights(
        Tensor::with_dtype([[1.0f64, 2.0], [3.0, 4.0]], DType::F64),
        Some(Tensor::with_dtype(vec![0.5f64, -1.0], DType::F64)),
    )
    .unwrap();
    let y = l.forward(&Tensor::with_dtype([[1.0f64, 1.0], [0.0, 2.0]], DType::F64)).unwrap();
    assert_eq!(y.to_vec::<f64>().unwrap(), vec![3.5, 6.0, 4.5, 7.0]);
    assert_eq!(y.grad_fn(), Some("AddmmBackward0"));
    // Without bias: [[3, 7], [4, 8]].
    let l = Linear::from_weights(Tensor::with_dtype([[1.0f64, 2.0], [3.0, 4.0]], DType::F64), None).unwrap();
    assert_eq!(l.to_string(), "Linear(in_features=2, out_features=2, bias=False)");
    let y = l.forward(&Tensor::with_dtype([[1.0f64, 1.0], [0.0, 2.0]], DType::F64)).unwrap();
    assert_eq!(y.to_vec::<f64>().unwrap(), vec![3.0, 7.0, 4.0, 8.0]);
}

#[test]
fn linear_gradients_reach_the_parameters() {
    // loss = sum(x W^T + b) with x = [[1, 2]]: dW = [[1, 2], [1, 2]], db = [1, 1].
    let l = Linear::from_weights(
        Tensor::with_dtype([[0.0f64, 0.0], [0.0, 0.0]], DType::F64),
        Some(Tensor::with_dtype(vec![0.0f64, 0.0], DType::F64)),
    )
    .unwrap();
    l.forward(&Tensor::with_dtype([[1.0f64, 2.0]], DType::F64)).unwrap().sum().unwrap().backward().unwrap();
    assert_eq!(l.weight().grad().unwrap().to_vec::<f64>().unwrap(), vec![1.0, 2.0, 1.0, 2.0]);
    assert_eq!(l.bias().unwrap().grad().unwrap().to_vec::<f64>().unwrap(), vec![1.0, 1.0]);
    l.zero_grad();
    assert!(l.weight().grad().is_none() && l.bias().unwrap().grad().is_none());
}

#[test]
fn from_weights_detaches_and_checks() {
    let w = Tensor::from([[1.0f32, 2.0]]);
    let l = Linear::from_weights(w.clone(), None).unwrap();
    assert!(!w.requires_grad(), "the caller's tensor is left alone");
    assert!(l.weight().requires_grad());
    assert!(Linear::from_weights(Tensor::from(vec![1.0f32, 2.0]), None).is_err(), "1-D weight");
    let e = Linear::from_weights(Tensor::from([[1.0f32, 2.0]]), Some(Tensor::from(vec![1.0f32, 2.0])))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("needs a bias of shape [1]"), "{e}");
    assert!(
        Linear::from_weights(Tensor::from([[1.0f32]]), Some(Tensor::with_dtype(vec![1.0f64], DType::F64)))
            .is_err(),
        "dtypes"
    );
    assert!(Linear::from_weights(Tensor::from([[1i64]]), None).is_err(), "integer weight");
}

#[test]
fn shape_errors_are_values_not_panics() {
    let model = xor_model(0);
    let e = model.forward(&Tensor::from([[1.0f32, 2.0, 3.0]])).unwrap_err().to_string();
    assert!(e.starts_with("linear:"), "{e}");
    assert!(Softmax::new(3).forward(&Tensor::from([[1.0f32]])).is_err());
}

#[test]
fn sequential_indexing_and_length() {
    let model = xor_model(0);
    assert_eq!(model.len(), 4);
    assert!(!model.is_empty());
    assert_eq!(model[1].to_string(), "Sigmoid()");
    assert_eq!(model[2].parameters().len(), 2);
    assert!(model.get(4).is_none());
    assert_eq!(model.iter().count(), 4);
    // An empty Sequential is the identity.
    let x = Tensor::from(vec![1.0f32, -2.0]);
    assert_eq!(Sequential::new().forward(&x).unwrap().to_vec::<f32>().unwrap(), vec![1.0, -2.0]);
}

#[test]
fn activation_values_by_hand() {
    let x = Tensor::with_dtype([[0.0f64, 3.0f64.ln()]], DType::F64);
    // softmax([0, ln 3]) = [1/4, 3/4]; log_softmax = [ln(1/4), ln(3/4)]
    let s = Softmax::new(1).forward(&x).unwrap().to_vec::<f64>().unwrap();
    assert!((s[0] - 0.25).abs() < 1e-15 && (s[1] - 0.75).abs() < 1e-15);
    let l = LogSoftmax::new(-1).forward(&x).unwrap().to_vec::<f64>().unwrap();
    assert!((l[0] - 0.25f64.ln()).abs() < 1e-15 && (l[1] - 0.75f64.ln()).abs() < 1e-15);
    let v = Tensor::with_dtype(vec![-1.0f64, 0.0, 2.0], DType::F64);
    assert_eq!(ReLU.forward(&v).unwrap().to_vec::<f64>().unwrap(), vec![0.0, 0.0, 2.0]);
    assert_eq!(Sigmoid.forward(&v).unwrap().to_vec::<f64>().unwrap()[1], 0.5);
    assert_eq!(Tanh.forward(&v).unwrap().to_vec::<f64>().unwrap()[1], 0.0);
    let img = Tensor::zeros([2, 3, 4]).unwrap();
    assert_eq!(Flatten::new().forward(&img).unwrap().dims(), vec![2, 12]);
}

#[test]
fn parameter_prints_with_its_header() {
    let model = xor_model(0);
    let p = &model.parameters()[1];
    assert_eq!(Parameter(p).to_string(), format!("Parameter containing:\n{p}"));
    assert!(p.to_string().ends_with("requires_grad=True)"));
}
