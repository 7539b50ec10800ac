//! Reductions over all elements, one dimension or a list of them ([`Dims`]: `0`, `[0, 1]`,
//! [`Dims::All`]; `keepdim` keeps the reduced dims as size 1; negative dims count from the
//! end), and the scan `cumsum`. Each input element contributed to one output element, so its
//! gradient is that output's gradient times the element's share: 1 for `sum`, `1/n` for
//! `mean`, `2 (x - mean) / (n - correction)` for `var`, the one-hot of the selected element
//! for `max_dim`, `softmax` for `logsumexp`, the product of the others for `prod`, `x / y` for
//! the 2-norm. `histc` and `argmax` are integer-valued or counts: no gradient.

use crate::catalog::{Case, Mode, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::ops::{dims_isize, keep, one, spread, zip, zip_real};
use crate::tensor::Tensor;
use torchlet_tensor_core::{
    default_dtype, with_float, Dims, Error, Float, Numeric, Result, Shape, TensorData,
};

/// `g`, an output-shaped gradient, reshaped to `keep` (the input's shape with its reduced
/// dims as size 1), ready to broadcast over the input.
fn kept(g: &TensorData, keep: &Shape) -> Result<TensorData> {
    g.reshape(dims_isize(keep))
}

/// `y = sum(x)` or `mean(x)` over some dims: `dx = g * scale`, broadcast back over the
/// reduced elements (`scale` 1 for sum, `1/n` for mean). Over every element the gradient
/// stays a broadcast view of its one value (stride 0, as PyTorch's `expand`), which the
/// rules after it read as a number (`zip_map`) instead of a tensor written out in full; a
/// leaf's `.grad` is made contiguous when it is stored.
struct Spread {
    shape: Shape,
    keep: Shape,
    scale: f64,
}
impl Backward for Spread {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let g = if self.scale == 1.0 { g.clone() } else { g.mul_scalar(self.scale)? };
        let g = kept(&g, &self.keep)?;
        if g.numel() == 1 {
            return one(g.expand(self.shape.clone())?);
        }
        one(spread(&g, &self.shape)?)
    }
}

/// `y = var(x)` over some dims with `correction` c: `dx = g * 2 (x - mean) / (n - c)`, as
/// PyTorch's `var_backward` computes it also where `n - c <= 0` (`y` is inf or NaN): over a
/// list of dims the factor `2 / (n - c)` is inf (`+-inf`, NaN where `x` equals the mean) or
/// negative; over all elements (`x.var()`, no `dim`) the gradient is `g * inf` there, NaN
/// where `x` equals the mean.
struct Var {
    x: TensorData,
    mean: TensorData,
    keep: Shape,
    dof: f64,
    all: bool,
}
impl Var {
    fn grad(&self, g: &TensorData) -> Result<TensorData> {
        let dof = self.dof;
        let d = if dof > 0.0 || !self.all {
            zip!(&self.x, &self.mean, |x, m| T::c(2.0 / dof) * (x - m))?
        } else {
            zip!(&self.x, &self.mean, |x, m| if x == m { T::c(f64::NAN) } else { T::c(f64::INFINITY) })?
        };
        d.mul(&kept(g, &self.keep)?)
    }
}
impl Backward for Var {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(self.grad(g)?)
    }
}

/// `y = std(x) = sqrt(var(x))`: `dx = var's rule applied to g / (2y)`, with 0 where `y = 0`
/// (PyTorch's choice: constant lanes get a zero gradient rather than NaN).
struct Std {
    var: Var,
    y: TensorData,
}
impl Backward for Std {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let gv = zip!(g, &self.y, |g, y| if y == T::ZERO { T::ZERO } else { g / (y + y) })?;
        one(self.var.grad(&gv)?)
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

/// `y = logsumexp(x)` over some dims: `dx = g e^(x - y) = g softmax(x)` over those dims.
struct Logsumexp {
    x: TensorData,
    y: TensorData,
    keep: Shape,
}
impl Backward for Logsumexp {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let p = zip_real!(&self.x, &kept(&self.y, &self.keep)?, |x, y| (x - y).exp())?;
        one(p.mul(&kept(g, &self.keep)?)?)
    }
}

/// `y = cumsum(x, dim)`: `y_j = sum_{i <= j} x_i`, so `dx_i = sum_{j >= i} g_j`, the running
/// sum of `g` from the end.
struct Cumsum(isize);
impl Backward for Cumsum {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(g.cumsum_reverse(self.0)?)
    }
}

