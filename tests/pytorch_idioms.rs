//! PyTorch idioms, each as a learner writes it in Rust, checked against what PyTorch 2.9.1
//! prints for the same expression (quoted beside each assertion): type promotion, operators,
//! comparisons into `where` and `masked_fill`, in-place updates under `no_grad`, shapes with
//! `-1`, a model converted to f64, and a non-strict state-dict load.

use torchlet::nn::{Linear, Module, ReLU, Sequential};
use torchlet::prelude::*;

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec()
}

// ----- type promotion -------------------------------------------------------------------------

/// The operands of the promotion table: PyTorch's
/// `b = tensor([True, False, True])`, `i = tensor([1, 2, -3])`, `f = tensor([0.5, -1.5, 2.0])`,
/// `d = tensor([0.25, 1.0, -2.0], dtype=float64)`.
fn operands() -> (Tensor, Tensor, Tensor, Tensor) {
    (
        Tensor::from(vec![true, false, true]),
        Tensor::from(vec![1, 2, -3]),
        Tensor::from(vec![0.5, -1.5, 2.0]),
        Tensor::with_dtype(vec![0.25, 1.0, -2.0], DType::F64),
    )
}

#[test]
fn type_promotion_follows_pytorch() {
    let (b, i, f, d) = operands();
    let (zi, zf, zd) = (Tensor::from(3), Tensor::from(0.5), Tensor::with_dtype(0.5, DType::F64));
    use DType::*;
    // (PyTorch expression, torchlet result, PyTorch's dtype and values)
    let table: Vec<(&str, Tensor, DType, Vec<f64>)> = vec![
        ("b + 2", &b + 2, I64, vec![3.0, 2.0, 3.0]),
        ("b * 2", &b * 2, I64, vec![2.0, 0.0, 2.0]),
        ("b / 2", &b / 2, F32, vec![0.5, 0.0, 0.5]),
        ("b + 0.5", &b + 0.5, F32, vec![1.5, 0.5, 1.5]),
        ("b * 0.5", &b * 0.5, F32, vec![0.5, 0.0, 0.5]),
        ("b + True", b.add(true).unwrap(), Bool, vec![1.0, 1.0, 1.0]),
        ("b * True", b.mul(true).unwrap(), Bool, vec![1.0, 0.0, 1.0]),
        ("b + b", &b + &b, Bool, vec![1.0, 0.0, 1.0]),
        ("b * i", &b * &i, I64, vec![1.0, 0.0, -3.0]),
        ("b + f", &b + &f, F32, vec![1.5, -1.5, 3.0]),
        ("b + d", &b + &d, F64, vec![1.25, 1.0, -1.0]),
        ("b + tensor(3)", &b + &zi, I64, vec![4.0, 3.0, 4.0]),
        ("i + 2", &i + 2, I64, vec![3.0, 4.0, -1.0]),
        ("i - 2", &i - 2, I64, vec![-1.0, 0.0, -5.0]),
        ("i * 2", &i * 2, I64, vec![2.0, 4.0, -6.0]),
        ("i / 2", &i / 2, F32, vec![0.5, 1.0, -1.5]),
        ("i + 0.5", &i + 0.5, F32, vec![1.5, 2.5, -2.5]),
        ("i - 0.5", &i - 0.5, F32, vec![0.5, 1.5, -3.5]),
        ("i * 0.5", &i * 0.5, F32, vec![0.5, 1.0, -1.5]),
        ("i / 0.5", &i / 0.5, F32, vec![2.0, 4.0, -6.0]),
        ("i / i", &i / &i, F32, vec![1.0, 1.0, 1.0]),
        ("i + f", &i + &f, F32, vec![1.5, 0.5, -1.0]),
        ("i * d", &i * &d, F64, vec![0.25, 2.0, 6.0]),
        ("i + tensor(0.5)", &i + &zf, F32, vec![1.5, 2.5, -2.5]),
        ("i + tensor(0.5, dtype=float64)", &i + &zd, F64, vec![1.5, 2.5, -2.5]),
        ("i + tensor(3)", &i + &zi, I64, vec![4.0, 5.0, 0.0]),
        ("f + 2", &f + 2, F32, vec![2.5, 0.5, 4.0]),
        ("f * i", &f * &i, F32, vec![0.5, -3.0, -6.0]),
        ("f + d", &f + &d, F64, vec![0.75, -0.5, 0.0]),
        ("f + tensor(0.5, dtype=float64)", &f + &zd, F32, vec![1.0, -1.0, 2.5]),
        ("f / b", &f / &b, F32, vec![0.5, f64::NEG_INFINITY, 2.0]),
        ("d * 0.5", &d * 0.5, F64, vec![0.125, 0.5, -1.0]),
        ("d / i", &d / &i, F64, vec![0.25, 0.5, 0.6666666666666666]),
        ("2 - i", 2 - &i, I64, vec![1.0, 0.0, 5.0]),
        ("1.5 - d", 1.5 - &d, F64, vec![1.25, 0.5, 3.5]),
        ("i ** 2", i.pow(2).unwrap(), I64, vec![1.0, 4.0, 9.0]),
        ("2 ** i.abs()", i.abs().unwrap().rpow(2).unwrap(), I64, vec![2.0, 4.0, 8.0]),
        (
            "i.abs() ** 0.5",
            i.abs().unwrap().pow(0.5).unwrap(),
            F32,
            vec![1.0, 1.4142135381698608, 1.7320507764816284],
        ),
        ("10 ** f", f.rpow(10).unwrap(), F32, vec![3.1622776985168457, 0.03162277489900589, 100.0]),
        ("torch.maximum(i, tensor(1.5))", i.maximum(&zf.mul(3).unwrap()).unwrap(), F32, vec![1.5, 2.0, 1.5]),
        ("torch.where(b, i, f)", Tensor::where_cond(&b, &i, &f).unwrap(), F32, vec![1.0, -1.5, -3.0]),
        ("i > 1.5", i.gt(1.5).unwrap(), Bool, vec![0.0, 1.0, 0.0]),
        ("f == i", f.eq(&i).unwrap(), Bool, vec![0.0, 0.0, 0.0]),
    ];
    assert!(table.len() >= 30);
    for (expr, got, dtype, want) in table {
        assert_eq!(got.dtype(), dtype, "{expr}");
        assert_eq!(vals(&got), want, "{expr}");
    }
    // PyTorch refuses: b - b ("Subtraction, the `-` operator, with two bool tensors is not
    // supported"), i ** -1 ("Integers to negative integer powers are not allowed").
    assert!(b.sub(&b).is_err() && b.rsub(2).is_err() && i.pow(-1).is_err());
}

