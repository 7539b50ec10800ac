//! `x[...]` in PyTorch's vocabulary: [`Tensor::i`] takes an index written with the [`s!`](crate::s!)
//! macro (or a single entry) and applies it as PyTorch's `__getitem__` does.
//!
//! | PyTorch | torchlet |
//! |---|---|
//! | `C[X]` (X an i64 tensor of any shape) | `c.i(&x)` |
//! | `x[:, -1, :]` | `x.i(s![.., -1, ..])` |
//! | `x[:, ::2]`, `x[1:-1, 3:]` | `x.i(s![.., ..;2])`, `x.i(s![1..-1, 3..])` |
//! | `x[..., 0]`, `x[None, :, 1]` | `x.i(s![..., 0])`, `x.i(s![None, .., 1])` |
//! | `probs[torch.arange(n), y]` | `probs.i(s![&Tensor::arange(n)?, &y])` (or `probs.i([&r, &y])`) |
//! | `x[mask]` (a bool tensor) | `x.i(&mask)` |
//! | `x[idx] = v`, `N[ix1, ix2] += 1` (counting repeats) | `x.index_put_(&idx, &v, false)`, `n.index_put_([&ix1, &ix2], 1, true)` |
//!
//! ```
//! use torchlet_autograd::{s, DType, Tensor};
//!
//! let c = Tensor::from([[0.0f32, 1.0], [10.0, 11.0], [20.0, 21.0]]); // an embedding table (3, 2)
//! let x = Tensor::from([[2i64, 0], [1, -1]]); // indices (2, 2); -1 is the last row
//! let emb = c.i(&x)?; // C[X]: shape (2, 2, 2)
//! assert_eq!(emb.dims(), vec![2, 2, 2]);
//! assert_eq!(emb.i(s![1, 1, ..])?.to_vec::<f32>()?, vec![20.0, 21.0]); // C[X][1, 1, :] = C[2]
//! assert_eq!(c.i(s![.., -1])?.to_vec::<f32>()?, vec![1.0, 11.0, 21.0]); // C[:, -1]
//! assert_eq!(c.i(s![..;2, 0])?.to_vec::<f32>()?, vec![0.0, 20.0]); // C[::2, 0]
//! let rows = Tensor::arange(3)?;
//! let y = Tensor::from(vec![1i64, 0, 1]);
//! assert_eq!(c.i(s![&rows, &y])?.to_vec::<f32>()?, vec![1.0, 10.0, 21.0]); // C[arange(3), y]
//! assert_eq!(c.i(&c.gt(10.5)?)?.to_vec::<f32>()?, vec![11.0, 20.0, 21.0]); // C[C > 10.5]
//!
//! let n = Tensor::zeros_dtype([3, 3], DType::I64)?; // makemore's bigram counts
//! let (ix1, ix2) = (Tensor::from(vec![0i64, 1, 0]), Tensor::from(vec![1i64, 2, 1]));
//! n.index_put_([&ix1, &ix2], 1, true)?; // N[ix1, ix2] += 1, the pair (0, 1) counted twice
//! assert_eq!(n.to_vec::<i64>()?, vec![0, 2, 0, 0, 0, 1, 0, 0, 0]);
//! # Ok::<(), torchlet_autograd::Error>(())
//! ```
//!
//! An integer or a slice is *basic* indexing and gives a view ([`Tensor::select`],
//! [`Tensor::slice`]; `None` is [`Tensor::unsqueeze`]). Tensors are *advanced* indexing
//! ([`Tensor::index`], a copy): i64 tensors of any shape, broadcast together (negative values
//! count from the end), and bool masks, which stand for the positions where they are true.
//! When the tensor-indexed dims are adjacent the broadcast index shape takes their place,
//! otherwise it comes first: for `x` of shape `(2, 3, 4, 5)` and `i`, `j` of shape `(6,)`,
//! `x[:, i, j]` is `(2, 6, 5)` and `x[i, :, j]` is `(6, 3, 5)`. The derivative of `index`
//! puts the gradient back with `index_put(..., accumulate=true)`, so repeated indices (the
//! same embedding row used twice) add up.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::ops::binary::Other;
use crate::ops::{one, wanted};
use crate::tensor::Tensor;
use smallvec::smallvec;
use std::fmt;
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};
use torchlet_tensor_core::{DType, Error, Result, Scalar, Shape, TensorData};

