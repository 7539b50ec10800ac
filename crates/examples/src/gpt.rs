//! The lecture's GPT ("Let's build GPT", `gpt.py` of `karpathy/ng-video-lecture`) as
//! user-defined torchlet modules: [`Head`], [`MultiHeadAttention`], [`Block`] and [`Gpt`].
//!
//! Read it beside the lecture: each module is the PyTorch class of the same name, line for
//! line. A module says what it holds (`children!`, `tensors!` name them after the fields) and
//! torchlet derives the rest: `named_parameters`, the `state_dict` with PyTorch's keys
//! (`blocks.0.sa.heads.1.key.weight`), `train()`/`eval()`, the printed repr.
//!
//! One difference from the lecture's file: its `FeedFoward` class wraps a `Sequential` in
//! `net`; here the block's `ffwd` *is* that `Sequential` (keys `ffwd.0.weight`, not
//! `ffwd.net.0.weight`). [`lecture_key`] maps a checkpoint saved by the lecture's own code.

use torchlet::nn::{
    children, tensors, Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, ReLU, Sequential,
};
use torchlet::{NoGradGuard, Result, Tensor};

/// The sizes of the model (the lecture's hyper-parameters).
#[derive(Clone, Debug)]
pub struct GptConfig {
    /// Number of distinct tokens (characters).
    pub vocab_size: usize,
    /// Maximum context length.
    pub block_size: usize,
    /// Embedding width.
    pub n_embd: usize,
    /// Attention heads per block (`head_size = n_embd / n_head`).
    pub n_head: usize,
    /// Number of blocks.
    pub n_layer: usize,
    /// Dropout probability (after attention weights, projections and the MLP).
    pub dropout: f64,
}

/// One head of self-attention.
pub struct Head {
    key: Linear,
    query: Linear,
    value: Linear,
    tril: Tensor,
    dropout: Dropout,
}

impl Head {
    fn new(c: &GptConfig, head_size: usize) -> Result<Head> {
        Ok(Head {
            key: Linear::without_bias(c.n_embd, head_size)?,
            query: Linear::without_bias(c.n_embd, head_size)?,
            value: Linear::without_bias(c.n_embd, head_size)?,
            tril: Tensor::ones([c.block_size, c.block_size])?.tril(0)?,
            dropout: Dropout::new(c.dropout)?,
        })
    }
}

impl Module for Head {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let t = x.size(1)?; // x: (B, T, C)
        let k = self.key.forward(x)?; // (B, T, hs)
        let q = self.query.forward(x)?; // (B, T, hs)
                                        // attention scores ("affinities"): (B, T, hs) @ (B, hs, T) -> (B, T, T)
        let wei = q.matmul(&k.transpose(-2, -1)?)? * (k.size(-1)? as f64).powf(-0.5);
        let future = self.tril.narrow(0, 0, t)?.narrow(1, 0, t)?.eq(0)?;
        let wei = wei.masked_fill(&future, f64::NEG_INFINITY)?.softmax(-1)?;
        let wei = self.dropout.forward(&wei)?;
        wei.matmul(&self.value.forward(x)?) // (B, T, T) @ (B, T, hs) -> (B, T, hs)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        children![self.key, self.query, self.value, self.dropout]
    }
    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        tensors![self.tril]
    }
}

/// Multiple heads of self-attention in parallel.
pub struct MultiHeadAttention {
    heads: ModuleList,
    proj: Linear,
    dropout: Dropout,
}

impl MultiHeadAttention {
    fn new(c: &GptConfig, num_heads: usize, head_size: usize) -> Result<MultiHeadAttention> {
        Ok(MultiHeadAttention {
            heads: (0..num_heads).map(|_| Head::new(c, head_size)).collect::<Result<_>>()?,
            proj: Linear::new(head_size * num_heads, c.n_embd)?,
            dropout: Dropout::new(c.dropout)?,
        })
    }
}

