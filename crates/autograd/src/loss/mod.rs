//! Loss functions, one file each: its options type, its argument checks, its forward kernel,
//! its backward rule with the derivative stated beside it, and its catalog entry.
//!
//! Each loss validates its arguments (errors name the op, the shapes and the values, and
//! include PyTorch's wording), computes its per-element (or per-sample) values in one kernel
//! generic over `T: Float` (one dtype dispatch per call), reduces them (`Reduced`), and
//! records a rule holding exactly what its derivative needs. Losses with a common misuse
//! (probabilities where logits or log-probabilities belong, `kl_div`'s `Mean`, a broadcasting
//! `mse_loss` target) also run a cheap check and report it through [`crate::warnings`] at the
//! caller's line; the checks never change a result.
//!
//! Notation: `x` input, `t` target, `w` weight, `u_i = dL/dl_i` the upstream gradient of
//! per-element loss `l_i` (`g_i` for `none`, `g` for `sum`, `g / count` for `mean`).
//!
//! | file | loss |
//! |---|---|
//! | `class` | the class layout shared by the next two: `(C)`, `(N, C)`, `(N, C, d1..dk)` |
//! | [`cross_entropy`] | `cross_entropy` (fused log_softmax + NLL; index or probability targets) |
//! | [`nll`] | `nll_loss` |
//! | [`bce`] | `binary_cross_entropy`, `binary_cross_entropy_with_logits` |
//! | [`kl_div`] | `kl_div` |
//! | [`mse`] | `mse_loss` |
//! | [`cosine_embedding`] | `cosine_embedding_loss` (composed of differentiable ops) |

use crate::catalog::OpInfo;
use std::borrow::Cow;
use std::panic::Location;
use torchlet_tensor_core::{Element, Error, Float, Result, Shape, TensorData};

pub mod bce;
pub(crate) mod class;
pub mod cosine_embedding;
pub mod cross_entropy;
pub mod kl_div;
pub mod mse;
pub mod nll;

/// The catalog entries of every loss.
pub(crate) fn catalog() -> Vec<OpInfo> {
    [
        cross_entropy::catalog(),
        nll::catalog(),
        bce::catalog(),
        kl_div::catalog(),
        mse::catalog(),
        cosine_embedding::catalog(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// How a loss reduces its per-element values (`reduction=` in PyTorch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Per-element (or per-sample) losses.
    None,
    /// Sum divided by a loss-specific count (see each loss); NaN for zero elements.
    #[default]
    Mean,
    /// Plain sum (0 for zero elements).
    Sum,
    /// `kl_div` only: sum divided by the batch size (the size of dim 0).
    BatchMean,
}

impl std::str::FromStr for Reduction {
    type Err = Error;
    /// Parses PyTorch's strings: `none`, `mean`, `sum`, `batchmean`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            "batchmean" => Ok(Reduction::BatchMean),
            other => Err(Error::invalid("reduction", format!("{other:?} is not a valid value for reduction (expected one of \"none\", \"mean\", \"sum\", or \"batchmean\" for kl_div)"))),
        }
    }
}

/// A reduction as applied by the forward pass; `Mean` carries its divisor.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reduced {
    None,
    Sum,
    Mean(f64),
}

impl Reduced {
    /// The forward reduction for `r` with `count` as the `mean` divisor. `BatchMean` belongs
    /// to `kl_div` only.
    pub(crate) fn new(op: &'static str, r: Reduction, count: f64) -> Result<Reduced> {
        match r {
            Reduction::None => Ok(Reduced::None),
            Reduction::Sum => Ok(Reduced::Sum),
            Reduction::Mean => Ok(Reduced::Mean(count)),
            Reduction::BatchMean => Err(Error::invalid(
                op,
                "reduction BatchMean (\"batchmean\") is only defined for kl_div; use Reduction::Mean, Sum or None",
            )),
        }
    }

    /// Reduces per-element losses `v` of `shape` (sums accumulate in f64).
    pub(crate) fn apply<T: Float>(self, v: Vec<T>, shape: Shape) -> TensorData {
        let out = match self {
            Reduced::None => return TensorData::from_vec_unchecked(v, shape),
            Reduced::Sum => TensorData::scalar(T::c(total(&v))),
            // Mean of zero elements (or zero total weight) is 0/0 = NaN, like PyTorch.
            Reduced::Mean(n) => TensorData::scalar(T::c(total(&v) / n)),
        };
        torchlet_tensor_core::pool::give_back(v); // reused if it came from the buffer cache
        out
    }

