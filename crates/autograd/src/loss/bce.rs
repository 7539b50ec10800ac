//! Binary cross-entropy, on probabilities (`binary_cross_entropy`) and on logits
//! (`binary_cross_entropy_with_logits`, computed through log-sigmoid so it stays finite for
//! logits of any size). Input and target have the same shape; the weight broadcasts to it.
//!
//! On probabilities: `l = -w (t ln p + (1 - t) ln(1 - p))` with each log clamped at -100, so
//! `dl/dp = w (p - t) / (p (1 - p))` (the denominator kept above 1e-12) and
//! `dl/dt = w ln((1 - p) / p)`.
//!
//! On logits, with `pw` the positive-class weight: `l = w ((1 - t) x - (1 + (pw - 1) t)
//! log_sigmoid(x))`, so `dl/dx = w ((pw t + 1 - t) sigmoid(x) - pw t)` and
//! `dl/dt = w (log_sigmoid(-x) - pw log_sigmoid(x))`.

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::loss::{any_reduction, same_float, Reduced, Reduction, Upstream};
use crate::tensor::Tensor;
use smallvec::smallvec;
use torchlet_tensor_core::{with_float, Error, Float, Numeric, Result, Shape, TensorData};

/// Options of [`binary_cross_entropy_with`].
#[derive(Clone, Debug, Default)]
pub struct BceOpts {
    /// Weights broadcast to the input's shape.
    pub weight: Option<Tensor>,
    /// Default `Mean`.
    pub reduction: Reduction,
}

