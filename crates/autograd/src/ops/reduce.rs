//! Reductions over all elements or one dimension (`keepdim` keeps it as size 1; negative dims
//! count from the end). Each input element contributed to one output element, so its
//! gradient is that output's gradient times its share: 1 for `sum`, `1/n` for `mean`, the
//! one-hot of the selected element for `max_dim`, `softmax` for `logsumexp`.

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::ops::{keep, one, spread, zip};
use crate::tensor::Tensor;
use torchlet_tensor_core::{with_float, Float, Numeric, Result, Shape, TensorData};

/// `y = sum(x)` or `mean(x)` over all elements or over `dim`: `dx = g * scale`, broadcast
/// back over the reduced elements (`scale` 1 for sum, `1/n` for mean).
struct Spread {
    shape: Shape,
    dim: Option<(isize, bool)>,
    scale: f64,
}
impl Backward for Spread {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let g = if self.scale == 1.0 { g.clone() } else { g.mul_scalar(self.scale)? };
        let g = match self.dim {
            Some((dim, keepdim)) => keep(&g, dim, keepdim, &self.shape)?,
            None => g,
        };
        one(spread(&g, &self.shape)?)
    }
}

/// `y = max(x)` (or min): the gradient is shared evenly by the elements equal to `y` (by the
/// NaN elements when `y` is NaN), as PyTorch's `evenly_distribute_backward` does.
struct Evenly {
    x: TensorData,
    y: TensorData,
}
impl Backward for Evenly {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let y = self.y.item()?;
        let hit = with_float!(self.x.dtype(), "backward", |T| self.x.map::<T, T>(|x| {
            let hit = if y.is_nan() { x.is_nan() } else { x == T::c(y) };
            if hit {
                T::ONE
            } else {
                T::ZERO
            }
        }))?;
        one(hit.mul(&g.div(&hit.sum()?)?)?)
    }
}

/// `(values, indices) = max(x, dim)` (or min): the gradient goes to the selected index only.
struct Select {
    shape: Shape,
    dim: isize,
    keepdim: bool,
    indices: TensorData,
}
impl Backward for Select {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let (g, i) = (
            keep(g, self.dim, self.keepdim, &self.shape)?,
            keep(&self.indices, self.dim, self.keepdim, &self.shape)?,
        );
        one(TensorData::scatter_add_zeros(&self.shape, self.dim, &i, &g)?)
    }
}

/// `y = logsumexp(x, dim)`: `dx = g e^(x - y) = g softmax(x, dim)`.
struct Logsumexp {
    x: TensorData,
    y: TensorData,
    dim: isize,
    keepdim: bool,
}
impl Backward for Logsumexp {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let shape = self.x.shape();
        let (g, y) = (keep(g, self.dim, self.keepdim, shape)?, keep(&self.y, self.dim, self.keepdim, shape)?);
        let p = zip!(&self.x, &y, |x, y| (x - y).exp())?;
        one(g.mul(&p)?)
    }
}

impl Tensor {
    /// Sum of all elements. Derivative: 1 for every element.
    pub fn sum(&self) -> Result<Tensor> {
        let x = self.data();
        Ok(record(x.sum()?, "SumBackward0", &[self], || Spread {
            shape: x.shape().clone(),
            dim: None,
            scale: 1.0,
        }))
    }

    /// Sum over `dim`. Derivative: 1, broadcast along `dim`.
    pub fn sum_dim(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let x = self.data();
        let rule = || Spread { shape: x.shape().clone(), dim: Some((dim, keepdim)), scale: 1.0 };
        Ok(record(x.sum_dim(dim, keepdim)?, "SumBackward1", &[self], rule))
    }

    /// Mean of all elements. Derivative: `1/n`.
    pub fn mean(&self) -> Result<Tensor> {
        let x = self.data();
        let rule = || Spread { shape: x.shape().clone(), dim: None, scale: 1.0 / x.numel() as f64 };
        Ok(record(x.mean()?, "MeanBackward0", &[self], rule))
    }

