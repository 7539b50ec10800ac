//! Normalisation: `layer_norm` (over each sample's trailing dims) and `batch_norm` (over the
//! batch, per channel). Both compute `xhat = (x - mean) * rstd` with `rstd = 1 / sqrt(var +
//! eps)` (the biased variance) over a group of `m` values, then `y = xhat * w + b`.
//!
//! The derivative through the statistics is the same for both: with `gw = g * w` summed over
//! the group,
//!
//! `dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))`, `dw = sum(g * xhat)`, `db = sum(g)`
//!
//! (the last two summed over everything a weight element touched). Each op is one fused
//! kernel for the statistics and the output, and one for the backward pass; `xhat` is
//! recomputed from the saved per-group mean and rstd rather than stored.
//!
//! In evaluation mode batch norm uses its running statistics, which are constants:
//! `dx = g * w * rstd`.

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::ops::wanted;
use crate::tensor::Tensor;
use smallvec::smallvec;
use torchlet_tensor_core::{with_float, Element, Error, Float, Numeric, Result, Shape, TensorData};

/// How a tensor splits into normalisation groups: element `(o, c, i)` of the `(outer, c,
/// inner)` view belongs to group `c` (batch norm: channels) or to group `o` with `c = inner =
/// 1`-style rows (layer norm uses `outer` rows of `m` contiguous values).
#[derive(Clone, Copy, Debug)]
struct Groups {
    outer: usize,
    channels: usize,
    inner: usize,
}

/// What the backward pass of either op keeps.
struct Norm<T> {
    x: TensorData,
    weight: Option<TensorData>,
    mean: Vec<T>,
    rstd: Vec<T>,
    /// `true`: layer norm (a group = a row of `channels * inner` values, the weight applies
    /// per position in the row); `false`: batch norm (a group = a channel).
    per_row: bool,
    groups: Groups,
    /// Batch norm in evaluation mode: the statistics are constants.
    fixed_stats: bool,
    has_bias: bool,
}

impl<T: Float> Norm<T> {
    /// The group of element `(o, c)` (rows `o` for layer norm, channels `c` for batch norm) and
    /// the index of its weight.
    #[inline]
    fn group_and_weight(&self, o: usize, c: usize, i: usize) -> (usize, usize) {
        if self.per_row {
            (o, c * self.groups.inner + i)
        } else {
            (c, c)
        }
    }
}

impl<T: Float> Norm<T> {
    /// The backward pass of layer norm (contiguous rows of `m` values), as slice loops.
    fn backward_rows(&self, xv: &[T], gv: &[T], w: Option<&[T]>, m: usize, needs: &[bool]) -> Result<Grads> {
        let (mut dw, mut db) = (vec![T::ZERO; m], vec![T::ZERO; m]);
        let mut dx = if needs[0] { vec![T::ZERO; xv.len()] } else { Vec::new() };
        let mut xhat = vec![T::ZERO; m];
        let mut gw = vec![T::ZERO; m];
        let inv_m = T::c(1.0 / m as f64);
        for (r, (x, g)) in xv.chunks_exact(m).zip(gv.chunks_exact(m)).enumerate() {
            let (mu, rs) = (self.mean[r], self.rstd[r]);
            xhat.iter_mut().zip(x).for_each(|(h, &x)| *h = (x - mu) * rs);
            match w {
                Some(w) => gw.iter_mut().zip(g).zip(w).for_each(|((o, &g), &w)| *o = g * w),
                None => gw.copy_from_slice(g),
            }
            dw.iter_mut().zip(g).zip(&xhat).for_each(|((d, &g), &h)| *d += g * h);
            db.iter_mut().zip(g).for_each(|(d, &g)| *d += g);
            if needs[0] {
                let s_gw = gw.iter().fold(T::ZERO, |a, &v| a + v) * inv_m;
                let s_gwx = gw.iter().zip(&xhat).fold(T::ZERO, |a, (&v, &h)| a + v * h) * inv_m;
                let out = &mut dx[r * m..(r + 1) * m];
                out.iter_mut()
                    .zip(&gw)
                    .zip(&xhat)
                    .for_each(|((d, &gw), &h)| *d = rs * (gw - s_gw - h * s_gwx));
            }
        }
        let gx = wanted(needs[0], || Ok(TensorData::from_vec_unchecked(dx, self.x.shape().clone())))?;
        self.with_affine_grads(gx, dw, db, m, needs)
    }

