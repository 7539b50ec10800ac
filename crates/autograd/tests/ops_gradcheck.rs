//! Every differentiable op of the tape checked against central finite differences (f64).
//! `gradcheck` weights non-scalar outputs with a fixed pseudo-random vector, so each test
//! covers the full Jacobian-vector product, broadcasting included.

use torchlet_autograd::{gradcheck, DType, Generator, Result, Tensor, TensorData};

fn randn(shape: &[usize], seed: u64) -> TensorData {
    TensorData::randn_with(shape, DType::F64, &mut Generator::new(seed)).unwrap()
}

/// Positive inputs for log/sqrt/pow: 0.5 + |randn|.
fn positive(shape: &[usize], seed: u64) -> TensorData {
    randn(shape, seed).abs().unwrap().add_scalar(0.5).unwrap()
}

fn check(name: &str, f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: Vec<TensorData>) {
    match gradcheck(f, &inputs, 1e-6, 1e-7, 1e-5) {
        Ok(r) => assert!(r.checked > 0, "{name}: nothing was checked"),
        Err(e) => panic!("{name}: {e}"),
    }
}

#[test]
fn arithmetic_with_broadcasting() {
    let (a, b, c) = (randn(&[3, 4], 1), randn(&[4], 2), randn(&[3, 1], 3));
    check("add", |t| t[0].add(&t[1]), vec![a.clone(), b.clone()]);
    check("sub", |t| t[0].sub(&t[1]), vec![a.clone(), c.clone()]);
    check("mul", |t| t[0].mul(&t[1]), vec![c.clone(), b.clone()]);
    check("div", |t| t[0].div(&t[1]), vec![a.clone(), positive(&[3, 1], 4)]);
    check("pow", |t| t[0].pow(&t[1]), vec![positive(&[3, 4], 5), randn(&[4], 6)]);
    check("pow_scalar", |t| t[0].pow_scalar(3.0), vec![a.clone()]);
    check("pow_scalar_frac", |t| t[0].pow_scalar(-1.5), vec![positive(&[5], 7)]);
    check("neg", |t| t[0].neg(), vec![a.clone()]);
    check("add_scalar", |t| t[0].add_scalar(2.5), vec![a.clone()]);
    check("mul_scalar", |t| t[0].mul_scalar(-3.0), vec![a.clone()]);
    check("scalar_0d", |t| t[0].mul(&t[1]), vec![a.clone(), TensorData::scalar(1.7f64)]);
    check("maximum", |t| t[0].maximum(&t[1]), vec![a.clone(), b.clone()]);
    check("minimum", |t| t[0].minimum(&t[1]), vec![a, c]);
}

#[test]
fn unary_functions() {
    let x = randn(&[2, 5], 10);
    check("exp", |t| t[0].exp(), vec![x.clone()]);
    check("log", |t| t[0].log(), vec![positive(&[2, 5], 11)]);
    check("log1p", |t| t[0].log1p(), vec![positive(&[2, 5], 12)]);
    check("sqrt", |t| t[0].sqrt(), vec![positive(&[2, 5], 13)]);
    check("abs", |t| t[0].abs(), vec![x.clone()]);
    // clamp: inputs away from the bounds (finite differences are undefined at a kink).
    let xs = TensorData::from(vec![-2.0f64, -0.7, -0.2, 0.3, 0.9, 1.8]);
    check("clamp", |t| t[0].clamp(Some(-0.5), Some(1.0)), vec![xs.clone()]);
    check("clamp_min", |t| t[0].clamp(Some(0.0), None), vec![xs]);
    check("sigmoid", |t| t[0].sigmoid(), vec![x.clone()]);
    check("tanh", |t| t[0].tanh(), vec![x.clone()]);
    check("softplus", |t| t[0].softplus(), vec![x.clone()]);
    check("softplus_threshold", |t| t[0].softplus(), vec![TensorData::from(vec![25.0f64, -30.0, 19.0])]);
    check("log_sigmoid", |t| t[0].log_sigmoid(), vec![x.clone()]);
    // relu away from 0.
    check("relu", |t| t[0].relu(), vec![TensorData::from(vec![-1.5f64, -0.1, 0.2, 2.0])]);
    check("to_dtype_f32_roundtrip", |t| t[0].to_dtype(DType::F64)?.exp(), vec![x]);
}

#[test]
fn softmax_family_any_dim() {
    let x = randn(&[2, 3, 4], 20);
    for dim in [-1isize, 0, 1, 2] {
        check("softmax", |t| t[0].softmax(dim), vec![x.clone()]);
        check("log_softmax", |t| t[0].log_softmax(dim), vec![x.clone()]);
        check("logsumexp", |t| t[0].logsumexp(dim, false), vec![x.clone()]);
        check("logsumexp_keep", |t| t[0].logsumexp(dim, true), vec![x.clone()]);
    }
}

#[test]
fn reductions() {
    let x = randn(&[3, 4], 30);
    check("sum", |t| t[0].sum(), vec![x.clone()]);
    check("mean", |t| t[0].mean(), vec![x.clone()]);
    for (dim, keep) in [(0isize, false), (1, true), (-1, false), (-2, true)] {
        check("sum_dim", |t| t[0].sum_dim(dim, keep), vec![x.clone()]);
        check("mean_dim", |t| t[0].mean_dim(dim, keep), vec![x.clone()]);
        check("max_dim", |t| Ok(t[0].max_dim(dim, keep)?.0), vec![x.clone()]);
        check("min_dim", |t| Ok(t[0].min_dim(dim, keep)?.0), vec![x.clone()]);
    }
    check("max", |t| t[0].max(), vec![x.clone()]);
    check("min", |t| t[0].min(), vec![x]);
}

