//! The layout of class scores shared by `cross_entropy` and `nll_loss`: an input of shape
//! `(C)`, `(N, C)` or `(N, C, d1..dk)` holds `rows = N * d1 * .. * dk` positions of `C` class
//! scores each, and its class-index target has shape `()`, `(N)` or `(N, d1..dk)`. The checks
//! follow PyTorch's `nll_loss_nd`, with its wording in the messages.

use crate::loss::same_float;
use crate::ops::dims_isize;
use crate::tensor::Tensor;
use torchlet_tensor_core::{Error, Result, Shape, TensorData};

/// How `(N, C, d1..dk)` logits map onto contiguous rows of `C` classes: `rows = N * d1..dk`.
#[derive(Clone, Debug)]
pub(crate) struct ClassLayout {
    /// The input's shape.
    pub(crate) shape: Shape,
    pub(crate) n: usize,
    pub(crate) c: usize,
    /// `d1 * .. * dk` (1 for `(C)` and `(N, C)` inputs).
    pub(crate) inner: usize,
}

impl ClassLayout {
    pub(crate) fn rows(&self) -> usize {
        self.n * self.inner
    }

    /// The shape of per-position results: `()`, `(N)` or `(N, d1..dk)`.
    pub(crate) fn position_shape(&self) -> Shape {
        let mut d = self.shape.0.clone();
        if !d.is_empty() {
            d.remove(if d.len() == 1 { 0 } else { 1 });
        }
        Shape(d)
    }

    /// `x` as contiguous `(rows, C)`: `(N, C, d..)` is permuted to `(N, d.., C)` first.
    pub(crate) fn to_rows(&self, x: &TensorData) -> Result<TensorData> {
        if self.inner == 1 {
            return Ok(x.contiguous());
        }
        let (n, c, i) = (self.n as isize, self.c as isize, self.inner as isize);
        Ok(x.reshape([n, c, i])?.permute(&[0, 2, 1])?.contiguous())
    }

    /// The inverse of [`ClassLayout::to_rows`].
    pub(crate) fn rows_to_input(&self, r: TensorData) -> Result<TensorData> {
        if self.inner == 1 {
            return r.reshape(dims_isize(&self.shape));
        }
        let (n, c, i) = (self.n as isize, self.c as isize, self.inner as isize);
        r.reshape([n, i, c])?.permute(&[0, 2, 1])?.contiguous().reshape(dims_isize(&self.shape))
    }
}

/// The error for a 0-D input, which has no class dimension.
pub(crate) fn no_class_dim(op: &'static str, x: &Shape) -> Error {
    Error::invalid(op, format!("Expected 1 or more dimensions (got 0): the input must be (C), (N, C) or (N, C, d1, ..., dk) scores, got shape {x}"))
}

/// Checks class-index targets against `x` like PyTorch's `nll_loss_nd`: `(C)` with `()`,
/// `(N, C)` with `(N)`, `(N, C, d1..dk)` with `(N, d1..dk)`.
pub(crate) fn class_layout(op: &'static str, x: &Shape, t: &Shape) -> Result<ClassLayout> {
    let d = x.dims();
    if d.is_empty() {
        return Err(no_class_dim(op, x));
    }
    let lay = |n: usize, inner: usize| ClassLayout { shape: x.clone(), n, c: d[d.len().min(2) - 1], inner };
    if d.len() == 1 {
        if t.ndim() != 0 {
            return Err(Error::shapes(op, x, t, "do not fit: an unbatched input (C) needs a 0-D target (one class index); 0D or 1D target tensor expected, multi-target not supported"));
        }
        return Ok(lay(1, 1));
    }
    if t.ndim() == 0 || t.dims()[0] != d[0] {
        let tb = t.dims().first().map_or("none (0-D target)".to_string(), |b| b.to_string());
        return Err(Error::shapes(op, x, t, format!("do not fit: Expected input batch_size ({}) to match target batch_size ({tb}). The target needs one class index per sample: shape {}", d[0], Shape::new(&[&d[..1], &d[2..]].concat()))));
    }
    if d.len() == 2 && t.ndim() != 1 {
        return Err(Error::shapes(op, x, t, format!("do not fit: 0D or 1D target tensor expected, multi-target not supported (for input (N, C) = {x} the target must be (N) = [{}])", d[0])));
    }
    if d.len() > 2 && t.dims() != [&d[..1], &d[2..]].concat().as_slice() {
        return Err(Error::shapes(op, x, t, format!("do not fit: Expected target size {}, got {t} (input (N, C, d1, ..., dk) needs target (N, d1, ..., dk))", Shape::new(&[&d[..1], &d[2..]].concat()))));
    }
    Ok(lay(d[0], d[2.min(d.len())..].iter().product()))
}

/// The class weights of `op` as values of `x`'s dtype, checked to have length `c`.
pub(crate) fn class_weight(
    op: &'static str,
    w: Option<&Tensor>,
    x: &TensorData,
    c: usize,
) -> Result<Option<TensorData>> {
    let Some(w) = w else { return Ok(None) };
    let w = w.data();
    if w.ndim() != 1 || w.numel() != c {
        return Err(Error::shapes(op, w.shape(), x.shape(), format!("do not fit: weight tensor should be defined either for all {c} classes or no classes but got weight tensor of shape: {} (pass a 1-D weight of length {c}, one per class)", w.shape())));
    }
    same_float(op, "a weight", x, &w)?;
    Ok(Some(w.contiguous()))
}

/// `Some(t)` for a target in `[0, c)`, `None` for `ignore`, an error naming the target otherwise.
pub(crate) fn check_ignore_and_range(
    op: &'static str,
    t: i64,
    c: usize,
    ignore: i64,
    x: &Shape,
) -> Result<Option<usize>> {
    if t == ignore {
        return Ok(None);
    }
    if t < 0 || t as usize >= c {
        return Err(Error::IndexOutOfRange {
            op,
            what: "Target",
            index: t,
            size: c,
            extra: format!(" or ignore_index {ignore}; Target {t} is out of bounds. for an input of shape {x} with {c} classes"),
        });
    }
    Ok(Some(t as usize))
}

impl ClassLayout {
    /// Flat offset into the input of class `k` at position `p = n * inner + i`.
    #[inline]
    pub(crate) fn offset(&self, p: usize, k: usize) -> usize {
        let (n, i) = (p / self.inner, p % self.inner);
        (n * self.c + k) * self.inner + i
    }
}