    /// The gradients in input order: `gx`, then `dw` and `db` for the affine parameters the
    /// op was given (`nw` elements each).
    fn with_affine_grads(
        &self,
        gx: Option<TensorData>,
        dw: Vec<T>,
        db: Vec<T>,
        nw: usize,
        needs: &[bool],
    ) -> Result<Grads> {
        let wshape = self.weight.as_ref().map_or_else(|| Shape::new(&[nw]), |w| w.shape().clone());
        let mut out: Grads = smallvec![gx];
        if self.weight.is_some() {
            out.push(wanted(needs[1], || Ok(TensorData::from_vec_unchecked(dw, wshape.clone())))?);
        }
        if self.has_bias {
            let k = out.len();
            out.push(wanted(needs[k], || Ok(TensorData::from_vec_unchecked(db, wshape)))?);
        }
        Ok(out)
    }
}

impl<T: Float> Backward for Norm<T> {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let Groups { outer, channels, inner } = self.groups;
        let xv = self.x.values::<T>()?;
        let g = g.try_contiguous()?;
        let gv = g.values::<T>()?;
        let w = self.weight.as_ref().map(|w| w.values::<T>()).transpose()?;
        if self.per_row && !self.fixed_stats && channels * inner > 0 {
            return self.backward_rows(&xv, &gv, w.as_deref(), channels * inner, needs);
        }
        let nw = if self.per_row { channels * inner } else { channels };
        let ngroups = self.mean.len();
        let m = T::c((xv.len() / ngroups.max(1)) as f64);
        // Per group: sum(gw) and sum(gw * xhat); per weight element: sum(g xhat), sum(g).
        let (mut s_gw, mut s_gwx) = (vec![T::ZERO; ngroups], vec![T::ZERO; ngroups]);
        let (mut dw, mut db) = (vec![T::ZERO; nw], vec![T::ZERO; nw]);
        let mut idx = 0;
        for o in 0..outer {
            for c in 0..channels {
                for i in 0..inner {
                    let (grp, wi) = self.group_and_weight(o, c, i);
                    let xhat = (xv[idx] - self.mean[grp]) * self.rstd[grp];
                    let gw = gv[idx] * w.as_ref().map_or(T::ONE, |w| w[wi]);
                    s_gw[grp] += gw;
                    s_gwx[grp] += gw * xhat;
                    dw[wi] += gv[idx] * xhat;
                    db[wi] += gv[idx];
                    idx += 1;
                }
            }
        }
        let gx = wanted(needs[0], || {
            let mut dx = Vec::with_capacity(xv.len());
            let mut idx = 0;
            for o in 0..outer {
                for c in 0..channels {
                    for i in 0..inner {
                        let (grp, wi) = self.group_and_weight(o, c, i);
                        let gw = gv[idx] * w.as_ref().map_or(T::ONE, |w| w[wi]);
                        dx.push(if self.fixed_stats {
                            gw * self.rstd[grp]
                        } else {
                            let xhat = (xv[idx] - self.mean[grp]) * self.rstd[grp];
                            self.rstd[grp] * (gw - s_gw[grp] / m - xhat * s_gwx[grp] / m)
                        });
                        idx += 1;
                    }
                }
            }
            Ok(TensorData::from_vec_unchecked(dx, self.x.shape().clone()))
        })?;
        self.with_affine_grads(gx, dw, db, nw, needs)
    }
}

/// Checks an optional affine parameter: float, of `x`'s dtype and of `shape`.
fn affine(
    op: &'static str,
    what: &str,
    p: Option<&Tensor>,
    x: &TensorData,
    shape: &Shape,
) -> Result<Option<TensorData>> {
    let Some(p) = p else { return Ok(None) };
    let d = p.data();
    if d.dtype() != x.dtype() {
        return Err(Error::dtype(op, format!("a {what} of the input's dtype {}", x.dtype()), d.dtype(), ""));
    }
    if d.shape() != shape {
        return Err(Error::shapes(op, d.shape(), shape, format!("mismatch: the {what} needs shape {shape}")));
    }
    Ok(Some(d.try_contiguous()?))
}