impl BceOpts {
    /// Sets the weights.
    pub fn weight(mut self, w: Tensor) -> Self {
        self.weight = Some(w);
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
}

/// Options of [`binary_cross_entropy_with_logits_with`].
#[derive(Clone, Debug, Default)]
pub struct BceWithLogitsOpts {
    /// Weights broadcast to the input's shape.
    pub weight: Option<Tensor>,
    /// Weight of positive examples, broadcast along the last (class) dimension.
    pub pos_weight: Option<Tensor>,
    /// Default `Mean`.
    pub reduction: Reduction,
}

impl BceWithLogitsOpts {
    /// Sets the weights.
    pub fn weight(mut self, w: Tensor) -> Self {
        self.weight = Some(w);
        self
    }
    /// Sets `pos_weight`.
    pub fn pos_weight(mut self, w: Tensor) -> Self {
        self.pos_weight = Some(w);
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
}

/// `binary_cross_entropy(p, t)` with PyTorch's defaults.
pub fn binary_cross_entropy(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    binary_cross_entropy_with(input, target, &BceOpts::default())
}

/// Binary cross-entropy of probabilities `input` against targets in `[0, 1]`, with the log
/// clamped at -100: `l = -w (t max(ln p, -100) + (1 - t) max(ln(1 - p), -100))`; `mean`
/// divides by numel. Input and target must have the same shape; weight broadcasts to it.
///
/// Derivatives: `dl/dp = w (p - t) / max(p (1 - p), 1e-12)`, `dl/dt = w ln((1 - p) / p)`.
/// Errors on inputs or targets outside `[0, 1]` (pass logits to
/// [`binary_cross_entropy_with_logits_with`]).
pub fn binary_cross_entropy_with(input: &Tensor, target: &Tensor, o: &BceOpts) -> Result<Tensor> {
    const OP: &str = "binary_cross_entropy";
    let (p, t) = (input.data(), target.data());
    let w = binary_args(OP, &p, &t, o.weight.as_ref(), "weight")?;
    let red = Reduced::new(OP, o.reduction, p.numel() as f64)?;
    let out = with_float!(p.dtype(), OP, |T| Ok(
        red.apply(bce_forward::<T>(&p, &t, w.as_ref())?, p.shape().clone())
    ))?;
    Ok(record(out, "BinaryCrossEntropyBackward0", &[input, target], || Bce { p, t, w, red }))
}

/// `binary_cross_entropy_with_logits(x, t)` with PyTorch's defaults.
pub fn binary_cross_entropy_with_logits(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    binary_cross_entropy_with_logits_with(input, target, &BceWithLogitsOpts::default())
}

/// Binary cross-entropy on logits, computed through log-sigmoid (stable for |x| = 1000):
/// `l = w ((1 - t) x - (1 + (pw - 1) t) log_sigmoid(x))` with `pw` the `pos_weight`
/// (broadcast along the last dim; 1 without it) and `log_sigmoid(x) = min(x, 0) - ln(1 + e^-|x|)`.
///
/// Derivatives: `dl/dx = w ((pw t + 1 - t) sigmoid(x) - pw t)`,
/// `dl/dt = w (log_sigmoid(-x) - pw log_sigmoid(x))` (`-w x` without `pos_weight`).
pub fn binary_cross_entropy_with_logits_with(
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
    Ok(record(out, "BinaryCrossEntropyWithLogitsBackward0", &[input, target], || BceWithLogits {
        x,
        t,
        w,
        pw,
        red,
    }))
}

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

/// What `binary_cross_entropy`'s rule keeps.
struct Bce {
    p: TensorData,
    t: TensorData,
    w: Option<TensorData>,
    red: Reduced,
}

impl Backward for Bce {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let (p, want_t) = (&self.p, needs[1]);
        let (gp, gt) = with_float!(p.dtype(), "binary_cross_entropy", |T| {
            let (pv, tv) = (p.values::<T>()?, self.t.values::<T>()?);
            let w = self.w.as_ref().map(|w| w.values::<T>()).transpose()?;
            let up = Upstream::<T>::new(g, self.red)?;
            // PyTorch's EPSILON is the f32 literal 1e-12f (9.9999998e-13 in f64): the parity
            // cases show it.
            let eps = T::c(1e-12f32 as f64);
            let (mut gp, mut gt) = (Vec::with_capacity(pv.len()), Vec::new());
            for (i, (&p, &t)) in pv.iter().zip(tv.iter()).enumerate() {
                let s = up.at(i) * w.as_ref().map_or(T::ONE, |w| w[i]);
                gp.push(s * (p - t) / ((T::ONE - p) * p).max(eps));
                if want_t {
                    gt.push(s * -(p / (T::ONE - p)).ln()); // -logit(p)
                }
            }
            let shape = p.shape();
            Ok((
                TensorData::from_vec_unchecked(gp, shape.clone()),
                want_t.then(|| TensorData::from_vec_unchecked(gt, shape.clone())),
            ))
        })?;
        Ok(smallvec![Some(gp), gt])
    }
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

/// What `binary_cross_entropy_with_logits`'s rule keeps.
struct BceWithLogits {
    x: TensorData,
    t: TensorData,
    w: Option<TensorData>,
    pw: Option<TensorData>,
    red: Reduced,
}

impl Backward for BceWithLogits {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let (x, want_t) = (&self.x, needs[1]);
        let (gx, gt) = with_float!(x.dtype(), "binary_cross_entropy_with_logits", |T| {
            let (xv, tv) = (x.values::<T>()?, self.t.values::<T>()?);
            let w = self.w.as_ref().map(|w| w.values::<T>()).transpose()?;
            let pw = self.pw.as_ref().map(|w| w.values::<T>()).transpose()?;
            let up = Upstream::<T>::new(g, self.red)?;
            let (mut gx, mut gt) = (Vec::with_capacity(xv.len()), Vec::new());
            for (i, (&x, &t)) in xv.iter().zip(tv.iter()).enumerate() {
                let s = up.at(i) * w.as_ref().map_or(T::ONE, |w| w[i]);
                let sig = T::ONE / (T::ONE + (-x).exp());
                match &pw {
                    Some(pw) => {
                        let pt = pw[i] * t;
                        gx.push(s * ((pt + T::ONE - t) * sig - pt));
                        if want_t {
                            gt.push(s * (log_sigmoid(-x) - log_sigmoid(x) * pw[i]));
                        }
                    }
                    None => {
                        gx.push(s * (sig - t));
                        if want_t {
                            gt.push(s * -x);
                        }
                    }
                }
            }
            let shape = x.shape();
            Ok((
                TensorData::from_vec_unchecked(gx, shape.clone()),
                want_t.then(|| TensorData::from_vec_unchecked(gt, shape.clone())),
            ))
        })?;
        Ok(smallvec![Some(gx), gt])
    }
}

/// A `(3, 4)` shape (random in the other modes) and an optional weight broadcasting to it.
fn shape_and_weight(s: &mut Sampler) -> (Vec<usize>, Option<TensorData>) {
    let (m, n) = (s.size(3), s.size(4));
    let wshape = s.pick(&[vec![m, n], vec![n], vec![m, 1]]);
    let w = s.flag().then(|| s.positive(&wshape));
    (vec![m, n], w)
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        OpInfo::new("binary_cross_entropy", |s| {
            let (shape, w) = shape_and_weight(s);
            let opts = BceOpts { weight: w.map(Tensor::from_data), reduction: any_reduction(s) };
            Case::new([s.unit(&shape), s.unit(&shape)], move |a| {
                binary_cross_entropy_with(&a[0], &a[1], &opts)
            })
        }),
        OpInfo::new("binary_cross_entropy_with_logits", |s| {
            let (shape, w) = shape_and_weight(s);
            let pw = s.flag().then(|| s.positive(&[shape[1]]));
            let opts = BceWithLogitsOpts {
                weight: w.map(Tensor::from_data),
                pos_weight: pw.map(Tensor::from_data),
                reduction: any_reduction(s),
            };
            Case::new([s.float(&shape), s.unit(&shape)], move |a| {
                binary_cross_entropy_with_logits_with(&a[0], &a[1], &opts)
            })
        }),
    ]
}
