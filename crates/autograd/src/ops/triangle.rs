//! Triangles of the last two dims: `tril` keeps the elements on and below a diagonal, `triu`
//! those on and above it, and zeroes the rest (the causal mask of "let's build GPT" is
//! `tril(ones(T, T))`). Each kept element is the input's, each zeroed one is a constant, so
//! the gradient is the same triangle of `g`. `tril_indices` / `triu_indices` list a
//! triangle's coordinates.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::ops::one;
use crate::tensor::Tensor;
use torchlet_tensor_core::{Result, TensorData};

/// `y = tril(x, k)` (or `triu`): `dx = tril(g, k)` (or `triu(g, k)`), the mask applied to `g`.
struct Triangle {
    diagonal: i64,
    lower: bool,
}
impl Backward for Triangle {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(if self.lower { g.tril(self.diagonal)? } else { g.triu(self.diagonal)? })
    }
}

impl Tensor {
    /// The lower triangle of the last two dims, like `torch.tril(x, diagonal)`: the element
    /// at row `i`, column `j` is kept where `j - i <= diagonal` and set to 0 elsewhere
    /// (`diagonal` 0: the main diagonal and below; 1: one more diagonal; -1: strictly below).
    /// Any dtype; the tensor needs at least 2 dims (batches of matrices are fine).
    /// Derivative: 1 for the kept elements, 0 for the others.
    pub fn tril(&self, diagonal: i64) -> Result<Tensor> {
        let y = self.data().tril(diagonal)?;
        Ok(record(y, "TrilBackward0", &[self], || Triangle { diagonal, lower: true }))
    }

    /// The upper triangle of the last two dims, like `torch.triu(x, diagonal)`: the elements
    /// with `j - i >= diagonal` are kept, the others set to 0 (`triu(ones, 1)` marks the
    /// future positions a causal mask hides). Derivative: 1 for the kept elements, else 0.
    pub fn triu(&self, diagonal: i64) -> Result<Tensor> {
        let y = self.data().triu(diagonal)?;
        Ok(record(y, "TriuBackward0", &[self], || Triangle { diagonal, lower: false }))
    }

    /// The coordinates `(i, j)` of the lower triangle of a `rows x cols` matrix (`j - i <=
    /// offset`), like `torch.tril_indices(rows, cols, offset)`: an i64 tensor of shape
    /// `(2, N)`, the row indices then the column indices, in row-major order.
    pub fn tril_indices(rows: usize, cols: usize, offset: i64) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::tril_indices(rows, cols, offset)?))
    }

    /// The coordinates of the upper triangle (`j - i >= offset`), like
    /// `torch.triu_indices(rows, cols, offset)`: see [`Tensor::tril_indices`].
    pub fn triu_indices(rows: usize, cols: usize, offset: i64) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::triu_indices(rows, cols, offset)?))
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        OpInfo::new("tril", |s| {
            let k = s.pick(&[0, 1, -1, 3, -5, i64::MAX, i64::MIN]);
            Case::new([s.sized(&[2, 3, 4])], move |t| t[0].tril(k))
        }),
        OpInfo::new("triu", |s| {
            let k = s.pick(&[0, 1, -1, 3, -5, i64::MAX, i64::MIN]);
            Case::new([s.sized(&[3, 3])], move |t| t[0].triu(k))
        }),
    ]
}
