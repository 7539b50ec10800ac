//! Gradient clipping (`torch.nn.utils`): [`clip_grad_norm_`] rescales all gradients together
//! so that their total norm is at most `max_norm`; [`clip_grad_value_`] clamps every
//! gradient element into `[-clip_value, clip_value]`. Both change the `.grad()` of the
//! parameters, skip parameters without a gradient, and change nothing when they return
//! `Err`.
//!
//! ```
//! use torchlet_autograd::{Tensor, TensorData};
//! use torchlet_nn::clip_grad_norm_;
//!
//! let p = Tensor::from(vec![0.0f32, 0.0]).requires_grad_(true)?;
//! p.set_grad(Some(TensorData::from(vec![3.0f32, 4.0])))?;
//! // In a training loop: loss.backward()?; clip_grad_norm_(&model.parameters(), 1.0, 2.0)?; opt.step()?;
//! let total = clip_grad_norm_(&[p.clone()], 1.0, 2.0)?;
//! assert_eq!(total.item()?, 5.0); // the norm before clipping
//! // Each gradient is multiplied by 1 / (5 + 1e-6) (computed in f32): [0.6, 0.8] to 6 digits.
//! let g = p.grad().unwrap().to_vec::<f32>()?;
//! assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
//! # Ok::<(), torchlet_autograd::Error>(())
//! ```

use torchlet_autograd::{DType, Error, Result, Shape, Tensor, TensorData};
use torchlet_tensor_core::{Element, Float};

/// `torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type)`: scales the gradients
/// of `params` so that their total norm is at most `max_norm`, and returns the total norm
/// *before* clipping (a 0-dimensional tensor).
///
/// ```text
/// total = vector_norm([vector_norm(g, p) for each gradient g], p)
/// coef  = min(max_norm / (total + 1e-6), 1)
/// g     = g * coef            for every gradient
/// ```
///
/// `norm_type` (`p`) is any number `>= 0` or `f64::INFINITY` (the largest `|g|`). The norms
/// are computed in the gradients' dtype and `coef` in the total's, as PyTorch does; the
/// gradients are multiplied even when `coef` is 1. Parameters without a gradient are
/// skipped; with no gradient at all the total is 0 (in the default dtype). Errors when
/// `max_norm` or `norm_type` is negative or NaN, or for an infinity norm of an empty
/// gradient. A NaN or infinite total is not an error here (the gradients become NaN or 0,
/// as in PyTorch): [`clip_grad_norm_with`] can refuse it.
pub fn clip_grad_norm_(params: &[Tensor], max_norm: f64, norm_type: f64) -> Result<Tensor> {
    clip_grad_norm_with(params, max_norm, norm_type, false)
}

/// [`clip_grad_norm_`] with PyTorch's `error_if_nonfinite`: when true, a total norm that is
/// NaN or infinite is an error and no gradient changes.
pub fn clip_grad_norm_with(
    params: &[Tensor],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<Tensor> {
    check_max_norm("clip_grad_norm_", max_norm)?;
    let grads: Vec<Tensor> = params.iter().filter_map(Tensor::grad).collect();
    let total = total_norm("clip_grad_norm_", &grads, norm_type, error_if_nonfinite)?;
    scale_grads("clip_grad_norm_", params, max_norm, &total)?;
    Ok(total)
}

/// `torch.nn.utils.get_total_norm(tensors, norm_type, error_if_nonfinite)`: the norm of the
/// norms of `tensors`, `vector_norm([vector_norm(t, p) for t in tensors], p)`, as if they were
/// concatenated into one vector. A 0-dimensional tensor of the tensors' dtype (f64 if any is
/// f64); 0 (default dtype) for no tensors. Errors as [`clip_grad_norm_with`].
pub fn get_total_norm(tensors: &[Tensor], norm_type: f64, error_if_nonfinite: bool) -> Result<Tensor> {
    total_norm("get_total_norm", tensors, norm_type, error_if_nonfinite)
}

/// `torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, total_norm)`: the second half
/// of [`clip_grad_norm_`], with a total norm computed beforehand (by [`get_total_norm`]):
/// every gradient is multiplied by `min(max_norm / (total_norm + 1e-6), 1)`, computed in
/// `total_norm`'s dtype. Errors when `max_norm` is negative or NaN or `total_norm` is not a
/// one-element float tensor.
pub fn clip_grads_with_norm_(params: &[Tensor], max_norm: f64, total_norm: &Tensor) -> Result<()> {
    check_max_norm("clip_grads_with_norm_", max_norm)?;
    scale_grads("clip_grads_with_norm_", params, max_norm, total_norm)
}

/// `torch.nn.utils.clip_grad_value_(parameters, clip_value)`: clamps every gradient element
/// into `[-clip_value, clip_value]` (`g = min(max(g, -clip_value), clip_value)`; NaN stays
/// NaN). Parameters without a gradient are skipped. Errors when `clip_value` is negative or
/// NaN (PyTorch would set every gradient to a negative `clip_value`).
pub fn clip_grad_value_(params: &[Tensor], clip_value: f64) -> Result<()> {
    const OP: &str = "clip_grad_value_";
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(Error::invalid(OP, format!("invalid clip_value {clip_value} (must be >= 0)")));
    }
    let mut clipped = vec![];
    for p in params {
        let Some(g) = p.grad_data() else { continue };
        let c = match g.dtype() {
            DType::F32 => map::<f32>(&g, |x| clamp(x, -clip_value as f32, clip_value as f32)),
            DType::F64 => map::<f64>(&g, |x| clamp(x, -clip_value, clip_value)),
            other => Err(Error::need_float(OP, other)),
        }?;
        clipped.push((p, c));
    }
    for (p, c) in clipped {
        p.set_grad(Some(c))?;
    }
    Ok(())
}

