//! `mse_loss`: the squared error `(x - t)^2`, whose derivatives are `dl/dx = 2 (x - t)` and
//! `dl/dt = -2 (x - t)`. Shapes broadcast, with a warning: a target that only broadcasts is
//! usually a bug.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::loss::{any_reduction, broadcast_pair, Reduced, Reduction, Site, Upstream};
use crate::ops::zip_real;
use crate::tensor::Tensor;
use crate::warnings::{self, Pitfall};
use smallvec::smallvec;
use std::panic::Location;
use torchlet_tensor_core::{with_float, Element, Result, Shape, TensorData};

/// `mse_loss(x, t)` with the mean reduction.
#[track_caller]
pub fn mse_loss(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    mse_loss_with(input, target, Reduction::Mean)
}

/// Mean squared error `(x - t)^2`, reduced (`mean` over the broadcast numel). Shapes that
/// differ but broadcast work and print a warning (usually a bug, as PyTorch warns; see
/// [`crate::warnings`]).
///
/// Derivatives: `dl/dx = 2 (x - t)`, `dl/dt = -2 (x - t)`.
#[track_caller]
pub fn mse_loss_with(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    forward(input, target, reduction, Location::caller())
}

/// What the rule keeps: `x`, `t` broadcast to the output shape, and the original shapes.
struct Mse {
    x: TensorData,
    t: TensorData,
    red: Reduced,
    shapes: (Shape, Shape),
}

impl Backward for Mse {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let (x, t) = (&self.x, &self.t);
        // 2 (x - t) u, on every core for large tensors (`zip_real!`).
        let gx = with_float!(x.dtype(), "mse_loss", |T| {
            match Upstream::<T>::new(g, self.red)? {
                Upstream::All(u) => {
                    let u = Element::to_f64(u);
                    zip_real!(x, t, [u], |a, b| T::c(2.0) * (a - b) * T::c(u))
                }
                Upstream::Each(_) => {
                    let d = zip_real!(x, t, |a, b| a - b)?;
                    zip_real!(&d, g, |d, u| T::c(2.0) * d * u)
                }
            }
        })?;
        let gt = if needs[1] { Some(gx.neg()?.sum_to_shape(&self.shapes.1)?) } else { None };
        Ok(smallvec![Some(gx.sum_to_shape(&self.shapes.0)?), gt])
    }
}

fn forward(input: &Tensor, target: &Tensor, reduction: Reduction, at: Site) -> Result<Tensor> {
    const OP: &str = "mse_loss";
    let (x0, t0) = (input.data(), target.data());
    let (x, t) = broadcast_pair(OP, &x0, &t0)?;
    let red = Reduced::new(OP, reduction, x.numel() as f64)?;
    if x0.shape() != t0.shape() {
        warnings::warn(Pitfall::MseBroadcast, at, || {
            format!("mse_loss: Using a target size ({}) that is different to the input size ({}). This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.", t0.shape(), x0.shape())
        });
    }
    let out = with_float!(x.dtype(), OP, |T| {
        let l = zip_real!(op = OP; &x, &t, |a, b| (a - b) * (a - b))?;
        red.apply_to::<T>(l)
    })?;
    let shapes = (x0.shape().clone(), t0.shape().clone());
    Ok(record(out, "MseLossBackward0", &[input, target], || Mse { x, t, red, shapes }))
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![OpInfo::new("mse_loss", |s| {
        let shape = [s.size(3), s.size(4)];
        let red = any_reduction(s);
        Case::new([s.float(&shape), s.float(&shape)], move |a| mse_loss_with(&a[0], &a[1], red))
    })]
}
