//! Shape operations: the same elements seen differently (`reshape`, `permute`, `expand`,
//! `narrow`, ...) or joined (`cat`, `stack`). Each moves elements without changing them, so
//! its derivative moves the gradient back: reshape it back, apply the inverse permutation,
//! sum over the broadcast dims, place it into zeros, or cut it into the inputs' slices.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::ops::{dims_isize, one};
use crate::tensor::Tensor;
use torchlet_tensor_core::{Error, Result, Shape, ShapeSpec, TensorData};

/// The gradient takes the input's shape back (reshape, view, squeeze, flatten, contiguous).
struct Reshape(Shape);
impl Backward for Reshape {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(g.reshape(dims_isize(&self.0))?)
    }
}

/// `y = x.permute(perm)`: `dx = g.permute(perm^-1)`.
struct Permute(Vec<isize>);
impl Backward for Permute {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let n = self.0.len() as isize;
        let mut inverse = vec![0isize; self.0.len()];
        for (i, &p) in self.0.iter().enumerate() {
            inverse[(if p < 0 { p + n } else { p }) as usize] = i as isize;
        }
        one(g.permute(&inverse)?)
    }
}

/// `y = x.expand(shape)`: each input element was repeated, so its gradient is the sum of its
/// copies' gradients.
struct Expand(Shape);
impl Backward for Expand {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(g.sum_to_shape(&self.0)?)
    }
}

/// `y = x.narrow(dim, start, len)`: `g` placed back at `start` in zeros of the input's shape.
struct Narrow {
    shape: Shape,
    dim: isize,
    start: usize,
}
impl Backward for Narrow {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(TensorData::narrow_embed(&self.shape, self.dim, self.start, g)?)
    }
}

/// `y = x.select(dim, index)` (`x[:, i]`): `g` placed back at `index` in zeros of the
/// input's shape.
struct Select {
    shape: Shape,
    dim: isize,
    index: i64,
}
impl Backward for Select {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(TensorData::select_backward(&self.shape, self.dim, self.index, g)?)
    }
}

/// `y = x.slice(dim, start, end, step)` (`x[:, start:end:step]`): `g` placed back at the
/// sliced positions in zeros of the input's shape.
struct Slice {
    shape: Shape,
    dim: isize,
    start: Option<i64>,
    end: Option<i64>,
    step: i64,
}
impl Backward for Slice {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(TensorData::slice_backward(&self.shape, self.dim, self.start, self.end, self.step, g)?)
    }
}

/// `y = x.repeat(repeats)`: each input element was copied `prod(repeats)` times, so its
/// gradient is the sum of its copies' gradients: `g` seen as `(r0, s0, r1, s1, ...)`, summed
/// over the `r` dims.
struct Repeat {
    shape: Shape,
    repeats: Vec<usize>,
}
impl Backward for Repeat {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let lead = self.repeats.len() - self.shape.ndim();
        let size = |i: usize| if i < lead { 1 } else { self.shape.dims()[i - lead] };
        let split: Vec<isize> =
            self.repeats.iter().enumerate().flat_map(|(i, &r)| [r as isize, size(i) as isize]).collect();
        let kept: Vec<usize> = (0..self.repeats.len()).flat_map(|i| [1, size(i)]).collect();
        one(g.reshape(&split)?.sum_to_shape(&Shape(kept.into()))?.reshape(dims_isize(&self.shape))?)
    }
}

/// `y = cat(xs, dim)`: each input gets its slice of `g`.
struct Cat {
    dim: isize,
    sizes: Vec<usize>,
}
impl Backward for Cat {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let mut start = 0;
        let mut out = Grads::with_capacity(self.sizes.len());
        for (&s, &need) in self.sizes.iter().zip(needs) {
            // A view of `g`, as in PyTorch (a slice along dim 0 is already contiguous, and a
            // leaf keeps it as its .grad; copying every slice cost a cat's backward a pass).
            out.push(if need { Some(g.narrow(self.dim, start, s)?) } else { None });
            start += s;
        }
        Ok(out)
    }
}

impl Tensor {
    fn reshaped(&self, out: TensorData, name: &'static str) -> Tensor {
        record(out, name, &[self], || Reshape(self.shape()))
    }

    /// The same elements in a new shape (one size may be `-1`, inferred), like
    /// `torch.reshape`: a view when the strides allow, else a copy. `x.reshape([6, -1])`,
    /// `x.reshape((n, -1))`. Derivative: reshape back.
    pub fn reshape(&self, shape: impl ShapeSpec) -> Result<Tensor> {
        Ok(self.reshaped(self.with_data(|x| x.reshape(shape))?, "ViewBackward0"))
    }