/// `y = prod(x)` along `dim` (of `x` flattened for the product of all elements):
/// `dx_i = g prod_{j != i} x_j`. As PyTorch computes it: `g y / x` where `x != 0`, and the
/// product of the others (from prefix and suffix products) where `x = 0`, so a lane with one
/// zero passes `g` times the others' product to that zero only.
struct Prod {
    x: TensorData,
    y: TensorData,
    dim: isize,
    keep: Shape,
}
impl Backward for Prod {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let x = &self.x;
        let ratio = kept(&self.y, &self.keep)?.div(x)?;
        let zero = x.eq_scalar(0)?;
        let q = TensorData::where_cond(&zero, &x.prod_others(self.dim)?, &ratio)?;
        one(q.mul(&kept(g, &self.keep)?)?)
    }
}

/// `y = ||x||_p` over some dims: `dx = g dy/dx` with, for `y != 0`,
/// `dy/dx = sign(x) |x|^(p-1) / y^(p-1)` (`x / y` for `p = 2`, `sign(x)` for `p = 1`); 0 where
/// `y = 0` (a subgradient) and for `p = 0` (a count); for `p = +-inf`, `sign(x)` shared evenly
/// by the elements whose magnitude is `y`. PyTorch's `norm_backward`.
struct Norm {
    x: TensorData,
    y: TensorData,
    keep: Shape,
    dims: Dims,
    ord: f64,
}
impl Backward for Norm {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let (x, p) = (&self.x, self.ord);
        let (g, y) = (kept(g, &self.keep)?, kept(&self.y, &self.keep)?);
        if p == 0.0 {
            return one(x.zeros_like());
        }
        if p.is_infinite() {
            // The elements at the extreme magnitude (or NaN) share `g` evenly.
            let hit = zip!(x, &y, |x, y| if x.abs() == y || x.is_nan() { T::ONE } else { T::ZERO })?;
            let count = hit.sum_dims(&self.dims, true)?;
            return one(x.sign()?.mul(&hit)?.mul(&g.div(&count)?)?);
        }
        // dx = s(x) * scale(g, y): s = sign(x) |x|^(p-1), scale = g / y^(p-1).
        let s = with_float!(x.dtype(), "backward", |T| x.map::<T, T>(|x| {
            if p == 2.0 {
                x
            } else if x == T::ZERO {
                T::ZERO
            } else {
                x.signum() * x.abs().powf(T::c(p - 1.0))
            }
        }))?;
        let scale = if p < 1.0 {
            zip!(&g, &y, |g, y| g * y.powf(T::c(1.0 - p)))?
        } else {
            zip!(&g, &y, |g, y| if y == T::ZERO { T::ZERO } else { g / y.powf(T::c(p - 1.0)) })?
        };
        one(s.mul(&scale)?)
    }
}

/// A float tensor as it is; an integer or bool one converted to the default float dtype (as
/// PyTorch computes `logsumexp` of integers).
fn as_float(x: &Tensor) -> Result<Tensor> {
    if x.dtype().is_float() {
        Ok(x.clone())
    } else {
        x.to_dtype(default_dtype())
    }
}

impl Tensor {
    /// Sum of all elements. Derivative: 1 for every element.
    pub fn sum(&self) -> Result<Tensor> {
        let x = self.data();
        let keep = Dims::All.keep_shape("sum", x.shape())?;
        Ok(record(x.sum()?, "SumBackward0", &[self], || Spread {
            shape: x.shape().clone(),
            keep,
            scale: 1.0,
        }))
    }

    /// Sum over `dim`: one dim (`x.sum_dim(0, false)`), a list (`x.sum_dim([0, 1], true)`) or
    /// [`Dims::All`], like `x.sum(dim, keepdim)`. Bool sums to i64. Derivative: 1, broadcast
    /// over the reduced dims.
    pub fn sum_dim(&self, dim: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        let (x, dims) = (self.data(), dim.into());
        let y = x.sum_dims(&dims, keepdim)?;
        let keep = dims.keep_shape("sum", x.shape())?;
        Ok(record(y, "SumBackward1", &[self], || Spread { shape: x.shape().clone(), keep, scale: 1.0 }))
    }

    /// Mean of all elements. Derivative: `1/n`.
    pub fn mean(&self) -> Result<Tensor> {
        let x = self.data();
        let keep = Dims::All.keep_shape("mean", x.shape())?;
        let scale = 1.0 / x.numel() as f64;
        Ok(record(x.mean()?, "MeanBackward0", &[self], || Spread { shape: x.shape().clone(), keep, scale }))
    }