#[test]
fn shape_ops() {
    let x = randn(&[2, 3, 4], 40);
    check("reshape", |t| t[0].reshape(&[6, -1])?.mul(&t[0].reshape(&[6, 4])?), vec![x.clone()]);
    check("permute", |t| t[0].permute(&[2, 0, 1])?.softmax(0), vec![x.clone()]);
    check("transpose", |t| t[0].transpose(0, 2)?.log_softmax(-1), vec![x.clone()]);
    check("t", |t| t[0].t()?.softmax(1), vec![randn(&[3, 5], 41)]);
    check(
        "squeeze_unsqueeze",
        |t| t[0].unsqueeze(1)?.squeeze_dim(1)?.unsqueeze(-1)?.squeeze()?.exp(),
        vec![x.clone()],
    );
    check("flatten", |t| t[0].flatten(1, 2)?.softmax(1), vec![x.clone()]);
    check("expand", |t| t[0].expand([3, 2, 4])?.softmax(0), vec![randn(&[2, 1], 42)]);
    check("narrow", |t| t[0].narrow(2, 1, 2)?.exp(), vec![x.clone()]);
    check("contiguous", |t| t[0].transpose(0, 1)?.contiguous()?.exp(), vec![x.clone()]);
    check(
        "cat",
        |t| Tensor::cat(&[&t[0], &t[1], &t[0]], 1)?.softmax(1),
        vec![randn(&[2, 3], 43), randn(&[2, 2], 44)],
    );
    check(
        "stack",
        |t| Tensor::stack(&[&t[0], &t[1]], 1)?.softmax(1),
        vec![randn(&[2, 3], 45), randn(&[2, 3], 46)],
    );
    let idx = TensorData::from(vec![2i64, 0, 2]);
    check("index_select", |t| t[0].index_select(1, &t[1])?.exp(), vec![randn(&[2, 3], 47), idx]);
    // gather: the `x[range(n), target]` idiom.
    let target = TensorData::from_vec(vec![1i64, 0, 2, 2], [4, 1]).unwrap();
    check("gather", |t| t[0].gather(1, &t[1]), vec![randn(&[4, 3], 48), target]);
}

#[test]
fn matmul_all_forms() {
    check("mm", |t| t[0].matmul(&t[1]), vec![randn(&[3, 4], 50), randn(&[4, 2], 51)]);
    check("vec_mat", |t| t[0].matmul(&t[1]), vec![randn(&[4], 52), randn(&[4, 2], 53)]);
    check("mat_vec", |t| t[0].matmul(&t[1]), vec![randn(&[3, 4], 54), randn(&[4], 55)]);
    check("dot", |t| t[0].matmul(&t[1]), vec![randn(&[4], 56), randn(&[4], 57)]);
    check("batched", |t| t[0].matmul(&t[1]), vec![randn(&[2, 3, 4], 58), randn(&[2, 4, 2], 59)]);
    check("batched_broadcast", |t| t[0].matmul(&t[1]), vec![randn(&[2, 3, 4], 60), randn(&[4, 5], 61)]);
    check(
        "batched_broadcast_both",
        |t| t[0].matmul(&t[1]),
        vec![randn(&[2, 1, 3, 4], 62), randn(&[3, 4, 2], 63)],
    );
    check("transposed_operand", |t| t[0].matmul(&t[1].t()?), vec![randn(&[3, 4], 64), randn(&[5, 4], 65)]);
    // Large enough for the GEMM path (> 16k multiply-adds).
    check("gemm_path", |t| t[0].matmul(&t[1])?.sum(), vec![randn(&[40, 30], 66), randn(&[30, 20], 67)]);
    check(
        "linear_bias",
        |t| t[0].linear(&t[1], Some(&t[2])),
        vec![randn(&[4, 3], 68), randn(&[2, 3], 69), randn(&[2], 70)],
    );
    check("linear_nobias", |t| t[0].linear(&t[1], None), vec![randn(&[4, 3], 71), randn(&[2, 3], 72)]);
    check(
        "linear_1d",
        |t| t[0].linear(&t[1], Some(&t[2])),
        vec![randn(&[3], 73), randn(&[2, 3], 74), randn(&[2], 75)],
    );
    check(
        "linear_3d",
        |t| t[0].linear(&t[1], Some(&t[2])),
        vec![randn(&[2, 4, 3], 76), randn(&[2, 3], 77), randn(&[2], 78)],
    );
}

#[test]
fn where_and_composites() {
    let x = randn(&[3, 4], 80);
    let cond = x.gt_scalar(0.0).unwrap();
    check("where", move |t| Tensor::where_cond(&cond, &t[0], &t[1]), vec![x.clone(), randn(&[4], 81)]);
    // A two-layer network end to end: linear -> sigmoid -> linear -> log_softmax -> gather.
    let target = TensorData::from_vec(vec![0i64, 1, 1, 0], [4, 1]).unwrap();
    check(
        "mlp",
        |t| {
            t[0].linear(&t[1], Some(&t[2]))?
                .sigmoid()?
                .linear(&t[3], None)?
                .log_softmax(1)?
                .gather(1, &t[4])?
                .mean()
        },
        vec![randn(&[4, 2], 82), randn(&[5, 2], 83), randn(&[5], 84), randn(&[2, 5], 85), target],
    );
}
