//! Loss functions: argument checks, forward kernels and backward rules side by side.
//!
//! Each loss validates its arguments (errors name the op, the shapes and the values, and
//! include PyTorch's wording), computes its per-element (or per-sample) values in one
//! kernel generic over `T: Float` (one dtype dispatch per call), reduces them, and records a
//! [`LossOp`] holding exactly what its derivative needs. [`backward`] holds every rule.
//! Losses with a common misuse (probabilities where logits or log-probabilities belong,
//! `kl_div`'s `Mean`, a broadcasting `mse_loss` target) also run a cheap check and report it
//! through [`crate::warnings`] at the caller's line; the checks never change a result.
//!
//! Notation: `x` input, `t` target, `w` weight, `u_i = dL/dl_i` the upstream gradient of
//! per-element loss `l_i` (`g_i` for `none`, `g` for `sum`, `g / count` for `mean`).

use crate::backward::{Grads, Op};
use crate::functional::{
    BceOpts, BceWithLogitsOpts, CosineEmbeddingOpts, CrossEntropyOpts, KlDivOpts, NllLossOpts, Reduction,
};
use crate::graph::record;
use crate::tensor::Tensor;
use crate::warnings::{self, Pitfall};
use smallvec::smallvec;
use std::borrow::Cow;
use std::panic::Location;
use torchlet_tensor_core::{with_float, DType, Element, Error, Float, Numeric, Result, Shape, TensorData};

/// A recorded loss and what its backward rule needs.
pub(crate) enum LossOp {
    /// `cross_entropy` on logits (fused log_softmax + nll, all target kinds).
    CrossEntropy(Box<CrossEntropyState>),
    /// `nll_loss` on log-probabilities.
    Nll(Box<NllState>),
    /// `binary_cross_entropy` on probabilities.
    Bce { p: TensorData, t: TensorData, w: Option<TensorData>, red: Reduced },
    /// `binary_cross_entropy_with_logits`.
    BceWithLogits {
        x: TensorData,
        t: TensorData,
        w: Option<TensorData>,
        pw: Option<TensorData>,
        red: Reduced,
    },
    /// `kl_div` (`x`, `t` broadcast to the output shape; `shapes` are the originals).
    KlDiv { x: TensorData, t: TensorData, log_target: bool, red: Reduced, shapes: (Shape, Shape) },
    /// `mse_loss` (`x`, `t` broadcast to the output shape; `shapes` are the originals).
    Mse { x: TensorData, t: TensorData, red: Reduced, shapes: (Shape, Shape) },
}

/// A reduction as applied by the forward pass; `Mean` carries its divisor.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reduced {
    None,
    Sum,
    Mean(f64),
}

/// The backward rule of a loss: input gradients (in the order the loss recorded its inputs)
/// from the output gradient `g`.
pub(crate) fn backward(op: &LossOp, g: &TensorData) -> Result<Grads> {
    match op {
        // l = -sum_c mass_c lp_c with lp = log_softmax(x):
        //   dl/dx_c = softmax(x)_c sum(mass) - mass_c;  dl/dt_c = -w_c (1 - ls) lp_c (probabilities).
        LossOp::CrossEntropy(s) => s.backward(g),
        // l_i = -w[t_i] x[i, t_i]: only x[i, t_i] gets -w[t_i] u_i; targets get none.
        LossOp::Nll(s) => s.backward(g),
        // l = -w (t ln p + (1-t) ln(1-p)): dl/dp = w (p - t) / max(p (1-p), 1e-12f32), dl/dt = -w logit(p).
        LossOp::Bce { p, t, w, red } => {
            let (gp, gt) = with_float!(p.dtype(), "binary_cross_entropy", |T| bce_backward::<T>(
                p,
                t,
                w.as_ref(),
                g,
                *red
            ))?;
            Ok(smallvec![Some(gp), Some(gt)])
        }
        // l = w ((1-t) x - (1 + (pw-1) t) log_sigmoid(x)):
        //   dl/dx = w ((pw t + 1 - t) sigmoid(x) - pw t),  dl/dt = w (log_sigmoid(-x) - pw log_sigmoid(x)).
        LossOp::BceWithLogits { x, t, w, pw, red } => {
            let (gx, gt) = with_float!(x.dtype(), "binary_cross_entropy_with_logits", |T| {
                bce_logits_backward::<T>(x, t, w.as_ref(), pw.as_ref(), g, *red)
            })?;
            Ok(smallvec![Some(gx), Some(gt)])
        }
        // l = xlogy(t, t) - t x:  dl/dx = -t,  dl/dt = xlogy(t != 0, t) + t/t - x (NaN at t = 0, as
        // PyTorch's composite gives).  log_target: l = e^t (t - x), dl/dx = -e^t, dl/dt = e^t (t - x + 1).
        LossOp::KlDiv { x, t, log_target, red, shapes } => {
            let (gx, gt) =
                with_float!(x.dtype(), "kl_div", |T| kl_backward::<T>(x, t, *log_target, g, *red))?;
            Ok(smallvec![Some(gx.sum_to_shape(&shapes.0)?), Some(gt.sum_to_shape(&shapes.1)?)])
        }
        // l = (x - t)^2:  dl/dx = 2 (x - t),  dl/dt = -2 (x - t).
        LossOp::Mse { x, t, red, shapes } => {
            let gx = with_float!(x.dtype(), "mse_loss", |T| {
                let up = Upstream::<T>::new(g, *red)?;
                let (xv, tv) = (x.values::<T>()?, t.values::<T>()?);
                let two = T::c(2.0);
                let v = xv.iter().zip(tv.iter()).enumerate().map(|(i, (&a, &b))| two * (a - b) * up.at(i));
                Ok(TensorData::from_vec_unchecked(v.collect::<Vec<T>>(), x.shape().clone()))
            })?;
            let gt = gx.neg()?;
            Ok(smallvec![Some(gx.sum_to_shape(&shapes.0)?), Some(gt.sum_to_shape(&shapes.1)?)])
        }
    }
}

// ----- shared helpers ------------------------------------------------------------------------

