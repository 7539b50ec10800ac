//! No panic, ever, on user data: property-based tests that feed random shapes (rank 0-4,
//! sizes 0-5), dims (in and out of range, negative), dtypes (f32, f64, i64, bool), options
//! (every reduction incl. `BatchMean`, label smoothing in [-0.5, 1.5], ignore_index, margins)
//! and values (NaN, ±inf, huge, zero-size tensors) into every public operation, loss, module,
//! distribution and optimizer, and assert that each call returns `Ok` or `Err` — never panics.
//! Each call runs inside `catch_unwind`, so a failure names the call that panicked, and
//! proptest shrinks the input to a minimal one.
//!
//! Operator overloads (`&a + &b`) panic on error by design (documented in docs/errors.md)
//! and are not exercised here.
//!
//! The number of cases per property is 256 by default (the whole file runs in about a second
//! under the test profile). To search longer, set `TORCHLET_PROPTEST_CASES`:
//!
//! ```text
//! TORCHLET_PROPTEST_CASES=5000 cargo test --release --test no_panic
//! ```

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::panic::{catch_unwind, AssertUnwindSafe};
use torchlet::autograd::distributions::Categorical;
use torchlet::autograd::info;
use torchlet::nn::functional::{
    self as F, BceOpts, BceWithLogitsOpts, CosineEmbeddingOpts, CrossEntropyOpts, KlDivOpts, NllLossOpts,
    Reduction,
};
use torchlet::nn::{
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, Flatten, KLDivLoss, Linear,
    LogSoftmax, MSELoss, Module, NLLLoss, ReLU, Sequential, Sigmoid, Softmax, Tanh,
};
use torchlet::optim::{Adam, AdamOptions, AdamW, Optimizer, SgdOptions, SGD};
use torchlet::prelude::*;
use torchlet::Result;

/// Cases per property: `TORCHLET_PROPTEST_CASES` or 256.
fn config() -> ProptestConfig {
    let cases = std::env::var("TORCHLET_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases) }
}

/// Runs `f`; a panic becomes a test failure naming `what`. The result itself (Ok or Err) is
/// returned for chaining: `Err` is an acceptable outcome of misuse.
fn call<R>(what: &str, f: impl FnOnce() -> R) -> std::result::Result<R, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        TestCaseError::fail(format!("{what} panicked: {msg}"))
    })
}

/// [`call`] for calls whose result (Ok or Err) does not matter.
fn probe<R>(what: &str, f: impl FnOnce() -> R) -> std::result::Result<(), TestCaseError> {
    call(what, f).map(drop)
}

/// Calls `f`, then (when it returned a float tensor) backward through its sum, and prints the
/// result: every stage must return rather than panic.
fn exercise(what: &str, f: impl FnOnce() -> Result<Tensor>) -> std::result::Result<(), TestCaseError> {
    if let Ok(y) = call(what, f)? {
        probe(what, || {
            let _ = y.to_string();
            if y.requires_grad() {
                if let Ok(s) = y.sum() {
                    let _ = s.backward();
                }
            }
        })?;
    }
    Ok(())
}

// ----- generators ------------------------------------------------------------------------------

fn dtype() -> impl Strategy<Value = DType> {
    prop_oneof![4 => Just(DType::F32), 2 => Just(DType::F64), 1 => Just(DType::I64), 1 => Just(DType::Bool)]
}

fn float_dtype() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F64)]
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..=5, 0..=4)
}

/// A value: mostly ordinary, sometimes NaN, ±inf, huge, tiny or signed zero.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -4.0f64..4.0,
        1 => prop::sample::select(vec![
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e30, -1e30, 1e300, -1e300, 1e-40, 0.0, -0.0,
            1.0, -1.0, 0.5, 9.3e18, -9.3e18
        ]),
    ]
}

/// An integer-ish value usable as a class index or an index (mostly in range, sometimes not).
fn index_value() -> impl Strategy<Value = f64> {
    prop_oneof![8 => (-2i64..7).prop_map(|i| i as f64), 1 => Just(-100.0), 1 => Just(1e19), 1 => Just(-1e19)]
}

