//! `gradcheck`: compares the tape's gradients with central finite differences, in f64.

use crate::graph::no_grad;
use crate::tensor::Tensor;
use torchlet_tensor_core::{DType, Error, Result, TensorData};

/// Outcome of [`gradcheck`]: the worst disagreement found.
#[derive(Debug, Clone)]
pub struct GradcheckReport {
    /// Largest `|analytic - numeric|` over all checked elements.
    pub max_abs_error: f64,
    /// Which input and flat element index had it.
    pub worst: Option<(usize, usize)>,
    /// The analytic and numeric values there.
    pub values: (f64, f64),
    /// Number of elements compared.
    pub checked: usize,
}

/// Checks the gradients of `f` at `inputs` (converted to f64) against central finite
/// differences `(f(x + eps) - f(x - eps)) / 2 eps` of the scalar `sum(f(x) * w)` for a fixed
/// random weighting `w`, so non-scalar outputs are covered too. Fails (returns `Err`)
/// when some element differs by more than `atol + rtol * |numeric|`; the message names the
/// worst element. Inputs that are not float (e.g. class indices) are passed through.
pub fn gradcheck(
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[TensorData],
    eps: f64,
    atol: f64,
    rtol: f64,
) -> Result<GradcheckReport> {
    let xs: Vec<TensorData> = inputs
        .iter()
        .map(|x| if x.dtype().is_float() { x.to_dtype(DType::F64) } else { x.clone() })
        .collect();
    let leaves: Vec<Tensor> = xs
        .iter()
        .map(|x| {
            let t = Tensor::from_data(x.contiguous_copy());
            if x.dtype().is_float() {
                t.requires_grad_(true)
            } else {
                Ok(t)
            }
        })
        .collect::<Result<_>>()?;
    let out = f(&leaves)?;
    // A fixed pseudo-random weighting of the outputs (deterministic, no zeros).
    let n = out.numel();
    let w: Vec<f64> = (0..n).map(|i| 0.5 + ((i * 7919 + 13) % 101) as f64 / 101.0).collect();
    let w = TensorData::from_vec(w, out.shape())?;
    if out.dtype() != DType::F64 {
        return Err(Error::invalid(
            "gradcheck",
            format!("f must return an f64 tensor for f64 inputs, got {}", out.dtype()),
        ));
    }
    out.backward_with(&Tensor::from_data(w.clone()))?;
    let objective = |xs: &[TensorData]| -> Result<f64> {
        let ts: Vec<Tensor> = xs.iter().map(|x| Tensor::from_data(x.clone())).collect();
        let y = no_grad(|| f(&ts))?;
        y.data().mul(&w)?.sum()?.item()
    };
    let mut report = GradcheckReport { max_abs_error: 0.0, worst: None, values: (0.0, 0.0), checked: 0 };
    for (k, leaf) in leaves.iter().enumerate() {
        if !xs[k].dtype().is_float() {
            continue;
        }
        let analytic = leaf.grad_data().map(|g| g.to_f64_vec()).unwrap_or_else(|| vec![0.0; xs[k].numel()]);
        let base = xs[k].to_vec::<f64>()?;
        for i in 0..base.len() {
            let mut probe = xs.clone();
            let mut v = base.clone();
            v[i] = base[i] + eps;
            probe[k] = TensorData::from_vec(v.clone(), xs[k].shape())?;
            let up = objective(&probe)?;
            v[i] = base[i] - eps;
            probe[k] = TensorData::from_vec(v, xs[k].shape())?;
            let down = objective(&probe)?;
            let numeric = (up - down) / (2.0 * eps);
            let err = (analytic[i] - numeric).abs();
            report.checked += 1;
            if err > report.max_abs_error || err.is_nan() {
                report.max_abs_error = err;
                report.worst = Some((k, i));
                report.values = (analytic[i], numeric);
            }
            if err.is_nan() || err > atol + rtol * numeric.abs() {
                return Err(Error::invalid("gradcheck", format!("input {k}, element {i}: analytic gradient {} but finite differences give {numeric} (|diff| = {err:e}, allowed {:e})", analytic[i], atol + rtol * numeric.abs())));
            }
        }
    }
    Ok(report)
}