impl Reduced {
    /// The forward reduction for `r` with `count` as the `mean` divisor. `BatchMean` belongs
    /// to `kl_div` only.
    fn new(op: &'static str, r: Reduction, count: f64) -> Result<Reduced> {
        match r {
            Reduction::None => Ok(Reduced::None),
            Reduction::Sum => Ok(Reduced::Sum),
            Reduction::Mean => Ok(Reduced::Mean(count)),
            Reduction::BatchMean => Err(Error::invalid(
                op,
                "reduction BatchMean (\"batchmean\") is only defined for kl_div; use Reduction::Mean, Sum or None",
            )),
        }
    }

    /// Reduces per-element losses `v` of `shape` (sums accumulate in f64).
    fn apply<T: Float>(self, v: Vec<T>, shape: Shape) -> TensorData {
        // One running f64 sum, in element order (the order a hand-written loop adds in, which
        // the seed-002 walkthrough relies on to show bit-identical NLL results).
        let sum = || v.iter().map(|&x| Element::to_f64(x)).sum::<f64>();
        let out = match self {
            Reduced::None => return TensorData::from_vec_unchecked(v, shape),
            Reduced::Sum => TensorData::scalar(T::c(sum())),
            // Mean of zero elements (or zero total weight) is 0/0 = NaN, like PyTorch.
            Reduced::Mean(n) => TensorData::scalar(T::c(sum() / n)),
        };
        torchlet_tensor_core::pool::give_back(v); // reused if it came from the buffer cache
        out
    }
}

/// `u_i = dL/dl_i` for every per-element loss: `g_i` (none), `g` (sum), `g / count` (mean).
enum Upstream<'a, T: Float> {
    Each(Cow<'a, [T]>),
    All(T),
}

impl<'a, T: Float> Upstream<'a, T> {
    fn new(g: &'a TensorData, red: Reduced) -> Result<Self> {
        Ok(match red {
            Reduced::None => Upstream::Each(g.values::<T>()?),
            Reduced::Sum => Upstream::All(T::c(g.item()?)),
            Reduced::Mean(n) => Upstream::All(T::c(g.item()?) / T::c(n)),
        })
    }

    #[inline]
    fn at(&self, i: usize) -> T {
        match self {
            Upstream::Each(v) => v[i],
            Upstream::All(u) => *u,
        }
    }
}

/// Errors unless `t` is a float tensor of `x`'s dtype.
fn same_float(op: &'static str, what: &str, x: &TensorData, t: &TensorData) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::need_float(op, x.dtype()));
    }
    if t.dtype() != x.dtype() {
        return Err(Error::dtype(
            op,
            format!("{what} of the input's dtype {}", x.dtype()),
            t.dtype(),
            format!("; convert it with .to_dtype(DType::{:?})", x.dtype()),
        ));
    }
    Ok(())
}

/// The call site a loss reports its warnings at (the user's line, via `#[track_caller]`).
type Site = &'static Location<'static>;

/// What a probability-looking `cross_entropy` input looks like (the reason for the warning).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LooksLike {
    /// Every value in `[0, 1]` and every row sums to 1.
    Softmax,
    /// Every value strictly in `(0, 1)`.
    Sigmoid,
}

/// Whether contiguous rows of `c` scores look like probabilities rather than logits: all
/// values in `[0, 1]` with every row summing to 1 within 1e-3 (softmax output), or all values
/// strictly in `(0, 1)` (sigmoid output). One pass, no allocation, stops at the first value
/// outside `[0, 1]` (which real logits almost always have early). NaN counts as a logit.
fn looks_like_probabilities<T: Float>(xv: &[T], c: usize) -> Option<LooksLike> {
    if xv.is_empty() || c == 0 {
        return None;
    }
    let (tol, mut open, mut sums_to_one) = (T::c(1e-3), true, true);
    for row in xv.chunks_exact(c) {
        let mut sum = T::ZERO;
        for &v in row {
            if !(v >= T::ZERO && v <= T::ONE) {
                return None;
            }
            open &= v > T::ZERO && v < T::ONE;
            sum += v;
        }
        sums_to_one &= (sum - T::ONE).abs() <= tol;
        if !open && !sums_to_one {
            return None;
        }
    }
    if sums_to_one {
        Some(LooksLike::Softmax)
    } else {
        Some(LooksLike::Sigmoid)
    }
}

/// The first value above 0 (log-probabilities never are), for the nll_loss / kl_div checks.
fn first_positive<T: Float>(v: &[T]) -> Option<f64> {
    v.iter().find(|&&x| x > T::ZERO).map(|&x| Element::to_f64(x))
}

fn isize_dims(s: &Shape) -> Vec<isize> {
    s.dims().iter().map(|&d| d as isize).collect()
}

// ----- cross_entropy and nll_loss --------------------------------------------------------------

/// How `(N, C, d1..dk)` logits map onto contiguous rows of `C` classes: `rows = N * d1..dk`.
#[derive(Clone, Debug)]
pub(crate) struct ClassLayout {
    /// The input's shape.
    shape: Shape,
    n: usize,
    c: usize,
    /// `d1 * .. * dk` (1 for `(C)` and `(N, C)` inputs).
    inner: usize,
}

impl ClassLayout {
    fn rows(&self) -> usize {
        self.n * self.inner
    }

    /// The shape of per-position results: `()`, `(N)` or `(N, d1..dk)`.
    fn position_shape(&self) -> Shape {
        let mut d = self.shape.0.clone();
        if !d.is_empty() {
            d.remove(if d.len() == 1 { 0 } else { 1 });
        }
        Shape(d)
    }

    /// `x` as contiguous `(rows, C)`: `(N, C, d..)` is permuted to `(N, d.., C)` first.
    fn to_rows(&self, x: &TensorData) -> Result<TensorData> {
        if self.inner == 1 {
            return Ok(x.contiguous());
        }
        let (n, c, i) = (self.n as isize, self.c as isize, self.inner as isize);
        Ok(x.reshape(&[n, c, i])?.permute(&[0, 2, 1])?.contiguous())
    }

    /// The inverse of [`ClassLayout::to_rows`].
    fn rows_to_input(&self, r: TensorData) -> Result<TensorData> {
        if self.inner == 1 {
            return r.reshape(&isize_dims(&self.shape));
        }
        let (n, c, i) = (self.n as isize, self.c as isize, self.inner as isize);
        r.reshape(&[n, i, c])?.permute(&[0, 2, 1])?.contiguous().reshape(&isize_dims(&self.shape))
    }
}

