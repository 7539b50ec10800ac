//! Shapes, strides and broadcasting: the index arithmetic, isolated in one module.

use crate::{DType, Error, Result};
use smallvec::SmallVec;
use std::fmt;

/// Dimension sizes or strides, stored inline (no allocation) for rank <= 4.
pub type Dims = SmallVec<[usize; 4]>;

/// The size of each dimension, like `torch.Size`. Prints as `[2, 3]`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Dims);

impl Shape {
    /// A shape from its dimension sizes.
    pub fn new(dims: &[usize]) -> Self {
        Shape(Dims::from_slice(dims))
    }

    /// The shape of a scalar: `[]`.
    pub fn scalar() -> Self {
        Shape(Dims::new())
    }

    /// The dimension sizes.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of dimensions (rank).
    pub fn ndim(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar). Saturates at `usize::MAX` for sizes whose
    /// product overflows (such a shape can describe no tensor: see [`Shape::validate`]).
    pub fn numel(&self) -> usize {
        if self.0.contains(&0) {
            return 0;
        }
        self.0.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX)
    }

    /// Number of elements when a tensor of this shape could exist whatever its dtype (elements
    /// of up to 8 bytes): [`Shape::checked_numel_for`] with 8-byte elements.
    pub fn checked_numel(&self) -> Option<usize> {
        self.checked_numel_for(8)
    }

    /// Number of elements, or `None` when no tensor of this shape with `elem_bytes`-byte
    /// elements can exist: the element count times the element size must fit in
    /// `isize::MAX` bytes (the most any allocation or pointer offset can span), computed
    /// without overflow. A dimension of size 0 counts as 1 here, so an empty shape whose other
    /// dimensions overflow is rejected too, as PyTorch rejects them at creation
    /// (`torch.zeros(0, 2**40, 2**40)`: "Stride calculation overflowed"). Then every product
    /// of dimensions and every stride of a tensor fits as well. O(ndim).
    pub fn checked_numel_for(&self, elem_bytes: usize) -> Option<usize> {
        let extent = self.extent()?;
        extent.checked_mul(elem_bytes.max(1)).filter(|&b| b <= isize::MAX as usize)?;
        Some(if self.0.contains(&0) { 0 } else { extent })
    }

    /// The product of the sizes with 0 counted as 1, or `None` when it overflows.
    fn extent(&self) -> Option<usize> {
        self.0.iter().try_fold(1usize, |a, &d| a.checked_mul(d.max(1)))
    }

    /// The number of elements of a `dtype` tensor of this shape, or an error naming `op`, the
    /// shape and the dtype when no such tensor can exist (see [`Shape::checked_numel_for`]).
    /// Every constructor and every op that sizes an output calls it (or
    /// the fallible allocators of [`crate::pool`], which do) before allocating.
    pub fn validate(&self, op: &'static str, dtype: DType) -> Result<usize> {
        let size = dtype.size_in_bytes();
        self.checked_numel_for(size).ok_or_else(|| {
            let detail = match self.extent() {
                None => "the sizes overflow".to_string(),
                Some(n) if self.0.contains(&0) => {
                    format!("{n} elements of {size} bytes counting the sizes of 0 as 1")
                }
                Some(n) => format!("{n} elements of {size} bytes"),
            };
            Error::invalid(
                op,
                format!(
                    "a tensor of shape {self} and dtype {dtype} has too many elements ({detail}; \
                     at most isize::MAX = {} bytes can be addressed)",
                    isize::MAX
                ),
            )
        })
    }

    /// Row-major (C-contiguous) strides of this shape.
    pub fn contiguous_strides(&self) -> Dims {
        let mut strides: Dims = smallvec::smallvec![0; self.ndim()];
        let mut acc = 1;
        for i in (0..self.ndim()).rev() {
            strides[i] = acc;
            // Saturating: only a shape with a zero size can overflow here, and its strides
            // never address anything.
            acc = acc.saturating_mul(self.0[i]);
        }
        strides
    }

    /// Resolves a possibly negative `dim` against this rank (`-1` is the last dimension).
    pub fn dim(&self, op: &'static str, dim: isize) -> Result<usize> {
        normalize_dim(op, dim, self.ndim())
    }

    /// The size of dimension `dim` (negative counts from the end); an error for a 0-d shape,
    /// which has no sizes (PyTorch: "dimension specified as 0 but tensor has no dimensions").
    pub fn size(&self, op: &'static str, dim: isize) -> Result<usize> {
        let d = self.dim(op, dim)?;
        self.0.get(d).copied().ok_or_else(|| {
            Error::invalid(
                op,
                format!("dimension {dim} specified but the tensor has no dimensions (shape [])"),
            )
        })
    }

    /// The shape two operands broadcast to, with NumPy/PyTorch rules: align from the right;
    /// sizes must be equal or one of them 1.
    pub fn broadcast(op: &'static str, a: &Shape, b: &Shape) -> Result<Shape> {
        if a == b {
            return Ok(a.clone());
        }
        let n = a.ndim().max(b.ndim());
        let mut out: Dims = smallvec::smallvec![0; n];
        for i in 0..n {
            let da = if i + a.ndim() >= n { a.0[i + a.ndim() - n] } else { 1 };
            let db = if i + b.ndim() >= n { b.0[i + b.ndim() - n] } else { 1 };
            out[i] = if da == db || db == 1 {
                da
            } else if da == 1 {
                db
            } else {
                return Err(Error::shapes(
                    op,
                    a,
                    b,
                    format!(
                        "cannot be broadcast together (dimension {} of the result: {} vs {}; sizes must match or be 1)",
                        i as isize - n as isize,
                        da,
                        db
                    ),
                ));
            };
        }
        Ok(Shape(out))
    }
}

