//! The layers makemore parts 3 and 5 write by hand, "the same API as nn.Module in PyTorch":
//! [`Linear`], [`BatchNorm1d`], [`Tanh`], [`Embedding`], [`FlattenConsecutive`] and
//! [`Sequential`]. Each keeps its last output in `out` (the lecture's `self.out`) so the
//! diagnostics can look at activations and, after `retain_grad`, their gradients.
//!
//! These are the lecture's classes, not torchlet's `nn` modules: the lecture's BatchNorm
//! normalises with the *unbiased* batch variance (`x.var(0)`), where `nn::BatchNorm1d`
//! (like `torch.nn.BatchNorm1d`) uses the biased one, so only these reproduce its numbers.

use torchlet::prelude::*;
use torchlet::{no_grad, DType, Generator, Result};

/// One layer of the lecture's networks: `layer(x)`, `layer.parameters()`, `layer.out`.
pub trait Layer {
    /// The lecture's class name (`layer.__class__.__name__`).
    fn name(&self) -> &'static str;
    /// `layer(x)`: the output, also kept as [`Layer::out`].
    fn forward(&mut self, x: &Tensor) -> Result<Tensor>;
    /// The trained tensors, in the lecture's order.
    fn parameters(&self) -> Vec<Tensor> {
        vec![]
    }
    /// The output of the last [`Layer::forward`] (`layer.out`).
    fn out(&self) -> Option<&Tensor>;
    /// Switches between training and evaluation (`layer.training = ...`); only BatchNorm cares.
    fn set_training(&mut self, _training: bool) {}
}

/// `randn(shape)` from `g`, or from the global generator (`torch.randn`) when `g` is `None`.
fn randn(shape: [usize; 2], g: Option<&mut Generator>) -> Result<Tensor> {
    match g {
        Some(g) => Tensor::randn_with(shape.to_vec(), DType::F32, g),
        None => Tensor::randn(shape.to_vec()),
    }
}

/// `x @ weight + bias` with `weight` `(fan_in, fan_out)` drawn from `randn / sqrt(fan_in)`
/// (Kaiming's init without the gain) and `bias` zeros.
pub struct Linear {
    /// `(fan_in, fan_out)`.
    pub weight: Tensor,
    /// `(fan_out)`, or none (`bias=False`, when a BatchNorm follows).
    pub bias: Option<Tensor>,
    /// The last output.
    pub out: Option<Tensor>,
}

impl Linear {
    /// `Linear(fan_in, fan_out, bias)`, drawing the weight from `g` (part 3) or the global
    /// generator (part 5, `None`).
    pub fn new(fan_in: usize, fan_out: usize, bias: bool, g: Option<&mut Generator>) -> Result<Linear> {
        let weight = randn([fan_in, fan_out], g)? / (fan_in as f64).sqrt();
        let bias = if bias { Some(Tensor::zeros([fan_out])?) } else { None };
        Ok(Linear { weight, bias, out: None })
    }
}

impl Layer for Linear {
    fn name(&self) -> &'static str {
        "Linear"
    }
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let mut out = x.matmul(&self.weight)?;
        if let Some(b) = &self.bias {
            out = out.add(b)?;
        }
        self.out = Some(out.clone());
        Ok(out)
    }
    fn parameters(&self) -> Vec<Tensor> {
        std::iter::once(self.weight.clone()).chain(self.bias.clone()).collect()
    }
    fn out(&self) -> Option<&Tensor> {
        self.out.as_ref()
    }
}

/// Batch normalisation as the lecture writes it. Training: `xhat = (x - mean) / sqrt(var +
/// eps)` over the batch (dim 0 of a 2-D input, dims 0 and 1 of a 3-D one), with the
/// **unbiased** variance, then `gamma * xhat + beta`; the running statistics follow
/// `running = (1 - momentum) * running + momentum * batch` (outside the graph). Evaluation
/// uses the running statistics instead of the batch's.
pub struct BatchNorm1d {
    /// Added to the variance before the square root (1e-5).
    pub eps: f64,
    /// The weight of the new batch in the running statistics (0.1).
    pub momentum: f64,
    /// Batch statistics (true) or running ones (false).
    pub training: bool,
    /// The scale, ones at first (trained).
    pub gamma: Tensor,
    /// The shift, zeros at first (trained).
    pub beta: Tensor,
    /// Running mean (a buffer: not trained by backprop).
    pub running_mean: Tensor,
    /// Running (unbiased) variance (a buffer).
    pub running_var: Tensor,
    /// The last output.
    pub out: Option<Tensor>,
}

impl BatchNorm1d {
    /// `BatchNorm1d(dim)` with eps 1e-5 and momentum 0.1.
    pub fn new(dim: usize) -> Result<BatchNorm1d> {
        Ok(BatchNorm1d {
            eps: 1e-5,
            momentum: 0.1,
            training: true,
            gamma: Tensor::ones([dim])?,
            beta: Tensor::zeros([dim])?,
            running_mean: Tensor::zeros([dim])?,
            running_var: Tensor::ones([dim])?,
            out: None,
        })
    }
}

