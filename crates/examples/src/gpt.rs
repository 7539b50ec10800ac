//! The lecture's GPT (`gpt.py` of karpathy/ng-video-lecture) as user-defined modules: each
//! is the PyTorch class of the same name. A module names its parts (`submodules!`,
//! `buffers!`) and torchlet derives `state_dict` with PyTorch's keys, `train()`/`eval()` and
//! the repr. One difference: the block's `ffwd` *is* the lecture's `FeedFoward.net`
//! `Sequential` (keys `ffwd.0.weight`); [`lecture_key`] maps the lecture's checkpoints.

use torchlet::nn::functional as F;
use torchlet::nn::{
    buffers, submodules, Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, ReLU, Sequential,
};
use torchlet::prelude::*;
use torchlet::{NoGradGuard, Result};

/// The lecture's hyper-parameters.
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
    /// Dropout probability.
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
        let lin = || Linear::without_bias(c.n_embd, head_size);
        let tril = Tensor::ones([c.block_size, c.block_size])?.tril(0)?;
        Ok(Head { key: lin()?, query: lin()?, value: lin()?, tril, dropout: Dropout::new(c.dropout)? })
    }
}

impl Module for Head {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let t = x.size(1)? as i64; // x: (B, T, C)
        let k = self.key.forward(x)?; // (B, T, hs)
        let q = self.query.forward(x)?; // (B, T, hs)
        let wei = q.matmul(&k.transpose(-2, -1)?)? * (k.size(-1)? as f64).powf(-0.5); // (B, T, T) affinities
        let wei = wei.masked_fill(&self.tril.i(s![..t, ..t])?.eq(0)?, f64::NEG_INFINITY)?.softmax(-1)?;
        let wei = self.dropout.forward(&wei)?;
        wei.matmul(&self.value.forward(x)?) // (B, T, T) @ (B, T, hs) -> (B, T, hs)
    }
    submodules!(key, query, value, dropout);
    buffers!(tril);
}

/// Multiple heads of self-attention in parallel.
pub struct MultiHeadAttention {
    heads: ModuleList,
    proj: Linear,
    dropout: Dropout,
}

impl Module for MultiHeadAttention {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out = self.heads.iter().map(|h| h.forward(x)).collect::<Result<Vec<_>>>()?;
        self.dropout.forward(&self.proj.forward(&Tensor::cat(&out.iter().collect::<Vec<_>>(), -1)?)?)
    }
    submodules!(heads, proj, dropout);
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
        let (n, hs) = (c.n_embd, c.n_embd / c.n_head);
        let heads = (0..c.n_head).map(|_| Head::new(c, hs)).collect::<Result<_>>()?;
        let (proj, dropout) = (Linear::new(hs * c.n_head, n)?, Dropout::new(c.dropout)?);
        let sa = MultiHeadAttention { heads, proj, dropout };
        let ffwd = Sequential::new().add(Linear::new(n, 4 * n)?).add(ReLU);
        let ffwd = ffwd.add(Linear::new(4 * n, n)?).add(Dropout::new(c.dropout)?);
        Ok(Block { sa, ffwd, ln1: LayerNorm::new(&[n])?, ln2: LayerNorm::new(&[n])? })
    }
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x + &self.sa.forward(&self.ln1.forward(x)?)?;
        Ok(&x + &self.ffwd.forward(&self.ln2.forward(&x)?)?)
    }
    submodules!(sa, ffwd, ln1, ln2);
}

