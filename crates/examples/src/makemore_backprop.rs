//! makemore part 4, "becoming a backprop ninja" (`examples/makemore_backprop.rs`): the
//! two-layer MLP with BatchNorm, its forward pass cut into small steps, and every gradient
//! of every step computed by hand with tensor ops and compared with autograd's (kept with
//! `retain_grad`); then the same gradients in one go for cross-entropy and for BatchNorm;
//! then a training run whose backward pass is entirely manual. Every printed line is
//! PyTorch's (`tools/lectures/makemore_backprop.py`) from the same seeds.

use crate::makemore::{sample_with_context, splits, Splits};
use torchlet::nn::functional as F;
use torchlet::nn::{py_bool, py_float};
use torchlet::prelude::*;
use torchlet::{manual_seed, no_grad, DType, Error, Generator, Result};

/// The lecture's `cmp`: is the manual gradient `dt` exactly autograd's `t.grad`, close to it
/// (`allclose`), and how far apart are they at most.
fn cmp(s: &str, dt: &Tensor, t: &Tensor) -> Result<String> {
    let g = t.grad().ok_or_else(|| Error::autograd("cmp", format!("{s} has no gradient")))?;
    let exact = dt.ne(&g)?.sum()?.item()? == 0.0;
    let approximate = dt.allclose(&g.view(dt.dims())?, 1e-5, 1e-8)?;
    let maxdiff = (dt - &g).abs()?.max()?.item()?;
    Ok(format!(
        "{s:15} | exact: {:5} | approximate: {:5} | maxdiff: {}",
        py_bool(exact),
        py_bool(approximate),
        py_float(maxdiff)
    ))
}

/// `[C, W1, b1, W2, b2, bngain, bnbias]` with the lecture's deliberately non-standard init
/// (nothing zero, so a wrong backward pass cannot hide): the first five from `g`, the
/// BatchNorm gain and bias from the global generator, as the lecture draws them.
fn init(g: &mut Generator, n_hidden: usize) -> Result<Vec<Tensor>> {
    let mut randn = |shape: &[usize]| Tensor::randn_with(shape.to_vec(), DType::F32, g);
    let c = randn(&[27, 10])?;
    let w1 = randn(&[30, n_hidden])? * ((5.0 / 3.0) / 30f64.sqrt());
    let b1 = randn(&[n_hidden])? * 0.1; // using b1 just for fun, it's useless because of BN
    let w2 = randn(&[n_hidden, 27])? * 0.1;
    let b2 = randn(&[27])? * 0.1;
    let bngain = Tensor::randn([1, n_hidden])? * 0.1 + 1.0;
    let bnbias = Tensor::randn([1, n_hidden])? * 0.1;
    [c, w1, b1, w2, b2, bngain, bnbias].into_iter().map(|p| p.requires_grad_(true)).collect()
}

/// `dC`: the gradient of the embedding lookup `emb = C[Xb]`, each row of `demb` added to the
/// row of `C` it was read from (a scatter-add: rows read several times sum their gradients).
fn embedding_grad(c: &Tensor, xb: &Tensor, demb: &Tensor) -> Result<Tensor> {
    let dc = c.zeros_like();
    dc.index_put_([&xb.view([-1])?], &demb.view([-1, c.size(1)? as isize])?, true)?;
    Ok(dc)
}

