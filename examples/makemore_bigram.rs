//! makemore part 1 beside the lecture (`makemore_part1_bigrams.ipynb`): the 27x27 table of
//! bigram counts of `data/names.txt`, names sampled from its smoothed rows with
//! `Generator::manual_seed(2147483647)`, the data's average negative log-likelihood, then the
//! same model as a one-layer network trained by gradient descent. `tools/lectures/
//! makemore_bigram.py` is the PyTorch twin: both print the same counts, names and losses.
//!
//! `--plot PATH` draws the count table as the lecture's `plt.imshow(N, cmap='Blues')` does, each
//! cell with its bigram and count (`torchlet_examples::plot::count_table`).
//!
//! ```text
//! cargo run --release --example makemore_bigram                  # 100 steps
//! cargo run --release --example makemore_bigram -- --steps 20
//! cargo run --release --example makemore_bigram -- --plot bigram_counts.png
//! ```

use torchlet::prelude::*;
use torchlet::{no_grad, DType, Error, Generator, Result};
use torchlet_examples::makemore::{bigrams, load_names, sample_names, vocabulary};
use torchlet_examples::plot;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let steps = match value("--steps") {
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid("makemore_bigram", format!("--steps needs a number, got {s:?}")))?,
        None => 100,
    };
    let words = load_names()?;
    println!("{} names, e.g. {:?}", words.len(), &words[..3]);
    let itos = vocabulary(&words); // '.' is 0, the letters 1..=26
    let (xs, ys) = bigrams(&words, &itos); // xs[i] is followed by ys[i]

    // N[ix1, ix2] += 1 for every bigram at once: index_put_ with accumulate adds repeats up
    let n = Tensor::zeros_dtype([27, 27], DType::I64)?;
    n.index_put_([&xs, &ys], 1, true)?;
    println!("N[0] (counts of first letters): {:?}", n.i(0)?.to_vec::<i64>()?);
    let top = n.flatten(0, -1)?.argmax(0, false)?.item()? as usize;
    println!("most common bigram: {}{} ({} times)", itos[top / 27], itos[top % 27], n.max()?.item()?);
    if let Some(path) = value("--plot") {
        // plt.imshow(N, cmap='Blues') with itos[i] + itos[j] and N[i, j] in every cell
        plot::count_table(path, &itos, &n.flatten(0, -1)?.to_vec::<i64>()?)?;
        println!("wrote {path}");
    }

    // smoothed, normalised rows; sample names
    let p = (&n + 1).to_dtype(DType::F32)?;
    let p = &p / &p.sum_dim(1, true)?;
    let mut g = Generator::new(2147483647);
    println!("samples: {}", sample_names(10, &itos, &mut g, |ix| p.i(ix as i64))?.join(" "));

    // the average negative log-likelihood of the data: -mean(log P[x, y])
    let nll = p.i([&xs, &ys])?.log()?.mean()?.neg()?;
    println!("nll = {:.6} over {} bigrams", nll.item()?, xs.numel());

    // the same model as a one-layer network trained by gradient descent
    let mut g = Generator::new(2147483647);
    let w = Tensor::randn_with([27, 27], DType::F32, &mut g)?.requires_grad_(true)?;
    let xenc = xs.one_hot(Some(27))?.to_dtype(DType::F32)?;
    let rows = Tensor::arange(xs.numel() as i64)?;
    for k in 0..steps {
        let logits = xenc.matmul(&w)?; // log-counts
        let counts = logits.exp()?;
        let probs = &counts / &counts.sum_dim(1, true)?;
        let loss = probs.i([&rows, &ys])?.log()?.mean()?.neg()? + 0.01 * w.pow(2.0)?.mean()?;
        if k < 5 || k == steps - 1 {
            println!("step {k}: loss {:.6}", loss.item()?);
        }
        w.zero_grad();
        loss.backward()?;
        let grad = w.grad().ok_or_else(|| Error::autograd("makemore_bigram", "W got no gradient"))?;
        no_grad(|| w.add_(&(grad * -50.0)))?;
    }

    let mut g = Generator::new(2147483647);
    let net_probs = |ix: usize| -> Result<Tensor> {
        let counts =
            Tensor::from(vec![ix as i64]).one_hot(Some(27))?.to_dtype(DType::F32)?.matmul(&w)?.exp()?;
        (&counts / &counts.sum_dim(1, true)?).i(0)
    };
    println!("network samples: {}", sample_names(10, &itos, &mut g, net_probs)?.join(" "));
    Ok(())
}
