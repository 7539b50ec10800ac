//! Convolutions: `conv1d` and `conv2d` with stride, padding, dilation, groups and an optional
//! bias, as `torch.nn.functional` computes them (a cross-correlation).
//!
//! For `y = conv2d(x, W, b)` with `x` `(N, C, H, W)` and `W` `(O, C / groups, KH, KW)`:
//! `y[n, o, oh, ow] = b[o] + sum over c, i, j of W[o, c, i, j] *
//! x[n, g*Cg + c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]` (zero outside `x`; `g` is the group
//! of output channel `o`, `Cg = C / groups`). The kernel (`torchlet_tensor_core::conv`)
//! computes it as one product per sample and group with `cols = im2col(x)` (the input
//! unfolded into a matrix: row `(c, i, j)` holds the input under kernel tap `(i, j)` of
//! channel `c` at every output position), `y = W @ cols + b`. Derivatives:
//!
//! - `dW = sum over the batch of g @ cols^T`;
//! - `dx = col2im(W^T @ g)` (each product added where im2col read it);
//! - `db[o] = sum of g[:, o, ...]`.
//!
//! At stride 1 (f32, AVX2 or AVX-512) the kernel reads `cols` in place as windows of the
//! zero-padded input instead of unfolding it, and computes `dx` as the convolution of the
//! padded `g` with the flipped kernel, which is the same sum.
//!
//! One recorded op (`ConvolutionBackward0`, as PyTorch names it) with one rule, whatever the
//! options. `conv1d` is the same computation over a height of 1.

use crate::catalog::{Case, Mode, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::tensor::Tensor;
use smallvec::smallvec;
use std::fmt;
use torchlet_tensor_core::conv::ConvParams;
use torchlet_tensor_core::{Result, TensorData};

/// A size along each of the two spatial dimensions, given as one number for both or as a
/// `(height, width)` pair, like PyTorch's `int | tuple[int, int]` arguments (`kernel_size=3`,
/// `stride=(2, 1)`). It prints as it was given (`3` or `(2, 1)`), as PyTorch's module reprs
/// do. `2.into()`, `(2, 1).into()` and `[2, 1].into()` make one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size2 {
    /// The same size along the height and the width.
    Both(usize),
    /// `(height, width)`.
    Pair(usize, usize),
}

impl Size2 {
    /// `[height, width]`.
    pub fn pair(self) -> [usize; 2] {
        match self {
            Size2::Both(s) => [s, s],
            Size2::Pair(h, w) => [h, w],
        }
    }
}

impl From<usize> for Size2 {
    fn from(s: usize) -> Self {
        Size2::Both(s)
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2::Pair(h, w)
    }
}

impl From<[usize; 2]> for Size2 {
    fn from([h, w]: [usize; 2]) -> Self {
        Size2::Pair(h, w)
    }
}

impl fmt::Display for Size2 {
    /// `3` or `(2, 1)`, as Python prints an int or a tuple.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size2::Both(s) => write!(f, "{s}"),
            Size2::Pair(h, w) => write!(f, "({h}, {w})"),
        }
    }
}

/// Options of [`conv2d_with`] (`F.conv2d`'s keyword arguments), built like
/// `Conv2dOpts::default().stride(2).padding(1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOpts {
    /// Step between applications of the kernel, each at least 1. Default 1.
    pub stride: Size2,
    /// Zeros added on both sides of the input. Default 0.
    pub padding: Size2,
    /// Spacing between kernel taps, each at least 1. Default 1.
    pub dilation: Size2,
    /// Channel groups: it must divide the input channels (which must be `weight.shape[1] *
    /// groups`) and the output channels. Default 1.
    pub groups: usize,
}

impl Default for Conv2dOpts {
    fn default() -> Self {
        Conv2dOpts { stride: Size2::Both(1), padding: Size2::Both(0), dilation: Size2::Both(1), groups: 1 }
    }
}

