//! `nll_loss`: the negative log-likelihood of log-probabilities at class-index targets,
//! `l_i = -w[t_i] x[i, t_i]`. Only the picked element of each row depends on the input, so
//! `dl_i/dx[i, t_i] = -w[t_i]` and every other input gets 0; targets get no gradient.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::loss::class::{check_ignore_and_range, class_layout, class_weight, ClassLayout};
use crate::loss::{any_reduction, first_positive, Reduced, Reduction, Site, Upstream};
use crate::tensor::Tensor;
use crate::warnings::{self, Pitfall};
use smallvec::smallvec;
use std::panic::Location;
use torchlet_tensor_core::{with_float, DType, Element, Error, Float, Numeric, Result, TensorData};

/// Options of [`nll_loss_with`].
#[derive(Clone, Debug)]
pub struct NllLossOpts {
    /// Per-class weights `(C)`.
    pub weight: Option<Tensor>,
    /// Default -100.
    pub ignore_index: i64,
    /// Default `Mean`.
    pub reduction: Reduction,
}

impl Default for NllLossOpts {
    fn default() -> Self {
        NllLossOpts { weight: None, ignore_index: -100, reduction: Reduction::Mean }
    }
}

impl NllLossOpts {
    /// Sets per-class weights.
    pub fn weight(mut self, w: Tensor) -> Self {
        self.weight = Some(w);
        self
    }
    /// Sets `ignore_index`.
    pub fn ignore_index(mut self, i: i64) -> Self {
        self.ignore_index = i;
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
}

/// `nll_loss(input, target)` with PyTorch's defaults.
#[track_caller]
pub fn nll_loss(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    nll_loss_with(input, target, &NllLossOpts::default())
}

/// Negative log-likelihood of log-probabilities `input` at class indices `target`:
/// `l_i = -w[t_i] x[i, t_i]` (0 where `t_i == ignore_index`); `mean` divides by the sum of
/// `w[t_i]` over non-ignored elements. Shapes: `(C)` with `()`, `(N, C)` with `(N)`,
/// `(N, C, d1..dk)` with `(N, d1..dk)`.
///
/// Derivative: `dl_i/dx[i, t_i] = -w[t_i]`, zero elsewhere; targets get no gradient.
///
/// Warns ([`crate::warnings`]) when the input has a positive value: log-probabilities are
/// `<= 0`, so it was given probabilities or raw scores.
#[track_caller]
pub fn nll_loss_with(input: &Tensor, target: &Tensor, opts: &NllLossOpts) -> Result<Tensor> {
    forward(input, target, opts, Location::caller())
}

/// What the backward rule needs: the targets and where they point.
struct Nll {
    target: TensorData,
    weight: Option<TensorData>,
    ignore_index: i64,
    red: Reduced,
    layout: ClassLayout,
    dtype: DType,
}

impl Backward for Nll {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        let gx = with_float!(self.dtype, "nll_loss", |T| {
            let up = Upstream::<T>::new(g, self.red)?;
            let tv = self.target.values::<i64>()?;
            let w = self.weight.as_ref().map(|w| w.values::<T>()).transpose()?;
            let mut gx = vec![T::ZERO; self.layout.shape.numel()];
            for (p, &t) in tv.iter().enumerate() {
                if t != self.ignore_index {
                    let k = t as usize; // range-checked by the forward pass
                    gx[self.layout.offset(p, k)] = -(w.as_ref().map_or(T::ONE, |w| w[k]) * up.at(p));
                }
            }
            Ok(TensorData::from_vec_unchecked(gx, self.layout.shape.clone()))
        })?;
        Ok(smallvec![Some(gx), None])
    }
}

/// Per-position losses, the `mean` divisor, and (when `check`) the input's first positive value.
fn forward_rows<T: Float>(x: &TensorData, st: &Nll, check: bool) -> Result<(Vec<T>, f64, Option<f64>)> {
    let xv = x.values::<T>()?;
    let positive = if check { first_positive(&xv) } else { None };
    let tv = st.target.values::<i64>()?;
    let w = st.weight.as_ref().map(|w| w.values::<T>()).transpose()?;
    let mut losses = vec![T::ZERO; st.layout.rows()];
    let mut denom = 0.0;
    for (p, &t) in tv.iter().enumerate() {
        let Some(k) = check_ignore_and_range("nll_loss", t, st.layout.c, st.ignore_index, &st.layout.shape)?
        else {
            continue;
        };
        let wt = w.as_ref().map_or(T::ONE, |w| w[k]);
        // l = -w_t x[t]
        losses[p] = -(wt * xv[st.layout.offset(p, k)]);
        denom += Element::to_f64(wt);
    }
    Ok((losses, denom, positive))
}

fn forward(input: &Tensor, target: &Tensor, o: &NllLossOpts, at: Site) -> Result<Tensor> {
    const OP: &str = "nll_loss";
    let (x, t) = (input.data(), target.data());
    if !x.dtype().is_float() {
        return Err(Error::need_float(OP, x.dtype()));
    }
    if t.dtype() != DType::I64 {
        return Err(Error::dtype(OP, "class-index targets of dtype i64", t.dtype(), "; nll_loss takes class indices (expected scalar type Long); convert with .to_dtype(DType::I64), or use cross_entropy / kl_div for probability targets"));
    }
    let layout = class_layout(OP, x.shape(), t.shape())?;
    let weight = class_weight(OP, o.weight.as_ref(), &x, layout.c)?;
    let mut rule = Nll {
        target: t.contiguous(),
        weight,
        ignore_index: o.ignore_index,
        red: Reduced::None,
        layout,
        dtype: x.dtype(),
    };
    let check = warnings::wanted(Pitfall::NllNotLogProbabilities, at);
    let (out, denom, positive) = with_float!(x.dtype(), OP, |T| {
        let (losses, denom, positive) = forward_rows::<T>(&x, &rule, check)?;
        Ok((
            Reduced::new(OP, o.reduction, denom)?.apply(losses, rule.layout.position_shape()),
            denom,
            positive,
        ))
    })?;
    if let Some(v) = positive {
        warnings::warn(Pitfall::NllNotLogProbabilities, at, || {
            format!("nll_loss expects log-probabilities (values <= 0, e.g. from log_softmax); got a positive value {v} in the input (shape {}). Did you pass probabilities or raw scores? Apply log_softmax first, or pass the raw scores to cross_entropy", x.shape())
        });
    }
    rule.red = Reduced::new(OP, o.reduction, denom)?;
    Ok(record(out, "NllLossBackward0", &[input, target], || rule))
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![OpInfo::new("nll_loss", |s| {
        let (n, c) = (s.size(4), s.size(3).max(1));
        let (xs, ts) = s.pick(&[(vec![c], vec![]), (vec![n, c], vec![n]), (vec![2, c, 3], vec![2, 3])]);
        let weight = s.flag().then(|| s.positive(&[c]));
        let opts = NllLossOpts {
            weight: weight.map(Tensor::from_data),
            reduction: any_reduction(s),
            ..Default::default()
        };
        // log-probabilities are <= 0
        let (x, t) = (s.within(&xs, -3.0, -0.1), s.index(&ts, c));
        Case::new([x, t], move |a| nll_loss_with(&a[0], &a[1], &opts))
    })]
}
