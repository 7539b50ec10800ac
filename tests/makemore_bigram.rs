//! makemore part 1 (`examples/makemore_bigram.rs`) against PyTorch 2.9.1 running the
//! lecture's code on the same data (`tools/lectures/makemore_bigram.py`, whose printed lines
//! are quoted).

use torchlet::prelude::*;
use torchlet::{DType, Generator, Result};
use torchlet_examples::makemore::{bigrams, load_names, sample_names, vocabulary};

#[test]
fn bigram_counts_samples_and_nll_are_pytorchs() -> Result<()> {
    let words = load_names()?;
    let itos = vocabulary(&words);
    let (xs, ys) = bigrams(&words, &itos);
    assert_eq!(xs.numel(), 36122); // "nll = ... over 36122 bigrams"
    let n = Tensor::zeros_dtype([27, 27], DType::I64)?;
    n.index_put_([&xs, &ys], 1, true)?;
    // "N[0] (counts of first letters): [0, 394, 212, ...]"
    #[rustfmt::skip]
    let first = [0, 394, 212, 413, 319, 274, 113, 163, 130, 82, 348, 261, 430, 487, 143, 61, 105, 10, 274, 383, 272, 8, 115, 82, 6, 47, 31];
    assert_eq!(n.i(0)?.to_vec::<i64>()?, first);
    assert_eq!(n.i(s![1, 0])?.item()?, 1758.0); // "most common bigram: a. (1758 times)"
    assert_eq!(n.sum()?.item()?, 36122.0);

    let p = (&n + 1).to_dtype(DType::F32)?;
    let p = &p / &p.sum_dim(1, true)?;
    let mut g = Generator::new(2147483647);
    let names = sample_names(10, &itos, &mut g, |ix| p.i(ix as i64))?;
    // "samples: cexze. loma. mikica. karha. vinimitta. mella. k. ka. da. stary."
    assert_eq!(names.join(" "), "cexze. loma. mikica. karha. vinimitta. mella. k. ka. da. stary.");

    // "nll = 2.342232": the lecture sums 36122 f32 log-probabilities one at a time, torchlet
    // takes their mean; the two agree to 1e-4 relative
    let nll = p.i([&xs, &ys])?.log()?.mean()?.neg()?.item()?;
    assert!((nll - 2.342232).abs() < 1e-4 * 2.342232, "nll {nll}");
    Ok(())
}

#[test]
fn the_one_layer_network_trains_as_in_pytorch() -> Result<()> {
    let words = load_names()?;
    let itos = vocabulary(&words);
    let (xs, ys) = bigrams(&words, &itos);
    let mut g = Generator::new(2147483647);
    let w = Tensor::randn_with([27, 27], DType::F32, &mut g)?.requires_grad_(true)?;
    let xenc = xs.one_hot(Some(27))?.to_dtype(DType::F32)?;
    let rows = Tensor::arange(xs.numel() as i64)?;
    // "step 0: loss 3.808368" ... "step 4: loss 2.848481"
    for want in [3.808368, 3.326787, 3.090727, 2.947622, 2.848481] {
        let counts = xenc.matmul(&w)?.exp()?;
        let probs = &counts / &counts.sum_dim(1, true)?;
        let loss = probs.i([&rows, &ys])?.log()?.mean()?.neg()? + 0.01 * w.pow(2.0)?.mean()?;
        assert!((loss.item()? - want).abs() < 1e-5 * want, "loss {} vs PyTorch {want}", loss.item()?);
        w.zero_grad();
        loss.backward()?;
        let grad = w.grad().expect("W.grad");
        torchlet::no_grad(|| w.add_(&(grad * -50.0)))?;
    }
    Ok(())
}