#[test]
fn the_accuracy_line_is_a_float() {
    // pred.eq(y).sum() * (100.0 / 3) -> tensor(66.6667): 66.66666412353516 as float32.
    let (pred, y) = (Tensor::from(vec![1, 0, 2]), Tensor::from(vec![1, 1, 2]));
    let acc = pred.eq(&y).unwrap().sum().unwrap() * (100.0 / 3.0);
    assert_eq!(acc.dtype(), DType::F32);
    assert_eq!(acc.item().unwrap(), 66.66666412353516);
    // The count itself is an int64 sum of the bool mask: tensor(2).
    assert_eq!(pred.eq(&y).unwrap().sum().unwrap().dtype(), DType::I64);
}

#[test]
fn literals_take_the_default_float_dtype() {
    // torch.tensor([0.5, 1.0]) is float32 though Python floats are doubles; tensor([1, 2]) int64;
    // torch.arange(5) int64, torch.arange(0., 1., 0.25) float32.
    assert_eq!(Tensor::from(vec![0.5, 1.0]).dtype(), DType::F32);
    assert_eq!(Tensor::from([[0.5f64, 1.0]]).dtype(), DType::F32);
    assert_eq!(Tensor::from(vec![1, 2]).dtype(), DType::I64);
    assert_eq!(Tensor::from(2.5).dtype(), DType::F32);
    assert_eq!(Tensor::arange(5).unwrap().dtype(), DType::I64);
    assert_eq!(vals(&Tensor::arange(5).unwrap()), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    let r = Tensor::arange_step(0.0, 1.0, 0.25).unwrap();
    assert_eq!((r.dtype(), vals(&r)), (DType::F32, vec![0.0, 0.25, 0.5, 0.75]));
    // A dtype argument keeps an f64 value exactly: torch.tensor([0.1], dtype=torch.float64).
    let x = Tensor::with_dtype(vec![0.1], DType::F64);
    assert_eq!((x.dtype(), vals(&x)), (DType::F64, vec![0.1]));
    assert_eq!(Tensor::full([2], 7, DType::I64).unwrap().to_vec::<i64>().unwrap(), vec![7, 7]);
    assert_eq!(Tensor::ones_dtype((2, 1), DType::Bool).unwrap().to_vec::<bool>().unwrap(), vec![true, true]);
}

// ----- operators ------------------------------------------------------------------------------

#[test]
fn every_operator_form() {
    // a = tensor([1., -2., 3.]); b = tensor([0.5, 4., -1.]); c = tensor([2., 2., 2.])
    let a = Tensor::from(vec![1.0, -2.0, 3.0]);
    let b = Tensor::from(vec![0.5, 4.0, -1.0]);
    let c = Tensor::from(vec![2.0, 2.0, 2.0]);
    assert_eq!(vals(&(&a * &b * &c)), vec![1.0, -16.0, -6.0]); // a*b*c
    assert_eq!(vals(&((&a * &b) + &c)), vec![2.5, -6.0, -1.0]); // (a*b)+c
    assert_eq!(vals(&(&a - 1.0)), vec![0.0, -3.0, 2.0]); // a-1.0
    assert_eq!(vals(&(1.0 - &a)), vec![0.0, 3.0, -2.0]); // 1.0-a
    assert_eq!(vals(&(2.0 * &a)), vec![2.0, -4.0, 6.0]); // 2.0*a
    assert_eq!(vals(&(&a / 2.0)), vec![0.5, -1.0, 1.5]); // a/2.0
    assert_eq!(vals(&(-&a)), vec![-1.0, 2.0, -3.0]); // -a
    assert_eq!(vals(&(&a * 2)), vec![2.0, -4.0, 6.0]); // a*2 (an integer number)
    assert_eq!(vals(&(a.clone() + b.clone())), vec![1.5, 2.0, 2.0]); // owned operands too
                                                                     // micrograd's SVM loss: (1 + -yi*scorei).relu() -> [0.7000, 1.8000, 3.0000]
    let (yi, score) = (Tensor::from(vec![1.0, -1.0, 1.0]), Tensor::from(vec![0.3, 0.8, -2.0]));
    let loss = (1.0 + -(&yi * &score)).relu().unwrap();
    assert_eq!(vals(&loss), vec![0.699999988079071, 1.7999999523162842, 3.0]);
    // Compound assignment updates in place: a += b; a *= 2 -> [3., 4., 4.]
    let mut d = a.detach();
    d += &b;
    d *= 2;
    assert_eq!(vals(&d), vec![3.0, 4.0, 4.0]);
}

#[test]
fn operators_carry_gradients() {
    // x = tensor([1., 2.], requires_grad=True); (3 * x * x - x / 2).sum().backward()
    // x.grad = 6x - 1/2 = [5.5, 11.5]
    let x = Tensor::from(vec![1.0, 2.0]).requires_grad_(true).unwrap();
    (3.0 * &x * &x - &x / 2.0).sum().unwrap().backward().unwrap();
    assert_eq!(vals(&x.grad().unwrap()), vec![5.5, 11.5]);
}

#[test]
fn gradients_through_sum_and_mean_are_contiguous_tensors() -> torchlet::Result<()> {
    // x = (arange(6.).reshape(2, 3) - 2.5) / 2; (x.tanh() * 0.5 + x.sigmoid()).mean().backward()
    // x.grad = [[0.0522187, 0.0860313, 0.1193569], [0.1193569, 0.0860313, 0.0522187]] (contiguous):
    // mean's gradient reaches the rules as one value broadcast (stride 0), the leaf stores it
    // written out.
    let x = Tensor::arange(6.0)?.reshape([2, 3])?.sub(2.5)?.div(2.0)?.requires_grad_(true)?;
    (&(&x.tanh()? * 0.5) + &x.sigmoid()?).mean()?.backward()?;
    let g = x.grad().unwrap();
    let want = [0.05221870169043541, 0.08603131771087646, 0.1193569153547287];
    let want: Vec<f64> = want.iter().chain(want.iter().rev()).copied().collect();
    vals(&g).iter().zip(&want).for_each(|(g, w)| assert!((g - w).abs() < 1e-7, "{g} vs {w}"));
    assert!(g.data().is_contiguous());
    // y = tensor([[1., 2, 3], [4, 5, 6]]); (y.t() * 2).sum().backward(): y.grad = 2s, contiguous.
    let y = Tensor::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).reshape([2, 3])?.requires_grad_(true)?;
    (&y.t()? * 2.0).sum()?.backward()?;
    assert_eq!(vals(&y.grad().unwrap()), vec![2.0; 6]);
    assert!(y.grad().unwrap().data().is_contiguous());
    // z = tensor([1., -2, 3]); (z.sum() + (z * z).mean()).backward(): z.grad = 1 + 2z/3
    // = [1.6666667, -0.3333334, 3.0]: two broadcast values accumulated into one gradient.
    let z = Tensor::from(vec![1.0, -2.0, 3.0]).requires_grad_(true)?;
    (&z.sum()? + &(&z * &z).mean()?).backward()?;
    let want = [1.6666667461395264, -0.3333333730697632, 3.0];
    vals(&z.grad().unwrap()).iter().zip(&want).for_each(|(g, w)| assert!((g - w).abs() < 1e-6, "{g} vs {w}"));
    Ok(())
}

