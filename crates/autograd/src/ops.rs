//! Differentiable operations on [`Tensor`]: each computes its value with a tensor-core
//! kernel and records its backward rule (see `backward.rs`) when an input requires grad.

use crate::backward::Op;
use crate::graph::record;
use crate::tensor::Tensor;
use torchlet_tensor_core::{DType, Error, Result, Shape, TensorData};

pub(crate) fn to_dtype(t: &Tensor, dtype: DType) -> Result<Tensor> {
    let d = t.data();
    let from = d.dtype();
    if t.requires_grad() && !dtype.is_float() {
        // An integer copy cannot carry a gradient; it is simply untracked (like PyTorch).
        return Ok(Tensor::from_data(d.to_dtype(dtype)));
    }
    Ok(record(d.to_dtype(dtype), "ToCopyBackward0", &[t], || Op::ToDtype { from }))
}

/// Unary ops that save their input (`a`) or their output (`out`) for backward.
macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident, $grad_fn:literal, $saves:ident => $variant:ident;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Result<Tensor> {
                    let a = self.data();
                    let out = a.$name()?;
                    unary!(@rec self, a, out, $grad_fn, $saves, $variant)
                }
            )*
        }
    };
    (@rec $s:ident, $a:ident, $out:ident, $g:literal, a, $v:ident) => {
        Ok(record($out, $g, &[$s], || Op::$v { a: $a }))
    };
    (@rec $s:ident, $a:ident, $out:ident, $g:literal, out, $v:ident) => {
        Ok(record($out.clone(), $g, &[$s], || Op::$v { out: $out }))
    };
}

unary! {
    /// `e^x`. Backward: `g * e^x`.
    exp, "ExpBackward0", out => Exp;
    /// Natural log. Backward: `g / x`.
    log, "LogBackward0", a => Log;
    /// `ln(1 + x)`. Backward: `g / (1 + x)`.
    log1p, "Log1PBackward0", a => Log1p;
    /// Square root. Backward: `g / (2 sqrt(x))`.
    sqrt, "SqrtBackward0", out => Sqrt;
    /// `|x|`. Backward: `g * sign(x)`.
    abs, "AbsBackward0", a => Abs;
    /// `1 / (1 + e^-x)`. Backward: `g * y * (1 - y)`.
    sigmoid, "SigmoidBackward0", out => Sigmoid;
    /// `max(x, 0)`. Backward: `g` where `x > 0`, else 0.
    relu, "ReluBackward0", out => Relu;
    /// `tanh(x)`. Backward: `g * (1 - y^2)`.
    tanh, "TanhBackward0", out => Tanh;
    /// `ln(1 + e^x)` (x itself above 20). Backward: `g * sigmoid(x)`.
    softplus, "SoftplusBackward0", a => Softplus;
    /// `ln sigmoid(x) = min(x, 0) - ln(1 + e^-|x|)`. Backward: `g * sigmoid(-x)`.
    log_sigmoid, "LogSigmoidBackward0", a => LogSigmoid;
}