/// One entry of an index, what goes between the commas of `x[...]` in Python. Usually built
/// by the [`s!`](crate::s!) macro, or converted from an integer, a range or a tensor.
#[derive(Clone)]
pub enum Idx {
    /// `x[i]`: one position; the dimension disappears. Negative counts from the end.
    Int(i64),
    /// `x[start:end:step]`: `None` bounds are the start and the end, negative ones count from
    /// the end, bounds beyond the ends are clamped; `step` must be positive.
    Slice {
        /// The first position (`None`: 0).
        start: Option<i64>,
        /// One past the last position (`None`: the end).
        end: Option<i64>,
        /// The step between positions.
        step: i64,
    },
    /// `x[None]`: a new dimension of size 1.
    NewAxis,
    /// `x[...]`: as many whole dimensions as the other entries leave.
    Ellipsis,
    /// `x[t]`: an i64 tensor of indices (any shape) or a bool mask.
    Tensor(Tensor),
}

impl Idx {
    /// A slice with a step, `start:end:step`, from a range: `Idx::stepped(1.., 2)` is `1::2`.
    /// The [`s!`](crate::s!) macro writes it `1..;2`.
    pub fn stepped(range: impl SliceBounds, step: i64) -> Idx {
        let (start, end) = range.bounds();
        Idx::Slice { start, end, step }
    }

    /// How many dimensions of the indexed tensor this entry uses (an ellipsis counts 0).
    fn consumes(&self) -> usize {
        match self {
            Idx::Int(_) | Idx::Slice { .. } => 1,
            Idx::Tensor(t) if t.dtype() == DType::Bool => t.ndim(),
            Idx::Tensor(_) => 1,
            Idx::NewAxis | Idx::Ellipsis => 0,
        }
    }
}

/// Python's spelling: `3`, `1:8:2`, `None`, `...`, and a tensor as its dtype and shape.
impl fmt::Display for Idx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = |v: &Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        match self {
            Idx::Int(i) => write!(f, "{i}"),
            Idx::Slice { start, end, step: 1 } => write!(f, "{}:{}", b(start), b(end)),
            Idx::Slice { start, end, step } => write!(f, "{}:{}:{step}", b(start), b(end)),
            Idx::NewAxis => write!(f, "None"),
            Idx::Ellipsis => write!(f, "..."),
            Idx::Tensor(t) => write!(f, "<{} tensor of shape {}>", t.dtype(), t.shape()),
        }
    }
}

impl fmt::Debug for Idx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The bounds of a Rust range as a Python slice's `start:end` (`..` is `:`, `1..-1` is
/// `1:-1`, `..=k` is `:k+1`).
pub trait SliceBounds {
    /// `(start, end)`, `None` for an open side.
    fn bounds(self) -> (Option<i64>, Option<i64>);
}

impl SliceBounds for RangeFull {
    fn bounds(self) -> (Option<i64>, Option<i64>) {
        (None, None)
    }
}

/// An integer as an index value; `usize` values beyond `i64::MAX` saturate (any such index is
/// out of bounds, any such slice bound is clamped).
trait ToI64 {
    fn to_i64(self) -> i64;
}

/// The end of `..=end`: one further, or the end of the dimension for `..=-1`.
fn inclusive_end(end: i64) -> Option<i64> {
    if end == -1 {
        None
    } else {
        Some(end.saturating_add(1))
    }
}

