//! Every backward rule of the tape, in one `match`: for an op `y = f(x, ...)` and the
//! upstream gradient `g = dL/dy`, each arm returns `dL/dx` for each input (`None` where an
//! input gets no gradient, e.g. integer indices). The compiler refuses a new `Op` without
//! its rule. Loss functions keep their rules beside their kernels in `loss.rs`.

use crate::loss::LossOp;
use crate::tensor::Tensor;
use smallvec::{smallvec, SmallVec};
use torchlet_tensor_core::{with_float, DType, Float, Numeric, Result, Shape, TensorData};

/// `f(x, y)` over two float tensors of one dtype in a single fused pass (`T` is the element
/// type inside `f`): `zip!(g, out, |g, y| g * y * (T::ONE - y))`.
macro_rules! zip {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {
        with_float!($a.dtype(), "backward", |T| $a.zip_map::<T, T, T>($b, "backward", |$x: T, $y: T| $e))
    };
}

/// The gradients of one node's inputs, in input order.
pub(crate) type Grads = SmallVec<[Option<TensorData>; 2]>;

/// A recorded operation and what its backward rule needs.
pub(crate) enum Op {
    Add {
        a: Shape,
        b: Shape,
    },
    Sub {
        a: Shape,
        b: Shape,
    },
    Mul {
        a: TensorData,
        b: TensorData,
    },
    Div {
        a: TensorData,
        b: TensorData,
    },
    Pow {
        a: TensorData,
        b: TensorData,
        out: TensorData,
    },
    PowScalar {
        a: TensorData,
        e: f64,
    },
    Neg,
    Scale {
        s: f64,
    },
    ToDtype {
        from: DType,
    },
    Exp {
        out: TensorData,
    },
    Log {
        a: TensorData,
    },
    Log1p {
        a: TensorData,
    },
    Sqrt {
        out: TensorData,
    },
    Abs {
        a: TensorData,
    },
    Clamp {
        a: TensorData,
        min: Option<f64>,
        max: Option<f64>,
    },
    Maximum {
        a: TensorData,
        b: TensorData,
    },
    Minimum {
        a: TensorData,
        b: TensorData,
    },
    Where {
        cond: TensorData,
        a: Shape,
        b: Shape,
    },
    Sigmoid {
        out: TensorData,
    },
    Relu {
        out: TensorData,
    },
    Tanh {
        out: TensorData,
    },
    Softplus {
        a: TensorData,
    },
    LogSigmoid {
        a: TensorData,
    },
    Softmax {
        out: TensorData,
        dim: isize,
    },
    LogSoftmax {
        out: TensorData,
        dim: isize,
    },
    Sum {
        shape: Shape,
    },
    SumDim {
        shape: Shape,
        dim: isize,
        keepdim: bool,
    },
    Mean {
        shape: Shape,
    },
    MeanDim {
        shape: Shape,
        dim: isize,
        keepdim: bool,
    },
    Extreme {
        a: TensorData,
        out: TensorData,
    },
    ExtremeDim {
        shape: Shape,
        dim: isize,
        keepdim: bool,
        indices: TensorData,
    },
    Logsumexp {
        a: TensorData,
        out: TensorData,
        dim: isize,
        keepdim: bool,
    },
    Reshape {
        shape: Shape,
    },
    Permute {
        perm: Vec<isize>,
    },
    Expand {
        shape: Shape,
    },
    Narrow {
        shape: Shape,
        dim: isize,
        start: usize,
    },
    Cat {
        dim: isize,
        sizes: Vec<usize>,
    },
    IndexSelect {
        shape: Shape,
        dim: isize,
        index: TensorData,
    },
    Gather {
        shape: Shape,
        dim: isize,
        index: TensorData,
    },
    Matmul {
        a: TensorData,
        b: TensorData,
    },
    Linear {
        x: TensorData,
        w: TensorData,
        bias: bool,
    },
    #[allow(dead_code)] // constructed by the loss functions
    Loss(LossOp),
}

/// Wraps a single input's gradient.
fn one(g: TensorData) -> Result<Grads> {
    Ok(smallvec![Some(g)])
}

