//! Matrix products. For `y = a @ b`: `da = g @ b^T`, `db = a^T @ g`; batch dimensions that
//! were broadcast are summed back, and 1-D operands (promoted to a row or a column by
//! `torch.matmul`'s rules) get their dimension removed again.

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::ops::{dims_isize, wanted};
use crate::tensor::Tensor;
use smallvec::smallvec;
use std::borrow::Cow;
use torchlet_tensor_core::{Error, Result, Shape, TensorData};

/// `y = a @ b` with `torch.matmul`'s rules.
struct Matmul {
    a: TensorData,
    b: TensorData,
}
impl Backward for Matmul {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let (a, b) = (&self.a, &self.b);
        // Undo the 1-D promotions: a (k) -> (1, k), b (k) -> (k, 1); g gets those dims back.
        let a2 = if a.ndim() == 1 { a.unsqueeze(0)? } else { a.clone() };
        let b2 = if b.ndim() == 1 { b.unsqueeze(1)? } else { b.clone() };
        let mut g2 = g.clone();
        if a.ndim() == 1 {
            g2 = g2.unsqueeze(if b.ndim() == 1 { 0 } else { -2 })?;
        }
        if b.ndim() == 1 {
            g2 = g2.unsqueeze(-1)?;
        }
        let ga = wanted(needs[0], || {
            g2.matmul(&b2.transpose(-1, -2)?)?.sum_to_shape(a2.shape())?.reshape(dims_isize(a.shape()))
        })?;
        let gb = wanted(needs[1], || {
            a2.transpose(-1, -2)?.matmul(&g2)?.sum_to_shape(b2.shape())?.reshape(dims_isize(b.shape()))
        })?;
        Ok(smallvec![ga, gb])
    }
}

/// The number of rows of `(*, in)` seen as `(rows, in)`: the product of the leading dims
/// (spelled out rather than `-1`, which is ambiguous when `in = 0`).
fn leading_rows(shape: &Shape) -> isize {
    shape.dims()[..shape.ndim().saturating_sub(1)].iter().product::<usize>() as isize
}

/// `y = x W^T + bias` for `x` of shape `(*, in)`: `dx = g W`, `dW = g^T x` (leading dims
/// flattened into rows), `dbias = sum of g's rows`.
struct Linear {
    x: TensorData,
    w: TensorData,
    bias: bool,
}
impl Backward for Linear {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let (x, w) = (&self.x, &self.w);
        let (out_f, in_f) = (w.dims()[0] as isize, w.dims()[1] as isize);
        let flat = x.ndim() != 2; // (*, in) inputs are handled as (rows, in)
        let rows = leading_rows(x.shape());
        let g2 = if flat { g.reshape([rows, out_f])? } else { g.clone() };
        let gx = wanted(needs[0], || {
            let gx = g2.matmul(w)?;
            if flat {
                gx.reshape(dims_isize(x.shape()))
            } else {
                Ok(gx)
            }
        })?;
        let gw = wanted(needs[1], || {
            let x2 = if flat { x.reshape([rows, in_f])? } else { x.clone() };
            g2.t()?.matmul(&x2)
        })?;
        let mut out: Grads = smallvec![gx, gw];
        if self.bias {
            out.push(wanted(needs[2], || g2.sum_dim(0, false))?);
        }
        Ok(out)
    }
}

