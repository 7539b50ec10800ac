//! [`MaxPool2d`] and [`AvgPool2d`] (`torch.nn.MaxPool2d`, `torch.nn.AvgPool2d`): options only,
//! applied by the functional pooling (`max_pool2d_with`, `avg_pool2d_with` in
//! `torchlet_autograd::functional`, where the math and the backward rules live). Build like
//! `MaxPool2d::new(2)` or `AvgPool2d::new(3).stride(2).padding(1)`; they print as PyTorch's do.

use crate::module::{py_bool, Module};
use torchlet_autograd::functional::{AvgPool2dOpts, MaxPool2dOpts, Size2};
use torchlet_autograd::{Result, Tensor};

/// `nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False)`: the
/// largest value of each window over the last two dimensions (see
/// `functional::max_pool2d_with`). Prints as
/// `MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    /// The options passed to the functional form.
    pub opts: MaxPool2dOpts,
}

impl MaxPool2d {
    /// `nn.MaxPool2d(kernel_size)`: stride = kernel_size, no padding.
    pub fn new(kernel_size: impl Into<Size2>) -> Self {
        MaxPool2d { opts: MaxPool2dOpts::new(kernel_size) }
    }
    /// Sets the stride (see [`MaxPool2dOpts::stride`]).
    pub fn stride(mut self, s: impl Into<Size2>) -> Self {
        self.opts = self.opts.stride(s);
        self
    }
    /// Sets the padding (see [`MaxPool2dOpts::padding`]).
    pub fn padding(mut self, p: impl Into<Size2>) -> Self {
        self.opts = self.opts.padding(p);
        self
    }
    /// Sets the dilation (see [`MaxPool2dOpts::dilation`]).
    pub fn dilation(mut self, d: impl Into<Size2>) -> Self {
        self.opts = self.opts.dilation(d);
        self
    }
    /// Sets `ceil_mode` (see [`MaxPool2dOpts::ceil_mode`]).
    pub fn ceil_mode(mut self, c: bool) -> Self {
        self.opts = self.opts.ceil_mode(c);
        self
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.max_pool2d(&self.opts)
    }

    /// PyTorch's `kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False`.
    fn extra_repr(&self) -> String {
        let o = &self.opts;
        format!(
            "kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}",
            o.kernel_size,
            o.effective_stride(),
            o.padding,
            o.dilation,
            py_bool(o.ceil_mode)
        )
    }
}

/// `nn.AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False,
/// count_include_pad=True, divisor_override=None)`: the mean of each window over the last two
/// dimensions (see `functional::avg_pool2d_with`). Prints as
/// `AvgPool2d(kernel_size=2, stride=2, padding=0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2d {
    /// The options passed to the functional form.
    pub opts: AvgPool2dOpts,
}

impl AvgPool2d {
    /// `nn.AvgPool2d(kernel_size)`: stride = kernel_size, no padding, `count_include_pad`.
    pub fn new(kernel_size: impl Into<Size2>) -> Self {
        AvgPool2d { opts: AvgPool2dOpts::new(kernel_size) }
    }
    /// Sets the stride (see [`AvgPool2dOpts::stride`]).
    pub fn stride(mut self, s: impl Into<Size2>) -> Self {
        self.opts = self.opts.stride(s);
        self
    }
    /// Sets the padding (see [`AvgPool2dOpts::padding`]).
    pub fn padding(mut self, p: impl Into<Size2>) -> Self {
        self.opts = self.opts.padding(p);
        self
    }
    /// Sets `ceil_mode` (see [`AvgPool2dOpts::ceil_mode`]).
    pub fn ceil_mode(mut self, c: bool) -> Self {
        self.opts = self.opts.ceil_mode(c);
        self
    }
    /// Sets `count_include_pad` (see [`AvgPool2dOpts::count_include_pad`]).
    pub fn count_include_pad(mut self, c: bool) -> Self {
        self.opts = self.opts.count_include_pad(c);
        self
    }
    /// Sets `divisor_override` (see [`AvgPool2dOpts::divisor_override`]).
    pub fn divisor_override(mut self, d: Option<usize>) -> Self {
        self.opts = self.opts.divisor_override(d);
        self
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.avg_pool2d(&self.opts)
    }

    /// PyTorch's `extra_repr` shows only the window: `kernel_size=2, stride=2, padding=0`.
    fn extra_repr(&self) -> String {
        let o = &self.opts;
        format!("kernel_size={}, stride={}, padding={}", o.kernel_size, o.effective_stride(), o.padding)
    }
}

crate::display_as_repr!(MaxPool2d, AvgPool2d);
