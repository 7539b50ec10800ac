//! Criterion benchmarks: the workloads of docs/benchmarks.md built from the public API, plus
//! micro-benchmarks of the kernels they are made of, so a regression in one kernel shows up
//! by name. `cargo bench` (all) or `cargo bench -- softmax` (a filter). The side-by-side
//! comparison with PyTorch uses `cargo run --release --example bench` (docs/performance.md).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use torchlet::nn::functional::{self as F, KlDivOpts, Reduction};
use torchlet::nn::optim::{Optimizer, SgdOptions, SGD};
use torchlet::nn::{Linear, Module, ReLU, Sequential, Sigmoid};
use torchlet::{DType, Generator, Tensor};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn_with(shape, DType::F32, &mut Generator::new(seed)).unwrap()
}

/// The two sizes of each op family's micro-benchmarks: a small tensor (one thread, the
/// per-call overhead shows) and a large one (vectorised and split across threads).
const SIZES: [usize; 2] = [64, 1000];

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("elementwise");
    for n in SIZES {
        let (a, b, row) = (randn(&[n, n], 1).data(), randn(&[n, n], 2).data(), randn(&[n], 3).data());
        g.bench_function(format!("add_{n}x{n}"), |x| x.iter(|| a.add(&b).unwrap()));
        g.bench_function(format!("add_broadcast_row_{n}x{n}"), |x| x.iter(|| a.add(&row).unwrap()));
        g.bench_function(format!("add_transposed_{n}x{n}"), |x| x.iter(|| a.t().unwrap().add(&b).unwrap()));
        g.bench_function(format!("mul_scalar_{n}x{n}"), |x| x.iter(|| a.mul_scalar(0.5).unwrap()));
        g.bench_function(format!("exp_{n}x{n}"), |x| x.iter(|| a.exp().unwrap()));
        g.bench_function(format!("tanh_{n}x{n}"), |x| x.iter(|| a.tanh().unwrap()));
        g.bench_function(format!("sigmoid_{n}x{n}"), |x| x.iter(|| a.sigmoid().unwrap()));
        g.bench_function(format!("gelu_{n}x{n}"), |x| x.iter(|| a.gelu().unwrap()));
        g.bench_function(format!("softplus_{n}x{n}"), |x| x.iter(|| a.softplus().unwrap()));
        g.bench_function(format!("log_{n}x{n}"), |x| x.iter(|| a.abs().unwrap().log().unwrap()));
        g.bench_function(format!("erf_{n}x{n}"), |x| x.iter(|| a.erf().unwrap()));
        let positive = a.abs().unwrap();
        g.bench_function(format!("pow_1.5_{n}x{n}"), |x| x.iter(|| positive.pow_scalar(1.5).unwrap()));
    }
    g.finish();
}

/// Activations forward and backward: the derivative rules run the vectorised math too.
fn activations(c: &mut Criterion) {
    let mut g = c.benchmark_group("activation_fwd_bwd");
    for n in SIZES {
        let x = randn(&[n, n], 7).requires_grad_(true).unwrap();
        let gy = randn(&[n, n], 8);
        type Act = fn(&Tensor) -> torchlet::Result<Tensor>;
        let acts: [(&str, Act); 5] = [
            ("tanh", Tensor::tanh),
            ("gelu", Tensor::gelu),
            ("gelu_tanh", Tensor::gelu_tanh),
            ("silu", Tensor::silu),
            ("softplus", Tensor::softplus),
        ];
        for (name, f) in acts {
            g.bench_function(format!("{name}_{n}x{n}"), |b| {
                b.iter(|| {
                    x.zero_grad();
                    f(&x).unwrap().backward_with(&gy).unwrap()
                })
            });
        }
    }
    g.finish();
}