impl Tensor {
    /// Matrix product with `torch.matmul`'s rules (1-D operands, broadcast batch dims).
    /// Derivatives: `g @ b^T`, `a^T @ g`.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let b = other.data();
        // (`self` is read in place; the rule, built only when a gradient is tracked, copies it.)
        let (out, a_ndim) = self.with_data(|a| {
            let out = a.matmul(&b).map_err(|e| match e {
                Error::ShapeMismatch { reason, .. } => Error::shapes("matmul", a.shape(), b.shape(), reason),
                e => e,
            })?;
            Ok::<_, Error>((out, a.ndim()))
        })?;
        let name = if a_ndim == 2 && b.ndim() == 2 { "MmBackward0" } else { "MatmulBackward0" };
        Ok(record(out, name, &[self, other], || Matmul { a: self.data(), b }))
    }

    /// `x @ weight^T + bias` for `x` of shape `(*, in)` and `weight` `(out, in)`, like
    /// `F.linear`; no transpose is materialised. Derivatives: `g W`, `g^T x`, row sums of `g`.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let w = weight.data();
        let mut inputs: smallvec::SmallVec<[&Tensor; 3]> = smallvec![self, weight];
        let bd = bias.map(|b| {
            inputs.push(b);
            b.data()
        });
        // A weight no optimizer step can change between calls (no gradient will be taken
        // for it: inference) stays packed for the next call where that pays.
        let reused = !(crate::graph::is_grad_enabled() && weight.requires_grad());
        // (x is read in place; the rule, built only when a gradient is tracked, copies it.)
        let (out, ndim) = self.with_data(|x| -> Result<(TensorData, usize)> {
            if w.ndim() != 2 || x.ndim() == 0 || x.dims()[x.ndim() - 1] != w.dims()[1] {
                return Err(Error::shapes("linear", x.shape(), w.shape(), format!("cannot be multiplied (input features {} vs weight (out, in) = {}); the input's last dimension must equal weight.shape[1]", x.dims().last().map_or("none".into(), |d| d.to_string()), w.shape())));
            }
            // (*, in) -> (rows, in) @ W^T (a strided view, no copy) + bias -> (*, out).
            let x2 = if x.ndim() == 2 {
                Cow::Borrowed(x)
            } else {
                Cow::Owned(x.reshape([leading_rows(x.shape()), w.dims()[1] as isize])?)
            };
            let product = if reused { TensorData::addmm_reused } else { TensorData::addmm };
            let out2 = product(&x2, bd.as_ref(), &w.t()?).map_err(|e| match e {
                Error::ShapeMismatch { .. } => Error::shapes(
                    "linear",
                    bd.as_ref().map_or(w.shape(), |b| b.shape()),
                    w.shape(),
                    format!("mismatch: bias needs shape [{}] for a weight of shape {}", w.dims()[0], w.shape()),
                ),
                e => e,
            })?;
            if x.ndim() == 2 {
                return Ok((out2, 2));
            }
            let mut dims = dims_isize(x.shape());
            *dims.last_mut().expect("x has a last dim") = w.dims()[0] as isize;
            Ok((out2.reshape(&dims)?, x.ndim()))
        })?;
        let name = match (bias.is_some(), ndim) {
            (true, 2) => "AddmmBackward0",
            (true, _) => "AddBackward0",
            (false, 2) => "MmBackward0",
            (false, _) => "MatmulBackward0",
        };
        Ok(record(out, name, &inputs, || Linear { x: self.data(), w, bias: bias.is_some() }))
    }
}

/// Operand shapes for one of matmul's forms.
fn matmul_shapes(s: &mut Sampler) -> (Vec<usize>, Vec<usize>) {
    let (b, m, k, n) = (s.size(2), s.size(3), s.size(4), s.size(2));
    match s.below(7) {
        0 => (vec![m, k], vec![k, n]),
        1 => (vec![k], vec![k, n]),
        2 => (vec![m, k], vec![k]),
        3 => (vec![k], vec![k]),
        4 => (vec![b, m, k], vec![b, k, n]),
        5 => (vec![b, m, k], vec![k, n]),
        _ => (vec![b, 1, m, k], vec![3, k, n]),
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        OpInfo::new("matmul", |s| {
            let (a, b) = matmul_shapes(s);
            Case::new([s.float(&a), s.float(&b)], |t| t[0].matmul(&t[1]))
        }),
        // A product large enough for the GEMM path (more than 16k multiply-adds).
        OpInfo::new("matmul_gemm", |s| {
            let (m, k, n) = (40 + s.size(3), 30 + s.size(3), 20 + s.size(3));
            Case::new([s.float(&[m, k]), s.float(&[k, n])], |t| t[0].matmul(&t[1])?.sum())
        }),
        // Attention's shapes: q (B, h, T, hs) @ k^T (1, h, hs, T), k transposed (a strided
        // view) and broadcast over the batch.
        OpInfo::new("matmul_attention", |s| {
            let (b, h, t, hs) = (s.size(2), s.size(2), s.size(3), s.size(4));
            Case::new([s.float(&[b, h, t, hs]), s.float(&[1, h, t, hs])], |x| {
                x[0].matmul(&x[1].transpose(-2, -1)?)?.softmax(-1)
            })
        }),
        OpInfo::new("matmul_transposed", |s| {
            let (m, k, n) = (s.size(3), s.size(4), s.size(5));
            Case::new([s.float(&[m, k]), s.float(&[n, k])], |t| t[0].matmul(&t[1].t()?))
        }),
        OpInfo::new("linear", |s| {
            let (i, o) = (s.size(3), s.size(2));
            let x = s.pick(&[vec![4, i], vec![i], vec![2, 3, i]]);
            let (x, w, b) = (s.float(&x), s.float(&[o, i]), s.float(&[o]));
            if s.flag() {
                Case::new([x, w, b], |t| t[0].linear(&t[1], Some(&t[2])))
            } else {
                Case::new([x, w], |t| t[0].linear(&t[1], None))
            }
        }),
    ]
}
