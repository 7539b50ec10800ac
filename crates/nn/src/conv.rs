//! [`Conv1d`] and [`Conv2d`] (`torch.nn.Conv1d`, `torch.nn.Conv2d`): a weight and an optional
//! bias, initialised as PyTorch initialises them, applied by the functional convolution
//! (`conv1d`, `conv2d` in `torchlet_autograd::functional`, where the math and the backward
//! rule live).
//!
//! `Conv2d::new(1, 8, 3)?` is `nn.Conv2d(1, 8, 3)`; the keyword arguments go through a builder:
//! `Conv2d::builder(16, 32, 3).padding(1).build()?` is `nn.Conv2d(16, 32, 3, padding=1)`.

use crate::module::Module;
use torchlet_autograd::functional::{Conv1dOpts, Conv2dOpts, Size2};
use torchlet_autograd::{DType, Error, Generator, Result, Tensor};
use torchlet_tensor_core::random::with_global;

/// A weight of `dims` and, with `bias`, a bias of `(dims[0])`, drawn from `g` as `_ConvNd`'s
/// `reset_parameters` does ([`crate::init::conv_with_`]), requiring grad and named.
fn parameters(
    op: &'static str,
    dims: &[usize],
    bias: bool,
    dtype: DType,
    g: &mut Generator,
) -> Result<(Tensor, Option<Tensor>)> {
    let w = crate::init::zeros(op, dims, dtype)?;
    let b = if bias { Some(crate::init::zeros(op, &dims[..1], dtype)?) } else { None };
    crate::init::conv_with_(&w, b.as_ref(), g)?;
    named(w, b)
}

/// The tensors as parameters: detached, requiring grad, named `weight` and `bias`.
fn named(weight: Tensor, bias: Option<Tensor>) -> Result<(Tensor, Option<Tensor>)> {
    let w = weight.detach().requires_grad_(true)?;
    w.set_name("weight");
    let b = bias
        .map(|b| {
            let b = b.detach().requires_grad_(true)?;
            b.set_name("bias");
            Ok::<_, Error>(b)
        })
        .transpose()?;
    Ok((w, b))
}

/// Checks a layer's sizes as PyTorch's `_ConvNd` does (plus a kernel, stride and dilation of
/// at least 1, which PyTorch would only refuse in the forward pass).
fn check_sizes(
    op: &'static str,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    sizes: &[(&str, usize)],
) -> Result<()> {
    if groups == 0 {
        return Err(Error::invalid(op, "groups must be a positive integer (got 0)"));
    }
    if !in_channels.is_multiple_of(groups) {
        return Err(Error::invalid(
            op,
            format!("in_channels must be divisible by groups (in_channels={in_channels}, groups={groups})"),
        ));
    }
    if !out_channels.is_multiple_of(groups) {
        return Err(Error::invalid(
            op,
            format!(
                "out_channels must be divisible by groups (out_channels={out_channels}, groups={groups})"
            ),
        ));
    }
    if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
        return Err(Error::invalid(op, format!("{name} must be at least 1 (got 0)")));
    }
    Ok(())
}

/// The weight and bias of a layer built from tensors: the weight of rank `rank` in a float
/// dtype, the bias `(out_channels)` of the same dtype.
fn check_weights(op: &'static str, rank: usize, weight: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    if weight.ndim() != rank {
        let layout = if rank == 3 {
            "(out_channels, in_channels / groups, kW)"
        } else {
            "(out_channels, in_channels / groups, kH, kW)"
        };
        return Err(Error::invalid(
            op,
            format!("weight must have shape {layout}, got shape {}", weight.shape()),
        ));
    }
    if !weight.dtype().is_float() {
        return Err(Error::need_float(op, weight.dtype()));
    }
    if let Some(b) = bias {
        let o = weight.dims()[0];
        if b.dims() != [o] || b.dtype() != weight.dtype() {
            return Err(Error::shapes(
                op,
                &weight.shape(),
                &b.shape(),
                format!("mismatch: a weight of shape {} and dtype {} needs a bias of shape [{o}] and the same dtype (got {})", weight.shape(), weight.dtype(), b.dtype()),
            ));
        }
    }
    Ok(())
}

/// `(a, b)` as Python prints a pair.
fn tuple2(v: [usize; 2]) -> String {
    format!("({}, {})", v[0], v[1])
}

