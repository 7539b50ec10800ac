//! Selecting elements by i64 indices. An index can pick the same element several times, so
//! the derivative scatters the gradient back and *adds* where indices repeat (`index_add`,
//! `scatter_add`). Indices get no gradient.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::tensor::Tensor;
use smallvec::smallvec;
use torchlet_tensor_core::{Result, Shape, TensorData};

/// `y = x.index_select(dim, index)`: `dx = index_add(zeros, dim, index, g)`.
struct IndexSelect {
    shape: Shape,
    dim: isize,
    index: TensorData,
}
impl Backward for IndexSelect {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        Ok(smallvec![Some(TensorData::index_add_zeros(&self.shape, self.dim, &self.index, g)?), None])
    }
}

/// `y = x.gather(dim, index)`: `dx = scatter_add(zeros, dim, index, g)`.
struct Gather {
    shape: Shape,
    dim: isize,
    index: TensorData,
}
impl Backward for Gather {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        Ok(smallvec![Some(TensorData::scatter_add_zeros(&self.shape, self.dim, &self.index, g)?), None])
    }
}

impl Tensor {
    /// Selects entries along `dim` by i64 indices. Derivative: index-add `g` back.
    pub fn index_select(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let (x, index_data) = (self.data(), index.data());
        let out = x.index_select(dim, &index_data)?;
        let rule = || IndexSelect { shape: x.shape().clone(), dim, index: index_data };
        Ok(record(out, "IndexSelectBackward0", &[self, index], rule))
    }

    /// `torch.gather`: `out[i][j] = x[i][index[i][j]]` for `dim = 1`; so
    /// `x.gather(1, &t.unsqueeze(1)?)` is `x[range(n), t]`. Derivative: scatter-add `g` to the
    /// gathered positions.
    pub fn gather(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let (x, index_data) = (self.data(), index.data());
        let out = x.gather(dim, &index_data)?;
        let rule = || Gather { shape: x.shape().clone(), dim, index: index_data };
        Ok(record(out, "GatherBackward0", &[self, index], rule))
    }

    /// One-hot encoding of i64 class indices (no gradient), like `F.one_hot`.
    pub fn one_hot(&self, num_classes: Option<usize>) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().one_hot(num_classes)?))
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        // Repeated indices: their gradients must add up.
        OpInfo::new("index_select", |s| {
            let (m, n) = (s.size(2), s.size(3));
            let index = s.index(&[4], n);
            Case::new([s.float(&[m, n]), index], |t| t[0].index_select(1, &t[1])?.exp())
        }),
        OpInfo::new("gather", |s| {
            let (m, n) = (s.size(4), s.size(3));
            let index = s.index(&[m, 2], n);
            Case::new([s.float(&[m, n]), index], |t| t[0].gather(1, &t[1]))
        }),
        OpInfo::no_grad("one_hot", |s| {
            let classes = s.size(3);
            let n = s.pick(&[None, Some(classes)]);
            let len = s.size(4);
            Case::new([s.index(&[len], classes)], move |t| t[0].one_hot(n))
        }),
    ]
}
