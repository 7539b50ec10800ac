//! `scaled_dot_product_attention`: `softmax(q k^T * scale + mask) v` over the last two dims,
//! the core of a transformer's attention head. Composed of differentiable ops (matmul,
//! masked_fill, softmax), so its gradients are theirs: with `p` the attention weights and `g`
//! the upstream gradient, `dv = p^T g`, `dp = g v^T`, `ds = softmax_backward(dp)`,
//! `dq = ds k * scale`, `dk = ds^T q * scale`.

use crate::catalog::{Case, OpInfo};
use crate::tensor::Tensor;
use torchlet_tensor_core::{DType, Error, Result, TensorData};

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
