//! 2-D pooling over the last two dimensions of `(N, C, H, W)` or `(C, H, W)`: `max_pool2d`
//! and `avg_pool2d`, with PyTorch's options and defaults (`stride` = `kernel_size`).
//!
//! - `y = max_pool2d(x)`: each output is the largest value of its window (ties to the first
//!   in row-major order, NaN wins). Derivative: `g` goes to the position of the maximum
//!   (the index the forward pass recorded), summed where windows overlap.
//! - `y = avg_pool2d(x)`: each output is its window's sum over a divisor (the window's size,
//!   padding included by default). Derivative: `g / divisor` to every element of the window.

use crate::catalog::{Case, OpInfo, Sampler};
use crate::graph::{record, Backward, Grads};
use crate::ops::conv::{knob, Size2};
use crate::ops::one;
use crate::tensor::Tensor;
use torchlet_tensor_core::pooling::{AvgDivisor, PoolParams};
use torchlet_tensor_core::{Result, Shape, TensorData};

/// Options of [`max_pool2d_with`] (`F.max_pool2d`'s arguments), built like
/// `MaxPool2dOpts::new(3).stride(2).padding(1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2dOpts {
    /// The window's size, each at least 1.
    pub kernel_size: Size2,
    /// Step between windows; `None` (the default) is `kernel_size`.
    pub stride: Option<Size2>,
    /// Implicit `-inf` padding on both sides, at most half the dilated window. Default 0.
    pub padding: Size2,
    /// Spacing between the window's taps. Default 1.
    pub dilation: Size2,
    /// Round the output size up instead of down. Default false.
    pub ceil_mode: bool,
}

impl MaxPool2dOpts {
    /// A `kernel_size` window with PyTorch's defaults (stride = kernel_size, no padding).
    pub fn new(kernel_size: impl Into<Size2>) -> Self {
        MaxPool2dOpts {
            kernel_size: kernel_size.into(),
            stride: None,
            padding: Size2::Both(0),
            dilation: Size2::Both(1),
            ceil_mode: false,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, s: impl Into<Size2>) -> Self {
        self.stride = Some(s.into());
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
    /// Sets `ceil_mode`.
    pub fn ceil_mode(mut self, c: bool) -> Self {
        self.ceil_mode = c;
        self
    }
    /// The stride in effect (`kernel_size` when not set).
    pub fn effective_stride(&self) -> Size2 {
        self.stride.unwrap_or(self.kernel_size)
    }
    /// The kernel's view of these options.
    pub fn params(&self) -> PoolParams {
        PoolParams {
            kernel_size: self.kernel_size.pair(),
            stride: self.effective_stride().pair(),
            padding: self.padding.pair(),
            dilation: self.dilation.pair(),
            ceil_mode: self.ceil_mode,
        }
    }
}

/// Options of [`avg_pool2d_with`] (`F.avg_pool2d`'s arguments), built like
/// `AvgPool2dOpts::new(3).stride(2).count_include_pad(false)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2dOpts {
    /// The window's size, each at least 1.
    pub kernel_size: Size2,
    /// Step between windows; `None` (the default) is `kernel_size`.
    pub stride: Option<Size2>,
    /// Implicit zero padding on both sides, at most half the window. Default 0.
    pub padding: Size2,
    /// Round the output size up instead of down. Default false.
    pub ceil_mode: bool,
    /// Count the padding in the divisor. Default true.
    pub count_include_pad: bool,
    /// Divide every window's sum by this instead (not 0). Default `None`.
    pub divisor_override: Option<usize>,
}

impl AvgPool2dOpts {
    /// A `kernel_size` window with PyTorch's defaults (stride = kernel_size, no padding,
    /// `count_include_pad`).
    pub fn new(kernel_size: impl Into<Size2>) -> Self {
        AvgPool2dOpts {
            kernel_size: kernel_size.into(),
            stride: None,
            padding: Size2::Both(0),
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, s: impl Into<Size2>) -> Self {
        self.stride = Some(s.into());
        self
    }
    /// Sets the padding.
    pub fn padding(mut self, p: impl Into<Size2>) -> Self {
        self.padding = p.into();
        self
    }
    /// Sets `ceil_mode`.
    pub fn ceil_mode(mut self, c: bool) -> Self {
        self.ceil_mode = c;
        self
    }
    /// Sets `count_include_pad`.
    pub fn count_include_pad(mut self, c: bool) -> Self {
        self.count_include_pad = c;
        self
    }
    /// Sets `divisor_override`.
    pub fn divisor_override(mut self, d: Option<usize>) -> Self {
        self.divisor_override = d;
        self
    }
    /// The stride in effect (`kernel_size` when not set).
    pub fn effective_stride(&self) -> Size2 {
        self.stride.unwrap_or(self.kernel_size)
    }
    /// The kernel's view of the window.
    pub fn params(&self) -> PoolParams {
        PoolParams {
            kernel_size: self.kernel_size.pair(),
            stride: self.effective_stride().pair(),
            padding: self.padding.pair(),
            dilation: [1, 1],
            ceil_mode: self.ceil_mode,
        }
    }
    /// The kernel's view of the divisor.
    pub fn divisor(&self) -> AvgDivisor {
        AvgDivisor { count_include_pad: self.count_include_pad, divisor_override: self.divisor_override }
    }
}

/// `y = max over each window of x`: `dx[argmax] += g`.
struct MaxPool {
    indices: TensorData,
    input_shape: Shape,
}
impl Backward for MaxPool {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(g.max_pool2d_backward(&self.indices, &self.input_shape)?)
    }
}

/// `y = sum over each window of x / divisor`: `dx[window] += g / divisor`.
struct AvgPool {
    input_shape: Shape,
    p: PoolParams,
    div: AvgDivisor,
}
impl Backward for AvgPool {
    fn backward(&self, g: &TensorData, _: &[bool]) -> Result<Grads> {
        one(g.avg_pool2d_backward(&self.input_shape, &self.p, self.div)?)
    }
}

impl Tensor {
    /// Max pooling over the last two dimensions (`(N, C, H, W)` or `(C, H, W)`), like
    /// `F.max_pool2d`: output `(oh, ow)` is the largest value of the window at rows
    /// `oh*stride - padding + i*dilation` (`i < kernel_size`) and the same columns; ties go
    /// to the first in row-major order, NaN wins. Derivative: `g` to the maximum's position.
    pub fn max_pool2d(&self, opts: &MaxPool2dOpts) -> Result<Tensor> {
        Ok(self.max_pool2d_with_indices(opts)?.0)
    }