/// `y = xhat * w + b` and each group's mean, rstd and biased variance (the given statistics
/// when `stats` is `Some((mean, var))`).
#[allow(clippy::type_complexity)]
fn forward<T: Float>(
    x: &[T],
    groups: Groups,
    per_row: bool,
    stats: Option<(&[T], &[T])>,
    eps: f64,
    w: Option<&[T]>,
    b: Option<&[T]>,
) -> (Vec<T>, Vec<T>, Vec<T>, Vec<T>) {
    let Groups { outer, channels, inner } = groups;
    if per_row && stats.is_none() && channels * inner > 0 {
        return forward_rows(x, channels * inner, eps, w, b);
    }
    let ngroups = if per_row { outer } else { channels };
    let group_of = |o: usize, c: usize, i: usize| if per_row { (o, c * inner + i) } else { (c, c) };
    let (mean, rstd, var): (Vec<T>, Vec<T>, Vec<T>) = match stats {
        Some((mean, var)) => {
            (mean.to_vec(), var.iter().map(|&v| T::ONE / (v + T::c(eps)).sqrt()).collect(), var.to_vec())
        }
        None => {
            // Two passes (mean, then the centred sum of squares) in f64, for accuracy.
            let (mut sum, mut count) = (vec![0.0f64; ngroups], vec![0usize; ngroups]);
            let mut idx = 0;
            for o in 0..outer {
                for c in 0..channels {
                    for i in 0..inner {
                        let (grp, _) = group_of(o, c, i);
                        sum[grp] += Element::to_f64(x[idx]);
                        count[grp] += 1;
                        idx += 1;
                    }
                }
            }
            let mean: Vec<f64> = sum.iter().zip(&count).map(|(s, &n)| s / n as f64).collect();
            let mut sq = vec![0.0f64; ngroups];
            let mut idx = 0;
            for o in 0..outer {
                for c in 0..channels {
                    for i in 0..inner {
                        let (grp, _) = group_of(o, c, i);
                        let d = Element::to_f64(x[idx]) - mean[grp];
                        sq[grp] += d * d;
                        idx += 1;
                    }
                }
            }
            let var: Vec<f64> = sq.iter().zip(&count).map(|(s, &n)| s / n as f64).collect();
            let rstd = var.iter().map(|v| T::c(1.0 / (v + eps).sqrt())).collect();
            (mean.into_iter().map(T::c).collect(), rstd, var.into_iter().map(T::c).collect())
        }
    };
    let mut y = Vec::with_capacity(x.len());
    let mut idx = 0;
    for o in 0..outer {
        for c in 0..channels {
            for i in 0..inner {
                let (grp, wi) = group_of(o, c, i);
                let mut v = (x[idx] - mean[grp]) * rstd[grp];
                if let Some(w) = w {
                    v *= w[wi];
                }
                if let Some(b) = b {
                    v += b[wi];
                }
                y.push(v);
                idx += 1;
            }
        }
    }
    (y, mean, rstd, var)
}

/// [`forward`] for layer norm, where each group is a contiguous row of `m` values: slice loops
/// the compiler vectorises (the statistics still accumulate in f64).
#[allow(clippy::type_complexity)]
fn forward_rows<T: Float>(
    x: &[T],
    m: usize,
    eps: f64,
    w: Option<&[T]>,
    b: Option<&[T]>,
) -> (Vec<T>, Vec<T>, Vec<T>, Vec<T>) {
    let rows = x.len().checked_div(m).unwrap_or(0);
    let (mut mean, mut rstd, mut var) =
        (Vec::with_capacity(rows), Vec::with_capacity(rows), Vec::with_capacity(rows));
    let mut y = vec![T::ZERO; x.len()];
    for (row, out) in x.chunks_exact(m).zip(y.chunks_exact_mut(m)) {
        let mu = row.iter().map(|&v| Element::to_f64(v)).sum::<f64>() / m as f64;
        let v = row.iter().map(|&v| (Element::to_f64(v) - mu).powi(2)).sum::<f64>() / m as f64;
        let (mu_t, r_t) = (T::c(mu), T::c(1.0 / (v + eps).sqrt()));
        out.iter_mut().zip(row).for_each(|(o, &xv)| *o = (xv - mu_t) * r_t);
        if let Some(w) = w {
            out.iter_mut().zip(w).for_each(|(o, &w)| *o *= w);
        }
        if let Some(b) = b {
            out.iter_mut().zip(b).for_each(|(o, &b)| *o += b);
        }
        mean.push(mu_t);
        rstd.push(r_t);
        var.push(T::c(v));
    }
    (y, mean, rstd, var)
}