fn no_class_dim(op: &'static str, x: &Shape) -> Error {
    Error::invalid(op, format!("Expected 1 or more dimensions (got 0): the input must be (C), (N, C) or (N, C, d1, ..., dk) scores, got shape {x}"))
}

/// Checks class-index targets against `x` like PyTorch's `nll_loss_nd`: `(C)` with `()`,
/// `(N, C)` with `(N)`, `(N, C, d1..dk)` with `(N, d1..dk)`.
fn class_layout(op: &'static str, x: &Shape, t: &Shape) -> Result<ClassLayout> {
    let d = x.dims();
    if d.is_empty() {
        return Err(no_class_dim(op, x));
    }
    let lay = |n: usize, inner: usize| ClassLayout { shape: x.clone(), n, c: d[d.len().min(2) - 1], inner };
    if d.len() == 1 {
        if t.ndim() != 0 {
            return Err(Error::shapes(op, x, t, "do not fit: an unbatched input (C) needs a 0-D target (one class index); 0D or 1D target tensor expected, multi-target not supported"));
        }
        return Ok(lay(1, 1));
    }
    if t.ndim() == 0 || t.dims()[0] != d[0] {
        let tb = t.dims().first().map_or("none (0-D target)".to_string(), |b| b.to_string());
        return Err(Error::shapes(op, x, t, format!("do not fit: Expected input batch_size ({}) to match target batch_size ({tb}). The target needs one class index per sample: shape {}", d[0], Shape::new(&[&d[..1], &d[2..]].concat()))));
    }
    if d.len() == 2 && t.ndim() != 1 {
        return Err(Error::shapes(op, x, t, format!("do not fit: 0D or 1D target tensor expected, multi-target not supported (for input (N, C) = {x} the target must be (N) = [{}])", d[0])));
    }
    if d.len() > 2 && t.dims() != [&d[..1], &d[2..]].concat().as_slice() {
        return Err(Error::shapes(op, x, t, format!("do not fit: Expected target size {}, got {t} (input (N, C, d1, ..., dk) needs target (N, d1, ..., dk))", Shape::new(&[&d[..1], &d[2..]].concat()))));
    }
    Ok(lay(d[0], d[2.min(d.len())..].iter().product()))
}

/// The class weights of `op` as values of `x`'s dtype, checked to have length `c`.
fn class_weight(
    op: &'static str,
    w: Option<&Tensor>,
    x: &TensorData,
    c: usize,
) -> Result<Option<TensorData>> {
    let Some(w) = w else { return Ok(None) };
    let w = w.data();
    if w.ndim() != 1 || w.numel() != c {
        return Err(Error::shapes(op, w.shape(), x.shape(), format!("do not fit: weight tensor should be defined either for all {c} classes or no classes but got weight tensor of shape: {} (pass a 1-D weight of length {c}, one per class)", w.shape())));
    }
    same_float(op, "a weight", x, &w)?;
    Ok(Some(w.contiguous()))
}

fn check_ignore_and_range(
    op: &'static str,
    t: i64,
    c: usize,
    ignore: i64,
    x: &Shape,
) -> Result<Option<usize>> {
    if t == ignore {
        return Ok(None);
    }
    if t < 0 || t as usize >= c {
        return Err(Error::IndexOutOfRange {
            op,
            what: "Target",
            index: t,
            size: c,
            extra: format!(" or ignore_index {ignore}; Target {t} is out of bounds. for an input of shape {x} with {c} classes"),
        });
    }
    Ok(Some(t as usize))
}

/// The targets of a cross-entropy: class indices, or class probabilities (as rows of C).
pub(crate) enum CeTarget {
    Index(TensorData),
    Prob(TensorData),
}

/// What `cross_entropy`'s backward needs: the logits, targets, options, and two numbers per
/// row (`max` and `ln sum exp(x - max)`); softmax is recomputed, no `(N, C)` tensor is saved.
pub(crate) struct CrossEntropyState {
    x: TensorData,
    target: CeTarget,
    weight: Option<TensorData>,
    ignore_index: i64,
    ls: f64,
    stats: TensorData,
    red: Reduced,
    layout: ClassLayout,
}

