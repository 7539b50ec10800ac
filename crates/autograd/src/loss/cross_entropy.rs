//! `cross_entropy`: log_softmax and the negative log-likelihood fused into one pass per row,
//! for class-index or class-probability targets, with class weights, `ignore_index` and
//! label smoothing.
//!
//! With `lp = log_softmax(x)` over the class dim and per-class target mass `mass_c` (the
//! weight of `-lp_c` in the row's loss, `M` their sum), each row's loss is
//! `l = -sum_c mass_c lp_c`, and since `d lp_c / dx_j = [c = j] - softmax_j`:
//!
//! `dl/dx_j = softmax(x)_j M - mass_j`, and for probability targets also
//! `dl/dt_c = -w_c (1 - ls) lp_c`.
//!
//! The forward pass saves two numbers per row (the max and `ln sum exp(x - max)`,
//! [`RowStats`]) and backward recomputes softmax from them: no `(N, C)` tensor is kept.

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::loss::class::{check_ignore_and_range, class_layout, class_weight, no_class_dim, ClassLayout};
use crate::loss::{any_reduction, same_float, Reduced, Reduction, Site, Upstream};
use crate::tensor::Tensor;
use crate::warnings::{self, Pitfall};
use smallvec::smallvec;
use std::borrow::Cow;
use std::panic::Location;
use torchlet_tensor_core::vmath::{self, ClassTargets, RowStats};
use torchlet_tensor_core::{with_float, DType, Element, Error, Float, Result, Shape, TensorData};

/// Options of [`cross_entropy_with`] (PyTorch's defaults via `Default`).
#[derive(Clone, Debug)]
pub struct CrossEntropyOpts {
    /// Per-class rescaling weights of shape `(C)`.
    pub weight: Option<Tensor>,
    /// Targets equal to this are ignored (class-index targets only). Default -100.
    pub ignore_index: i64,
    /// Default `Mean`.
    pub reduction: Reduction,
    /// In `[0, 1]`; mixes the target with the uniform distribution. Default 0.
    pub label_smoothing: f64,
}