macro_rules! integer_indices {
    ($($t:ty),*) => {$(
        impl ToI64 for $t {
            fn to_i64(self) -> i64 {
                i64::try_from(self).unwrap_or(i64::MAX)
            }
        }
        impl From<$t> for Idx {
            fn from(i: $t) -> Idx {
                Idx::Int(i.to_i64())
            }
        }
        impl SliceBounds for Range<$t> {
            fn bounds(self) -> (Option<i64>, Option<i64>) {
                (Some(self.start.to_i64()), Some(self.end.to_i64()))
            }
        }
        impl SliceBounds for RangeFrom<$t> {
            fn bounds(self) -> (Option<i64>, Option<i64>) {
                (Some(self.start.to_i64()), None)
            }
        }
        impl SliceBounds for RangeTo<$t> {
            fn bounds(self) -> (Option<i64>, Option<i64>) {
                (None, Some(self.end.to_i64()))
            }
        }
        impl SliceBounds for RangeInclusive<$t> {
            fn bounds(self) -> (Option<i64>, Option<i64>) {
                let (s, e) = self.into_inner();
                (Some(s.to_i64()), inclusive_end(e.to_i64()))
            }
        }
        impl SliceBounds for RangeToInclusive<$t> {
            fn bounds(self) -> (Option<i64>, Option<i64>) {
                (None, inclusive_end(self.end.to_i64()))
            }
        }
        index_from_range!(Range<$t>, RangeFrom<$t>, RangeTo<$t>, RangeInclusive<$t>, RangeToInclusive<$t>);
        index_arg!($t, Range<$t>, RangeFrom<$t>, RangeTo<$t>, RangeInclusive<$t>, RangeToInclusive<$t>);
    )*};
}

/// `From<range> for Idx`: a slice with step 1.
macro_rules! index_from_range {
    ($($t:ty),*) => {$(
        impl From<$t> for Idx {
            fn from(r: $t) -> Idx {
                Idx::stepped(r, 1)
            }
        }
    )*};
}

/// `IndexArg` for a type that converts into one [`Idx`]: `x.i(-1)`, `x.i(&t)`, `x.i(1..)`.
macro_rules! index_arg {
    ($($t:ty),*) => {$(
        impl IndexArg for $t {
            fn into_indices(self) -> Vec<Idx> {
                vec![Idx::from(self)]
            }
        }
    )*};
}

/// What [`Tensor::i`] and [`Tensor::index_put`] accept: a whole index (an array or `Vec` of
/// entries, as [`s!`](crate::s!) builds: PyTorch's `x[a, b, c]`), or a single entry (`x.i(-1)`,
/// `x.i(&t)`, `x.i(1..3)`). An array of tensors, `[&i0, &i1]`, is the tuple `x[i0, i1]`.
pub trait IndexArg {
    /// The entries, in order.
    fn into_indices(self) -> Vec<Idx>;
}

index_from_range!(RangeFull);
index_arg!(RangeFull, Idx, &Tensor, Tensor);
integer_indices!(i32, i64, isize, usize);

impl From<&Tensor> for Idx {
    fn from(t: &Tensor) -> Idx {
        Idx::Tensor(t.clone())
    }
}

impl From<Tensor> for Idx {
    fn from(t: Tensor) -> Idx {
        Idx::Tensor(t)
    }
}

impl<T: Into<Idx>, const N: usize> IndexArg for [T; N] {
    fn into_indices(self) -> Vec<Idx> {
        self.into_iter().map(Into::into).collect()
    }
}

impl IndexArg for Vec<Idx> {
    fn into_indices(self) -> Vec<Idx> {
        self
    }
}

impl IndexArg for &[Idx] {
    fn into_indices(self) -> Vec<Idx> {
        self.to_vec()
    }
}