/// A dim: in range for rank <= 4 mostly, sometimes far out.
fn dim() -> impl Strategy<Value = isize> {
    prop_oneof![8 => -5isize..5, 1 => Just(isize::MAX), 1 => Just(isize::MIN)]
}

fn reduction() -> impl Strategy<Value = Reduction> {
    prop::sample::select(vec![Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean])
}

/// What a tensor is made of; [`Arg::tensor`] builds it.
#[derive(Clone, Debug)]
struct Arg {
    shape: Vec<usize>,
    dtype: DType,
    values: Vec<f64>,
    requires_grad: bool,
    /// Transposes the first two dims before use (a non-contiguous view), when rank >= 2.
    transposed: bool,
}

impl Arg {
    fn tensor(&self) -> Tensor {
        let n: usize = self.shape.iter().product();
        let v: Vec<f64> = self.values.iter().copied().cycle().take(n).collect();
        let v = if self.values.is_empty() { vec![0.0; n] } else { v };
        let d = TensorData::from_f64_vec(v, Shape::new(&self.shape), self.dtype).expect("n values");
        let t = Tensor::from_data(d);
        let t = if self.requires_grad && self.dtype.is_float() { t.requires_grad_(true).unwrap() } else { t };
        if self.transposed && self.shape.len() >= 2 {
            t.transpose(0, 1).unwrap()
        } else {
            t
        }
    }
}

fn arg_with(
    shape: impl Strategy<Value = Vec<usize>>,
    dtype: impl Strategy<Value = DType>,
    value: impl Strategy<Value = f64>,
) -> impl Strategy<Value = Arg> {
    (shape, dtype, prop::collection::vec(value, 1..12), any::<bool>(), prop::bool::weighted(0.2)).prop_map(
        |(shape, dtype, values, requires_grad, transposed)| Arg {
            shape,
            dtype,
            values,
            requires_grad,
            transposed,
        },
    )
}

fn arg() -> impl Strategy<Value = Arg> {
    arg_with(shape(), dtype(), value())
}

fn float_arg() -> impl Strategy<Value = Arg> {
    arg_with(shape(), float_dtype(), value())
}

/// A second shape that broadcasts with `s` most of the time: some dims set to 1, some
/// leading dims dropped; sometimes an unrelated shape.
fn related_shape(s: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let n = s.len();
    prop_oneof![
        3 => (prop::collection::vec(any::<bool>(), n), 0..=n).prop_map(move |(ones, drop)| {
            s.iter().zip(ones).map(|(&d, o)| if o { 1 } else { d }).skip(drop).collect()
        }),
        1 => shape(),
    ]
}

/// Two args whose shapes are related (broadcastable most of the time).
fn arg_pair() -> impl Strategy<Value = (Arg, Arg)> {
    arg().prop_flat_map(|a| {
        let b =
            arg_with(related_shape(a.shape.clone()), prop_oneof![4 => Just(a.dtype), 1 => dtype()], value());
        (Just(a), b)
    })
}

// ----- every op of the catalog ------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Every op enrolled in the op catalog (`torchlet::autograd::op_catalog()`), with inputs
    /// drawn in fuzz mode: random small shapes (sometimes unrelated to each other), any dtype,
    /// NaN/±inf/huge/tiny values, non-contiguous views, out-of-range dims, indices and options;
    /// leaves requiring grad or not. A new op is fuzzed by its catalog entry alone.
    #[test]
    fn every_catalog_op_never_panics(seed in any::<u64>(), grads in any::<u64>()) {
        use torchlet::autograd::catalog::{Mode, Sampler};
        for op in torchlet::autograd::op_catalog() {
            let case = call(op.name, || (op.sample)(&mut Sampler::new(Mode::Fuzz, seed)))?;
            let leaves: Vec<Tensor> = case
                .inputs
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let t = Tensor::from_data(x.clone());
                    if x.dtype().is_float() && (grads >> (i % 64)) & 1 == 1 { t.requires_grad_(true).unwrap() } else { t }
                })
                .collect();
            exercise(op.name, || (case.call)(&leaves))?;
        }
    }
}