    /// The same storage in a new shape, like `torch.view`: an error when the strides cannot
    /// express it without a copy (e.g. after a transpose; use [`Tensor::reshape`] there).
    /// Derivative: reshape back.
    pub fn view(&self, shape: impl ShapeSpec) -> Result<Tensor> {
        Ok(self.reshaped(self.with_data(|x| x.view(shape))?, "ViewBackward0"))
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

    /// A contiguous copy (same values; differentiable).
    pub fn contiguous(&self) -> Result<Tensor> {
        Ok(self.reshaped(self.data().contiguous(), "CloneBackward0"))
    }

    /// Reorders dimensions. Derivative: the inverse permutation.
    pub fn permute(&self, perm: &[isize]) -> Result<Tensor> {
        let out = self.data().permute(perm)?;
        Ok(record(out, "PermuteBackward0", &[self], || Permute(perm.to_vec())))
    }

    /// Swaps two dimensions. Derivative: swap them back.
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let out = self.with_data(|x| x.transpose(d0, d1))?;
        let (n, shape) = (out.ndim(), out.shape());
        let swapped = if n > 0 { (shape.dim("transpose", d0)?, shape.dim("transpose", d1)?) } else { (0, 0) };
        // The permutation that swaps them back, built only when a gradient is tracked.
        let rule = || {
            let mut perm: Vec<isize> = (0..n as isize).collect();
            if n > 0 {
                perm.swap(swapped.0, swapped.1);
            }
            Permute(perm)
        };
        Ok(record(out, "TransposeBackward0", &[self], rule))
    }