impl Module for MultiHeadAttention {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let outs = self.heads.iter().map(|h| h.forward(x)).collect::<Result<Vec<_>>>()?;
        let out = Tensor::cat(&outs.iter().collect::<Vec<_>>(), -1)?;
        self.dropout.forward(&self.proj.forward(&out)?)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        children![self.heads, self.proj, self.dropout]
    }
}

/// Transformer block: communication (attention) followed by computation (the MLP).
pub struct Block {
    sa: MultiHeadAttention,
    ffwd: Sequential,
    ln1: LayerNorm,
    ln2: LayerNorm,
}

impl Block {
    fn new(c: &GptConfig) -> Result<Block> {
        let n = c.n_embd;
        Ok(Block {
            sa: MultiHeadAttention::new(c, c.n_head, n / c.n_head)?,
            ffwd: Sequential::new()
                .add(Linear::new(n, 4 * n)?)
                .add(ReLU)
                .add(Linear::new(4 * n, n)?)
                .add(Dropout::new(c.dropout)?),
            ln1: LayerNorm::new(&[n])?,
            ln2: LayerNorm::new(&[n])?,
        })
    }
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x + &self.sa.forward(&self.ln1.forward(x)?)?;
        Ok(&x + &self.ffwd.forward(&self.ln2.forward(&x)?)?)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        children![self.sa, self.ffwd, self.ln1, self.ln2]
    }
}

/// The GPT language model: token and position embeddings, `n_layer` blocks, a final
/// LayerNorm and the head that reads off the next token's logits.
pub struct Gpt {
    /// The configuration it was built with.
    pub config: GptConfig,
    token_embedding_table: Embedding,
    position_embedding_table: Embedding,
    blocks: Sequential,
    ln_f: LayerNorm,
    lm_head: Linear,
}

impl Gpt {
    /// Builds the model from the global generator in PyTorch's order (each layer's default
    /// initialisation, then the lecture's `_init_weights`: `N(0, 0.02)` weights, zero biases),
    /// so `manual_seed(1337)` gives the lecture's initial weights.
    pub fn new(c: &GptConfig) -> Result<Gpt> {
        let mut blocks = Sequential::new();
        for _ in 0..c.n_layer {
            blocks.push(Block::new(c)?);
        }
        let model = Gpt {
            config: c.clone(),
            token_embedding_table: Embedding::new(c.vocab_size, c.n_embd)?,
            position_embedding_table: Embedding::new(c.block_size, c.n_embd)?,
            blocks,
            ln_f: LayerNorm::new(&[c.n_embd])?,
            lm_head: Linear::new(c.n_embd, c.vocab_size)?,
        };
        model.init_weights()?;
        Ok(model)
    }