fn reductions(c: &mut Criterion) {
    let mut g = c.benchmark_group("reductions");
    for n in SIZES {
        let a = randn(&[n, n], 4).data();
        g.bench_function(format!("sum_all_{n}x{n}"), |x| x.iter(|| a.sum().unwrap()));
        g.bench_function(format!("sum_dim0_{n}x{n}"), |x| x.iter(|| a.sum_dim(0, false).unwrap()));
        g.bench_function(format!("sum_dim1_{n}x{n}"), |x| x.iter(|| a.sum_dim(1, false).unwrap()));
        g.bench_function(format!("var_dim0_{n}x{n}"), |x| {
            x.iter(|| a.var_dims(&0.into(), 1.0, false).unwrap())
        });
        g.bench_function(format!("max_dim1_{n}x{n}"), |x| x.iter(|| a.max_dim(1, false).unwrap()));
        g.bench_function(format!("max_dim0_{n}x{n}"), |x| x.iter(|| a.max_dim(0, false).unwrap()));
        g.bench_function(format!("max_all_{n}x{n}"), |x| x.iter(|| a.max().unwrap()));
        g.bench_function(format!("prod_dim1_{n}x{n}"), |x| x.iter(|| a.prod_dim(1, false).unwrap()));
        g.bench_function(format!("cumsum_dim1_{n}x{n}"), |x| x.iter(|| a.cumsum(1).unwrap()));
        g.bench_function(format!("norm_all_{n}x{n}"), |x| {
            x.iter(|| a.vector_norm(2.0, &torchlet::Dims::All, false).unwrap())
        });
        g.bench_function(format!("logsumexp_dim1_{n}x{n}"), |x| x.iter(|| a.logsumexp(1, false).unwrap()));
    }
    g.finish();
}

/// Selection and indexing: `where` of three tensors, `index_select` along either dim, the
/// triangle of a causal mask.
fn selection(c: &mut Criterion) {
    let mut g = c.benchmark_group("selection");
    for n in SIZES {
        let (a, b) = (randn(&[n, n], 11).data(), randn(&[n, n], 12).data());
        let mask = a.gt(&b).unwrap();
        let idx = Tensor::randint_with(0, n as i64, [n], &mut Generator::new(13)).unwrap().data();
        g.bench_function(format!("where_{n}x{n}"), |x| {
            x.iter(|| torchlet::tensor_core::TensorData::where_cond(&mask, &a, &b).unwrap())
        });
        g.bench_function(format!("index_select0_{n}x{n}"), |x| x.iter(|| a.index_select(0, &idx).unwrap()));
        g.bench_function(format!("index_select1_{n}x{n}"), |x| x.iter(|| a.index_select(1, &idx).unwrap()));
        g.bench_function(format!("tril_{n}x{n}"), |x| x.iter(|| a.tril(0).unwrap()));
    }
    g.finish();
}

fn normalisation(c: &mut Criterion) {
    let mut g = c.benchmark_group("norm_fwd_bwd");
    for (rows, n) in [(32, 64), (8192, 256)] {
        let x = randn(&[rows, n], 5).requires_grad_(true).unwrap();
        let (w, b) = (Tensor::ones([n]).unwrap(), Tensor::zeros([n]).unwrap());
        let (w, b) = (w.requires_grad_(true).unwrap(), b.requires_grad_(true).unwrap());
        let gy = randn(&[rows, n], 6);
        g.bench_function(format!("layer_norm_{rows}x{n}"), |bn| {
            bn.iter(|| x.layer_norm(&[n], Some(&w), Some(&b), 1e-5).unwrap().backward_with(&gy).unwrap())
        });
        let opts = F::BatchNormOpts { training: true, ..Default::default() };
        g.bench_function(format!("batch_norm_{rows}x{n}"), |bn| {
            bn.iter(|| {
                x.batch_norm(None, None, Some(&w), Some(&b), opts).unwrap().backward_with(&gy).unwrap()
            })
        });
    }
    g.finish();
}

