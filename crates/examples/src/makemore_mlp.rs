//! makemore part 2 (`examples/makemore_mlp.rs`): the MLP language model of Bengio et al.
//! 2003 as the lecture writes it, with bare tensors: `C[X]` embeds the 3 previous
//! characters in 10 dimensions, a 200-unit tanh layer, 27 logits; minibatches of 32 and plain
//! SGD written `p += -lr * p.grad`. Every printed line is PyTorch's
//! (`tools/lectures/makemore_mlp.py`) from the same seeds.

use crate::makemore::{sample_with_context, splits, Splits};
use torchlet::nn::functional as F;
use torchlet::prelude::*;
use torchlet::{manual_seed, no_grad, DType, Error, Generator, Result};

/// The lecture's parameters `[C, W1, b1, W2, b2]` from `Generator(2147483647)`.
fn init() -> Result<Vec<Tensor>> {
    let mut g = Generator::new(2147483647);
    [&[27, 10][..], &[30, 200], &[200], &[200, 27], &[27]]
        .iter()
        .map(|&shape| Tensor::randn_with(shape.to_vec(), DType::F32, &mut g)?.requires_grad_(true))
        .collect()
}

/// `F.cross_entropy` of the model's logits for contexts `x` `(n, 3)` against `y`.
fn loss_of(p: &[Tensor], x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let emb = p[0].i(x)?; // C[X]: (n, 3, 10)
    let h = (emb.view([-1, 30])?.matmul(&p[1])? + &p[2]).tanh()?; // (n, 200)
    F::cross_entropy(&(h.matmul(&p[3])? + &p[4]), y) // logits (n, 27)
}

/// Runs the lecture's program with `steps` training steps, handing `out` each line to print,
/// and returns the learning-rate sweep, what the lecture plots as `plt.plot(lri, lossi)`: for
/// each of its 1000 steps, the exponent of the learning rate (`torch.linspace(-3, 0, 1000)`)
/// and the step's minibatch loss.
pub fn run(steps: usize, mut out: impl FnMut(String)) -> Result<Vec<(f64, f64)>> {
    let Splits { itos, train: (xtr, ytr), dev: (xdev, ydev), test: (xte, _) } = splits(3)?;
    let shape = |t: &Tensor| format!("({}, {})", t.size(0).unwrap_or(0), t.size(1).unwrap_or(0));
    out(format!("train {} dev {} test {}", shape(&xtr), shape(&xdev), shape(&xte)));

    // one SGD step on a random minibatch of 32 (drawn from the global generator)
    let step = |p: &[Tensor], lr: f64| -> Result<f64> {
        let ix = Tensor::randint(0, xtr.size(0)? as i64, [32])?;
        let loss = loss_of(p, &xtr.i(&ix)?, &ytr.i(&ix)?)?;
        p.iter().for_each(Tensor::zero_grad);
        loss.backward()?;
        no_grad(|| {
            p.iter().try_for_each(|p| {
                let g = p.grad().ok_or_else(|| Error::autograd("makemore_mlp", "no gradient"))?;
                p.add_(&(g * -lr))
            })
        })?;
        loss.item()
    };

    manual_seed(0);
    let p = init()?;
    out(format!("parameters: {}", p.iter().map(Tensor::numel).sum::<usize>()));
    let lre = Tensor::linspace(-3.0, 0.0, 1000)?;
    let lrs = lre.rpow(10.0)?.to_vec::<f32>()?; // 10**lre
    let sweep = lrs.iter().map(|&lr| step(&p, lr as f64)).collect::<Result<Vec<_>>>()?;
    for i in [0, 250, 500, 750, 999] {
        out(format!("sweep: lr {:.4} loss {:.4}", lrs[i], sweep[i]));
    }

    let p = init()?;
    for i in 0..steps {
        let loss = step(&p, if i < steps / 2 { 0.1 } else { 0.01 })?;
        if i < 5 || i % 10000 == 0 {
            out(format!("step {i}: loss {loss:.6}"));
        }
    }
    no_grad(|| -> Result<()> {
        out(format!("train loss {:.4}", loss_of(&p, &xtr, &ytr)?.item()?));
        out(format!("dev loss {:.4}", loss_of(&p, &xdev, &ydev)?.item()?));
        // sample 20 names: context -> probabilities -> multinomial, until '.'
        let mut g = Generator::new(2147483647 + 10);
        let names = sample_with_context(20, 3, &itos, |context| {
            let emb = p[0].i(context)?;
            let h = (emb.view([1, -1])?.matmul(&p[1])? + &p[2]).tanh()?;
            let probs = (h.matmul(&p[3])? + &p[4]).softmax(1)?;
            Ok(probs.multinomial_with(1, false, &mut g)?.item()? as i64)
        })?;
        out(format!("samples: {}", names.join(" ")));
        Ok(())
    })?;
    Ok(lre.to_vec::<f32>()?.into_iter().map(f64::from).zip(sweep).collect())
}
