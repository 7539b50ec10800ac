//! [`TensorData`]: an n-dimensional array of one dtype. Shared, immutable storage
//! (`Arc<Buffer>`) plus a [`Layout`], so clones and views (transpose, expand, narrow) are O(1).

use crate::shape::{for_each_offset, normalize_dim, Dims, Layout, Shape};
use crate::{with_any, Buffer, DType, Element, Error, Result};
use std::borrow::Cow;
use std::sync::Arc;

/// The raw tensor of tensor-core: dynamic shape, runtime dtype, no autograd.
/// The user-facing, differentiable type is `torchlet::Tensor`, which wraps this.
#[derive(Clone, Debug)]
pub struct TensorData {
    pub(crate) buf: Arc<Buffer>,
    pub(crate) layout: Layout,
}

impl TensorData {
    // ----- construction -------------------------------------------------------------------

    /// A tensor from a flat row-major `Vec` and a shape; errors if the sizes disagree.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        if data.len() != shape.numel() {
            return Err(Error::invalid(
                "from_vec",
                format!(
                    "{} elements cannot fill a tensor of shape {} ({} elements)",
                    data.len(),
                    shape,
                    shape.numel()
                ),
            ));
        }
        Ok(Self::from_parts(T::into_buffer(data), shape))
    }

    /// A tensor from a buffer whose length is known to match `shape` (crate-internal).
    pub(crate) fn from_parts(buf: Buffer, shape: Shape) -> Self {
        debug_assert_eq!(buf.len(), shape.numel());
        TensorData { buf: Arc::new(buf), layout: Layout::contiguous(shape) }
    }

    /// A contiguous tensor from a `Vec` whose length equals `shape.numel()`.
    /// Kernels use this after computing exactly `numel` values.
    ///
    /// # Panics
    /// When the lengths differ (use [`TensorData::from_vec`] for a `Result`).
    pub fn from_vec_unchecked<T: Element>(data: Vec<T>, shape: Shape) -> Self {
        assert_eq!(data.len(), shape.numel(), "internal: buffer length and shape disagree");
        Self::from_parts(T::into_buffer(data), shape)
    }

    /// A 0-dimensional tensor holding `v`.
    pub fn scalar<T: Element>(v: T) -> Self {
        Self::from_parts(T::into_buffer(vec![v]), Shape::scalar())
    }

    /// A tensor of `shape` filled with `value` (cast to `dtype`).
    pub fn full(shape: impl Into<Shape>, value: f64, dtype: DType) -> Self {
        let shape = shape.into();
        let n = shape.numel();
        with_any!(dtype, |T| Self::from_parts(T::into_buffer(vec![T::from_f64(value); n]), shape))
    }

    /// Zeros of `shape` and `dtype`.
    pub fn zeros(shape: impl Into<Shape>, dtype: DType) -> Self {
        Self::full(shape, 0.0, dtype)
    }

    /// Ones of `shape` and `dtype`.
    pub fn ones(shape: impl Into<Shape>, dtype: DType) -> Self {
        Self::full(shape, 1.0, dtype)
    }

    /// Zeros with the shape and dtype of `self`.
    pub fn zeros_like(&self) -> Self {
        Self::zeros(self.shape().clone(), self.dtype())
    }

    /// Ones with the shape and dtype of `self`.
    pub fn ones_like(&self) -> Self {
        Self::ones(self.shape().clone(), self.dtype())
    }

    /// The `n x n` identity matrix.
    pub fn eye(n: usize, dtype: DType) -> Self {
        let mut v = vec![0.0; n * n];
        for i in 0..n {
            v[i * n + i] = 1.0;
        }
        Self::from_f64_vec(v, Shape::new(&[n, n]), dtype).expect("n * n values for shape [n, n]")
    }

    /// `[start, start+step, ...)` up to (excluding) `end`, like `torch.arange`.
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Self> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(Error::invalid(
                "arange",
                format!(
                    "need finite start/end and a non-zero step, got start={start}, end={end}, step={step}"
                ),
            ));
        }
        if (end - start) * step < 0.0 {
            return Err(Error::invalid(
                "arange",
                format!("step {step} moves away from end {end} (start {start})"),
            ));
        }
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
        Self::from_f64_vec(v, Shape::new(&[n]), dtype)
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive, like `torch.linspace`.
    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Self {
        let v: Vec<f64> = match steps {
            0 => vec![],
            1 => vec![start],
            _ => {
                let step = (end - start) / (steps - 1) as f64;
                // PyTorch fills the second half from the end for symmetry.
                (0..steps)
                    .map(|i| {
                        if i < steps / 2 {
                            start + step * i as f64
                        } else {
                            end - step * (steps - 1 - i) as f64
                        }
                    })
                    .collect()
            }
        };
        Self::from_f64_vec(v, Shape::new(&[steps]), dtype).expect("`steps` values for shape [steps]")
    }

    /// A tensor of `dtype` from f64 values (cast element by element), like
    /// [`TensorData::from_vec`]: an error if the number of values is not the shape's.
    pub fn from_f64_vec(v: Vec<f64>, shape: Shape, dtype: DType) -> Result<Self> {
        if v.len() != shape.numel() {
            return Err(Error::invalid(
                "from_f64_vec",
                format!(
                    "{} elements cannot fill a tensor of shape {} ({} elements)",
                    v.len(),
                    shape,
                    shape.numel()
                ),
            ));
        }
        Ok(with_any!(dtype, |T| Self::from_parts(
            T::into_buffer(v.into_iter().map(T::from_f64).collect()),
            shape
        )))
    }

    /// One-hot encoding of an i64 tensor of class indices: shape `[..., num_classes]`, i64.
    /// `num_classes = None` uses `max + 1`, like `torch.nn.functional.one_hot`.
    pub fn one_hot(&self, num_classes: Option<usize>) -> Result<Self> {
        let idx = self.to_vec::<i64>().map_err(|_| {
            Error::dtype(
                "one_hot",
                "an i64 tensor of class indices",
                self.dtype(),
                "; convert with .to_dtype(DType::I64)",
            )
        })?;
        let c = match num_classes {
            Some(c) => c,
            // max + 1 (saturating: i64::MAX cannot be a class of any tensor that fits in memory).
            None => idx.iter().copied().max().map(|m| m.max(-1).saturating_add(1)).unwrap_or(0) as usize,
        };
        // The result's size must be addressable (an allocation of more than isize::MAX bytes
        // would panic with "capacity overflow"); a very large but addressable size is left to
        // the allocator, as for any tensor.
        let mut dims = self.shape().0.clone();
        dims.push(c);
        let n = Shape(dims.clone()).checked_numel().ok_or_else(|| {
            Error::invalid(
                "one_hot",
                format!(
                    "num_classes {c} is too large for {} indices (the result would not fit in memory)",
                    idx.len()
                ),
            )
        })?;
        let mut out = vec![0i64; n];
        for (i, &k) in idx.iter().enumerate() {
            if k < 0 || k as usize >= c {
                return Err(Error::IndexOutOfRange {
                    op: "one_hot",
                    what: "class index",
                    index: k,
                    size: c,
                    extra: String::new(),
                });
            }
            out[i * c + k as usize] = 1;
        }
        Ok(Self::from_parts(Buffer::I64(out), Shape(dims)))
    }

    // ----- queries --------------------------------------------------------------------------

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.layout.shape
    }

    /// The dimension sizes as a slice.
    pub fn dims(&self) -> &[usize] {
        &self.layout.shape.0
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.layout.shape.ndim()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.layout.shape.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.buf.dtype()
    }

    /// The layout (shape, strides, offset).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// True when the elements are stored row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// The size of dimension `dim` (negative counts from the end).
    pub fn size(&self, dim: isize) -> Result<usize> {
        self.shape().size("size", dim)
    }

    /// True when both tensors share the same storage buffer.
    pub fn shares_storage(&self, other: &TensorData) -> bool {
        Arc::ptr_eq(&self.buf, &other.buf)
    }

    // ----- element access -------------------------------------------------------------------

    /// The elements in row-major order, borrowed when the layout is contiguous.
    /// Errors if `T` is not the tensor's dtype.
    pub fn values<T: Element>(&self) -> Result<Cow<'_, [T]>> {
        let all = T::slice(&self.buf).ok_or_else(|| {
            Error::dtype(
                "values",
                format!("a tensor of dtype {}", T::DTYPE),
                self.dtype(),
                format!("; convert with .to_dtype(DType::{:?})", T::DTYPE),
            )
        })?;
        if self.is_contiguous() {
            let o = self.layout.offset;
            return Ok(Cow::Borrowed(&all[o..o + self.numel()]));
        }
        let mut out = Vec::with_capacity(self.numel());
        for_each_offset(self.dims(), &self.layout.strides, self.layout.offset, |o| out.push(all[o]));
        Ok(Cow::Owned(out))
    }

    /// The elements in row-major order as a new `Vec<T>` (dtype must be `T`).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        Ok(self.values::<T>()?.into_owned())
    }

    /// The elements converted to f64, in row-major order (any dtype).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        with_any!(self.dtype(), |T| self
            .values::<T>()
            .map(|v| v.iter().map(|x| x.to_f64()).collect())
            .unwrap_or_default())
    }

    /// The single value of a one-element tensor, as f64 (like `tensor.item()`).
    pub fn item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::invalid("item", format!("a tensor with {} elements (shape {}) cannot be converted to a scalar; item() needs exactly one element", self.numel(), self.shape())));
        }
        Ok(self.to_f64_vec()[0])
    }

    /// A contiguous tensor with the same values (O(1) when already contiguous at offset 0).
    pub fn contiguous(&self) -> Self {
        if self.is_contiguous() && self.layout.offset == 0 && self.buf.len() == self.numel() {
            return self.clone();
        }
        with_any!(self.dtype(), |T| {
            let v = self.to_vec::<T>().expect("dtype checked");
            Self::from_parts(T::into_buffer(v), self.shape().clone())
        })
    }

    /// Mutable access to the elements for in-place updates (optimizers, gradient
    /// accumulation). Copy-on-write: if the storage is shared (a view, a clone, or a value
    /// saved by the autograd tape), it is copied first, so no other tensor changes.
    pub fn values_mut<T: Element>(&mut self) -> Result<&mut [T]> {
        if self.dtype() != T::DTYPE {
            return Err(Error::dtype(
                "values_mut",
                format!("a tensor of dtype {}", T::DTYPE),
                self.dtype(),
                "",
            ));
        }
        if !(self.is_contiguous() && self.layout.offset == 0 && self.buf.len() == self.numel()) {
            *self = self.contiguous_copy();
        }
        let buf = Arc::make_mut(&mut self.buf);
        Ok(T::vec_mut(buf).expect("dtype checked").as_mut_slice())
    }

    /// Always a fresh contiguous copy with its own storage.
    pub fn contiguous_copy(&self) -> Self {
        with_any!(self.dtype(), |T| {
            let v = self.to_vec::<T>().expect("dtype checked");
            Self::from_parts(T::into_buffer(v), self.shape().clone())
        })
    }

    /// Converts to another dtype (floats to i64 truncate toward zero; bool is 0/1).
    pub fn to_dtype(&self, dtype: DType) -> Self {
        if dtype == self.dtype() {
            return self.clone();
        }
        // Direct conversions; f32 <-> f64 keeps exact values where representable.
        with_any!(self.dtype(), |S| {
            let src = self.values::<S>().expect("dtype checked");
            with_any!(dtype, |D| {
                let v: Vec<D> = src.iter().map(|&x| D::from_f64(x.to_f64())).collect();
                Self::from_parts(D::into_buffer(v), self.shape().clone())
            })
        })
    }

    // ----- views (no copy) ------------------------------------------------------------------

    fn view_with(&self, layout: Layout) -> Self {
        TensorData { buf: self.buf.clone(), layout }
    }

    /// The same elements with another shape (one dimension may be `-1`, inferred).
    /// A view when the layout is contiguous, a copy otherwise (like `torch.reshape`).
    pub fn reshape(&self, shape: &[isize]) -> Result<Self> {
        let shape = infer_shape("reshape", shape, self.numel(), self.shape())?;
        if self.is_contiguous() {
            let strides = shape.contiguous_strides();
            return Ok(self.view_with(Layout { shape, strides, offset: self.layout.offset }));
        }
        let c = self.contiguous();
        Ok(c.view_with(Layout::contiguous(shape)))
    }

    /// Reorders the dimensions: `perm[i]` is the source dimension of result dimension `i`.
    pub fn permute(&self, perm: &[isize]) -> Result<Self> {
        let n = self.ndim();
        if perm.len() != n {
            return Err(Error::invalid(
                "permute",
                format!(
                    "got {} dims {:?} for a tensor of shape {} ({} dims)",
                    perm.len(),
                    perm,
                    self.shape(),
                    n
                ),
            ));
        }
        let mut seen = vec![false; n];
        let mut shape = Dims::new();
        let mut strides = Dims::new();
        for &p in perm {
            let d = normalize_dim("permute", p, n)?;
            if std::mem::replace(&mut seen[d], true) {
                return Err(Error::invalid("permute", format!("dimension {d} repeats in {perm:?}")));
            }
            shape.push(self.dims()[d]);
            strides.push(self.layout.strides[d]);
        }
        Ok(self.view_with(Layout { shape: Shape(shape), strides, offset: self.layout.offset }))
    }

    /// Swaps two dimensions.
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Self> {
        let n = self.ndim();
        let (a, b) = (normalize_dim("transpose", d0, n)?, normalize_dim("transpose", d1, n)?);
        let mut layout = self.layout.clone();
        if n > 0 {
            layout.shape.0.swap(a, b);
            layout.strides.swap(a, b);
        }
        Ok(self.view_with(layout))
    }

    /// The transpose of a matrix (`t()`); 0-D and 1-D tensors are returned as they are.
    pub fn t(&self) -> Result<Self> {
        match self.ndim() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            n => Err(Error::invalid(
                "t",
                format!(
                    "expects a tensor with <= 2 dimensions, got {n} (shape {}); use transpose(d0, d1)",
                    self.shape()
                ),
            )),
        }
    }

    /// Removes dimension `dim` if it has size 1 (no-op otherwise, like PyTorch).
    pub fn squeeze_dim(&self, dim: isize) -> Result<Self> {
        let d = normalize_dim("squeeze", dim, self.ndim())?;
        if self.ndim() == 0 || self.dims()[d] != 1 {
            return Ok(self.clone());
        }
        let mut layout = self.layout.clone();
        layout.shape.0.remove(d);
        layout.strides.remove(d);
        Ok(self.view_with(layout))
    }

    /// Removes every dimension of size 1.
    pub fn squeeze(&self) -> Self {
        let mut layout = Layout { shape: Shape::scalar(), strides: Dims::new(), offset: self.layout.offset };
        for (i, &d) in self.dims().iter().enumerate() {
            if d != 1 {
                layout.shape.0.push(d);
                layout.strides.push(self.layout.strides[i]);
            }
        }
        self.view_with(layout)
    }

    /// Inserts a dimension of size 1 at `dim` (in `[-ndim-1, ndim]`).
    pub fn unsqueeze(&self, dim: isize) -> Result<Self> {
        let d = normalize_dim("unsqueeze", dim, self.ndim() + 1)?;
        let mut layout = self.layout.clone();
        let stride = if d < self.ndim() { layout.strides[d] * layout.shape.0[d] } else { 1 };
        layout.shape.0.insert(d, 1);
        layout.strides.insert(d, stride);
        Ok(self.view_with(layout))
    }

    /// A broadcast view with `shape` (size-1 and new leading dims repeat, stride 0).
    pub fn expand(&self, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        if shape.checked_numel().is_none() {
            return Err(Error::invalid(
                "expand",
                format!("shape {shape} has too many elements to address (more than isize::MAX bytes)"),
            ));
        }
        let out = Shape::broadcast("expand", self.shape(), &shape)?;
        if out != shape {
            return Err(Error::shapes(
                "expand",
                self.shape(),
                &shape,
                "cannot be expanded (only size-1 dimensions can grow)",
            ));
        }
        let strides = self.layout.broadcast_strides(&shape);
        Ok(self.view_with(Layout { shape, strides, offset: self.layout.offset }))
    }

    /// Elements `start..start+len` along `dim` (a view), like `torch.narrow`.
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Self> {
        let d = normalize_dim("narrow", dim, self.ndim())?;
        if self.ndim() == 0 {
            return Err(Error::invalid("narrow", "cannot narrow a 0-dimensional tensor"));
        }
        let size = self.dims()[d];
        if !start.checked_add(len).is_some_and(|end| end <= size) {
            return Err(Error::invalid(
                "narrow",
                format!(
                    "start ({start}) + length ({len}) exceeds dimension {d} of size {size} (shape {})",
                    self.shape()
                ),
            ));
        }
        let mut layout = self.layout.clone();
        layout.offset += start * layout.strides[d];
        layout.shape.0[d] = len;
        Ok(self.view_with(layout))
    }

    /// Flattens dimensions `start..=end` into one (like `torch.flatten`).
    pub fn flatten(&self, start: isize, end: isize) -> Result<Self> {
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let (s, e) =
            (normalize_dim("flatten", start, self.ndim())?, normalize_dim("flatten", end, self.ndim())?);
        if s > e {
            return Err(Error::invalid(
                "flatten",
                format!("start_dim ({start}) comes after end_dim ({end})"),
            ));
        }
        let mut dims: Vec<isize> = self.dims()[..s].iter().map(|&d| d as isize).collect();
        dims.push(self.dims()[s..=e].iter().product::<usize>() as isize);
        dims.extend(self.dims()[e + 1..].iter().map(|&d| d as isize));
        self.reshape(&dims)
    }
}