// ----- comparisons, where, masked_fill ---------------------------------------------------------

#[test]
fn comparisons_feed_where_and_masked_fill() {
    // x = tensor([[-1., 0.5, 2.], [3., -0.25, 0.]])
    let x = Tensor::from([[-1.0, 0.5, 2.0], [3.0, -0.25, 0.0]]);
    // torch.where(x > 0, x, 0.0) -> [[0., 0.5, 2.], [3., 0., 0.]]
    let w = Tensor::where_cond(&x.gt(0).unwrap(), &x, 0.0).unwrap();
    assert_eq!(vals(&w), vec![0.0, 0.5, 2.0, 3.0, 0.0, 0.0]);
    // torch.where(x >= 0.5, 1.0, -x) -> [[1., 1., 1.], [1., 0.25, -0.]]
    let w = Tensor::where_cond(&x.ge(0.5).unwrap(), 1.0, &(-&x)).unwrap();
    assert_eq!(vals(&w), vec![1.0, 1.0, 1.0, 1.0, 0.25, -0.0]);
    // x.masked_fill(x < 0, float('-inf')).softmax(-1)
    // -> [[0., 0.18242551386356354, 0.8175744414329529], [0.9525741338729858, 0., 0.04742587357759476]]
    let m = x.masked_fill(&x.lt(0).unwrap(), f64::NEG_INFINITY).unwrap().softmax(-1).unwrap();
    let want = [0.0, 0.18242551386356354, 0.8175744414329529, 0.9525741338729858, 0.0, 0.04742587357759476];
    for (g, w) in vals(&m).iter().zip(want) {
        assert!((g - w).abs() <= 1e-7, "{g} vs {w}");
    }
    // The causal mask of attention: torch.zeros(3, 3).masked_fill(tril == 0, -inf).softmax(-1)
    // -> [[1, 0, 0], [0.5, 0.5, 0], [1/3, 1/3, 1/3]] (0.3333333432674408 in float32)
    let tril = Tensor::from([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]);
    let w = Tensor::zeros([3, 3]).unwrap().masked_fill(&tril.eq(0).unwrap(), f64::NEG_INFINITY).unwrap();
    let third = 0.3333333432674408;
    assert_eq!(vals(&w.softmax(-1).unwrap()), vec![1.0, 0.0, 0.0, 0.5, 0.5, 0.0, third, third, third]);
}