    /// The lecture's `self.apply(self._init_weights)`: every Linear and Embedding weight
    /// from `N(0, 0.02)`, every Linear bias zero, in module order.
    fn init_weights(&self) -> Result<()> {
        let _guard = NoGradGuard::new();
        for (_, m) in self.named_modules() {
            if matches!(m.type_name(), "Linear" | "Embedding") {
                for (name, p) in m.own_parameters() {
                    if name == "weight" {
                        p.normal_(0.0, 0.02)?;
                    } else {
                        p.zero_()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Logits `(B, T, vocab_size)` for token indices `idx` `(B, T)`, and, given `targets`
    /// `(B, T)`, the mean cross-entropy of the next-token predictions.
    pub fn forward_loss(&self, idx: &Tensor, targets: Option<&Tensor>) -> Result<(Tensor, Option<Tensor>)> {
        let t = idx.size(1)?;
        let tok_emb = self.token_embedding_table.forward(idx)?; // (B, T, C)
        let pos_emb = self.position_embedding_table.forward(&Tensor::arange(t as i64)?)?; // (T, C)
        let x = self.blocks.forward(&(&tok_emb + &pos_emb))?; // (B, T, C)
        let logits = self.lm_head.forward(&self.ln_f.forward(&x)?)?; // (B, T, vocab)
        let loss = match targets {
            None => None,
            Some(y) => {
                let (b, v) = (logits.size(0)?, logits.size(2)?);
                Some(F::cross_entropy(&logits.view([b * t, v])?, &y.view([b * t])?)?)
            }
        };
        Ok((logits, loss))
    }

    /// Extends each row of `idx` `(B, T)` by `max_new_tokens` tokens, each sampled from the
    /// softmax of the last position's logits (context cropped to `block_size`).
    pub fn generate(&self, idx: &Tensor, max_new_tokens: usize) -> Result<Tensor> {
        let _guard = NoGradGuard::new();
        let mut idx = idx.clone();
        for _ in 0..max_new_tokens {
            let t = idx.size(1)?;
            let keep = t.min(self.config.block_size);
            let idx_cond = idx.narrow(1, t - keep, keep)?;
            let (logits, _) = self.forward_loss(&idx_cond, None)?;
            let last = logits.narrow(1, keep - 1, 1)?.squeeze_dim(1)?; // (B, vocab)
            let idx_next = last.softmax(-1)?.multinomial(1, false)?; // (B, 1)
            idx = Tensor::cat(&[&idx, &idx_next], 1)?;
        }
        Ok(idx)
    }
}

use torchlet::nn::functional as F;

impl Module for Gpt {
    /// The logits, without a loss (see [`Gpt::forward_loss`]).
    fn forward(&self, idx: &Tensor) -> Result<Tensor> {
        Ok(self.forward_loss(idx, None)?.0)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        children![
            self.token_embedding_table,
            self.position_embedding_table,
            self.blocks,
            self.ln_f,
            self.lm_head
        ]
    }
}

/// The torchlet key for a key of a checkpoint saved by the lecture's own `gpt.py`, whose
/// `FeedFoward` wraps the MLP in `net`: `blocks.0.ffwd.net.0.weight` -> `blocks.0.ffwd.0.weight`.
pub fn lecture_key(key: &str) -> String {
    key.replace(".ffwd.net.", ".ffwd.")
}

/// A character-level corpus as the lecture reads it: the sorted distinct characters are the
/// vocabulary, the first 90% of the encoded text trains and the rest validates.
pub struct CharData {
    /// The vocabulary, sorted.
    pub chars: Vec<char>,
    /// The encoded training text.
    pub train: Vec<i64>,
    /// The encoded validation text.
    pub val: Vec<i64>,
}

impl CharData {
    /// Encodes `text` (`data = torch.tensor(encode(text))`, `n = int(0.9*len(data))`).
    pub fn new(text: &str) -> CharData {
        let mut chars: Vec<char> =
            text.chars().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        chars.dedup();
        let data: Vec<i64> = text.chars().map(|c| chars.binary_search(&c).unwrap_or(0) as i64).collect();
        let n = (0.9 * data.len() as f64) as usize;
        CharData { chars, val: data[n..].to_vec(), train: data[..n].to_vec() }
    }

    /// Decodes token indices back to text.
    pub fn decode(&self, idx: &[i64]) -> String {
        idx.iter().map(|&i| self.chars.get(i as usize).copied().unwrap_or('?')).collect()
    }

    /// The lecture's `get_batch`: `batch` random windows of `block` tokens (offsets from
    /// `torch.randint(len(data) - block, (batch,))` on the global generator) and the same
    /// windows shifted by one, both `(batch, block)`.
    pub fn get_batch(&self, train: bool, batch: usize, block: usize) -> Result<(Tensor, Tensor)> {
        let data = if train { &self.train } else { &self.val };
        let ix = Tensor::randint(0, (data.len() - block) as i64, [batch])?.to_vec::<i64>()?;
        let rows = |shift: usize| -> Vec<i64> {
            ix.iter().flat_map(|&i| data[i as usize + shift..i as usize + shift + block].to_vec()).collect()
        };
        Ok((Tensor::from(rows(0)).view([batch, block])?, Tensor::from(rows(1)).view([batch, block])?))
    }
}