/// An index in Python's notation, for [`Tensor::i`] and [`Tensor::index_put`]: entries
/// separated by commas, each an integer (`-1`), a range (`..`, `1..`, `..-1`, `2..5`,
/// `0..=3`), a range with a step after a semicolon (`..;2` is `::2`, `1..7;3` is `1:7:3`),
/// `None` (a new dimension), `...` (the remaining dimensions) or a tensor (`&x`: i64
/// indices or a bool mask).
///
/// ```
/// use torchlet_autograd::{s, Tensor};
///
/// let x = Tensor::arange(24)?.view([2, 3, 4])?;
/// assert_eq!(x.i(s![.., -1, ..])?.dims(), vec![2, 4]); // x[:, -1, :]
/// assert_eq!(x.i(s![.., ..;2])?.dims(), vec![2, 2, 4]); // x[:, ::2]
/// assert_eq!(x.i(s![None, ..., 1..3])?.dims(), vec![1, 2, 3, 2]); // x[None, ..., 1:3]
/// # Ok::<(), torchlet_autograd::Error>(())
/// ```
#[macro_export]
macro_rules! s {
    (@go [$($done:expr),*]) => { [$($done),*] };
    (@go [$($done:expr),*] ... $(, $($rest:tt)*)?) => {
        $crate::s!(@go [$($done,)* $crate::ops::indexing::Idx::Ellipsis] $($($rest)*)?)
    };
    (@go [$($done:expr),*] None $(, $($rest:tt)*)?) => {
        $crate::s!(@go [$($done,)* $crate::ops::indexing::Idx::NewAxis] $($($rest)*)?)
    };
    // Literal bounds (`1..-1`) are read here rather than as a Rust range, which clippy
    // would call empty.
    (@go [$($done:expr),*] $a:literal .. $b:literal $(; $step:expr)? $(, $($rest:tt)*)?) => {
        $crate::s!(@go [$($done,)* $crate::ops::indexing::Idx::Slice {
            start: Some($a),
            end: Some($b),
            step: $crate::s!(@step $($step)?),
        }] $($($rest)*)?)
    };
    (@step) => { 1 };
    (@step $step:expr) => { $step };
    (@go [$($done:expr),*] $r:expr ; $step:expr $(, $($rest:tt)*)?) => {
        $crate::s!(@go [$($done,)* $crate::ops::indexing::Idx::stepped($r, $step)] $($($rest)*)?)
    };
    (@go [$($done:expr),*] $e:expr $(, $($rest:tt)*)?) => {
        $crate::s!(@go [$($done,)* $crate::ops::indexing::Idx::from($e)] $($($rest)*)?)
    };
    ($($t:tt)*) => { $crate::s!(@go [] $($t)*) };
}

/// The entries as PyTorch's `aten::index` takes them: one per indexed dimension (a bool mask
/// covers as many as it has), `None` for a whole dimension, up to the last tensor.
fn tensor_list(adv: &[(usize, Tensor)]) -> Vec<Option<TensorData>> {
    let mut list = vec![];
    let mut dim = 0;
    for (d, t) in adv {
        list.extend((dim..*d).map(|_| None));
        list.push(Some(t.data()));
        dim = d + Idx::Tensor(t.clone()).consumes();
    }
    list
}

/// `y = x[indices]` (advanced): `dx = index_put(zeros, indices, g, accumulate=true)`.
struct Index {
    shape: Shape,
    indices: Vec<Option<TensorData>>,
}
impl Backward for Index {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(TensorData::try_zeros(self.shape.clone(), g.dtype())?.index_put(&self.indices, g, true)?)
    }
}

/// `y = x.index_put(indices, v, accumulate)`: `dx = g` with accumulate, else `g` with the
/// written positions zeroed (their old values are gone); `dv = g[indices]`, summed back over
/// the dims `v` was broadcast along. With `flat`, the positions index the flattened `x`.
struct IndexPut {
    indices: Vec<Option<TensorData>>,
    accumulate: bool,
    values: Shape,
    flat: Option<Shape>,
}
impl Backward for IndexPut {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let gf = if self.flat.is_some() { g.reshape([-1])? } else { g.clone() };
        let dx = wanted(needs[0], || {
            if self.accumulate {
                return Ok(g.clone());
            }
            let zero = TensorData::from_scalar(Scalar::Int(0), g.dtype());
            let d = gf.index_put(&self.indices, &zero, false)?;
            match &self.flat {
                Some(shape) => d.reshape(shape),
                None => Ok(d),
            }
        })?;
        let dv = wanted(needs[1], || gf.index(&self.indices)?.sum_to_shape(&self.values))?;
        Ok(smallvec![dx, dv])
    }
}