/// Resolves `dim` in `[-ndim, ndim)` to `[0, ndim)`; a scalar accepts 0 and -1 like PyTorch.
pub fn normalize_dim(op: &'static str, dim: isize, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as isize;
    if dim < -n || dim >= n {
        return Err(Error::DimOutOfRange { op, dim, ndim });
    }
    Ok(if dim < 0 { (dim + n) as usize } else { dim as usize })
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape::new(d)
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape::new(&d)
    }
}
impl From<&Vec<usize>> for Shape {
    fn from(d: &Vec<usize>) -> Self {
        Shape::new(d)
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape::new(&d)
    }
}
impl<const N: usize> From<&[usize; N]> for Shape {
    fn from(d: &[usize; N]) -> Self {
        Shape::new(d)
    }
}
impl From<()> for Shape {
    fn from(_: ()) -> Self {
        Shape::scalar()
    }
}
impl From<usize> for Shape {
    fn from(d: usize) -> Self {
        Shape::new(&[d])
    }
}
impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Self {
        s.clone()
    }
}

/// Where a tensor's elements live in its buffer: `shape`, `strides` (in elements; 0 for
/// broadcast dimensions) and the `offset` of the first element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Dimension sizes.
    pub shape: Shape,
    /// Step in the buffer for each dimension.
    pub strides: Dims,
    /// Index of element `[0, 0, ...]` in the buffer.
    pub offset: usize,
}

impl Layout {
    /// A row-major layout starting at element 0.
    pub fn contiguous(shape: Shape) -> Self {
        let strides = shape.contiguous_strides();
        Layout { shape, strides, offset: 0 }
    }

    /// True when the elements are laid out row-major without gaps (any offset).
    pub fn is_contiguous(&self) -> bool {
        let mut acc = 1;
        for i in (0..self.shape.ndim()).rev() {
            let d = self.shape.0[i];
            if d != 1 && self.strides[i] != acc {
                return false;
            }
            acc = acc.saturating_mul(d); // as in `contiguous_strides`
        }
        true
    }