/// The options of [`Tensor::batch_norm`] (`F.batch_norm`'s keyword arguments).
#[derive(Clone, Copy, Debug)]
pub struct BatchNormOpts {
    /// Batch statistics (and running-statistic updates) when true; running statistics when
    /// false. Default false, as `F.batch_norm`.
    pub training: bool,
    /// The running statistics' update factor: `running = (1 - momentum) running + momentum
    /// stat`. Default 0.1. (`BatchNorm1d` with `momentum = None` passes the cumulative
    /// average's `1 / num_batches_tracked` here.)
    pub momentum: f64,
    /// Added to the variance. Default 1e-5.
    pub eps: f64,
}

impl Default for BatchNormOpts {
    fn default() -> Self {
        BatchNormOpts { training: false, momentum: 0.1, eps: 1e-5 }
    }
}

impl Tensor {
    /// `F.layer_norm(x, normalized_shape, weight, bias, eps)`: each group of the trailing
    /// `normalized_shape` dims is normalised to mean 0 and (biased) variance 1, then scaled by
    /// `weight` and shifted by `bias` (both of `normalized_shape`). Derivative in the module
    /// docs.
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        const OP: &str = "layer_norm";
        let x = self.data();
        if !x.dtype().is_float() {
            return Err(Error::need_float(OP, x.dtype()));
        }
        let k = normalized_shape.len();
        let norm = Shape::new(normalized_shape);
        if k == 0 || x.ndim() < k || x.dims()[x.ndim() - k..] != *normalized_shape {
            return Err(Error::shapes(OP, x.shape(), &norm, "mismatch: normalized_shape (the second) must equal the input's trailing dims (Given normalized_shape, expected input with shape [*, normalized_shape])"));
        }
        let (w, b) = (affine(OP, "weight", weight, &x, &norm)?, affine(OP, "bias", bias, &x, &norm)?);
        let m = norm.numel();
        let groups = Groups { outer: x.numel().checked_div(m).unwrap_or(0), channels: m, inner: 1 };
        let xc = x.try_contiguous()?;
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        with_float!(x.dtype(), OP, |T| {
            let wv = w.as_ref().map(|w| w.values::<T>()).transpose()?;
            let bv = b.as_ref().map(|b| b.values::<T>()).transpose()?;
            let (y, mean, rstd, _) =
                forward::<T>(&xc.values::<T>()?, groups, true, None, eps, wv.as_deref(), bv.as_deref());
            let out = TensorData::from_vec_unchecked(y, x.shape().clone());
            let has_bias = b.is_some();
            let rule =
                || Norm { x: xc, weight: w, mean, rstd, per_row: true, groups, fixed_stats: false, has_bias };
            Ok(record(out, "NativeLayerNormBackward0", &inputs, rule))
        })
    }

    /// `F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)` for
    /// `x` of shape `(N, C)`, `(N, C, L)` or `(N, C, H, W)`: each channel is normalised over
    /// the batch (and spatial dims). In training the batch statistics are used (biased
    /// variance) and the running statistics, when given, are updated in place with the
    /// unbiased variance: `running = (1 - momentum) running + momentum stat`; otherwise the
    /// running statistics are used. Derivative in the module docs.
    pub fn batch_norm(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        opts: BatchNormOpts,
    ) -> Result<Tensor> {
        const OP: &str = "batch_norm";
        let x = self.data();
        if !x.dtype().is_float() {
            return Err(Error::need_float(OP, x.dtype()));
        }
        if x.ndim() < 2 {
            return Err(Error::invalid(
                OP,
                format!("expected a (N, C) or (N, C, *) input, got shape {}", x.shape()),
            ));
        }
        let (n, c) = (x.dims()[0], x.dims()[1]);
        let inner: usize = x.dims()[2..].iter().product();
        let per_channel = Shape::new(&[c]);
        let (w, b) =
            (affine(OP, "weight", weight, &x, &per_channel)?, affine(OP, "bias", bias, &x, &per_channel)?);
        let rm = affine(OP, "running_mean", running_mean, &x, &per_channel)?;
        let rv = affine(OP, "running_var", running_var, &x, &per_channel)?;
        if opts.training && n * inner <= 1 {
            return Err(Error::invalid(OP, format!("Expected more than 1 value per channel when training, got input size {} (use eval mode for a single sample, or a larger batch)", x.shape())));
        }
        if !opts.training && (rm.is_none() || rv.is_none()) {
            return Err(Error::invalid(OP, "evaluation mode needs running_mean and running_var (or pass training = true to use batch statistics)"));
        }
        let groups = Groups { outer: n, channels: c, inner };
        let xc = x.try_contiguous()?;
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        with_float!(x.dtype(), OP, |T| {
            let wv = w.as_ref().map(|w| w.values::<T>()).transpose()?;
            let bv = b.as_ref().map(|b| b.values::<T>()).transpose()?;
            let (rmv, rvv) = (
                rm.as_ref().map(|r| r.values::<T>()).transpose()?,
                rv.as_ref().map(|r| r.values::<T>()).transpose()?,
            );
            let stats = if opts.training { None } else { rmv.as_deref().zip(rvv.as_deref()) };
            let (y, mean, rstd, var) = forward::<T>(
                &xc.values::<T>()?,
                groups,
                false,
                stats,
                opts.eps,
                wv.as_deref(),
                bv.as_deref(),
            );
            if opts.training {
                // running = (1 - m) running + m stat, with the unbiased variance.
                let mom = T::c(opts.momentum);
                let count = T::c((n * inner) as f64);
                if let (Some(t), Some(r)) = (running_mean, &rmv) {
                    let new: Vec<T> =
                        r.iter().zip(&mean).map(|(&r, &m)| (T::ONE - mom) * r + mom * m).collect();
                    t.update_data(|d| *d = TensorData::from_vec_unchecked(new, per_channel.clone()));
                }
                if let (Some(t), Some(r)) = (running_var, &rvv) {
                    let new: Vec<T> = r
                        .iter()
                        .zip(&var)
                        .map(|(&r, &v)| (T::ONE - mom) * r + mom * v * count / (count - T::ONE))
                        .collect();
                    t.update_data(|d| *d = TensorData::from_vec_unchecked(new, per_channel.clone()));
                }
            }
            let out = TensorData::from_vec_unchecked(y, x.shape().clone());
            let has_bias = b.is_some();
            let fixed_stats = !opts.training;
            let rule =
                || Norm { x: xc, weight: w, mean, rstd, per_row: false, groups, fixed_stats, has_bias };
            Ok(record(out, "NativeBatchNormBackward0", &inputs, rule))
        })
    }
}