/// Forward of cross_entropy: per-row losses, the saved row statistics, and the `mean` divisor.
#[allow(clippy::too_many_arguments)]
fn ce_forward<T: Float>(
    x: &TensorData,
    target: &CeTarget,
    w: Option<&TensorData>,
    ignore: i64,
    ls: f64,
    lay: &ClassLayout,
) -> Result<(Vec<T>, Vec<T>, f64)> {
    let c = lay.c;
    let xv = x.values::<T>()?;
    let w = w.map(|w| w.values::<T>()).transpose()?;
    let (ls_t, keep) = (T::c(ls / c as f64), T::c(1.0 - ls));
    let mut losses = torchlet_tensor_core::pool::filled(lay.rows(), T::ZERO);
    // Row statistics (max, ln sum exp(x - max)) for every row in one vectorised pass; `maxes`
    // gets room for `lses` after it (the saved statistics are one buffer).
    let mut maxes = torchlet_tensor_core::pool::vec_with_capacity(2 * lay.rows());
    maxes.resize(lay.rows(), T::ZERO);
    let mut lses = torchlet_tensor_core::pool::filled(lay.rows(), T::ZERO);
    if c > 0 {
        torchlet_tensor_core::vmath::row_stats(&xv, c, &mut maxes, &mut lses);
    }
    let mut denom = 0.0f64;
    let rows = xv.chunks_exact(c.max(1));
    match target {
        CeTarget::Index(t) => {
            let tv = t.values::<i64>()?;
            if c == 0 {
                // No rows to walk, but the targets must still be checked: with no classes every
                // target is out of bounds unless ignored (PyTorch: "Target 0 is out of bounds.").
                for &k in tv.iter() {
                    check_ignore_and_range("cross_entropy", k, c, ignore, &lay.shape)?;
                }
            }
            if ls == 0.0 && c > 0 {
                // Common case: nll = -w_t lp_t per row in one parallel pass that also checks
                // the targets; the mean's divisor counts (or weighs) the rows in row order.
                let wv = w.as_deref().unwrap_or(&[]);
                let picked = torchlet_tensor_core::vmath::nll_rows(
                    &xv,
                    c,
                    &maxes,
                    &lses,
                    &tv,
                    ignore,
                    wv,
                    &mut losses,
                );
                if let Err(r) = picked {
                    check_ignore_and_range("cross_entropy", tv[r], c, ignore, &lay.shape)?;
                }
                let kept = tv.iter().filter(|&&k| k != ignore);
                denom = match &w {
                    None => kept.count() as f64,
                    Some(w) => kept.fold(0.0, |d, &k| d + Element::to_f64(w[k as usize])),
                };
                maxes.extend_from_slice(&lses);
                torchlet_tensor_core::pool::give_back(lses);
                return Ok((losses, maxes, denom));
            }
            for (r, row) in rows.enumerate() {
                let Some(k) = check_ignore_and_range("cross_entropy", tv[r], c, ignore, &lay.shape)? else {
                    continue;
                };
                let (m, lse) = (maxes[r], lses[r]);
                let wt = w.as_ref().map_or(T::ONE, |w| w[k]);
                // nll = -w_t lp_t
                let mut l = -(wt * ((row[k] - m) - lse));
                if ls > 0.0 {
                    // smooth = -sum_c w_c lp_c; l = (1 - ls) nll + (ls / C) smooth
                    let smooth: T = match &w {
                        Some(w) => row.iter().zip(w.iter()).map(|(&x, &wc)| -(wc * ((x - m) - lse))).sum(),
                        None => row.iter().map(|&x| -((x - m) - lse)).sum(),
                    };
                    l = keep * l + ls_t * smooth;
                }
                losses[r] = l;
                denom += Element::to_f64(wt);
            }
        }
        CeTarget::Prob(t) => {
            let tv = t.values::<T>()?;
            for (r, (row, trow)) in rows.zip(tv.chunks_exact(c.max(1))).enumerate() {
                let (m, lse) = (maxes[r], lses[r]);
                // l = -sum_c w_c t'_c lp_c with t' = t (1 - ls) + ls / C
                let mut l = T::ZERO;
                for (j, (&x, &tc)) in row.iter().zip(trow).enumerate() {
                    let tc = if ls > 0.0 { tc * keep + ls_t } else { tc };
                    let wc = w.as_ref().map_or(T::ONE, |w| w[j]);
                    l -= wc * tc * ((x - m) - lse);
                }
                losses[r] = l;
            }
            denom = lay.rows() as f64;
        }
    }
    maxes.extend_from_slice(&lses);
    torchlet_tensor_core::pool::give_back(lses);
    Ok((losses, maxes, denom))
}

impl CrossEntropyState {
    fn backward(&self, g: &TensorData) -> Result<Grads> {
        with_float!(self.x.dtype(), "cross_entropy", |T| {
            let (gx, gt) = self.backward_rows::<T>(g)?;
            let gx = self.layout.rows_to_input(gx)?;
            let gt = gt.map(|gt| self.layout.rows_to_input(gt)).transpose()?;
            Ok(smallvec![Some(gx), gt])
        })
    }

    /// Row gradients: `u_r (softmax(x_r) M_r - mass_r)` with `mass_r` the target mass of the
    /// row (`M_r` its sum), plus the probability-target gradient `-u_r w_c (1 - ls) lp_c`.
    fn backward_rows<T: Float>(&self, g: &TensorData) -> Result<(TensorData, Option<TensorData>)> {
        let c = self.layout.c;
        let xv = self.x.values::<T>()?;
        let st = self.stats.values::<T>()?;
        let w = self.weight.as_ref().map(|w| w.values::<T>()).transpose()?;
        let up = Upstream::<T>::new(g, self.red)?;
        let (ls_t, keep) = (T::c(self.ls / c as f64), T::c(1.0 - self.ls));
        let shape = Shape::new(&[self.layout.rows(), c]);
        match &self.target {
            CeTarget::Index(t) => {
                let tv = t.values::<i64>()?;
                let (max, lse) = st.split_at(self.layout.rows());
                if self.ls == 0.0 {
                    // Common case, one fused pass: g_rj = u_r w_t (softmax_j - [j = t_r]).
                    let uv: Cow<[T]> = match &up {
                        Upstream::Each(v) => Cow::Borrowed(&v[..]),
                        Upstream::All(u) => Cow::Owned(vec![*u]),
                    };
                    let (wv, ig) = (w.as_deref().unwrap_or(&[]), self.ignore_index);
                    let gx = torchlet_tensor_core::vmath::ce_grad_index(&xv, c, max, lse, &tv, ig, &uv, wv);
                    return Ok((TensorData::from_vec_unchecked(gx, shape), None));
                }
                let mut gx = vec![T::ZERO; xv.len()];
                let w_all: T = w.as_ref().map_or(T::c(c as f64), |w| w.iter().copied().sum());
                // softmax of every row in one vectorised pass, from the saved statistics.
                if c > 0 {
                    torchlet_tensor_core::vmath::softmax_from_stats(&xv, c, max, lse, &mut gx);
                }
                let rows = gx.chunks_exact_mut(c.max(1));
                for (r, grow) in rows.enumerate() {
                    if tv[r] == self.ignore_index {
                        grow.iter_mut().for_each(|gj| *gj = T::ZERO); // ignored: no gradient
                        continue;
                    }
                    let k = tv[r] as usize; // range-checked by the forward pass
                    let u = up.at(r);
                    let wt = w.as_ref().map_or(T::ONE, |w| w[k]);
                    // mass_c = (1 - ls) w_t [c = t] + (ls / C) w_c;  M = (1 - ls) w_t + (ls / C) sum(w);
                    // g_c = u (softmax_c M - mass_c)
                    let um = u * (keep * wt + ls_t * w_all);
                    grow.iter_mut().for_each(|gj| *gj *= um); // u M softmax_j
                    if self.ls > 0.0 {
                        match &w {
                            Some(w) => {
                                grow.iter_mut().zip(w.iter()).for_each(|(gj, &wj)| *gj -= u * ls_t * wj)
                            }
                            None => grow.iter_mut().for_each(|gj| *gj -= u * ls_t),
                        }
                    }
                    grow[k] -= u * keep * wt;
                }
                Ok((TensorData::from_vec_unchecked(gx, shape), None))
            }
            CeTarget::Prob(t) => {
                let tv = t.values::<T>()?;
                let mut gt = vec![T::ZERO; xv.len()];
                let mut gx = vec![T::ZERO; xv.len()];
                let rows = xv.chunks_exact(c.max(1)).zip(gx.chunks_exact_mut(c.max(1)));
                for (r, ((row, grow), (trow, gtrow))) in
                    rows.zip(tv.chunks_exact(c.max(1)).zip(gt.chunks_exact_mut(c.max(1)))).enumerate()
                {
                    let (m, lse, u) = (st[r], st[self.layout.rows() + r], up.at(r));
                    let mass = |j: usize| {
                        let tc = if self.ls > 0.0 { trow[j] * keep + ls_t } else { trow[j] };
                        w.as_ref().map_or(T::ONE, |w| w[j]) * tc
                    };
                    let big_m: T = (0..c).map(mass).sum();
                    for j in 0..c {
                        let lp = (row[j] - m) - lse;
                        grow[j] = u * (lp.exp() * big_m - mass(j));
                        gtrow[j] = -(u * w.as_ref().map_or(T::ONE, |w| w[j]) * keep * lp);
                    }
                }
                let gt = TensorData::from_vec_unchecked(gt, shape.clone());
                Ok((TensorData::from_vec_unchecked(gx, shape), Some(gt)))
            }
        }
    }
}