/// Exercises 1-3 on one minibatch: the chunked forward pass, the manual gradients of every
/// intermediate, the fused cross-entropy and BatchNorm gradients.
fn exercises(xtr: &Tensor, ytr: &Tensor, out: &mut impl FnMut(String)) -> Result<()> {
    manual_seed(42); // the lecture leaves the global generator (bngain, bnbias) unseeded
    let mut g = Generator::new(2147483647);
    let params = init(&mut g, 64)?;
    out(format!("{}", params.iter().map(Tensor::numel).sum::<usize>()));
    let [c, w1, b1, w2, b2, bngain, bnbias] = <[Tensor; 7]>::try_from(params.clone())
        .map_err(|_| Error::autograd("makemore_backprop", "seven parameters expected"))?;
    let n = 32usize; // batch size
    let nf = n as f64;
    let ix = Tensor::randint_with(0, xtr.size(0)? as i64, [n], &mut g)?;
    let (xb, yb) = (xtr.i(&ix)?, ytr.i(&ix)?);
    let rows = Tensor::arange(n as i64)?; // range(n)

    // forward pass, "chunkated" into smaller steps that are possible to backward one at a time
    let emb = c.i(&xb)?; // embed the characters into vectors
    let embcat = emb.view([n as isize, -1])?; // concatenate the vectors
    let hprebn = embcat.matmul(&w1)? + &b1; // hidden layer pre-activation
    let bnmeani = (1.0 / nf) * hprebn.sum_dim(0, true)?;
    let bndiff = &hprebn - &bnmeani;
    let bndiff2 = bndiff.pow(2.0)?;
    let bnvar = (1.0 / (nf - 1.0)) * bndiff2.sum_dim(0, true)?; // Bessel's correction (n-1)
    let bnvar_inv = (&bnvar + 1e-5).pow(-0.5)?;
    let bnraw = &bndiff * &bnvar_inv;
    let hpreact = &bngain * &bnraw + &bnbias;
    let h = hpreact.tanh()?; // hidden layer
    let logits = h.matmul(&w2)? + &b2; // output layer
    let logit_maxes = logits.max_dim(1, true)?.0;
    let norm_logits = &logits - &logit_maxes; // subtract max for numerical stability
    let counts = norm_logits.exp()?;
    let counts_sum = counts.sum_dim(1, true)?;
    let counts_sum_inv = counts_sum.pow(-1.0)?;
    let probs = &counts * &counts_sum_inv;
    let logprobs = probs.log()?;
    let loss = -logprobs.i(s![&rows, &yb])?.mean()?;

    let kept = [
        &logprobs,
        &probs,
        &counts,
        &counts_sum,
        &counts_sum_inv,
        &norm_logits,
        &logit_maxes,
        &logits,
        &h,
        &hpreact,
        &bnraw,
        &bnvar_inv,
        &bnvar,
        &bndiff2,
        &bndiff,
        &hprebn,
        &bnmeani,
        &embcat,
        &emb,
    ];
    kept.iter().for_each(|t| t.retain_grad());
    loss.backward()?;
    out(format!("loss {:.4}", loss.item()?));

    // Exercise 1: backprop through the whole thing manually, one variable at a time
    let dlogprobs = logprobs.zeros_like();
    dlogprobs.index_put_(s![&rows, &yb], -1.0 / nf, false)?;
    no_grad(|| -> Result<()> {
        let dprobs = (1.0 / &probs) * &dlogprobs;
        let dcounts_sum_inv = (&counts * &dprobs).sum_dim(1, true)?;
        let dcounts = &counts_sum_inv * &dprobs;
        let dcounts_sum = -counts_sum.pow(-2.0)? * &dcounts_sum_inv;
        let dcounts = dcounts + counts.ones_like() * &dcounts_sum;
        let dnorm_logits = &counts * &dcounts;
        let dlogit_maxes = (-&dnorm_logits).sum_dim(1, true)?;
        let argmax = logits.max_dim(1, false)?.1;
        let dlogits = &dnorm_logits + argmax.one_hot(Some(logits.size(1)?))? * &dlogit_maxes;
        let dh = dlogits.matmul(&w2.t()?)?;
        let dw2 = h.t()?.matmul(&dlogits)?;
        let db2 = dlogits.sum_dim(0, false)?;
        let dhpreact = (1.0 - h.pow(2.0)?) * &dh;
        let dbngain = (&bnraw * &dhpreact).sum_dim(0, true)?;
        let dbnraw = &bngain * &dhpreact;
        let dbnbias = dhpreact.sum_dim(0, true)?;
        let dbndiff = &bnvar_inv * &dbnraw;
        let dbnvar_inv = (&bndiff * &dbnraw).sum_dim(0, true)?;
        let dbnvar = (-0.5 * (&bnvar + 1e-5).pow(-1.5)?) * &dbnvar_inv;
        let dbndiff2 = (1.0 / (nf - 1.0)) * bndiff2.ones_like() * &dbnvar;
        let dbndiff = dbndiff + (2.0 * &bndiff) * &dbndiff2;
        let dbnmeani = (-&dbndiff).sum_dim(0, false)?;
        let dhprebn = &dbndiff + 1.0 / nf * (hprebn.ones_like() * &dbnmeani);
        let dembcat = dhprebn.matmul(&w1.t()?)?;
        let dw1 = embcat.t()?.matmul(&dhprebn)?;
        let db1 = dhprebn.sum_dim(0, false)?;
        let demb = dembcat.view(emb.dims())?;
        let dc = embedding_grad(&c, &xb, &demb)?;
        let checks = [
            ("logprobs", &dlogprobs, &logprobs),
            ("probs", &dprobs, &probs),
            ("counts_sum_inv", &dcounts_sum_inv, &counts_sum_inv),
            ("counts_sum", &dcounts_sum, &counts_sum),
            ("counts", &dcounts, &counts),
            ("norm_logits", &dnorm_logits, &norm_logits),
            ("logit_maxes", &dlogit_maxes, &logit_maxes),
            ("logits", &dlogits, &logits),
            ("h", &dh, &h),
            ("W2", &dw2, &w2),
            ("b2", &db2, &b2),
            ("hpreact", &dhpreact, &hpreact),
            ("bngain", &dbngain, &bngain),
            ("bnbias", &dbnbias, &bnbias),
            ("bnraw", &dbnraw, &bnraw),
            ("bnvar_inv", &dbnvar_inv, &bnvar_inv),
            ("bnvar", &dbnvar, &bnvar),
            ("bndiff2", &dbndiff2, &bndiff2),
            ("bndiff", &dbndiff, &bndiff),
            ("bnmeani", &dbnmeani, &bnmeani),
            ("hprebn", &dhprebn, &hprebn),
            ("embcat", &dembcat, &embcat),
            ("W1", &dw1, &w1),
            ("b1", &db1, &b1),
            ("emb", &demb, &emb),
            ("C", &dc, &c),
        ];
        for (name, dt, t) in checks {
            out(cmp(name, dt, t)?);
        }

        // Exercise 2: cross-entropy in one go: dlogits = (softmax(logits) - one_hot(y)) / n
        let loss_fast = F::cross_entropy(&logits, &yb)?;
        let diff = (&loss_fast - &loss).item()?;
        out(format!("{} diff: {}", py_float(loss_fast.item()?), py_float(diff)));
        let dlogits = logits.softmax(1)?;
        dlogits.index_put_(s![&rows, &yb], -1.0, true)?; // dlogits[range(n), Yb] -= 1
        dlogits.div_(nf)?;
        out(cmp("logits", &dlogits, &logits)?);

        // Exercise 3: BatchNorm in one go
        let var = hprebn.var_dim(0, true)?;
        let hpreact_fast = &bngain * (&hprebn - hprebn.mean_dim(0, true)?) / (var + 1e-5).sqrt()? + &bnbias;
        out(format!("max diff: {}", py_float((hpreact_fast - &hpreact).abs()?.max()?.item()?)));
        let dhprebn = &bngain * &bnvar_inv / nf
            * (nf * &dhpreact
                - dhpreact.sum_dim(0, false)?
                - nf / (nf - 1.0) * &bnraw * (&dhpreact * &bnraw).sum_dim(0, false)?);
        out(cmp("hprebn", &dhprebn, &hprebn)?);
        Ok(())
    })
}