/// A 2-D convolution layer, `nn.Conv2d(in_channels, out_channels, kernel_size, stride=1,
/// padding=0, dilation=1, groups=1, bias=True)`: `forward(x) = conv2d(x, weight, bias)` for
/// `x` of shape `(N, in_channels, H, W)` or `(in_channels, H, W)`.
///
/// `weight` has shape `(out_channels, in_channels / groups, kH, kW)` and `bias`
/// `(out_channels)`. Both are initialised as PyTorch's `reset_parameters` does, from the same
/// generator in the same order (see [`crate::init::conv_`]): `U(-1/sqrt(fan_in),
/// 1/sqrt(fan_in))` with `fan_in = in_channels / groups * kH * kW`, the weight first. So after
/// `manual_seed(0)`, `Conv2d::new(1, 8, 3)` holds the numbers `nn.Conv2d(1, 8, 3)` holds after
/// `torch.manual_seed(0)`. It prints as PyTorch does:
/// `Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))`.
#[derive(Clone)]
pub struct Conv2d {
    weight: Tensor,
    bias: Option<Tensor>,
    in_channels: usize,
    out_channels: usize,
    kernel_size: [usize; 2],
    opts: Conv2dOpts,
}

/// The keyword arguments of [`Conv2d`], set one by one, then [`Conv2dBuilder::build`]:
/// `Conv2d::builder(16, 32, 3).stride(2).padding(1).bias(false).build()?`.
#[derive(Clone, Copy, Debug)]
pub struct Conv2dBuilder {
    in_channels: usize,
    out_channels: usize,
    kernel_size: Size2,
    opts: Conv2dOpts,
    bias: bool,
    dtype: Option<DType>,
}

impl Conv2dBuilder {
    /// Sets the stride (`2` or `(2, 1)`; default 1).
    pub fn stride(mut self, s: impl Into<Size2>) -> Self {
        self.opts = self.opts.stride(s);
        self
    }
    /// Sets the zero padding on both sides (default 0).
    pub fn padding(mut self, p: impl Into<Size2>) -> Self {
        self.opts = self.opts.padding(p);
        self
    }
    /// Sets the dilation (default 1).
    pub fn dilation(mut self, d: impl Into<Size2>) -> Self {
        self.opts = self.opts.dilation(d);
        self
    }
    /// Sets the number of groups (default 1; it must divide both channel counts).
    pub fn groups(mut self, g: usize) -> Self {
        self.opts = self.opts.groups(g);
        self
    }
    /// Whether the layer has a bias (default true).
    pub fn bias(mut self, b: bool) -> Self {
        self.bias = b;
        self
    }
    /// The parameters' dtype (default: the default dtype, f32 unless changed).
    pub fn dtype(mut self, d: DType) -> Self {
        self.dtype = Some(d);
        self
    }
    /// The layer, initialised from the global generator (reseed it with `manual_seed` for
    /// reproducible weights).
    pub fn build(self) -> Result<Conv2d> {
        with_global(|g| self.build_with(g))
    }
    /// The layer, initialised from `g` (weight first, then bias) as `nn.Conv2d` would draw
    /// from it if it were the default generator.
    pub fn build_with(self, g: &mut Generator) -> Result<Conv2d> {
        let [kh, kw] = self.kernel_size.pair();
        let ([sh, sw], [dh, dw]) = (self.opts.stride.pair(), self.opts.dilation.pair());
        let sizes = [
            ("kernel_size", kh),
            ("kernel_size", kw),
            ("stride", sh),
            ("stride", sw),
            ("dilation", dh),
            ("dilation", dw),
        ];
        check_sizes("Conv2d", self.in_channels, self.out_channels, self.opts.groups, &sizes)?;
        let dims = [self.out_channels, self.in_channels / self.opts.groups, kh, kw];
        let dtype = self.dtype.unwrap_or_else(torchlet_autograd::default_dtype);
        let (weight, bias) = parameters("Conv2d", &dims, self.bias, dtype, g)?;
        Ok(Conv2d {
            weight,
            bias,
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            kernel_size: [kh, kw],
            opts: self.opts,
        })
    }
}