// ----- in-place updates -----------------------------------------------------------------------

#[test]
fn manual_sgd_under_no_grad() {
    // p = tensor([1., 2.], requires_grad=True); (p*p).sum().backward()
    // with torch.no_grad(): p -= 0.1 * p.grad   ->  p = [0.8000000119, 1.6000000238]
    let mut p = Tensor::from(vec![1.0, 2.0]).requires_grad_(true).unwrap();
    (&p * &p).sum().unwrap().backward().unwrap();
    {
        let _g = NoGradGuard::new();
        let step = 0.1 * p.grad().unwrap();
        p -= &step;
    }
    assert_eq!(vals(&p), vec![0.800000011920929, 1.600000023841858]);
    assert!(p.requires_grad() && p.is_leaf());
    // p.grad = None
    p.set_grad(None).unwrap();
    assert!(p.grad().is_none());
    // The same with methods: sub_, mul_, zero_, fill_, clamp_, copy_ (all under no_grad).
    no_grad(|| {
        p.mul_(10).unwrap(); // [8., 16.]
        p.clamp_(None, Some(10.0)).unwrap(); // [8., 10.]
        p.sub_(&Tensor::from(vec![1.0, 1.0])).unwrap(); // [7., 9.]
    });
    assert_eq!(vals(&p), vec![7.0, 9.0]);
    no_grad(|| p.copy_(&Tensor::from(vec![4, 5]))).unwrap(); // values converted to p's dtype
    assert_eq!((p.dtype(), vals(&p)), (DType::F32, vec![4.0, 5.0]));
    no_grad(|| p.zero_()).unwrap();
    assert_eq!(vals(&p), vec![0.0, 0.0]);
}

