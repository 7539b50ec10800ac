//! [`TensorData`]: an n-dimensional array of one dtype. Shared, immutable storage
//! (`Arc<Buffer>`) plus a [`Layout`], so clones and views (transpose, expand, narrow) are O(1).

use crate::shape::{normalize_dim, Dims, Layout, Shape, ShapeSpec};
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

    /// A tensor from a flat row-major `Vec` and a shape; errors if the sizes disagree or the
    /// shape has too many elements ([`Shape::validate`], which also rejects an empty shape
    /// whose other sizes overflow).
    pub fn from_vec<T: Element>(data: Vec<T>, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        let n = shape.validate("from_vec", T::DTYPE)?;
        if data.len() != n {
            return Err(Error::invalid(
                "from_vec",
                format!("{} elements cannot fill a tensor of shape {} ({} elements)", data.len(), shape, n),
            ));
        }
        Ok(Self::from_parts(T::into_buffer(data), shape))
    }

    /// A tensor from a buffer whose length is known to match `shape`, a shape that passed
    /// [`Shape::validate`] (crate-internal).
    pub(crate) fn from_parts(buf: Buffer, shape: Shape) -> Self {
        debug_assert_eq!(shape.checked_numel_for(buf.dtype().size_in_bytes()), Some(buf.len()));
        TensorData { buf: Arc::new(buf), layout: Layout::contiguous(shape) }
    }

    /// A contiguous tensor from a `Vec` whose length equals `shape.numel()`.
    /// Kernels use this after computing exactly `numel` values.
    ///
    /// # Panics
    /// When the lengths differ, or the shape has too many elements (an empty shape whose other
    /// sizes overflow; see [`Shape::validate`]). Use [`TensorData::from_vec`] for a `Result`.
    pub fn from_vec_unchecked<T: Element>(data: Vec<T>, shape: Shape) -> Self {
        assert!(
            shape.checked_numel_for(std::mem::size_of::<T>()) == Some(data.len()),
            "internal: buffer length {} and shape {shape} disagree",
            data.len()
        );
        Self::from_parts(T::into_buffer(data), shape)
    }

    /// A 0-dimensional tensor holding `v`.
    pub fn scalar<T: Element>(v: T) -> Self {
        Self::from_parts(T::into_buffer(vec![v]), Shape::scalar())
    }

    /// A tensor of `shape` filled with `value` (cast to `dtype`).
    ///
    /// # Panics
    /// When the shape has too many elements or the allocation fails; [`TensorData::try_full`]
    /// returns those as errors.
    pub fn full(shape: impl Into<Shape>, value: f64, dtype: DType) -> Self {
        or_panic(Self::try_full(shape, value, dtype))
    }

    /// The fallible core of [`TensorData::full`]: an error when the shape has too many
    /// elements ([`Shape::validate`]) or the memory cannot be allocated.
    pub fn try_full(shape: impl Into<Shape>, value: f64, dtype: DType) -> Result<Self> {
        let shape = shape.into();
        with_any!(dtype, |T| {
            let mut v = crate::pool::try_fresh::<T>("full", &shape)?;
            v.resize(shape.numel(), T::from_f64(value));
            Ok(Self::from_parts(T::into_buffer(v), shape))
        })
    }

    /// Zeros of `shape` and `dtype`.
    ///
    /// # Panics
    /// As [`TensorData::full`]; [`TensorData::try_zeros`] returns errors instead.
    pub fn zeros(shape: impl Into<Shape>, dtype: DType) -> Self {
        or_panic(Self::try_zeros(shape, dtype))
    }

    /// The fallible core of [`TensorData::zeros`].
    pub fn try_zeros(shape: impl Into<Shape>, dtype: DType) -> Result<Self> {
        Self::try_full(shape, 0.0, dtype)
    }

    /// Ones of `shape` and `dtype`.
    ///
    /// # Panics
    /// As [`TensorData::full`]; [`TensorData::try_ones`] returns errors instead.
    pub fn ones(shape: impl Into<Shape>, dtype: DType) -> Self {
        or_panic(Self::try_ones(shape, dtype))
    }

    /// The fallible core of [`TensorData::ones`].
    pub fn try_ones(shape: impl Into<Shape>, dtype: DType) -> Result<Self> {
        Self::try_full(shape, 1.0, dtype)
    }

    /// Zeros with the shape and dtype of `self`.
    ///
    /// # Panics
    /// When the allocation fails (`self` may be a large expanded view);
    /// [`TensorData::try_zeros_like`] returns an error instead.
    pub fn zeros_like(&self) -> Self {
        or_panic(self.try_zeros_like())
    }

    /// The fallible core of [`TensorData::zeros_like`].
    pub fn try_zeros_like(&self) -> Result<Self> {
        Self::try_zeros(self.shape().clone(), self.dtype())
    }

    /// Ones with the shape and dtype of `self`.
    ///
    /// # Panics
    /// As [`TensorData::zeros_like`]; [`TensorData::try_ones_like`] returns an error instead.
    pub fn ones_like(&self) -> Self {
        or_panic(self.try_ones_like())
    }

    /// The fallible core of [`TensorData::ones_like`].
    pub fn try_ones_like(&self) -> Result<Self> {
        Self::try_ones(self.shape().clone(), self.dtype())
    }

    /// The `n x n` identity matrix.
    ///
    /// # Panics
    /// When `n * n` elements are too many or cannot be allocated; [`TensorData::try_eye`]
    /// returns an error instead.
    pub fn eye(n: usize, dtype: DType) -> Self {
        or_panic(Self::try_eye(n, dtype))
    }

    /// The fallible core of [`TensorData::eye`].
    pub fn try_eye(n: usize, dtype: DType) -> Result<Self> {
        let shape = Shape::new(&[n, n]);
        with_any!(dtype, |T| {
            let mut v = crate::pool::try_fresh::<T>("eye", &shape)?;
            v.resize(shape.numel(), T::from_f64(0.0));
            for i in 0..n {
                v[i * n + i] = T::from_f64(1.0); // i * n + i < n * n, which was validated
            }
            Ok(Self::from_parts(T::into_buffer(v), shape))
        })
    }

    /// A 1-D tensor of `n` values `f(i)` cast to `dtype`, or an error naming `op` when `n`
    /// values are too many or cannot be allocated.
    fn try_from_fn(op: &'static str, n: usize, dtype: DType, f: impl Fn(usize) -> f64) -> Result<Self> {
        let shape = Shape::new(&[n]);
        with_any!(dtype, |T| {
            let mut v = crate::pool::try_fresh::<T>(op, &shape)?;
            v.extend((0..n).map(|i| T::from_f64(f(i))));
            Ok(Self::from_parts(T::into_buffer(v), shape))
        })
    }

    /// `[start, start+step, ...)` up to (excluding) `end`, like `torch.arange`. An error for
    /// non-finite arguments, a step of 0 or away from `end`, and a range of more elements than
    /// fit in memory (PyTorch: "invalid size, possible overflow?").
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
        // `as` saturates: a count beyond usize is usize::MAX, which `validate` rejects.
        let count = ((end - start) / step).ceil().max(0.0);
        let n = count as usize;
        Shape::new(&[n]).validate("arange", dtype).map_err(|e| {
            Error::invalid(
                "arange",
                format!("start={start}, end={end}, step={step} give {count} elements (invalid size, possible overflow?): {e}"),
            )
        })?;
        Self::try_from_fn("arange", n, dtype, |i| start + i as f64 * step)
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive, like `torch.linspace`.
    ///
    /// # Panics
    /// When `steps` values are too many or cannot be allocated; [`TensorData::try_linspace`]
    /// returns an error instead.
    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Self {
        or_panic(Self::try_linspace(start, end, steps, dtype))
    }

    /// The fallible core of [`TensorData::linspace`].
    pub fn try_linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Result<Self> {
        // Computed as PyTorch computes it, in the output dtype: `step = (end - start) / (steps
        // - 1)`, the first half `start + step * i`, the second half `end - step * (steps - 1 -
        // i)` (both ends exact). Integer outputs use an f64 step and truncate.
        fn fill<T: crate::Float>(start: T, end: T, steps: usize, out: &mut Vec<T>) {
            let step = (end - start) / T::c(steps.saturating_sub(1).max(1) as f64);
            out.extend((0..steps).map(|i| match steps {
                1 => start,
                _ if i < steps / 2 => start + step * T::c(i as f64),
                _ => end - step * T::c((steps - 1 - i) as f64),
            }));
        }
        let shape = Shape::new(&[steps]);
        match dtype {
            DType::F32 => {
                let mut v = crate::pool::try_fresh::<f32>("linspace", &shape)?;
                fill(start as f32, end as f32, steps, &mut v);
                Ok(Self::from_parts(Buffer::F32(v), shape))
            }
            DType::F64 => {
                let mut v = crate::pool::try_fresh::<f64>("linspace", &shape)?;
                fill(start, end, steps, &mut v);
                Ok(Self::from_parts(Buffer::F64(v), shape))
            }
            d => {
                let mut v = crate::pool::try_fresh::<f64>("linspace", &shape)?;
                fill(start, end, steps, &mut v);
                Self::from_f64_vec(v, shape, d)
            }
        }
    }

    /// A tensor of `dtype` from f64 values (cast element by element), like
    /// [`TensorData::from_vec`]: an error if the number of values is not the shape's, or the
    /// shape has too many elements.
    pub fn from_f64_vec(v: Vec<f64>, shape: Shape, dtype: DType) -> Result<Self> {
        let n = shape.validate("from_f64_vec", dtype)?;
        if v.len() != n {
            return Err(Error::invalid(
                "from_f64_vec",
                format!("{} elements cannot fill a tensor of shape {} ({} elements)", v.len(), shape, n),
            ));
        }
        with_any!(dtype, |T| {
            let mut out = crate::pool::try_fresh::<T>("from_f64_vec", &shape)?;
            out.extend(v.into_iter().map(T::from_f64));
            Ok(Self::from_parts(T::into_buffer(out), shape))
        })
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
        // The result's size must be addressable (Shape::validate), and its memory is
        // allocated fallibly: a size beyond memory is an error, not an abort.
        let mut dims = self.shape().0.clone();
        dims.push(c);
        let shape = Shape(dims);
        shape.validate("one_hot", DType::I64).map_err(|_| {
            Error::invalid(
                "one_hot",
                format!(
                    "num_classes {c} is too large for {} indices (the result would not fit in memory)",
                    idx.len()
                ),
            )
        })?;
        // The largest class (too few classes) or the smallest (a negative class) names the
        // problem, as PyTorch's "Class values must be smaller than num_classes" does.
        let (lo, hi) = (idx.iter().copied().min(), idx.iter().copied().max());
        if let Some(k) = lo.filter(|&k| k < 0) {
            return Err(Error::IndexOutOfRange {
                op: "one_hot",
                what: "class index",
                index: k,
                size: c,
                extra: "; class values must be non-negative".into(),
            });
        }
        if let Some(k) = hi.filter(|&k| k as u64 >= c as u64) {
            return Err(Error::IndexOutOfRange {
                op: "one_hot",
                what: "class index",
                index: k,
                size: c,
                extra: format!(
                    "; the largest class value is {k}, so num_classes must be at least {}, got {c}",
                    k.saturating_add(1)
                ),
            });
        }
        let mut out = crate::pool::try_fresh::<i64>("one_hot", &shape)?;
        out.resize(shape.numel(), 0);
        for (i, &k) in idx.iter().enumerate() {
            out[i * c + k as usize] = 1; // 0 <= k < c, checked above
        }
        Ok(Self::from_parts(Buffer::I64(out), shape))
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
    /// Errors if `T` is not the tensor's dtype, or when copying a strided view's elements
    /// needs more memory than can be allocated.
    pub fn values<T: Element>(&self) -> Result<Cow<'_, [T]>> {
        self.values_for("values")
    }

    /// [`TensorData::values`] for a kernel: errors name `op`.
    pub(crate) fn values_for<T: Element>(&self, op: &'static str) -> Result<Cow<'_, [T]>> {
        let all = self.all_for::<T>(op)?;
        if self.is_contiguous() {
            let (o, n) = (self.layout.offset, self.numel());
            // (An empty view's offset is never read: it may lie past the end of the buffer.)
            return Ok(Cow::Borrowed(if n == 0 { &[] } else { &all[o..o + n] }));
        }
        self.copy_values_for(op).map(Cow::Owned)
    }

    /// The whole buffer as `&[T]`, or a dtype error naming `op`.
    fn all_for<T: Element>(&self, op: &'static str) -> Result<&[T]> {
        T::slice(&self.buf).ok_or_else(|| {
            Error::dtype(
                op,
                format!("a tensor of dtype {}", T::DTYPE),
                self.dtype(),
                format!("; convert with .to_dtype(DType::{:?})", T::DTYPE),
            )
        })
    }

    /// The elements in row-major order in a new vector, allocated fallibly (errors name `op`).
    fn copy_values_for<T: Element>(&self, op: &'static str) -> Result<Vec<T>> {
        let all = self.all_for::<T>(op)?;
        if self.numel() == 0 {
            return crate::pool::try_vec_with_capacity::<T>(op, self.shape());
        }
        let mut out = crate::pool::try_overwritable::<T>(op, self.shape())?;
        let l = &self.layout;
        if self.is_contiguous() {
            crate::copy::strided(all, &[self.numel()], &[1], l.offset, &mut out);
        } else {
            crate::copy::strided(all, self.dims(), &l.strides, l.offset, &mut out);
        }
        Ok(out)
    }

    /// The elements in row-major order as a new `Vec<T>` (dtype must be `T`).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.copy_values_for("to_vec")
    }

    /// The elements converted to f64, in row-major order (any dtype).
    ///
    /// # Panics
    /// When the allocation fails; [`TensorData::try_to_f64_vec`] returns an error instead.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        or_panic(self.try_to_f64_vec())
    }

    /// The fallible core of [`TensorData::to_f64_vec`].
    pub fn try_to_f64_vec(&self) -> Result<Vec<f64>> {
        with_any!(self.dtype(), |T| {
            let v = self.values_for::<T>("to_f64_vec")?;
            let mut out = crate::pool::try_fresh::<f64>("to_f64_vec", self.shape())?;
            out.extend(v.iter().map(|x| x.to_f64()));
            Ok(out)
        })
    }

    /// The single value of a one-element tensor, as f64 (like `tensor.item()`).
    pub fn item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::invalid("item", format!("a tensor with {} elements (shape {}) cannot be converted to a scalar; item() needs exactly one element", self.numel(), self.shape())));
        }
        Ok(self.try_to_f64_vec()?[0])
    }

    /// A contiguous tensor with the same values (O(1) when already contiguous at offset 0).
    ///
    /// # Panics
    /// When the copy cannot be allocated (a large expanded view);
    /// [`TensorData::try_contiguous`] returns an error instead.
    pub fn contiguous(&self) -> Self {
        or_panic(self.try_contiguous())
    }

    /// The fallible core of [`TensorData::contiguous`].
    pub fn try_contiguous(&self) -> Result<Self> {
        if self.is_contiguous() && self.layout.offset == 0 && self.buf.len() == self.numel() {
            return Ok(self.clone());
        }
        self.try_contiguous_copy()
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
            *self = self.try_contiguous_copy()?;
        }
        let buf = Arc::make_mut(&mut self.buf);
        Ok(T::vec_mut(buf).expect("dtype checked").as_mut_slice())
    }

    /// Always a fresh contiguous copy with its own storage.
    ///
    /// # Panics
    /// When the copy cannot be allocated; [`TensorData::try_contiguous_copy`] returns an
    /// error instead.
    pub fn contiguous_copy(&self) -> Self {
        or_panic(self.try_contiguous_copy())
    }

    /// The fallible core of [`TensorData::contiguous_copy`].
    pub fn try_contiguous_copy(&self) -> Result<Self> {
        with_any!(self.dtype(), |T| {
            let v = self.copy_values_for::<T>("contiguous")?;
            Ok(Self::from_parts(T::into_buffer(v), self.shape().clone()))
        })
    }

    /// Converts to another dtype (floats to i64 truncate toward zero; bool is 0/1).
    ///
    /// # Panics
    /// When the result has too many elements for `dtype` or cannot be allocated;
    /// [`TensorData::try_to_dtype`] returns an error instead.
    pub fn to_dtype(&self, dtype: DType) -> Self {
        or_panic(self.try_to_dtype(dtype))
    }

    /// This tensor as `dtype`: borrowed when it already is of it (not even a clone of the
    /// handle: most ops are between tensors of one dtype), else converted
    /// ([`TensorData::try_to_dtype`]).
    pub fn as_dtype(&self, dtype: DType) -> Result<Cow<'_, TensorData>> {
        Ok(if dtype == self.dtype() { Cow::Borrowed(self) } else { Cow::Owned(self.try_to_dtype(dtype)?) })
    }

    /// The fallible core of [`TensorData::to_dtype`].
    pub fn try_to_dtype(&self, dtype: DType) -> Result<Self> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        // Direct conversions; f32 <-> f64 keeps exact values where representable. The
        // result's size is checked before the source is gathered.
        self.shape().validate("to_dtype", dtype)?;
        with_any!(self.dtype(), |S| {
            let src = self.values_for::<S>("to_dtype")?;
            with_any!(dtype, |D| {
                let mut v = crate::pool::try_fresh::<D>("to_dtype", self.shape())?;
                let cap = crate::simd::capability();
                // SAFETY: `unary` writes every element.
                unsafe {
                    crate::simd::kernels::fill_uninit(&mut v, src.len(), |o| {
                        crate::simd::kernels::unary(cap, &src, o, |x: S| D::from_f64(x.to_f64()))
                    })
                };
                Ok(Self::from_parts(D::into_buffer(v), self.shape().clone()))
            })
        })
    }

    // ----- views (no copy) ------------------------------------------------------------------

    fn view_with(&self, layout: Layout) -> Self {
        TensorData { buf: self.buf.clone(), layout }
    }

    /// The same elements with another shape (one size may be `-1`, inferred), like
    /// `torch.reshape`: a view when the strides allow one (see [`TensorData::view`]), a copy
    /// otherwise. `x.reshape([6, -1])`, `x.reshape((n, -1))`.
    pub fn reshape(&self, shape: impl ShapeSpec) -> Result<Self> {
        let shape = infer_shape("reshape", &shape.spec(), self.numel(), self.shape())?;
        shape.validate("reshape", self.dtype())?; // e.g. [0] to [0, 2^40, 2^40]
        if let Some(strides) = view_strides(&self.layout, &shape) {
            return Ok(self.view_with(Layout { shape, strides, offset: self.layout.offset }));
        }
        let c = with_any!(self.dtype(), |T| {
            let v = self.copy_values_for::<T>("reshape")?;
            Self::from_parts(T::into_buffer(v), self.shape().clone())
        });
        Ok(c.view_with(Layout::contiguous(shape)))
    }

    /// The same storage seen with another shape (one size may be `-1`), like `torch.view`:
    /// never a copy, so it is an error when the strides cannot express the new shape (e.g.
    /// merging the dims of a transpose); [`TensorData::reshape`] copies then.
    pub fn view(&self, shape: impl ShapeSpec) -> Result<Self> {
        let shape = infer_shape("view", &shape.spec(), self.numel(), self.shape())?;
        shape.validate("view", self.dtype())?;
        match view_strides(&self.layout, &shape) {
            Some(strides) => Ok(self.view_with(Layout { shape, strides, offset: self.layout.offset })),
            None => Err(Error::invalid("view", format!("view size {shape} is not compatible with input tensor's size {} and stride {:?} (at least one dimension spans across two contiguous subspaces); use .reshape(...) instead, which copies", self.shape(), self.layout.strides.as_slice()))),
        }
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
        // The stride of a size-1 dimension is never stepped; PyTorch's choice, saturating.
        let stride = if d < self.ndim() { layout.strides[d].saturating_mul(layout.shape.0[d]) } else { 1 };
        layout.shape.0.insert(d, 1);
        layout.strides.insert(d, stride);
        Ok(self.view_with(layout))
    }

    /// A broadcast view with `shape` (size-1 and new leading dims repeat, stride 0), like
    /// `torch.expand`: `-1` keeps a dim's size (`x.expand([3, -1])`).
    pub fn expand(&self, shape: impl ShapeSpec) -> Result<Self> {
        let spec = shape.spec();
        let lead = spec.len().checked_sub(self.ndim()).ok_or_else(|| {
            let asked = Shape(spec.iter().map(|&d| d.max(0) as usize).collect());
            Error::shapes("expand", self.shape(), &asked, format!("cannot be expanded: the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})", spec.len(), self.ndim()))
        })?;
        let mut dims = Dims::new();
        for (i, &d) in spec.iter().enumerate() {
            dims.push(match d {
                -1 if i >= lead => self.dims()[i - lead],
                d if d >= 0 => d as usize,
                d => return Err(Error::invalid("expand", format!("invalid size {d} at dimension {i} of {:?} (-1, keeping a size, is allowed only for existing dims)", spec.as_slice()))),
            });
        }
        let shape = Shape(dims);
        shape.validate("expand", self.dtype())?;
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
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(Error::invalid(
                "narrow",
                format!(
                    "start ({start}) + length ({len}) exceeds dimension {d} of size {size} (shape {})",
                    self.shape()
                ),
            ));
        }
        let mut layout = self.layout.clone();
        // Overflow-checked; the offset of an in-bounds element cannot overflow, so only an
        // empty view (whose offset is never read) can keep its old one.
        if let Some(o) = start.checked_mul(layout.strides[d]).and_then(|s| s.checked_add(layout.offset)) {
            layout.offset = o;
        }
        layout.shape.0[d] = len;
        Ok(self.view_with(layout))
    }

    /// Flattens dimensions `start..=end` into one (like `torch.flatten`).
    pub fn flatten(&self, start: isize, end: isize) -> Result<Self> {
        if self.ndim() == 0 {
            return self.reshape([1]);
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
        // The product of a valid shape's sizes fits (Shape::validate); checked all the same.
        let merged = self.dims()[s..=e].iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let merged = merged.and_then(|m| isize::try_from(m).ok()).ok_or_else(|| {
            Error::invalid("flatten", format!("the sizes {:?} overflow when multiplied", &self.dims()[s..=e]))
        })?;
        dims.push(merged);
        dims.extend(self.dims()[e + 1..].iter().map(|&d| d as isize));
        self.reshape(&dims)
    }
}

