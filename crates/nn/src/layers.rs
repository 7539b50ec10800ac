//! The layers of the curriculum beyond `Linear`: [`Embedding`], [`LayerNorm`],
//! [`BatchNorm1d`] / [`BatchNorm2d`] (with running statistics as buffers and a train/eval
//! mode) and [`Identity`]. Each forwards to the tensor op of the same name (where its
//! derivative lives) and prints like PyTorch.

use crate::module::{py_bool, py_float, Module};
use std::sync::atomic::{AtomicBool, Ordering};
use torchlet_autograd::functional::BatchNormOpts;
use torchlet_autograd::{default_dtype, DType, Error, Result, Tensor};

/// Makes `t` a parameter named `name`: detached, requiring grad.
fn parameter(t: Tensor, name: &str) -> Result<Tensor> {
    let p = t.detach().requires_grad_(true)?;
    p.set_name(name);
    Ok(p)
}

/// `nn.Embedding(num_embeddings, embedding_dim, padding_idx)`: a lookup table of
/// `num_embeddings` vectors of size `embedding_dim`, initialised from `N(0, 1)` (the
/// `padding_idx` row, if any, zeros), as PyTorch does. `forward(indices)` of i64 indices of
/// any shape gives `indices.shape + [embedding_dim]` (makemore's `C[X]`).
pub struct Embedding {
    weight: Tensor,
    padding_idx: Option<usize>,
}

impl Embedding {
    /// `nn.Embedding(num_embeddings, embedding_dim)`, drawn from the global generator.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Result<Embedding> {
        Embedding::with_padding(num_embeddings, embedding_dim, None)
    }

    /// `nn.Embedding(num_embeddings, embedding_dim, padding_idx=padding_idx)`: that row starts
    /// at zero and receives no gradient.
    pub fn with_padding(
        num_embeddings: usize,
        embedding_dim: usize,
        padding_idx: Option<usize>,
    ) -> Result<Embedding> {
        let w = crate::init::embedding_weight(num_embeddings, embedding_dim, padding_idx, default_dtype())?;
        Ok(Embedding { weight: parameter(w, "weight")?, padding_idx })
    }

    /// An embedding holding `weight` `(num_embeddings, embedding_dim)` (e.g. pretrained).
    pub fn from_weight(weight: Tensor, padding_idx: Option<usize>) -> Result<Embedding> {
        if weight.ndim() != 2 || !weight.dtype().is_float() {
            return Err(Error::invalid("Embedding", format!("the weight must be a float (num_embeddings, embedding_dim) matrix, got shape {} of dtype {}", weight.shape(), weight.dtype())));
        }
        Ok(Embedding { weight: parameter(weight, "weight")?, padding_idx })
    }

    /// The table `(num_embeddings, embedding_dim)` (a shared handle).
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
}

impl Module for Embedding {
    fn forward(&self, indices: &Tensor) -> Result<Tensor> {
        indices.embedding(&self.weight, self.padding_idx.map(|p| p as i64))
    }
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".into(), self.weight.clone())]
    }
    fn extra_repr(&self) -> String {
        let d = self.weight.dims();
        match self.padding_idx {
            Some(p) => format!("{}, {}, padding_idx={p}", d[0], d[1]),
            None => format!("{}, {}", d[0], d[1]),
        }
    }
}

/// `nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)`:
/// normalises the trailing `normalized_shape` dims of each sample, then scales by `weight`
/// (ones) and shifts by `bias` (zeros).
pub struct LayerNorm {
    normalized_shape: Vec<usize>,
    eps: f64,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
}

impl LayerNorm {
    /// `nn.LayerNorm(normalized_shape)` (`&[256]` for the last dim of size 256).
    pub fn new(normalized_shape: &[usize]) -> Result<LayerNorm> {
        LayerNorm::with_options(normalized_shape, 1e-5, true, true)
    }