/// The GPT language model: token and position embeddings, blocks, a final LayerNorm and the
/// head that reads off the next token's logits.
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
    /// The model built from the global generator in PyTorch's order, then the lecture's
    /// `_init_weights` (`N(0, 0.02)` weights, zero biases): `manual_seed(1337)` gives the
    /// lecture's weights.
    pub fn new(c: &GptConfig) -> Result<Gpt> {
        let blocks =
            (0..c.n_layer).try_fold(Sequential::new(), |s, _| Ok::<_, Error>(s.add(Block::new(c)?)))?;
        let token_embedding_table = Embedding::new(c.vocab_size, c.n_embd)?;
        let position_embedding_table = Embedding::new(c.block_size, c.n_embd)?;
        let (ln_f, lm_head) = (LayerNorm::new(&[c.n_embd])?, Linear::new(c.n_embd, c.vocab_size)?);
        let (config, t, p) = (c.clone(), token_embedding_table, position_embedding_table);
        let model =
            Gpt { config, token_embedding_table: t, position_embedding_table: p, blocks, ln_f, lm_head };
        let _no_grad = NoGradGuard::new();
        let init =
            |(name, p): (String, Tensor)| if name == "weight" { p.normal_(0.0, 0.02) } else { p.zero_() };
        for (_, m) in model.named_modules() {
            if matches!(m.type_name(), "Linear" | "Embedding") {
                m.own_parameters().into_iter().try_for_each(init)?;
            }
        }
        Ok(model)
    }

    /// Logits `(B, T, vocab_size)` for token indices `idx` `(B, T)` and, given `targets`
    /// `(B, T)`, the mean cross-entropy of the next-token predictions.
    pub fn forward_loss(&self, idx: &Tensor, targets: Option<&Tensor>) -> Result<(Tensor, Option<Tensor>)> {
        let t = idx.size(1)?;
        let tok_emb = self.token_embedding_table.forward(idx)?; // (B, T, C)
        let pos_emb = self.position_embedding_table.forward(&Tensor::arange(t as i64)?)?; // (T, C)
        let x = self.blocks.forward(&(&tok_emb + &pos_emb))?; // (B, T, C)
        let logits = self.lm_head.forward(&self.ln_f.forward(&x)?)?; // (B, T, vocab_size)
        let loss = match targets {
            Some(y) => Some(F::cross_entropy(&logits.view([-1, logits.size(2)? as isize])?, &y.view([-1])?)?),
            None => None,
        };
        Ok((logits, loss))
    }

    /// Extends each row of `idx` `(B, T)` by `max_new_tokens` tokens sampled from the softmax
    /// of the last position's logits (the context cropped to `block_size`).
    pub fn generate(&self, idx: &Tensor, max_new_tokens: usize) -> Result<Tensor> {
        let _no_grad = NoGradGuard::new();
        let mut idx = idx.clone();
        for _ in 0..max_new_tokens {
            let crop = -(self.config.block_size as i64); // idx[:, -block_size:]
            let (logits, _) = self.forward_loss(&idx.i(s![.., crop..])?, None)?;
            let probs = logits.i(s![.., -1, ..])?.softmax(-1)?; // (B, vocab_size)
            idx = Tensor::cat(&[&idx, &probs.multinomial(1, false)?], 1)?; // (B, T + 1)
        }
        Ok(idx)
    }
}

impl Module for Gpt {
    /// The logits, without a loss (see [`Gpt::forward_loss`]).
    fn forward(&self, idx: &Tensor) -> Result<Tensor> {
        Ok(self.forward_loss(idx, None)?.0)
    }
    submodules!(token_embedding_table, position_embedding_table, blocks, ln_f, lm_head);
}

/// The torchlet key of a key saved by the lecture's `gpt.py`: `blocks.0.ffwd.net.0.weight`
/// -> `blocks.0.ffwd.0.weight`.
pub fn lecture_key(key: &str) -> String {
    key.replace(".ffwd.net.", ".ffwd.")
}

/// A character-level corpus as the lecture reads it: the sorted distinct characters are the
/// vocabulary; the first 90% of the encoded text trains, the rest validates.
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
        let chars: Vec<char> = text.chars().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let data: Vec<i64> = text.chars().map(|c| chars.binary_search(&c).unwrap_or(0) as i64).collect();
        let n = (0.9 * data.len() as f64) as usize;
        CharData { chars, val: data[n..].to_vec(), train: data[..n].to_vec() }
    }

    /// Decodes token indices back to text.
    pub fn decode(&self, idx: &[i64]) -> String {
        idx.iter().map(|&i| self.chars.get(i as usize).copied().unwrap_or('?')).collect()
    }

    /// The lecture's `get_batch`: `batch` windows of `block` tokens at offsets from
    /// `torch.randint(len(data) - block, (batch,))` (the global generator), and the same
    /// windows shifted by one, both `(batch, block)`.
    pub fn get_batch(&self, train: bool, batch: usize, block: usize) -> Result<(Tensor, Tensor)> {
        let data = if train { &self.train } else { &self.val };
        let ix = Tensor::randint(0, (data.len() - block) as i64, [batch])?.to_vec::<i64>()?;
        let rows =
            |s: usize| ix.iter().flat_map(|&i| data[i as usize + s..][..block].to_vec()).collect::<Vec<_>>();
        Ok((Tensor::from(rows(0)).view([batch, block])?, Tensor::from(rows(1)).view([batch, block])?))
    }
}