    /// True when every element is the same one: each dimension of more than one element has
    /// stride 0 (a single value expanded to this shape). False for an empty layout.
    pub fn is_broadcast_value(&self) -> bool {
        self.shape.numel() > 0 && self.shape.0.iter().zip(&self.strides).all(|(&d, &s)| d == 1 || s == 0)
    }

    /// The strides this layout has when viewed as `target` (which it must broadcast to):
    /// new leading dimensions and expanded size-1 dimensions get stride 0.
    pub fn broadcast_strides(&self, target: &Shape) -> Dims {
        let n = target.ndim();
        let k = self.shape.ndim();
        let mut out: Dims = smallvec::smallvec![0; n];
        for i in 0..k {
            let j = n - k + i;
            out[j] = if self.shape.0[i] == target.0[j] { self.strides[i] } else { 0 };
        }
        out
    }
}

/// Calls `f(offset)` for every element of a strided view, in row-major order.
/// The innermost dimension runs in a tight loop; outer dimensions use a counter.
#[inline]
pub fn for_each_offset(shape: &[usize], strides: &[usize], offset: usize, mut f: impl FnMut(usize)) {
    for_each_offset2(shape, strides, offset, strides, offset, |a, _| f(a));
}

/// Like [`for_each_offset`] for two views of the same (broadcast) shape at once:
/// calls `f(offset_a, offset_b)` in row-major order.
#[inline]
pub fn for_each_offset2(
    shape: &[usize],
    sa: &[usize],
    oa: usize,
    sb: &[usize],
    ob: usize,
    mut f: impl FnMut(usize, usize),
) {
    let nd = shape.len();
    if shape.contains(&0) {
        return;
    }
    if nd == 0 {
        f(oa, ob);
        return;
    }
    let inner = shape[nd - 1];
    let (ia, ib) = (sa[nd - 1], sb[nd - 1]);
    let mut idx: Dims = smallvec::smallvec![0; nd];
    let (mut pa, mut pb) = (oa, ob);
    loop {
        for k in 0..inner {
            f(pa + k * ia, pb + k * ib);
        }
        // Advance the outer counter (dimensions nd-2 .. 0).
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            pa += sa[d];
            pb += sb[d];
            if idx[d] < shape[d] {
                break;
            }
            pa -= sa[d] * shape[d];
            pb -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        let s = |d: &[usize]| Shape::new(d);
        // Trailing alignment: (2,3) with (3) -> (2,3); (4,1,3) with (5,1) -> (4,5,3).
        assert_eq!(Shape::broadcast("add", &s(&[2, 3]), &s(&[3])).unwrap(), s(&[2, 3]));
        assert_eq!(Shape::broadcast("add", &s(&[4, 1, 3]), &s(&[5, 1])).unwrap(), s(&[4, 5, 3]));
        assert_eq!(Shape::broadcast("add", &s(&[]), &s(&[2, 2])).unwrap(), s(&[2, 2]));
        assert_eq!(Shape::broadcast("add", &s(&[0, 1]), &s(&[1, 4])).unwrap(), s(&[0, 4]));
        let e = Shape::broadcast("add", &s(&[2, 3]), &s(&[4])).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { op: "add", .. }));
        assert!(e.to_string().starts_with("add: shapes [2, 3] and [4] cannot be broadcast"), "{e}");
    }

    #[test]
    fn negative_dims() {
        assert_eq!(normalize_dim("sum", -1, 3).unwrap(), 2);
        assert_eq!(normalize_dim("sum", -3, 3).unwrap(), 0);
        assert_eq!(normalize_dim("sum", 0, 0).unwrap(), 0);
        let e = normalize_dim("sum", 3, 3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sum: dimension 3 is out of range for a tensor with 3 dimension(s) (expected a dim in [-3, 2])"
        );
        assert!(normalize_dim("sum", -4, 3).is_err());
    }

    #[test]
    fn strided_walk_visits_transposed_order() {
        // A (2,3) row-major buffer viewed transposed as (3,2) with strides (1,3):
        // row-major order of the view is 0,3,1,4,2,5.
        let mut seen = vec![];
        for_each_offset(&[3, 2], &[1, 3], 0, |o| seen.push(o));
        assert_eq!(seen, vec![0, 3, 1, 4, 2, 5]);
        let mut none = 0;
        for_each_offset(&[3, 0], &[1, 1], 0, |_| none += 1);
        assert_eq!(none, 0);
    }
}

