//! State dicts: PyTorch's names and order, snapshots, loading in place (parameter identity,
//! gradients and `requires_grad` kept), and strict, atomic errors in PyTorch's wording.

use torchlet_autograd::{DType, Error, Generator, Tensor, TensorData};
use torchlet_nn::optim::{Optimizer, SGD};
use torchlet_nn::{Linear, Module, Sequential, Sigmoid};

fn xor_model(seed: u64) -> Sequential {
    let mut g = Generator::new(seed);
    Sequential::new()
        .add(Linear::with_generator(2, 5, true, &mut g).unwrap())
        .add(Sigmoid)
        .add(Linear::with_generator(5, 2, true, &mut g).unwrap())
        .add(Sigmoid)
}

/// Every parameter value as raw bits (f32 and f64 both widen exactly to f64).
fn bits(m: &dyn Module) -> Vec<(String, Vec<u64>)> {
    m.state_dict()
        .into_iter()
        .map(|(n, v)| (n, v.to_f64_vec().iter().map(|x| x.to_bits()).collect()))
        .collect()
}

fn names(state: &[(String, TensorData)]) -> Vec<&str> {
    state.iter().map(|(n, _)| n.as_str()).collect()
}

fn load_error(m: &dyn Module, state: &[(String, TensorData)]) -> String {
    let before = bits(m);
    let e = m.load_state_dict(state).expect_err("the load should fail");
    assert!(matches!(e, Error::InvalidArgument { op: "load_state_dict", .. }), "{e:?}");
    assert_eq!(bits(m), before, "a failed load must leave the model unchanged");
    e.to_string()
}