// ----- elementwise, reductions, softmax ----------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unary_ops_and_full_reductions_never_panic(a in arg(), s in value(), lo in value(), hi in value()) {
        let x = a.tensor();
        exercise("exp", || x.exp())?;
        exercise("log", || x.log())?;
        exercise("log1p", || x.log1p())?;
        exercise("sqrt", || x.sqrt())?;
        exercise("abs", || x.abs())?;
        exercise("sigmoid", || x.sigmoid())?;
        exercise("relu", || x.relu())?;
        exercise("tanh", || x.tanh())?;
        exercise("softplus", || x.softplus())?;
        exercise("log_sigmoid", || x.log_sigmoid())?;
        exercise("neg", || x.neg())?;
        exercise("pow_scalar", || x.pow_scalar(s))?;
        exercise("add_scalar", || x.add_scalar(s))?;
        exercise("mul_scalar", || x.mul_scalar(s))?;
        exercise("clamp", || x.clamp(Some(lo), Some(hi)))?;
        exercise("clamp min", || x.clamp(Some(lo), None))?;
        exercise("sum", || x.sum())?;
        exercise("mean", || x.mean())?;
        exercise("max", || x.max())?;
        exercise("min", || x.min())?;
        exercise("contiguous", || x.contiguous())?;
        exercise("squeeze", || x.squeeze())?;
        exercise("t", || x.t())?;
        exercise("detach", || Ok(x.detach()))?;
        for d in [DType::F32, DType::F64, DType::I64, DType::Bool] {
            exercise("to_dtype", || x.to_dtype(d))?;
        }
        exercise("gt", || x.gt(s))?;
        probe("item", || x.item())?;
        probe("to_f64_vec", || x.to_f64_vec())?;
        probe("to_vec::<f32>", || x.to_vec::<f32>())?;
        probe("one_hot(None)", || x.one_hot(None))?;
        probe("one_hot(Some(3))", || x.one_hot(Some(3)))?;
        let d = x.data();
        probe("TensorData::prod", || d.prod())?;
        probe("TensorData::reciprocal", || d.reciprocal())?;
        probe("TensorData::masked_fill", || d.masked_fill(&d.gt_scalar(0.0)?, s))?;
        probe("Display", || format!("{x} {:?} {}", x.shape(), x.dtype()))?;
    }

    #[test]
    fn dim_ops_never_panic(a in arg(), d0 in dim(), d1 in dim(), keep in any::<bool>(),
                           start in prop_oneof![4 => 0usize..3, 1 => Just(usize::MAX)], len in prop_oneof![4 => 0usize..3, 1 => Just(usize::MAX)],
                           spec in prop::collection::vec(prop_oneof![-2isize..7, Just(isize::MAX)], 0..=4),
                           target in prop_oneof![4 => shape(), 1 => prop::collection::vec(prop_oneof![0usize..6, Just(usize::MAX), Just(1usize << 62)], 0..=4)]) {
        let x = a.tensor();
        exercise("sum_dim", || x.sum_dim(d0, keep))?;
        exercise("mean_dim", || x.mean_dim(d0, keep))?;
        exercise("max_dim", || x.max_dim(d0, keep).map(|p| p.0))?;
        exercise("min_dim", || x.min_dim(d0, keep).map(|p| p.0))?;
        exercise("argmax", || x.argmax(d0, keep))?;
        exercise("logsumexp", || x.logsumexp(d0, keep))?;
        exercise("softmax", || x.softmax(d0))?;
        exercise("log_softmax", || x.log_softmax(d0))?;
        exercise("F::softmax", || F::softmax(&x, d0))?;
        exercise("F::log_softmax", || F::log_softmax(&x, d0))?;
        exercise("squeeze_dim", || x.squeeze_dim(d0))?;
        exercise("unsqueeze", || x.unsqueeze(d0))?;
        exercise("transpose", || x.transpose(d0, d1))?;
        exercise("flatten", || x.flatten(d0, d1))?;
        exercise("narrow", || x.narrow(d0, start, len))?;
        exercise("permute", || x.permute(&[d0, d1]))?;
        exercise("permute 3", || x.permute(&[d1, d0, 0]))?;
        exercise("permute 3b", || x.permute(&[2, d0, d1]))?;
        exercise("permute all", || x.permute(&(0..x.ndim() as isize).rev().collect::<Vec<_>>()))?;
        exercise("reshape", || x.reshape(&spec))?;
        exercise("view", || x.view(&spec))?;
        exercise("expand", || x.expand(Shape::new(&target)))?;
        exercise("cat", || Tensor::cat(&[&x, &x], d0))?;
        exercise("stack", || Tensor::stack(&[&x, &x], d0))?;
        probe("size", || x.size(d0))?;
        let d = x.data();
        probe("TensorData::prod_dim", || d.prod_dim(d0, keep))?;
        probe("TensorData::argmin", || d.argmin(d0, keep))?;
        probe("TensorData::sum_to_shape", || d.sum_to_shape(&Shape::new(&target)))?;
    }

    #[test]
    fn binary_ops_never_panic((a, b) in arg_pair(), rtol in value(), atol in value()) {
        let (x, y) = (a.tensor(), b.tensor());
        exercise("add", || x.add(&y))?;
        exercise("sub", || x.sub(&y))?;
        exercise("mul", || x.mul(&y))?;
        exercise("div", || x.div(&y))?;
        exercise("pow", || x.pow(&y))?;
        exercise("maximum", || x.maximum(&y))?;
        exercise("minimum", || x.minimum(&y))?;
        exercise("eq", || x.eq(&y))?;
        exercise("matmul", || x.matmul(&y))?;
        exercise("matmul yx", || y.matmul(&x))?;
        exercise("matmul x x^T", || x.matmul(&x.t()?))?;
        exercise("linear", || x.linear(&y, None))?;
        exercise("linear bias", || x.linear(&y, Some(&y)))?;
        exercise("linear row-sum bias", || x.linear(&y, Some(&y.sum_dim(-1, false)?)))?;
        exercise("F::linear", || F::linear(&y, &x, None))?;
        exercise("where", || Tensor::where_cond(&x.gt(0.0)?, &x, &y))?;
        exercise("where bool cond", || Tensor::where_cond(&y, &x, &y))?;
        exercise("cat", || Tensor::cat(&[&x, &y], 0))?;
        exercise("cat -1", || Tensor::cat(&[&x, &y], -1))?;
        exercise("stack", || Tensor::stack(&[&x, &y], 0))?;
        probe("allclose", || x.allclose(&y, rtol, atol))?;
        probe("isclose", || x.data().isclose(&y.data(), rtol, atol, true))?;
        probe("set_data", || x.set_data(y.data()))?;
        probe("set_grad", || x.set_grad(Some(y.data())))?;
        let xd = x.data();
        probe("TensorData::addmm", || xd.addmm(Some(&y.data()), &y.data()))?;
        for op in [TensorData::ne, TensorData::lt, TensorData::le, TensorData::ge] {
            probe("compare", || op(&xd, &y.data()))?;
        }
    }

    #[test]
    fn index_ops_never_panic((a, i) in arg().prop_flat_map(|a| {
                                 let s = prop_oneof![2 => related_shape(a.shape.clone()), 1 => Just(vec![3]), 1 => shape()];
                                 (Just(a), arg_with(s, prop_oneof![4 => Just(DType::I64), 1 => dtype()], index_value()))
                             }),
                             d0 in dim(), classes in prop_oneof![0usize..6, Just(usize::MAX)]) {
        let (x, idx) = (a.tensor(), i.tensor());
        exercise("index_select", || x.index_select(d0, &idx))?;
        exercise("gather", || x.gather(d0, &idx))?;
        exercise("one_hot", || idx.one_hot(Some(classes)))?;
        exercise("one_hot None", || idx.one_hot(None))?;
        exercise("F::one_hot", || F::one_hot(&idx, Some(classes)))?;
        let (xs, id) = (x.shape(), idx.data());
        probe("scatter_add_zeros", || TensorData::scatter_add_zeros(&xs, d0, &id, &x.data()))?;
        probe("index_add_zeros", || TensorData::index_add_zeros(&xs, d0, &id, &x.data()))?;
        probe("narrow_embed", || TensorData::narrow_embed(&xs, d0, 1, &x.data()))?;
    }
}

