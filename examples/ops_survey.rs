//! Everyday ops beyond the benchmark tables, timed one by one: the survey behind the
//! "Everyday ops against PyTorch" sections of docs/performance.md. Its PyTorch twin is
//! `tools/bench/ops_survey.py` (the same ops on the same shapes), and
//! `tools/bench/ops_side_by_side.py` alternates the two and prints the ratios.
//!
//! `cargo run --release --example ops_survey -- [NAME ...]` prints `NAME<TAB>MEDIAN us` per
//! op: the median over 7 timed repeats of `iters` calls after one untimed call (f32, default
//! thread count). `TORCHLET_CPU_CAPABILITY=default|avx2|avx512` picks the kernels. Ops named
//! `*_fb` run forward and backward: a (1000, 1000) leaf through the op, then `backward_with`
//! a gradient of the output's shape, the leaf's gradient cleared first (`zero_grad`, which
//! the twin matches with `.grad = None`).

use std::time::Instant;
use torchlet::autograd::ops::conv::Conv1dOpts;
use torchlet::autograd::ops::pool::AvgPool2dOpts;
use torchlet::prelude::*;
use torchlet::Result;

/// Median microseconds per call of `f` over 7 repeats of `iters` calls, after one call.
fn bench(mut f: impl FnMut() -> Result<()>, iters: usize) -> Result<f64> {
    f()?;
    let mut ts = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..iters {
            f()?;
        }
        ts.push(t.elapsed().as_secs_f64() * 1e6 / iters as f64);
    }
    ts.sort_by(f64::total_cmp);
    Ok(ts[3])
}