/// The strides that show `layout`'s elements in `shape` without moving them, if any:
/// PyTorch's `computeStride`. Walking the old dims from the last, each maximal run of dims
/// that are contiguous with each other (a "chunk") must be split exactly into whole new dims.
fn view_strides(layout: &Layout, shape: &Shape) -> Option<Dims> {
    let (old, old_st, new) = (layout.shape.dims(), &layout.strides[..], shape.dims());
    if old.is_empty() {
        return Some(new.iter().map(|_| 1).collect());
    }
    let numel: usize = old.iter().product();
    let mut strides: Dims = smallvec::smallvec![0; new.len()];
    if numel == 0 {
        // Empty: any contiguous strides do.
        let mut acc = 1usize;
        for d in (0..new.len()).rev() {
            strides[d] = acc;
            acc = acc.saturating_mul(new[d].max(1));
        }
        return Some(strides);
    }
    let mut view_d = new.len() as isize - 1;
    let mut chunk_base = *old_st.last()?;
    let (mut tensor_numel, mut view_numel) = (1usize, 1usize);
    for tensor_d in (0..old.len()).rev() {
        tensor_numel *= old[tensor_d];
        let chunk_ends = tensor_d == 0
            || (old[tensor_d - 1] != 1 && Some(old_st[tensor_d - 1]) != tensor_numel.checked_mul(chunk_base));
        if chunk_ends {
            while view_d >= 0 && (view_numel < tensor_numel || new[view_d as usize] == 1) {
                strides[view_d as usize] = view_numel * chunk_base;
                view_numel *= new[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base = old_st[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    (view_d == -1).then_some(strides)
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
        if known == 0 || !numel.is_multiple_of(known) {
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

/// A Rust number that can appear in a tensor literal, and the element type it is stored as:
/// floats and bools as themselves, every integer type as i64 (so `vec![1, 2]`, whose literals
/// Rust types as i32, makes an i64 tensor, like `torch.tensor([1, 2])`).
pub trait Literal: Copy {
    /// The element type stored.
    type Stored: Element;
    /// The stored value.
    fn stored(self) -> Self::Stored;
}

macro_rules! literal {
    ($($t:ty => $s:ty),*) => {$(
        impl Literal for $t {
            type Stored = $s;
            #[inline]
            fn stored(self) -> $s {
                self as $s
            }
        }
    )*};
}
literal!(f32 => f32, f64 => f64, i64 => i64, i32 => i64, i16 => i64, i8 => i64, u32 => i64, u16 => i64, u8 => i64, usize => i64, isize => i64, bool => bool);

/// Nested array literals: `TensorData::from([[1.0f32, 2.0], [3.0, 4.0]])`. The element types
/// are kept exactly (this is the raw layer; `torchlet::Tensor::from` applies PyTorch's
/// default float dtype).
impl<T: Literal, const N: usize> From<[T; N]> for TensorData {
    fn from(v: [T; N]) -> Self {
        Self::from_parts(T::Stored::into_buffer(v.iter().map(|x| x.stored()).collect()), Shape::new(&[N]))
    }
}
impl<T: Literal, const N: usize, const M: usize> From<[[T; N]; M]> for TensorData {
    fn from(v: [[T; N]; M]) -> Self {
        Self::from_parts(
            T::Stored::into_buffer(v.iter().flatten().map(|x| x.stored()).collect()),
            Shape::new(&[M, N]),
        )
    }
}
impl<T: Literal, const N: usize, const M: usize, const K: usize> From<[[[T; N]; M]; K]> for TensorData {
    fn from(v: [[[T; N]; M]; K]) -> Self {
        Self::from_parts(
            T::Stored::into_buffer(v.iter().flatten().flatten().map(|x| x.stored()).collect()),
            Shape::new(&[K, M, N]),
        )
    }
}
impl<T: Literal> From<Vec<T>> for TensorData {
    fn from(v: Vec<T>) -> Self {
        let n = v.len();
        Self::from_parts(
            T::Stored::into_buffer(v.into_iter().map(|x| x.stored()).collect()),
            Shape::new(&[n]),
        )
    }
}
impl<T: Literal> From<&[T]> for TensorData {
    fn from(v: &[T]) -> Self {
        Self::from_parts(
            T::Stored::into_buffer(v.iter().map(|x| x.stored()).collect()),
            Shape::new(&[v.len()]),
        )
    }
}
macro_rules! scalar_literal {
    ($($t:ty),*) => {$(
        impl From<$t> for TensorData {
            fn from(v: $t) -> Self {
                Self::scalar(v.stored())
            }
        }
    )*};
}
scalar_literal!(f32, f64, i64, i32, usize, bool);

/// The value of an infallible function's fallible core, or a panic with its error message
/// (a panic can be caught; an allocation failure in the standard library aborts). When the
/// function switches to returning `Result`, this call goes and the core's result is returned.
#[track_caller]
pub(crate) fn or_panic<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}
