//! `scaled_dot_product_attention`: `softmax(q k^T * scale + mask) v` over the last two dims,
//! the core of a transformer's attention head. Composed of differentiable ops (matmul,
//! masked_fill, softmax), so its gradients are theirs: with `p` the attention weights and `g`
//! the upstream gradient, `dv = p^T g`, `dp = g v^T`, `ds = softmax_backward(dp)`,
//! `dq = ds k * scale`, `dk = ds^T q * scale`.
//!
//! Without an explicit mask, with queries, keys and values of one float dtype and the same
//! leading dims, it runs as one fused op (`torchlet_tensor_core::attention`): each head's
//! scores, softmax and product in one task, heads in parallel, and only the attention weights
//! `p` kept for backward, whose rule is the formulas above. Other inputs (a mask, broadcast
//! leading dims) take the composed path.

use crate::catalog::{Case, OpInfo};
use crate::graph::{record, Backward, Grads};
use crate::tensor::Tensor;
use smallvec::smallvec;
use torchlet_tensor_core::attention::{self, Heads};
use torchlet_tensor_core::{pool, with_float, DType, Element, Error, Float, Result, Shape, TensorData};

/// The options of [`Tensor::scaled_dot_product_attention`] (PyTorch's keyword arguments).
#[derive(Clone, Debug, Default)]
pub struct AttentionOpts {
    /// A bool mask (true = attend) or a float mask added to the scores, broadcasting to
    /// `(..., L, S)`. Default none.
    pub attn_mask: Option<Tensor>,
    /// Each query attends only to keys at or before its position (a lower-triangular mask).
    /// Default false.
    pub is_causal: bool,
    /// The factor on `q k^T`. Default `1 / sqrt(E)` with `E` the query's last dim.
    pub scale: Option<f64>,
}

impl Tensor {
    /// `F.scaled_dot_product_attention(q, k, v, attn_mask, is_causal=..., scale=...)` for
    /// queries `self` `(..., L, E)`, keys `(..., S, E)` and values `(..., S, Ev)`:
    /// `softmax(q k^T * scale + mask, -1) @ v`, of shape `(..., L, Ev)`. Derivatives in the
    /// module docs.
    pub fn scaled_dot_product_attention(
        &self,
        key: &Tensor,
        value: &Tensor,
        opts: &AttentionOpts,
    ) -> Result<Tensor> {
        const OP: &str = "scaled_dot_product_attention";
        if self.ndim() < 2 || key.ndim() < 2 || value.ndim() < 2 {
            return Err(Error::invalid(
                OP,
                format!(
                    "query, key and value need at least 2 dims (..., L, E), got shapes {}, {}, {}",
                    self.shape(),
                    key.shape(),
                    value.shape()
                ),
            ));
        }
        let (l, e) = (self.size(-2)?, self.size(-1)?);
        let s = key.size(-2)?;
        if key.size(-1)? != e {
            return Err(Error::shapes(
                OP,
                &self.shape(),
                &key.shape(),
                "mismatch: query and key need the same embedding size (last dim)",
            ));
        }
        if value.size(-2)? != s {
            return Err(Error::shapes(
                OP,
                &key.shape(),
                &value.shape(),
                "mismatch: key and value need the same sequence length (dim -2)",
            ));
        }
        let scale = opts.scale.unwrap_or(1.0 / (e as f64).sqrt());
        let (nd, ev) = (self.ndim(), value.size(-1)?);
        let lead = |t: &Tensor| t.shape().dims()[..t.ndim() - 2].to_vec();
        let heads: usize = lead(self).iter().product();
        let fusable = opts.attn_mask.is_none()
            && self.dtype().is_float()
            && key.dtype() == self.dtype()
            && value.dtype() == self.dtype()
            && key.ndim() == nd
            && value.ndim() == nd
            && lead(key) == lead(self)
            && lead(value) == lead(self)
            && heads * l * s * e * ev > 0;
        if fusable {
            return fused(self, key, value, Heads { heads, l, s, e, ev }, scale, opts.is_causal);
        }
        let mut scores = self.matmul(&key.transpose(-2, -1)?)? * scale;
        if opts.is_causal {
            // position i attends to keys 0..=i: mask out the strict upper triangle
            let upper: Vec<bool> = (0..l * s).map(|k| k % s > k / s).collect();
            scores = scores
                .masked_fill(&Tensor::from_data(TensorData::from_vec(upper, [l, s])?), f64::NEG_INFINITY)?;
        }
        if let Some(mask) = &opts.attn_mask {
            scores = match mask.dtype() {
                DType::Bool => scores.masked_fill(&mask.eq(false)?, f64::NEG_INFINITY)?,
                _ => scores.add(mask)?,
            };
        }
        scores.softmax(-1)?.matmul(value)
    }
}