impl Layer for BatchNorm1d {
    fn name(&self) -> &'static str {
        "BatchNorm1d"
    }
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let (xmean, xvar) = if self.training {
            let dims: &[isize] = if x.ndim() == 3 { &[0, 1] } else { &[0] };
            (x.mean_dim(dims, true)?, x.var_dim(dims, true)?) // batch mean and variance
        } else {
            (self.running_mean.clone(), self.running_var.clone())
        };
        let xhat = (x - &xmean) / (xvar.add(self.eps)?.sqrt()?); // normalise to unit variance
        let out = &self.gamma * &xhat + &self.beta;
        if self.training {
            let m = self.momentum;
            no_grad(|| {
                self.running_mean = (1.0 - m) * &self.running_mean + m * &xmean;
                self.running_var = (1.0 - m) * &self.running_var + m * &xvar;
            });
        }
        self.out = Some(out.clone());
        Ok(out)
    }
    fn parameters(&self) -> Vec<Tensor> {
        vec![self.gamma.clone(), self.beta.clone()]
    }
    fn out(&self) -> Option<&Tensor> {
        self.out.as_ref()
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

/// `tanh(x)`.
#[derive(Default)]
pub struct Tanh {
    /// The last output.
    pub out: Option<Tensor>,
}

impl Layer for Tanh {
    fn name(&self) -> &'static str {
        "Tanh"
    }
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let out = x.tanh()?;
        self.out = Some(out.clone());
        Ok(out)
    }
    fn out(&self) -> Option<&Tensor> {
        self.out.as_ref()
    }
}

/// `weight[ix]`: a row of `weight` `(num_embeddings, embedding_dim)` per index.
pub struct Embedding {
    /// `(num_embeddings, embedding_dim)` from the global generator's `randn`.
    pub weight: Tensor,
    /// The last output.
    pub out: Option<Tensor>,
}

impl Embedding {
    /// `Embedding(num_embeddings, embedding_dim)` from the global generator.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Result<Embedding> {
        Ok(Embedding { weight: randn([num_embeddings, embedding_dim], None)?, out: None })
    }
}

impl Layer for Embedding {
    fn name(&self) -> &'static str {
        "Embedding"
    }
    fn forward(&mut self, ix: &Tensor) -> Result<Tensor> {
        let out = self.weight.i(ix)?;
        self.out = Some(out.clone());
        Ok(out)
    }
    fn parameters(&self) -> Vec<Tensor> {
        vec![self.weight.clone()]
    }
    fn out(&self) -> Option<&Tensor> {
        self.out.as_ref()
    }
}

/// `(B, T, C) -> (B, T/n, C*n)`: concatenates `n` consecutive vectors (a view, no copy), and
/// drops the middle dim when it becomes 1: part 5's hierarchical fusion of characters.
pub struct FlattenConsecutive {
    /// How many consecutive vectors are concatenated.
    pub n: usize,
    /// The last output.
    pub out: Option<Tensor>,
}

impl FlattenConsecutive {
    /// `FlattenConsecutive(n)`.
    pub fn new(n: usize) -> FlattenConsecutive {
        FlattenConsecutive { n, out: None }
    }
}

impl Layer for FlattenConsecutive {
    fn name(&self) -> &'static str {
        "FlattenConsecutive"
    }
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let (b, t, c) = (x.size(0)?, x.size(1)?, x.size(2)?);
        let mut out = x.view([b, t / self.n, c * self.n])?;
        if out.size(1)? == 1 {
            out = out.squeeze_dim(1)?;
        }
        self.out = Some(out.clone());
        Ok(out)
    }
    fn out(&self) -> Option<&Tensor> {
        self.out.as_ref()
    }
}

/// The layers applied in order.
pub struct Sequential {
    /// The layers, first applied first.
    pub layers: Vec<Box<dyn Layer>>,
    /// The last output.
    pub out: Option<Tensor>,
}

impl Sequential {
    /// `Sequential(layers)`.
    pub fn new(layers: Vec<Box<dyn Layer>>) -> Sequential {
        Sequential { layers, out: None }
    }
}

impl Layer for Sequential {
    fn name(&self) -> &'static str {
        "Sequential"
    }
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for layer in &mut self.layers {
            x = layer.forward(&x)?;
        }
        self.out = Some(x.clone());
        Ok(x)
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.layers.iter().flat_map(|l| l.parameters()).collect()
    }
    fn out(&self) -> Option<&Tensor> {
        self.out.as_ref()
    }
    fn set_training(&mut self, training: bool) {
        self.layers.iter_mut().for_each(|l| l.set_training(training));
    }
}
