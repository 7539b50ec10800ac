//! The differentiable operations on [`Tensor`], one file per family. Each file holds, for
//! each op: the `Tensor` method (validation, the tensor-core kernel, `graph::record`), the backward
//! rule with the derivative stated beside it, and its [`OpInfo`] catalog entry (which enrols
//! it in the gradient checks and the no-panic fuzzing).
//!
//! | file | ops |
//! |---|---|
//! | [`unary`] | `exp log sigmoid relu tanh gelu silu rsqrt log10 sign floor ...` (one table line each), `gelu_with leaky_relu softplus_with`, `neg`, `clamp`, `pow_scalar`, scalar arithmetic, `to_dtype` |
//! | [`binary`] | `add sub mul div pow maximum minimum where_cond`, comparisons |
//! | [`reduce`] | `sum mean var std logsumexp vector_norm` (all, a dim or a list of dims), `max min prod`, `max_dim min_dim argmax argmin cumsum histc` |
//! | [`softmax`] | `softmax log_softmax` |
//! | [`view`] | `reshape view squeeze unsqueeze flatten permute transpose t expand narrow select slice contiguous cat stack repeat unbind split chunk` |
//! | [`index`] | `index_select gather scatter_add index_add one_hot` |
//! | [`indexing`] | `x[...]` as [`Tensor::i`] with the `s!` macro; `index index_put index_put_ masked_select nonzero` |
//! | [`linalg`] | `matmul linear` |
//! | [`conv`] | `conv1d conv2d` |
//! | [`pool`] | `max_pool2d avg_pool2d` |
//! | [`mask`] | `masked_fill` |
//! | [`triangle`] | `tril triu`, `tril_indices triu_indices` |
//! | [`embedding`] | `embedding` (`C[X]`) |
//! | [`norm`] | `layer_norm batch_norm` |
//! | [`attention`] | `scaled_dot_product_attention` |
//! | [`inplace`] | `add_ sub_ mul_ div_ clamp_ fill_ zero_ copy_` (no derivative) |

use crate::catalog::OpInfo;
pub(crate) use crate::graph::Grads;
use smallvec::smallvec;
use torchlet_tensor_core::{Result, Shape, TensorData};

#[cfg(doc)]
use crate::tensor::Tensor;

pub mod attention;
pub mod binary;
pub mod conv;
pub mod embedding;
pub mod index;
pub mod indexing;
pub mod inplace;
pub mod linalg;
pub mod mask;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod softmax;
pub mod triangle;
pub mod unary;
pub mod view;

/// The catalog entries of every family in this module.
pub(crate) fn catalog() -> Vec<OpInfo> {
    [
        unary::catalog(),
        binary::catalog(),
        reduce::catalog(),
        softmax::catalog(),
        view::catalog(),
        index::catalog(),
        indexing::catalog(),
        linalg::catalog(),
        mask::catalog(),
        conv::catalog(),
        pool::catalog(),
        triangle::catalog(),
        embedding::catalog(),
        norm::catalog(),
        attention::catalog(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A single input's gradient.
pub(crate) fn one(g: TensorData) -> Result<Grads> {
    Ok(smallvec![Some(g)])
}

/// `f(g, s)` over two float tensors of one dtype in a single fused pass (`T` is the element
/// type inside `f`): `zip!(g, y, |g, y| g * y * (T::ONE - y))`.
macro_rules! zip {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {
        torchlet_tensor_core::with_float!($a.dtype(), "backward", |T| {
            #[allow(unused_imports)]
            use torchlet_tensor_core::{Float, Numeric};
            $a.zip_map::<T, T, T>($b, "backward", |$x: T, $y: T| $e)
        })
    };
}
pub(crate) use zip;

/// `f(g, s)` over two float tensors of one dtype in one fused pass, with `f` written over a
/// [`Real`](torchlet_tensor_core::simd::Real) `T` so that its math (`exp`, `tanh`, `erf`, ...)
/// vectorises in each CPU build ([`TensorData::zip_real`]): `zip_real!(g, x, |g, x| g *
/// x.exp())`. A rule's parameters (f64 values) are named first:
/// `zip_real!(g, x, [beta], |g, x| g * T::c(beta))`. Errors (dtypes or shapes that differ)
/// name the op `backward`; a forward pass names its op first: `zip_real!(op = "mse_loss";
/// x, t, |a, b| (a - b) * (a - b))`.
///
/// [`TensorData::zip_real`]: torchlet_tensor_core::TensorData::zip_real
macro_rules! zip_real {
    ($a:expr, $b:expr, $([$($p:ident),*],)? |$x:ident, $y:ident| $e:expr) => {
        $crate::ops::zip_real!(op = "backward"; $a, $b, $([$($p),*],)? |$x, $y| $e)
    };
    (op = $op:expr; $a:expr, $b:expr, $([$($p:ident),*],)? |$x:ident, $y:ident| $e:expr) => {{
        struct Rule {
            $($($p: f64),*)?
        }
        impl torchlet_tensor_core::simd::kernels::BinaryFn for Rule {
            #[inline(always)]
            fn call<T: torchlet_tensor_core::simd::Real>(&self, $x: T, $y: T) -> T {
                $($(let $p = self.$p;)*)?
                $e
            }
        }
        $a.zip_real($b, $op, &Rule { $($($p),*)? })
    }};
}
pub(crate) use zip_real;

/// `Some(f())` when the gradient is wanted, else `None`: rules skip gradients nobody asked for.
pub(crate) fn wanted(need: bool, f: impl FnOnce() -> Result<TensorData>) -> Result<Option<TensorData>> {
    if need {
        f().map(Some)
    } else {
        Ok(None)
    }
}

/// `d` with a size-1 dimension reinserted at `dim` unless the reduction kept it.
pub(crate) fn keep(d: &TensorData, dim: isize, keepdim: bool, shape: &Shape) -> Result<TensorData> {
    if keepdim || shape.ndim() == 0 {
        return Ok(d.clone());
    }
    d.unsqueeze(shape.dim("backward", dim)? as isize)
}

/// A broadcast view of `g` over `shape`, materialised.
pub(crate) fn spread(g: &TensorData, shape: &Shape) -> Result<TensorData> {
    Ok(g.expand(shape.clone())?.contiguous())
}

/// The dims of `s` as `isize` (what `reshape` takes).
pub(crate) fn dims_isize(s: &Shape) -> Vec<isize> {
    s.dims().iter().map(|&d| d as isize).collect()
}

/// The ops in free-function form, as `F` offers them (`F::softmax(&x, 1)` is `x.softmax(1)`).
pub mod functions {
    pub use super::unary::functions::*;
    use crate::tensor::Tensor;
    use torchlet_tensor_core::Result;

    /// `softmax(x, dim)`: see [`Tensor::softmax`].
    pub fn softmax(x: &Tensor, dim: isize) -> Result<Tensor> {
        x.softmax(dim)
    }

    /// `log_softmax(x, dim)`: see [`Tensor::log_softmax`].
    pub fn log_softmax(x: &Tensor, dim: isize) -> Result<Tensor> {
        x.log_softmax(dim)
    }

    /// `linear(x, weight, bias) = x @ weight^T + bias`: see [`Tensor::linear`].
    pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        x.linear(weight, bias)
    }

    /// `one_hot(t, num_classes)` for i64 class indices: see [`Tensor::one_hot`].
    pub fn one_hot(t: &Tensor, num_classes: Option<usize>) -> Result<Tensor> {
        t.one_hot(num_classes)
    }
}
