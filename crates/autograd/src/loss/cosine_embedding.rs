//! `cosine_embedding_loss`: `1 - cos` for pairs labelled 1, `max(0, cos - margin)` for pairs
//! labelled -1, built from differentiable ops like PyTorch's, so its gradient comes from
//! theirs: `d cos/dx1 = x2 / sqrt(m1 m2) - cos x1 / m1` with `m = |x|^2 + 1e-12` (and
//! symmetrically for `x2`), times -1 or 1.

use crate::catalog::{Case, OpInfo};
use crate::loss::{any_reduction, same_float, Reduced, Reduction};
use crate::tensor::Tensor;
use torchlet_tensor_core::{DType, Error, Result};

/// Options of [`cosine_embedding_loss_with`].
#[derive(Clone, Debug, Default)]
pub struct CosineEmbeddingOpts {
    /// Default 0.
    pub margin: f64,
    /// Default `Mean`.
    pub reduction: Reduction,
}

impl CosineEmbeddingOpts {
    /// Sets the margin.
    pub fn margin(mut self, m: f64) -> Self {
        self.margin = m;
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
}

/// `cosine_embedding_loss(x1, x2, y)` with PyTorch's defaults.
pub fn cosine_embedding_loss(x1: &Tensor, x2: &Tensor, y: &Tensor) -> Result<Tensor> {
    cosine_embedding_loss_with(x1, x2, y, &CosineEmbeddingOpts::default())
}

/// `1 - cos` where y = 1, `max(0, cos - margin)` where y = -1, 0 for other y, with
/// `cos = sum(x1 x2) / sqrt((sum(x1^2) + 1e-12) (sum(x2^2) + 1e-12))` over the last dim.
/// Shapes: `(N, D), (N, D)` with y `(N)`, or `(D), (D)` with y `()`.
///
/// Built from differentiable ops like PyTorch's, so both inputs get
/// `d cos/dx1 = x2 / sqrt(m1 m2) - cos x1 / m1` (and symmetrically), times `-1` or `1`.
pub fn cosine_embedding_loss_with(
    x1: &Tensor,
    x2: &Tensor,
    y: &Tensor,
    o: &CosineEmbeddingOpts,
) -> Result<Tensor> {
    const OP: &str = "cosine_embedding_loss";
    let (a, b, yd) = (x1.data(), x2.data(), y.data());
    same_float(OP, "input2", &a, &b)?;
    let ok = match yd.ndim() {
        1 => a.ndim() == 2 && b.ndim() == 2 && a.dims()[0] == yd.dims()[0],
        0 => a.ndim() == 1 && b.ndim() == 1,
        _ => false,
    };
    if !ok || a.shape() != b.shape() {
        return Err(Error::shapes(OP, a.shape(), b.shape(), format!("do not fit target {}: expected inputs (N, D), (N, D) with target (N), or (D), (D) with a 0-D target (0D or 1D target tensor expected, multi-target not supported)", yd.shape())));
    }
    if yd.dtype() == DType::Bool {
        return Err(Error::dtype(
            OP,
            "a target of 1 / -1 values (i64 or float)",
            yd.dtype(),
            "; convert with .to_dtype(DType::I64)",
        ));
    }
    let red = Reduced::new(OP, o.reduction, 0.0)?;
    let dim = yd.ndim() as isize;
    let eps = 1e-12;
    let prod = x1.mul(x2)?.sum_dim(dim, false)?;
    let m1 = x1.mul(x1)?.sum_dim(dim, false)?.add_scalar(eps)?;
    let m2 = x2.mul(x2)?.sum_dim(dim, false)?.add_scalar(eps)?;
    let cos = prod.div(&m1.mul(&m2)?.sqrt()?)?;
    let pos = Tensor::where_cond(&y.eq(1)?, &cos.rsub(1.0)?, 0.0)?;
    let neg = Tensor::where_cond(&y.eq(-1)?, &cos.sub(o.margin)?.clamp(Some(0.0), None)?, 0.0)?;
    let l = pos.add(&neg)?;
    match red {
        Reduced::None => Ok(l),
        Reduced::Sum => l.sum(),
        Reduced::Mean(_) => l.mean(),
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![OpInfo::new("cosine_embedding_loss", |s| {
        let (n, d) = (s.size(3), s.size(4));
        let batched = s.flag();
        let (xs, ys) = if batched { (vec![n, d], vec![n]) } else { (vec![d], vec![]) };
        // labels 1 and -1 from indices 0 and 1
        let y = s.index(&ys, 2);
        let y = y.mul_scalar(2.0).and_then(|v| v.add_scalar(-1.0)).unwrap_or(y);
        let opts = CosineEmbeddingOpts { margin: s.pick(&[0.0, 0.3, -0.2]), reduction: any_reduction(s) };
        Case::new([s.float(&xs), s.float(&xs), y], move |a| {
            cosine_embedding_loss_with(&a[0], &a[1], &a[2], &opts)
        })
    })]
}