/// Wraps two inputs' gradients.
fn two(a: TensorData, b: TensorData) -> Result<Grads> {
    Ok(smallvec![Some(a), Some(b)])
}

/// `d` with a size-1 dimension reinserted at `dim` unless the reduction kept it.
fn keep(d: &TensorData, dim: isize, keepdim: bool, shape: &Shape) -> Result<TensorData> {
    if keepdim || shape.ndim() == 0 {
        return Ok(d.clone());
    }
    d.unsqueeze(shape.dim("backward", dim)? as isize)
}

/// A broadcast view of `g` over `shape`, materialised.
fn spread(g: &TensorData, shape: &Shape) -> Result<TensorData> {
    Ok(g.expand(shape.clone())?.contiguous())
}

/// The backward rule of `op`: input gradients from the output gradient `g`.
pub(crate) fn backward(op: &Op, g: &TensorData, inputs: &[Tensor]) -> Result<Grads> {
    match op {
        // y = a + b: dy/da = 1, dy/db = 1, summed over broadcast dimensions.
        Op::Add { a, b } => two(g.sum_to_shape(a)?, g.sum_to_shape(b)?),
        // y = a - b: dy/da = 1, dy/db = -1.
        Op::Sub { a, b } => two(g.sum_to_shape(a)?, g.neg()?.sum_to_shape(b)?),
        // y = a * b: dy/da = b, dy/db = a.
        Op::Mul { a, b } => two(g.mul(b)?.sum_to_shape(a.shape())?, g.mul(a)?.sum_to_shape(b.shape())?),
        // y = a / b: dy/da = 1/b, dy/db = -a/b^2.
        Op::Div { a, b } => {
            let ga = g.div(b)?;
            let gb = ga.mul(a)?.div(b)?.neg()?;
            two(ga.sum_to_shape(a.shape())?, gb.sum_to_shape(b.shape())?)
        }
        // y = a^b: dy/da = b a^(b-1), dy/db = y ln a.
        Op::Pow { a, b, out } => {
            let ga = g.mul(&b.mul(&a.pow(&b.add_scalar(-1.0)?)?)?)?;
            let gb = g.mul(&out.mul(&a.log()?)?)?;
            two(ga.sum_to_shape(a.shape())?, gb.sum_to_shape(b.shape())?)
        }
        // y = a^e: dy/da = e a^(e-1).
        Op::PowScalar { a, e } => one(g.mul(&a.pow_scalar(e - 1.0)?.mul_scalar(*e)?)?),
        // y = -a: dy/da = -1.
        Op::Neg => one(g.neg()?),
        // y = s a: dy/da = s.
        Op::Scale { s } => one(g.mul_scalar(*s)?),
        // A dtype cast passes the gradient back in the input's dtype.
        Op::ToDtype { from } => one(g.to_dtype(*from)),
        // y = e^a: dy/da = y.
        Op::Exp { out } => one(g.mul(out)?),
        // y = ln a: dy/da = 1/a.
        Op::Log { a } => one(g.div(a)?),
        // y = ln(1 + a): dy/da = 1/(1 + a).
        Op::Log1p { a } => one(zip!(g, a, |g, x| g / (T::ONE + x))?),
        // y = sqrt(a): dy/da = 1/(2y).
        Op::Sqrt { out } => one(zip!(g, out, |g, y| g / (y + y))?),
        // y = |a|: dy/da = sign(a) (0 at 0, like PyTorch).
        Op::Abs { a } => one(zip!(g, a, |g, x| if x > T::ZERO {
            g
        } else if x < T::ZERO {
            -g
        } else {
            T::ZERO
        })?),
        // y = clamp(a, min, max): dy/da = 1 inside [min, max] (bounds included), else 0.
        Op::Clamp { a, min, max } => {
            let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
            one(zip!(g, a, |g, x| if x >= T::c(lo) && x <= T::c(hi) { g } else { T::ZERO })?)
        }
        // y = max(a, b): the gradient goes to the larger input, half to each on ties.
        Op::Maximum { a, b } => split_between(g, a, b, true),
        // y = min(a, b): the gradient goes to the smaller input, half to each on ties.
        Op::Minimum { a, b } => split_between(g, a, b, false),
        // y = cond ? a : b: a gets g where cond holds, b where it does not.
        Op::Where { cond, a, b } => {
            let z = g.zeros_like();
            let ga = TensorData::where_cond(cond, g, &z)?;
            let gb = TensorData::where_cond(cond, &z, g)?;
            two(ga.sum_to_shape(a)?, gb.sum_to_shape(b)?)
        }
        // y = sigmoid(a): dy/da = y (1 - y).
        Op::Sigmoid { out } => one(zip!(g, out, |g, y| g * y * (T::ONE - y))?),
        // y = max(a, 0): dy/da = 1 where y > 0, else 0.
        Op::Relu { out } => one(zip!(g, out, |g, y| if y > T::ZERO { g } else { T::ZERO })?),
        // y = tanh(a): dy/da = 1 - y^2.
        Op::Tanh { out } => one(zip!(g, out, |g, y| g * (T::ONE - y * y))?),
        // y = ln(1 + e^a): dy/da = sigmoid(a) (exactly 1 above the threshold 20, where y = a).
        Op::Softplus { a } => {
            one(zip!(g, a, |g, x| if x > T::c(20.0) { g } else { g / (T::ONE + (-x).exp()) })?)
        }
        // y = ln sigmoid(a): dy/da = 1 - sigmoid(a) = sigmoid(-a).
        Op::LogSigmoid { a } => one(zip!(g, a, |g, x| g / (T::ONE + x.exp()))?),
        // y = softmax(a): da = (g - sum(g y, dim)) y.
        Op::Softmax { out, dim } => one(g.sub(&g.mul(out)?.sum_dim(*dim, true)?)?.mul(out)?),
        // y = log_softmax(a): da = g - e^y sum(g, dim).
        Op::LogSoftmax { out, dim } => one(g.sub(&out.exp()?.mul(&g.sum_dim(*dim, true)?)?)?),
        // y = sum(a): dy/da = 1 everywhere.
        Op::Sum { shape } => one(spread(g, shape)?),
        Op::SumDim { shape, dim, keepdim } => one(spread(&keep(g, *dim, *keepdim, shape)?, shape)?),
        // y = mean(a): dy/da = 1/n.
        Op::Mean { shape } => one(spread(&g.mul_scalar(1.0 / shape.numel() as f64)?, shape)?),
        Op::MeanDim { shape, dim, keepdim } => {
            let n = shape.size("mean", *dim).unwrap_or(1) as f64;
            one(spread(&keep(&g.mul_scalar(1.0 / n)?, *dim, *keepdim, shape)?, shape)?)
        }
        // y = max(a) (or min): the gradient is shared evenly by the elements equal to y.
        Op::Extreme { a, out } => {
            let hit = a.eq(out)?.to_dtype(a.dtype());
            one(hit.mul(&g.div(&hit.sum()?)?)?)
        }
        // (values, indices) = max(a, dim): the gradient goes to the selected index.
        Op::ExtremeDim { shape, dim, keepdim, indices } => {
            let (g, i) = (keep(g, *dim, *keepdim, shape)?, keep(indices, *dim, *keepdim, shape)?);
            one(TensorData::scatter_add_zeros(shape, *dim, &i, &g)?)
        }
        // y = logsumexp(a, dim): dy/da = e^(a - y) = softmax(a).
        Op::Logsumexp { a, out, dim, keepdim } => {
            let (g, y) = (keep(g, *dim, *keepdim, a.shape())?, keep(out, *dim, *keepdim, a.shape())?);
            one(g.mul(&a.sub(&y)?.exp()?)?)
        }
        // Views: the gradient takes the input's shape back.
        Op::Reshape { shape } => one(g.reshape(&to_isize(shape))?),
        Op::Permute { perm } => one(g.permute(&inverse(perm))?),
        Op::Expand { shape } => one(g.sum_to_shape(shape)?),
        Op::Narrow { shape, dim, start } => one(TensorData::narrow_embed(shape, *dim, *start, g)?),
        // cat: each input gets its slice of g.
        Op::Cat { dim, sizes } => {
            let mut start = 0;
            let mut out = Grads::new();
            for &s in sizes {
                out.push(Some(g.narrow(*dim, start, s)?.contiguous()));
                start += s;
            }
            Ok(out)
        }
        // index_select / gather: scatter g back, adding where indices repeat.
        Op::IndexSelect { shape, dim, index } => {
            Ok(smallvec![Some(TensorData::index_add_zeros(shape, *dim, index, g)?), None])
        }
        Op::Gather { shape, dim, index } => {
            Ok(smallvec![Some(TensorData::scatter_add_zeros(shape, *dim, index, g)?), None])
        }
        // y = a @ b: da = g @ b^T, db = a^T @ g (with matmul's 1-D and batch rules undone).
        Op::Matmul { a, b } => matmul_backward(g, a, b, inputs),
        // y = x W^T + bias: dx = g W, dW = g^T x (leading dims flattened), dbias = sum of g rows.
        Op::Linear { x, w, bias } => {
            let (out_f, in_f) = (w.dims()[0], w.dims()[1]);
            let flat = x.ndim() != 2; // (*, in) inputs are handled as (rows, in)
            let g2 = if flat { g.reshape(&[-1, out_f as isize])? } else { g.clone() };
            let x2 = if flat { x.reshape(&[-1, in_f as isize])? } else { x.clone() };
            let gx = match (inputs[0].requires_grad(), flat) {
                (false, _) => None,
                (true, false) => Some(g2.matmul(w)?),
                (true, true) => Some(g2.matmul(w)?.reshape(&to_isize(x.shape()))?),
            };
            let gw = if inputs[1].requires_grad() { Some(g2.t()?.matmul(&x2)?) } else { None };
            let mut out: Grads = smallvec![gx, gw];
            if *bias {
                out.push(Some(g2.sum_dim(0, false)?));
            }
            Ok(out)
        }
        Op::Loss(loss) => crate::loss::backward(loss, g),
    }
}