#[test]
fn in_place_on_a_leaf_that_requires_grad_is_an_error() {
    // PyTorch: p.sub_(1.0) -> RuntimeError: a leaf Variable that requires grad is being used
    // in an in-place operation.
    let p = Tensor::from(vec![1.0, 2.0]).requires_grad_(true).unwrap();
    let e = p.sub_(1.0).unwrap_err();
    assert!(matches!(e, Error::Autograd { op: "sub_", .. }), "{e}");
    assert!(
        e.to_string().contains("a leaf tensor that requires grad") && e.to_string().contains("no_grad"),
        "{e}"
    );
    assert_eq!(vals(&p), vec![1.0, 2.0], "a refused update changes nothing");
    // A result that does not fit the tensor's dtype: torch.tensor([1, 2]).add_(0.5) ->
    // "result type Float can't be cast to the desired output type Long".
    let i = Tensor::from(vec![1, 2]);
    assert!(i.add_(0.5).unwrap_err().to_string().contains("can't be cast"));
    // detach() shares the value: updating the detached handle updates the parameter.
    let d = p.detach();
    d.add_(1.0).unwrap();
    assert_eq!(vals(&p), vec![2.0, 3.0]);
}

// ----- shapes ---------------------------------------------------------------------------------

#[test]
fn shapes_accept_usize_isize_arrays_and_tuples() {
    let x = Tensor::from([[-1.0, 0.5, 2.0], [3.0, -0.25, 0.0]]);
    let n = 3usize;
    // x.view(3, -1).shape -> torch.Size([3, 2])
    assert_eq!(x.view((n, -1)).unwrap().dims(), vec![3, 2]);
    assert_eq!(x.reshape([-1, 2]).unwrap().dims(), vec![3, 2]);
    assert_eq!(x.view([6]).unwrap().dims(), vec![6]);
    // x.unsqueeze(0).expand(4, -1, -1).shape -> torch.Size([4, 2, 3])
    assert_eq!(x.unsqueeze(0).unwrap().expand([4, -1, -1]).unwrap().dims(), vec![4, 2, 3]);
    assert_eq!(Tensor::zeros((2, 3)).unwrap().dims(), vec![2, 3]);
    // x.t().view(-1): "view size is not compatible with input tensor's size and stride ...
    // Use .reshape(...) instead."; x.t().reshape(-1) -> [-1., 3., 0.5, -0.25, 2., 0.]
    let e = x.t().unwrap().view([-1]).unwrap_err();
    assert!(e.to_string().contains("reshape"), "{e}");
    assert_eq!(vals(&x.t().unwrap().reshape([-1]).unwrap()), vec![-1.0, 3.0, 0.5, -0.25, 2.0, 0.0]);
}

