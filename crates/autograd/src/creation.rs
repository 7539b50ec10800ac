//! Making tensors: from Rust values and literals, filled (`zeros`, `ones`, `full`, `eye`), and
//! ranges (`arange`, `linspace`), with PyTorch's dtype rules: floats get the default float
//! dtype (f32 unless `set_default_dtype` changed it), integers i64, bools bool; `arange` with
//! integer bounds is i64, as `torch.arange(5)` is. (Random tensors are in `tensor.rs`.)
//!
//! Sizes are checked: a shape whose element count (or byte size) does not fit in memory is an
//! error, never a panic or an abort.

use crate::tensor::{default_float, IsLiteral, Tensor};
use torchlet_tensor_core::{default_dtype, DType, Error, Literal, Result, Scalar, Shape, TensorData};

/// Errors unless a tensor of `shape` and `dtype` can be addressed (at most `isize::MAX` bytes).
pub(crate) fn check_size(op: &'static str, shape: &Shape, dtype: DType) -> Result<()> {
    let bytes = shape.dims().iter().try_fold(dtype.size_in_bytes(), |n, &d| n.checked_mul(d));
    match bytes {
        Some(b) if b <= isize::MAX as usize => Ok(()),
        _ => Err(Error::invalid(op, format!("a tensor of shape {shape} and dtype {dtype} would take more than isize::MAX bytes; it cannot be allocated"))),
    }
}

impl Tensor {
    /// A tensor from a flat row-major `Vec` of numbers and a shape, like
    /// `torch.tensor(v).reshape(shape)`: floats get the default float dtype, integers i64.
    /// (`Tensor::from_data(TensorData::from_vec(v, shape)?)` keeps `v`'s element type.)
    pub fn from_vec<T: Literal>(data: Vec<T>, shape: impl Into<Shape>) -> Result<Tensor> {
        let stored: Vec<T::Stored> = data.into_iter().map(Literal::stored).collect();
        Ok(Tensor::from_data(default_float(TensorData::from_vec(stored, shape)?)))
    }

    /// A literal of the given dtype, like `torch.tensor(v, dtype=...)`; the literal's values are
    /// converted directly (`Tensor::with_dtype(vec![0.1], DType::F64)` holds the f64 `0.1`).
    pub fn with_dtype<X>(v: X, dtype: DType) -> Tensor
    where
        TensorData: From<X>,
        X: IsLiteral,
    {
        Tensor::from_data(TensorData::from(v).to_dtype(dtype))
    }

    /// A 0-dimensional tensor (`torch.tensor(2.5)`): a float gets the default float dtype.
    pub fn scalar<T: Literal>(v: T) -> Tensor {
        Tensor::from_data(default_float(TensorData::scalar(v.stored())))
    }

    /// Zeros of the default float dtype, like `torch.zeros`.
    pub fn zeros(shape: impl Into<Shape>) -> Result<Tensor> {
        Tensor::full(shape, 0.0, default_dtype())
    }

    /// Ones of the default float dtype, like `torch.ones`.
    pub fn ones(shape: impl Into<Shape>) -> Result<Tensor> {
        Tensor::full(shape, 1.0, default_dtype())
    }

    /// Zeros of `dtype` (`torch.zeros(shape, dtype=...)`).
    pub fn zeros_dtype(shape: impl Into<Shape>, dtype: DType) -> Result<Tensor> {
        Tensor::full(shape, 0, dtype)
    }

    /// Ones of `dtype` (`torch.ones(shape, dtype=...)`).
    pub fn ones_dtype(shape: impl Into<Shape>, dtype: DType) -> Result<Tensor> {
        Tensor::full(shape, 1, dtype)
    }

    /// `shape` filled with `value` (a number: `2`, `0.5`, `true`), of any `dtype`, like
    /// `torch.full(shape, value, dtype=...)`. Integers are stored exactly.
    pub fn full(shape: impl Into<Shape>, value: impl Into<Scalar>, dtype: DType) -> Result<Tensor> {
        let shape = shape.into();
        check_size("full", &shape, dtype)?;
        let one = TensorData::from_scalar(value.into(), dtype);
        Ok(Tensor::from_data(one.expand(shape)?.contiguous()))
    }

    /// Zeros with the shape and dtype of `self` (no grad).
    pub fn zeros_like(&self) -> Tensor {
        Tensor::from_data(self.data().zeros_like())
    }

    /// Ones with the shape and dtype of `self` (no grad).
    pub fn ones_like(&self) -> Tensor {
        Tensor::from_data(self.data().ones_like())
    }

    /// `value` in the shape and dtype of `self` (no grad), like `torch.full_like`.
    pub fn full_like(&self, value: impl Into<Scalar>) -> Tensor {
        let d = self.data();
        let one = TensorData::from_scalar(value.into(), d.dtype());
        Tensor::from_data(
            one.expand(d.shape().clone()).expect("a 0-d tensor expands to any shape").contiguous(),
        )
    }

    /// The `n x n` identity of the default float dtype, like `torch.eye`.
    pub fn eye(n: usize) -> Result<Tensor> {
        let dtype = default_dtype();
        check_size("eye", &Shape::new(&[n, n]), dtype)?;
        Ok(Tensor::from_data(TensorData::eye(n, dtype)))
    }

    /// `0, 1, ..., end - 1`, like `torch.arange(end)`: i64 for an integer `end`, the default
    /// float dtype for a float one.
    pub fn arange(end: impl Into<Scalar>) -> Result<Tensor> {
        Tensor::arange_step(0, end, 1)
    }

    /// `start, start + step, ...` below `end`, like `torch.arange(start, end, step)`: i64 when
    /// all three are integers, else the default float dtype.
    pub fn arange_step(
        start: impl Into<Scalar>,
        end: impl Into<Scalar>,
        step: impl Into<Scalar>,
    ) -> Result<Tensor> {
        let (start, end, step) = (start.into(), end.into(), step.into());
        let ints = [start, end, step].iter().all(|s| matches!(s, Scalar::Int(_)));
        let dtype = if ints { DType::I64 } else { default_dtype() };
        let (a, b, s) = (start.to_f64(), end.to_f64(), step.to_f64());
        if s != 0.0 && s.is_finite() && a.is_finite() && b.is_finite() {
            let n = ((b - a) / s).ceil().max(0.0);
            if n >= (isize::MAX as usize / dtype.size_in_bytes()) as f64 {
                return Err(Error::invalid(
                    "arange",
                    format!("arange({a}, {b}, {s}) would have {n} elements, more than can be allocated"),
                ));
            }
        }
        Ok(Tensor::from_data(TensorData::arange(a, b, s, dtype)?))
    }

    /// `steps` values from `start` to `end` inclusive, of the default float dtype, like
    /// `torch.linspace` (computed in that dtype from both ends, as PyTorch does).
    pub fn linspace(start: f64, end: f64, steps: usize) -> Result<Tensor> {
        let dtype = default_dtype();
        check_size("linspace", &Shape::new(&[steps]), dtype)?;
        Ok(Tensor::from_data(TensorData::linspace(start, end, steps, dtype)))
    }
}