/// Resolves a shape with at most one `-1` against `numel` elements.
pub(crate) fn infer_shape(op: &'static str, spec: &[isize], numel: usize, from: &Shape) -> Result<Shape> {
    let mut dims = Dims::new();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in spec.iter().enumerate() {
        if d == -1 {
            if infer.replace(i).is_some() {
                return Err(Error::invalid(
                    op,
                    format!("only one dimension can be inferred (-1), got {spec:?}"),
                ));
            }
            dims.push(0);
        } else if d < 0 {
            return Err(Error::invalid(op, format!("invalid size {d} in {spec:?}")));
        } else {
            // A product that overflows usize can never match numel (PyTorch: "invalid shape").
            known = known.checked_mul(d as usize).ok_or_else(|| {
                Error::invalid(
                    op,
                    format!("shape {spec:?} is invalid for input of shape {from} ({numel} elements): the sizes overflow"),
                )
            })?;
            dims.push(d as usize);
        }
    }
    if let Some(i) = infer {
        if known == 0 || numel % known != 0 {
            return Err(Error::invalid(
                op,
                format!("shape {spec:?} is invalid for input of shape {from} ({numel} elements)"),
            ));
        }
        dims[i] = numel / known;
    } else if known != numel {
        return Err(Error::invalid(
            op,
            format!("shape {spec:?} is invalid for input of shape {from} ({numel} elements)"),
        ));
    }
    Ok(Shape(dims))
}

