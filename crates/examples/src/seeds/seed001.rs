//! Seed 001, the notebook "Learning various pytorch loss function APIs": its inputs, the
//! decomposition `CE = H + KL` it verifies, BCE computed through NLL, a hand-written cosine
//! embedding loss, and the loss-input cheat sheet. Used by `examples/loss_apis.rs` and
//! `tests/seed_001.rs`.
//!
//! The notebook draws every input at random, so its printed numbers cannot be reproduced;
//! what carries over are the identities it demonstrates, which hold for any input.

use torchlet::autograd::distributions::Categorical;
use torchlet::nn::functional::Reduction;
use torchlet::nn::{CrossEntropyLoss, KLDivLoss, LogSoftmax, Module, NLLLoss};
use torchlet::{DType, Generator, Result, Tensor, TensorData};

/// The notebook's data: a model output and two kinds of target.
pub struct Inputs {
    /// `torch.randn(batchsize, num_class)`: raw scores, "the output of a model".
    pub logits: Tensor,
    /// `torch.randint(num_class, size=(batchsize,))`: class indices (i64), a delta-type target.
    pub target_indices: Tensor,
    /// `torch.randn(batchsize, num_class).softmax(dim=1)`: one distribution per sample
    /// (the notebook's name, although these are probabilities, not logits).
    pub target_logits: Tensor,
}

/// Draws the notebook's inputs (f32, like torch's defaults) from `g`.
pub fn inputs(g: &mut Generator, batchsize: usize, num_class: usize) -> Result<Inputs> {
    Ok(Inputs {
        logits: Tensor::randn_with([batchsize, num_class], DType::F32, g)?,
        target_indices: Tensor::from_data(TensorData::randint_with(0, num_class as i64, [batchsize], g)?),
        target_logits: Tensor::randn_with([batchsize, num_class], DType::F32, g)?.softmax(1)?,
    })
}

/// The three per-sample terms of `H(p, q) = H(p) + KL(p || q)` for a target distribution `p`
/// and predicted `q = softmax(logits)`, each computed by its own API.
pub struct Decomposition {
    /// `nn.CrossEntropyLoss(reduction="none")(logits, p)`: `H(p, q)` per sample.
    pub ce: Tensor,
    /// `nn.KLDivLoss(reduction="none")(LogSoftmax(logits), p).sum(dim=-1)`: `KL(p || q)`.
    pub kl: Tensor,
    /// `Categorical(probs=p).entropy()`: `H(p)`.
    pub entropy: Tensor,
}

/// Computes the notebook's cell 4 for `logits` `(N, C)` and target distributions `p` `(N, C)`.
pub fn decomposition(logits: &Tensor, p: &Tensor) -> Result<Decomposition> {
    let m = LogSoftmax::new(-1);
    Ok(Decomposition {
        ce: CrossEntropyLoss::new().reduction(Reduction::None).forward(logits, p)?,
        kl: KLDivLoss::new()
            .reduction(Reduction::None)
            .forward(&m.forward(logits)?, p)?
            .sum_dim(-1, false)?,
        entropy: Categorical::from_probs(p)?.entropy()?,
    })
}

/// The notebook's cell 5: binary cross-entropy as a two-class NLL. Stacks
/// `[1 - prob_1, prob_1]` into `(N, 2)` class probabilities, takes their log and applies
/// `NLLLoss` with the i64 labels as class indices: `-ln p(label)` per sample, BCE's formula.
pub fn bce_via_nll(prob_1: &Tensor, target: &Tensor) -> Result<Tensor> {
    let prob_1 = prob_1.unsqueeze(-1)?;
    let prob_0 = prob_1.neg()?.add_scalar(1.0)?;
    let prob = Tensor::cat(&[&prob_0, &prob_1], -1)?;
    NLLLoss::new().forward(&prob.log()?, target)
}

/// `CosineEmbeddingLoss` by hand, for `(N, D)` pairs and labels `y` of 1 or -1 (margin 0):
/// `cos = x1.x2 / (|x1| |x2|)`, then `1 - cos` for `y = 1` and `max(0, cos)` for `y = -1`,
/// averaged over the batch. (The built-in adds 1e-12 to each squared norm, which changes
/// nothing visible for non-zero vectors.)
pub fn cosine_embedding_by_hand(x1: &Tensor, x2: &Tensor, y: &Tensor) -> Result<Tensor> {
    let dot = x1.mul(x2)?.sum_dim(-1, false)?;
    let norms =
        x1.pow_scalar(2.0)?.sum_dim(-1, false)?.mul(&x2.pow_scalar(2.0)?.sum_dim(-1, false)?)?.sqrt()?;
    let cos = dot.div(&norms)?;
    let similar = y.to_dtype(cos.dtype())?.add_scalar(1.0)?.mul_scalar(0.5)?; // 1 for y = 1, 0 for y = -1
    let pull = cos.neg()?.add_scalar(1.0)?.mul(&similar)?;
    let push = cos.clamp(Some(0.0), None)?.mul(&similar.neg()?.add_scalar(1.0)?)?;
    pull.add(&push)?.mean()
}

/// One row of the cheat sheet: what a loss expects.
pub struct CheatRow {
    /// The functional form (`F::...`).
    pub function: &'static str,
    /// The module form (`nn::...`).
    pub module: &'static str,
    /// What the input must be.
    pub input: &'static str,
    /// The target's dtype and shape.
    pub target: &'static str,
}

/// The notebook's closing cheat sheet (after rasbt's), extended with `kl_div` and the
/// target dtypes and shapes torchlet checks.
pub const CHEAT_SHEET: [CheatRow; 6] = [
    CheatRow {
        function: "F::binary_cross_entropy",
        module: "nn::BCELoss",
        input: "probabilities in [0, 1] (after sigmoid)",
        target: "float in [0, 1], input's shape",
    },
    CheatRow {
        function: "F::binary_cross_entropy_with_logits",
        module: "nn::BCEWithLogitsLoss",
        input: "logits (sigmoid applied inside)",
        target: "float in [0, 1], input's shape",
    },
    CheatRow {
        function: "F::cross_entropy",
        module: "nn::CrossEntropyLoss",
        input: "logits (N, C) (log_softmax inside)",
        target: "i64 class indices (N) or float probabilities (N, C)",
    },
    CheatRow {
        function: "F::nll_loss",
        module: "nn::NLLLoss",
        input: "log-probabilities (N, C) (LogSoftmax output)",
        target: "i64 class indices (N)",
    },
    CheatRow {
        function: "F::kl_div",
        module: "nn::KLDivLoss",
        input: "log-probabilities (N, C); use batchmean",
        target: "float probabilities (N, C) (log-probs if log_target)",
    },
    CheatRow {
        function: "F::cosine_embedding_loss",
        module: "nn::CosineEmbeddingLoss",
        input: "two embeddings (N, D), (N, D)",
        target: "1 or -1 per pair (N), i64 or float",
    },
];

/// The cheat sheet as an aligned text table with a header row.
pub fn cheat_sheet_table() -> String {
    let header = ["function", "module", "input", "target"];
    let rows: Vec<[&str; 4]> =
        CHEAT_SHEET.iter().map(|r| [r.function, r.module, r.input, r.target]).collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[&str; 4]| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join(" | ").trim_end().to_string()
    };
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    let mut out = vec![line(&header), rule.join("-+-")];
    out.extend(rows.iter().map(line));
    out.join("\n")
}