/// `y = x.masked_select(mask)`: `dx = g` put back at the mask's positions (in the broadcast
/// shape), summed back to `x`'s shape.
struct MaskedSelect {
    mask: TensorData,
    shape: Shape,
}
impl Backward for MaskedSelect {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let zeros = TensorData::try_zeros(self.mask.shape().clone(), g.dtype())?;
        one(zeros.index_put(&[Some(self.mask.clone())], g, true)?.sum_to_shape(&self.shape)?)
    }
}

impl Tensor {
    /// `x[index]`, PyTorch's indexing (see the [module docs](self) for every form):
    /// `c.i(&x)` is `C[X]`, `x.i(s![.., -1, ..])` is `x[:, -1, :]`, `x.i(s![.., ..;2])` is
    /// `x[:, ::2]`, `probs.i(s![&rows, &y])` is `probs[rows, y]`, `x.i(&mask)` is `x[mask]`.
    /// Integers, slices and `None` give views (`select`, `slice`, `unsqueeze`); tensors copy
    /// (`index`). Derivative: each step's, in turn.
    pub fn i(&self, index: impl IndexArg) -> Result<Tensor> {
        let entries = index.into_indices();
        let nd = self.ndim();
        let used: usize = entries.iter().map(Idx::consumes).sum();
        let shown = || entries.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
        if entries.iter().filter(|e| matches!(e, Idx::Ellipsis)).count() > 1 {
            return Err(Error::invalid(
                "index",
                format!("an index can only have a single ellipsis ('...'), got [{}]", shown()),
            ));
        }
        if used > nd {
            return Err(Error::invalid(
                "index",
                format!("too many indices for tensor of dimension {nd} (shape {}): [{}] indexes {used} dimensions", self.shape(), shown()),
            ));
        }
        // Basic entries are applied as views, left to right; `dim` is the dimension of `y` the
        // next entry indexes, and tensors are collected with the dimension they index.
        let mut y = self.clone();
        let mut dim = 0;
        let mut adv: Vec<(usize, Tensor)> = vec![];
        for e in entries {
            match e {
                Idx::Int(i) => y = y.select(dim as isize, i)?,
                Idx::Slice { start, end, step } => {
                    if (start, end, step) != (None, None, 1) {
                        y = y.slice(dim as isize, start, end, step)?;
                    }
                    dim += 1;
                }
                Idx::NewAxis => {
                    y = y.unsqueeze(dim as isize)?;
                    dim += 1;
                }
                Idx::Ellipsis => dim += nd - used,
                Idx::Tensor(t) => {
                    let k = Idx::Tensor(t.clone()).consumes();
                    adv.push((dim, t));
                    dim += k;
                }
            }
        }
        if adv.is_empty() {
            return Ok(y);
        }
        y.index_data(tensor_list(&adv))
    }

    /// Advanced indexing, PyTorch's `aten::index` (what `x[i0, i1]` runs for tensors):
    /// `indices[k]` indexes dimension `k` (`None` keeps it whole, like `:`; a bool mask covers
    /// as many dimensions as it has). i64 indices broadcast together and may be negative.
    /// Derivative: `index_put(zeros, indices, g, accumulate=true)` (repeated indices add up).
    pub fn index(&self, indices: &[Option<&Tensor>]) -> Result<Tensor> {
        self.index_data(indices.iter().map(|t| t.map(Tensor::data)).collect())
    }

    fn index_data(&self, indices: Vec<Option<TensorData>>) -> Result<Tensor> {
        let x = self.data();
        let out = x.index(&indices)?;
        Ok(record(out, "IndexBackward0", &[self], || Index { shape: x.shape().clone(), indices }))
    }