    /// Mean over `dim`. Derivative: `1/n` broadcast along `dim` (`n` its size).
    pub fn mean_dim(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let x = self.data();
        let y = x.mean_dim(dim, keepdim)?;
        let n = x.shape().size("mean", dim).unwrap_or(1) as f64;
        let rule = || Spread { shape: x.shape().clone(), dim: Some((dim, keepdim)), scale: 1.0 / n };
        Ok(record(y, "MeanBackward1", &[self], rule))
    }

    /// Largest element. Derivative: shared evenly among the maxima.
    pub fn max(&self) -> Result<Tensor> {
        let x = self.data();
        let y = x.max()?;
        Ok(record(y.clone(), "MaxBackward1", &[self], || Evenly { x, y }))
    }

    /// Smallest element. Derivative: shared evenly among the minima.
    pub fn min(&self) -> Result<Tensor> {
        let x = self.data();
        let y = x.min()?;
        Ok(record(y.clone(), "MinBackward1", &[self], || Evenly { x, y }))
    }

    /// Largest values over `dim` and their (i64) indices (the first of ties, as PyTorch).
    /// Derivative: 1 at the selected index.
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let x = self.data();
        let (v, i) = x.max_dim(dim, keepdim)?;
        let rule = || Select { shape: x.shape().clone(), dim, keepdim, indices: i.clone() };
        Ok((record(v, "MaxBackward0", &[self], rule), Tensor::from_data(i)))
    }

    /// Smallest values over `dim` and their (i64) indices. Derivative: 1 at the selected index.
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let x = self.data();
        let (v, i) = x.min_dim(dim, keepdim)?;
        let rule = || Select { shape: x.shape().clone(), dim, keepdim, indices: i.clone() };
        Ok((record(v, "MinBackward0", &[self], rule), Tensor::from_data(i)))
    }

    /// Indices of the largest values over `dim` (i64, no gradient).
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().argmax(dim, keepdim)?))
    }

    /// `ln(sum(e^x, dim))`, stable. Derivative: `softmax(x, dim)`.
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let x = self.data();
        let y = x.logsumexp(dim, keepdim)?;
        Ok(record(y.clone(), "LogsumexpBackward0", &[self], || Logsumexp { x, y, dim, keepdim }))
    }
}

/// A `(2, 3, 4)` sample, a dim of it and a keepdim flag.
fn dim_case(s: &mut Sampler) -> (TensorData, isize, bool) {
    let x = s.sized(&[2, 3, 4]);
    (x, s.dim(3), s.flag())
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        OpInfo::new("sum", |s| Case::new([s.sized(&[3, 4])], |t| t[0].sum())),
        OpInfo::new("mean", |s| Case::new([s.sized(&[3, 4])], |t| t[0].mean())),
        OpInfo::new("max", |s| Case::new([s.sized(&[3, 4])], |t| t[0].max())),
        OpInfo::new("min", |s| Case::new([s.sized(&[3, 4])], |t| t[0].min())),
        OpInfo::new("sum_dim", |s| {
            let (x, d, k) = dim_case(s);
            Case::new([x], move |t| t[0].sum_dim(d, k))
        }),
        OpInfo::new("mean_dim", |s| {
            let (x, d, k) = dim_case(s);
            Case::new([x], move |t| t[0].mean_dim(d, k))
        }),
        OpInfo::new("max_dim", |s| {
            let (x, d, k) = dim_case(s);
            Case::new([x], move |t| Ok(t[0].max_dim(d, k)?.0))
        }),
        OpInfo::new("min_dim", |s| {
            let (x, d, k) = dim_case(s);
            Case::new([x], move |t| Ok(t[0].min_dim(d, k)?.0))
        }),
        OpInfo::new("logsumexp", |s| {
            let (x, d, k) = dim_case(s);
            Case::new([x], move |t| t[0].logsumexp(d, k))
        }),
        OpInfo::no_grad("argmax", |s| {
            let (x, d, k) = dim_case(s);
            Case::new([x], move |t| t[0].argmax(d, k))
        }),
    ]
}