/// Nested array literals: `TensorData::from([[1.0f32, 2.0], [3.0, 4.0]])`.
impl<T: Element, const N: usize> From<[T; N]> for TensorData {
    fn from(v: [T; N]) -> Self {
        Self::from_parts(T::into_buffer(v.to_vec()), Shape::new(&[N]))
    }
}
impl<T: Element, const N: usize, const M: usize> From<[[T; N]; M]> for TensorData {
    fn from(v: [[T; N]; M]) -> Self {
        Self::from_parts(T::into_buffer(v.iter().flatten().copied().collect()), Shape::new(&[M, N]))
    }
}
impl<T: Element, const N: usize, const M: usize, const K: usize> From<[[[T; N]; M]; K]> for TensorData {
    fn from(v: [[[T; N]; M]; K]) -> Self {
        Self::from_parts(
            T::into_buffer(v.iter().flatten().flatten().copied().collect()),
            Shape::new(&[K, M, N]),
        )
    }
}
impl<T: Element> From<Vec<T>> for TensorData {
    fn from(v: Vec<T>) -> Self {
        let n = v.len();
        Self::from_parts(T::into_buffer(v), Shape::new(&[n]))
    }
}
impl From<f32> for TensorData {
    fn from(v: f32) -> Self {
        Self::scalar(v)
    }
}
impl From<f64> for TensorData {
    fn from(v: f64) -> Self {
        Self::scalar(v)
    }
}
impl From<i64> for TensorData {
    fn from(v: i64) -> Self {
        Self::scalar(v)
    }
}
