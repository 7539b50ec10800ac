//! The bad-input suite: every way a learner can misuse a public operation, loss, module or
//! optimizer, one line each. A case passes when the call returns `Err` of the expected
//! kind whose message contains every key word (case-insensitive) — and does not panic.
//! Adding a case is adding one line to a table. `TORCHLET_PRINT_ERRORS=1 cargo test --test
//! bad_input -- --nocapture` prints every message.

use std::panic::{catch_unwind, AssertUnwindSafe};
use torchlet::autograd::distributions::Categorical;
use torchlet::nn::functional::{self as F, CrossEntropyOpts, NllLossOpts, Reduction};
use torchlet::nn::{Linear, Module, Sequential, Sigmoid};
use torchlet::optim::{Adam, AdamOptions, AdamW, Optimizer, SgdOptions, SGD};
use torchlet::prelude::*;
use torchlet::Result;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Shape,
    Dim,
    Index,
    DType,
    Invalid,
    Autograd,
    /// Any variant: the key words carry the check (PyTorch's own wording).
    Any,
}

fn kind_of(e: &Error) -> Kind {
    match e {
        Error::ShapeMismatch { .. } => Kind::Shape,
        Error::DimOutOfRange { .. } => Kind::Dim,
        Error::IndexOutOfRange { .. } => Kind::Index,
        Error::DTypeMismatch { .. } => Kind::DType,
        Error::InvalidArgument { .. } => Kind::Invalid,
        Error::Autograd { .. } => Kind::Autograd,
        Error::Io { .. } => Kind::Any,
    }
}

struct Case {
    name: &'static str,
    kind: Kind,
    words: &'static [&'static str],
    run: fn() -> Result<()>,
}

/// `case!(name, Kind, ["key", "words"], expression returning Result<_>)`.
macro_rules! case {
    ($name:literal, $kind:ident, [$($w:literal),* $(,)?], $body:expr) => {
        Case { name: $name, kind: Kind::$kind, words: &[$($w),*], run: || { let _ = $body?; Ok(()) } }
    };
}

/// A float tensor of `shape` filled with 0.1, 0.2, ...
fn f(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((1..=n).map(|i| i as f32 / 10.0).collect::<Vec<f32>>(), shape).unwrap()
}
fn f64t(shape: &[usize]) -> Tensor {
    f(shape).to_dtype(DType::F64).unwrap()
}
fn idx(v: &[i64]) -> Tensor {
    Tensor::from(v.to_vec())
}
fn leaf(shape: &[usize]) -> Tensor {
    f(shape).requires_grad_(true).unwrap()
}
fn probs(v: &[f32]) -> Tensor {
    Tensor::from(v.to_vec())
}
fn mask(shape: &[usize]) -> Tensor {
    f(shape).gt(0.1).unwrap()
}
fn data(shape: &[usize]) -> TensorData {
    f(shape).data()
}
fn params() -> Vec<Tensor> {
    vec![leaf(&[2, 2]), leaf(&[2])]
}
/// An SGD step over a parameter whose gradient no longer fits it (its value was replaced by
/// one of another shape through `update_data` after the gradient was set).
fn stale_grad_step(mut opt: impl Optimizer) -> Result<()> {
    let p = opt.params()[0].clone();
    p.set_grad(Some(p.data().ones_like()))?;
    p.update_data(|d| *d = TensorData::zeros([3], d.dtype()));
    opt.step()
}