    /// `x` with `values` written at `x[indices]`, like `torch.index_put(x, indices, values,
    /// accumulate)` (out of place), for any index [`Tensor::i`] takes: `[&i0, &i1]`,
    /// `s![.., 1..3]`, `&mask`. `values` has `x`'s dtype and broadcasts to the shape of
    /// `x[indices]`. With `accumulate` the values are added (repeated positions add up);
    /// without, a repeated position keeps one of its values. Derivatives: `dx = g`
    /// (accumulate) or `g` zeroed at the written positions; `dvalues = g[indices]`.
    pub fn index_put(&self, indices: impl IndexArg, values: &Tensor, accumulate: bool) -> Result<Tensor> {
        let (x, v) = (self.data(), values.data());
        let entries = indices.into_indices();
        let direct: Option<Vec<(usize, Tensor)>> = {
            let mut dim = 0;
            entries
                .iter()
                .map(|e| match e {
                    Idx::Tensor(t) => {
                        let d = dim;
                        dim += e.consumes();
                        Some((d, t.clone()))
                    }
                    _ => None,
                })
                .collect()
        };
        let (out, indices, flat) = match direct {
            // Tensors only: index_put on x itself.
            Some(adv) => {
                let list = tensor_list(&adv);
                (x.index_put(&list, &v, accumulate)?, list, None)
            }
            // Slices, integers, ...: the flat positions of x[indices], found by indexing a
            // tensor of positions, then index_put on the flattened x.
            None => {
                let n = i64::try_from(x.numel()).unwrap_or(i64::MAX);
                let positions = Tensor::from_data(TensorData::arange(0.0, n as f64, 1.0, DType::I64)?)
                    .view(x.shape())?
                    .i(entries)?;
                let list = vec![Some(positions.data())];
                let out = x.reshape([-1])?.index_put(&list, &v, accumulate)?.reshape(x.shape())?;
                (out, list, Some(x.shape().clone()))
            }
        };
        let rule = || IndexPut { indices, accumulate, values: v.shape().clone(), flat };
        Ok(record(out, "IndexPutBackward0", &[self, values], rule))
    }

    /// `x[indices] = values` in place (`accumulate = false`), or `x[indices] += values`
    /// counting repeated positions (`accumulate = true`), like `x.index_put_(indices, values,
    /// accumulate)`: `n.index_put_([&ix1, &ix2], 1, true)` counts makemore's bigrams. `values`
    /// is a tensor of `x`'s dtype or a number; no derivative (an in-place update, see
    /// [`Tensor::add_`]).
    pub fn index_put_<'a>(
        &self,
        indices: impl IndexArg,
        values: impl Into<Other<'a>>,
        accumulate: bool,
    ) -> Result<()> {
        let values = match values.into() {
            Other::Tensor(t) => t.clone(),
            Other::Scalar(s) => Tensor::from_data(TensorData::from_scalar(s, self.dtype())),
        };
        self.update_in_place("index_put_", |x| x.index_put(indices, &values, accumulate))
    }

    /// The elements where `mask` (a bool tensor broadcasting with `x`) is true, as a 1-D
    /// tensor in row-major order, like `torch.masked_select`. Derivative: `g` put back at
    /// those positions, 0 elsewhere.
    pub fn masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        let (x, m) = (self.data(), mask.data());
        if m.dtype() != DType::Bool {
            return Err(Error::dtype(
                "masked_select",
                "a bool mask (e.g. from a comparison: x.gt(0))",
                m.dtype(),
                "; compare to make one, e.g. .ne(0)",
            ));
        }
        let shape = Shape::broadcast("masked_select", x.shape(), m.shape()).map_err(|_| {
            Error::shapes(
                "masked_select",
                x.shape(),
                m.shape(),
                "(input and mask) cannot be broadcast together",
            )
        })?;
        let m = m.expand(&shape)?;
        let out = x.expand(&shape)?.index(&[Some(m.clone())])?;
        Ok(record(out, "MaskedSelectBackward0", &[self], || MaskedSelect {
            mask: m,
            shape: x.shape().clone(),
        }))
    }

    /// The positions of the nonzero (true) elements, like `torch.nonzero`: an i64 tensor of
    /// shape `(n, ndim)`, one row of coordinates each, in row-major order (no gradient).
    pub fn nonzero(&self) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().nonzero()?))
    }
}