// ----- creation ------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn creation_never_panics(start in value(), end in value(), step in value(), n in 0usize..20,
                             low in prop_oneof![-5i64..5, Just(i64::MIN), Just(i64::MAX)],
                             high in prop_oneof![-5i64..5, Just(i64::MIN), Just(i64::MAX)],
                             s in shape(), len in 0usize..30, dt in dtype(), seed in any::<u64>()) {
        // Ranges of at most a few thousand elements (anything larger is an allocation request).
        if ((end - start) / step).abs() < 5000.0 {
            probe("arange", || Tensor::arange_step(start, end, step))?;
        }
        probe("linspace", || Tensor::linspace(start, end, n))?;
        probe("randint", || Tensor::randint(low, high, Shape::new(&s)))?;
        probe("rand", || Tensor::rand(Shape::new(&s)))?;
        probe("randn", || Tensor::randn(Shape::new(&s)))?;
        probe("randn_with", || Tensor::randn_with(Shape::new(&s), dt, &mut Generator::new(seed)))?;
        probe("uniform_with", || TensorData::uniform_with(Shape::new(&s), start, end, dt, &mut Generator::new(seed)))?;
        probe("full", || Tensor::full(Shape::new(&s), start, dt).map(|t| t.to_string()))?;
        probe("eye", || Tensor::eye(n))?;
        probe("from_vec", || Tensor::from_vec(vec![1.0f32; len], Shape::new(&s)))?;
        probe("randperm", || TensorData::randperm_with(n, &mut Generator::new(seed)))?;
    }
}