/// An affine parameter of `shape` (positive, so the gradient check sees its effect), or none.
fn maybe(s: &mut Sampler, shape: &[usize]) -> Option<TensorData> {
    s.flag().then(|| s.positive(shape))
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        OpInfo::new("layer_norm", |s| {
            let (n, m) = (s.size(3), s.size(4));
            let (w, b) = (maybe(s, &[m]), maybe(s, &[m]));
            let mut inputs = vec![s.float(&[n, 2, m])];
            let (hw, hb) = (w.is_some(), b.is_some());
            inputs.extend(w);
            inputs.extend(b);
            Case::new(inputs, move |t| {
                let w = hw.then(|| &t[1]);
                let b = hb.then(|| &t[1 + hw as usize]);
                t[0].layer_norm(&[m], w, b, 1e-5)
            })
        }),
        OpInfo::new("batch_norm", |s| {
            let (n, c, l) = (s.size(4).max(2), s.size(3), s.size(2));
            let (w, b) = (maybe(s, &[c]), maybe(s, &[c]));
            let training = s.flag();
            let x_shape = if s.flag() { vec![n, c] } else { vec![n, c, l] };
            let (rm, rv) = (Tensor::from_data(s.float(&[c])), Tensor::from_data(s.positive(&[c])));
            let mut inputs = vec![s.float(&x_shape)];
            let (hw, hb) = (w.is_some(), b.is_some());
            inputs.extend(w);
            inputs.extend(b);
            Case::new(inputs, move |t| {
                let w = hw.then(|| &t[1]);
                let b = hb.then(|| &t[1 + hw as usize]);
                // Fresh copies of the running statistics: the call updates them in training.
                let (rm, rv) = (rm.detach().data().contiguous_copy(), rv.detach().data().contiguous_copy());
                let (rm, rv) = (Tensor::from_data(rm), Tensor::from_data(rv));
                t[0].batch_norm(Some(&rm), Some(&rv), w, b, BatchNormOpts { training, ..Default::default() })
            })
        }),
    ]
}