macro_rules! shape_from_tuple {
    ($(($($t:ident $v:ident),*)),*) => {$(
        impl From<($($t,)*)> for Shape {
            fn from(($($v,)*): ($($t,)*)) -> Self {
                Shape::new(&[$($v),*])
            }
        }
    )*};
}
type U = usize;
shape_from_tuple!((U a), (U a, U b), (U a, U b, U c), (U a, U b, U c, U d), (U a, U b, U c, U d, U e), (U a, U b, U c, U d, U e, U f));

/// One size of a [`ShapeSpec`]: any Rust integer (`-1` asks for the size to be inferred).
pub trait SpecDim: Copy {
    /// The size as `isize` (sizes beyond `isize::MAX` saturate, and are then refused as too large).
    fn spec_dim(self) -> isize;
}

macro_rules! spec_dim {
    ($($t:ty),*) => {$(
        impl SpecDim for $t {
            fn spec_dim(self) -> isize {
                isize::try_from(self).unwrap_or(isize::MAX)
            }
        }
    )*};
}
spec_dim!(usize, isize, i64, i32, u32, u64);

/// A shape argument that may hold `-1` for a size to infer, as `reshape`, `view` and `expand`
/// take it in PyTorch: `[6, -1]`, `&[n, -1]`, `(n, -1)` with `n: usize`, `&dims` for a
/// `Vec<isize>`, or a [`Shape`].
pub trait ShapeSpec {
    /// The sizes, `-1` where one is to be inferred.
    fn spec(self) -> SpecDims;
}

/// The sizes of a [`ShapeSpec`] (inline up to rank 6).
pub type SpecDims = SmallVec<[isize; 6]>;

impl<T: SpecDim, const N: usize> ShapeSpec for [T; N] {
    fn spec(self) -> SpecDims {
        self.iter().map(|d| d.spec_dim()).collect()
    }
}
impl<T: SpecDim, const N: usize> ShapeSpec for &[T; N] {
    fn spec(self) -> SpecDims {
        self.iter().map(|d| d.spec_dim()).collect()
    }
}
impl<T: SpecDim> ShapeSpec for &[T] {
    fn spec(self) -> SpecDims {
        self.iter().map(|d| d.spec_dim()).collect()
    }
}
impl<T: SpecDim> ShapeSpec for Vec<T> {
    fn spec(self) -> SpecDims {
        self.iter().map(|d| d.spec_dim()).collect()
    }
}
impl<T: SpecDim> ShapeSpec for &Vec<T> {
    fn spec(self) -> SpecDims {
        self.iter().map(|d| d.spec_dim()).collect()
    }
}
impl ShapeSpec for &Shape {
    fn spec(self) -> SpecDims {
        self.dims().iter().map(|d| d.spec_dim()).collect()
    }
}
impl ShapeSpec for Shape {
    fn spec(self) -> SpecDims {
        (&self).spec()
    }
}
impl ShapeSpec for () {
    fn spec(self) -> SpecDims {
        SpecDims::new()
    }
}
macro_rules! spec_tuple {
    ($(($($t:ident $v:ident),*)),*) => {$(
        impl<$($t: SpecDim),*> ShapeSpec for ($($t,)*) {
            fn spec(self) -> SpecDims {
                let ($($v,)*) = self;
                smallvec::smallvec![$($v.spec_dim()),*]
            }
        }
    )*};
}
spec_tuple!((A a), (A a, B b), (A a, B b, C c), (A a, B b, C c, D d), (A a, B b, C c, D d, E e), (A a, B b, C c, D d, E e, F f));