/// `functional::cross_entropy_with`: validation, fused forward, recording.
pub(crate) fn cross_entropy(
    input: &Tensor,
    target: &Tensor,
    o: &CrossEntropyOpts,
    at: Site,
) -> Result<Tensor> {
    const OP: &str = "cross_entropy";
    let (x, t) = (input.data(), target.data());
    if !x.dtype().is_float() {
        return Err(Error::need_float(OP, x.dtype()));
    }
    if !(0.0..=1.0).contains(&o.label_smoothing) {
        return Err(Error::invalid(OP, format!("label_smoothing must be between 0.0 and 1.0. Got: {} (it is the probability mass spread uniformly over the classes)", o.label_smoothing)));
    }
    if x.ndim() == 0 {
        return Err(no_class_dim(OP, x.shape()));
    }
    let prob = t.dtype().is_float();
    let lay = if prob {
        if t.shape() != x.shape() && class_layout(OP, x.shape(), t.shape()).is_ok() {
            return Err(Error::dtype(OP, format!("class indices as an i64 tensor, since the target has the shape {} of class-index targets", t.shape()), t.dtype(), "; expected scalar type Long (convert with .to_dtype(DType::I64)); float targets are class probabilities and need the input's shape"));
        }
        if t.shape() != x.shape() {
            return Err(Error::shapes(OP, x.shape(), t.shape(), "do not fit: float targets are class probabilities and need the input's shape; for class indices pass an i64 target of shape (N) (0D or 1D target tensor expected, multi-target not supported)"));
        }
        if o.ignore_index >= 0 {
            return Err(Error::invalid(OP, format!("ignore_index is not supported for floating point target (got ignore_index {} with class-probability targets); leave it at the default -100", o.ignore_index)));
        }
        same_float(OP, "probability targets", &x, &t)?;
        // Probability targets have the input's shape; the "target shape" of the layout is the
        // input without its class dimension.
        let mut pos = x.shape().0.clone();
        if !pos.is_empty() {
            pos.remove(if pos.len() == 1 { 0 } else { 1 });
        }
        class_layout(OP, x.shape(), &Shape(pos))?
    } else {
        if t.dtype() != DType::I64 {
            return Err(Error::dtype(
                OP,
                "class-index targets of dtype i64 (or float class probabilities of the input's shape)",
                t.dtype(),
                "; convert indices with .to_dtype(DType::I64)",
            ));
        }
        if t.shape() == x.shape() {
            return Err(Error::dtype(OP, format!("class probabilities as a float tensor, since the target has the input's shape {}", x.shape()), t.dtype(), "; Expected floating point type for target with class probabilities (convert with .to_dtype(DType::F32))"));
        }
        class_layout(OP, x.shape(), t.shape())?
    };
    let w = class_weight(OP, o.weight.as_ref(), &x, lay.c)?;
    let rows = lay.to_rows(&x)?;
    let tgt = if prob { CeTarget::Prob(lay.to_rows(&t)?) } else { CeTarget::Index(t.contiguous()) };
    let check = warnings::wanted(Pitfall::CrossEntropyProbabilities, at);
    let (out, stats, denom, probs) = with_float!(x.dtype(), OP, |T| {
        let (losses, stats, denom) =
            ce_forward::<T>(&rows, &tgt, w.as_ref(), o.ignore_index, o.label_smoothing, &lay)?;
        let red = Reduced::new(OP, o.reduction, denom)?;
        let probs = if check { looks_like_probabilities::<T>(&rows.values::<T>()?, lay.c) } else { None };
        Ok((
            red.apply(losses, lay.position_shape()),
            TensorData::from_vec_unchecked(stats, Shape::new(&[2 * lay.rows()])),
            denom,
            probs,
        ))
    })?;
    if let Some(kind) = probs {
        warnings::warn(Pitfall::CrossEntropyProbabilities, at, || {
            let why = match kind {
                LooksLike::Softmax => {
                    "every value lies in [0, 1] and every row sums to 1, as after a softmax"
                }
                LooksLike::Sigmoid => "every value lies strictly between 0 and 1, as after a sigmoid",
            };
            format!("cross_entropy expects raw logits; applying softmax/sigmoid first makes the loss wrong. The input (shape {}) looks like probabilities: {why}. Pass the pre-activation scores (e.g. the last Linear layer's output) instead; if you really have probabilities, use nll_loss(p.log()) or binary_cross_entropy", x.shape())
        });
    }
    let red = Reduced::new(OP, o.reduction, denom)?;
    // PyTorch's grad_fn of the last op of its composite.
    let name = match (prob, o.label_smoothing > 0.0, o.reduction) {
        (false, false, _) => "NllLossBackward0",
        (false, true, _) => "AddBackward0",
        (true, _, Reduction::Mean) => "DivBackward0",
        (true, _, _) => "NegBackward0",
    };
    let state = CrossEntropyState {
        x: rows,
        target: tgt,
        weight: w,
        ignore_index: o.ignore_index,
        ls: o.label_smoothing,
        stats,
        red,
        layout: lay,
    };
    Ok(record(out, name, &[input, target], || Op::Loss(LossOp::CrossEntropy(Box::new(state)))))
}