/// The fused forward pass (see the module docs); records [`Attention`].
fn fused(q: &Tensor, k: &Tensor, v: &Tensor, h: Heads, scale: f64, causal: bool) -> Result<Tensor> {
    const OP: &str = "scaled_dot_product_attention";
    let (qd, kd, vd) = (q.data().try_contiguous()?, k.data().try_contiguous()?, v.data().try_contiguous()?);
    let mut dims = qd.dims().to_vec();
    *dims.last_mut().expect("at least 2 dims") = h.ev;
    let out_shape = Shape::new(&dims);
    with_float!(qd.dtype(), OP, |T| {
        let mut out = pool::try_overwritable::<T>(OP, &out_shape)?;
        let mut p = pool::try_overwritable::<T>(OP, &Shape::new(&[h.heads, h.l, h.s]))?;
        attention::forward(
            h,
            &qd.values::<T>()?,
            &kd.values::<T>()?,
            &vd.values::<T>()?,
            scale,
            causal,
            &mut out,
            &mut p,
        )?;
        let rule = || Attention { q: qd, k: kd, v: vd, p, h, scale, causal };
        Ok(record(
            TensorData::from_vec_unchecked(out, out_shape),
            "ScaledDotProductFlashAttentionForCpuBackward0",
            &[q, k, v],
            rule,
        ))
    })
}

/// What the fused op's backward keeps: the inputs and the attention weights `p`.
struct Attention<T: Element> {
    q: TensorData,
    k: TensorData,
    v: TensorData,
    p: Vec<T>,
    h: Heads,
    scale: f64,
    causal: bool,
}

/// `p` came from the buffer cache: back to it with the graph, for the next step's forward.
impl<T: Element> Drop for Attention<T> {
    fn drop(&mut self) {
        pool::give_back(std::mem::take(&mut self.p));
    }
}

impl<T: Float> Backward for Attention<T> {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        const OP: &str = "scaled_dot_product_attention_backward";
        let g = g.try_contiguous()?;
        let slot = |need: bool, t: &TensorData| -> Result<Option<Vec<T>>> {
            need.then(|| pool::try_overwritable::<T>(OP, t.shape())).transpose()
        };
        let (mut dq, mut dk, mut dv) =
            (slot(needs[0], &self.q)?, slot(needs[1], &self.k)?, slot(needs[2], &self.v)?);
        attention::backward(
            self.h,
            &self.q.values::<T>()?,
            &self.k.values::<T>()?,
            &self.v.values::<T>()?,
            &self.p,
            &g.values::<T>()?,
            self.scale,
            self.causal,
            dq.as_deref_mut(),
            dk.as_deref_mut(),
            dv.as_deref_mut(),
        )?;
        let wrap = |d: Option<Vec<T>>, t: &TensorData| {
            d.map(|d| TensorData::from_vec_unchecked(d, t.shape().clone()))
        };
        Ok(smallvec![wrap(dq, &self.q), wrap(dk, &self.k), wrap(dv, &self.v)])
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![OpInfo::new("scaled_dot_product_attention", |s| {
        let (b, t, e) = (s.size(2), s.size(3), s.size(4));
        let is_causal = s.flag();
        let (q, k, v) = (s.float(&[b, t, e]), s.float(&[b, t, e]), s.float(&[b, t, e]));
        Case::new([q, k, v], move |x| {
            x[0].scaled_dot_product_attention(
                &x[1],
                &x[2],
                &AttentionOpts { is_causal, ..Default::default() },
            )
        })
    })]
}
