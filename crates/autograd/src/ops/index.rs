//! Selecting elements by i64 indices. An index can pick the same element several times, so
//! the derivative scatters the gradient back and *adds* where indices repeat (`index_add`,
//! `scatter_add`). Indices get no gradient.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::ops::wanted;
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

/// `y = x.index_add(dim, index, source)`: `dx = g`, `dsource = g.index_select(dim, index)`.
struct IndexAdd {
    dim: isize,
    index: TensorData,
}
impl Backward for IndexAdd {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let dsource = wanted(needs[1], || {
            if g.ndim() == 0 {
                return g.reshape([-1]); // a 0-D self takes a 1-element source
            }
            g.index_select(self.dim, &self.index)
        })?;
        Ok(smallvec![Some(g.clone()), dsource])
    }
}

/// `y = x.scatter_add(dim, index, src)`: `dx = g`, `dsrc = g.gather(dim, index)` at the
/// positions of `index` (0 for the elements of a larger `src` that were not read).
struct ScatterAdd {
    dim: isize,
    index: TensorData,
    src: Shape,
}
impl Backward for ScatterAdd {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let dsrc = wanted(needs[1], || {
            let mut d = g.gather(self.dim, &self.index)?;
            // Pad with zeros up to src's shape, one dimension at a time.
            for (i, &n) in self.src.dims().iter().enumerate() {
                if d.dims()[i] < n {
                    let mut shape = d.shape().clone();
                    shape.0[i] = n;
                    d = TensorData::narrow_embed(&shape, i as isize, 0, &d)?;
                }
            }
            Ok(d)
        })?;
        Ok(smallvec![Some(g.clone()), dsrc])
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

    /// `x` with the slices of `source` added at `index` along `dim`, like
    /// `x.index_add(dim, index, source)` (alpha 1): for `dim = 0`, `out[index[k]] += source[k]`
    /// (repeated indices add up). Derivatives: `dx = g`, `dsource = g.index_select(dim, index)`.
    pub fn index_add(&self, dim: isize, index: &Tensor, source: &Tensor) -> Result<Tensor> {
        let (x, i, src) = (self.data(), index.data(), source.data());
        let out = x.index_add(dim, &i, &src)?;
        Ok(record(out, "IndexAddBackward0", &[self, source], || IndexAdd { dim, index: i }))
    }

    /// `x` with `src` added at the positions `index` names along `dim`, like
    /// `x.scatter_add(dim, index, src)`: for `dim = 1`, `out[i][index[i][j]] += src[i][j]`
    /// (repeated indices add up). Derivatives: `dx = g`, `dsrc = g.gather(dim, index)`.
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        let (x, i, s) = (self.data(), index.data(), src.data());
        let out = x.scatter_add(dim, &i, &s)?;
        let rule = || ScatterAdd { dim, index: i, src: s.shape().clone() };
        Ok(record(out, "ScatterAddBackward0", &[self, src], rule))
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
        OpInfo::new("index_add", |s| {
            let (m, n) = (s.size(3), s.size(4));
            let d = s.dim(2);
            let len = if d == 0 || d == -2 { m } else { n };
            let index = s.index(&[5], len);
            let src = if d == 0 || d == -2 { s.float(&[5, n]) } else { s.float(&[m, 5]) };
            Case::new([s.float(&[m, n]), src, index], move |t| t[0].index_add(d, &t[2], &t[1])?.exp())
        }),
        OpInfo::new("scatter_add", |s| {
            let (m, n) = (s.size(3), s.size(4));
            // src larger than index: only its first 2 columns are read.
            let (index, src) = (s.index(&[m, 2], n), s.float(&[m, 3]));
            Case::new([s.float(&[m, n]), src, index], |t| t[0].scatter_add(1, &t[2], &t[1])?.exp())
        }),
        OpInfo::no_grad("one_hot", |s| {
            let classes = s.size(3);
            let n = s.pick(&[None, Some(classes)]);
            let len = s.size(4);
            Case::new([s.index(&[len], classes)], move |t| t[0].one_hot(n))
        }),
    ]
}