impl Default for CrossEntropyOpts {
    fn default() -> Self {
        CrossEntropyOpts {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

impl CrossEntropyOpts {
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
    /// Sets label smoothing.
    pub fn label_smoothing(mut self, ls: f64) -> Self {
        self.label_smoothing = ls;
        self
    }
}

/// `cross_entropy(input, target)` with PyTorch's defaults: see [`cross_entropy_with`].
#[track_caller]
pub fn cross_entropy(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    cross_entropy_with(input, target, &CrossEntropyOpts::default())
}

/// Cross-entropy between logits `input` and class-index (i64) or probability (float, same
/// shape) targets; forward and backward are fused.
///
/// With `lp = log_softmax(x)` over the class dim (0 for a 1-D input, else 1):
/// - **probability targets** (float, `input`'s shape): `t' = t (1 - ls) + ls / C`,
///   `l = -sum_c w_c t'_c lp_c` per sample; `mean` divides by the number of samples.
/// - **class indices** (i64, `()`, `(N)` or `(N, d1..dk)`): `l = (1 - ls) (-w_t lp_t) +
///   (ls / C) (-sum_c w_c lp_c)`, 0 where `t == ignore_index`; `mean` divides by the sum of
///   `w_t` over non-ignored targets (NaN when all are ignored).
///
/// Derivative: `dl/dx_c = softmax(x)_c * sum(mass) - mass_c` with `mass` the per-class weight
/// of `-lp` in `l`; for probability targets also `dl/dt_c = -w_c (1 - ls) lp_c`. The forward is
/// one pass per row (max, sum of exps, the target's term); backward recomputes softmax from
/// the saved per-row max and log-sum-exp.
///
/// Errors: targets out of `[0, C)` (`Target 4 is out of bounds.`), batch or spatial shape
/// mismatches, a weight not of length C, label_smoothing outside `[0, 1]`, ignore_index >= 0
/// with probability targets, `BatchMean`, integer targets of the input's shape or float
/// targets of another shape.
///
/// Warns ([`crate::warnings`], once per call site by default) when the input looks like
/// probabilities instead of logits: every value in `[0, 1]` with every row summing to 1
/// (softmax output), or every value strictly in `(0, 1)` (sigmoid output).
#[track_caller]
pub fn cross_entropy_with(input: &Tensor, target: &Tensor, opts: &CrossEntropyOpts) -> Result<Tensor> {
    forward(input, target, opts, Location::caller())
}

/// The targets of a cross-entropy: class indices, or class probabilities (as rows of C).
enum Target {
    Index(TensorData),
    Prob(TensorData),
}

/// What the backward rule needs: the logits as rows, the targets, the options, and the row
/// statistics.
struct CrossEntropy<T: Element> {
    x: TensorData,
    target: Target,
    weight: Option<TensorData>,
    ignore_index: i64,
    ls: f64,
    stats: RowStats<T>,
    red: Reduced,
    layout: ClassLayout,
}

/// Forward of cross_entropy on `(rows, C)` logits: per-row losses, the row statistics, and
/// the `mean` divisor.
fn forward_rows<T: Float>(
    x: &TensorData,
    target: &Target,
    w: Option<&TensorData>,
    ignore: i64,
    ls: f64,
    lay: &ClassLayout,
) -> Result<(Vec<T>, RowStats<T>, f64)> {
    let c = lay.c;
    let xv = x.values::<T>()?;
    let w = w.map(|w| w.values::<T>()).transpose()?;
    let (ls_t, keep) = (T::c(ls / c as f64), T::c(1.0 - ls));
    let mut losses = torchlet_tensor_core::pool::filled(lay.rows(), T::ZERO);
    let stats = RowStats::of(&xv, c);
    let mut denom = 0.0f64;
    match target {
        Target::Index(t) => {
            let tv = t.values::<i64>()?;
            if c == 0 {
                // No rows to walk, but the targets must still be checked: with no classes every
                // target is out of bounds unless ignored (PyTorch: "Target 0 is out of bounds.").
                for &k in tv.iter() {
                    check_ignore_and_range("cross_entropy", k, c, ignore, &lay.shape)?;
                }
            } else if ls == 0.0 {
                // Common case: nll = -w_t lp_t per row in one parallel pass that also checks
                // the targets; the mean's divisor counts (or weighs) the rows in row order.
                let targets =
                    ClassTargets { targets: &tv, ignore_index: ignore, weight: w.as_deref().unwrap_or(&[]) };
                if let Err(r) = vmath::nll_rows(&xv, c, &stats, &targets, &mut losses) {
                    check_ignore_and_range("cross_entropy", tv[r], c, ignore, &lay.shape)?;
                }
                let kept = tv.iter().filter(|&&k| k != ignore);
                denom = match &w {
                    None => kept.count() as f64,
                    Some(w) => kept.fold(0.0, |d, &k| d + Element::to_f64(w[k as usize])),
                };
            } else {
                for (r, row) in xv.chunks_exact(c).enumerate() {
                    let Some(k) = check_ignore_and_range("cross_entropy", tv[r], c, ignore, &lay.shape)?
                    else {
                        continue;
                    };
                    let (m, lse) = (stats.max[r], stats.lse[r]);
                    let wt = w.as_ref().map_or(T::ONE, |w| w[k]);
                    // nll = -w_t lp_t;  smooth = -sum_c w_c lp_c;  l = (1 - ls) nll + (ls / C) smooth
                    let nll = -(wt * ((row[k] - m) - lse));
                    let smooth: T = match &w {
                        Some(w) => row.iter().zip(w.iter()).map(|(&x, &wc)| -(wc * ((x - m) - lse))).sum(),
                        None => row.iter().map(|&x| -((x - m) - lse)).sum(),
                    };
                    losses[r] = keep * nll + ls_t * smooth;
                    denom += Element::to_f64(wt);
                }
            }
        }
        Target::Prob(t) => {
            let tv = t.values::<T>()?;
            for (r, (row, trow)) in xv.chunks_exact(c.max(1)).zip(tv.chunks_exact(c.max(1))).enumerate() {
                let (m, lse) = (stats.max[r], stats.lse[r]);
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
    Ok((losses, stats, denom))
}

impl<T: Float> Backward for CrossEntropy<T> {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let (gx, gt) = self.backward_rows(g, needs.get(1).copied().unwrap_or(false))?;
        let gx = self.layout.rows_to_input(gx)?;
        let gt = gt.map(|gt| self.layout.rows_to_input(gt)).transpose()?;
        Ok(smallvec![Some(gx), gt])
    }
}

impl<T: Float> CrossEntropy<T> {
    /// Row gradients: `u_r (softmax(x_r) M_r - mass_r)` with `mass_r` the target mass of the
    /// row (`M_r` its sum), plus (when wanted) the probability-target gradient
    /// `-u_r w_c (1 - ls) lp_c`.
    fn backward_rows(&self, g: &TensorData, want_t: bool) -> Result<(TensorData, Option<TensorData>)> {
        let c = self.layout.c;
        let xv = self.x.values::<T>()?;
        let (max, lse) = (&self.stats.max, &self.stats.lse);
        let w = self.weight.as_ref().map(|w| w.values::<T>()).transpose()?;
        let up = Upstream::<T>::new(g, self.red)?;
        let (ls_t, keep) = (T::c(self.ls / c as f64), T::c(1.0 - self.ls));
        let shape = Shape::new(&[self.layout.rows(), c]);
        match &self.target {
            Target::Index(t) => {
                let tv = t.values::<i64>()?;
                if self.ls == 0.0 {
                    // Common case, one fused pass: g_rj = u_r w_t (softmax_j - [j = t_r]).
                    let uv: Cow<[T]> = match &up {
                        Upstream::Each(v) => Cow::Borrowed(&v[..]),
                        Upstream::All(u) => Cow::Owned(vec![*u]),
                    };
                    let targets = ClassTargets {
                        targets: &tv,
                        ignore_index: self.ignore_index,
                        weight: w.as_deref().unwrap_or(&[]),
                    };
                    let gx = vmath::ce_grad_index(&xv, c, &self.stats, &targets, &uv);
                    return Ok((TensorData::from_vec_unchecked(gx, shape), None));
                }
                let mut gx = vec![T::ZERO; xv.len()];
                let w_all: T = w.as_ref().map_or(T::c(c as f64), |w| w.iter().copied().sum());
                // softmax of every row in one vectorised pass, from the saved statistics.
                vmath::softmax_from_stats(&xv, c, &self.stats, &mut gx);
                for (r, grow) in gx.chunks_exact_mut(c.max(1)).enumerate() {
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
                    grow.iter_mut().for_each(|gj| *gj *= um);
                    match &w {
                        Some(w) => grow.iter_mut().zip(w.iter()).for_each(|(gj, &wj)| *gj -= u * ls_t * wj),
                        None => grow.iter_mut().for_each(|gj| *gj -= u * ls_t),
                    }
                    grow[k] -= u * keep * wt;
                }
                Ok((TensorData::from_vec_unchecked(gx, shape), None))
            }
            Target::Prob(t) => {
                let tv = t.values::<T>()?;
                let mut gt = if want_t { vec![T::ZERO; xv.len()] } else { Vec::new() };
                let mut gx = vec![T::ZERO; xv.len()];
                let rows = xv
                    .chunks_exact(c.max(1))
                    .zip(gx.chunks_exact_mut(c.max(1)))
                    .zip(tv.chunks_exact(c.max(1)));
                for (r, ((row, grow), trow)) in rows.enumerate() {
                    let (m, lse, u) = (max[r], lse[r], up.at(r));
                    let wc = |j: usize| w.as_ref().map_or(T::ONE, |w| w[j]);
                    let mass = |j: usize| wc(j) * if self.ls > 0.0 { trow[j] * keep + ls_t } else { trow[j] };
                    let big_m: T = (0..c).map(mass).sum();
                    for j in 0..c {
                        let lp = (row[j] - m) - lse;
                        grow[j] = u * (lp.exp() * big_m - mass(j));
                        if want_t {
                            gt[r * c + j] = -(u * wc(j) * keep * lp);
                        }
                    }
                }
                let gt = want_t.then(|| TensorData::from_vec_unchecked(gt, shape.clone()));
                Ok((TensorData::from_vec_unchecked(gx, shape), gt))
            }
        }
    }
}

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
    Some(if sums_to_one { LooksLike::Softmax } else { LooksLike::Sigmoid })
}

/// Checks the arguments, returning the class layout.
fn check(x: &TensorData, t: &TensorData, o: &CrossEntropyOpts) -> Result<ClassLayout> {
    const OP: &str = "cross_entropy";
    if !x.dtype().is_float() {
        return Err(Error::need_float(OP, x.dtype()));
    }
    if !(0.0..=1.0).contains(&o.label_smoothing) {
        return Err(Error::invalid(OP, format!("label_smoothing must be between 0.0 and 1.0. Got: {} (it is the probability mass spread uniformly over the classes)", o.label_smoothing)));
    }
    if x.ndim() == 0 {
        return Err(no_class_dim(OP, x.shape()));
    }
    if t.dtype().is_float() {
        if t.shape() != x.shape() && class_layout(OP, x.shape(), t.shape()).is_ok() {
            return Err(Error::dtype(OP, format!("class indices as an i64 tensor, since the target has the shape {} of class-index targets", t.shape()), t.dtype(), "; expected scalar type Long (convert with .to_dtype(DType::I64)); float targets are class probabilities and need the input's shape"));
        }
        if t.shape() != x.shape() {
            return Err(Error::shapes(OP, x.shape(), t.shape(), "do not fit: float targets are class probabilities and need the input's shape; for class indices pass an i64 target of shape (N) (0D or 1D target tensor expected, multi-target not supported)"));
        }
        if o.ignore_index >= 0 {
            return Err(Error::invalid(OP, format!("ignore_index is not supported for floating point target (got ignore_index {} with class-probability targets); leave it at the default -100", o.ignore_index)));
        }
        same_float(OP, "probability targets", x, t)?;
        // Probability targets have the input's shape; the "target shape" of the layout is the
        // input without its class dimension.
        let mut pos = x.shape().0.clone();
        pos.remove(if pos.len() == 1 { 0 } else { 1 });
        return class_layout(OP, x.shape(), &Shape(pos));
    }
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
    class_layout(OP, x.shape(), t.shape())
}

/// [`cross_entropy_with`]: validation, fused forward, recording.
fn forward(input: &Tensor, target: &Tensor, o: &CrossEntropyOpts, at: Site) -> Result<Tensor> {
    const OP: &str = "cross_entropy";
    let (x, t) = (input.data(), target.data());
    let lay = check(&x, &t, o)?;
    let prob = t.dtype().is_float();
    let w = class_weight(OP, o.weight.as_ref(), &x, lay.c)?;
    let rows = lay.to_rows(&x)?;
    let tgt = if prob { Target::Prob(lay.to_rows(&t)?) } else { Target::Index(t.contiguous()) };
    let check = warnings::wanted(Pitfall::CrossEntropyProbabilities, at);
    // PyTorch's grad_fn of the last op of its composite.
    let name = match (prob, o.label_smoothing > 0.0, o.reduction) {
        (false, false, _) => "NllLossBackward0",
        (false, true, _) => "AddBackward0",
        (true, _, Reduction::Mean) => "DivBackward0",
        (true, _, _) => "NegBackward0",
    };
    let (out, probs) = with_float!(x.dtype(), OP, |T| {
        let (losses, stats, denom) =
            forward_rows::<T>(&rows, &tgt, w.as_ref(), o.ignore_index, o.label_smoothing, &lay)?;
        let red = Reduced::new(OP, o.reduction, denom)?;
        let probs = if check { looks_like_probabilities::<T>(&rows.values::<T>()?, lay.c) } else { None };
        let out = red.apply(losses, lay.position_shape());
        let rule = CrossEntropy {
            x: rows,
            target: tgt,
            weight: w,
            ignore_index: o.ignore_index,
            ls: o.label_smoothing,
            stats,
            red,
            layout: lay,
        };
        Ok((record(out, name, &[input, target], || rule), probs))
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
    Ok(out)
}

/// When fuzzing, label smoothing anywhere in [-0.5, 1.5] (outside [0, 1] is an error).
fn fuzz_smoothing(s: &mut Sampler, ls: f64) -> f64 {
    if s.mode() == crate::catalog::Mode::Fuzz {
        s.scalar(-0.5, 1.5)
    } else {
        ls
    }
}

/// Class-index targets for `(n, c)`-shaped scores (one in three ignored when `ignore`).
fn index_targets(s: &mut Sampler, shape: &[usize], c: usize, ignore: Option<i64>) -> TensorData {
    let t = s.index(shape, c);
    match (ignore, t.to_vec::<i64>()) {
        (Some(ig), Ok(mut v)) if !v.is_empty() => {
            // keep the first target (not ignored), so `mean` has a non-zero divisor
            if v[0] == ig {
                v[0] = (ig + 1) % c.max(1) as i64;
            }
            v.iter_mut().skip(1).step_by(3).for_each(|k| *k = ig);
            TensorData::from_vec(v, t.shape().clone()).expect("same length")
        }
        _ => t,
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        // Class indices, in the three layouts (C)/(), (N, C)/(N), (N, C, d1, d2)/(N, d1, d2),
        // with random options.
        OpInfo::new("cross_entropy", |s| {
            let (n, c) = (s.size(4), s.size(3).max(1));
            let (xs, ts) =
                s.pick(&[(vec![c], vec![]), (vec![n, c], vec![n]), (vec![2, c, 2, 3], vec![2, 2, 3])]);
            let ignore = s.pick(&[None, Some(1)]);
            let weight = s.flag().then(|| s.positive(&[c]));
            let opts = CrossEntropyOpts {
                weight: weight.map(Tensor::from_data),
                ignore_index: ignore.unwrap_or(-100),
                reduction: any_reduction(s),
                label_smoothing: s.pick(&[0.0, 0.2]),
            };
            let opts = CrossEntropyOpts { label_smoothing: fuzz_smoothing(s, opts.label_smoothing), ..opts };
            let (x, t) = (s.float(&xs), index_targets(s, &ts, c, ignore));
            Case::new([x, t], move |a| cross_entropy_with(&a[0], &a[1], &opts))
        }),
        OpInfo::new("cross_entropy_probs", |s| {
            let (n, c) = (s.size(3), s.size(4));
            let shape = s.pick(&[vec![c], vec![n, c], vec![2, n, 3]]);
            let weight = s.flag().then(|| s.positive(&[shape[shape.len().min(2) - 1]]));
            let opts = CrossEntropyOpts {
                weight: weight.map(Tensor::from_data),
                reduction: any_reduction(s),
                label_smoothing: s.pick(&[0.0, 0.3]),
                ..Default::default()
            };
            let (x, t) = (s.float(&shape), s.unit(&shape));
            Case::new([x, t], move |a| cross_entropy_with(&a[0], &a[1], &opts))
        }),
    ]
}