#[test]
fn state_dict_has_pytorchs_names_order_shapes_and_values() {
    let m = xor_model(0);
    let sd = m.state_dict();
    assert_eq!(names(&sd), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    let dims: Vec<&[usize]> = sd.iter().map(|(_, v)| v.dims()).collect();
    assert_eq!(dims, [&[5, 2][..], &[5], &[2, 5], &[2]]);
    for ((_, v), p) in sd.iter().zip(m.parameters()) {
        assert_eq!(v.dtype(), DType::F32);
        assert_eq!(v.to_vec::<f32>().unwrap(), p.to_vec::<f32>().unwrap());
    }
    // Modules without parameters have an empty state dict; a bias-less Linear only a weight.
    assert!(Sigmoid.state_dict().is_empty());
    assert_eq!(names(&Linear::without_bias(3, 2).unwrap().state_dict()), ["weight"]);
}

#[test]
fn state_dict_is_a_snapshot() {
    let m = xor_model(1);
    let sd = m.state_dict();
    let before = sd[0].1.to_vec::<f32>().unwrap();
    let x = Tensor::from([[0.0f32, 1.0], [1.0, 0.0]]);
    m.forward(&x).unwrap().sum().unwrap().backward().unwrap();
    SGD::new(m.parameters(), 0.5).unwrap().step().unwrap();
    assert_ne!(m.parameters()[0].to_vec::<f32>().unwrap(), before, "the step changed the weight");
    assert_eq!(sd[0].1.to_vec::<f32>().unwrap(), before, "the snapshot did not change");
}

#[test]
fn load_copies_every_value_bit_for_bit_and_gives_identical_outputs() {
    let (src, dst) = (xor_model(2), xor_model(3));
    assert_ne!(bits(&src), bits(&dst));
    dst.load_state_dict(&src.state_dict()).unwrap();
    assert_eq!(bits(&src), bits(&dst));
    let x = Tensor::from([[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    assert_eq!(
        src.forward(&x).unwrap().to_vec::<f32>().unwrap(),
        dst.forward(&x).unwrap().to_vec::<f32>().unwrap()
    );
}

#[test]
fn load_works_in_f64() {
    let mk = |seed: u64| {
        let mut g = Generator::new(seed);
        let w = Tensor::randn_with([3, 4], DType::F64, &mut g).unwrap();
        let b = Tensor::randn_with([3], DType::F64, &mut g).unwrap();
        Sequential::new().add(Linear::from_weights(w, Some(b)).unwrap())
    };
    let (src, dst) = (mk(4), mk(5));
    dst.load_state_dict(&src.state_dict()).unwrap();
    assert_eq!(bits(&src), bits(&dst));
    assert_eq!(dst.state_dict()[0].1.dtype(), DType::F64);
}

#[test]
fn load_replaces_values_in_place_and_keeps_autograd_state() {
    let (src, dst) = (xor_model(6), xor_model(7));
    let handles = dst.parameters();
    let mut opt = SGD::new(dst.parameters(), 0.1).unwrap();
    let x = Tensor::from([[1.0f32, 0.0]]);
    dst.forward(&x).unwrap().sum().unwrap().backward().unwrap();
    let grad = handles[0].grad().unwrap().to_vec::<f32>().unwrap();

    dst.load_state_dict(&src.state_dict()).unwrap();
    for (h, p) in handles.iter().zip(dst.parameters()) {
        assert!(h.same(&p), "the module keeps its tensors");
        assert!(h.requires_grad() && h.is_leaf());
    }
    assert_eq!(handles[0].name().as_deref(), Some("0.weight"));
    assert_eq!(handles[0].grad().unwrap().to_vec::<f32>().unwrap(), grad, "the gradient is untouched");
    // The optimizer holds the same tensors, so its step starts from the loaded values.
    let loaded = src.parameters()[0].to_vec::<f32>().unwrap();
    opt.step().unwrap();
    let stepped = handles[0].to_vec::<f32>().unwrap();
    for ((s, l), g) in stepped.iter().zip(&loaded).zip(&grad) {
        assert_eq!(*s, l - 0.1 * g);
    }
    // The state dict passed in was not changed by the step (copy on write).
    assert_eq!(src.parameters()[0].to_vec::<f32>().unwrap(), loaded);
}

#[test]
fn missing_key_is_reported() {
    let m = xor_model(8);
    let mut sd = xor_model(9).state_dict();
    sd.remove(3);
    let e = load_error(&m, &sd);
    assert_eq!(
        e,
        "load_state_dict: Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: \"2.bias\".\nNo parameter was changed."
    );
}

#[test]
fn unexpected_key_is_reported() {
    let m = xor_model(8);
    let mut sd = xor_model(9).state_dict();
    sd.push(("3.weight".into(), TensorData::zeros([2, 2], DType::F32)));
    let e = load_error(&m, &sd);
    assert!(e.contains("Unexpected key(s) in state_dict: \"3.weight\"."), "{e}");
    assert!(!e.contains("Missing"), "{e}");
}

#[test]
fn size_mismatch_is_reported_in_pytorchs_words() {
    let m = xor_model(8);
    let mut sd = xor_model(9).state_dict();
    sd[0].1 = TensorData::zeros([5, 3], DType::F32);
    let e = load_error(&m, &sd);
    assert!(
        e.contains("size mismatch for 0.weight: copying a param with shape [5, 3] from checkpoint, the shape in current model is [5, 2]."),
        "{e}"
    );
}

#[test]
fn dtype_mismatch_is_reported() {
    let m = xor_model(8);
    let mut sd = xor_model(9).state_dict();
    sd[1].1 = sd[1].1.to_dtype(DType::F64);
    let e = load_error(&m, &sd);
    assert!(
        e.contains("dtype mismatch for 0.bias: copying a param of dtype f64 from checkpoint, the dtype in current model is f32 (convert the checkpoint's values with .to_dtype(DType::F32)"),
        "{e}"
    );
}

#[test]
fn duplicate_key_is_reported() {
    let m = xor_model(8);
    let mut sd = xor_model(9).state_dict();
    sd.push(sd[0].clone());
    let e = load_error(&m, &sd);
    assert!(e.contains("Duplicate key(s) in state_dict: \"0.weight\"."), "{e}");
}

#[test]
fn every_problem_is_listed_at_once_and_nothing_changes() {
    // A partially valid state dict: 0.weight would fit, but nothing may be loaded.
    let m = xor_model(8);
    let sd = vec![
        ("0.weight".to_string(), TensorData::ones([5, 2], DType::F32)),
        ("0.bias".to_string(), TensorData::ones([4], DType::F32)),
        ("2.weight".to_string(), TensorData::ones([2, 5], DType::I64)),
        ("extra".to_string(), TensorData::ones([1], DType::F32)),
    ];
    let e = load_error(&m, &sd);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 6, "{e}");
    assert_eq!(lines[0], "load_state_dict: Error(s) in loading state_dict for Sequential:");
    assert_eq!(lines[1], "\tMissing key(s) in state_dict: \"2.bias\".");
    assert_eq!(lines[2], "\tUnexpected key(s) in state_dict: \"extra\".");
    assert!(lines[3].starts_with("\tsize mismatch for 0.bias: copying a param with shape [4]"), "{e}");
    assert!(lines[4].starts_with("\tdtype mismatch for 2.weight: copying a param of dtype i64"), "{e}");
    assert_eq!(lines[5], "No parameter was changed.");
}

#[test]
fn errors_name_the_module_type() {
    let lin = Linear::new(2, 3).unwrap();
    let e = lin.load_state_dict(&[]).unwrap_err().to_string();
    assert!(e.contains("for Linear:\n\tMissing key(s) in state_dict: \"weight\", \"bias\"."), "{e}");
    // Through a trait object too.
    let m: Box<dyn Module> = Box::new(Sigmoid);
    m.load_state_dict(&[]).unwrap();
    let e = m.load_state_dict(&Linear::new(2, 3).unwrap().state_dict()).unwrap_err().to_string();
    assert!(e.contains("for Sigmoid:\n\tUnexpected key(s) in state_dict: \"weight\", \"bias\"."), "{e}");
}

#[test]
fn non_contiguous_values_load_as_their_logical_values() {
    // A transposed view of a (2, 5) matrix has shape (5, 2): it loads element by element in
    // logical (row-major) order, not in storage order.
    let m = Sequential::new().add(Linear::without_bias(2, 5).unwrap());
    let storage: Vec<f32> = (0..10).map(|i| i as f32).collect();
    let view = TensorData::from_vec(storage, [2, 5]).unwrap().t().unwrap();
    m.load_state_dict(&[("0.weight".into(), view.clone())]).unwrap();
    assert_eq!(m.parameters()[0].to_vec::<f32>().unwrap(), view.to_vec::<f32>().unwrap());
    assert_eq!(m.parameters()[0].to_vec::<f32>().unwrap()[..4], [0.0, 5.0, 1.0, 6.0]);
}
