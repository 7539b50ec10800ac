//! The benchmark workloads of docs/benchmarks.md, each doing exactly the work its PyTorch twin
//! in `tools/bench/torch_bench.py` does: `cargo run --release --example bench -- [NAME ...]`.
//!
//! Prints `NAME<TAB>MEDIAN us` per workload: the median microseconds per iteration over 7
//! timed repeats of `iters` iterations after one untimed warm-up call (3 repeats for
//! `digits_train`, as the reference script does). f32, default thread count.

use std::time::Instant;
use torchlet::nn::functional::AttentionOpts;
use torchlet::nn::optim::{Optimizer, SgdOptions, SGD};
use torchlet::nn::{Conv2d, Linear, Module, ReLU, Sequential, Sigmoid};
use torchlet::prelude::*;
use torchlet::Result;

/// Median microseconds per iteration of `step` over `repeats` timed runs of `iters` calls.
fn bench(mut step: impl FnMut() -> Result<()>, iters: usize, repeats: usize) -> Result<f64> {
    step()?; // warm-up
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t = Instant::now();
        for _ in 0..iters {
            step()?;
        }
        times.push(t.elapsed().as_secs_f64() * 1e6 / iters as f64);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[repeats / 2])
}

fn xor_step() -> Result<f64> {
    let x = Tensor::from([[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    let y = Tensor::from(vec![0i64, 1, 1, 0]);
    let model = Sequential::new().add(Linear::new(2, 5)?).add(Sigmoid).add(Linear::new(5, 2)?).add(Sigmoid);
    let mut opt = SGD::new(model.parameters(), SgdOptions::new(0.03))?;
    bench(
        || {
            opt.zero_grad();
            F::cross_entropy(&model.forward(&x)?, &y)?.backward()?;
            opt.step()
        },
        2000,
        7,
    )
}

fn log_softmax_fwd() -> Result<f64> {
    let x = Tensor::randn([50000, 10])?;
    bench(|| F::log_softmax(&x, -1).map(drop), 100, 7)
}

fn cross_entropy_fwd_bwd() -> Result<f64> {
    let x = Tensor::randn([50000, 10])?.requires_grad_(true)?;
    let y = Tensor::randint(0, 10, [50000])?;
    bench(
        || {
            x.zero_grad();
            F::cross_entropy(&x, &y)?.backward()
        },
        50,
        7,
    )
}

fn mlp_fwd_bwd() -> Result<f64> {
    let x = Tensor::randn([50000, 784])?;
    let y = Tensor::randint(0, 10, [50000])?;
    let model = Sequential::new().add(Linear::new(784, 32)?).add(ReLU).add(Linear::new(32, 10)?);
    bench(
        || {
            model.zero_grad();
            F::cross_entropy(&model.forward(&x)?, &y)?.backward()
        },
        3,
        7,
    )
}

fn matmul() -> Result<f64> {
    let (a, b) = (Tensor::randn([512, 512])?, Tensor::randn([512, 512])?);
    bench(|| a.matmul(&b).map(drop), 50, 7)
}

/// The whole digits training run; returns (median us, test accuracy of the last run).
fn digits_train() -> Result<(f64, f64)> {
    let data = torchlet_examples::demos::load_digits(&torchlet_examples::demos::digits_default_path())?;
    let (n, n_train) = (data.len(), 1437);
    let (x_train, y_train) = (data.x.narrow(0, 0, n_train)?, data.y.narrow(0, 0, n_train)?);
    let (x_test, y_test) = (data.x.narrow(0, n_train, n - n_train)?, data.y.narrow(0, n_train, n - n_train)?);
    let mut accuracy = 0.0;
    let t = bench(
        || {
            let model = Sequential::new().add(Linear::new(64, 64)?).add(ReLU).add(Linear::new(64, 10)?);
            let mut opt = SGD::new(model.parameters(), SgdOptions::new(0.05).momentum(0.9))?;
            for _ in 0..30 {
                for start in (0..n_train).step_by(32) {
                    let len = 32.min(n_train - start);
                    opt.zero_grad();
                    let out = model.forward(&x_train.narrow(0, start, len)?)?;
                    F::cross_entropy(&out, &y_train.narrow(0, start, len)?)?.backward()?;
                    opt.step()?;
                }
            }
            let pred = no_grad(|| model.forward(&x_test))?.argmax(1, false)?;
            accuracy = pred.eq(&y_test)?.data().sum()?.item()? / (n - n_train) as f64;
            Ok(())
        },
        1,
        3,
    )?;
    Ok((t, accuracy))
}

/// `conv2d_fwd_bwd_32x16x32x32_k3_o32` (curriculum table): `Conv2d(16, 32, 3, padding=1)` on
/// `(32, 16, 32, 32)`, backward of a given gradient to the input and the parameters.
fn conv2d_fwd_bwd() -> Result<f64> {
    let x = Tensor::randn([32, 16, 32, 32])?.requires_grad_(true)?;
    let conv = Conv2d::builder(16, 32, 3).padding(1).build()?;
    let g = Tensor::randn([32, 32, 32, 32])?;
    bench(
        || {
            x.zero_grad();
            conv.zero_grad();
            conv.forward(&x)?.backward_with(&g)
        },
        5,
        7,
    )
}

/// `sdpa_causal_fwd_bwd_8x4x128x32` (curriculum table): causal attention on `(8, 4, 128, 32)`
/// queries, keys and values, backward of a given gradient to all three.
fn sdpa_fwd_bwd() -> Result<f64> {
    let (q, k, v) = (
        Tensor::randn([8, 4, 128, 32])?.requires_grad_(true)?,
        Tensor::randn([8, 4, 128, 32])?.requires_grad_(true)?,
        Tensor::randn([8, 4, 128, 32])?.requires_grad_(true)?,
    );
    let g = Tensor::randn([8, 4, 128, 32])?;
    let opts = AttentionOpts { is_causal: true, ..Default::default() };
    bench(
        || {
            for t in [&q, &k, &v] {
                t.zero_grad();
            }
            q.scaled_dot_product_attention(&k, &v, &opts)?.backward_with(&g)
        },
        10,
        7,
    )
}

/// A wide graph: `n` scalar leaves stacked, summed and differentiated (issue: backward
/// must be linear in nodes + edges). Leaves are made outside the timed region.
fn backward_stack(n: usize) -> Result<f64> {
    let leaves: Vec<Tensor> =
        (0..n).map(|i| Tensor::scalar(i as f32).requires_grad_(true)).collect::<Result<_>>()?;
    let refs: Vec<&Tensor> = leaves.iter().collect();
    bench(|| Tensor::stack(&refs, 0)?.sum()?.backward(), 1, 3)
}

/// One leaf used `n` times: `cat([x] * n).sum().backward()`.
fn backward_cat_one_leaf(n: usize) -> Result<f64> {
    let x = Tensor::from(vec![1.0f32]).requires_grad_(true)?;
    let refs = vec![&x; n];
    bench(|| Tensor::cat(&refs, 0)?.sum()?.backward(), 1, 3)
}

fn main() -> Result<()> {
    manual_seed(0);
    // The workloads mirror PyTorch's, which warns about nothing; keep the output to the lines.
    torchlet::warnings::set_mode(torchlet::warnings::WarningMode::Off);
    let names: Vec<String> = std::env::args().skip(1).collect();
    let all = [
        "xor_step",
        "log_softmax_50000x10",
        "cross_entropy_fwd_bwd_50000x10",
        "mlp_784_32_10_fwd_bwd_50000",
        "matmul_512",
        "digits_train",
        "conv2d_fwd_bwd_32x16x32x32_k3_o32",
        "sdpa_causal_fwd_bwd_8x4x128x32",
        "backward_stack_40000_leaves",
        "backward_stack_200000_leaves",
        "backward_cat_one_leaf_100000",
    ];
    for name in all {
        if !names.is_empty() && !names.iter().any(|n| n == name) {
            continue;
        }
        let us = match name {
            "xor_step" => xor_step()?,
            "log_softmax_50000x10" => log_softmax_fwd()?,
            "cross_entropy_fwd_bwd_50000x10" => cross_entropy_fwd_bwd()?,
            "mlp_784_32_10_fwd_bwd_50000" => mlp_fwd_bwd()?,
            "matmul_512" => matmul()?,
            "conv2d_fwd_bwd_32x16x32x32_k3_o32" => conv2d_fwd_bwd()?,
            "sdpa_causal_fwd_bwd_8x4x128x32" => sdpa_fwd_bwd()?,
            "backward_stack_40000_leaves" => backward_stack(40_000)?,
            "backward_stack_200000_leaves" => backward_stack(200_000)?,
            "backward_cat_one_leaf_100000" => backward_cat_one_leaf(100_000)?,
            _ => {
                let (us, acc) = digits_train()?;
                println!("{name}\t{us:.1} us\taccuracy {acc:.4}");
                continue;
            }
        };
        println!("{name}\t{us:.1} us");
    }
    if let Some(bad) = names.iter().find(|n| !all.contains(&n.as_str())) {
        return Err(Error::invalid("bench", format!("unknown workload {bad:?}; expected one of {all:?}")));
    }
    Ok(())
}