impl Conv2d {
    /// `nn.Conv2d(in_channels, out_channels, kernel_size)`: stride 1, no padding, with bias,
    /// in the default dtype, initialised from the global generator.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: impl Into<Size2>) -> Result<Conv2d> {
        Conv2d::builder(in_channels, out_channels, kernel_size).build()
    }

    /// A builder for the keyword arguments (stride, padding, dilation, groups, bias, dtype).
    pub fn builder(in_channels: usize, out_channels: usize, kernel_size: impl Into<Size2>) -> Conv2dBuilder {
        Conv2dBuilder {
            in_channels,
            out_channels,
            kernel_size: kernel_size.into(),
            opts: Conv2dOpts::default(),
            bias: true,
            dtype: None,
        }
    }

    /// A layer with the given `weight` `(out_channels, in_channels / groups, kH, kW)`, optional
    /// `bias` `(out_channels)` (a float dtype, both the same) and options. The tensors become
    /// the layer's parameters: detached from any graph, set to require grad and named.
    pub fn from_weights(weight: Tensor, bias: Option<Tensor>, opts: Conv2dOpts) -> Result<Conv2d> {
        check_weights("Conv2d", 4, &weight, bias.as_ref())?;
        let d = weight.dims();
        let (out_channels, in_channels) = (d[0], d[1].saturating_mul(opts.groups));
        let (kernel_size, (weight, bias)) = ([d[2], d[3]], named(weight, bias)?);
        Ok(Conv2d { weight, bias, in_channels, out_channels, kernel_size, opts })
    }

    /// The weight `(out_channels, in_channels / groups, kH, kW)` (a shared handle).
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
    /// The bias `(out_channels)`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
    /// Channels of the input.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }
    /// Channels of the output.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }
    /// `[kH, kW]`.
    pub fn kernel_size(&self) -> [usize; 2] {
        self.kernel_size
    }
    /// The stride, padding, dilation and groups it applies.
    pub fn opts(&self) -> &Conv2dOpts {
        &self.opts
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(&self.weight, self.bias.as_ref(), &self.opts)
    }

    /// PyTorch's `Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))`:
    /// padding, dilation, groups and bias are shown only when not their defaults.
    fn extra_repr(&self) -> String {
        let o = &self.opts;
        let mut s = format!(
            "{}, {}, kernel_size={}, stride={}",
            self.in_channels,
            self.out_channels,
            tuple2(self.kernel_size),
            tuple2(o.stride.pair())
        );
        if o.padding.pair() != [0, 0] {
            s.push_str(&format!(", padding={}", tuple2(o.padding.pair())));
        }
        if o.dilation.pair() != [1, 1] {
            s.push_str(&format!(", dilation={}", tuple2(o.dilation.pair())));
        }
        if o.groups != 1 {
            s.push_str(&format!(", groups={}", o.groups));
        }
        if self.bias.is_none() {
            s.push_str(", bias=False");
        }
        s
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
}

crate::display_as_repr!(Conv2d, Conv1d);

/// A 1-D convolution layer, `nn.Conv1d(in_channels, out_channels, kernel_size, stride=1,
/// padding=0, dilation=1, groups=1, bias=True)`: `forward(x) = conv1d(x, weight, bias)` for
/// `x` of shape `(N, in_channels, L)` or `(in_channels, L)`.
///
/// `weight` has shape `(out_channels, in_channels / groups, kernel_size)`; initialised as
/// [`Conv2d`] is (with `fan_in = in_channels / groups * kernel_size`). It prints as PyTorch
/// does: `Conv1d(3, 4, kernel_size=(3,), stride=(1,))`.
#[derive(Clone)]
pub struct Conv1d {
    weight: Tensor,
    bias: Option<Tensor>,
    in_channels: usize,
    out_channels: usize,
    kernel_size: usize,
    opts: Conv1dOpts,
}

/// The keyword arguments of [`Conv1d`], then [`Conv1dBuilder::build`]:
/// `Conv1d::builder(4, 6, 2).stride(2).groups(2).build()?`.
#[derive(Clone, Copy, Debug)]
pub struct Conv1dBuilder {
    in_channels: usize,
    out_channels: usize,
    kernel_size: usize,
    opts: Conv1dOpts,
    bias: bool,
    dtype: Option<DType>,
}