// ----- losses ------------------------------------------------------------------------------------

/// Logits, a target (random dtype and shape, often the right one), an optional weight.
fn loss_inputs() -> impl Strategy<Value = (Arg, Arg, Option<Arg>)> {
    float_arg().prop_flat_map(|x| {
        let mut pos = x.shape.clone();
        if !pos.is_empty() {
            pos.remove(if pos.len() == 1 { 0 } else { 1 });
        }
        let c = if x.shape.is_empty() { 1 } else { x.shape[x.shape.len().min(2) - 1] };
        let t_shape = prop_oneof![2 => Just(pos), 2 => Just(x.shape.clone()), 1 => shape()];
        let t_dtype = prop_oneof![2 => Just(DType::I64), 2 => Just(x.dtype), 1 => dtype()];
        let t_value = prop_oneof![2 => index_value(), 1 => value(), 1 => 0.0f64..1.0];
        let t = arg_with(t_shape, t_dtype, t_value);
        let w_shape = prop_oneof![3 => Just(vec![c]), 1 => shape()];
        let w = prop::option::weighted(
            0.3,
            arg_with(w_shape, prop_oneof![4 => Just(x.dtype), 1 => dtype()], value()),
        );
        (Just(x), t, w)
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn class_losses_never_panic((x, t, w) in loss_inputs(), red in reduction(),
                                ls in prop_oneof![3 => Just(0.0), 2 => -0.5f64..1.5, 1 => Just(f64::NAN)],
                                ignore in prop_oneof![Just(-100i64), -2i64..6]) {
        let (x, t, w) = (x.tensor(), t.tensor(), w.map(|w| w.tensor()));
        let mut ce = CrossEntropyOpts::default().reduction(red).label_smoothing(ls).ignore_index(ignore);
        let mut nll = NllLossOpts::default().reduction(red).ignore_index(ignore);
        if let Some(w) = &w {
            ce = ce.weight(w.clone());
            nll = nll.weight(w.clone());
        }
        exercise("cross_entropy", || F::cross_entropy(&x, &t))?;
        exercise("cross_entropy_with", || F::cross_entropy_with(&x, &t, &ce))?;
        exercise("nll_loss", || F::nll_loss(&x, &t))?;
        exercise("nll_loss_with", || F::nll_loss_with(&x, &t, &nll))?;
        exercise("nll_loss(log_softmax)", || F::nll_loss_with(&x.log_softmax(-1)?, &t, &nll))?;
        let mut m = CrossEntropyLoss::new().reduction(red).label_smoothing(ls).ignore_index(ignore);
        let mut n = NLLLoss::new().reduction(red).ignore_index(ignore);
        if let Some(w) = &w {
            m = m.weight(w.clone());
            n = n.weight(w.clone());
        }
        exercise("CrossEntropyLoss", || m.forward(&x, &t))?;
        exercise("NLLLoss", || n.forward(&x, &t))?;
        // A non-scalar upstream gradient for `none`.
        if let Ok(l) = call("cross_entropy none", || F::cross_entropy_with(&x, &t, &ce.clone().reduction(Reduction::None)))? {
            probe("backward_with", || l.backward_with(&l.ones_like()))?;
        }
    }

    #[test]
    fn pointwise_losses_never_panic((x, t) in arg_pair(), w in prop::option::of(arg()), pw in prop::option::of(arg()),
                                    red in reduction(), log_target in any::<bool>(), margin in value()) {
        let (x, t) = (x.tensor(), t.tensor());
        let (w, pw) = (w.map(|w| w.tensor()), pw.map(|w| w.tensor()));
        let mut bce = BceOpts::default().reduction(red);
        let mut bcel = BceWithLogitsOpts::default().reduction(red);
        if let Some(w) = &w {
            bce = bce.weight(w.clone());
            bcel = bcel.weight(w.clone());
        }
        if let Some(pw) = &pw {
            bcel = bcel.pos_weight(pw.clone());
        }
        exercise("binary_cross_entropy", || F::binary_cross_entropy(&x, &t))?;
        exercise("binary_cross_entropy(sigmoid)", || F::binary_cross_entropy_with(&x.sigmoid()?, &t.sigmoid()?, &bce))?;
        exercise("binary_cross_entropy_with", || F::binary_cross_entropy_with(&x, &t, &bce))?;
        exercise("binary_cross_entropy_with_logits", || F::binary_cross_entropy_with_logits(&x, &t))?;
        exercise("binary_cross_entropy_with_logits_with", || F::binary_cross_entropy_with_logits_with(&x, &t, &bcel))?;
        let kl = KlDivOpts::default().reduction(red).log_target(log_target);
        exercise("kl_div", || F::kl_div_with(&x, &t, &kl))?;
        exercise("kl_div(log_softmax)", || F::kl_div_with(&x.log_softmax(-1)?, &t.softmax(-1)?, &kl))?;
        exercise("mse_loss", || F::mse_loss_with(&x, &t, red))?;
        exercise("mse_loss default", || F::mse_loss(&x, &t))?;
        if let Ok(y) = call("sum_dim", || x.sum_dim(-1, false).and_then(|s| s.sign_like()))? {
            let co = CosineEmbeddingOpts::default().reduction(red).margin(margin);
            exercise("cosine_embedding_loss", || F::cosine_embedding_loss_with(&x, &t, &y, &co))?;
            exercise("CosineEmbeddingLoss", || CosineEmbeddingLoss::new().margin(margin).reduction(red).forward(&x, &t, &y))?;
        }
        exercise("cosine_embedding_loss t", || F::cosine_embedding_loss(&x, &x, &t))?;
        exercise("BCELoss", || BCELoss::new().reduction(red).forward(&x, &t))?;
        exercise("BCEWithLogitsLoss", || BCEWithLogitsLoss::new().reduction(red).forward(&x, &t))?;
        exercise("KLDivLoss", || KLDivLoss::new().reduction(red).log_target(log_target).forward(&x, &t))?;
        exercise("MSELoss", || MSELoss::new().reduction(red).forward(&x, &t))?;
    }

    #[test]
    fn info_and_distributions_never_panic((p, q) in arg_pair(), d0 in dim(), v in arg_with(shape(), dtype(), index_value())) {
        let (p, q, v) = (p.tensor(), q.tensor(), v.tensor());
        exercise("information", || info::information(&p))?;
        exercise("entropy", || info::entropy(&p, d0))?;
        exercise("info::cross_entropy", || info::cross_entropy(&p, &q, d0))?;
        exercise("kl_divergence", || info::kl_divergence(&p, &q, d0))?;
        for (name, c) in [("from_probs", call("from_probs", || Categorical::from_probs(&p))?),
                          ("from_logits", call("from_logits", || Categorical::from_logits(&p))?)] {
            if let Ok(c) = c {
                exercise(name, || c.entropy())?;
                exercise(name, || c.log_prob(&v))?;
                probe(name, || (c.num_classes(), c.probs().to_string(), c.logits().to_string()))?;
            }
        }
    }
}

/// `y` of 1 / -1 (and 0) from the signs of a tensor, for cosine_embedding_loss.
trait SignLike {
    fn sign_like(&self) -> Result<Tensor>;
}
impl SignLike for Tensor {
    fn sign_like(&self) -> Result<Tensor> {
        let v: Vec<i64> = self
            .to_f64_vec()
            .iter()
            .map(|&x| {
                if x > 0.0 {
                    1
                } else if x < 0.0 {
                    -1
                } else {
                    0
                }
            })
            .collect();
        Tensor::from_vec(v, self.shape())
    }
}

// ----- modules, autograd, optimizers ------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn modules_never_panic(x in arg(), fin in prop::option::of(0usize..5), fout in 0usize..5, d0 in dim(), d1 in dim(), bias in any::<bool>()) {
        // in_features: usually the input's last dim (so forward runs), sometimes anything.
        let fin = fin.unwrap_or(x.shape.last().copied().unwrap_or(1));
        let x = x.tensor();
        let lin = call("Linear::new", || if bias { Linear::new(fin, fout) } else { Linear::without_bias(fin, fout) })?
            .map_err(|e| TestCaseError::fail(format!("Linear::new: {e}")))?;
        exercise("Linear::forward", || lin.forward(&x))?;
        probe("Linear::from_weights", || Linear::from_weights(x.clone(), Some(x.clone())))?;
        let model = Sequential::new()
            .add(Linear::new(fin, fout).unwrap())
            .add(ReLU)
            .add(Linear::new(fout, 2).unwrap())
            .add(Tanh)
            .add(Sigmoid)
            .add(Softmax::new(d0))
            .add(LogSoftmax::new(d1))
            .add(Flatten::with_dims(d0, d1));
        exercise("Sequential::forward", || model.forward(&x))?;
        probe("Sequential Display", || model.to_string())?;
        exercise("Flatten::new", || Flatten::new().forward(&x))?;
        exercise("Softmax", || Softmax::new(d0).forward(&x))?;
        probe("zero_grad", || model.zero_grad())?;
    }

    #[test]
    fn autograd_misuse_never_panics(a in float_arg(), g in arg(), retain in any::<bool>()) {
        let x = a.tensor();
        let y = call("chain", || x.exp().and_then(|e| e.mul(&x)).and_then(|e| e.sigmoid()))?;
        if let Ok(y) = y {
            if retain {
                y.retain_grad();
            }
            let g = g.tensor();
            probe("backward", || y.backward())?;
            probe("backward_with", || y.backward_with(&g))?;
            probe("backward twice", || y.sum().and_then(|s| { s.backward()?; s.backward() }))?;
            probe("requires_grad_ on a result", || y.clone().requires_grad_(true))?;
            probe("grad", || (x.grad(), y.grad(), y.grad_fn()))?;
            probe("to_dot", || y.to_dot())?;
            probe("no_grad", || no_grad(|| x.exp().and_then(|e| e.sum()).and_then(|s| s.backward())))?;
        }
        probe("gradcheck", || torchlet::gradcheck(|xs| xs[0].sigmoid()?.mul(&xs[0]), &[x.data()], 1e-6, 1e-4, 1e-3))?;
    }

    /// Random parameters, gradients (sometimes of another shape or dtype, forced in through
    /// `update_data`) and hyper-parameters (sometimes invalid): construction and `step` return
    /// rather than panic, and a step that fails changes no parameter.
    #[test]
    fn optimizers_never_panic_and_failed_steps_change_nothing(
        params in prop::collection::vec((float_arg(), prop::option::of(arg()), any::<bool>()), 0..4),
        lr in prop_oneof![3 => 0.0f64..1.0, 1 => value()], momentum in prop_oneof![Just(0.0), value()],
        dampening in prop_oneof![Just(0.0), value()], wd in prop_oneof![Just(0.0), value()],
        nesterov in any::<bool>(), maximize in any::<bool>(), amsgrad in any::<bool>(),
        b1 in prop_oneof![3 => 0.0f64..1.0, 1 => value()], b2 in prop_oneof![3 => 0.0f64..1.0, 1 => value()],
        eps in prop_oneof![3 => Just(1e-8), 1 => value()], which in 0usize..3, steps in 1usize..4) {
        let ps: Vec<Tensor> = params.iter().map(|(a, _, _)| Arg { requires_grad: true, transposed: false, ..a.clone() }.tensor()).collect();
        let sgd = SgdOptions::new(lr).momentum(momentum).dampening(dampening).weight_decay(wd).nesterov(nesterov).maximize(maximize);
        let adam = AdamOptions::new(lr).betas(b1, b2).eps(eps).weight_decay(wd).amsgrad(amsgrad).maximize(maximize);
        let opt: Result<Box<dyn Optimizer>> = call("optimizer new", || match which {
            0 => SGD::new(ps.clone(), sgd).map(|o| Box::new(o) as Box<dyn Optimizer>),
            1 => Adam::new(ps.clone(), adam).map(|o| Box::new(o) as Box<dyn Optimizer>),
            _ => AdamW::new(ps.clone(), adam).map(|o| Box::new(o) as Box<dyn Optimizer>),
        })?;
        let Ok(mut opt) = opt else { return Ok(()) };
        for _ in 0..steps {
            for (p, (_, g, force)) in ps.iter().zip(&params) {
                let Some(g) = g else { p.zero_grad(); continue };
                let g = g.tensor().data();
                if call("set_grad", || p.set_grad(Some(g.clone())))?.is_err() && *force {
                    // Force a mismatched gradient in: give the parameter the gradient's shape
                    // and dtype for a moment, set the gradient, and restore the value.
                    let old = p.data();
                    p.update_data(|d| *d = g.zeros_like());
                    let _ = p.set_grad(Some(g));
                    p.update_data(|d| *d = old);
                }
            }
            let before: Vec<Vec<f64>> = ps.iter().map(|p| p.to_f64_vec()).collect();
            let r = call("step", || opt.step())?;
            if r.is_err() {
                let after: Vec<Vec<f64>> = ps.iter().map(|p| p.to_f64_vec()).collect();
                prop_assert!(format!("{before:?}") == format!("{after:?}"), "a failed step changed a parameter");
            }
            probe("set_lr", || opt.set_lr(lr))?;
            probe("zero_grad", || opt.zero_grad())?;
        }
    }
}