/// The forward pass of exercise 4 up to the BatchNorm statistics: `embcat @ W1 + b1`.
fn hprebn_of(p: &[Tensor], x: &Tensor) -> Result<Tensor> {
    let emb = p[0].i(x)?;
    emb.view([x.size(0)? as isize, -1])?.matmul(&p[1])?.add(&p[2])
}

/// The logits after the BatchNorm with statistics `mean`, `var`: `tanh(bn(h)) @ W2 + b2`.
fn logits_of(p: &[Tensor], hprebn: &Tensor, mean: &Tensor, var: &Tensor) -> Result<Tensor> {
    let hpreact = &p[5] * (hprebn - mean) * (var + 1e-5).pow(-0.5)? + &p[6];
    hpreact.tanh()?.matmul(&p[3])?.add(&p[4])
}

/// Runs the lecture's program: exercises 1-3, then exercise 4 with `steps` training steps of
/// the manual backward pass (lr 0.1, then 0.01 for the second half), the BatchNorm
/// calibration over the training set, train/val loss and 20 sampled names; hands `out` each
/// line to print.
pub fn run(steps: usize, mut out: impl FnMut(String)) -> Result<()> {
    let Splits { itos, train: (xtr, ytr), dev: (xdev, ydev), .. } = splits(3)?;
    exercises(&xtr, &ytr, &mut out)?;

    // Exercise 4: train with our own backward pass
    let mut g = Generator::new(2147483647);
    let p = init(&mut g, 200)?;
    out(format!("{}", p.iter().map(Tensor::numel).sum::<usize>()));
    let n = 32.0;
    no_grad(|| -> Result<()> {
        for i in 0..steps {
            let ix = Tensor::randint_with(0, xtr.size(0)? as i64, [32], &mut g)?;
            let (xb, yb) = (xtr.i(&ix)?, ytr.i(&ix)?);
            // forward pass
            let embcat = p[0].i(&xb)?.view([32, -1])?;
            let hprebn = embcat.matmul(&p[1])? + &p[2];
            let bnmean = hprebn.mean_dim(0, true)?;
            let bnvar_inv = (hprebn.var_dim(0, true)? + 1e-5).pow(-0.5)?;
            let bnraw = (&hprebn - &bnmean) * &bnvar_inv;
            let h = (&p[5] * &bnraw + &p[6]).tanh()?;
            let logits = h.matmul(&p[3])? + &p[4];
            let loss = F::cross_entropy(&logits, &yb)?;
            // manual backward pass
            let dlogits = logits.softmax(1)?;
            dlogits.index_put_(s![&Tensor::arange(32)?, &yb], -1.0, true)?;
            dlogits.div_(n)?;
            let dh = dlogits.matmul(&p[3].t()?)?; // 2nd layer
            let dw2 = h.t()?.matmul(&dlogits)?;
            let db2 = dlogits.sum_dim(0, false)?;
            let dhpreact = (1.0 - h.pow(2.0)?) * &dh; // tanh
            let dbngain = (&bnraw * &dhpreact).sum_dim(0, true)?; // batchnorm
            let dbnbias = dhpreact.sum_dim(0, true)?;
            let dhprebn = &p[5] * &bnvar_inv / n
                * (n * &dhpreact
                    - dhpreact.sum_dim(0, false)?
                    - n / (n - 1.0) * &bnraw * (&dhpreact * &bnraw).sum_dim(0, false)?);
            let dembcat = dhprebn.matmul(&p[1].t()?)?; // 1st layer
            let dw1 = embcat.t()?.matmul(&dhprebn)?;
            let db1 = dhprebn.sum_dim(0, false)?;
            let dc = embedding_grad(&p[0], &xb, &dembcat)?;
            let grads = [dc, dw1, db1, dw2, db2, dbngain, dbnbias];
            // update
            let lr = if i < steps / 2 { 0.1 } else { 0.01 };
            for (p, grad) in p.iter().zip(&grads) {
                p.add_(&(grad * -lr))?;
            }
            if i < 5 || i % 10000 == 0 {
                out(format!("{i:7}/{steps:7}: {:.4}", loss.item()?));
            }
        }
        // calibrate the batch norm at the end of training
        let hpreact = hprebn_of(&p, &xtr)?;
        let (bnmean, bnvar) = (hpreact.mean_dim(0, true)?, hpreact.var_dim(0, true)?);
        for (split, x, y) in [("train", &xtr, &ytr), ("val", &xdev, &ydev)] {
            let logits = logits_of(&p, &hprebn_of(&p, x)?, &bnmean, &bnvar)?;
            out(format!("{split} {}", py_float(F::cross_entropy(&logits, y)?.item()?)));
        }
        let mut g = Generator::new(2147483647 + 10); // sample from the model
        let names = sample_with_context(20, 3, &itos, |context| {
            let probs = logits_of(&p, &hprebn_of(&p, context)?, &bnmean, &bnvar)?.softmax(1)?;
            Ok(probs.multinomial_with(1, false, &mut g)?.item()? as i64)
        })?;
        names.into_iter().for_each(&mut out);
        Ok(())
    })
}