    /// [`Tensor::max_pool2d`] and the indices of the maxima, each `ih * W + iw` within its
    /// plane, as an i64 tensor of the output's shape (`return_indices=True`).
    pub fn max_pool2d_with_indices(&self, opts: &MaxPool2dOpts) -> Result<(Tensor, Tensor)> {
        let x = self.data();
        let (out, indices) = x.max_pool2d_with_indices(&opts.params())?;
        let idx = Tensor::from_data(indices.clone());
        let y = record(out, "MaxPool2DWithIndicesBackward0", &[self], || MaxPool {
            indices,
            input_shape: x.shape().clone(),
        });
        Ok((y, idx))
    }

    /// Average pooling over the last two dimensions, like `F.avg_pool2d`: each window's sum
    /// over its size (padding counted unless `count_include_pad` is false), or over
    /// `divisor_override`. Derivative: `g / divisor` to every element of the window.
    pub fn avg_pool2d(&self, opts: &AvgPool2dOpts) -> Result<Tensor> {
        let x = self.data();
        let (p, div) = (opts.params(), opts.divisor());
        let out = x.avg_pool2d(&p, div)?;
        Ok(record(out, "AvgPool2DBackward0", &[self], || AvgPool { input_shape: x.shape().clone(), p, div }))
    }
}

/// `F.max_pool2d(x, kernel_size)` (stride = kernel_size, no padding).
pub fn max_pool2d(x: &Tensor, kernel_size: impl Into<Size2>) -> Result<Tensor> {
    x.max_pool2d(&MaxPool2dOpts::new(kernel_size))
}

/// `F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)`: see
/// [`Tensor::max_pool2d`].
pub fn max_pool2d_with(x: &Tensor, opts: &MaxPool2dOpts) -> Result<Tensor> {
    x.max_pool2d(opts)
}

/// `F.max_pool2d(..., return_indices=True)`: see [`Tensor::max_pool2d_with_indices`].
pub fn max_pool2d_with_indices(x: &Tensor, opts: &MaxPool2dOpts) -> Result<(Tensor, Tensor)> {
    x.max_pool2d_with_indices(opts)
}

/// `F.avg_pool2d(x, kernel_size)` (stride = kernel_size, no padding).
pub fn avg_pool2d(x: &Tensor, kernel_size: impl Into<Size2>) -> Result<Tensor> {
    x.avg_pool2d(&AvgPool2dOpts::new(kernel_size))
}

/// `F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
/// divisor_override)`: see [`Tensor::avg_pool2d`].
pub fn avg_pool2d_with(x: &Tensor, opts: &AvgPool2dOpts) -> Result<Tensor> {
    x.avg_pool2d(opts)
}

/// A window along one dimension (kernel, stride, padding, dilation) and an input size that
/// holds at least one window.
fn window(s: &mut Sampler, dilated: bool) -> (usize, usize, usize, usize, usize) {
    let k = knob(s, 1, 3);
    let d = if dilated { knob(s, 1, 2) } else { 1 };
    let eff = k.saturating_sub(1).saturating_mul(d).saturating_add(1);
    let pad = if s.flag() { knob(s, 0, eff / 2 + 1) } else { 0 };
    let st = knob(s, 1, 3);
    let size = eff.min(8) + s.size(3);
    (k, st, pad, d, size)
}

/// A pooling input of `(N, C)` (or `C` alone) planes of `h x w`.
fn planes(s: &mut Sampler, h: usize, w: usize) -> TensorData {
    let shape = if s.chance(0.2) { vec![s.size(2), h, w] } else { vec![s.size(2), s.size(2), h, w] };
    s.float(&shape)
}

pub(crate) fn catalog() -> Vec<OpInfo> {
    vec![
        OpInfo::new("max_pool2d", |s| {
            let (kh, sh, ph, dh, h) = window(s, true);
            let (kw, sw, pw, dw, w) = window(s, true);
            let opts = MaxPool2dOpts::new((kh, kw))
                .stride((sh, sw))
                .padding((ph, pw))
                .dilation((dh, dw))
                .ceil_mode(s.flag());
            Case::new([planes(s, h, w)], move |t| t[0].max_pool2d(&opts))
        }),
        OpInfo::new("avg_pool2d", |s| {
            let (kh, sh, ph, _, h) = window(s, false);
            let (kw, sw, pw, _, w) = window(s, false);
            let divisor = if s.chance(0.2) { Some(knob(s, 1, 5)) } else { None };
            let opts = AvgPool2dOpts::new((kh, kw))
                .stride((sh, sw))
                .padding((ph, pw))
                .ceil_mode(s.flag())
                .count_include_pad(s.flag())
                .divisor_override(divisor);
            Case::new([planes(s, h, w)], move |t| t[0].avg_pool2d(&opts))
        }),
    ]
}