    /// `nn.LayerNorm(normalized_shape, eps, elementwise_affine, bias)`.
    pub fn with_options(
        normalized_shape: &[usize],
        eps: f64,
        elementwise_affine: bool,
        bias: bool,
    ) -> Result<LayerNorm> {
        let dtype = default_dtype();
        let weight = elementwise_affine.then(|| Tensor::ones_dtype(normalized_shape, dtype)).transpose()?;
        let bias =
            (elementwise_affine && bias).then(|| Tensor::zeros_dtype(normalized_shape, dtype)).transpose()?;
        Ok(LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps,
            weight: weight.map(|w| parameter(w, "weight")).transpose()?,
            bias: bias.map(|b| parameter(b, "bias")).transpose()?,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.layer_norm(&self.normalized_shape, self.weight.as_ref(), self.bias.as_ref(), self.eps)
    }
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        v.extend(self.weight.clone().map(|w| ("weight".to_string(), w)));
        v.extend(self.bias.clone().map(|b| ("bias".to_string(), b)));
        v
    }
    fn extra_repr(&self) -> String {
        let shape: Vec<String> = self.normalized_shape.iter().map(|d| d.to_string()).collect();
        let tuple =
            if shape.len() == 1 { format!("({},)", shape[0]) } else { format!("({})", shape.join(", ")) };
        format!("{tuple}, eps={}, elementwise_affine={}", py_float(self.eps), py_bool(self.weight.is_some()))
    }
}

/// Batch normalisation over channels, the shared body of [`BatchNorm1d`] and [`BatchNorm2d`]:
/// `weight` (ones) and `bias` (zeros) when affine, and the buffers `running_mean` (zeros),
/// `running_var` (ones) and `num_batches_tracked` (an i64 count), updated by every forward in
/// training mode. In evaluation mode the running statistics normalise.
pub struct BatchNorm {
    num_features: usize,
    eps: f64,
    /// `None`: the running statistics are a cumulative average.
    momentum: Option<f64>,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    running_mean: Option<Tensor>,
    running_var: Option<Tensor>,
    num_batches_tracked: Option<Tensor>,
    training: AtomicBool,
    /// The input ranks accepted (`[2, 3]` for 1d, `[4]` for 2d) and the name printed.
    ranks: &'static [usize],
    name: &'static str,
}

/// `nn.BatchNorm1d(num_features)` on `(N, C)` or `(N, C, L)` inputs.
pub type BatchNorm1d = BatchNorm;
/// `nn.BatchNorm2d(num_features)` on `(N, C, H, W)` inputs.
pub type BatchNorm2d = BatchNorm;

impl BatchNorm {
    /// `nn.BatchNorm1d(num_features)`: eps 1e-5, momentum 0.1, affine, tracking running
    /// statistics; in training mode.
    pub fn new_1d(num_features: usize) -> Result<BatchNorm> {
        BatchNorm::build(num_features, 1e-5, Some(0.1), true, true, &[2, 3], "BatchNorm1d")
    }

    /// `nn.BatchNorm2d(num_features)`.
    pub fn new_2d(num_features: usize) -> Result<BatchNorm> {
        BatchNorm::build(num_features, 1e-5, Some(0.1), true, true, &[4], "BatchNorm2d")
    }

    /// Sets `eps` (default 1e-5).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets `momentum` (default `Some(0.1)`; `None` for a cumulative moving average).
    pub fn momentum(mut self, momentum: Option<f64>) -> Self {
        self.momentum = momentum;
        self
    }

    /// Without `weight` and `bias` (`affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// Without running statistics (`track_running_stats=False`): batch statistics in both
    /// modes.
    pub fn without_running_stats(mut self) -> Self {
        self.running_mean = None;
        self.running_var = None;
        self.num_batches_tracked = None;
        self
    }