fn main() -> Result<()> {
    let names: Vec<String> = std::env::args().skip(1).collect();
    // The operands (the twin script makes the same shapes).
    let m = Tensor::randn([1000, 1000])?;
    let s = Tensor::randn([64, 64])?;
    let t = Tensor::randn([28892, 200])?;
    let b = Tensor::randn([512, 512])?;
    let idx10 = Tensor::randint(0, 1000, [1000, 10])?;
    let idxfull = Tensor::randint(0, 1000, [1000, 1000])?;
    let rows500 = Tensor::randint(0, 1000, [500])?;
    let p = Tensor::randn([1000, 27])?.softmax(1)?;
    let p27 = Tensor::randn([27])?.softmax(0)?;
    let p32 = Tensor::randn([32, 27])?.softmax(1)?;
    let mask = m.gt(0.0)?;
    let y = Tensor::randn([1000, 1000])?;
    let a4 = Tensor::randn([32, 64, 8, 32])?;
    let w = Tensor::randn([27, 10])?.requires_grad_(true)?;
    let ix = Tensor::randint(0, 27, [32, 3])?;
    let ge = Tensor::randn([32, 3, 10])?;
    let lab = Tensor::randint(0, 27, [10000])?;
    let q = Tensor::randn([8, 128, 32])?;
    let k = Tensor::randn([8, 32, 128])?;
    let x4 = Tensor::randn([32, 32, 32, 32])?;
    let c1 = Tensor::randn([8, 16, 100])?;
    let w1 = Tensor::randn([32, 16, 3])?;
    let y64 = y.narrow(1, 0, 64)?;
    // Forward and backward: a leaf like `m`, upstream gradients of each output's shape.
    let mg = m.detach().requires_grad_(true)?;
    let g1m = Tensor::randn([1000, 1000])?;
    let g1k = Tensor::randn([1000])?;
    let g10 = Tensor::randn([1000, 10])?;
    let g500 = Tensor::randn([500, 1000])?;
    let g2m = Tensor::randn([2000, 1000])?;
    let row = Tensor::randn([1000])?.requires_grad_(true)?;
    type Work<'a> = (&'static str, Box<dyn FnMut() -> Result<()> + 'a>, usize);
    macro_rules! w {
        ($n:expr, $it:expr, $e:expr) => {
            (
                $n,
                Box::new(|| {
                    let _ = $e;
                    Ok(())
                }) as Box<dyn FnMut() -> Result<()>>,
                $it,
            )
        };
    }
    let mut ws: Vec<Work> = vec![
        w!("repeat_512_2x2", 50, b.repeat(&[2, 2])?),
        w!("repeat_64_4x4", 2000, s.repeat(&[4, 4])?),
        w!("gather_1000x10", 2000, m.gather(1, &idx10)?),
        w!("gather_1000x1000", 50, m.gather(1, &idxfull)?),
        w!("index_select_500rows", 200, m.index_select(0, &rows500)?),
        w!("multinomial_1000x27", 500, p.multinomial(1, true)?),
        w!("multinomial_32x27", 2000, p32.multinomial(1, true)?),
        w!("multinomial_27_100", 2000, p27.multinomial(100, true)?),
        w!("cumsum_1", 50, m.cumsum(1)?),
        w!("cumsum_0", 50, m.cumsum(0)?),
        w!("argmax_1", 100, m.argmax(1, false)?),
        w!("max_dim_1", 100, m.max_dim(1, false)?),
        w!("max_dim_0", 100, m.max_dim(0, false)?),
        w!("softmax_1", 100, m.softmax(1)?),
        w!("softmax_0", 100, m.softmax(0)?),
        w!("t_contiguous", 100, m.t()?.contiguous()?),
        w!("permute_contiguous", 100, a4.permute(&[0, 2, 1, 3])?.contiguous()?),
        w!("cat_dim1", 50, Tensor::cat(&[&m, &y], 1)?),
        w!("stack_4", 50, Tensor::stack(&[&m, &y, &m, &y], 0)?),
        w!("where", 100, Tensor::where_cond(&mask, &m, &y)?),
        w!("masked_fill", 100, m.masked_fill(&mask, 0.0)?),
        w!("clamp", 100, m.clamp(Some(-1.0), Some(1.0))?),
        w!("pow2", 100, m.pow_scalar(2.0)?),
        w!("pow3", 100, m.pow_scalar(3.0)?),
        w!("pow_2_5", 100, m.pow_scalar(2.5)?),
        w!("std_1", 100, m.std_dim(1, false)?),
        w!("var_1", 100, m.var_dim(1, false)?),
        w!("mean_0", 100, m.mean_dim(0, false)?),
        w!("norm2_1", 100, m.vector_norm(2.0, 1, false)?),
        w!("norm2_0", 100, m.vector_norm(2.0, 0, false)?),
        w!("norm1_1", 100, m.vector_norm(1.0, 1, false)?),
        w!("logsumexp_1", 100, m.logsumexp(1, false)?),
        w!("logsumexp_0", 100, m.logsumexp(0, false)?),
        w!("prod_1", 100, m.prod_dim(1, false)?),
        w!("prod_0", 100, m.prod_dim(0, false)?),
        w!("std_0", 100, m.std_dim(0, false)?),
        w!("argmax_0", 100, m.argmax(0, false)?),
        w!("randn_1M", 50, Tensor::randn([1000, 1000])?),
        w!("rand_1M", 50, Tensor::rand([1000, 1000])?),
        w!("randint_1M", 50, Tensor::randint(0, 27, [1000, 1000])?),
        w!("tril", 100, m.tril(0)?),
        w!("one_hot_10000", 200, lab.one_hot(Some(27))?),
        (
            "embedding_fwd_bwd",
            Box::new(|| {
                w.zero_grad();
                ix.embedding(&w, None)?.backward_with(&ge)
            }),
            2000,
        ),
        w!("matmul_64", 5000, s.matmul(&s)?),
        w!("bmm_8x128x32", 500, q.matmul(&k)?),
        w!("avg_pool2d", 50, x4.avg_pool2d(&AvgPool2dOpts::new(2))?),
        w!("conv1d", 200, c1.conv1d(&w1, None, &Conv1dOpts::default().padding(1))?),
        w!("nonzero", 50, mask.nonzero()?),
        w!("masked_select", 50, m.masked_select(&mask)?),
        w!("sum_1_tall", 50, t.sum_dim(1, false)?),
        w!("sum_0_tall", 50, t.sum_dim(0, false)?),
        w!("mean_1_tall", 50, t.mean_dim(1, false)?),
        w!("relu", 100, m.relu()?),
        w!("sigmoid", 100, m.sigmoid()?),
        w!("log", 100, m.abs()?.log()?),
        w!("mul", 100, m.mul(&y)?),
        w!("div", 100, m.div(&y)?),
        w!("transpose_matmul", 50, m.t()?.matmul(&y64)?),
    ];
    // name, iterations, output from the leaf `mg` (and `row`), its upstream gradient.
    type Fwd<'a> = Box<dyn Fn() -> Result<Tensor> + 'a>;
    let fb: Vec<(&'static str, usize, Fwd, &Tensor)> = vec![
        ("softmax_1_fb", 50, Box::new(|| mg.softmax(1)), &g1m),
        ("softmax_0_fb", 50, Box::new(|| mg.softmax(0)), &g1m),
        ("log_softmax_1_fb", 50, Box::new(|| mg.log_softmax(1)), &g1m),
        ("logsumexp_1_fb", 50, Box::new(|| mg.logsumexp(1, false)), &g1k),
        ("gather_1000x10_fb", 500, Box::new(|| mg.gather(1, &idx10)), &g10),
        ("index_select_fb", 100, Box::new(|| mg.index_select(0, &rows500)), &g500),
        ("max_dim_1_fb", 50, Box::new(|| Ok(mg.max_dim(1, false)?.0)), &g1k),
        ("cumsum_1_fb", 50, Box::new(|| mg.cumsum(1)), &g1m),
        ("norm2_1_fb", 50, Box::new(|| mg.vector_norm(2.0, 1, false)), &g1k),
        ("mean_0_fb", 50, Box::new(|| mg.mean_dim(0, false)), &g1k),
        ("var_1_fb", 50, Box::new(|| mg.var_dim(1, false)), &g1k),
        ("where_fb", 50, Box::new(|| Tensor::where_cond(&mask, &mg, &y)), &g1m),
        ("pow_2_5_fb", 50, Box::new(|| mg.pow_scalar(2.5)), &g1m),
        ("sigmoid_fb", 50, Box::new(|| mg.sigmoid()), &g1m),
        ("add_row_fb", 50, Box::new(|| mg.add(&row)), &g1m),
        ("cat_fb", 50, Box::new(|| Tensor::cat(&[&mg, &y], 0)), &g2m),
    ];
    let (mg, row) = (&mg, &row);
    for (n, it, f, g) in fb {
        let step = move || {
            mg.zero_grad();
            row.zero_grad();
            f()?.backward_with(g)
        };
        ws.push((n, Box::new(step), it));
    }
    if let Some(bad) = names.iter().find(|n| !ws.iter().any(|w| w.0 == n.as_str())) {
        let all: Vec<&str> = ws.iter().map(|w| w.0).collect();
        return Err(torchlet::Error::invalid(
            "ops_survey",
            format!("unknown op {bad:?}; expected one of {all:?}"),
        ));
    }
    for (n, f, it) in ws.iter_mut() {
        if !names.is_empty() && !names.iter().any(|x| x == n) {
            continue;
        }
        println!("{n}\t{:.2}", bench(f, *it)?);
    }
    Ok(())
}