    /// [`Reduced::apply`] to per-element losses already in a tensor.
    pub(crate) fn apply_to<T: Float>(self, l: TensorData) -> Result<TensorData> {
        Ok(match self {
            Reduced::None => l,
            Reduced::Sum => TensorData::scalar(T::c(total(&l.values::<T>()?))),
            Reduced::Mean(n) => TensorData::scalar(T::c(total(&l.values::<T>()?) / n)),
        })
    }
}

/// The most per-element losses [`total`] adds in one running sum in element order (the
/// order a hand-written loop adds in, which the seed-002 walkthrough relies on).
const IN_ORDER_MAX: usize = 1 << 16;

/// The f64 sum of per-element losses. Up to 65,536 of them, one running sum in element order
/// (the order a hand-written loop adds in, which the seed-002 walkthrough relies on to show
/// bit-identical NLL results); more in f64 partial sums on every core (the running sum's
/// chain of dependent additions took 1.3 ms of `mse_loss` over 10^6 values, where PyTorch's
/// whole forward and backward took 0.9).
fn total<T: Float>(v: &[T]) -> f64 {
    if v.len() <= IN_ORDER_MAX {
        v.iter().map(|&x| Element::to_f64(x)).sum::<f64>()
    } else {
        torchlet_tensor_core::reduce::sum_slice_f64(v)
    }
}

/// `u_i = dL/dl_i` for every per-element loss: `g_i` (none), `g` (sum), `g / count` (mean).
pub(crate) enum Upstream<'a, T: Float> {
    Each(Cow<'a, [T]>),
    All(T),
}

impl<'a, T: Float> Upstream<'a, T> {
    pub(crate) fn new(g: &'a TensorData, red: Reduced) -> Result<Self> {
        Ok(match red {
            Reduced::None => Upstream::Each(g.values::<T>()?),
            Reduced::Sum => Upstream::All(T::c(g.item()?)),
            Reduced::Mean(n) => Upstream::All(T::c(g.item()?) / T::c(n)),
        })
    }

    #[inline]
    pub(crate) fn at(&self, i: usize) -> T {
        match self {
            Upstream::Each(v) => v[i],
            Upstream::All(u) => *u,
        }
    }
}

/// Errors unless `t` is a float tensor of `x`'s dtype.
pub(crate) fn same_float(op: &'static str, what: &str, x: &TensorData, t: &TensorData) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::need_float(op, x.dtype()));
    }
    if t.dtype() != x.dtype() {
        return Err(Error::dtype(
            op,
            format!("{what} of the input's dtype {}", x.dtype()),
            t.dtype(),
            format!("; convert it with .to_dtype(DType::{:?})", x.dtype()),
        ));
    }
    Ok(())
}

/// `x` and `t` broadcast to their common shape (materialised), for the pointwise losses.
pub(crate) fn broadcast_pair(
    op: &'static str,
    x: &TensorData,
    t: &TensorData,
) -> Result<(TensorData, TensorData)> {
    same_float(op, "a target", x, t)?;
    let shape = Shape::broadcast(op, x.shape(), t.shape())?;
    let expand = |a: &TensorData| -> Result<TensorData> {
        Ok(if a.shape() == &shape { a.contiguous() } else { a.expand(shape.clone())?.contiguous() })
    };
    Ok((expand(x)?, expand(t)?))
}

/// The call site a loss reports its warnings at (the user's line, via `#[track_caller]`).
pub(crate) type Site = &'static Location<'static>;

/// The first value above 0 (log-probabilities never are), for the nll_loss / kl_div checks.
pub(crate) fn first_positive<T: Float>(v: &[T]) -> Option<f64> {
    v.iter().find(|&&x| x > T::ZERO).map(|&x| Element::to_f64(x))
}

/// One of the three reductions every loss has, for catalog entries (when fuzzing, also
/// `BatchMean`, which only `kl_div` accepts).
pub(crate) fn any_reduction(s: &mut crate::catalog::Sampler) -> Reduction {
    if s.mode() == crate::catalog::Mode::Fuzz {
        return s.pick(&[Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean]);
    }
    s.pick(&[Reduction::None, Reduction::Mean, Reduction::Sum])
}