    fn build(
        c: usize,
        eps: f64,
        momentum: Option<f64>,
        affine: bool,
        track: bool,
        ranks: &'static [usize],
        name: &'static str,
    ) -> Result<BatchNorm> {
        let dtype = default_dtype();
        let buffer = |t: Tensor, n: &str| {
            t.set_name(n);
            t
        };
        Ok(BatchNorm {
            num_features: c,
            eps,
            momentum,
            weight: affine
                .then(|| Tensor::ones_dtype([c], dtype).and_then(|w| parameter(w, "weight")))
                .transpose()?,
            bias: affine
                .then(|| Tensor::zeros_dtype([c], dtype).and_then(|b| parameter(b, "bias")))
                .transpose()?,
            running_mean: track
                .then(|| Tensor::zeros_dtype([c], dtype).map(|t| buffer(t, "running_mean")))
                .transpose()?,
            running_var: track
                .then(|| Tensor::ones_dtype([c], dtype).map(|t| buffer(t, "running_var")))
                .transpose()?,
            num_batches_tracked: track
                .then(|| Tensor::zeros_dtype([], DType::I64).map(|t| buffer(t, "num_batches_tracked")))
                .transpose()?,
            training: AtomicBool::new(true),
            ranks,
            name,
        })
    }

    /// The running mean (a shared handle), if tracked.
    pub fn running_mean(&self) -> Option<&Tensor> {
        self.running_mean.as_ref()
    }

    /// The running (unbiased) variance, if tracked.
    pub fn running_var(&self) -> Option<&Tensor> {
        self.running_var.as_ref()
    }
}

impl Module for BatchNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.ranks.contains(&x.ndim()) {
            let want = if self.ranks == [4] {
                "4D input (N, C, H, W)"
            } else {
                "2D or 3D input (N, C) or (N, C, L)"
            };
            return Err(Error::invalid(self.name, format!("expected {want}, got shape {}", x.shape())));
        }
        if x.size(1)? != self.num_features {
            return Err(Error::invalid(self.name, format!("the input has {} channels (dim 1 of shape {}) but the layer was built for num_features = {}", x.size(1)?, x.shape(), self.num_features)));
        }
        let training = self.training.load(Ordering::Relaxed);
        let use_batch_stats = training || self.running_mean.is_none();
        let mut momentum = self.momentum.unwrap_or(0.0);
        if training {
            if let Some(n) = &self.num_batches_tracked {
                let count = n.item()? as i64 + 1;
                n.update_data(|d| *d = torchlet_autograd::TensorData::scalar(count));
                if self.momentum.is_none() {
                    momentum = 1.0 / count as f64; // cumulative moving average
                }
            }
        }
        let (rm, rv) = if use_batch_stats && !training {
            (None, None)
        } else {
            (self.running_mean.as_ref(), self.running_var.as_ref())
        };
        x.batch_norm(
            rm,
            rv,
            self.weight.as_ref(),
            self.bias.as_ref(),
            BatchNormOpts { training: use_batch_stats, momentum, eps: self.eps },
        )
    }
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        v.extend(self.weight.clone().map(|w| ("weight".to_string(), w)));
        v.extend(self.bias.clone().map(|b| ("bias".to_string(), b)));
        v
    }
    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        v.extend(self.running_mean.clone().map(|t| ("running_mean".to_string(), t)));
        v.extend(self.running_var.clone().map(|t| ("running_var".to_string(), t)));
        v.extend(self.num_batches_tracked.clone().map(|t| ("num_batches_tracked".to_string(), t)));
        v
    }
    fn set_mode(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
    fn mode(&self) -> Option<bool> {
        Some(self.training.load(Ordering::Relaxed))
    }
    fn type_name(&self) -> &'static str {
        self.name
    }
    fn extra_repr(&self) -> String {
        let momentum = self.momentum.map_or("None".to_string(), py_float);
        format!(
            "{}, eps={}, momentum={momentum}, affine={}, track_running_stats={}",
            self.num_features,
            py_float(self.eps),
            py_bool(self.weight.is_some()),
            py_bool(self.running_mean.is_some())
        )
    }
}

/// `nn.Identity()`: returns its input.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl Module for Identity {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

crate::display_as_repr!(Embedding, LayerNorm, BatchNorm, Identity);