fn cases() -> Vec<Case> {
    vec![
        // ----- broadcasting and shapes ----------------------------------------------------
        case!("add: no broadcast", Shape, ["add", "[2, 3]", "[4]", "broadcast"], f(&[2, 3]).add(&f(&[4]))),
        case!("sub: no broadcast", Shape, ["sub", "[2, 3]", "[2]"], f(&[2, 3]).sub(&f(&[2]))),
        case!("mul: no broadcast", Shape, ["mul", "[3]", "[4]"], f(&[3]).mul(&f(&[4]))),
        case!("div: no broadcast", Shape, ["div", "[2, 2]", "[3, 2]"], f(&[2, 2]).div(&f(&[3, 2]))),
        case!("pow: no broadcast", Shape, ["pow"], f(&[2]).pow(&f(&[3]))),
        case!("maximum: no broadcast", Shape, ["maximum"], f(&[2, 3]).maximum(&f(&[3, 2]))),
        case!("minimum: no broadcast", Shape, ["minimum"], f(&[5]).minimum(&f(&[4]))),
        case!(
            "matmul: inner dims",
            Shape,
            ["matmul", "[2, 3]", "[4, 2]", "inner dimensions 3 and 4"],
            f(&[2, 3]).matmul(&f(&[4, 2]))
        ),
        case!("matmul: vector lengths", Shape, ["matmul", "inner dimensions"], f(&[3]).matmul(&f(&[4]))),
        case!("matmul: 0-d operand", Shape, ["matmul", "at least 1 dimension"], f(&[]).matmul(&f(&[2]))),
        case!("matmul: batch dims", Shape, ["matmul", "batch"], f(&[2, 3, 4]).matmul(&f(&[3, 4, 5]))),
        case!("linear: in_features", Shape, ["linear", "weight"], f(&[4, 3]).linear(&f(&[2, 2]), None)),
        case!(
            "linear: bias shape",
            Shape,
            ["linear", "bias"],
            f(&[4, 2]).linear(&f(&[3, 2]), Some(&f(&[2])))
        ),
        case!(
            "cat: sizes differ",
            Shape,
            ["cat", "[2, 3]", "[2, 4]"],
            Tensor::cat(&[&f(&[2, 3]), &f(&[2, 4])], 0)
        ),
        case!("cat: ranks differ", Shape, ["cat"], Tensor::cat(&[&f(&[2, 3]), &f(&[3])], 0)),
        case!(
            "stack: shapes differ",
            Shape,
            ["stack", "same shape"],
            Tensor::stack(&[&f(&[2]), &f(&[3])], 0)
        ),
        case!("expand: non-1 dim", Shape, ["expand", "[2, 3]", "[4, 3]"], f(&[2, 3]).expand([4, 3])),
        case!("gather: rank", Shape, ["gather"], f(&[2, 3]).gather(1, &idx(&[0, 1]))),
        case!(
            "gather: index larger than input",
            Shape,
            ["gather"],
            f(&[2, 3]).gather(1, &Tensor::from_vec(vec![0i64; 9], [3, 3]).unwrap())
        ),
        case!(
            "where: no broadcast",
            Shape,
            ["where"],
            Tensor::where_cond(&f(&[2, 3]).gt(0.0).unwrap(), &f(&[2, 3]), &f(&[4]))
        ),
        case!("allclose: no broadcast", Shape, ["isclose"], f(&[2]).allclose(&f(&[3]), 1e-5, 1e-8)),
        case!("set_data: shape", Shape, ["set_data", "[2]", "[3]"], f(&[2]).set_data(data(&[3]))),
        case!("set_grad: shape", Shape, ["set_grad", "[2]", "[3]"], leaf(&[2]).set_grad(Some(data(&[3])))),
        case!(
            "set_grad: dtype",
            DType,
            ["set_grad", "dtype"],
            leaf(&[2]).set_grad(Some(data(&[2]).to_dtype(DType::F64)))
        ),
        // ----- dimensions -----------------------------------------------------------------
        case!("sum_dim: 2 of 2-D", Dim, ["sum", "dimension 2", "[-2, 1]"], f(&[2, 3]).sum_dim(2, false)),
        case!("sum_dim: -3 of 2-D", Dim, ["sum", "dimension -3"], f(&[2, 3]).sum_dim(-3, true)),
        case!("mean_dim: out of range", Dim, ["mean", "dimension 5"], f(&[2, 3]).mean_dim(5, false)),
        case!("max_dim: out of range", Dim, ["max", "dimension 2"], f(&[2, 3]).max_dim(2, false)),
        case!("min_dim: out of range", Dim, ["min"], f(&[4]).min_dim(1, false)),
        case!("argmax: out of range", Dim, ["argmax"], f(&[2, 3]).argmax(3, false)),
        case!("logsumexp: out of range", Dim, ["logsumexp"], f(&[2, 3]).logsumexp(2, false)),
        case!("softmax: out of range", Dim, ["softmax", "dimension 2"], f(&[2, 3]).softmax(2)),
        case!("log_softmax: out of range", Dim, ["log_softmax", "dimension -3"], f(&[2, 3]).log_softmax(-3)),
        case!("F::softmax: out of range", Dim, ["softmax"], F::softmax(&f(&[4]), 1)),
        case!("transpose: out of range", Dim, ["transpose"], f(&[2, 3]).transpose(0, 2)),
        case!("squeeze_dim: out of range", Dim, ["squeeze"], f(&[2, 1]).squeeze_dim(3)),
        case!("unsqueeze: out of range", Dim, ["unsqueeze"], f(&[2, 3]).unsqueeze(4)),
        case!("narrow: dim out of range", Dim, ["narrow"], f(&[2, 3]).narrow(2, 0, 1)),
        case!("flatten: out of range", Dim, ["flatten"], f(&[2, 3]).flatten(0, 5)),
        case!("index_select: dim", Dim, ["index_select"], f(&[2, 3]).index_select(2, &idx(&[0]))),
        case!(
            "gather: dim",
            Dim,
            ["gather"],
            f(&[2, 3]).gather(3, &Tensor::from_vec(vec![0i64; 6], [2, 3]).unwrap())
        ),
        case!("cat: dim", Dim, ["cat"], Tensor::cat(&[&f(&[2]), &f(&[2])], 1)),
        case!("stack: dim", Dim, ["stack"], Tensor::stack(&[&f(&[2]), &f(&[2])], 3)),
        case!("permute: dim", Dim, ["permute"], f(&[2, 3]).permute(&[0, 2])),
        case!("size: dim", Dim, ["size"], f(&[2, 3]).size(-3)),
        // ----- indices ----------------------------------------------------------------------
        case!(
            "index_select: too large",
            Index,
            ["index_select", "5", "[0, 3)"],
            f(&[2, 3]).index_select(1, &idx(&[0, 5]))
        ),
        case!(
            "index_select: negative",
            Index,
            ["index_select", "-1"],
            f(&[2, 3]).index_select(1, &idx(&[-1]))
        ),
        case!(
            "gather: too large",
            Index,
            ["gather", "3"],
            f(&[2, 3]).gather(1, &Tensor::from_vec(vec![0i64, 3], [2, 1]).unwrap())
        ),
        case!(
            "gather: negative",
            Index,
            ["gather", "-2"],
            f(&[2, 3]).gather(1, &Tensor::from_vec(vec![-2i64, 0], [2, 1]).unwrap())
        ),
        case!("one_hot: class >= num_classes", Index, ["one_hot", "4"], idx(&[1, 4]).one_hot(Some(3))),
        case!("one_hot: negative class", Index, ["one_hot", "-1"], idx(&[-1, 0]).one_hot(Some(3))),
        case!(
            "one_hot: too few classes names the largest",
            Index,
            ["one_hot", "7", "at least 8"],
            idx(&[7, 1, 5]).one_hot(Some(3))
        ),
        case!(
            "x[i]: index too large",
            Index,
            ["index", "3", "dimension 1", "size 3"],
            f(&[2, 3]).i(s![.., &idx(&[0, 3])])
        ),
        case!(
            "x[i]: index too negative",
            Index,
            ["index", "-4", "dimension 0", "size 3"],
            f(&[3]).i(idx(&[-4]))
        ),
        case!(
            "x[i, j]: index tensors do not broadcast",
            Shape,
            ["index", "[2]", "[3]", "broadcast"],
            f(&[4, 4]).i(s![&idx(&[0, 1]), &idx(&[0, 1, 2])])
        ),
        case!("x[mask]: mask shape", Shape, ["index", "[2]", "[3, 4]", "mask"], f(&[3, 4]).i(mask(&[2]))),
        case!("x[i]: float index", DType, ["index", "i64", "f32"], f(&[3]).i(f(&[1]))),
        case!(
            "x[...]: too many indices",
            Invalid,
            ["index", "too many indices", "dimension 1"],
            f(&[3]).i(s![0, 0])
        ),
        case!("x[..., ...]: two ellipses", Invalid, ["index", "single ellipsis"], f(&[3]).i(s![..., ...])),
        case!(
            "x[k]: select out of range",
            Index,
            ["select", "5", "dimension 1", "size 3"],
            f(&[2, 3]).i(s![.., 5])
        ),
        case!("x[::0]: zero step", Invalid, ["slice", "step", "greater than zero", "0"], f(&[4]).i(s![..;0])),
        case!("x[::-1]: negative step", Invalid, ["slice", "step", "-1"], f(&[4]).slice(0, None, None, -1)),
        case!("select: 0-d", Invalid, ["select", "0-dimensional"], Tensor::from(1.0f32).select(0, 0)),
        case!(
            "index_put: values do not broadcast",
            Shape,
            ["index_put", "[3]", "[2]"],
            f(&[4]).index_put([&idx(&[0, 1])], &f(&[3]), false)
        ),
        case!(
            "index_put: values dtype",
            DType,
            ["index_put", "f32", "f64"],
            f(&[4]).index_put([&idx(&[0, 1])], &f64t(&[2]), false)
        ),
        case!(
            "index_put: index too large",
            Index,
            ["index_put", "4", "size 4"],
            f(&[4]).index_put([&idx(&[4])], &f(&[1]), true)
        ),
        case!(
            "index_put_: leaf requiring grad",
            Autograd,
            ["index_put_", "leaf"],
            leaf(&[3]).index_put_([&idx(&[0])], 1.0, false)
        ),
        case!(
            "index_add: source shape",
            Shape,
            ["index_add", "[3, 3]", "[2, 3]"],
            f(&[4, 3]).index_add(0, &idx(&[0, 1, 2]), &f(&[2, 3]))
        ),
        case!(
            "index_add: index too large",
            Index,
            ["index_add", "9", "dimension 0", "size 4"],
            f(&[4, 3]).index_add(0, &idx(&[9]), &f(&[1, 3]))
        ),
        case!(
            "scatter_add: index too large",
            Index,
            ["scatter_add", "5", "dimension 1", "size 3"],
            f(&[2, 3]).scatter_add(1, &Tensor::from_vec(vec![5i64, 0], [2, 1]).unwrap(), &f(&[2, 1]))
        ),
        case!(
            "masked_select: mask does not broadcast",
            Shape,
            ["masked_select", "[2, 3]", "[2]"],
            f(&[2, 3]).masked_select(&mask(&[2]))
        ),
        case!(
            "masked_select: float mask",
            DType,
            ["masked_select", "bool"],
            f(&[2, 3]).masked_select(&f(&[3]))
        ),
        case!("repeat: fewer repeats than dims", Invalid, ["repeat", "[2]", "2"], f(&[2, 3]).repeat(&[2])),
        case!("split: size 0", Invalid, ["split", "split_size", "0"], f(&[4]).split(0, 0)),
        case!(
            "split_with_sizes: wrong sum",
            Invalid,
            ["split_with_sizes", "[1, 2]", "4"],
            f(&[4]).split_with_sizes(&[1, 2], 0)
        ),
        case!("chunk: 0 chunks", Invalid, ["chunk", "0"], f(&[4]).chunk(0, 0)),
        case!("unbind: dim", Dim, ["unbind", "dimension 2"], f(&[2, 3]).unbind(2)),
        case!("unbind: 0-d", Invalid, ["unbind", "0-dimensional"], Tensor::from(1.0f32).unbind(0)),
        // ----- dtypes -----------------------------------------------------------------------
        // (Mixed dtypes promote, as in PyTorch; these are the mixes PyTorch refuses too.)
        case!("sub: bool tensors", DType, ["sub", "bool"], mask(&[2]).sub(&mask(&[2]))),
        case!("pow: negative integer power", Invalid, ["pow", "negative"], idx(&[2]).pow(-1)),
        case!("matmul: f32 @ f64", DType, ["matmul", "f64"], f(&[2, 2]).matmul(&f64t(&[2, 2]))),
        case!("softplus: integer", DType, ["softplus", "floating-point", "i64"], idx(&[1, 2]).softplus()),
        case!("log_sigmoid: bool", DType, ["log_sigmoid", "bool"], mask(&[2]).log_sigmoid()),
        case!("relu: bool", DType, ["relu", "bool"], mask(&[1]).relu()),
        case!("softmax: integer", DType, ["softmax"], idx(&[1, 2]).softmax(0)),
        case!("rsub: bool", DType, ["sub", "bool"], mask(&[2]).rsub(2)),
        case!("mean: integers", DType, ["mean", "i64"], idx(&[4, 2]).mean()),
        case!(
            "neg: bool",
            DType,
            ["neg", "bool"],
            Tensor::from_data(data(&[2]).gt_scalar(0.1).unwrap()).neg()
        ),
        case!(
            "index_select: float index",
            DType,
            ["index_select", "i64", "f32"],
            f(&[2, 3]).index_select(1, &f(&[1]))
        ),
        case!("gather: float index", DType, ["gather", "i64"], f(&[2, 3]).gather(1, &f(&[2, 1]))),
        case!("one_hot: float input", DType, ["one_hot", "i64"], f(&[3]).one_hot(None)),
        case!(
            "where: non-bool condition",
            DType,
            ["where", "bool"],
            Tensor::where_cond(&f(&[2]), &f(&[2]), &f(&[2]))
        ),
        case!("cat: mixed dtypes", DType, ["cat", "f64"], Tensor::cat(&[&f(&[2]), &f64t(&[2])], 0)),
        case!("to_vec: wrong type", DType, ["f64", "f32"], f(&[2]).to_vec::<f64>()),
        // ----- invalid arguments ------------------------------------------------------------
        case!(
            "from_vec: size",
            Invalid,
            ["from_vec", "5 elements", "[2, 3]"],
            Tensor::from_vec(vec![1.0f32; 5], [2, 3])
        ),
        case!("reshape: size", Invalid, ["reshape", "[4, 2]", "6 elements"], f(&[2, 3]).reshape([4, 2])),
        case!("reshape: two -1", Invalid, ["reshape", "only one dimension"], f(&[2, 3]).reshape([-1, -1])),
        case!("reshape: negative size", Invalid, ["reshape", "-2"], f(&[2, 3]).reshape([-2, 3])),
        case!("permute: wrong length", Invalid, ["permute", "3 dims"], f(&[2, 3]).permute(&[0, 1, 2])),
        case!("permute: repeated dim", Invalid, ["permute", "repeats"], f(&[2, 3]).permute(&[1, 1])),
        case!("narrow: past the end", Invalid, ["narrow", "exceeds"], f(&[2, 3]).narrow(1, 2, 2)),
        case!("narrow: 0-d", Invalid, ["narrow"], f(&[]).narrow(0, 0, 1)),
        case!("item: many elements", Invalid, ["item", "2 elements"], f(&[2]).item()),
        case!("arange: zero step", Invalid, ["arange", "step"], Tensor::arange_step(0.0, 1.0, 0.0)),
        case!("arange: wrong direction", Invalid, ["arange"], Tensor::arange_step(0.0, 1.0, -0.5)),
        case!("randint: empty range", Invalid, ["randint", "low < high"], Tensor::randint(3, 3, [2])),
        case!(
            "uniform: low > high",
            Invalid,
            ["uniform"],
            TensorData::uniform_with([2], 1.0, 0.0, DType::F32, &mut Generator::new(0))
        ),
        case!("flatten: start after end", Invalid, ["flatten"], f(&[2, 3, 4]).flatten(2, 1)),
        case!("t: 3-D", Invalid, ["t", "transpose"], f(&[2, 3, 4]).t()),
        case!("max: empty", Invalid, ["max", "empty"], f(&[0]).max()),
        case!("min: empty", Invalid, ["min", "empty"], f(&[0, 2]).min()),
        case!("cat: no tensors", Invalid, ["cat", "non-empty"], Tensor::cat(&[], 0)),
        case!("stack: no tensors", Invalid, ["stack", "non-empty"], Tensor::stack(&[], 0)),
        case!("cat: 0-d tensors", Invalid, ["cat", "stack"], Tensor::cat(&[&f(&[]), &f(&[])], 0)),
        case!(
            "index_select: 2-D index",
            Invalid,
            ["index_select", "1-D"],
            f(&[2, 3]).index_select(1, &Tensor::from_vec(vec![0i64; 4], [2, 2]).unwrap())
        ),
        // ----- autograd ---------------------------------------------------------------------
        case!(
            "backward: non-scalar",
            Autograd,
            ["backward", "scalar", "[2, 3]"],
            leaf(&[2, 3]).exp()?.backward()
        ),
        case!(
            "backward: no grad",
            Autograd,
            ["backward", "does not require grad"],
            f(&[2]).sum()?.backward()
        ),
        case!(
            "backward_with: shape",
            Shape,
            ["backward", "[2]", "[3]"],
            leaf(&[2]).exp()?.backward_with(&f(&[3]))
        ),
        case!(
            "backward_with: dtype",
            Shape,
            ["backward", "dtype"],
            leaf(&[2]).exp()?.backward_with(&f64t(&[2]))
        ),
        case!("backward: twice", Autograd, ["second time"], {
            let y = leaf(&[2]).exp()?.sum()?;
            y.backward()?;
            y.backward()
        }),
        case!(
            "requires_grad_: non-leaf",
            Autograd,
            ["requires_grad", "leaf"],
            leaf(&[2]).exp()?.requires_grad_(false)
        ),
        case!("requires_grad_: integer", Autograd, ["floating-point", "i64"], idx(&[1]).requires_grad_(true)),
        // ----- losses: cross_entropy ----------------------------------------------------------
        case!(
            "cross_entropy: target too large",
            Any,
            ["cross_entropy", "Target 4 is out of bounds"],
            F::cross_entropy(&f(&[2, 4]), &idx(&[1, 4]))
        ),
        case!(
            "cross_entropy: negative target",
            Any,
            ["cross_entropy", "Target -3 is out of bounds"],
            F::cross_entropy(&f(&[2, 4]), &idx(&[1, -3]))
        ),
        case!(
            "cross_entropy: batch mismatch",
            Any,
            ["cross_entropy", "batch_size (3)", "batch_size (2)"],
            F::cross_entropy(&f(&[3, 4]), &idx(&[1, 2]))
        ),
        case!(
            "cross_entropy: weight length",
            Any,
            ["cross_entropy", "weight", "4 classes"],
            F::cross_entropy_with(&f(&[2, 4]), &idx(&[1, 2]), &CrossEntropyOpts::default().weight(f(&[3])))
        ),
        case!(
            "cross_entropy: label_smoothing > 1",
            Invalid,
            ["label_smoothing", "1.5"],
            F::cross_entropy_with(
                &f(&[2, 4]),
                &idx(&[1, 2]),
                &CrossEntropyOpts::default().label_smoothing(1.5)
            )
        ),
        case!(
            "cross_entropy: label_smoothing < 0",
            Invalid,
            ["label_smoothing"],
            F::cross_entropy_with(
                &f(&[2, 4]),
                &idx(&[1, 2]),
                &CrossEntropyOpts::default().label_smoothing(-0.1)
            )
        ),
        case!(
            "cross_entropy: prob target shape",
            Any,
            ["cross_entropy"],
            F::cross_entropy(&f(&[2, 4]), &f(&[2, 3]))
        ),
        case!(
            "cross_entropy: integer logits",
            DType,
            ["cross_entropy"],
            F::cross_entropy(&idx(&[1, 2, 3, 4]).reshape([2, 2])?, &idx(&[0, 1]))
        ),
        case!(
            "cross_entropy: bool target",
            DType,
            ["cross_entropy"],
            F::cross_entropy(&f(&[2, 2]), &Tensor::from_data(data(&[2]).gt_scalar(0.1).unwrap()))
        ),
        case!(
            "cross_entropy: f64 target for f32 logits",
            Any,
            ["cross_entropy"],
            F::cross_entropy(&f(&[2, 2]), &f64t(&[2, 2]))
        ),
        case!(
            "cross_entropy: ignore_index with probabilities",
            Invalid,
            ["cross_entropy", "ignore_index"],
            F::cross_entropy_with(&f(&[2, 4]), &f(&[2, 4]), &CrossEntropyOpts::default().ignore_index(1))
        ),
        case!(
            "cross_entropy: batchmean",
            Invalid,
            ["batchmean"],
            F::cross_entropy_with(
                &f(&[2, 4]),
                &idx(&[1, 2]),
                &CrossEntropyOpts::default().reduction(Reduction::BatchMean)
            )
        ),
        case!(
            "cross_entropy: spatial target shape",
            Any,
            ["cross_entropy"],
            F::cross_entropy(&f(&[2, 3, 4]), &Tensor::from_vec(vec![0i64; 6], [2, 3]).unwrap())
        ),
        case!("cross_entropy: 0-d input", Any, ["cross_entropy"], F::cross_entropy(&f(&[]), &idx(&[0]))),
        case!(
            "cross_entropy: target rank",
            Any,
            ["cross_entropy"],
            F::cross_entropy(&f(&[2, 4]), &Tensor::from_vec(vec![0i64; 4], [2, 2]).unwrap())
        ),
        // ----- losses: nll_loss ---------------------------------------------------------------
        case!(
            "nll_loss: target too large",
            Any,
            ["nll_loss", "Target 3 is out of bounds"],
            F::nll_loss(&f(&[2, 3]), &idx(&[0, 3]))
        ),
        case!(
            "nll_loss: negative target",
            Any,
            ["nll_loss", "Target -1 is out of bounds"],
            F::nll_loss(&f(&[2, 3]), &idx(&[0, -1]))
        ),
        case!(
            "nll_loss: batch mismatch",
            Any,
            ["nll_loss", "batch_size"],
            F::nll_loss(&f(&[3, 3]), &idx(&[0, 1]))
        ),
        case!(
            "nll_loss: weight length",
            Any,
            ["nll_loss", "weight"],
            F::nll_loss_with(&f(&[2, 3]), &idx(&[0, 1]), &NllLossOpts::default().weight(f(&[2])))
        ),
        case!("nll_loss: float target", DType, ["nll_loss"], F::nll_loss(&f(&[2, 3]), &f(&[2]))),
        case!(
            "nll_loss: batchmean",
            Invalid,
            ["batchmean"],
            F::nll_loss_with(
                &f(&[2, 3]),
                &idx(&[0, 1]),
                &NllLossOpts::default().reduction(Reduction::BatchMean)
            )
        ),
        // ----- losses: binary cross-entropy ---------------------------------------------------
        case!(
            "bce: input above 1",
            Any,
            ["binary_cross_entropy", "input should be between 0 and 1"],
            F::binary_cross_entropy(&probs(&[0.2, 1.5]), &probs(&[0.0, 1.0]))
        ),
        case!(
            "bce: negative input",
            Any,
            ["binary_cross_entropy", "input"],
            F::binary_cross_entropy(&probs(&[-0.2, 0.5]), &probs(&[0.0, 1.0]))
        ),
        case!(
            "bce: NaN input",
            Any,
            ["binary_cross_entropy", "input"],
            F::binary_cross_entropy(&probs(&[f32::NAN, 0.5]), &probs(&[0.0, 1.0]))
        ),
        case!(
            "bce: target 4",
            Any,
            ["binary_cross_entropy", "target should be between 0 and 1"],
            F::binary_cross_entropy(&probs(&[0.2, 0.5]), &probs(&[4.0, 1.0]))
        ),
        case!(
            "bce: negative target",
            Any,
            ["binary_cross_entropy", "target"],
            F::binary_cross_entropy(&probs(&[0.2, 0.5]), &probs(&[-1.0, 1.0]))
        ),
        case!(
            "bce: shape mismatch",
            Any,
            ["binary_cross_entropy", "[2]", "[3]"],
            F::binary_cross_entropy(&probs(&[0.2, 0.5, 0.7]), &probs(&[0.0, 1.0]))
        ),
        case!(
            "bce: integer target",
            DType,
            ["binary_cross_entropy"],
            F::binary_cross_entropy(&probs(&[0.2, 0.5]), &idx(&[0, 1]))
        ),
        case!(
            "bce_with_logits: shape mismatch",
            Any,
            ["binary_cross_entropy_with_logits"],
            F::binary_cross_entropy_with_logits(&f(&[3]), &f(&[2]))
        ),
        case!(
            "bce_with_logits: integer target",
            DType,
            ["binary_cross_entropy_with_logits"],
            F::binary_cross_entropy_with_logits(&f(&[2]), &idx(&[0, 1]))
        ),
        case!(
            "bce_with_logits: pos_weight shape",
            Any,
            ["binary_cross_entropy_with_logits"],
            F::binary_cross_entropy_with_logits_with(
                &f(&[2, 3]),
                &f(&[2, 3]),
                &F::BceWithLogitsOpts::default().pos_weight(f(&[4]))
            )
        ),
        case!(
            "bce: weight shape",
            Any,
            ["binary_cross_entropy"],
            F::binary_cross_entropy_with(
                &probs(&[0.2, 0.5]),
                &probs(&[0.0, 1.0]),
                &F::BceOpts::default().weight(f(&[3]))
            )
        ),
        // ----- layers ------------------------------------------------------------------------
        case!(
            "BatchNorm1d: one value per channel in training",
            Invalid,
            ["batch_norm", "more than 1 value per channel"],
            torchlet::nn::BatchNorm1d::new_1d(3)?.forward(&f(&[1, 3]))
        ),
        case!(
            "BatchNorm1d: channel count",
            Invalid,
            ["BatchNorm1d", "3 channels", "num_features = 4"],
            torchlet::nn::BatchNorm1d::new_1d(4)?.forward(&f(&[2, 3]))
        ),
        case!(
            "LayerNorm: trailing dims differ",
            Shape,
            ["layer_norm", "[2, 3]", "[4]"],
            torchlet::nn::LayerNorm::new(&[4])?.forward(&f(&[2, 3]))
        ),
        case!(
            "Embedding: index out of range",
            Any,
            ["embedding", "5"],
            torchlet::nn::Embedding::new(5, 3)?.forward(&idx(&[0, 5]))
        ),
        case!(
            "Embedding: float indices",
            DType,
            ["embedding"],
            torchlet::nn::Embedding::new(5, 3)?.forward(&f(&[2]))
        ),
        case!(
            "sdpa: key width differs from the query's",
            Any,
            ["scaled_dot_product_attention"],
            f(&[2, 4, 8]).scaled_dot_product_attention(&f(&[2, 4, 6]), &f(&[2, 4, 8]), &Default::default())
        ),
        case!(
            "state_dict: missing key (strict)",
            Any,
            ["missing key", "bias"],
            Linear::new(2, 3)?.load_state_dict(&Linear::without_bias(2, 3)?.state_dict())
        ),
        // ----- losses: kl_div, cosine, mse --------------------------------------------------
        case!("kl_div: no broadcast", Shape, ["kl_div"], F::kl_div(&f(&[2, 3]).neg()?, &f(&[2, 4]))),
        case!("kl_div: integer target", DType, ["kl_div"], F::kl_div(&f(&[2]).neg()?, &idx(&[0, 1]))),
        case!(
            "cosine_embedding: x1/x2 shapes",
            Any,
            ["cosine_embedding_loss"],
            F::cosine_embedding_loss(&f(&[2, 3]), &f(&[2, 4]), &idx(&[1, -1]))
        ),
        case!(
            "cosine_embedding: y length",
            Any,
            ["cosine_embedding_loss"],
            F::cosine_embedding_loss(&f(&[2, 3]), &f(&[2, 3]), &idx(&[1, -1, 1]))
        ),
        case!(
            "cosine_embedding: 3-D inputs",
            Any,
            ["cosine_embedding_loss"],
            F::cosine_embedding_loss(&f(&[2, 3, 1]), &f(&[2, 3, 1]), &idx(&[1, -1]))
        ),
        case!("mse_loss: no broadcast", Shape, ["mse_loss"], F::mse_loss(&f(&[2, 3]), &f(&[4]))),
        case!("mse_loss: dtype", DType, ["mse_loss"], F::mse_loss(&f(&[2]), &f64t(&[2]))),
        // ----- overflow-sized arguments (errors, not arithmetic-overflow panics) --------------
        case!(
            "reshape: sizes overflow",
            Invalid,
            ["reshape", "overflow"],
            f(&[2, 3]).reshape([isize::MAX, 4])
        ),
        case!(
            "narrow: start + length overflow",
            Invalid,
            ["narrow", "exceeds"],
            f(&[2, 3]).narrow(1, usize::MAX, 2)
        ),
        case!(
            "expand: unaddressable shape",
            Invalid,
            ["expand", "too many elements"],
            f(&[1]).expand([usize::MAX, 2])
        ),
        case!(
            "one_hot: num_classes too large",
            Invalid,
            ["one_hot", "too large"],
            idx(&[1, 2]).one_hot(Some(usize::MAX))
        ),
        case!("arange: NaN end", Invalid, ["arange", "finite"], Tensor::arange_step(0.0, f64::NAN, 1.0)),
        case!(
            "arange: infinite step",
            Invalid,
            ["arange", "step"],
            Tensor::arange_step(0.0, 1.0, f64::INFINITY)
        ),
        // ----- empty tensors and non-finite values where PyTorch errors ------------------------
        case!(
            "cross_entropy: no classes",
            Index,
            ["cross_entropy", "Target 0 is out of bounds"],
            F::cross_entropy(&f(&[2, 0]), &idx(&[0, 0]))
        ),
        case!("nll_loss: no classes", Index, ["nll_loss", "Target 0"], F::nll_loss(&f(&[1, 0]), &idx(&[0]))),
        case!(
            "cross_entropy: NaN label_smoothing",
            Invalid,
            ["label_smoothing", "NaN"],
            F::cross_entropy_with(
                &f(&[2, 4]),
                &idx(&[1, 2]),
                &CrossEntropyOpts::default().label_smoothing(f64::NAN)
            )
        ),
        case!(
            "bce: NaN target",
            Any,
            ["binary_cross_entropy", "target", "NaN"],
            F::binary_cross_entropy(&probs(&[0.2, 0.5]), &probs(&[f32::NAN, 1.0]))
        ),
        case!(
            "bce: inf input",
            Any,
            ["binary_cross_entropy", "input", "inf"],
            F::binary_cross_entropy(&probs(&[f32::INFINITY]), &probs(&[1.0]))
        ),
        case!(
            "bce: empty input, other shape",
            Shape,
            ["binary_cross_entropy"],
            F::binary_cross_entropy(&f(&[0]), &f(&[0, 1]))
        ),
        case!(
            "Categorical: negative probs",
            Invalid,
            ["Categorical", "non-negative"],
            Categorical::from_probs(&probs(&[0.5, -0.1]))
        ),
        case!(
            "Categorical: NaN probs",
            Invalid,
            ["Categorical", "NaN"],
            Categorical::from_probs(&probs(&[f32::NAN, 0.5]))
        ),
        case!(
            "Categorical: row of zeros",
            Invalid,
            ["Categorical", "positive sum"],
            Categorical::from_probs(&probs(&[0.0, 0.0]))
        ),
        case!(
            "Categorical: 0-d probs",
            Invalid,
            ["Categorical", "at least one dimension"],
            Categorical::from_probs(&f(&[]))
        ),
        case!("Categorical: no classes", Invalid, ["Categorical"], Categorical::from_logits(&f(&[2, 0]))),
        case!(
            "Categorical::log_prob: out of range",
            Index,
            ["log_prob", "3"],
            Categorical::from_probs(&probs(&[0.5, 0.5]))?.log_prob(&idx(&[3]))
        ),
        case!(
            "Categorical::log_prob: float value",
            DType,
            ["log_prob", "i64"],
            Categorical::from_probs(&probs(&[0.5, 0.5]))?.log_prob(&f(&[1]))
        ),
        case!(
            "gradcheck: f32 output",
            Invalid,
            ["gradcheck", "f64"],
            torchlet::gradcheck(|t| t[0].to_dtype(DType::F32), &[data(&[2])], 1e-6, 1e-6, 1e-4)
        ),
        case!(
            "gradcheck: wrong gradient",
            Invalid,
            ["gradcheck", "finite differences"],
            torchlet::gradcheck(
                |t| t[0].detach().requires_grad_(false)?.add(&t[0]),
                &[data(&[2])],
                1e-6,
                1e-6,
                1e-4
            )
        ),
        // ----- math ops: options, dim lists, triangles ----------------------------------------
        case!("var: dim out of range", Dim, ["var", "dimension 2"], f(&[2, 3]).var_with(2, 1, false)),
        case!("std: dim out of range", Dim, ["std", "dimension -3"], f(&[2, 3]).std_with([0, -3], 1, false)),
        case!("var: integers", DType, ["var", "i64"], idx(&[1, 2]).var()),
        case!("std: integers", DType, ["std", "i64"], idx(&[1, 2]).std()),
        case!(
            "sum_dim: repeated dim",
            Invalid,
            ["sum", "dim 0", "multiple times"],
            f(&[2, 3]).sum_dim([0, -2], false)
        ),
        case!("mean_dim: list out of range", Dim, ["mean", "dimension 3"], f(&[2, 3]).mean_dim([0, 3], true)),
        case!(
            "logsumexp: list out of range",
            Dim,
            ["logsumexp", "dimension 4"],
            f(&[2, 3]).logsumexp([4], true)
        ),
        case!("cumsum: dim out of range", Dim, ["cumsum", "dimension 2"], f(&[2, 3]).cumsum(2)),
        case!("prod_dim: dim out of range", Dim, ["prod", "dimension -2"], f(&[3]).prod_dim(-2, false)),
        case!("argmin: dim out of range", Dim, ["argmin"], f(&[2, 3]).argmin(2, false)),
        case!(
            "vector_norm: integers",
            DType,
            ["vector_norm", "i64"],
            idx(&[3, 4]).vector_norm(2.0, Dims::All, false)
        ),
        case!(
            "vector_norm: dim out of range",
            Dim,
            ["vector_norm", "dimension 1"],
            f(&[3]).vector_norm(1.0, 1, false)
        ),
        case!("histc: zero bins", Invalid, ["histc", "bins"], f(&[4]).histc(0, 0.0, 1.0)),
        case!("histc: min > max", Invalid, ["histc", "max"], f(&[4]).histc(4, 1.0, 0.0)),
        case!("histc: integers", DType, ["histc", "i64"], idx(&[1, 2]).histc(2, 0.0, 3.0)),
        case!("tril: 1-D", Invalid, ["tril", "2"], f(&[3]).tril(0)),
        case!("triu: 0-D", Invalid, ["triu", "2"], f(&[]).triu(1)),
        case!("clamp: no bounds", Invalid, ["clamp", "min", "max"], f(&[2]).clamp(None, None)),
        case!("gelu: bad approximate", Invalid, ["gelu", "tanh", "exact"], "exact".parse::<F::Approximate>()),
        case!("gelu: integers", DType, ["gelu", "i64"], idx(&[1, 2]).gelu()),
        case!("leaky_relu: bool", DType, ["leaky_relu", "bool"], mask(&[2]).leaky_relu(0.1)),
        case!("softplus_with: integers", DType, ["softplus", "i64"], idx(&[1, 2]).softplus_with(2.0, 10.0)),
        case!("max_dim: 0-length dim", Invalid, ["max", "empty"], f(&[2, 0]).max_dim(1, false)),
        // ----- modules ------------------------------------------------------------------------
        case!(
            "Linear: wrong in_features",
            Shape,
            ["linear", "input features 5", "[2, 3]"],
            Linear::new(3, 2)?.forward(&f(&[4, 5]))
        ),
        case!("Linear: 0-d input", Shape, ["linear", "none"], Linear::new(3, 2)?.forward(&f(&[]))),
        case!(
            "Linear: f64 input, f32 weight",
            DType,
            ["f64", "f32"],
            Linear::new(2, 2)?.forward(&f64t(&[1, 2]))
        ),
        case!(
            "Linear::from_weights: 1-D weight",
            Invalid,
            ["Linear", "(out_features, in_features)"],
            Linear::from_weights(f(&[3]), None)
        ),
        case!(
            "Linear::from_weights: bias shape",
            Shape,
            ["Linear", "bias of shape [2]"],
            Linear::from_weights(f(&[2, 3]), Some(f(&[3])))
        ),
        case!(
            "Linear::from_weights: integer weight",
            DType,
            ["Linear", "i64"],
            Linear::from_weights(idx(&[1, 2]).reshape([1, 2])?, None)
        ),
        case!(
            "Sequential: layer sizes do not chain",
            Shape,
            ["linear", "input features 3", "[1, 4]"],
            Sequential::new()
                .add(Linear::new(2, 3)?)
                .add(Sigmoid)
                .add(Linear::new(4, 1)?)
                .forward(&f(&[5, 2]))
        ),
        // ----- optimizers ---------------------------------------------------------------------
        case!("SGD: negative lr", Invalid, ["SGD", "learning rate -0.1"], SGD::new(params(), -0.1)),
        case!("SGD: NaN lr", Invalid, ["SGD", "learning rate NaN"], SGD::new(params(), f64::NAN)),
        case!(
            "SGD: negative momentum",
            Invalid,
            ["SGD", "momentum value -0.9"],
            SGD::new(params(), SgdOptions::new(0.1).momentum(-0.9))
        ),
        case!(
            "SGD: negative weight_decay",
            Invalid,
            ["SGD", "weight_decay"],
            SGD::new(params(), SgdOptions::new(0.1).weight_decay(-1e-4))
        ),
        case!(
            "SGD: infinite dampening",
            Invalid,
            ["SGD", "dampening"],
            SGD::new(params(), SgdOptions::new(0.1).momentum(0.9).dampening(f64::INFINITY))
        ),
        case!(
            "SGD: nesterov without momentum",
            Invalid,
            ["SGD", "Nesterov", "momentum > 0"],
            SGD::new(params(), SgdOptions::new(0.1).nesterov(true))
        ),
        case!(
            "SGD: nesterov with dampening",
            Invalid,
            ["SGD", "Nesterov", "zero dampening"],
            SGD::new(params(), SgdOptions::new(0.1).momentum(0.9).dampening(0.5).nesterov(true))
        ),
        case!("SGD: empty parameter list", Invalid, ["SGD", "empty parameter list"], SGD::new(vec![], 0.1)),
        case!("SGD: repeated parameter", Invalid, ["SGD", "same tensor"], {
            let p = leaf(&[2]);
            SGD::new(vec![p.clone(), p], 0.1)
        }),
        case!(
            "SGD: non-leaf parameter",
            Invalid,
            ["SGD", "non-leaf"],
            SGD::new(vec![leaf(&[2]).exp()?], 0.1)
        ),
        case!("SGD: integer parameter", DType, ["SGD", "i64"], SGD::new(vec![idx(&[1])], 0.1)),
        case!(
            "SGD: set_lr negative",
            Invalid,
            ["SGD", "learning rate -1"],
            SGD::new(params(), 0.1)?.set_lr(-1.0)
        ),
        case!(
            "SGD: step with a stale gradient",
            Shape,
            ["SGD", "parameter 0", "no parameter was updated"],
            stale_grad_step(SGD::new(params(), 0.1)?)
        ),
        case!(
            "Adam: beta1 = 1",
            Invalid,
            ["Adam", "beta parameter at index 0: 1"],
            Adam::new(params(), AdamOptions::new(0.1).betas(1.0, 0.999))
        ),
        case!(
            "Adam: beta2 = -0.1",
            Invalid,
            ["Adam", "beta parameter at index 1: -0.1"],
            Adam::new(params(), AdamOptions::new(0.1).betas(0.9, -0.1))
        ),
        case!(
            "Adam: NaN beta",
            Invalid,
            ["Adam", "beta", "NaN"],
            Adam::new(params(), AdamOptions::new(0.1).betas(f64::NAN, 0.999))
        ),
        case!(
            "Adam: negative eps",
            Invalid,
            ["Adam", "epsilon value"],
            Adam::new(params(), AdamOptions::new(0.1).eps(-1e-8))
        ),
        case!(
            "Adam: negative lr",
            Invalid,
            ["Adam", "learning rate -0.001"],
            Adam::new(params(), AdamOptions::new(-1e-3))
        ),
        case!(
            "Adam: negative weight_decay",
            Invalid,
            ["Adam", "weight_decay"],
            Adam::new(params(), AdamOptions::new(0.1).weight_decay(-0.1))
        ),
        case!(
            "Adam: step with a stale gradient",
            Shape,
            ["Adam", "no parameter was updated"],
            stale_grad_step(Adam::new(params(), 0.1)?)
        ),
        case!("AdamW: negative lr", Invalid, ["AdamW", "learning rate"], AdamW::new(params(), -0.1)),
        case!(
            "AdamW: beta1 = 1",
            Invalid,
            ["AdamW", "beta parameter at index 0"],
            AdamW::new(params(), AdamOptions::new(0.1).betas(1.0, 0.9))
        ),
        case!(
            "AdamW: negative weight_decay",
            Invalid,
            ["AdamW", "weight_decay value -0.01"],
            AdamW::new(params(), AdamOptions::new(0.1).weight_decay(-0.01))
        ),
        case!(
            "AdamW: set_lr NaN",
            Invalid,
            ["AdamW", "learning rate NaN"],
            AdamW::new(params(), 0.1)?.set_lr(f64::NAN)
        ),
        case!(
            "AdamW: step with a stale gradient",
            Shape,
            ["AdamW", "no parameter was updated"],
            stale_grad_step(AdamW::new(params(), 0.1)?)
        ),
        // ----- I/O ---------------------------------------------------------------------------
        case!(
            "load_digits: missing file",
            Any,
            ["load_digits", "cannot read", "--data"],
            torchlet_examples::demos::load_digits(std::path::Path::new("/nonexistent/optdigits.csv"))
        ),
        case!(
            "plot: no values",
            Any,
            ["plot", "nothing to plot"],
            torchlet_examples::plot::loss_curve("/nonexistent/loss.png", "loss", &[])
        ),
        case!("reduction: unknown string", Invalid, ["reduction", "avg"], "avg".parse::<Reduction>()),
    ]
}

#[test]
fn every_misuse_is_a_clear_error_and_never_a_panic() {
    let cases = cases();
    let mut failures = vec![];
    for c in &cases {
        match catch_unwind(AssertUnwindSafe(c.run)) {
            Err(_) => failures.push(format!("{}: panicked", c.name)),
            Ok(Ok(())) => failures.push(format!("{}: returned Ok, expected an error", c.name)),
            Ok(Err(e)) => {
                if std::env::var_os("TORCHLET_PRINT_ERRORS").is_some() {
                    println!("{:<45} {e}", c.name);
                }
                let msg = e.to_string().to_lowercase();
                if c.kind != Kind::Any && kind_of(&e) != c.kind {
                    failures.push(format!("{}: expected {:?}, got {:?}: {e}", c.name, c.kind, kind_of(&e)));
                }
                for w in c.words {
                    if !msg.contains(&w.to_lowercase()) {
                        failures.push(format!("{}: message lacks {w:?}: {e}", c.name));
                    }
                }
            }
        }
    }
    println!("{} bad-input cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