/// What `nll_loss`'s backward needs: the targets and where they point.
pub(crate) struct NllState {
    target: TensorData,
    weight: Option<TensorData>,
    ignore_index: i64,
    red: Reduced,
    layout: ClassLayout,
    dtype: DType,
}

impl ClassLayout {
    /// Flat offset into the input of class `k` at position `p = n * inner + i`.
    #[inline]
    fn offset(&self, p: usize, k: usize) -> usize {
        let (n, i) = (p / self.inner, p % self.inner);
        (n * self.c + k) * self.inner + i
    }
}

/// Per-position losses, the `mean` divisor, and (when `check`) the input's first positive value.
fn nll_forward<T: Float>(x: &TensorData, st: &NllState, check: bool) -> Result<(Vec<T>, f64, Option<f64>)> {
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

impl NllState {
    fn backward(&self, g: &TensorData) -> Result<Grads> {
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

/// `functional::nll_loss_with`.
pub(crate) fn nll_loss(input: &Tensor, target: &Tensor, o: &NllLossOpts, at: Site) -> Result<Tensor> {
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
    let st = NllState {
        target: t.contiguous(),
        weight,
        ignore_index: o.ignore_index,
        red: Reduced::None,
        layout,
        dtype: x.dtype(),
    };
    let check = warnings::wanted(Pitfall::NllNotLogProbabilities, at);
    let (out, denom, positive) = with_float!(x.dtype(), OP, |T| {
        let (losses, denom, positive) = nll_forward::<T>(&x, &st, check)?;
        Ok((Reduced::new(OP, o.reduction, denom)?.apply(losses, st.layout.position_shape()), denom, positive))
    })?;
    if let Some(v) = positive {
        warnings::warn(Pitfall::NllNotLogProbabilities, at, || {
            format!("nll_loss expects log-probabilities (values <= 0, e.g. from log_softmax); got a positive value {v} in the input (shape {}). Did you pass probabilities or raw scores? Apply log_softmax first, or pass the raw scores to cross_entropy", x.shape())
        });
    }
    let st = NllState { red: Reduced::new(OP, o.reduction, denom)?, ..st };
    Ok(record(out, "NllLossBackward0", &[input, target], || Op::Loss(LossOp::Nll(Box::new(st)))))
}

// ----- binary cross-entropy ----------------------------------------------------------------

/// Checks the same-shape rule of the binary losses and broadcasts an optional weight to it.
fn binary_args(
    op: &'static str,
    x: &TensorData,
    t: &TensorData,
    w: Option<&Tensor>,
    what: &str,
) -> Result<Option<TensorData>> {
    same_float(op, "a target", x, t)?;
    if x.shape() != t.shape() {
        return Err(Error::shapes(op, x.shape(), t.shape(), format!("do not fit: Using a target size (torch.Size({})) that is different to the input size (torch.Size({})) is deprecated. Please ensure they have the same size (reshape or expand the target explicitly)", t.shape(), x.shape())));
    }
    w.map(|w| {
        let w = w.data();
        same_float(op, what, x, &w)?;
        w.expand(x.shape().clone())
            .map_err(|_| {
                Error::shapes(
                    op,
                    w.shape(),
                    x.shape(),
                    format!("do not fit: the {what} must broadcast to the input's shape"),
                )
            })
            .map(|w| w.contiguous())
    })
    .transpose()
}

/// Errors unless every value lies in `[0, 1]` (NaN included).
fn check_unit<T: Float>(op: &'static str, name: &str, v: &[T], shape: &Shape) -> Result<()> {
    if let Some((i, bad)) = v.iter().enumerate().find(|(_, &p)| !(p >= T::ZERO && p <= T::ONE)) {
        let hint = if name == "input" {
            "; binary_cross_entropy takes probabilities, pass logits to binary_cross_entropy_with_logits instead"
        } else {
            "; targets are probabilities of the positive class"
        };
        return Err(Error::invalid(op, format!("all elements of {name} should be between 0 and 1, but element {i} of the {name} (shape {shape}) is {bad}{hint}")));
    }
    Ok(())
}

fn bce_forward<T: Float>(p: &TensorData, t: &TensorData, w: Option<&TensorData>) -> Result<Vec<T>> {
    const OP: &str = "binary_cross_entropy";
    let (pv, tv) = (p.values::<T>()?, t.values::<T>()?);
    check_unit(OP, "input", &pv, p.shape())?;
    check_unit(OP, "target", &tv, t.shape())?;
    let w = w.map(|w| w.values::<T>()).transpose()?;
    let floor = T::c(-100.0);
    Ok(pv
        .iter()
        .zip(tv.iter())
        .enumerate()
        .map(|(i, (&p, &t))| {
            // l = (t - 1) max(ln(1 - p), -100) - t max(ln p, -100): the clamp keeps p = 0 or 1 finite.
            let l = (t - T::ONE) * (-p).ln_1p().max(floor) - t * p.ln().max(floor);
            w.as_ref().map_or(l, |w| l * w[i])
        })
        .collect())
}

fn bce_backward<T: Float>(
    p: &TensorData,
    t: &TensorData,
    w: Option<&TensorData>,
    g: &TensorData,
    red: Reduced,
) -> Result<(TensorData, TensorData)> {
    let (pv, tv) = (p.values::<T>()?, t.values::<T>()?);
    let w = w.map(|w| w.values::<T>()).transpose()?;
    let up = Upstream::<T>::new(g, red)?;
    // PyTorch's EPSILON is the f32 literal 1e-12f (9.9999998e-13 in f64): the parity cases show it.
    let eps = T::c(1e-12f32 as f64);
    let (mut gp, mut gt) = (Vec::with_capacity(pv.len()), Vec::with_capacity(pv.len()));
    for (i, (&p, &t)) in pv.iter().zip(tv.iter()).enumerate() {
        let s = up.at(i) * w.as_ref().map_or(T::ONE, |w| w[i]);
        gp.push(s * (p - t) / ((T::ONE - p) * p).max(eps));
        // -logit(p) = -ln(p / (1 - p))
        gt.push(s * -(p / (T::ONE - p)).ln());
    }
    Ok((
        TensorData::from_vec_unchecked(gp, p.shape().clone()),
        TensorData::from_vec_unchecked(gt, p.shape().clone()),
    ))
}

/// `functional::binary_cross_entropy_with`.
pub(crate) fn binary_cross_entropy(input: &Tensor, target: &Tensor, o: &BceOpts) -> Result<Tensor> {
    const OP: &str = "binary_cross_entropy";
    let (p, t) = (input.data(), target.data());
    let w = binary_args(OP, &p, &t, o.weight.as_ref(), "weight")?;
    let red = Reduced::new(OP, o.reduction, p.numel() as f64)?;
    let out = with_float!(p.dtype(), OP, |T| Ok(
        red.apply(bce_forward::<T>(&p, &t, w.as_ref())?, p.shape().clone())
    ))?;
    Ok(record(out, "BinaryCrossEntropyBackward0", &[input, target], || {
        Op::Loss(LossOp::Bce { p, t, w, red })
    }))
}

/// `log_sigmoid(x) = min(x, 0) - ln(1 + e^-|x|)`, finite for any x.
#[inline]
fn log_sigmoid<T: Float>(x: T) -> T {
    x.min(T::ZERO) - (-x.abs()).exp().ln_1p()
}

fn bce_logits_forward<T: Float>(
    x: &TensorData,
    t: &TensorData,
    w: Option<&TensorData>,
    pw: Option<&TensorData>,
) -> Result<Vec<T>> {
    let (xv, tv) = (x.values::<T>()?, t.values::<T>()?);
    let w = w.map(|w| w.values::<T>()).transpose()?;
    let pw = pw.map(|w| w.values::<T>()).transpose()?;
    Ok(xv
        .iter()
        .zip(tv.iter())
        .enumerate()
        .map(|(i, (&x, &t))| {
            // l = (1 - t) x - (1 + (pw - 1) t) log_sigmoid(x)
            let lw = pw.as_ref().map_or(T::ONE, |pw| (pw[i] - T::ONE) * t + T::ONE);
            let l = (T::ONE - t) * x - lw * log_sigmoid(x);
            w.as_ref().map_or(l, |w| l * w[i])
        })
        .collect())
}

fn bce_logits_backward<T: Float>(
    x: &TensorData,
    t: &TensorData,
    w: Option<&TensorData>,
    pw: Option<&TensorData>,
    g: &TensorData,
    red: Reduced,
) -> Result<(TensorData, TensorData)> {
    let (xv, tv) = (x.values::<T>()?, t.values::<T>()?);
    let w = w.map(|w| w.values::<T>()).transpose()?;
    let pw = pw.map(|w| w.values::<T>()).transpose()?;
    let up = Upstream::<T>::new(g, red)?;
    let (mut gx, mut gt) = (Vec::with_capacity(xv.len()), Vec::with_capacity(xv.len()));
    for (i, (&x, &t)) in xv.iter().zip(tv.iter()).enumerate() {
        let s = up.at(i) * w.as_ref().map_or(T::ONE, |w| w[i]);
        let sig = T::ONE / (T::ONE + (-x).exp());
        match &pw {
            Some(pw) => {
                let pt = pw[i] * t;
                gx.push(s * ((pt + T::ONE - t) * sig - pt));
                gt.push(s * (log_sigmoid(-x) - log_sigmoid(x) * pw[i]));
            }
            None => {
                gx.push(s * (sig - t));
                gt.push(s * -x);
            }
        }
    }
    Ok((
        TensorData::from_vec_unchecked(gx, x.shape().clone()),
        TensorData::from_vec_unchecked(gt, x.shape().clone()),
    ))
}

/// `functional::binary_cross_entropy_with_logits_with`.
pub(crate) fn binary_cross_entropy_with_logits(
    input: &Tensor,
    target: &Tensor,
    o: &BceWithLogitsOpts,
) -> Result<Tensor> {
    const OP: &str = "binary_cross_entropy_with_logits";
    let (x, t) = (input.data(), target.data());
    let w = binary_args(OP, &x, &t, o.weight.as_ref(), "weight")?;
    let pw = binary_args(OP, &x, &t, o.pos_weight.as_ref(), "pos_weight")?;
    let red = Reduced::new(OP, o.reduction, x.numel() as f64)?;
    let out = with_float!(x.dtype(), OP, |T| Ok(
        red.apply(bce_logits_forward::<T>(&x, &t, w.as_ref(), pw.as_ref())?, x.shape().clone())
    ))?;
    Ok(record(out, "BinaryCrossEntropyWithLogitsBackward0", &[input, target], || {
        Op::Loss(LossOp::BceWithLogits { x, t, w, pw, red })
    }))
}

// ----- kl_div and mse_loss -----------------------------------------------------------------

/// `x` and `t` broadcast to their common shape (materialised), for the pointwise losses.
fn broadcast_pair(op: &'static str, x: &TensorData, t: &TensorData) -> Result<(TensorData, TensorData)> {
    same_float(op, "a target", x, t)?;
    let shape = Shape::broadcast(op, x.shape(), t.shape())?;
    let expand = |a: &TensorData| -> Result<TensorData> {
        Ok(if a.shape() == &shape { a.contiguous() } else { a.expand(shape.clone())?.contiguous() })
    };
    Ok((expand(x)?, expand(t)?))
}

/// Pointwise losses and (when `check`) the input's first positive value.
fn kl_forward<T: Float>(
    x: &TensorData,
    t: &TensorData,
    log_target: bool,
    check: bool,
) -> Result<(Vec<T>, Option<f64>)> {
    let (xv, tv) = (x.values::<T>()?, t.values::<T>()?);
    let positive = if check { first_positive(&xv) } else { None };
    let v = xv
        .iter()
        .zip(tv.iter())
        .map(|(&x, &t)| {
            if log_target {
                t.exp() * (t - x)
            } else {
                // xlogy(t, t) - t x, with 0 ln 0 = 0
                let tlogt = if t == T::ZERO { T::ZERO } else { t * t.ln() };
                tlogt - t * x
            }
        })
        .collect();
    Ok((v, positive))
}

fn kl_backward<T: Float>(
    x: &TensorData,
    t: &TensorData,
    log_target: bool,
    g: &TensorData,
    red: Reduced,
) -> Result<(TensorData, TensorData)> {
    let (xv, tv) = (x.values::<T>()?, t.values::<T>()?);
    let up = Upstream::<T>::new(g, red)?;
    let (mut gx, mut gt) = (Vec::with_capacity(xv.len()), Vec::with_capacity(xv.len()));
    for (i, (&x, &t)) in xv.iter().zip(tv.iter()).enumerate() {
        let u = up.at(i);
        if log_target {
            let e = t.exp();
            gx.push(-(e * u));
            gt.push(e * (t - x + T::ONE) * u);
        } else {
            gx.push(-(t * u));
            // d/dt xlogy(t, t) = xlogy(t != 0, t) + t / t (PyTorch's rule: NaN at t = 0)
            let ln = if t == T::ZERO { T::ZERO } else { t.ln() };
            let t_over_t = if t != T::ZERO && t.is_finite() { T::ONE } else { T::nan() };
            gt.push((ln + t_over_t - x) * u);
        }
    }
    let shape = x.shape().clone();
    Ok((TensorData::from_vec_unchecked(gx, shape.clone()), TensorData::from_vec_unchecked(gt, shape)))
}

/// `functional::kl_div_with`.
pub(crate) fn kl_div(input: &Tensor, target: &Tensor, o: &KlDivOpts, at: Site) -> Result<Tensor> {
    const OP: &str = "kl_div";
    let (x0, t0) = (input.data(), target.data());
    let (x, t) = broadcast_pair(OP, &x0, &t0)?;
    let red = match o.reduction {
        Reduction::BatchMean => Reduced::Mean(x0.dims().first().map_or(1.0, |&n| n as f64)),
        Reduction::Mean => Reduced::Mean(x.numel() as f64),
        r => Reduced::new(OP, r, 1.0)?,
    };
    let check = warnings::wanted(Pitfall::KlDivNotLogProbabilities, at);
    let (out, positive) = with_float!(x.dtype(), OP, |T| {
        let (v, positive) = kl_forward::<T>(&x, &t, o.log_target, check)?;
        Ok((red.apply(v, x.shape().clone()), positive))
    })?;
    if o.reduction == Reduction::Mean {
        warnings::warn(Pitfall::KlDivMean, at, || {
            "kl_div: reduction Mean divides by the number of elements, which is not the KL divergence; use Reduction::BatchMean (sum / batch size) for the mathematical definition".to_string()
        });
    }
    if let Some(v) = positive {
        warnings::warn(Pitfall::KlDivNotLogProbabilities, at, || {
            format!("kl_div expects log-probabilities as input (values <= 0); got a positive value {v} in the input (shape {}). Did you pass probabilities? Use log_softmax / .log() on the input (the target stays probabilities unless log_target is set)", x0.shape())
        });
    }
    let shapes = (x0.shape().clone(), t0.shape().clone());
    Ok(record(out, "KlDivBackward0", &[input, target], || {
        Op::Loss(LossOp::KlDiv { x, t, log_target: o.log_target, red, shapes })
    }))
}

/// `functional::mse_loss_with`.
pub(crate) fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction, at: Site) -> Result<Tensor> {
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
        let (xv, tv) = (x.values::<T>()?, t.values::<T>()?);
        let v: Vec<T> = xv.iter().zip(tv.iter()).map(|(&a, &b)| (a - b) * (a - b)).collect();
        Ok(red.apply(v, x.shape().clone()))
    })?;
    let shapes = (x0.shape().clone(), t0.shape().clone());
    Ok(record(out, "MseLossBackward0", &[input, target], || Op::Loss(LossOp::Mse { x, t, red, shapes })))
}