/// `clamp(x, lo, hi)` that keeps NaN (`clamp_min_` then `clamp_max_`).
fn clamp<T: Float>(x: T, lo: T, hi: T) -> T {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

fn check_max_norm(op: &'static str, max_norm: f64) -> Result<()> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::invalid(op, format!("invalid max_norm {max_norm} (must be >= 0)")));
    }
    Ok(())
}

/// The total norm of `tensors` (see [`get_total_norm`]).
fn total_norm(op: &'static str, tensors: &[Tensor], p: f64, error_if_nonfinite: bool) -> Result<Tensor> {
    if p.is_nan() || p < 0.0 {
        return Err(Error::invalid(op, format!("invalid norm_type {p} (must be >= 0, or inf)")));
    }
    if tensors.is_empty() {
        return Ok(Tensor::from_data(TensorData::full(
            Shape::scalar(),
            0.0,
            torchlet_autograd::default_dtype(),
        )));
    }
    // Each tensor's norm, rounded to its dtype (PyTorch computes it as a tensor of that dtype).
    let mut norms = Vec::with_capacity(tensors.len());
    let mut dtype = DType::F32;
    for t in tensors {
        let d = t.data();
        if d.numel() == 0 && p == f64::INFINITY {
            return Err(Error::invalid(
                op,
                format!("cannot compute the inf norm of an empty tensor (shape {}): the maximum of nothing is undefined", d.shape()),
            ));
        }
        norms.push(match d.dtype() {
            DType::F32 => vector_norm(d.values::<f32>()?.iter().map(|x| x.to_f64()), p) as f32 as f64,
            DType::F64 => {
                dtype = DType::F64;
                vector_norm(d.values::<f64>()?.iter().copied(), p)
            }
            other => return Err(Error::need_float(op, other)),
        });
    }
    let total = vector_norm(norms.into_iter(), p);
    if error_if_nonfinite && !total.is_finite() {
        return Err(Error::invalid(
            op,
            format!("the total norm of order {p} of the gradients is non-finite ({total}), so it cannot be clipped; no gradient was changed (to clip anyway, set error_if_nonfinite to false)"),
        ));
    }
    Ok(Tensor::from_data(TensorData::full(Shape::scalar(), total, dtype)))
}

/// `torch.linalg.vector_norm(x, p)` of the values `x`, for `p >= 0` or infinity: the number of
/// non-zeros for `p = 0`, `max |x|` for infinity (NaN if any is NaN), else
/// `(sum |x|^p)^(1/p)` (with `sum |x|` and `sqrt(sum x^2)` for 1 and 2).
fn vector_norm(x: impl Iterator<Item = f64>, p: f64) -> f64 {
    if p == f64::INFINITY {
        x.map(f64::abs).fold(0.0, |m, a| if a.is_nan() || m.is_nan() { f64::NAN } else { m.max(a) })
    } else if p == 0.0 {
        x.filter(|&v| v != 0.0).count() as f64
    } else if p == 1.0 {
        x.map(f64::abs).sum()
    } else if p == 2.0 {
        x.map(|v| v * v).sum::<f64>().sqrt()
    } else {
        x.map(|v| v.abs().powf(p)).sum::<f64>().powf(1.0 / p)
    }
}

/// Multiplies every gradient by `min(max_norm / (total + 1e-6), 1)`, computed in `total`'s
/// dtype as PyTorch does (`(total + 1e-6).reciprocal() * max_norm`, then clamped), cast to
/// each gradient's dtype. All new gradients are computed before any is set.
fn scale_grads(op: &'static str, params: &[Tensor], max_norm: f64, total: &Tensor) -> Result<()> {
    if total.numel() != 1 || !total.dtype().is_float() {
        return Err(Error::invalid(
            op,
            format!(
                "total_norm must be a one-element float tensor, got dtype {} and shape {}",
                total.dtype(),
                total.shape()
            ),
        ));
    }
    let t = total.item()?;
    let coef = match total.dtype() {
        DType::F32 => coefficient::<f32>(t, max_norm),
        _ => coefficient::<f64>(t, max_norm),
    };
    let mut scaled = vec![];
    for p in params {
        let Some(g) = p.grad_data() else { continue };
        let s = match g.dtype() {
            DType::F32 => {
                let c = coef as f32;
                map::<f32>(&g, |x| x * c)
            }
            DType::F64 => map::<f64>(&g, |x| x * coef),
            other => Err(Error::need_float(op, other)),
        }?;
        scaled.push((p, s));
    }
    for (p, s) in scaled {
        p.set_grad(Some(s))?;
    }
    Ok(())
}

/// `clamp((total + 1e-6).reciprocal() * max_norm, max=1)` in the arithmetic of `T` (NaN stays
/// NaN).
fn coefficient<T: Float>(total: f64, max_norm: f64) -> f64 {
    let coef = (T::one() / (T::c(total) + T::c(1e-6))) * T::c(max_norm);
    let clamped = if coef > T::one() { T::one() } else { coef };
    <T as Element>::to_f64(clamped)
}

/// A new tensor of `g`'s shape with `f` applied to every element.
fn map<T: Float>(g: &TensorData, f: impl Fn(T) -> T) -> Result<TensorData> {
    let out: Vec<T> = g.values::<T>()?.iter().map(|&x| f(x)).collect();
    TensorData::from_vec(out, g.shape().clone())
}