    /// Mean over `dim` (one dim, a list or [`Dims::All`]), like `x.mean(dim, keepdim)`; float
    /// tensors only. Derivative: `1/n` broadcast over the reduced dims (`n` the number of
    /// values averaged).
    pub fn mean_dim(&self, dim: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        let (x, dims) = (self.data(), dim.into());
        let y = x.mean_dims(&dims, keepdim)?;
        let keep = dims.keep_shape("mean", x.shape())?;
        let n = x.numel().checked_div(keep.numel()).unwrap_or(0);
        let scale = 1.0 / n as f64;
        Ok(record(y, "MeanBackward1", &[self], || Spread { shape: x.shape().clone(), keep, scale }))
    }

    /// Variance of all elements, unbiased (`correction = 1`, PyTorch's default): `x.var()`.
    pub fn var(&self) -> Result<Tensor> {
        self.var_with(Dims::All, 1, false)
    }

    /// Unbiased variance over `dim` (one dim, a list or [`Dims::All`]), like
    /// `x.var(dim, keepdim=keepdim)`.
    pub fn var_dim(&self, dim: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        self.var_with(dim, 1, keepdim)
    }

    /// Variance over `dim` with `correction`, like `x.var(dim, correction=c, keepdim=k)`:
    /// `sum((x - mean)^2) / max(0, n - correction)` for the `n` values of each lane
    /// (`correction` 1: the unbiased sample variance; 0: the population variance, what
    /// batch norm normalises with). `correction >= n` gives inf (NaN when the deviations are
    /// all 0, e.g. `n = 1`), as in PyTorch. Float tensors only. Derivative:
    /// `2 (x - mean) / (n - correction)`.
    pub fn var_with(
        &self,
        dim: impl Into<Dims>,
        correction: impl Into<f64>,
        keepdim: bool,
    ) -> Result<Tensor> {
        let (x, dims, c) = (self.data(), dim.into(), correction.into());
        let (var, rule) = var_parts(&x, &dims, c, keepdim)?;
        Ok(record(var, "VarBackward0", &[self], || rule))
    }

    /// Standard deviation of all elements, unbiased: `x.std()`.
    pub fn std(&self) -> Result<Tensor> {
        self.std_with(Dims::All, 1, false)
    }

    /// Unbiased standard deviation over `dim`, like `x.std(dim, keepdim=keepdim)`.
    pub fn std_dim(&self, dim: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        self.std_with(dim, 1, keepdim)
    }

    /// Standard deviation over `dim` with `correction`: `sqrt` of [`Tensor::var_with`].
    /// Derivative: `(x - mean) / ((n - correction) y)`, 0 where `y = 0`.
    pub fn std_with(
        &self,
        dim: impl Into<Dims>,
        correction: impl Into<f64>,
        keepdim: bool,
    ) -> Result<Tensor> {
        let (x, dims, c) = (self.data(), dim.into(), correction.into());
        let (var, rule) = var_parts(&x, &dims, c, keepdim).map_err(|e| rename(e, "std"))?;
        let y = var.sqrt()?;
        Ok(record(y.clone(), "StdBackward0", &[self], || Std { var: rule, y }))
    }

    /// Running sums along `dim`, like `torch.cumsum(x, dim)`: `y_j = x_0 + ... + x_j`
    /// (integers stay integers, bool counts as i64). Derivative: `dx_i = sum_{j >= i} g_j`.
    pub fn cumsum(&self, dim: isize) -> Result<Tensor> {
        let y = self.data().cumsum(dim)?;
        Ok(record(y, "CumsumBackward0", &[self], || Cumsum(dim)))
    }

    /// Product of all elements, like `x.prod()`. Derivative: the product of the other
    /// elements (see [`Tensor::prod_dim`]).
    pub fn prod(&self) -> Result<Tensor> {
        let x = self.data();
        let y = x.prod()?;
        let flat = x.reshape([-1])?;
        let keep = Shape::new(&[1]);
        let shape = x.shape().clone();
        let rule = || ProdAll(Prod { x: flat, y: y.clone(), dim: 0, keep }, shape);
        Ok(record(y.clone(), "ProdBackward0", &[self], rule))
    }