// ----- cosine_embedding_loss (composed of differentiable ops, like PyTorch's) ---------------

/// `functional::cosine_embedding_loss_with`: `cos = sum(x1 x2) / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))`,
/// `l = 1 - cos` where y = 1, `max(0, cos - margin)` where y = -1, else 0. Gradients come from
/// the composed ops.
pub(crate) fn cosine_embedding_loss(
    x1: &Tensor,
    x2: &Tensor,
    y: &Tensor,
    o: &CosineEmbeddingOpts,
) -> Result<Tensor> {
    const OP: &str = "cosine_embedding_loss";
    let (a, b, yd) = (x1.data(), x2.data(), y.data());
    same_float(OP, "input2", &a, &b)?;
    let ok = match yd.ndim() {
        1 => a.ndim() == 2 && b.ndim() == 2 && a.dims()[0] == yd.dims()[0],
        0 => a.ndim() == 1 && b.ndim() == 1,
        _ => false,
    };
    if !ok || a.shape() != b.shape() {
        return Err(Error::shapes(OP, a.shape(), b.shape(), format!("do not fit target {}: expected inputs (N, D), (N, D) with target (N), or (D), (D) with a 0-D target (0D or 1D target tensor expected, multi-target not supported)", yd.shape())));
    }
    if yd.dtype() == DType::Bool {
        return Err(Error::dtype(
            OP,
            "a target of 1 / -1 values (i64 or float)",
            yd.dtype(),
            "; convert with .to_dtype(DType::I64)",
        ));
    }
    let red = Reduced::new(OP, o.reduction, 0.0)?;
    let dim = yd.ndim() as isize;
    let eps = 1e-12;
    let prod = x1.mul(x2)?.sum_dim(dim, false)?;
    let m1 = x1.mul(x1)?.sum_dim(dim, false)?.add_scalar(eps)?;
    let m2 = x2.mul(x2)?.sum_dim(dim, false)?.add_scalar(eps)?;
    let cos = prod.div(&m1.mul(&m2)?.sqrt()?)?;
    let yv = yd.to_dtype(a.dtype());
    let zeros = cos.zeros_like();
    let pos = Tensor::where_cond(&yv.eq_scalar(1.0)?, &cos.neg()?.add_scalar(1.0)?, &zeros)?;
    let neg = Tensor::where_cond(
        &yv.eq_scalar(-1.0)?,
        &cos.add_scalar(-o.margin)?.clamp(Some(0.0), None)?,
        &zeros,
    )?;
    let l = pos.add(&neg)?;
    match red {
        Reduced::None => Ok(l),
        Reduced::Sum => l.sum(),
        Reduced::Mean(_) => l.mean(),
    }
}
