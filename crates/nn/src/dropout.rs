//! Dropout (Srivastava et al. 2014): in training, zero each element with probability `p` and
//! scale the survivors by `1 / (1 - p)`, so the expected value is unchanged; at evaluation,
//! the identity.
//!
//! The mask is drawn exactly as PyTorch draws it on the CPU: `noise =
//! empty_like(x).bernoulli_(1 - p)` (one f64 uniform `u` per element in row-major order, kept
//! when `u < 1 - p`), then `noise / (1 - p)` in the input's dtype and `x * noise`. The output
//! is an ordinary differentiable product, so the gradient is `grad * noise`.

use crate::module::Module;
use std::sync::atomic::{AtomicBool, Ordering};
use torchlet_autograd::{Error, Generator, Result, Tensor, TensorData};
use torchlet_tensor_core::random::with_global;
use torchlet_tensor_core::{with_float, Float, Numeric};

/// Functional dropout (`torch.nn.functional.dropout(x, p, training)`) from the global
/// generator. The identity (no draw) when `training` is false, `p == 0` or `x` is empty;
/// zeros (`x * 0`, no draw) when `p == 1`. Errors for `p` outside `[0, 1]` and non-float
/// inputs.
pub fn dropout(x: &Tensor, p: f64, training: bool) -> Result<Tensor> {
    with_global(|g| dropout_with(x, p, training, g))
}

/// [`dropout`] with the mask drawn from an explicit generator.
pub fn dropout_with(x: &Tensor, p: f64, training: bool, g: &mut Generator) -> Result<Tensor> {
    const OP: &str = "dropout";
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::invalid(
            OP,
            format!("dropout probability has to be between 0 and 1, but got {p}"),
        ));
    }
    let dtype = x.dtype();
    if !dtype.is_float() {
        return Err(Error::need_float(OP, dtype));
    }
    if p == 0.0 || !training || x.numel() == 0 {
        return Ok(x.clone());
    }
    if p == 1.0 {
        return x.mul(&Tensor::zeros_dtype([], dtype)?);
    }
    let keep = 1.0 - p;
    let mask = TensorData::bernoulli_scalar_with(x.shape(), keep, dtype, g)?;
    let noise = with_float!(dtype, OP, |T| {
        // `noise.div_(1 - p)`: the divisor is rounded to the dtype first.
        let scale = T::ONE / T::c(keep);
        let v: Vec<T> = mask.values::<T>()?.iter().map(|&m| m * scale).collect();
        TensorData::from_vec(v, mask.shape().clone())
    })?;
    x.mul(&Tensor::from_data(noise))
}

/// `nn.Dropout(p)`: [`dropout`] in training mode (the default), the identity after
/// [`Dropout::eval`]. Draws its masks from the global generator.
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: AtomicBool,
}

impl Clone for Dropout {
    fn clone(&self) -> Self {
        Dropout { p: self.p, training: AtomicBool::new(self.is_training()) }
    }
}

impl Dropout {
    /// `nn.Dropout(p)`, in training mode. Errors for `p` outside `[0, 1]`.
    pub fn new(p: f64) -> Result<Dropout> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                "Dropout",
                format!("dropout probability has to be between 0 and 1, but got {p}"),
            ));
        }
        Ok(Dropout { p, training: AtomicBool::new(true) })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        dropout(x, self.p, self.training.load(Ordering::Relaxed))
    }

    fn set_mode(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn mode(&self) -> Option<bool> {
        Some(self.training.load(Ordering::Relaxed))
    }

    fn extra_repr(&self) -> String {
        // Rust's `{:?}` of an f64 is Python's repr for finite values (`0.5`, `1.0`).
        format!("p={:?}, inplace=False", self.p)
    }
}

crate::display_as_repr!(Dropout);