impl Conv1dBuilder {
    /// Sets the stride (default 1).
    pub fn stride(mut self, s: usize) -> Self {
        self.opts = self.opts.stride(s);
        self
    }
    /// Sets the zero padding on both sides (default 0).
    pub fn padding(mut self, p: usize) -> Self {
        self.opts = self.opts.padding(p);
        self
    }
    /// Sets the dilation (default 1).
    pub fn dilation(mut self, d: usize) -> Self {
        self.opts = self.opts.dilation(d);
        self
    }
    /// Sets the number of groups (default 1; it must divide both channel counts).
    pub fn groups(mut self, g: usize) -> Self {
        self.opts = self.opts.groups(g);
        self
    }
    /// Whether the layer has a bias (default true).
    pub fn bias(mut self, b: bool) -> Self {
        self.bias = b;
        self
    }
    /// The parameters' dtype (default: the default dtype).
    pub fn dtype(mut self, d: DType) -> Self {
        self.dtype = Some(d);
        self
    }
    /// The layer, initialised from the global generator.
    pub fn build(self) -> Result<Conv1d> {
        with_global(|g| self.build_with(g))
    }
    /// The layer, initialised from `g` (weight first, then bias).
    pub fn build_with(self, g: &mut Generator) -> Result<Conv1d> {
        let o = &self.opts;
        let sizes = [("kernel_size", self.kernel_size), ("stride", o.stride), ("dilation", o.dilation)];
        check_sizes("Conv1d", self.in_channels, self.out_channels, o.groups, &sizes)?;
        let dims = [self.out_channels, self.in_channels / o.groups, self.kernel_size];
        let dtype = self.dtype.unwrap_or_else(torchlet_autograd::default_dtype);
        let (weight, bias) = parameters("Conv1d", &dims, self.bias, dtype, g)?;
        Ok(Conv1d {
            weight,
            bias,
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            kernel_size: self.kernel_size,
            opts: self.opts,
        })
    }
}

impl Conv1d {
    /// `nn.Conv1d(in_channels, out_channels, kernel_size)`: stride 1, no padding, with bias,
    /// in the default dtype, initialised from the global generator.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Result<Conv1d> {
        Conv1d::builder(in_channels, out_channels, kernel_size).build()
    }

    /// A builder for the keyword arguments (stride, padding, dilation, groups, bias, dtype).
    pub fn builder(in_channels: usize, out_channels: usize, kernel_size: usize) -> Conv1dBuilder {
        Conv1dBuilder {
            in_channels,
            out_channels,
            kernel_size,
            opts: Conv1dOpts::default(),
            bias: true,
            dtype: None,
        }
    }

    /// A layer with the given `weight` `(out_channels, in_channels / groups, kernel_size)`,
    /// optional `bias` and options; the tensors become its parameters (see
    /// [`Conv2d::from_weights`]).
    pub fn from_weights(weight: Tensor, bias: Option<Tensor>, opts: Conv1dOpts) -> Result<Conv1d> {
        check_weights("Conv1d", 3, &weight, bias.as_ref())?;
        let d = weight.dims();
        let (out_channels, in_channels, kernel_size) = (d[0], d[1].saturating_mul(opts.groups), d[2]);
        let (weight, bias) = named(weight, bias)?;
        Ok(Conv1d { weight, bias, in_channels, out_channels, kernel_size, opts })
    }

    /// The weight `(out_channels, in_channels / groups, kernel_size)` (a shared handle).
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
    /// The bias `(out_channels)`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
    /// Channels of the input.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }
    /// Channels of the output.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }
    /// The kernel's length.
    pub fn kernel_size(&self) -> usize {
        self.kernel_size
    }
    /// The stride, padding, dilation and groups it applies.
    pub fn opts(&self) -> &Conv1dOpts {
        &self.opts
    }
}

impl Module for Conv1d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv1d(&self.weight, self.bias.as_ref(), &self.opts)
    }

    /// PyTorch's `Conv1d(4, 6, kernel_size=(2,), stride=(2,), padding=(1,), groups=2)`.
    fn extra_repr(&self) -> String {
        let o = &self.opts;
        let mut s = format!(
            "{}, {}, kernel_size=({},), stride=({},)",
            self.in_channels, self.out_channels, self.kernel_size, o.stride
        );
        if o.padding != 0 {
            s.push_str(&format!(", padding=({},)", o.padding));
        }
        if o.dilation != 1 {
            s.push_str(&format!(", dilation=({},)", o.dilation));
        }
        if o.groups != 1 {
            s.push_str(&format!(", groups={}", o.groups));
        }
        if self.bias.is_none() {
            s.push_str(", bias=False");
        }
        s
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
}