impl Conv2dOpts {
    /// Sets the stride (`2` or `(2, 1)`).
    pub fn stride(mut self, s: impl Into<Size2>) -> Self {
        self.stride = s.into();
        self
    }
    /// Sets the padding.
    pub fn padding(mut self, p: impl Into<Size2>) -> Self {
        self.padding = p.into();
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, d: impl Into<Size2>) -> Self {
        self.dilation = d.into();
        self
    }
    /// Sets the number of groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
    /// The kernel's view of these options.
    pub fn params(&self) -> ConvParams {
        ConvParams::new_2d(self.stride.pair(), self.padding.pair(), self.dilation.pair(), self.groups)
    }
}

/// Options of [`conv1d_with`] (`F.conv1d`'s keyword arguments), built like
/// `Conv1dOpts::default().stride(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dOpts {
    /// Step between applications of the kernel, at least 1. Default 1.
    pub stride: usize,
    /// Zeros added on both sides of the input. Default 0.
    pub padding: usize,
    /// Spacing between kernel taps, at least 1. Default 1.
    pub dilation: usize,
    /// Channel groups (see [`Conv2dOpts::groups`]). Default 1.
    pub groups: usize,
}

impl Default for Conv1dOpts {
    fn default() -> Self {
        Conv1dOpts { stride: 1, padding: 0, dilation: 1, groups: 1 }
    }
}

impl Conv1dOpts {
    /// Sets the stride.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = s;
        self
    }
    /// Sets the padding.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = p;
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = d;
        self
    }
    /// Sets the number of groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
    /// The kernel's view of these options.
    pub fn params(&self) -> ConvParams {
        ConvParams::new_1d(self.stride, self.padding, self.dilation, self.groups)
    }
}

/// `y = conv(x, W) + b`: `dx = col2im(W^T g)`, `dW = sum over the batch of g cols^T`,
/// `db = sum of g` over everything but the channels (see the module docs).
struct Convolution {
    x: TensorData,
    w: TensorData,
    bias: bool,
    p: ConvParams,
}
impl Backward for Convolution {
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads> {
        let wants = [needs[0], needs[1], self.bias && needs.get(2).copied().unwrap_or(false)];
        let grads = self.x.conv_backward(&self.w, g, wants, &self.p)?;
        let mut out: Grads = smallvec![grads.input, grads.weight];
        if self.bias {
            out.push(grads.bias);
        }
        Ok(out)
    }
}

/// Both ranks: the kernel, then one recorded op.
fn convolution(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: ConvParams,
    one_d: bool,
) -> Result<Tensor> {
    let (xd, wd) = (x.data(), weight.data());
    let bd = bias.map(Tensor::data);
    let out = if one_d { xd.conv1d(&wd, bd.as_ref(), &p)? } else { xd.conv2d(&wd, bd.as_ref(), &p)? };
    let mut inputs = vec![x, weight];
    inputs.extend(bias);
    Ok(record(out, "ConvolutionBackward0", &inputs, || Convolution { x: xd, w: wd, bias: bias.is_some(), p }))
}

impl Tensor {
    /// 2-D convolution of `self` (`(N, C, H, W)`, or unbatched `(C, H, W)`) with `weight`
    /// (`(O, C / groups, KH, KW)`) plus `bias` (`(O)`), like `F.conv2d(x, weight, bias,
    /// stride, padding, dilation, groups)`. The output is `(N, O, OH, OW)` with
    /// `OH = (H + 2*padding - dilation*(KH - 1) - 1) / stride + 1` (the same for the width).
    /// Derivatives: see the [module docs](self).
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, opts: &Conv2dOpts) -> Result<Tensor> {
        convolution(self, weight, bias, opts.params(), false)
    }

    /// 1-D convolution of `self` (`(N, C, L)`, or unbatched `(C, L)`) with `weight`
    /// (`(O, C / groups, K)`) plus `bias` (`(O)`), like `F.conv1d`. The output is
    /// `(N, O, L_out)` with `L_out = (L + 2*padding - dilation*(K - 1) - 1) / stride + 1`.
    /// Derivatives: those of [`Tensor::conv2d`] over a height of 1.
    pub fn conv1d(&self, weight: &Tensor, bias: Option<&Tensor>, opts: &Conv1dOpts) -> Result<Tensor> {
        convolution(self, weight, bias, opts.params(), true)
    }
}