    /// Matrix transpose (`.t()`) of a tensor of rank <= 2 (rank 0 and 1 are returned as they
    /// are).
    pub fn t(&self) -> Result<Tensor> {
        match self.ndim() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            _ => self.data().t().map(Tensor::from_data), // the error
        }
    }

    /// Broadcasts to `shape` (a view; `-1` keeps a size). Derivative: sum over the broadcast
    /// dims.
    pub fn expand(&self, shape: impl ShapeSpec) -> Result<Tensor> {
        let x = self.data();
        let out = x.expand(shape)?;
        Ok(record(out, "ExpandBackward0", &[self], || Expand(x.shape().clone())))
    }

    /// Elements `start..start+len` along `dim` (a view). Derivative: `g` placed back into zeros.
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Tensor> {
        let out = self.with_data(|x| x.narrow(dim, start, len))?;
        Ok(record(out, "NarrowBackward0", &[self], || Narrow { shape: self.shape(), dim, start }))
    }

    fn narrow_named(&self, dim: isize, start: usize, len: usize, name: &'static str) -> Result<Tensor> {
        let x = self.data();
        let out = x.narrow(dim, start, len)?;
        Ok(record(out, name, &[self], || Narrow { shape: x.shape().clone(), dim, start }))
    }

    /// `x[..., index, ...]` with `index` at dimension `dim`, like `torch.select`: a view
    /// without that dimension (`x.select(1, -1)` is `x[:, -1]`; negative counts from the
    /// end). Derivative: `g` placed back at `index`, zeros elsewhere.
    pub fn select(&self, dim: isize, index: i64) -> Result<Tensor> {
        let out = self.with_data(|x| x.select(dim, index))?;
        Ok(record(out, "SelectBackward0", &[self], || Select { shape: self.shape(), dim, index }))
    }

    /// `x[..., start:end:step, ...]` at dimension `dim`, a view: `None` bounds are the start
    /// and the end, negative ones count from the end, bounds past the ends are clamped, as in
    /// Python; `step` must be positive. `x.slice(1, None, None, 2)` is `x[:, ::2]`.
    /// Derivative: `g` placed back at the sliced positions, zeros elsewhere.
    pub fn slice(&self, dim: isize, start: Option<i64>, end: Option<i64>, step: i64) -> Result<Tensor> {
        let out = self.with_data(|x| x.slice(dim, start, end, step))?;
        let rule = || Slice { shape: self.shape(), dim, start, end, step };
        Ok(record(out, "SliceBackward0", &[self], rule))
    }

    /// The tensor repeated `repeats[i]` times along each dimension, like `x.repeat(*repeats)`
    /// (`repeats` may add leading dims, not drop any): `[1, 2].repeat([2, 2])` is
    /// `[[1, 2, 1, 2], [1, 2, 1, 2]]`. A copy. Derivative: the sum of each element's copies'
    /// gradients.
    pub fn repeat(&self, repeats: &[usize]) -> Result<Tensor> {
        let x = self.data();
        let out = x.repeat(repeats)?;
        let rule = || Repeat { shape: x.shape().clone(), repeats: repeats.to_vec() };
        Ok(record(out, "RepeatBackward0", &[self], rule))
    }

    /// The slices along `dim`, each without that dimension, like `torch.unbind`:
    /// `x.unbind(0)` of a `(3, 4)` tensor is its three rows (views). Derivative: each
    /// slice's gradient placed back at its position.
    pub fn unbind(&self, dim: isize) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            return Err(Error::invalid("unbind", "a 0-dimensional tensor has no dimension to unbind"));
        }
        let d = torchlet_tensor_core::shape::normalize_dim("unbind", dim, self.ndim())?;
        let n = self.dims()[d];
        let x = self.data();
        (0..n as i64)
            .map(|i| {
                let out = x.select(dim, i)?;
                let rule = || Select { shape: x.shape().clone(), dim, index: i };
                Ok(record(out, "UnbindBackward0", &[self], rule))
            })
            .collect()
    }

    /// Pieces of `split_size` elements along `dim` (the last one shorter if the size does not
    /// divide), like `torch.split(x, split_size, dim)`: views. Derivative: each piece's
    /// gradient placed back at its slice.
    pub fn split(&self, split_size: usize, dim: isize) -> Result<Vec<Tensor>> {
        let n = self.size(dim)?;
        if split_size == 0 && n > 0 {
            return Err(Error::invalid(
                "split",
                format!("split_size can only be 0 if dimension size is 0, but got dimension size of {n} (dimension {dim}, shape {})", self.shape()),
            ));
        }
        if n == 0 {
            return Ok(vec![self.narrow_named(dim, 0, 0, "SplitBackward0")?]);
        }
        (0..n)
            .step_by(split_size)
            .map(|start| self.narrow_named(dim, start, split_size.min(n - start), "SplitBackward0"))
            .collect()
    }

    /// Pieces of the given sizes along `dim`, which must add up to its size, like
    /// `torch.split(x, [sizes], dim)` (`split_with_sizes`): views. Derivative: each piece's
    /// gradient placed back at its slice.
    pub fn split_with_sizes(&self, sizes: &[usize], dim: isize) -> Result<Vec<Tensor>> {
        let n = self.size(dim)?;
        let total = sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s));
        if total != Some(n) {
            return Err(Error::invalid(
                "split_with_sizes",
                format!(
                    "split_sizes {sizes:?} must sum exactly to {n} (the size of dimension {dim} of shape {})",
                    self.shape()
                ),
            ));
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                let piece = self.narrow_named(dim, start, len, "SplitWithSizesBackward0");
                start += len;
                piece
            })
            .collect()
    }

    /// `chunks` pieces of equal size along `dim` (`ceil(size / chunks)` each, the last one
    /// smaller; fewer pieces when they run out), like `torch.chunk`: views. Derivative: as
    /// [`Tensor::split`].
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            return Err(Error::invalid("chunk", "chunk expects `chunks` to be greater than 0, got: 0"));
        }
        let n = self.size(dim)?;
        if n == 0 {
            return (0..chunks).map(|_| self.narrow_named(dim, 0, 0, "SplitBackward0")).collect();
        }
        self.split(n.div_ceil(chunks), dim)
    }

    /// Concatenates along `dim`. Derivative: each input gets its slice of `g`.
    pub fn cat(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let datas: Vec<TensorData> = tensors.iter().map(|t| t.data()).collect();
        let refs: Vec<&TensorData> = datas.iter().collect();
        let out = TensorData::cat(&refs, dim)?;
        let d = out.shape().dim("cat", dim)?;
        let rule = || Cat { dim: d as isize, sizes: datas.iter().map(|t| t.dims()[d]).collect() };
        Ok(record(out, "CatBackward0", tensors, rule))
    }

    /// Stacks same-shaped tensors along a new dimension (`unsqueeze` each, then `cat`).
    pub fn stack(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let first =
            tensors.first().ok_or_else(|| Error::invalid("stack", "expected a non-empty list of tensors"))?;
        let shape = first.shape();
        for t in tensors {
            if t.shape() != shape {
                return Err(Error::shapes(
                    "stack",
                    &shape,
                    &t.shape(),
                    "cannot be stacked (all tensors need the same shape)",
                ));
            }
        }
        let d = torchlet_tensor_core::shape::normalize_dim("stack", dim, shape.ndim() + 1)? as isize;
        let un: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d)).collect::<Result<_>>()?;
        Tensor::cat(&un.iter().collect::<Vec<_>>(), d)
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    // (2, 3, 4) samples; each view is followed by a non-linear op so a wrong element order
    // shows in the gradient.
    vec![
        OpInfo::new("reshape", |s| {
            let x = s.sized(&[2, 3, 4]);
            Case::new([x], |t| t[0].reshape([-1, t[0].size(-1)? as isize])?.softmax(0))
        }),
        OpInfo::new("squeeze_unsqueeze", |s| {
            let (m, n) = (s.size(2), s.size(4));
            let x = s.float(&[m, 1, n]);
            Case::new([x], |t| t[0].squeeze_dim(1)?.unsqueeze(-1)?.squeeze()?.unsqueeze(0)?.softmax(-1))
        }),
        OpInfo::new("flatten", |s| {
            let x = s.sized(&[2, 3, 4]);
            let (a, b) = (s.below(3) as isize, s.below(3) as isize);
            Case::new([x], move |t| t[0].flatten(a.min(b), a.max(b))?.softmax(0))
        }),
        OpInfo::new("permute", |s| {
            let x = s.sized(&[2, 3, 4]);
            let perm = s.pick(&[[2, 0, 1], [1, 2, 0], [0, 2, 1], [-1, -3, -2]]);
            Case::new([x], move |t| t[0].permute(&perm)?.softmax(0))
        }),
        OpInfo::new("transpose", |s| {
            let x = s.sized(&[2, 3, 4]);
            let (a, b) = (s.dim(3), s.dim(3));
            Case::new([x], move |t| t[0].transpose(a, b)?.log_softmax(-1))
        }),
        OpInfo::new("t", |s| Case::new([s.sized(&[3, 5])], |t| t[0].t()?.softmax(1))),
        OpInfo::new("expand", |s| {
            let (m, n) = (s.size(2), s.size(4));
            Case::new([s.float(&[m, 1])], move |t| t[0].expand([3, m, n])?.softmax(0))
        }),
        OpInfo::new("narrow", |s| {
            let n = s.size(4);
            let start = s.below(n.max(1));
            let len = s.below(n.saturating_sub(start) + 1);
            let m = s.size(2);
            Case::new([s.float(&[m, n])], move |t| t[0].narrow(1, start, len)?.exp())
        }),
        OpInfo::new("select", |s| {
            let x = s.sized(&[2, 3, 4]);
            let (d, neg) = (s.dim(3), s.flag());
            Case::new([x], move |t| {
                let n = t[0].size(d)? as i64;
                t[0].select(d, if neg { -1 } else { n / 2 })?.softmax(0)
            })
        }),
        OpInfo::new("slice", |s| {
            let x = s.sized(&[3, 6, 2]);
            let d = s.dim(3);
            let (start, end) = (s.pick(&[None, Some(1), Some(-2)]), s.pick(&[None, Some(5), Some(-1)]));
            let step = s.pick(&[1, 2, 3]);
            Case::new([x], move |t| t[0].slice(d, start, end, step)?.exp())
        }),
        OpInfo::new("repeat", |s| {
            let x = s.sized(&[2, 3]);
            let reps = s.pick(&[vec![2, 1], vec![1, 3], vec![2, 2, 1], vec![3, 1, 2]]);
            Case::new([x], move |t| t[0].repeat(&reps)?.softmax(-1))
        }),
        // The pieces of unbind, split and chunk, each weighted by its own factor.
        OpInfo::new("unbind_split_chunk", |s| {
            let x = s.sized(&[3, 5]);
            let (d, form, k) = (s.dim(2), s.below(4), 1 + s.below(3));
            Case::new([x], move |t| {
                let pieces = match form {
                    0 => t[0].unbind(d)?,
                    1 => t[0].split(k, d)?,
                    2 => t[0].chunk(k, d)?,
                    _ => {
                        let n = t[0].size(d)?;
                        t[0].split_with_sizes(&[n / 2, n - n / 2], d)?
                    }
                };
                let mut total = t[0].sum()?.mul_scalar(0.0)?;
                for (i, p) in pieces.iter().enumerate() {
                    total = total.add(&p.exp()?.sum()?.mul_scalar(i as f64 + 1.0)?)?;
                }
                Ok(total)
            })
        }),
        OpInfo::new("contiguous", |s| {
            let x = s.sized(&[2, 3]);
            Case::new([x], |t| t[0].t()?.contiguous()?.softmax(1))
        }),
        OpInfo::new("cat", |s| {
            let m = s.size(2);
            let (k, l) = (s.size(3), s.size(2));
            let (a, b) = (s.float(&[m, k]), s.float(&[m, l]));
            Case::new([a, b], |t| Tensor::cat(&[&t[0], &t[1], &t[0]], 1)?.softmax(1))
        }),
        OpInfo::new("stack", |s| {
            let shape = [s.size(2), s.size(3)];
            let d = s.dim(3);
            Case::new([s.float(&shape), s.float(&shape)], move |t| {
                Tensor::stack(&[&t[0], &t[1]], d)?.softmax(0)
            })
        }),
    ]
}