    /// Product over `dim`, like `x.prod(dim, keepdim)`. Derivative: `dx_i = prod_{j != i}
    /// x_j` in `x_i`'s lane, exact where elements are 0 (a lane with one zero sends the
    /// gradient to that zero only, one with two zeros sends none), as in PyTorch.
    pub fn prod_dim(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let x = self.data();
        let y = x.prod_dim(dim, keepdim)?;
        let keep = Dims::from(dim).keep_shape("prod", x.shape())?;
        let rule = || Prod { x, y: y.clone(), dim, keep };
        Ok(record(y.clone(), "ProdBackward1", &[self], rule))
    }

    /// `ln(sum(e^x))` over `dim` (one dim, a list or [`Dims::All`]), stable, like
    /// `torch.logsumexp(x, dim, keepdim)` (integers are computed in the default float dtype).
    /// Derivative: `softmax(x)` over those dims.
    pub fn logsumexp(&self, dim: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        let t = as_float(self)?;
        let (x, dims) = (t.data(), dim.into());
        let y = x.logsumexp_dims(&dims, keepdim)?;
        let keep = dims.keep_shape("logsumexp", x.shape())?;
        Ok(record(y.clone(), "LogsumexpBackward0", &[&t], || Logsumexp { x, y, keep }))
    }

    /// The 2-norm (Euclidean length) of all elements, `sqrt(sum x^2)`, like `x.norm()` or
    /// `torch.linalg.vector_norm(x)`. Derivative: `x / y` (0 where `y = 0`).
    pub fn norm(&self) -> Result<Tensor> {
        self.vector_norm(2.0, Dims::All, false)
    }

    /// The 2-norm over `dim`, like `x.norm(dim=dim, keepdim=keepdim)`.
    pub fn norm_dim(&self, dim: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        self.vector_norm(2.0, dim, keepdim)
    }

    /// The `ord`-norm over `dim`, like `torch.linalg.vector_norm(x, ord, dim, keepdim)`:
    /// `(sum |x|^ord)^(1/ord)`; `ord` 2 is the Euclidean length, 1 the sum of magnitudes,
    /// `f64::INFINITY` (`NEG_INFINITY`) the largest (smallest) magnitude, 0 the number of
    /// nonzero elements. Float tensors only. Derivative: `sign(x) |x|^(ord-1) / y^(ord-1)`
    /// (0 where `y = 0`; see the rule for the infinite and 0 norms).
    pub fn vector_norm(&self, ord: f64, dim: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        let (x, dims) = (self.data(), dim.into());
        let y = x.vector_norm(ord, &dims, keepdim)?;
        let keep = dims.keep_shape("vector_norm", x.shape())?;
        let rule = || Norm { x, y: y.clone(), keep, dims, ord };
        Ok(record(y.clone(), "LinalgVectorNormBackward0", &[self], rule))
    }

    /// A histogram of the values, like `torch.histc(x, bins, min, max)`: `bins` equal bins
    /// over `[min, max]`, counted in the tensor's float dtype; `min == max` (PyTorch passes 0
    /// and 0 by default) uses the data's range. Values outside the range and NaN are not
    /// counted. No gradient. Errors: `bins == 0`, `min > max`, an infinite range.
    pub fn histc(&self, bins: usize, min: f64, max: f64) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().histc(bins, min, max)?))
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

    /// Indices of the largest values over `dim` (i64, the first of ties; no gradient).
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().argmax(dim, keepdim)?))
    }

    /// Indices of the smallest values over `dim` (i64, the first of ties; no gradient).
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().argmin(dim, keepdim)?))
    }
}

/// `prod()` of all elements: the rule of `prod` along dim 0 of the flattened input, reshaped
/// back to the input's shape.
struct ProdAll(Prod, Shape);
impl Backward for ProdAll {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let d = self.0.backward(&g.reshape([1])?, needs)?;
        one(d[0]
            .as_ref()
            .ok_or_else(|| Error::autograd("prod", "no gradient"))?
            .reshape(dims_isize(&self.1))?)
    }
}

/// `var(x)` over `dims`: the variance and the backward rule (saving `x` and the mean,
/// reshaped to the kept shape).
fn var_parts(x: &TensorData, dims: &Dims, correction: f64, keepdim: bool) -> Result<(TensorData, Var)> {
    let (var, mean) = x.var_mean_dims(dims, correction, keepdim)?;
    let keep = dims.keep_shape("var", x.shape())?;
    let n = x.numel().checked_div(keep.numel()).unwrap_or(0);
    let all = matches!(dims, Dims::All) || x.dims().is_empty();
    let rule = Var { x: x.clone(), mean: kept(&mean, &keep)?, keep, dof: n as f64 - correction, all };
    Ok((var, rule))
}