/// `F.conv2d(x, weight, bias)` with stride 1, no padding, dilation 1, one group.
pub fn conv2d(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    x.conv2d(weight, bias, &Conv2dOpts::default())
}

/// `F.conv2d(x, weight, bias, stride, padding, dilation, groups)`: see [`Tensor::conv2d`].
pub fn conv2d_with(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, opts: &Conv2dOpts) -> Result<Tensor> {
    x.conv2d(weight, bias, opts)
}

/// `F.conv1d(x, weight, bias)` with stride 1, no padding, dilation 1, one group.
pub fn conv1d(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    x.conv1d(weight, bias, &Conv1dOpts::default())
}

/// `F.conv1d(x, weight, bias, stride, padding, dilation, groups)`: see [`Tensor::conv1d`].
pub fn conv1d_with(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, opts: &Conv1dOpts) -> Result<Tensor> {
    x.conv1d(weight, bias, opts)
}

/// An option value in `lo..lo + n`; in `Fuzz` sometimes 0 or huge.
pub(crate) fn knob(s: &mut Sampler, lo: usize, n: usize) -> usize {
    if s.mode() == Mode::Fuzz && s.chance(0.1) {
        s.pick(&[0, 1 << 40, usize::MAX / 2, usize::MAX])
    } else {
        lo + s.below(n)
    }
}

/// A convolution case: `spatial` 1 or 2, `pointwise` for a 1x1 kernel at stride 1 without
/// padding (the path without im2col).
fn conv_case(s: &mut Sampler, spatial: usize, pointwise: bool) -> Case {
    let groups = if s.chance(0.3) { 2 } else { knob(s, 1, 1) };
    let (cg, og, n) = (s.size(2), s.size(2), s.size(2));
    let mut x_shape = vec![n, cg * groups.min(4)];
    let mut w_shape = vec![og * groups.min(4), cg];
    let (mut stride, mut padding, mut dilation) = (vec![], vec![], vec![]);
    for _ in 0..spatial {
        let (k, st, pad, dil) = if pointwise {
            (1, 1, 0, knob(s, 1, 2))
        } else {
            (1 + s.below(3), knob(s, 1, 2), knob(s, 0, 2), knob(s, 1, 2))
        };
        // An input at least as large as the dilated kernel (in the modes that respect sizes;
        // a huge fuzzed dilation must not make a huge input).
        let size = (k - 1) * dil.min(3) + s.size(3);
        x_shape.push(size);
        w_shape.push(k);
        stride.push(st);
        padding.push(pad);
        dilation.push(dil);
    }
    if s.chance(0.2) {
        x_shape.remove(0); // unbatched
    }
    let (x, w) = (s.float(&x_shape), s.float(&w_shape));
    let with_bias = s.flag();
    let b = s.float(&[w_shape[0]]);
    let inputs = if with_bias { vec![x, w, b] } else { vec![x, w] };
    if spatial == 1 {
        let opts = Conv1dOpts { stride: stride[0], padding: padding[0], dilation: dilation[0], groups };
        Case::new(inputs, move |t| t[0].conv1d(&t[1], t.get(2), &opts))
    } else {
        let opts = Conv2dOpts {
            stride: (stride[0], stride[1]).into(),
            padding: (padding[0], padding[1]).into(),
            dilation: (dilation[0], dilation[1]).into(),
            groups,
        };
        Case::new(inputs, move |t| t[0].conv2d(&t[1], t.get(2), &opts))
    }
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        OpInfo::new("conv2d", |s| conv_case(s, 2, false)),
        OpInfo::new("conv2d_1x1", |s| conv_case(s, 2, true)),
        OpInfo::new("conv1d", |s| conv_case(s, 1, false)),
    ]
}
