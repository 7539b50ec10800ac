//! In-place updates, PyTorch's trailing-underscore ops: `p.sub_(&(&g * lr))` is
//! `p.data -= lr * p.grad`, the manual update of the lectures. They replace the tensor's value
//! (seen by every handle sharing it: clones and [`Tensor::detach`]ed copies) and record
//! nothing, so they have no derivative.
//!
//! As in PyTorch, a leaf that requires grad can be updated in place only under `no_grad`
//! (otherwise the update would silently escape the graph), and the result keeps the tensor's
//! shape and dtype: `other` must broadcast to it, and a float result cannot be written into an
//! integer tensor. torchlet also refuses in-place ops on results of recorded ops (PyTorch
//! tracks them with version counters; use the out-of-place op instead).

use crate::graph::is_grad_enabled;
use crate::ops::binary::Other;
use crate::tensor::Tensor;
use torchlet_tensor_core::{DType, Error, Result, Scalar, TensorData};

impl Tensor {
    /// Replaces the value with `f(value)`, after the checks described in the module docs.
    pub(crate) fn update_in_place(
        &self,
        op: &'static str,
        f: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<()> {
        if is_grad_enabled() && self.requires_grad() {
            let msg = if self.is_leaf() {
                "a leaf tensor that requires grad is being used in an in-place operation; run the update under no_grad (`let _g = NoGradGuard::new();` or `no_grad(|| ...)`, like `with torch.no_grad():`)".to_string()
            } else {
                format!("an in-place operation on a tensor produced by {} would change a value the graph saved; use the out-of-place op (torchlet keeps no version counters)", self.grad_fn().unwrap_or("an operation"))
            };
            return Err(Error::autograd(op, msg));
        }
        if !self.is_leaf() {
            return Err(Error::autograd(op, format!("in-place operations apply to leaf tensors (parameters, inputs); this tensor was produced by {}; use the out-of-place op", self.grad_fn().unwrap_or("an operation"))));
        }
        let current = self.data();
        let new = crate::graph::no_grad(|| f(&Tensor::from_data(current.clone())))?.data();
        let cast = if new.dtype() == current.dtype() {
            new
        } else if category(new.dtype()) <= category(current.dtype()) {
            new.to_dtype(current.dtype())
        } else {
            return Err(Error::dtype(op, format!("a result that fits the tensor's dtype {} (result type {} can't be cast to the desired output type {}, as PyTorch says)", current.dtype(), new.dtype(), current.dtype()), new.dtype(), format!("; convert the tensor first with .to_dtype(DType::{:?})", new.dtype())));
        };
        if cast.shape() != current.shape() {
            return Err(Error::shapes(op, current.shape(), cast.shape(), "mismatch: an in-place result must keep the tensor's shape (the first); the other operand must broadcast to it"));
        }
        let contiguous = cast.contiguous();
        self.update_data(|d| *d = contiguous);
        Ok(())
    }

    /// `self += other` in place (`add_`).
    pub fn add_<'a>(&self, other: impl Into<Other<'a>>) -> Result<()> {
        let other = other.into();
        self.update_in_place("add_", |x| x.add(other))
    }

    /// `self -= other` in place (`sub_`): `p.sub_(&(&g * lr))` is the lectures'
    /// `p.data -= lr * p.grad`.
    pub fn sub_<'a>(&self, other: impl Into<Other<'a>>) -> Result<()> {
        let other = other.into();
        self.update_in_place("sub_", |x| x.sub(other))
    }

    /// `self *= other` in place (`mul_`).
    pub fn mul_<'a>(&self, other: impl Into<Other<'a>>) -> Result<()> {
        let other = other.into();
        self.update_in_place("mul_", |x| x.mul(other))
    }

    /// `self /= other` in place (`div_`; an integer tensor cannot hold the float quotient).
    pub fn div_<'a>(&self, other: impl Into<Other<'a>>) -> Result<()> {
        let other = other.into();
        self.update_in_place("div_", |x| x.div(other))
    }

    /// Clamps into `[min, max]` in place (`clamp_`).
    pub fn clamp_(&self, min: Option<f64>, max: Option<f64>) -> Result<()> {
        self.update_in_place("clamp_", |x| x.clamp(min, max))
    }

    /// Sets every element to `value` (`fill_`).
    pub fn fill_(&self, value: impl Into<Scalar>) -> Result<()> {
        let value = value.into();
        self.update_in_place("fill_", |x| Ok(x.full_like(value)))
    }

    /// Sets every element to 0 (`zero_`).
    pub fn zero_(&self) -> Result<()> {
        self.fill_(0)
    }

    /// Copies `src`'s values into this tensor (`copy_`): `src` broadcasts to its shape and is
    /// converted to its dtype.
    pub fn copy_(&self, src: &Tensor) -> Result<()> {
        let (shape, dtype) = (self.shape(), self.dtype());
        self.update_in_place("copy_", |_| {
            let v: TensorData = src.data().expand(shape)?.to_dtype(dtype);
            Ok(Tensor::from_data(v))
        })
    }
}

/// 0 bool, 1 integer, 2 float: a result may be written into a tensor of its category or higher.
fn category(d: DType) -> u8 {
    match d {
        DType::Bool => 0,
        DType::I64 => 1,
        DType::F32 | DType::F64 => 2,
    }
}
