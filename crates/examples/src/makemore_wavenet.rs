//! makemore part 5 (`examples/makemore_wavenet.rs`): a context of 8 characters fused
//! hierarchically as WaveNet does, two at a time: `Embedding`, then three times
//! `FlattenConsecutive(2)`, `Linear`, `BatchNorm1d` (over the 3-D `(batch, groups, channels)`
//! input: statistics over dims 0 and 1), `Tanh`, and a final `Linear`; the lecture's layers
//! (`crate::lecture_layers`) in the lecture's `Sequential`. Every printed line is PyTorch's
//! (`tools/lectures/makemore_wavenet.py`) from `torch.manual_seed(42)`.

use crate::lecture_layers::{BatchNorm1d, Embedding, FlattenConsecutive, Layer, Linear, Sequential, Tanh};
use crate::makemore::{sample_with_context, splits, Splits};
use torchlet::nn::functional as F;
use torchlet::prelude::*;
use torchlet::{manual_seed, no_grad, Error, Result};

/// The hierarchical network: 8 characters -> 4 pairs -> 2 quadruples -> 1 group of 8.
fn hierarchical(n_embd: usize, n_hidden: usize) -> Result<Sequential> {
    let mut layers: Vec<Box<dyn Layer>> = vec![Box::new(Embedding::new(27, n_embd)?)];
    for fan_in in [n_embd * 2, n_hidden * 2, n_hidden * 2] {
        layers.push(Box::new(FlattenConsecutive::new(2)));
        layers.push(Box::new(Linear::new(fan_in, n_hidden, false, None)?));
        layers.push(Box::new(BatchNorm1d::new(n_hidden)?));
        layers.push(Box::new(Tanh::default()));
    }
    let last = Linear::new(n_hidden, 27, true, None)?;
    no_grad(|| last.weight.mul_(0.1))?; // last layer: make less confident
    layers.push(Box::new(last));
    Ok(Sequential::new(layers))
}

/// Runs the lecture's program with `steps` training steps (lr 0.1, then 0.01 for the last
/// quarter), handing `out` each line to print; returns the log10 loss of every step (the
/// lecture's `lossi`).
pub fn run(steps: usize, mut out: impl FnMut(String)) -> Result<Vec<f64>> {
    let block_size = 8; // context length: how many characters do we take to predict the next one?
    let Splits { itos, train: (xtr, ytr), dev: (xdev, ydev), .. } = splits(block_size)?;
    let decode = |ix: &[i64]| ix.iter().map(|&i| itos[i as usize]).collect::<String>();
    let (x8, y8) = (xtr.to_vec::<i64>()?, ytr.to_vec::<i64>()?);
    for (x, y) in x8.chunks(block_size).zip(&y8).take(8) {
        out(format!("{} --> {}", decode(x), itos[*y as usize]));
    }

    manual_seed(42); // seed rng for reproducibility
    let mut model = hierarchical(24, 128)?;
    let params =
        model.parameters().into_iter().map(|p| p.requires_grad_(true)).collect::<Result<Vec<_>>>()?;
    out(format!("{}", params.iter().map(Tensor::numel).sum::<usize>()));

    let mut lossi = Vec::with_capacity(steps);
    for i in 0..steps {
        let ix = Tensor::randint(0, xtr.size(0)? as i64, [32])?; // minibatch
        let loss = F::cross_entropy(&model.forward(&xtr.i(&ix)?)?, &ytr.i(&ix)?)?;
        params.iter().for_each(Tensor::zero_grad);
        loss.backward()?;
        let lr = if i < steps * 3 / 4 { 0.1 } else { 0.01 }; // step learning rate decay
        no_grad(|| {
            params.iter().try_for_each(|p| {
                let g = p.grad().ok_or_else(|| Error::autograd("makemore_wavenet", "no gradient"))?;
                p.add_(&(g * -lr))
            })
        })?;
        let loss = loss.item()?;
        if i < 5 || i % 10000 == 0 {
            out(format!("{i:7}/{steps:7}: {loss:.4}"));
        }
        lossi.push(loss.log10());
    }

    model.set_training(false); // put layers into eval mode (needed for batchnorm especially)
    no_grad(|| -> Result<()> {
        for (split, x, y) in [("train", &xtr, &ytr), ("val", &xdev, &ydev)] {
            out(format!("{split} {}", F::cross_entropy(&model.forward(x)?, y)?.item()?));
        }
        // sample from the model, with the global generator as the lecture does
        let names = sample_with_context(20, block_size, &itos, |context| {
            Ok(model.forward(context)?.softmax(1)?.multinomial(1, false)?.item()? as i64)
        })?;
        names.into_iter().for_each(&mut out);
        Ok(())
    })?;
    Ok(lossi)
}
