//! `embedding`: a table lookup, `out[..., :] = weight[index[...], :]` (makemore's `C[X]`).
//! Each row of the table receives the sum of the gradients of the positions that looked it up
//! (repeated indices add up: a scatter-add), except the `padding_idx` row, which gets none.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::tensor::Tensor;
use smallvec::smallvec;
use torchlet_tensor_core::{DType, Error, Result, Shape, TensorData};

/// `y = weight[index]`: `dweight = index_add(zeros, 0, index, g)`, the padding row zeroed.
struct Embedding {
    rows: usize,
    dim: usize,
    index: TensorData,
    padding_idx: Option<usize>,
}

impl Backward for Embedding {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let n = self.index.numel();
        let g2 = g.reshape([n, self.dim])?;
        let mut dw = TensorData::index_add_zeros(&Shape::new(&[self.rows, self.dim]), 0, &self.index, &g2)?;
        if let Some(p) = self.padding_idx {
            let is_pad: Vec<bool> = (0..self.rows).map(|r| r == p).collect();
            dw = dw.masked_fill(&TensorData::from_vec(is_pad, [self.rows, 1])?, 0.0)?;
        }
        Ok(smallvec![None, Some(dw)])
    }
}

impl Tensor {
    /// `F.embedding(input, weight, padding_idx)`: for i64 indices `self` of any shape and a
    /// `(num_embeddings, embedding_dim)` `weight`, the rows `weight[self]`, of shape
    /// `self.shape + [embedding_dim]`. Derivative with respect to the weight: each row gets the
    /// sum of the gradients of the positions that selected it; the `padding_idx` row gets none.
    /// Indices get no gradient.
    pub fn embedding(&self, weight: &Tensor, padding_idx: Option<i64>) -> Result<Tensor> {
        const OP: &str = "embedding";
        let (idx, w) = (self.data(), weight.data());
        if idx.dtype() != DType::I64 {
            return Err(Error::dtype(OP, "i64 indices", idx.dtype(), "; convert with .to_dtype(DType::I64)"));
        }
        if w.ndim() != 2 {
            return Err(Error::invalid(
                OP,
                format!(
                    "the weight must be a (num_embeddings, embedding_dim) matrix, got shape {}",
                    w.shape()
                ),
            ));
        }
        let (rows, dim) = (w.dims()[0], w.dims()[1]);
        let pad = match padding_idx {
            None => None,
            Some(p) if (-(rows as i64)..rows as i64).contains(&p) => {
                Some(if p < 0 { p + rows as i64 } else { p } as usize)
            }
            Some(p) => {
                return Err(Error::IndexOutOfRange {
                    op: OP,
                    what: "padding_idx",
                    index: p,
                    size: rows,
                    extra: " (it must be within num_embeddings)".into(),
                })
            }
        };
        let flat = idx.reshape([-1])?.try_contiguous()?;
        if let Some(&bad) = flat.values::<i64>()?.iter().find(|&&i| i < 0 || i as usize >= rows) {
            return Err(Error::IndexOutOfRange {
                op: OP,
                what: "index",
                index: bad,
                size: rows,
                extra: format!(
                    " (the rows of an embedding of shape {}; index out of range in self)",
                    w.shape()
                ),
            });
        }
        let mut out_dims: Vec<usize> = idx.dims().to_vec();
        out_dims.push(dim);
        let out = w.index_select(0, &flat)?.reshape(&out_dims)?;
        Ok(record(out, "EmbeddingBackward0", &[self, weight], || Embedding {
            rows,
            dim,
            index: flat,
            padding_idx: pad,
        }))
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![OpInfo::new("embedding", |s| {
        let (rows, dim) = (s.size(5).max(2), s.size(3));
        let pad = s.pick(&[None, Some(1)]);
        // Repeated indices (their gradients add up), never the padding row: by definition it
        // gets no gradient although the output uses it, so finite differences cannot check it
        // (the parity cases do).
        let index = s.index(&[2, 3], rows);
        let index = match (pad, index.eq_scalar(1)) {
            (Some(_), Ok(is_pad)) => index.masked_fill(&is_pad, 0.0).unwrap_or(index),
            _ => index,
        };
        Case::new([index, s.float(&[rows, dim])], move |t| t[0].embedding(&t[1], pad))
    })]
}