impl Tensor {
    fn binary(
        &self,
        other: &Tensor,
        name: &'static str,
        f: fn(&TensorData, &TensorData) -> Result<TensorData>,
        op: fn(TensorData, TensorData) -> Op,
    ) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        let out = f(&a, &b)?;
        Ok(record(out, name, &[self, other], || op(a, b)))
    }

    /// `self + other` with broadcasting. Backward: `g` to both, summed over broadcast dims.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, "AddBackward0", TensorData::add, |a, b| Op::Add {
            a: a.shape().clone(),
            b: b.shape().clone(),
        })
    }

    /// `self - other`. Backward: `g`, `-g`.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, "SubBackward0", TensorData::sub, |a, b| Op::Sub {
            a: a.shape().clone(),
            b: b.shape().clone(),
        })
    }

    /// `self * other`. Backward: `g * other`, `g * self`.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, "MulBackward0", TensorData::mul, |a, b| Op::Mul { a, b })
    }

    /// `self / other`. Backward: `g / other`, `-g * self / other^2`.
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, "DivBackward0", TensorData::div, |a, b| Op::Div { a, b })
    }

    /// `self ** other` elementwise. Backward: `g b a^(b-1)`, `g y ln a`.
    pub fn pow(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        let out = a.pow(&b)?;
        Ok(record(out.clone(), "PowBackward1", &[self, other], || Op::Pow { a, b, out }))
    }

    /// `max(self, other)` elementwise. Backward: to the larger, split on ties.
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, "MaximumBackward0", TensorData::maximum, |a, b| Op::Maximum { a, b })
    }

    /// `min(self, other)` elementwise. Backward: to the smaller, split on ties.
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, "MinimumBackward0", TensorData::minimum, |a, b| Op::Minimum { a, b })
    }

    /// `self ** e` for a scalar exponent. Backward: `g e x^(e-1)`.
    pub fn pow_scalar(&self, e: f64) -> Result<Tensor> {
        let a = self.data();
        Ok(record(a.pow_scalar(e)?, "PowBackward0", &[self], || Op::PowScalar { a, e }))
    }

    /// `self + s`. Backward: `g`.
    pub fn add_scalar(&self, s: f64) -> Result<Tensor> {
        let a = self.data();
        Ok(record(a.add_scalar(s)?, "AddBackward1", &[self], || Op::Add {
            a: a.shape().clone(),
            b: Shape::scalar(),
        }))
    }

    /// `self * s`. Backward: `g * s`.
    pub fn mul_scalar(&self, s: f64) -> Result<Tensor> {
        Ok(record(self.data().mul_scalar(s)?, "MulBackward0", &[self], || Op::Scale { s }))
    }

    /// `-self`. Backward: `-g`.
    pub fn neg(&self) -> Result<Tensor> {
        Ok(record(self.data().neg()?, "NegBackward0", &[self], || Op::Neg))
    }

    /// Clamps into `[min, max]`. Backward: `g` inside the range (bounds included), else 0.
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        let a = self.data();
        Ok(record(a.clamp(min, max)?, "ClampBackward1", &[self], || Op::Clamp { a, min, max }))
    }

    /// `cond ? self : other` elementwise (`torch.where(cond, self, other)`).
    pub fn where_cond(cond: &TensorData, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let (x, y) = (a.data(), b.data());
        let out = TensorData::where_cond(cond, &x, &y)?;
        Ok(record(out, "WhereBackward0", &[a, b], || Op::Where {
            cond: cond.clone(),
            a: x.shape().clone(),
            b: y.shape().clone(),
        }))
    }

    // ----- comparisons (no gradient) --------------------------------------------------------

    /// Elementwise `self > s` as a bool mask.
    pub fn gt_scalar(&self, s: f64) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().gt_scalar(s)?))
    }

    /// Elementwise `self == other` as a bool mask.
    pub fn eq(&self, other: &Tensor) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().eq(&other.data())?))
    }

    // ----- softmax family -------------------------------------------------------------------

    /// `softmax(x, dim)` (stable). Backward: `(g - sum(g y, dim)) y`.
    pub fn softmax(&self, dim: isize) -> Result<Tensor> {
        let out = self.data().softmax(dim)?;
        Ok(record(out.clone(), "SoftmaxBackward0", &[self], || Op::Softmax { out, dim }))
    }

    /// `log_softmax(x, dim)` (stable). Backward: `g - e^y sum(g, dim)`.
    pub fn log_softmax(&self, dim: isize) -> Result<Tensor> {
        let out = self.data().log_softmax(dim)?;
        Ok(record(out.clone(), "LogSoftmaxBackward0", &[self], || Op::LogSoftmax { out, dim }))
    }

    // ----- reductions -----------------------------------------------------------------------

    /// Sum of all elements. Backward: `g` broadcast to the input.
    pub fn sum(&self) -> Result<Tensor> {
        let a = self.data();
        Ok(record(a.sum()?, "SumBackward0", &[self], || Op::Sum { shape: a.shape().clone() }))
    }

    /// Sum over `dim`. Backward: `g` broadcast along `dim`.
    pub fn sum_dim(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let a = self.data();
        Ok(record(a.sum_dim(dim, keepdim)?, "SumBackward1", &[self], || Op::SumDim {
            shape: a.shape().clone(),
            dim,
            keepdim,
        }))
    }

    /// Mean of all elements. Backward: `g / n`.
    pub fn mean(&self) -> Result<Tensor> {
        let a = self.data();
        Ok(record(a.mean()?, "MeanBackward0", &[self], || Op::Mean { shape: a.shape().clone() }))
    }

    /// Mean over `dim`. Backward: `g / n` broadcast along `dim`.
    pub fn mean_dim(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let a = self.data();
        Ok(record(a.mean_dim(dim, keepdim)?, "MeanBackward1", &[self], || Op::MeanDim {
            shape: a.shape().clone(),
            dim,
            keepdim,
        }))
    }

    /// Largest element. Backward: `g` shared evenly among the maxima.
    pub fn max(&self) -> Result<Tensor> {
        let a = self.data();
        let out = a.max()?;
        Ok(record(out.clone(), "MaxBackward1", &[self], || Op::Extreme { a, out }))
    }

    /// Smallest element. Backward: `g` shared evenly among the minima.
    pub fn min(&self) -> Result<Tensor> {
        let a = self.data();
        let out = a.min()?;
        Ok(record(out.clone(), "MinBackward1", &[self], || Op::Extreme { a, out }))
    }

    /// Largest values over `dim` and their (i64) indices. Backward: `g` to the argmax.
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let a = self.data();
        let (v, i) = a.max_dim(dim, keepdim)?;
        let shape = a.shape().clone();
        let idx = i.clone();
        Ok((
            record(v, "MaxBackward0", &[self], || Op::ExtremeDim { shape, dim, keepdim, indices: idx }),
            Tensor::from_data(i),
        ))
    }

    /// Smallest values over `dim` and their (i64) indices. Backward: `g` to the argmin.
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let a = self.data();
        let (v, i) = a.min_dim(dim, keepdim)?;
        let shape = a.shape().clone();
        let idx = i.clone();
        Ok((
            record(v, "MinBackward0", &[self], || Op::ExtremeDim { shape, dim, keepdim, indices: idx }),
            Tensor::from_data(i),
        ))
    }

    /// Indices of the largest values over `dim` (i64, no gradient).
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().argmax(dim, keepdim)?))
    }

    /// `ln(sum(e^x, dim))`, stable. Backward: `g * softmax(x, dim)`.
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let a = self.data();
        let out = a.logsumexp(dim, keepdim)?;
        Ok(record(out.clone(), "LogsumexpBackward0", &[self], || Op::Logsumexp { a, out, dim, keepdim }))
    }

    // ----- shape ----------------------------------------------------------------------------

    fn reshaped(&self, out: TensorData, name: &'static str) -> Tensor {
        let shape = self.shape();
        record(out, name, &[self], || Op::Reshape { shape })
    }

    /// The same elements in a new shape (one `-1` is inferred). Backward: reshape back.
    pub fn reshape(&self, shape: &[isize]) -> Result<Tensor> {
        Ok(self.reshaped(self.data().reshape(shape)?, "ViewBackward0"))
    }

    /// Alias of [`Tensor::reshape`] (`view`).
    pub fn view(&self, shape: &[isize]) -> Result<Tensor> {
        self.reshape(shape)
    }

    /// Removes dimension `dim` if its size is 1.
    pub fn squeeze_dim(&self, dim: isize) -> Result<Tensor> {
        Ok(self.reshaped(self.data().squeeze_dim(dim)?, "SqueezeBackward1"))
    }

    /// Removes every size-1 dimension.
    pub fn squeeze(&self) -> Result<Tensor> {
        Ok(self.reshaped(self.data().squeeze(), "SqueezeBackward0"))
    }

    /// Inserts a size-1 dimension at `dim`.
    pub fn unsqueeze(&self, dim: isize) -> Result<Tensor> {
        Ok(self.reshaped(self.data().unsqueeze(dim)?, "UnsqueezeBackward0"))
    }

    /// Flattens dims `start..=end` into one.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        Ok(self.reshaped(self.data().flatten(start, end)?, "ViewBackward0"))
    }

    /// Reorders dimensions. Backward: the inverse permutation.
    pub fn permute(&self, perm: &[isize]) -> Result<Tensor> {
        let out = self.data().permute(perm)?;
        let perm = perm.to_vec();
        Ok(record(out, "PermuteBackward0", &[self], || Op::Permute { perm }))
    }

    /// Swaps two dimensions. Backward: swap them back.
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let n = self.ndim();
        let out = self.data().transpose(d0, d1)?;
        let mut perm: Vec<isize> = (0..n as isize).collect();
        if n > 0 {
            let (a, b) = (self.shape().dim("transpose", d0)?, self.shape().dim("transpose", d1)?);
            perm.swap(a, b);
        }
        Ok(record(out, "TransposeBackward0", &[self], || Op::Permute { perm }))
    }

    /// Matrix transpose (`.t()`), for tensors of rank <= 2.
    pub fn t(&self) -> Result<Tensor> {
        if self.ndim() > 2 {
            return self.data().t().map(Tensor::from_data);
        }
        if self.ndim() < 2 {
            return Ok(self.clone());
        }
        self.transpose(0, 1)
    }

    /// Broadcasts to `shape` (a view). Backward: sum over the broadcast dims.
    pub fn expand(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let a = self.data();
        let out = a.expand(shape)?;
        Ok(record(out, "ExpandBackward0", &[self], || Op::Expand { shape: a.shape().clone() }))
    }

    /// Elements `start..start+len` along `dim`. Backward: `g` placed back into zeros.
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Tensor> {
        let a = self.data();
        let out = a.narrow(dim, start, len)?;
        Ok(record(out, "NarrowBackward0", &[self], || Op::Narrow { shape: a.shape().clone(), dim, start }))
    }

    /// A contiguous copy (same values; differentiable).
    pub fn contiguous(&self) -> Result<Tensor> {
        Ok(self.reshaped(self.data().contiguous(), "CloneBackward0"))
    }

    /// Concatenates along `dim`. Backward: each input gets its slice of `g`.
    pub fn cat(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let datas: Vec<TensorData> = tensors.iter().map(|t| t.data()).collect();
        let refs: Vec<&TensorData> = datas.iter().collect();
        let out = TensorData::cat(&refs, dim)?;
        let d = out.shape().dim("cat", dim)?;
        let sizes = datas.iter().map(|t| t.dims()[d]).collect();
        Ok(record(out, "CatBackward0", tensors, || Op::Cat { dim: d as isize, sizes }))
    }

    /// Stacks same-shaped tensors along a new dimension.
    pub fn stack(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let first =
            tensors.first().ok_or_else(|| Error::invalid("stack", "expected a non-empty list of tensors"))?;
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(Error::shapes(
                    "stack",
                    &first.shape(),
                    &t.shape(),
                    "cannot be stacked (all tensors need the same shape)",
                ));
            }
        }
        let d = torchlet_tensor_core::shape::normalize_dim("stack", dim, first.ndim() + 1)? as isize;
        let un: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d)).collect::<Result<_>>()?;
        let refs: Vec<&Tensor> = un.iter().collect();
        Tensor::cat(&refs, d)
    }

    /// Selects entries along `dim` by i64 indices. Backward: index-add `g` back.
    pub fn index_select(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let (a, i) = (self.data(), index.data());
        let out = a.index_select(dim, &i)?;
        Ok(record(out, "IndexSelectBackward0", &[self, index], || Op::IndexSelect {
            shape: a.shape().clone(),
            dim,
            index: i,
        }))
    }

    /// `torch.gather`: `x.gather(1, &t.unsqueeze(1)?)` is `x[range(n), t]`. Backward:
    /// scatter-add `g` to the gathered positions.
    pub fn gather(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let (a, i) = (self.data(), index.data());
        let out = a.gather(dim, &i)?;
        Ok(record(out, "GatherBackward0", &[self, index], || Op::Gather {
            shape: a.shape().clone(),
            dim,
            index: i,
        }))
    }

    /// One-hot encoding of i64 class indices (no gradient), like `F.one_hot`.
    pub fn one_hot(&self, num_classes: Option<usize>) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().one_hot(num_classes)?))
    }

    // ----- linear algebra -------------------------------------------------------------------

    /// Matrix product with `torch.matmul`'s rules. Backward: `g @ b^T`, `a^T @ g`.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        let out = a.matmul(&b).map_err(|e| match e {
            Error::ShapeMismatch { reason, .. } => Error::shapes("matmul", a.shape(), b.shape(), reason),
            e => e,
        })?;
        let name = if a.ndim() == 2 && b.ndim() == 2 { "MmBackward0" } else { "MatmulBackward0" };
        Ok(record(out, name, &[self, other], || Op::Matmul { a, b }))
    }

    /// `x @ weight^T + bias` for `x` of shape `(*, in)` and `weight` `(out, in)`, like
    /// `F.linear`; no transpose is materialised. Backward: `g W`, `g^T x`, row sums of `g`.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let (x, w) = (self.data(), weight.data());
        if w.ndim() != 2 || x.ndim() == 0 || x.dims()[x.ndim() - 1] != w.dims()[1] {
            return Err(Error::shapes("linear", x.shape(), w.shape(), format!("cannot be multiplied (input features {} vs weight (out, in) = {}); the input's last dimension must equal weight.shape[1]", x.dims().last().map_or("none".into(), |d| d.to_string()), w.shape())));
        }
        let mut inputs = vec![self, weight];
        let bd = match bias {
            Some(b) => {
                inputs.push(b);
                Some(b.data())
            }
            None => None,
        };
        // (*, in) -> (rows, in) @ W^T (a strided view, no copy) + bias -> (*, out).
        let x2 = if x.ndim() == 2 { x.clone() } else { x.reshape(&[-1, w.dims()[1] as isize])? };
        let out2 = x2.addmm(bd.as_ref(), &w.t()?).map_err(|e| match e {
            Error::ShapeMismatch { .. } => Error::shapes(
                "linear",
                bd.as_ref().map_or(w.shape(), |b| b.shape()),
                w.shape(),
                format!("mismatch: bias needs shape [{}] for a weight of shape {}", w.dims()[0], w.shape()),
            ),
            e => e,
        })?;
        let mut out_dims: Vec<isize> = x.dims()[..x.ndim() - 1].iter().map(|&d| d as isize).collect();
        out_dims.push(w.dims()[0] as isize);
        let out = if x.ndim() == 2 { out2 } else { out2.reshape(&out_dims)? };
        let name = match (bias.is_some(), x.ndim()) {
            (true, 2) => "AddmmBackward0",
            (true, _) => "AddBackward0",
            (false, 2) => "MmBackward0",
            (false, _) => "MatmulBackward0",
        };
        Ok(record(out, name, &inputs, || Op::Linear { x, w, bias: bias.is_some() }))
    }
}
