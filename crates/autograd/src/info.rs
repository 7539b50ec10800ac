//! The textbook information-theory functions on **probability** tensors (the seed notebook's
//! `h`, `H`, `crossH`, `KLD`), in nats (natural log), differentiable.
//!
//! These take probabilities, not logits: [`cross_entropy`] here is `-sum p ln q` between two
//! distributions, whereas [`crate::functional::cross_entropy`] takes *logits* and class
//! indices (it applies `log_softmax` itself). Terms with `p = 0` contribute 0 (`0 ln 0 = 0`).

use crate::tensor::Tensor;
use torchlet_tensor_core::Result;

/// `x ln y` elementwise with the convention `0 ln 0 = 0` (PyTorch's `xlogy` where both are 0).
/// `d/dx = ln y`, `d/dy = x / y` (0 where `x = y = 0`).
fn xlogy(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let (x0, y0) = (x.eq(0.0)?, y.eq(0.0)?);
    let both = x0.mul(&y0)?; // x == 0 && y == 0 (bool * bool is `and`)
                             // ln(1) = 0 where both vanish, so the product is 0 there and its gradient finite.
    let safe_y = Tensor::where_cond(&both, 1.0, y)?;
    x.mul(&safe_y.log()?)
}

/// Self-information (surprisal) `h(p) = -ln p` of each probability; `dh/dp = -1/p`.
///
/// `information(0.1) = 2.3025850929940455` nats.
pub fn information(p: &Tensor) -> Result<Tensor> {
    p.log()?.neg()
}

/// Entropy `H(p) = -sum_i p_i ln p_i` along `dim` (`0 ln 0 = 0`); `dH/dp_i = -(ln p_i + 1)`.
///
/// `entropy([0.1, 0.2, 0.4, 0.2, 0.1]) = 1.4708084763221112`.
pub fn entropy(p: &Tensor, dim: isize) -> Result<Tensor> {
    xlogy(p, p)?.sum_dim(dim, false)?.neg()
}

/// Cross-entropy `H(p, q) = -sum_i p_i ln q_i` between two probability distributions along
/// `dim` (terms with `p_i = q_i = 0` are 0). `dH/dp_i = -ln q_i`, `dH/dq_i = -p_i / q_i`.
/// Not [`crate::functional::cross_entropy`], which takes logits.
pub fn cross_entropy(p: &Tensor, q: &Tensor, dim: isize) -> Result<Tensor> {
    xlogy(p, q)?.sum_dim(dim, false)?.neg()
}

/// Kullback-Leibler divergence `KL(p || q) = sum_i p_i (ln p_i - ln q_i) = H(p, q) - H(p)`
/// along `dim`. `dKL/dp_i = ln(p_i / q_i) + 1`, `dKL/dq_i = -p_i / q_i`.
/// (`functional::kl_div` is the loss form, taking `ln q` as its input.)
pub fn kl_divergence(p: &Tensor, q: &Tensor, dim: isize) -> Result<Tensor> {
    xlogy(p, p)?.sub(&xlogy(p, q)?)?.sum_dim(dim, false)
}