/// Routes `g` to `a` where it won the comparison, to `b` where `b` won, half each on ties.
fn split_between(g: &TensorData, a: &TensorData, b: &TensorData, max: bool) -> Result<Grads> {
    let (a_wins, b_wins) = if max { (a.gt(b)?, b.gt(a)?) } else { (a.lt(b)?, b.lt(a)?) };
    let tie = a.eq(b)?;
    let dt = g.dtype();
    let half = tie.to_dtype(dt).mul_scalar(0.5)?;
    let wa = a_wins.to_dtype(dt).add(&half)?;
    let wb = b_wins.to_dtype(dt).add(&half)?;
    two(g.mul(&wa)?.sum_to_shape(a.shape())?, g.mul(&wb)?.sum_to_shape(b.shape())?)
}

fn matmul_backward(g: &TensorData, a: &TensorData, b: &TensorData, inputs: &[Tensor]) -> Result<Grads> {
    // Undo the 1-D promotions: a (k) -> (1, k), b (k) -> (k, 1), g gets those dims back.
    let a2 = if a.ndim() == 1 { a.unsqueeze(0)? } else { a.clone() };
    let b2 = if b.ndim() == 1 { b.unsqueeze(1)? } else { b.clone() };
    let mut g2 = g.clone();
    if a.ndim() == 1 {
        g2 = g2.unsqueeze(if b.ndim() == 1 { 0 } else { -2 })?;
    }
    if b.ndim() == 1 {
        g2 = g2.unsqueeze(-1)?;
    }
    let ga = if inputs[0].requires_grad() {
        Some(g2.matmul(&b2.transpose(-1, -2)?)?.sum_to_shape(a2.shape())?.reshape(&to_isize(a.shape()))?)
    } else {
        None
    };
    let gb = if inputs[1].requires_grad() {
        Some(a2.transpose(-1, -2)?.matmul(&g2)?.sum_to_shape(b2.shape())?.reshape(&to_isize(b.shape()))?)
    } else {
        None
    };
    Ok(smallvec![ga, gb])
}

pub(crate) fn to_isize(s: &Shape) -> Vec<isize> {
    s.dims().iter().map(|&d| d as isize).collect()
}

fn inverse(perm: &[isize]) -> Vec<isize> {
    let n = perm.len() as isize;
    let mut inv = vec![0isize; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[(if p < 0 { p + n } else { p }) as usize] = i as isize;
    }
    inv
}