// ----- modules --------------------------------------------------------------------------------

#[test]
fn a_model_converts_to_f64() {
    // torch.manual_seed(42); lin = nn.Linear(2, 3); lin.double()
    // lin(tensor([[1., 2.]], dtype=float64)) -> [[1.3701603412628174, 1.5487284511327744, 0.7537904530763626]]
    manual_seed(42);
    let lin = Linear::new(2, 3).unwrap();
    lin.double().unwrap();
    assert!(lin.parameters().iter().all(|p| p.dtype() == DType::F64 && p.requires_grad()));
    let y = lin.forward(&Tensor::with_dtype([[1.0, 2.0]], DType::F64)).unwrap();
    let want = [1.3701603412628174, 1.5487284511327744, 0.7537904530763626];
    for (g, w) in vals(&y).iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{g} vs {w}"); // the weights were drawn in f32
    }
    lin.float().unwrap();
    assert_eq!(lin.weight().dtype(), DType::F32);
    assert!(lin.to_dtype(DType::I64).is_err(), "parameters that require grad stay float");
}

#[test]
fn load_state_dict_non_strict_reports_the_keys() {
    // seq = Sequential(Linear(2, 2), ReLU(), Linear(2, 1))
    // seq.load_state_dict({'0.weight': ones(2, 2), 'extra.bias': zeros(1)}, strict=False)
    // -> missing_keys=['0.bias', '2.weight', '2.bias'], unexpected_keys=['extra.bias']
    // (Own generators: `a_model_converts_to_f64` seeds the global one and checks its draws.)
    let g = &mut Generator::new(0);
    let seq = Sequential::new()
        .add(Linear::with_generator(2, 2, true, g).unwrap())
        .add(ReLU)
        .add(Linear::with_generator(2, 1, true, g).unwrap());
    let sd = vec![
        ("0.weight".to_string(), TensorData::ones([2, 2], DType::F32)),
        ("extra.bias".to_string(), TensorData::zeros([1], DType::F32)),
    ];
    assert!(seq.load_state_dict(&sd).is_err(), "strict by default");
    let keys = seq.load_state_dict_with(&sd, false).unwrap();
    assert_eq!(keys.missing_keys, ["0.bias", "2.weight", "2.bias"]);
    assert_eq!(keys.unexpected_keys, ["extra.bias"]);
    assert_eq!(vals(&seq.parameters()[0]), vec![1.0; 4], "the matching key was loaded");
    // A shape mismatch is an error even when not strict, and changes nothing.
    let bad = vec![("0.weight".to_string(), TensorData::zeros([3, 2], DType::F32))];
    assert!(seq.load_state_dict_with(&bad, false).is_err());
    assert_eq!(vals(&seq.parameters()[0]), vec![1.0; 4]);
}

#[test]
fn main_can_return_the_standard_result() -> std::result::Result<(), Box<dyn std::error::Error>> {
    // `use torchlet::prelude::*` leaves `Result` alone, and io errors convert with `?`.
    fn read(path: &str) -> torchlet::Result<String> {
        Ok(std::fs::read_to_string(path)?)
    }
    let e = read("/nonexistent/file").unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    let _: Result<(), Box<dyn std::error::Error>> = Ok(());
    Ok(())
}