/// An i64 index tensor from a sampler draw, shifted by `-shift` where `negative` (the same
/// positions, counted from the end).
fn from_end(t: &Tensor, shift: usize, negative: bool) -> Result<Tensor> {
    if negative {
        t.sub(shift as i64)
    } else {
        Ok(t.clone())
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    // Indices repeat (their gradients must add up); each result goes through a non-linear op
    // so a misplaced element shows in the gradient.
    vec![
        // C[X]: an embedding lookup with an index tensor of any shape, maybe from the end.
        OpInfo::new("index_tensor", |s| {
            let (rows, cols) = (s.size(5), s.size(3));
            let shape = s.pick(&[vec![4], vec![3, 2], vec![2, 2, 3]]);
            let (x, index, neg) = (s.float(&[rows, cols]), s.index(&shape, rows), s.flag());
            Case::new([x, index], move |t| t[0].i(&from_end(&t[1], rows, neg)?)?.exp())
        }),
        // probs[rows, y] (adjacent: in place) and x[i, :, j] (separated: first).
        OpInfo::new("index_pair", |s| {
            let (m, n) = (s.size(4), s.size(5));
            let k = s.size(6);
            let (x, i0, i1) = (s.float(&[m, n]), s.index(&[k], m), s.index(&[k], n));
            Case::new([x, i0, i1], |t| t[0].i([&t[1], &t[2]])?.exp())
        }),
        OpInfo::new("index_separated", |s| {
            let (a, b, c) = (s.size(3), s.size(2), s.size(4));
            let (x, i, j) = (s.float(&[a, b, c]), s.index(&[2, 1], a), s.index(&[3], c));
            let front = s.flag();
            Case::new([x, i, j], move |t| {
                let y = if front { t[0].i(s![&t[1], .., &t[2]])? } else { t[0].i(s![.., .., &t[2]])? };
                y.softmax(-1)
            })
        }),
        OpInfo::new("index_mask", |s| {
            let (m, n) = (s.size(3), s.size(4));
            let (x, mask) = (s.float(&[m, n]), s.mask(&[m, n], 0.5));
            let rows = s.mask(&[m], 0.6);
            let whole = s.flag();
            Case::new(
                [x, mask, rows],
                move |t| if whole { t[0].i(&t[1])?.exp() } else { t[0].i(&t[2])?.softmax(1) },
            )
        }),
        // Basic indexing: integers, slices with steps and negative bounds, None, ellipsis.
        OpInfo::new("index_basic", |s| {
            let x = s.sized(&[3, 5, 4]);
            let form = s.below(4);
            Case::new([x], move |t| {
                let y = match form {
                    0 => t[0].i(s![.., -1, ..])?,
                    1 => t[0].i(s![-1.., ..;2])?,
                    2 => t[0].i(s![None, ..., 0..;2])?,
                    _ => t[0].i(s![-1, 0..=1, -3..])?,
                };
                y.softmax(-1)
            })
        }),
        // Out of place, with and without accumulate. Without it, positions are distinct (a
        // value written twice has no finite-difference gradient for the one overwritten).
        OpInfo::new("index_put", |s| {
            let (m, n) = (s.size(4), s.size(3));
            let acc = s.flag();
            let rows = if acc {
                s.index(&[5], m)
            } else {
                TensorData::arange(0.0, m as f64, 1.0, DType::I64).expect("a small range")
            };
            let k = rows.numel();
            let (x, cols, v) = (s.float(&[m, n]), s.index(&[k], n), s.float(&[k]));
            Case::new([x, v, rows, cols], move |t| t[0].index_put([&t[2], &t[3]], &t[1], acc)?.softmax(1))
        }),
        OpInfo::new("index_put_slice", |s| {
            let (x, v) = (s.float(&[3, 5]), s.float(&[3, 2]));
            let acc = s.flag();
            Case::new([x, v], move |t| t[0].index_put(s![.., 1..;2], &t[1], acc)?.softmax(1))
        }),
        OpInfo::new("masked_select", |s| {
            let (m, n) = (s.size(3), s.size(4));
            let mask_shape = s.pick(&[vec![m, n], vec![n], vec![m, 1]]);
            let (x, mask) = (s.float(&[m, n]), s.mask(&mask_shape, 0.5));
            Case::new([x, mask], |t| t[0].masked_select(&t[1])?.exp())
        }),
    ]
}
