//! The benchmark workloads of docs/benchmarks.md, each doing exactly the work its PyTorch twin
//! in `tools/bench/torch_bench.py` (first table) or `tools/bench/torch_bench2.py` (the
//! curriculum table) does: `cargo run --release --example bench -- [NAME ...]` (all workloads
//! without a name). `TORCHLET_CPU_CAPABILITY=default|avx2|avx512` picks the kernels'
//! instruction set.
//!
//! Prints `NAME<TAB>MEDIAN us` per workload: the median microseconds per iteration over 7
//! timed repeats of `iters` iterations after one untimed warm-up call (3 repeats for
//! `digits_train`, as the reference script does). f32, default thread count.

use std::time::Instant;
use torchlet::nn::functional::AttentionOpts;
use torchlet::nn::optim::{Adam, AdamW, Optimizer, SgdOptions, SGD};
use torchlet::nn::{
    BatchNorm, Conv2d, Embedding, Flatten, LayerNorm, Linear, MaxPool2d, Module, ReLU, Sequential, Sigmoid,
};
use torchlet::prelude::*;
use torchlet::Result;
use torchlet_examples::gpt::{Gpt, GptConfig};

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

/// A unary op on a `(1000, 1000)` standard-normal tensor, no gradient tracking.
fn unary(op: fn(&Tensor) -> Result<Tensor>) -> Result<f64> {
    let x = Tensor::randn([1000, 1000])?;
    bench(|| op(&x).map(drop), 50, 7)
}

/// `mean(0.5 * tanh(x) + sigmoid(x))` on `(1000, 1000)`, forward and backward.
fn elementwise_fwd_bwd() -> Result<f64> {
    let x = Tensor::randn([1000, 1000])?.requires_grad_(true)?;
    bench(
        || {
            x.zero_grad();
            (&(&x.tanh()? * 0.5) + &x.sigmoid()?).mean()?.backward()
        },
        20,
        7,
    )
}

/// `(28892, 200) + (200,)`, no gradient tracking.
fn broadcast_add() -> Result<f64> {
    let (a, b) = (Tensor::randn([28892, 200])?, Tensor::randn([200])?);
    bench(|| a.add(&b).map(drop), 50, 7)
}

/// Sum (`var == false`) or unbiased variance over dim 0 of `(28892, 200)`.
fn reduce_dim0(var: bool) -> Result<f64> {
    let x = Tensor::randn([28892, 200])?;
    bench(|| if var { x.var_dim(0, false) } else { x.sum_dim(0, false) }.map(drop), 50, 7)
}

/// `module` on `x` (requiring grad), backward of a fixed standard-normal gradient `g`.
fn layer_fwd_bwd(module: &dyn Module, x: &Tensor, iters: usize) -> Result<f64> {
    let g = Tensor::randn(module.forward(x)?.shape().clone())?;
    bench(
        || {
            x.zero_grad();
            module.zero_grad();
            module.forward(x)?.backward_with(&g)
        },
        iters,
        7,
    )
}

/// makemore part 2 (part 3 with `batchnorm`): one SGD step on a minibatch of 32 of 20,000
/// random contexts; the minibatch indices are drawn up front.
fn makemore_step(batchnorm: bool) -> Result<f64> {
    let (v, block, emb, hid, b) = (27, 3, 10, 200, 32);
    let (x, y) = (Tensor::randint(0, v, [20000, block])?, Tensor::randint(0, v, [20000])?);
    let c = Embedding::new(v as usize, emb)?;
    let l1 = if batchnorm { Linear::without_bias(block * emb, hid)? } else { Linear::new(block * emb, hid)? };
    let bn = BatchNorm::new_1d(hid)?;
    let l2 = Linear::new(hid, v as usize)?;
    let mut params = [c.parameters(), l1.parameters(), l2.parameters()].concat();
    if batchnorm {
        params.extend(bn.parameters());
    }
    let mut opt = SGD::new(params, SgdOptions::new(0.1))?;
    let ix = Tensor::randint(0, 20000, [1000, b])?;
    let mut it = 0;
    bench(
        || {
            let rows = ix.select(0, it % 1000)?;
            it += 1;
            opt.zero_grad();
            let h = l1.forward(&c.forward(&x.index_select(0, &rows)?)?.view([b as isize, -1])?)?;
            let h = if batchnorm { bn.forward(&h)? } else { h };
            let logits = l2.forward(&h.tanh()?)?;
            F::cross_entropy(&logits, &y.index_select(0, &rows)?)?.backward()?;
            opt.step()
        },
        500,
        7,
    )
}