fn softmax_family(c: &mut Criterion) {
    let mut g = c.benchmark_group("softmax");
    for (n, cl) in [(50000usize, 10usize), (512, 1000), (4, 2)] {
        let x = randn(&[n, cl], 5).data();
        g.bench_with_input(BenchmarkId::new("log_softmax", format!("{n}x{cl}")), &x, |b, x| {
            b.iter(|| x.log_softmax(-1).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("softmax", format!("{n}x{cl}")), &x, |b, x| {
            b.iter(|| x.softmax(-1).unwrap())
        });
    }
    let x = randn(&[100, 200, 10], 6).data();
    g.bench_function("log_softmax_dim1_100x200x10", |b| b.iter(|| x.log_softmax(1).unwrap()));
    g.finish();
}

fn losses(c: &mut Criterion) {
    torchlet::warnings::set_mode(torchlet::warnings::WarningMode::Off);
    let mut g = c.benchmark_group("loss_fwd_bwd");
    let x = randn(&[50000, 10], 7).requires_grad_(true).unwrap();
    let y = Tensor::randint_with(0, 10, [50000], &mut Generator::new(8)).unwrap();
    let step = |loss: Tensor| {
        loss.backward().unwrap();
        x.zero_grad();
    };
    g.bench_function("cross_entropy_50000x10", |b| b.iter(|| step(F::cross_entropy(&x, &y).unwrap())));
    let lp = || x.log_softmax(1).unwrap();
    g.bench_function("log_softmax_nll_loss_50000x10", |b| b.iter(|| step(F::nll_loss(&lp(), &y).unwrap())));
    let t = randn(&[50000, 10], 9).sigmoid().unwrap();
    g.bench_function("sigmoid_binary_cross_entropy_50000x10", |b| {
        b.iter(|| step(F::binary_cross_entropy(&x.sigmoid().unwrap(), &t).unwrap()))
    });
    g.bench_function("bce_with_logits_50000x10", |b| {
        b.iter(|| step(F::binary_cross_entropy_with_logits(&x, &t).unwrap()))
    });
    let p = randn(&[50000, 10], 10).softmax(1).unwrap();
    let opts = KlDivOpts::default().reduction(Reduction::BatchMean);
    g.bench_function("log_softmax_kl_div_batchmean_50000x10", |b| {
        b.iter(|| step(F::kl_div_with(&lp(), &p, &opts).unwrap()))
    });
    g.bench_function("mse_loss_50000x10", |b| b.iter(|| step(F::mse_loss(&x, &t).unwrap())));
    g.finish();
}

fn matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul");
    // matmul_512, and the shapes Linear produces in the workloads (weights are (out, in) and
    // enter as transposed views); the last is a weight gradient g^T x over a long batch
    // (the k-split of the narrow-output kernel).
    for (m, k, n) in
        [(512, 512, 512), (32, 64, 64), (4, 2, 5), (1000, 784, 32), (32, 1000, 784), (32, 20000, 784)]
    {
        let (a, w) = (randn(&[m, k], 11).data(), randn(&[n, k], 12).data());
        g.bench_function(format!("addmm_{m}x{k}x{n}_transposed_rhs"), |b| {
            b.iter(|| a.addmm(None, &w.t().unwrap()).unwrap())
        });
    }
    g.finish();
}

fn workloads(c: &mut Criterion) {
    torchlet::warnings::set_mode(torchlet::warnings::WarningMode::Off);
    let mut g = c.benchmark_group("workloads");
    // xor_step: zero grads, forward, cross_entropy, backward, SGD step — one tape step.
    let x = Tensor::from([[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    let y = Tensor::from(vec![0i64, 1, 1, 0]);
    let model = Sequential::new()
        .add(Linear::new(2, 5).unwrap())
        .add(Sigmoid)
        .add(Linear::new(5, 2).unwrap())
        .add(Sigmoid);
    let mut opt = SGD::new(model.parameters(), SgdOptions::new(0.03)).unwrap();
    g.bench_function("xor_step", |b| {
        b.iter(|| {
            opt.zero_grad();
            F::cross_entropy(&model.forward(&x).unwrap(), &y).unwrap().backward().unwrap();
            opt.step().unwrap();
        })
    });
    // The same forward pass without recording: the price of the tape.
    g.bench_function("xor_forward_no_grad", |b| {
        b.iter(|| torchlet::no_grad(|| model.forward(black_box(&x)).unwrap()))
    });
    g.bench_function("xor_forward_recorded", |b| b.iter(|| model.forward(black_box(&x)).unwrap()));
    g.sample_size(10);
    let xb = randn(&[50000, 784], 13);
    let yb = Tensor::randint_with(0, 10, [50000], &mut Generator::new(14)).unwrap();
    let mlp =
        Sequential::new().add(Linear::new(784, 32).unwrap()).add(ReLU).add(Linear::new(32, 10).unwrap());
    g.bench_function("mlp_784_32_10_fwd_bwd_50000", |b| {
        b.iter(|| {
            mlp.zero_grad();
            F::cross_entropy(&mlp.forward(&xb).unwrap(), &yb).unwrap().backward().unwrap();
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    elementwise,
    activations,
    reductions,
    selection,
    normalisation,
    softmax_family,
    losses,
    matmul,
    workloads
);
criterion_main!(benches);