/// `e` with its op renamed to `op` (an error of the shared `var` kernel, raised by `std`).
fn rename(e: Error, op: &'static str) -> Error {
    match e {
        Error::DimOutOfRange { dim, ndim, .. } => Error::DimOutOfRange { op, dim, ndim },
        Error::DTypeMismatch { expected, got, hint, .. } => Error::DTypeMismatch { op, expected, got, hint },
        Error::InvalidArgument { msg, .. } => Error::InvalidArgument { op, msg },
        e => e,
    }
}

/// A `(2, 3, 4)` sample, a dim of it and a keepdim flag.
fn dim_case(s: &mut Sampler) -> (TensorData, isize, bool) {
    let x = s.sized(&[2, 3, 4]);
    (x, s.dim(3), s.flag())
}

/// A `(2, 3, 4)` sample (every size at least 2 outside `Fuzz`, so a variance with
/// correction 1 is finite), a list of dims (adjacent or not, or empty: all) and a keepdim flag.
fn dims_case(s: &mut Sampler) -> (TensorData, Vec<isize>, bool) {
    let shape: Vec<usize> = [2, 3, 4]
        .iter()
        .map(|&d| if s.mode() == Mode::Fuzz { s.size(d) } else { s.size(d).max(2) })
        .collect();
    let x = s.float(&shape);
    let dims = if s.mode() == Mode::Fuzz {
        (0..s.below(3)).map(|_| s.dim(3)).collect()
    } else {
        s.pick(&[vec![0, 2], vec![-1, 0], vec![1, 2], vec![0, 1, 2], vec![], vec![1]])
    };
    (x, dims, s.flag())
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
        OpInfo::no_grad("argmin", |s| {
            let (x, d, k) = dim_case(s);
            Case::new([x], move |t| t[0].argmin(d, k))
        }),
        OpInfo::new("sum_dims", |s| {
            let (x, d, k) = dims_case(s);
            Case::new([x], move |t| t[0].sum_dim(&d, k))
        }),
        OpInfo::new("mean_dims", |s| {
            let (x, d, k) = dims_case(s);
            Case::new([x], move |t| t[0].mean_dim(&d, k))
        }),
        OpInfo::new("logsumexp_dims", |s| {
            let (x, d, k) = dims_case(s);
            Case::new([x], move |t| t[0].logsumexp(&d, k))
        }),
        OpInfo::new("var", |s| {
            let (x, d, k) = dims_case(s);
            let c = s.pick(&[1.0, 0.0, 0.5]);
            Case::new([x], move |t| t[0].var_with(&d, c, k))
        }),
        OpInfo::new("std", |s| {
            let (x, d, k) = dims_case(s);
            let c = s.pick(&[1.0, 0.0, 0.5]);
            Case::new([x], move |t| t[0].std_with(&d, c, k))
        }),
        OpInfo::new("var_all", |s| Case::new([s.sized(&[3, 4])], |t| t[0].var())),
        OpInfo::new("std_all", |s| Case::new([s.sized(&[3, 4])], |t| t[0].std())),
        OpInfo::new("cumsum", |s| {
            let (x, d, _) = dim_case(s);
            Case::new([x], move |t| t[0].cumsum(d))
        }),
        OpInfo::new("prod", |s| Case::new([s.sized(&[3, 4])], |t| t[0].prod())),
        OpInfo::new("prod_dim", |s| {
            let (x, d, k) = dim_case(s);
            Case::new([x], move |t| t[0].prod_dim(d, k))
        }),
        OpInfo::new("norm", |s| Case::new([s.sized(&[3, 4])], |t| t[0].norm())),
        // Sample values are distinct in magnitude and away from 0, where the p-norms kink.
        OpInfo::new("vector_norm", |s| {
            let (x, d, k) = dims_case(s);
            let ord = s.pick(&[2.0, 1.0, 3.0, 1.5, 0.5, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0]);
            Case::new([x], move |t| t[0].vector_norm(ord, &d, k))
        }),
        OpInfo::no_grad("histc", |s| {
            let x = s.sized(&[3, 4]);
            let bins = s.pick(&[1, 4, 10, 0]);
            let (lo, hi) = (s.scalar(-3.0, 0.0), s.scalar(0.0, 3.0));
            let (lo, hi) = s.pick(&[(lo, hi), (0.0, 0.0), (hi, lo)]);
            Case::new([x], move |t| t[0].histc(bins, lo, hi))
        }),
    ]
}