/// The digits CNN, Conv2d(1,8,3)-ReLU-MaxPool2d(2)-Flatten-Linear(72,10): one Adam step on
/// 32 consecutive rows of 1,437 random images.
fn cnn_digits_step() -> Result<f64> {
    let (n, b) = (1437, 32);
    let (x, y) = (Tensor::rand([n, 1, 8, 8])?, Tensor::randint(0, 10, [n])?);
    let model = Sequential::new()
        .add(Conv2d::builder(1, 8, 3).build()?)
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(8 * 3 * 3, 10)?);
    let mut opt = Adam::new(model.parameters(), 0.01)?;
    let mut it = 0;
    bench(
        || {
            let i = (it * b) % (n - b);
            it += 1;
            opt.zero_grad();
            F::cross_entropy(&model.forward(&x.narrow(0, i, b)?)?, &y.narrow(0, i, b)?)?.backward()?;
            opt.step()
        },
        500,
        7,
    )
}

/// The "let's build GPT" model of the bench table (vocab 65, n_embd 64, 4 heads, 4 layers,
/// block 32, dropout 0).
fn gpt_model() -> Result<Gpt> {
    let config =
        GptConfig { vocab_size: 65, block_size: 32, n_embd: 64, n_head: 4, n_layer: 4, dropout: 0.0 };
    Gpt::new(&config)
}

/// One AdamW step of the GPT on 16 random windows of 32 tokens of a random token stream.
fn gpt_step() -> Result<f64> {
    let model = gpt_model()?;
    let mut opt = AdamW::new(model.parameters(), 1e-3)?;
    let data = Tensor::randint(0, 65, [100_000])?;
    let mut it = 0;
    bench(
        || {
            let mut g = Generator::new(it);
            it += 1;
            let ix = Tensor::randint_with(0, 100_000 - 33, [16], &mut g)?.to_vec::<i64>()?;
            let window = |off: usize| -> Result<Tensor> {
                let rows =
                    ix.iter().map(|&i| data.narrow(0, i as usize + off, 32)).collect::<Result<Vec<_>>>()?;
                Tensor::stack(&rows.iter().collect::<Vec<_>>(), 0)
            };
            let (xb, yb) = (window(0)?, window(1)?);
            opt.zero_grad();
            model.forward_loss(&xb, Some(&yb))?.1.expect("targets were given").backward()?;
            opt.step()
        },
        20,
        7,
    )
}

/// The GPT (eval, no grad) generating 100 tokens from one start token.
fn gpt_generate() -> Result<f64> {
    let model = gpt_model()?;
    model.eval();
    let start = Tensor::zeros_dtype([1, 1], DType::I64)?;
    bench(|| model.generate(&start, 100).map(drop), 3, 7)
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
        "tanh_1000x1000",
        "gelu_1000x1000",
        "exp_1000x1000",
        "elementwise_fwd_bwd_1000x1000",
        "broadcast_add_28892x200",
        "sum_dim0_28892x200",
        "var_dim0_28892x200",
        "layer_norm_fwd_bwd_8192x256",
        "batch_norm_fwd_bwd_28892x200",
        "max_pool2d_fwd_bwd_32x32x32x32",
        "makemore_mlp_step",
        "makemore_bn_step",
        "cnn_digits_step",
        "gpt_step",
        "gpt_generate_100",
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
            "tanh_1000x1000" => unary(Tensor::tanh)?,
            "gelu_1000x1000" => unary(Tensor::gelu)?,
            "exp_1000x1000" => unary(Tensor::exp)?,
            "elementwise_fwd_bwd_1000x1000" => elementwise_fwd_bwd()?,
            "broadcast_add_28892x200" => broadcast_add()?,
            "sum_dim0_28892x200" => reduce_dim0(false)?,
            "var_dim0_28892x200" => reduce_dim0(true)?,
            "layer_norm_fwd_bwd_8192x256" => layer_fwd_bwd(
                &LayerNorm::new(&[256])?,
                &Tensor::randn([8192, 256])?.requires_grad_(true)?,
                20,
            )?,
            "batch_norm_fwd_bwd_28892x200" => layer_fwd_bwd(
                &BatchNorm::new_1d(200)?,
                &Tensor::randn([28892, 200])?.requires_grad_(true)?,
                10,
            )?,
            "max_pool2d_fwd_bwd_32x32x32x32" => layer_fwd_bwd(
                &MaxPool2d::new(2),
                &Tensor::randn([32, 32, 32, 32])?.requires_grad_(true)?,
                20,
            )?,
            "makemore_mlp_step" => makemore_step(false)?,
            "makemore_bn_step" => makemore_step(true)?,
            "cnn_digits_step" => cnn_digits_step()?,
            "gpt_step" => gpt_step()?,
            "gpt_generate_100" => gpt_generate()?,
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
