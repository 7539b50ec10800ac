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
use torchlet_tensor_core::norm::{self, ChannelLayout};
use torchlet_tensor_core::{pool, with_float, Element, Error, Float, Numeric, Result, Shape, TensorData};

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
        const OP: &str = "norm_backward";
        let Groups { outer, channels, inner } = self.groups;
        let xv = self.x.values::<T>()?;
        let g = g.try_contiguous()?;
        let gv = g.values::<T>()?;
        let w = self.weight.as_ref().map(|w| w.values::<T>()).transpose()?;
        let nw = if self.per_row { channels * inner } else { channels };
        let (mut dw, mut db) = (vec![T::ZERO; nw], vec![T::ZERO; nw]);
        let mut dx = if needs[0] { pool::try_overwritable::<T>(OP, self.x.shape())? } else { Vec::new() };
        if xv.is_empty() {
            // Nothing flows back (an empty batch or empty rows): zero gradients.
        } else if self.per_row {
            let d = needs[0].then_some(&mut dx[..]);
            norm::rows_backward(&xv, &gv, nw, &self.mean, &self.rstd, w.as_deref(), d, &mut dw, &mut db);
        } else {
            // Per channel c, with s_g = sum(g), s_gx = sum(g (x - mean)) and n values:
            // dw = rstd s_gx, db = s_g, and dx = rstd w (g - s_g/n - (x - mean) rstd^2 s_gx/n)
            // (just g w rstd with fixed statistics), written as g P + x R + Q.
            let l = ChannelLayout { outer, channels, inner };
            let mean: Vec<f64> = self.mean.iter().map(|&m| Element::to_f64(m)).collect();
            let (s_g, s_gx) = norm::channel_grad_sums(&xv, &gv, &mean, l);
            let n = l.per_channel() as f64;
            let (mut p, mut r, mut q) =
                (vec![T::ZERO; channels], vec![T::ZERO; channels], vec![T::ZERO; channels]);
            for c in 0..channels {
                let (rs, wc) = (self.rstd[c].to_f64(), w.as_ref().map_or(1.0, |w| w[c].to_f64()));
                dw[c] = T::c(rs * s_gx[c]);
                db[c] = T::c(s_g[c]);
                let k = if self.fixed_stats { 0.0 } else { rs * rs * s_gx[c] / n };
                let mg = if self.fixed_stats { 0.0 } else { s_g[c] / n };
                p[c] = T::c(rs * wc);
                r[c] = T::c(-rs * wc * k);
                q[c] = T::c(rs * wc * (mean[c] * k - mg));
            }
            if needs[0] {
                let xs = (!self.fixed_stats).then_some((&xv[..], &r[..]));
                norm::channel_affine(l, &gv, &p, xs, &q, &mut dx);
            }
        }
        let gx = wanted(needs[0], || Ok(TensorData::from_vec_unchecked(dx, self.x.shape().clone())))?;
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

/// Batch norm's output `y = xhat * w + b` (computed as `x * scale + shift` per channel, with
/// `scale = rstd * w`, `shift = b - mean * scale`, as PyTorch's CPU kernel does) and each
/// channel's mean, rstd and biased variance: the batch's (from
/// [`norm::channel_moments`]), or the given `stats = (mean, var)`.
#[allow(clippy::type_complexity)]
fn forward_channels<T: Float>(
    x: &[T],
    l: ChannelLayout,
    stats: Option<(&[T], &[T])>,
    eps: f64,
    w: Option<&[T]>,
    b: Option<&[T]>,
    shape: &Shape,
) -> Result<(Vec<T>, Vec<T>, Vec<T>, Vec<T>)> {
    let (mean, var): (Vec<f64>, Vec<f64>) = match stats {
        Some((m, v)) => {
            (m.iter().map(|&m| Element::to_f64(m)).collect(), v.iter().map(|&v| Element::to_f64(v)).collect())
        }
        None if x.is_empty() => (vec![f64::NAN; l.channels], vec![f64::NAN; l.channels]),
        None => norm::channel_moments(x, l),
    };
    let rstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let scale: Vec<T> = (0..l.channels).map(|c| T::c(rstd[c] * w.map_or(1.0, |w| w[c].to_f64()))).collect();
    let shift: Vec<T> = (0..l.channels)
        .map(|c| T::c(b.map_or(0.0, |b| b[c].to_f64()) - mean[c] * scale[c].to_f64()))
        .collect();
    let mut y = pool::try_overwritable::<T>("batch_norm", shape)?;
    norm::channel_affine(l, x, &scale, None, &shift, &mut y);
    let back = |v: Vec<f64>| v.into_iter().map(T::c).collect::<Vec<T>>();
    Ok((y, back(mean), back(rstd), back(var)))
}

/// Layer norm's output and each row's mean, rstd and biased variance ([`norm::rows_forward`]).
#[allow(clippy::type_complexity)]
fn forward_rows<T: Float>(
    x: &[T],
    m: usize,
    eps: f64,
    w: Option<&[T]>,
    b: Option<&[T]>,
    shape: &Shape,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    let rows = x.len().checked_div(m).unwrap_or(0);
    let mut y = pool::try_overwritable::<T>("layer_norm", shape)?;
    let (mut mean, mut rstd, mut var) = (vec![T::ZERO; rows], vec![T::ZERO; rows], vec![T::ZERO; rows]);
    if m > 0 {
        norm::rows_forward(x, m, eps, w, b, &mut y, &mut mean, &mut rstd, &mut var);
    }
    Ok((y, mean, rstd))
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
        let mut inputs: smallvec::SmallVec<[&Tensor; 3]> = smallvec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        with_float!(x.dtype(), OP, |T| {
            let wv = w.as_ref().map(|w| w.values::<T>()).transpose()?;
            let bv = b.as_ref().map(|b| b.values::<T>()).transpose()?;
            let (y, mean, rstd) =
                forward_rows::<T>(&xc.values::<T>()?, m, eps, wv.as_deref(), bv.as_deref(), x.shape())?;
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
        let mut inputs: smallvec::SmallVec<[&Tensor; 3]> = smallvec![self];
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
            let l = ChannelLayout { outer: n, channels: c, inner };
            let (y, mean, rstd, var) = forward_channels::<T>(
                &xc.values::<T>()?,
                l,
                stats,
                opts.eps,
                wv.as_deref(),
                bv.as_deref(),
                x.shape(),
            )?;
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
