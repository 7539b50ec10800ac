//! Convolution: PyTorch's `conv1d` and `conv2d` (a cross-correlation, as in every deep
//! learning library: the kernel is not flipped) by im2col and GEMM, and the three gradients
//! its backward rule needs.
//!
//! For one sample and one group, with `Cg = C / groups` input channels, `Og = O / groups`
//! output channels, a `KH x KW` kernel and an output of `L = OH * OW` positions:
//!
//! - **im2col** unfolds the input into `cols`, a `(Cg*KH*KW) x L` matrix: row `(c, i, j)`
//!   holds, for every output position `(oh, ow)`, the input value under kernel tap `(i, j)`,
//!   `x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]` (0 where that falls in the padding);
//! - the **output** is then one matrix product: `y (Og x L) = W (Og x Cg*KH*KW) @ cols + b`;
//! - **backward**, from the upstream gradient `g (Og x L)`: `dW += g @ cols^T` (summed over
//!   the batch), `dcols = W^T @ g`, which **col2im** folds back onto the input (the adjoint
//!   of im2col: every entry is added where im2col read it from), and `db = sum of g` over
//!   the batch and the positions.
//!
//! A 1-D convolution is the 2-D one over a height of 1. A 1x1 kernel with stride 1 and no
//! padding needs no im2col: the input already is `cols`. The samples are independent: above
//! a size threshold the batch is split among the threads, each with its own `cols` scratch
//! (from the buffer cache, [`crate::pool`]) and its own partial `dW`, and each product runs
//! on its thread. The copies in im2col and col2im are row slices (contiguous when the stride
//! is 1); the index arithmetic is done once per row, never per element.
//!
//! **Direct** (f32 with AVX2 or AVX-512, stride 1, padding at most the dilated kernel's reach
//! `d (k - 1)`: `Geometry::direct`): nothing is unfolded. Each sample's planes are copied into
//! zero-bordered planes, where row `(c, i, j)` of `cols` is a window read in place
//! ([`crate::matmul`]'s `windows` products): the output is `W @ windows(x)`, the input gradient
//! the same product over the padded `g` with the kernel flipped and its channel dims swapped
//! (a stride-1 convolution's adjoint is one), and `dW^T = windows(x) @ g^T` (for 16, 24 or 32
//! output channels per group). For the bench's `32 x 16 x 32 x 32` 3x3 convolution forward and
//! backward this took 6,500 -> 5,100 us (medians of 6 alternating runs): no im2col, col2im
//! or transposed write-back, and products at ~90% of the FMA peak.
//!
//! **Winograd** (`winograd.rs`): where the direct products run, a 3x3 kernel without dilation
//! with even output sides and at least 8 channels each way takes F(2x2, 3x3) for the forward
//! and the input gradient (rows times channels at least 128: 8 x 8 runs direct), and for
//! the weight gradient (16, 24 or 32 output channels per group) its transpose: products over transformed 4x4 tiles, 16 multiply-adds per 2x2
//! outputs and channel instead of 36. The bench's convolution forward and backward: 5,070 ->
//! 3,993 us natively, 5,114 -> 3,907 us with AVX2 (A/B, medians of 4 and 3 alternating runs).

use crate::matmul::{gemm_strided, gemm_strided_serial, windows, Strided};
use crate::{pool, with_float, Error, Float, Numeric, Result, Shape, TensorData};
use rayon::prelude::*;
use std::ops::Range;

#[cfg(target_arch = "x86_64")]
mod winograd;
use winograd::{Winograd, WinogradGrad};

/// Off x86-64 the direct products do not run ([`windows::applies`] is false), so neither
/// does F(2x2, 3x3): the x86-64 module's signatures, declining every call.
#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::extra_unused_type_parameters)]
mod winograd {
    use super::Windows;
    use crate::{Float, Result};
    pub(super) enum Winograd {}
    pub(super) enum WinogradGrad {}
    impl WinogradGrad {
        pub(super) fn new<T: Float>(
            _: &'static str,
            _: &Windows,
            _: [usize; 2],
            _: [usize; 2],
            _: usize,
            _: [usize; 2],
        ) -> Result<Option<Self>> {
            Ok(None)
        }
        pub(super) fn run<T: Float>(&mut self, _: usize, _: &[T], _: &[T]) {
            match *self {}
        }
        pub(super) fn finish<T: Float>(self, _: &mut [T]) {
            match self {}
        }
    }
    impl Winograd {
        pub(super) fn new<T: Float>(
            _: &'static str,
            _: &Windows,
            _: [usize; 2],
            _: [usize; 2],
            _: &[T],
            _: usize,
            _: usize,
        ) -> Result<Option<Self>> {
            Ok(None)
        }
        pub(super) fn run<T: Float>(&mut self, _: usize, _: &[T], _: Option<&[T]>, _: &mut [T]) {
            match *self {}
        }
        pub(super) fn give_back(self) {
            match self {}
        }
    }
}

/// Products (multiply-adds over the whole batch) above which the batch is split among the
/// threads: below it, scheduling costs more than it saves.
const PARALLEL_CONV: usize = 1 << 20;

/// The options of a convolution per spatial dimension, `[height, width]`. A 1-D convolution
/// is a 2-D one over a height of 1, with stride 1, padding 0 and dilation 1 along it
/// ([`ConvParams::new_1d`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvParams {
    /// Step between two applications of the kernel (each at least 1).
    pub stride: [usize; 2],
    /// Zeros added on both sides of the input.
    pub padding: [usize; 2],
    /// Spacing between kernel taps (each at least 1; 1 is a dense kernel).
    pub dilation: [usize; 2],
    /// Input and output channels are split into this many groups, each convolved with its
    /// own slice of the weight (at least 1; it must divide both channel counts).
    pub groups: usize,
}

impl Default for ConvParams {
    /// PyTorch's defaults: stride 1, padding 0, dilation 1, groups 1.
    fn default() -> Self {
        ConvParams { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

impl ConvParams {
    /// The options of a 2-D convolution (`[height, width]` each).
    pub fn new_2d(stride: [usize; 2], padding: [usize; 2], dilation: [usize; 2], groups: usize) -> Self {
        ConvParams { stride, padding, dilation, groups }
    }

    /// The options of a 1-D convolution (along the width; the height entries are 1, 0, 1).
    pub fn new_1d(stride: usize, padding: usize, dilation: usize, groups: usize) -> Self {
        ConvParams { stride: [1, stride], padding: [0, padding], dilation: [1, dilation], groups }
    }
}

/// The gradients of a convolution's inputs (`None` where not asked for).
#[derive(Clone, Debug, Default)]
pub struct ConvGrads {
    /// `dL/dinput`, of the input's shape.
    pub input: Option<TensorData>,
    /// `dL/dweight`, of the weight's shape.
    pub weight: Option<TensorData>,
    /// `dL/dbias`, of shape `(out_channels)`.
    pub bias: Option<TensorData>,
}

impl TensorData {
    /// `conv1d(input, weight, bias)` as PyTorch computes it: `input` `(N, C, L)` or unbatched
    /// `(C, L)`, `weight` `(O, C / groups, K)`, `bias` `(O)`; the output is `(N, O, L_out)`
    /// (or `(O, L_out)`) with `L_out = (L + 2*padding - dilation*(K - 1) - 1) / stride + 1`.
    /// `p` holds the width options in its second entries (see [`ConvParams::new_1d`]).
    pub fn conv1d(
        &self,
        weight: &TensorData,
        bias: Option<&TensorData>,
        p: &ConvParams,
    ) -> Result<TensorData> {
        convolution("conv1d", 1, self, weight, bias, p)
    }

    /// `conv2d(input, weight, bias)` as PyTorch computes it: `input` `(N, C, H, W)` or
    /// unbatched `(C, H, W)`, `weight` `(O, C / groups, KH, KW)`, `bias` `(O)`:
    /// `y[n, o, oh, ow] = b[o] + sum over c, i, j of W[o, c, i, j] *
    /// x[n, g*Cg + c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]` (zero outside the input), where
    /// `g` is the group of output channel `o`. The output is `(N, O, OH, OW)` with
    /// `OH = (H + 2*ph - dh*(KH - 1) - 1) / sh + 1` (and the same for the width).
    pub fn conv2d(
        &self,
        weight: &TensorData,
        bias: Option<&TensorData>,
        p: &ConvParams,
    ) -> Result<TensorData> {
        convolution("conv2d", 2, self, weight, bias, p)
    }

    /// The gradients of [`TensorData::conv1d`] or [`TensorData::conv2d`] (by the weight's
    /// rank) at input `self` and `weight`, from the upstream gradient `grad_output` (of the
    /// output's shape). `needs` says which of input, weight and bias are wanted; the bias
    /// gradient is the sum of `grad_output` over every dimension but the channels.
    pub fn conv_backward(
        &self,
        weight: &TensorData,
        grad_output: &TensorData,
        needs: [bool; 3],
        p: &ConvParams,
    ) -> Result<ConvGrads> {
        let (op, spatial) = if weight.ndim() == 3 { ("conv1d", 1) } else { ("conv2d", 2) };
        let geo = geometry(op, spatial, self, weight, None, p)?;
        let out_dims = geo.output_dims(spatial);
        if grad_output.dims() != out_dims.as_slice() || grad_output.dtype() != self.dtype() {
            return Err(Error::shapes(
                op,
                grad_output.shape(),
                &Shape::new(&out_dims),
                format!(
                    "mismatch: the gradient of the output (the first, dtype {}) must have the output's shape (the second) and dtype {}",
                    grad_output.dtype(),
                    self.dtype()
                ),
            ));
        }
        with_float!(self.dtype(), op, |T| {
            let (x, w, g) =
                (self.values_for::<T>(op)?, weight.values_for::<T>(op)?, grad_output.values_for::<T>(op)?);
            let mut grads = ConvGrads::default();
            let dx_need = needs[0] && !x.is_empty();
            // The direct path writes every element of dx; col2im adds onto zeros.
            let mut dx = match needs[0] {
                true if dx_need && geo.direct::<T>() => Some(pool::try_overwritable::<T>(op, self.shape())?),
                true => Some(pool::try_filled::<T>(op, self.shape(), T::ZERO)?),
                false => None,
            };
            if needs[1] || dx_need {
                let dw =
                    backward::<T>(op, &geo, &x, &w, &g, dx.as_deref_mut().filter(|_| dx_need), needs[1])?;
                if let Some(dw) = dw {
                    grads.weight = Some(TensorData::from_vec_unchecked(dw, weight.shape().clone()));
                }
            }
            grads.input = dx.map(|dx| TensorData::from_vec_unchecked(dx, self.shape().clone()));
            if needs[2] {
                let db = bias_grad::<T>(&geo, &g);
                grads.bias = Some(TensorData::from_vec_unchecked(db, Shape::new(&[geo.o])));
            }
            Ok(grads)
        })
    }
}

/// A convolution's sizes, checked: input `(n, c, h, w)`, weight `(o, c / groups, kh, kw)`,
/// output `(n, o, oh, ow)` (a 1-D convolution has `h = kh = oh = 1`).
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    /// Whether the input has a batch dimension.
    batched: bool,
    p: ConvParams,
}

impl Geometry {
    fn groups(&self) -> usize {
        self.p.groups
    }
    /// Input channels per group.
    fn cg(&self) -> usize {
        self.c / self.p.groups
    }
    /// Output channels per group.
    fn og(&self) -> usize {
        self.o / self.p.groups
    }
    /// Rows of `cols`: the kernel taps of one group, `Cg * KH * KW`.
    fn taps(&self) -> usize {
        self.cg() * self.kh * self.kw
    }
    /// Columns of `cols`: the output positions, `OH * OW`.
    fn positions(&self) -> usize {
        self.oh * self.ow
    }
    /// A 1x1 kernel at stride 1 without padding: `cols` is the input itself.
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.p.stride == [1, 1] && self.p.padding == [0, 0]
    }
    /// Whether the products run direct, over windows of the zero-padded planes
    /// ([`Windows`]) instead of an unfolded `cols`: for f32 where [`windows`] runs, at stride 1,
    /// with a padding of at most the dilated kernel's reach `d (k - 1)` (so the padded planes
    /// stay small, and the input gradient's own padding `d (k - 1) - p` is not negative), for
    /// every kernel but the pointwise one (which unfolds nothing anyway), with input channels
    /// and output positions.
    fn direct<T: Float>(&self) -> bool {
        let reach = |k: usize, d: usize| (k - 1) * d; // no overflow: `geometry` checked it
        windows::applies::<T>()
            && self.p.stride == [1, 1]
            && !self.pointwise()
            && self.p.padding[0] <= reach(self.kh, self.p.dilation[0])
            && self.p.padding[1] <= reach(self.kw, self.p.dilation[1])
            && self.h * self.w > 0
            && self.positions() > 0
            && self.cg() > 0
    }
    /// The output's dims in the input's rank.
    fn output_dims(&self, spatial: usize) -> Vec<usize> {
        let mut d = if self.batched { vec![self.n, self.o] } else { vec![self.o] };
        if spatial == 2 {
            d.push(self.oh);
        }
        d.push(self.ow);
        d
    }
}

/// `[1, 2, 3]` for error messages.
fn dims_str(d: &[usize]) -> String {
    Shape::new(d).to_string()
}

/// Checks a convolution's arguments as PyTorch does (in its order, with its wording) and
/// works out its sizes. `spatial` is 1 or 2.
fn geometry(
    op: &'static str,
    spatial: usize,
    x: &TensorData,
    w: &TensorData,
    bias: Option<&TensorData>,
    p: &ConvParams,
) -> Result<Geometry> {
    let (xd, wd) = (x.dims(), w.dims());
    if xd.len() != spatial + 1 && xd.len() != spatial + 2 {
        return Err(Error::invalid(
            op,
            format!(
                "expected {}D (unbatched) or {}D (batched) input to {op}, but got input of size: {}",
                spatial + 1,
                spatial + 2,
                dims_str(xd)
            ),
        ));
    }
    if wd.len() != spatial + 2 {
        let layout = if spatial == 1 {
            "(out_channels, in_channels / groups, kW)"
        } else {
            "(out_channels, in_channels / groups, kH, kW)"
        };
        return Err(Error::invalid(
            op,
            format!("expected a {}D weight {layout}, but got weight of size: {}", spatial + 2, dims_str(wd)),
        ));
    }
    for t in std::iter::once(w).chain(bias) {
        if t.dtype() != x.dtype() {
            return Err(Error::dtype(
                op,
                format!("weight and bias of the input's dtype {}", x.dtype()),
                t.dtype(),
                format!("; convert with .to_dtype(DType::{:?})", x.dtype()),
            ));
        }
    }
    if !x.dtype().is_float() {
        return Err(Error::need_float(op, x.dtype()));
    }
    // The options that matter for this rank (a 1-D convolution's are the width entries).
    let used = |a: [usize; 2]| if spatial == 1 { vec![a[1]] } else { a.to_vec() };
    if used(p.stride).contains(&0) {
        return Err(Error::invalid(
            op,
            format!("non-positive stride is not supported (stride={:?})", used(p.stride)),
        ));
    }
    if used(p.dilation).contains(&0) {
        return Err(Error::invalid(
            op,
            format!("dilation should be greater than zero, but got {:?}", used(p.dilation)),
        ));
    }
    if p.groups == 0 {
        return Err(Error::invalid(op, "non-positive groups is not supported (groups=0)"));
    }
    let batched = xd.len() == spatial + 2;
    // Everything as 2-D: (n, c, h, w) and (o, cg, kh, kw).
    let x4: [usize; 4] = match (batched, spatial) {
        (true, 2) => [xd[0], xd[1], xd[2], xd[3]],
        (true, _) => [xd[0], xd[1], 1, xd[2]],
        (false, 2) => [1, xd[0], xd[1], xd[2]],
        (false, _) => [1, xd[0], 1, xd[1]],
    };
    let w4: [usize; 4] = if spatial == 2 { [wd[0], wd[1], wd[2], wd[3]] } else { [wd[0], wd[1], 1, wd[2]] };
    let [n, c, h, wi] = x4;
    let [o, cg, kh, kw] = w4;
    if kh == 0 || kw == 0 {
        return Err(Error::invalid(
            op,
            if spatial == 2 {
                format!(
                    "kernel size should be greater than zero, but got kernel_height: {kh} kernel_width: {kw}"
                )
            } else {
                format!("kernel size should be greater than zero, but got kernel_width: {kw}")
            },
        ));
    }
    if o == 0 || o % p.groups != 0 {
        return Err(Error::invalid(
            op,
            format!(
                "given groups={}, expected weight to be {} at dimension 0, but got weight of size {} instead",
                p.groups,
                if o == 0 { "at least 1".to_string() } else { format!("divisible by {}", p.groups) },
                dims_str(wd)
            ),
        ));
    }
    if cg.checked_mul(p.groups) != Some(c) {
        return Err(Error::shapes(
            op,
            x.shape(),
            w.shape(),
            format!(
                "disagree: given groups={}, weight of size {} expected input{} to have {} channels, but got {c} channels instead (input channels must be weight.shape[1] * groups)",
                p.groups,
                dims_str(wd),
                dims_str(xd),
                cg.saturating_mul(p.groups)
            ),
        ));
    }
    if let Some(b) = bias {
        if b.dims() != [o] {
            return Err(Error::shapes(
                op,
                w.shape(),
                b.shape(),
                format!(
                    "mismatch: given weight of size {}, expected bias to be 1-dimensional with {o} elements, but got bias of size {} instead",
                    dims_str(wd),
                    dims_str(b.dims())
                ),
            ));
        }
    }
    if (h == 0 || wi == 0) && n != 0 && c != 0 {
        return Err(Error::invalid(
            op,
            format!(
                "only zero batch or zero channel inputs are supported, but got input shape: {}",
                dims_str(xd)
            ),
        ));
    }
    // Padded input and dilated kernel, per dimension; overflow is an error, not a wrap.
    let too_large = || {
        Error::invalid(
            op,
            format!("padding {:?} or dilation {:?} is too large", used(p.padding), used(p.dilation)),
        )
    };
    let padded = |size: usize, pad: usize| {
        pad.checked_mul(2).and_then(|p2| size.checked_add(p2)).ok_or_else(too_large)
    };
    let dilated =
        |k: usize, d: usize| (k - 1).checked_mul(d).and_then(|v| v.checked_add(1)).ok_or_else(too_large);
    let (ph, pw) = (padded(h, p.padding[0])?, padded(wi, p.padding[1])?);
    let (dkh, dkw) = (dilated(kh, p.dilation[0])?, dilated(kw, p.dilation[1])?);
    if ph < dkh || pw < dkw {
        let (padded_s, kernel_s) = if spatial == 2 {
            (format!("({ph} x {pw})"), format!("({dkh} x {dkw})"))
        } else {
            (format!("({pw})"), format!("({dkw})"))
        };
        return Err(Error::invalid(
            op,
            format!(
                "calculated padded input size per channel: {padded_s}. Kernel size: {kernel_s}. Kernel size can't be greater than actual input size"
            ),
        ));
    }
    let (oh, ow) = ((ph - dkh) / p.stride[0] + 1, (pw - dkw) / p.stride[1] + 1);
    // The output must be able to exist (its size checked before anything is allocated).
    let geo = Geometry { n, c, h, w: wi, o, kh, kw, oh, ow, batched, p: *p };
    Shape::new(&geo.output_dims(spatial)).validate(op, x.dtype())?;
    Ok(geo)
}

/// The forward pass of both ranks: checks, then [`forward`] on contiguous values.
fn convolution(
    op: &'static str,
    spatial: usize,
    x: &TensorData,
    w: &TensorData,
    bias: Option<&TensorData>,
    p: &ConvParams,
) -> Result<TensorData> {
    let geo = geometry(op, spatial, x, w, bias, p)?;
    let shape = Shape::new(&geo.output_dims(spatial));
    with_float!(x.dtype(), op, |T| {
        let mut out = pool::try_overwritable::<T>(op, &shape)?;
        let (xv, wv) = (x.values_for::<T>(op)?, w.values_for::<T>(op)?);
        let bv = bias.map(|b| b.values_for::<T>(op)).transpose()?;
        forward::<T>(op, &geo, &xv, &wv, bv.as_deref(), &mut out)?;
        Ok(TensorData::from_vec_unchecked(out, shape))
    })
}

/// Whether to split the batch among the threads (each product then runs on one thread).
fn split_batch(g: &Geometry) -> bool {
    let work = g.n.saturating_mul(g.o).saturating_mul(g.taps()).saturating_mul(g.positions());
    g.n > 1 && work >= PARALLEL_CONV && rayon::current_num_threads() > 1
}

/// Samples per task: the batch in one piece per thread, or whole.
fn samples_per_task(g: &Geometry, split: bool) -> usize {
    if split {
        g.n.div_ceil(rayon::current_num_threads()).max(1)
    } else {
        g.n.max(1)
    }
}

/// `dst = a @ b` (or `+=` with `accumulate`): on this thread alone when the batch is split.
#[allow(clippy::too_many_arguments)]
fn product<T: Float>(
    split: bool,
    m: usize,
    k: usize,
    n: usize,
    a: Strided<T>,
    b: Strided<T>,
    dst: &mut [T],
    accumulate: bool,
) -> Result<()> {
    if split {
        gemm_strided_serial(m, k, n, a, b, dst, accumulate)
    } else {
        gemm_strided(m, k, n, a, b, dst, accumulate)
    }
}

/// An uninitialised-looking `cols` scratch of `taps x positions` from the buffer cache (its
/// caller overwrites it in full before reading it).
fn scratch<T: Float>(op: &'static str, g: &Geometry) -> Result<Vec<T>> {
    if g.pointwise() {
        return Ok(Vec::new());
    }
    pool::try_overwritable::<T>(op, &Shape::new(&[g.taps(), g.positions()]))
}

/// `y = W @ im2col(x) + b` for every sample and group; `out` holds `(n, o, oh, ow)`.
fn forward<T: Float>(
    op: &'static str,
    g: &Geometry,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
) -> Result<()> {
    let (per_in, per_out) = (g.c * g.h * g.w, g.o * g.positions());
    if out.is_empty() {
        return Ok(());
    }
    if g.direct::<T>() {
        return forward_direct(op, g, x, w, bias, out);
    }
    let (og, taps, l, group_in) = (g.og(), g.taps(), g.positions(), g.cg() * g.h * g.w);
    let split = split_batch(g);
    for_each_task(g, out, per_out, |s0, ys| {
        let mut cols = scratch::<T>(op, g)?;
        for (k, y) in ys.chunks_exact_mut(per_out).enumerate() {
            let xs = &x[(s0 + k) * per_in..][..per_in];
            for gi in 0..g.groups() {
                let xg = &xs[gi * group_in..][..group_in];
                let yg = &mut y[gi * og * l..][..og * l];
                if let Some(b) = bias {
                    for (row, &bo) in yg.chunks_exact_mut(l).zip(&b[gi * og..(gi + 1) * og]) {
                        row.fill(bo); // the bias seeds the rows; the product adds onto it
                    }
                }
                let cols_op = if g.pointwise() {
                    Strided::new(xg, 0, l, 1)
                } else {
                    im2col(g, xg, &mut cols);
                    Strided::new(&cols[..], 0, l, 1)
                };
                let wg = Strided::new(w, gi * og * taps, taps, 1);
                product(split, og, taps, l, wg, cols_op, yg, bias.is_some())?;
            }
        }
        pool::give_back(cols);
        Ok(())
    })
}

/// Runs `task(s0, ys)` over the output in pieces of [`samples_per_task`] samples (`ys`, from
/// sample `s0` on, `per_out` values a sample), on every core when [`split_batch`] says so.
fn for_each_task<T: Float>(
    g: &Geometry,
    out: &mut [T],
    per_out: usize,
    task: impl Fn(usize, &mut [T]) -> Result<()> + Sync + Send,
) -> Result<()> {
    let split = split_batch(g);
    let chunk = samples_per_task(g, split);
    let each = |(t, ys): (usize, &mut [T])| task(t * chunk, ys);
    if split {
        crate::simd::threads::keep_awake();
        out.par_chunks_mut(chunk * per_out).enumerate().try_for_each(each)
    } else {
        out.chunks_mut(chunk * per_out).enumerate().try_for_each(each)
    }
}

/// `dx` (into `dx` when given: zeroed by the caller, unless the geometry runs direct, which writes
/// all of it) and, when `need_w`, `dW` (returned)
/// for every sample and group.
fn backward<T: Float>(
    op: &'static str,
    g: &Geometry,
    x: &[T],
    w: &[T],
    gy: &[T],
    dx: Option<&mut [T]>,
    need_w: bool,
) -> Result<Option<Vec<T>>> {
    let (per_in, per_out) = (g.c * g.h * g.w, g.o * g.positions());
    let (og, taps, l, group_in) = (g.og(), g.taps(), g.positions(), g.cg() * g.h * g.w);
    let dw_len = g.o * taps;
    if g.n == 0 || per_out == 0 {
        return Ok(need_w.then(|| vec![T::ZERO; dw_len]));
    }
    let split = split_batch(g);
    let chunk = samples_per_task(g, split);
    let tasks = g.n.div_ceil(chunk);
    // Each task's slice of dx (or none).
    let dx_parts: Vec<Option<&mut [T]>> = match dx {
        Some(dx) => dx.chunks_mut(chunk * per_in).map(Some).collect(),
        None => (0..tasks).map(|_| None).collect(),
    };
    let direct = g.direct::<T>();
    let direct_w = direct && windows::weight_applies::<T>(og);
    let task = |(t, mut dxs): (usize, Option<&mut [T]>)| -> Result<Option<Vec<T>>> {
        let mut dw = if need_w { Some(pool::try_work(op, dw_len, T::ZERO)?) } else { None };
        let unfolds = !direct || (need_w && !direct_w);
        let mut cols = if unfolds { scratch::<T>(op, g)? } else { Vec::new() };
        let mut dw_direct = if need_w && direct_w { Some(WeightGrad::new(op, g)?) } else { None };
        let mut dx_direct = match dxs.is_some() && direct {
            true => Some(InputGrad::new(op, g, w)?),
            false => None,
        };
        let samples = chunk.min(g.n - t * chunk);
        for k in 0..samples {
            let s = t * chunk + k;
            let (xs, gs) = (&x[s * per_in..][..per_in], &gy[s * per_out..][..per_out]);
            for gi in 0..g.groups() {
                let xg = &xs[gi * group_in..][..group_in];
                let gg = Strided::new(gs, gi * og * l, l, 1); // g of this group: Og x L
                if let Some(d) = dw_direct.as_mut() {
                    d.run(gi, xg, &gs[gi * og * l..][..og * l]);
                } else if let Some(dw) = dw.as_mut() {
                    // dW_g (Og x taps) += g (Og x L) @ cols^T (L x taps)
                    let cols_t = if g.pointwise() {
                        Strided::new(xg, 0, 1, l)
                    } else {
                        im2col(g, xg, &mut cols);
                        Strided::new(&cols[..], 0, 1, l)
                    };
                    product(split, og, l, taps, gg, cols_t, &mut dw[gi * og * taps..][..og * taps], true)?;
                }
                if let Some(dxs) = dxs.as_deref_mut() {
                    // dcols (taps x L) = W_g^T (taps x Og) @ g (Og x L), folded onto dx by col2im.
                    let wg_t = Strided::new(w, gi * og * taps, 1, taps);
                    let dxg = &mut dxs[k * per_in + gi * group_in..][..group_in];
                    if let Some(d) = dx_direct.as_mut() {
                        d.run(gi, &gs[gi * og * l..][..og * l], dxg);
                    } else if g.pointwise() {
                        product(split, taps, og, l, wg_t, gg, dxg, false)?;
                    } else {
                        product(split, taps, og, l, wg_t, gg, &mut cols, false)?;
                        col2im(g, &cols, dxg);
                    }
                }
            }
        }
        pool::give_back(cols);
        if let Some(d) = dx_direct {
            d.give_back();
        }
        if let (Some(d), Some(dw)) = (dw_direct, dw.as_mut()) {
            d.finish(dw);
        }
        Ok(dw)
    };
    let parts: Vec<Option<Vec<T>>> = if split {
        crate::simd::threads::keep_awake();
        dx_parts.into_par_iter().enumerate().map(task).collect::<Result<_>>()?
    } else {
        dx_parts.into_iter().enumerate().map(task).collect::<Result<_>>()?
    };
    // The weight gradient is the sum of the tasks' partial sums.
    let mut parts = parts.into_iter().flatten();
    let Some(mut dw) = parts.next() else { return Ok(None) };
    for part in parts {
        dw.iter_mut().zip(&part).for_each(|(a, &b)| *a += b);
        pool::give_back(part);
    }
    Ok(Some(dw))
}

/// Planes of `ch` channels, `h x w` each, padded by `pad` for a `k` kernel dilated by `d`
/// at stride 1, laid out for [`windows::product`]: each padded plane `hp x wp` flat, one
/// after the other (then zeros up to the last window's end); `offs[(c, i, j)]` is where the
/// window of kernel tap `(c, i, j)` starts, and `blocks` has one block per [`windows::WIDTH`]
/// outputs of each output row: output `(r, q)` reads the windows at column `r * wp + q` and
/// is written at column `r * ow_r + q` of its row of the product, `ow_r` being the output
/// width `ow` rounded up to whole blocks (when that is `ow`, the product's rows are the output
/// planes themselves).
struct Windows {
    h: usize,
    w: usize,
    pad: [usize; 2],
    wp: usize,
    /// The output plane: `oh x ow`, `ow_r` columns a row in the product.
    oh: usize,
    ow: usize,
    ow_r: usize,
    offs: Vec<usize>,
    blocks: Vec<(usize, usize)>,
    /// Values in the padded buffer: the last window's end.
    len: usize,
}

impl Windows {
    /// The layout (sizes within what `geometry` checked: no overflow).
    fn new(
        ch: usize,
        [h, w]: [usize; 2],
        pad: [usize; 2],
        [kh, kw]: [usize; 2],
        [dh, dw]: [usize; 2],
    ) -> Self {
        let (hp, wp) = (h + 2 * pad[0], w + 2 * pad[1]);
        let (oh, ow) = (hp - (kh - 1) * dh, wp - (kw - 1) * dw);
        let ow_r = ow.next_multiple_of(windows::WIDTH);
        let plane = hp * wp;
        let offs: Vec<usize> = (0..ch)
            .flat_map(|c| (0..kh).flat_map(move |i| (0..kw).map(move |j| c * plane + i * dh * wp + j * dw)))
            .collect();
        let blocks: Vec<(usize, usize)> = (0..oh)
            .flat_map(|r| (0..ow).step_by(windows::WIDTH).map(move |q| (r * wp + q, r * ow_r + q)))
            .collect();
        // The last window's end: a block of the last output row, or a whole window of every
        // output position (the weight gradient's, `oh * wp`), whichever reaches further.
        let len = match (offs.last(), blocks.last()) {
            (Some(o), Some(b)) => o + (b.0 + windows::WIDTH).max(oh * wp),
            _ => 0,
        };
        Windows { h, w, pad, wp, oh, ow, ow_r, offs, blocks, len }
    }

    /// Values per row of the product: one output plane, rows `ow_r` apart.
    fn row_len(&self) -> usize {
        self.oh * self.ow_r
    }

    /// Whether the product's rows are the output planes (no copy out).
    fn in_place(&self) -> bool {
        self.ow_r == self.ow
    }

    /// A zeroed buffer for the padded planes.
    fn buffer<T: Float>(&self, op: &'static str) -> Result<Vec<T>> {
        pool::try_work(op, self.len, T::ZERO)
    }

    /// Copies the planes `x` (`h x w` each) into the interiors of `buf`'s padded planes; the
    /// borders keep the zeros they were made with.
    fn fill<T: Float>(&self, x: &[T], buf: &mut [T]) {
        let plane = (self.h + 2 * self.pad[0]) * self.wp;
        for (c, src) in x.chunks_exact(self.h * self.w).enumerate() {
            let dst = &mut buf[c * plane + self.pad[0] * self.wp + self.pad[1]..];
            for (r, row) in src.chunks_exact(self.w).enumerate() {
                let d = &mut dst[r * self.wp..][..self.w];
                if self.w >= RUN {
                    copy_run(d, row); // image rows are short: no memcpy call per row
                } else {
                    d.copy_from_slice(row);
                }
            }
        }
    }

    /// The product's rows into `out` (`oh x ow` each), when not [`Windows::in_place`].
    fn extract<T: Float>(&self, rows: &[T], out: &mut [T]) {
        for (row, dst) in rows.chunks_exact(self.row_len()).zip(out.chunks_exact_mut(self.oh * self.ow)) {
            for (r, d) in dst.chunks_exact_mut(self.ow).enumerate() {
                d.copy_from_slice(&row[r * self.ow_r..][..self.ow]);
            }
        }
    }

    /// `dst = seed + A @ windows`: A is `m` rows of `offs.len()`, `dst` the `m` output planes,
    /// `seed` a value per row (the bias; else 0) that each sum starts from, as the unfolded
    /// path's product starts from the bias it seeds; through `scratch` (`m` rows of
    /// [`Windows::row_len`]) unless [`Windows::in_place`].
    fn product<T: Float>(
        &self,
        a: &[T],
        m: usize,
        padded: &[T],
        seed: Option<&[T]>,
        dst: &mut [T],
        scratch: &mut [T],
    ) {
        let out = if self.in_place() { &mut *dst } else { &mut *scratch };
        if let Some(seed) = seed {
            for (row, &v) in out.chunks_exact_mut(self.row_len()).zip(seed) {
                row.fill(v);
            }
        }
        windows::product(a, m, padded, &self.offs, &self.blocks, out, self.row_len(), seed.is_some());
        if !self.in_place() {
            self.extract(scratch, dst);
        }
    }

    /// The scratch [`Windows::product`] needs for `m` rows (none when in place).
    fn scratch<T: Float>(&self, op: &'static str, m: usize) -> Result<Vec<T>> {
        if self.in_place() {
            return Ok(Vec::new());
        }
        pool::try_work(op, m * self.row_len(), T::ZERO)
    }
}

/// [`forward`] by [`windows::product`] (see [`Geometry::direct`]): per sample and group, the
/// input planes into a zero-bordered buffer, one product of the weight with its windows
/// (from the bias where there is one, as the unfolded path seeds it), the output rows out.
fn forward_direct<T: Float>(
    op: &'static str,
    g: &Geometry,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
) -> Result<()> {
    let (per_in, per_out) = (g.c * g.h * g.w, g.o * g.positions());
    let (og, taps, group_in) = (g.og(), g.taps(), g.cg() * g.h * g.w);
    let win = Windows::new(g.cg(), [g.h, g.w], g.p.padding, [g.kh, g.kw], g.p.dilation);
    for_each_task(g, out, per_out, |s0, ys| {
        let mut padded = win.buffer::<T>(op)?;
        let mut wino = Winograd::new(op, &win, [g.kh, g.kw], g.p.dilation, w, g.groups(), og)?;
        let mut scratch = if wino.is_some() { Vec::new() } else { win.scratch::<T>(op, og)? };
        for (k, y) in ys.chunks_exact_mut(per_out).enumerate() {
            let xs = &x[(s0 + k) * per_in..][..per_in];
            for gi in 0..g.groups() {
                win.fill(&xs[gi * group_in..][..group_in], &mut padded);
                let wg = &w[gi * og * taps..][..og * taps];
                let seed = bias.map(|b| &b[gi * og..(gi + 1) * og]);
                let yg = &mut y[gi * og * g.positions()..][..og * g.positions()];
                match wino.as_mut() {
                    Some(wino) => wino.run(gi, &padded, seed, yg),
                    None => win.product(wg, og, &padded, seed, yg, &mut scratch),
                }
            }
        }
        pool::give_back(padded);
        pool::give_back(scratch);
        if let Some(wino) = wino {
            wino.give_back();
        }
        Ok(())
    })
}

/// The input gradient by [`windows::product`] (see [`Geometry::direct`]): at stride 1,
/// `dx[c, y, x] = sum over o, i, j of W[o, c, i, j] g[o, y + p - i d, x + p - j d]`, which is
/// a convolution of `g` padded by `d (k - 1) - p` with the kernel flipped and its two channel
/// dims swapped, `W'[c, (o, i', j')] = W[o, c, k-1-i', k-1-j']`: the forward pass's product
/// again, with no `cols` and no col2im. One per task: the flipped weight of every group,
/// the padded `g` buffer and the product's rows.
struct InputGrad<T> {
    g: Geometry,
    win: Windows,
    flipped: Vec<T>,
    padded: Vec<T>,
    scratch: Vec<T>,
    /// F(2x2, 3x3) of the flipped kernel, where it applies ([`Winograd::new`]).
    wino: Option<Winograd>,
}

impl<T: Float> InputGrad<T> {
    fn new(op: &'static str, g: &Geometry, w: &[T]) -> Result<Self> {
        let ([ph, pw], [dh, dw]) = (g.p.padding, g.p.dilation);
        let pad = [(g.kh - 1) * dh - ph, (g.kw - 1) * dw - pw]; // >= 0: `Geometry::direct`
        let win = Windows::new(g.og(), [g.oh, g.ow], pad, [g.kh, g.kw], g.p.dilation);
        let (cg, og, kk) = (g.cg(), g.og(), g.kh * g.kw);
        let mut flipped = pool::try_work(op, g.o * cg * kk, T::ZERO)?;
        // Group gi's W' is cg x (og * kk), after the groups before it.
        for (gi, wf) in flipped.chunks_exact_mut(cg * og * kk).enumerate() {
            for (c, row) in wf.chunks_exact_mut(og * kk).enumerate() {
                for (o, taps) in row.chunks_exact_mut(kk).enumerate() {
                    let src = &w[((gi * og + o) * cg + c) * kk..][..kk];
                    taps.iter_mut().zip(src.iter().rev()).for_each(|(d, &s)| *d = s);
                    // (i', j') = (k-1-i, k-1-j)
                }
            }
        }
        let padded = win.buffer::<T>(op)?;
        let wino = Winograd::new(op, &win, [g.kh, g.kw], g.p.dilation, &flipped, g.groups(), cg)?;
        let scratch = if wino.is_some() { Vec::new() } else { win.scratch::<T>(op, cg)? };
        Ok(InputGrad { g: *g, win, flipped, padded, scratch, wino })
    }

    /// `dx` of group `gi` of one sample (`Cg x H x W`, overwritten) from that group's `g`
    /// (`Og x OH x OW`).
    fn run(&mut self, gi: usize, gg: &[T], dx: &mut [T]) {
        let (cg, og, kk) = (self.g.cg(), self.g.og(), self.g.kh * self.g.kw);
        self.win.fill(gg, &mut self.padded);
        match self.wino.as_mut() {
            Some(wino) => wino.run(gi, &self.padded, None, dx),
            None => {
                let wf = &self.flipped[gi * cg * og * kk..][..cg * og * kk];
                self.win.product(wf, cg, &self.padded, None, dx, &mut self.scratch);
            }
        }
    }

    fn give_back(self) {
        pool::give_back(self.flipped);
        pool::give_back(self.padded);
        pool::give_back(self.scratch);
        if let Some(wino) = self.wino {
            wino.give_back();
        }
    }
}

/// The weight gradient by [`windows::weight_product`] (see [`Geometry::direct`]; for `Og` of
/// 16, 24 or 32): per sample and group, `dW_g^T (taps x Og) += X (taps x L') @ g^T`, where
/// row `(c, i, j)` of X is the window of that tap in the zero-bordered input planes over the
/// output positions `L' = OH * wp` (the padded row width: `wp - OW` positions past each output
/// row, where g is taken as zero), i.e. im2col's `cols` read in place. One per task: the
/// padded input, g^T's buffer, one sample's product (added to the sums after each sample, as
/// the unfolded path adds each sample's product: sums over one sample's positions, not one
/// chain over the batch) and the transposed sums of every group, added into the task's `dW`
/// at the end.
struct WeightGrad<T> {
    g: Geometry,
    win: Windows,
    padded: Vec<T>,
    packed: Vec<T>,
    sample: Vec<T>,
    sums: Vec<T>,
    /// F(2x2, 3x3) instead of the products, where it applies ([`WinogradGrad::new`]).
    wino: Option<WinogradGrad>,
}

impl<T: Float> WeightGrad<T> {
    fn new(op: &'static str, g: &Geometry) -> Result<Self> {
        let win = Windows::new(g.cg(), [g.h, g.w], g.p.padding, [g.kh, g.kw], g.p.dilation);
        let padded = win.buffer::<T>(op)?;
        let channels = [g.cg(), g.og()];
        let wino = WinogradGrad::new::<T>(op, &win, [g.kh, g.kw], g.p.dilation, g.groups(), channels)?;
        let scratch = |n: usize| if wino.is_some() { Ok(Vec::new()) } else { pool::try_work(op, n, T::ZERO) };
        let packed = scratch(g.oh * win.wp * g.og())?;
        let sample = scratch(g.og() * g.taps())?;
        let sums = scratch(g.o * g.taps())?;
        Ok(WeightGrad { g: *g, win, padded, packed, sample, sums, wino })
    }

    /// Adds group `gi`'s products of one sample: its input planes `x` (`Cg x H x W`) and output
    /// gradient `gy` (`Og x OH x OW`).
    fn run(&mut self, gi: usize, x: &[T], gy: &[T]) {
        let (og, taps) = (self.g.og(), self.g.taps());
        self.win.fill(x, &mut self.padded);
        if let Some(wino) = self.wino.as_mut() {
            return wino.run(gi, &self.padded, gy);
        }
        let sizes = [self.g.oh, self.g.ow, self.win.wp];
        windows::weight_product(
            &self.padded,
            &self.win.offs,
            gy,
            og,
            sizes,
            &mut self.packed,
            &mut self.sample,
        );
        let sums = &mut self.sums[gi * taps * og..][..taps * og];
        sums.iter_mut().zip(&self.sample).for_each(|(s, &v)| *s += v);
    }

    /// Adds the sums, transposed, into `dw` (`O x taps`).
    fn finish(self, dw: &mut [T]) {
        let (og, taps) = (self.g.og(), self.g.taps());
        if let Some(wino) = self.wino {
            wino.finish(dw);
        }
        for (gi, sums) in self.sums.chunks_exact(taps * og).enumerate() {
            for (k, row) in sums.chunks_exact(og).enumerate() {
                for (o, &v) in row.iter().enumerate() {
                    dw[(gi * og + o) * taps + k] += v;
                }
            }
        }
        pool::give_back(self.padded);
        pool::give_back(self.packed);
        pool::give_back(self.sample);
        pool::give_back(self.sums);
    }
}

/// `db[o] = sum of g[n, o, :]` over the batch.
fn bias_grad<T: Float>(g: &Geometry, gy: &[T]) -> Vec<T> {
    let l = g.positions();
    let mut db = vec![T::ZERO; g.o];
    if l == 0 {
        return db;
    }
    let cap = crate::simd::capability();
    for sample in gy.chunks_exact(g.o * l) {
        for (d, row) in db.iter_mut().zip(sample.chunks_exact(l)) {
            *d += crate::simd::kernels::sum(cap, row); // vectorised (a serial sum is 4 cycles a value)
        }
    }
    db
}

/// The output positions `o` in `0..out` whose input index `o*stride + offset - pad` lies in
/// `0..size` (a range: the positions reading the padding are at its two ends).
fn inside(out: usize, size: usize, stride: usize, pad: usize, offset: usize) -> Range<usize> {
    // o*stride + offset >= pad  <=>  o >= ceil((pad - offset) / stride)
    let lo = if pad > offset { (pad - offset).div_ceil(stride) } else { 0 };
    // o*stride + offset < size + pad  <=>  o < ceil((size + pad - offset) / stride)
    let hi = if size + pad > offset { (size + pad - offset).div_ceil(stride) } else { 0 };
    let (lo, hi) = (lo.min(out), hi.min(out));
    lo..hi.max(lo)
}

/// For each kernel tap along one dimension: the output positions reading the input (see
/// [`inside`]) and the input index the first of them reads.
fn tap_ranges(
    out: usize,
    size: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dil: usize,
) -> Vec<(Range<usize>, usize)> {
    (0..k)
        .map(|i| {
            let r = inside(out, size, stride, pad, i * dil);
            let first = if r.is_empty() { 0 } else { r.start * stride + i * dil - pad };
            (r, first)
        })
        .collect()
}

/// Unfolds one sample's group of input planes `x` (`Cg x H x W`) into `cols`
/// (`Cg*KH*KW x OH*OW`): row `(c, i, j)`, column `(oh, ow)` is
/// `x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]`, or 0 in the padding.
fn im2col<T: Float>(g: &Geometry, x: &[T], cols: &mut [T]) {
    if g.h * g.w == 0 || g.positions() == 0 {
        return; // no channels (then no rows) or no output
    }
    if g.p.stride[1] == 1 && g.ow >= RUN && padded_plane(g).is_some_and(|n| n <= g.kh * g.kw * g.positions())
    {
        im2col_padded(g, x, cols)
    } else {
        im2col_runs(g, x, cols)
    }
}

/// [`im2col`] for any geometry: per row of `cols`, the ranges of output positions that read
/// the input ([`tap_ranges`]) copied, the rest zero.
fn im2col_runs<T: Float>(g: &Geometry, x: &[T], cols: &mut [T]) {
    let (h, w, ow, l) = (g.h, g.w, g.ow, g.positions());
    let [sh, sw] = g.p.stride;
    let rows_h = tap_ranges(g.oh, h, g.kh, sh, g.p.padding[0], g.p.dilation[0]);
    let rows_w = tap_ranges(ow, w, g.kw, sw, g.p.padding[1], g.p.dilation[1]);
    let mut rows = cols.chunks_exact_mut(l);
    for plane in x.chunks_exact(h * w) {
        for (rh, ih0) in &rows_h {
            for (rw, iw0) in &rows_w {
                let row = rows.next().expect("cols has Cg*KH*KW rows");
                row[..rh.start * ow].fill(T::ZERO);
                row[rh.end * ow..].fill(T::ZERO);
                for (k, oh) in rh.clone().enumerate() {
                    let src = &plane[(ih0 + k * sh) * w..][..w];
                    let dst = &mut row[oh * ow..][..ow];
                    dst[..rw.start].fill(T::ZERO);
                    dst[rw.end..].fill(T::ZERO);
                    if rw.is_empty() {
                        continue;
                    }
                    let dst = &mut dst[rw.clone()];
                    if sw == 1 {
                        dst.copy_from_slice(&src[*iw0..][..rw.len()]);
                    } else {
                        dst.iter_mut().zip(src[*iw0..].iter().step_by(sw)).for_each(|(d, &s)| *d = s);
                    }
                }
            }
        }
    }
}

/// Values per block of [`copy_run`].
const RUN: usize = 8;

/// `dst.copy_from_slice(src)` for a run of at least [`RUN`] values, in fixed blocks of
/// [`RUN`] (the last one overlapping the one before): blocks of a known size compile to vector
/// moves, where `copy_from_slice` calls `memcpy`, whose call costs as much as copying an
/// image row of a few dozen values.
#[inline(always)]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    debug_assert!(n >= RUN && src.len() == n);
    let block = |dst: &mut [T], src: &[T], at: usize| {
        let d: &mut [T; RUN] = (&mut dst[at..at + RUN]).try_into().expect("a block");
        *d = src[at..at + RUN].try_into().expect("a block");
    };
    for at in (0..n - RUN).step_by(RUN) {
        block(dst, src, at);
    }
    block(dst, src, n - RUN);
}

/// Elements of an input plane with its padding, `(H + 2 PH) x (W + 2 PW)`, or `None` if that
/// overflows. [`im2col`] takes the padded path only when this is at most the plane's rows of
/// `cols` (`KH*KW x OH*OW`, already allocated): a huge padding with a huge stride (a few
/// outputs) must not ask for a huge buffer, and within that size no offset overflows.
fn padded_plane(g: &Geometry) -> Option<usize> {
    let [ph, pw] = g.p.padding;
    let hp = ph.checked_mul(2)?.checked_add(g.h)?;
    hp.checked_mul(pw.checked_mul(2)?.checked_add(g.w)?)
}

/// [`im2col`] for a horizontal stride of 1 (and output rows of at least [`RUN`]): each input
/// plane is first copied into a zero-bordered plane with the padding in place, so every row of
/// `cols` is `OH` runs of `OW` values read straight from it, with no padding cases. Only for
/// a geometry whose [`padded_plane`] is no larger than a plane's rows of `cols`.
fn im2col_padded<T: Float>(g: &Geometry, x: &[T], cols: &mut [T]) {
    let (h, w, ow, l) = (g.h, g.w, g.ow, g.positions());
    let ([ph, pw], [dh, dw], sh) = (g.p.padding, g.p.dilation, g.p.stride[0]);
    let wp = w + 2 * pw;
    let mut padded = vec![T::ZERO; (h + 2 * ph) * wp]; // the border stays zero
    let mut rows = cols.chunks_exact_mut(l);
    // (Compiled per capability for its widest moves.)
    crate::dispatch!(crate::simd::capability(), |F| for plane in x.chunks_exact(h * w) {
        for (r, src) in plane.chunks_exact(w).enumerate() {
            padded[(r + ph) * wp + pw..][..w].copy_from_slice(src);
        }
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = rows.next().expect("cols has Cg*KH*KW rows");
                for (oh, dst) in row.chunks_exact_mut(ow).enumerate() {
                    // Output (oh, ow) reads padded row oh*sh + i*dh, column ow + j*dw.
                    copy_run(dst, &padded[(oh * sh + i * dh) * wp + j * dw..][..ow]);
                }
            }
        }
    })
}

/// The adjoint of [`im2col`]: adds every entry of `cols` onto the element of `dx`
/// (`Cg x H x W`) it was read from (entries read from the padding are dropped).
fn col2im<T: Float>(g: &Geometry, cols: &[T], dx: &mut [T]) {
    let (h, w, ow, l) = (g.h, g.w, g.ow, g.positions());
    if h * w == 0 || l == 0 {
        return;
    }
    let [sh, sw] = g.p.stride;
    let rows_h = tap_ranges(g.oh, h, g.kh, sh, g.p.padding[0], g.p.dilation[0]);
    let rows_w = tap_ranges(ow, w, g.kw, sw, g.p.padding[1], g.p.dilation[1]);
    let mut rows = cols.chunks_exact(l);
    // (Compiled per capability, so the additions run at its full width.)
    crate::dispatch!(crate::simd::capability(), |F| for plane in dx.chunks_exact_mut(h * w) {
        for (rh, ih0) in &rows_h {
            for (rw, iw0) in &rows_w {
                let row = rows.next().expect("cols has Cg*KH*KW rows");
                if rw.is_empty() {
                    continue;
                }
                for (k, oh) in rh.clone().enumerate() {
                    let dst = &mut plane[(ih0 + k * sh) * w..][..w];
                    let src = &row[oh * ow..][rw.clone()];
                    if sw == 1 {
                        dst[*iw0..][..rw.len()].iter_mut().zip(src).for_each(|(d, &s)| *d += s);
                    } else {
                        dst[*iw0..].iter_mut().step_by(sw).zip(src).for_each(|(d, &s)| *d += s);
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The geometry of a `(cg, h, w)` input and a `kh x kw` kernel (one group, one sample).
    fn geo(cg: usize, h: usize, w: usize, k: [usize; 2], p: ConvParams) -> Geometry {
        let out = |size: usize, k: usize, i: usize| {
            (size + 2 * p.padding[i] - p.dilation[i] * (k - 1) - 1) / p.stride[i] + 1
        };
        let (oh, ow) = (out(h, k[0], 0), out(w, k[1], 1));
        Geometry { n: 1, c: cg, h, w, o: 1, kh: k[0], kw: k[1], oh, ow, batched: true, p }
    }

    #[test]
    fn both_unfoldings_match_the_definition() {
        // Shapes on both sides of the padded path's bounds (OW >= 8, stride 1 along W), with
        // padding, dilation and vertical stride; the definition is im2col's doc comment.
        for (h, w, k, stride, pad, dil) in [
            (5, 9, [3, 3], [1, 1], [0, 0], [1, 1]),
            (7, 10, [3, 3], [1, 1], [1, 1], [1, 1]),
            (6, 12, [3, 2], [2, 1], [2, 1], [1, 2]),
            (4, 7, [2, 2], [1, 1], [1, 1], [1, 1]),
            (8, 17, [3, 3], [1, 2], [1, 1], [1, 1]),
            (9, 11, [1, 4], [3, 1], [0, 3], [2, 1]),
        ] {
            let g = geo(2, h, w, k, ConvParams::new_2d(stride, pad, dil, 1));
            let x: Vec<f64> = (0..2 * h * w).map(|i| i as f64 + 1.0).collect();
            let (l, rows) = (g.positions(), g.taps());
            let mut want = vec![0.0; rows * l];
            for c in 0..2 {
                for (i, j) in (0..k[0]).flat_map(|i| (0..k[1]).map(move |j| (i, j))) {
                    for (oh, ow) in (0..g.oh).flat_map(|a| (0..g.ow).map(move |b| (a, b))) {
                        let ih = (oh * stride[0] + i * dil[0]) as isize - pad[0] as isize;
                        let iw = (ow * stride[1] + j * dil[1]) as isize - pad[1] as isize;
                        if (0..h as isize).contains(&ih) && (0..w as isize).contains(&iw) {
                            want[((c * k[0] + i) * k[1] + j) * l + oh * g.ow + ow] =
                                x[c * h * w + ih as usize * w + iw as usize];
                        }
                    }
                }
            }
            let mut got = vec![f64::NAN; rows * l];
            im2col(&g, &x, &mut got);
            assert_eq!(got, want, "im2col {h}x{w} k {k:?} stride {stride:?} pad {pad:?} dil {dil:?}");
            let mut runs = vec![f64::NAN; rows * l];
            im2col_runs(&g, &x, &mut runs);
            assert_eq!(runs, want, "im2col_runs {h}x{w} k {k:?} stride {stride:?} pad {pad:?} dil {dil:?}");
        }
    }

    /// Values in [-0.5, 0.5) that look random.
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 + seed * 104_729) % 997) as f32 / 997.0 - 0.5).collect()
    }

    /// `y`, `dx` and `dw` of a 2-D convolution and `sum(y * gy)` from the definition (the
    /// doc comment of [`TensorData::conv2d`]), in f64: `dx` and `dw` add `W gy` and `x gy`
    /// wherever `y` added `W x`.
    #[allow(clippy::type_complexity)]
    fn definition(
        x: &[f32],
        [n, c, h, w]: [usize; 4],
        wt: &[f32],
        [o, cg, kh, kw]: [usize; 4],
        b: Option<&[f32]>,
        p: ConvParams,
        gy: &[f32],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let out = |size: usize, k: usize, i: usize| {
            (size + 2 * p.padding[i] - p.dilation[i] * (k - 1) - 1) / p.stride[i] + 1
        };
        let (oh, ow, og) = (out(h, kh, 0), out(w, kw, 1), o / p.groups);
        let (mut y, mut dx, mut dw) = (vec![0.0; n * o * oh * ow], vec![0.0; x.len()], vec![0.0; wt.len()]);
        for (s, oc, r, q) in (0..n).flat_map(|s| {
            (0..o).flat_map(move |oc| (0..oh).flat_map(move |r| (0..ow).map(move |q| (s, oc, r, q))))
        }) {
            let yi = ((s * o + oc) * oh + r) * ow + q;
            y[yi] = b.map_or(0.0, |b| f64::from(b[oc]));
            for (ci, i, j) in
                (0..cg).flat_map(|ci| (0..kh).flat_map(move |i| (0..kw).map(move |j| (ci, i, j))))
            {
                let ih = (r * p.stride[0] + i * p.dilation[0]) as isize - p.padding[0] as isize;
                let iw = (q * p.stride[1] + j * p.dilation[1]) as isize - p.padding[1] as isize;
                if !(0..h as isize).contains(&ih) || !(0..w as isize).contains(&iw) {
                    continue;
                }
                let xi = ((s * c + oc / og * cg + ci) * h + ih as usize) * w + iw as usize;
                let wi = ((oc * cg + ci) * kh + i) * kw + j;
                y[yi] += f64::from(wt[wi]) * f64::from(x[xi]);
                dx[xi] += f64::from(wt[wi]) * f64::from(gy[yi]);
                dw[wi] += f64::from(x[xi]) * f64::from(gy[yi]);
            }
        }
        (y, dx, dw)
    }

    #[test]
    fn direct_convolution_matches_the_definition() {
        // Stride-1 geometries that run direct where AVX2 is on (and unfolded otherwise): output
        // channels a multiple of the tile's 4 rows or not, widths off the 24-column tile, padding
        // 0 up to the dilated reach, dilation, groups, a 1-D kernel, a bias or none, the
        // bench's shape (its batch split among the threads), and no input channels (the bias).
        type Case = ([usize; 4], [usize; 4], [usize; 2], [usize; 2], usize, bool);
        #[rustfmt::skip]
        let cases: [Case; 7] = [
            ([3, 4, 7, 9], [5, 4, 3, 3], [1, 1], [1, 1], 1, true),
            ([2, 4, 6, 30], [8, 4, 3, 2], [2, 1], [1, 1], 1, false),
            ([2, 4, 9, 11], [4, 2, 3, 3], [2, 1], [2, 2], 2, true),
            ([2, 3, 1, 40], [6, 3, 1, 5], [0, 2], [1, 3], 1, true),
            ([1, 2, 5, 26], [3, 2, 2, 4], [0, 0], [1, 1], 1, false),
            ([4, 16, 32, 32], [32, 16, 3, 3], [1, 1], [1, 1], 1, true),
            ([2, 0, 5, 34], [16, 0, 3, 3], [1, 1], [1, 1], 1, true),
        ];
        for (xd, wd, pad, dil, groups, with_bias) in cases {
            let p = ConvParams::new_2d([1, 1], pad, dil, groups);
            let x = TensorData::from_vec(values(xd.iter().product(), 1), xd.to_vec()).unwrap();
            let w = TensorData::from_vec(values(wd.iter().product(), 2), wd.to_vec()).unwrap();
            let b = TensorData::from_vec(values(wd[0], 3), vec![wd[0]]).unwrap();
            let bias = with_bias.then_some(&b);
            let geo = geometry("conv2d", 2, &x, &w, bias, &p).unwrap();
            if crate::simd::enabled(crate::simd::Capability::Avx2) {
                assert_eq!(geo.direct::<f32>(), xd[1] > 0, "{xd:?} {wd:?} runs direct");
            }
            let y = x.conv2d(&w, bias, &p).unwrap();
            let gy: Vec<f32> = values(y.numel(), 4);
            let g = TensorData::from_vec(gy.clone(), y.dims().to_vec()).unwrap();
            let grads = x.conv_backward(&w, &g, [true, true, false], &p).unwrap();
            let bv = b.values::<f32>().unwrap();
            let (xv, wv) = (x.values::<f32>().unwrap(), w.values::<f32>().unwrap());
            let want = definition(&xv, xd, &wv, wd, with_bias.then_some(&bv[..]), p, &gy);
            let got = [y, grads.input.unwrap(), grads.weight.unwrap()];
            for (name, (got, want)) in ["y", "dx", "dw"].iter().zip(got.iter().zip([want.0, want.1, want.2]))
            {
                let got = got.values::<f32>().unwrap();
                assert_eq!(got.len(), want.len());
                // f32 sums of terms of size <= 0.25: up to 144 per output (measured worst 2.4e-6),
                // 288 per input gradient (3.2e-6), 4096 per weight gradient (1.4e-4, in chains
                // of ~1000); an index wrong anywhere is off by far more.
                let scale = if *name == "dw" { 5e-4 } else { 2e-5 };
                for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                    let tol = scale * (1.0 + w.abs());
                    assert!((f64::from(g) - w).abs() <= tol, "{name}[{i}] {xd:?} {wd:?}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn winograd_matches_the_definition() {
        // 3x3 stride-1 convolutions with even output sides and at least 8 channels each way,
        // which run F(2x2, 3x3) where the direct products run (forward and input gradient;
        // the weight gradient too for 16, 24 or 32 output channels per group): tile rows
        // shorter than a vector (5 and 7 tiles), a whole AVX-512 vector and one more (17),
        // several blocks of tile rows with a short last one (17 rows of 17 tiles, blocks of 7;
        // 32 rows of 33 tiles, blocks of 3), paddings 0, 1 and 2, groups, a bias or none.
        type Case = ([usize; 4], [usize; 4], [usize; 2], usize, bool);
        #[rustfmt::skip]
        let cases: [Case; 7] = [
            ([2, 8, 6, 10], [16, 8, 3, 3], [1, 1], 1, true),
            ([1, 16, 36, 36], [16, 16, 3, 3], [0, 0], 1, false),
            ([2, 16, 12, 40], [32, 8, 3, 3], [2, 2], 2, true),
            ([1, 8, 64, 66], [16, 8, 3, 3], [1, 1], 1, true),
            ([3, 12, 8, 8], [12, 12, 3, 3], [1, 1], 1, false),
            ([2, 8, 10, 14], [24, 8, 3, 3], [1, 1], 1, true),
            ([3, 16, 16, 16], [32, 16, 3, 3], [1, 1], 1, true),
        ];
        for (xd, wd, pad, groups, with_bias) in cases {
            let p = ConvParams::new_2d([1, 1], pad, [1, 1], groups);
            let x = TensorData::from_vec(values(xd.iter().product(), 5), xd.to_vec()).unwrap();
            let w = TensorData::from_vec(values(wd.iter().product(), 6), wd.to_vec()).unwrap();
            let b = TensorData::from_vec(values(wd[0], 7), vec![wd[0]]).unwrap();
            let bias = with_bias.then_some(&b);
            let g = geometry("conv2d", 2, &x, &w, bias, &p).unwrap();
            let (xv, wv) = (x.values::<f32>().unwrap(), w.values::<f32>().unwrap());
            if g.direct::<f32>() {
                // Both products take F(2x2, 3x3): the forward's over x, the input gradient's
                // over g padded by 2 - p with the flipped kernel (Og channels, Cg rows).
                let fwd = Windows::new(g.cg(), [g.h, g.w], pad, [3, 3], [1, 1]);
                let back = Windows::new(g.og(), [g.oh, g.ow], [2 - pad[0], 2 - pad[1]], [3, 3], [1, 1]);
                let wino = |win: &Windows, m: usize| Winograd::new("t", win, [3, 3], [1, 1], &wv, groups, m);
                assert!(wino(&fwd, g.og()).unwrap().is_some(), "{xd:?} {wd:?}: forward");
                assert!(wino(&back, g.cg()).unwrap().is_some(), "{xd:?} {wd:?}: input gradient");
                let grad = WinogradGrad::new::<f32>("t", &fwd, [3, 3], [1, 1], groups, [g.cg(), g.og()]);
                assert_eq!(grad.unwrap().is_some(), matches!(g.og(), 16 | 24 | 32), "{xd:?} {wd:?}: dW");
                // Not for 8 rows of 8 channels (the direct products are faster there).
                let eight = &wv[..groups * 8 * 8 * 9];
                let small = Winograd::new("t", &fwd, [3, 3], [1, 1], eight, groups, 8).unwrap();
                assert!(small.is_none(), "{xd:?}: 8 x 8");
            }
            let y = x.conv2d(&w, bias, &p).unwrap();
            let gy: Vec<f32> = values(y.numel(), 8);
            let gt = TensorData::from_vec(gy.clone(), y.dims().to_vec()).unwrap();
            let grads = x.conv_backward(&w, &gt, [true, true, false], &p).unwrap();
            let bv = b.values::<f32>().unwrap();
            let (want_y, want_dx, want_dw) =
                definition(&xv, xd, &wv, wd, with_bias.then_some(&bv[..]), p, &gy);
            let got = [
                ("y", y, want_y),
                ("dx", grads.input.unwrap(), want_dx),
                ("dw", grads.weight.unwrap(), want_dw),
            ];
            for (name, got, want) in got {
                let got = got.values::<f32>().unwrap();
                assert_eq!(got.len(), want.len());
                // Sums of up to 16 * 9 = 144 (y) or 32 * 9 = 288 (dx) terms of size <= 0.25, and
                // up to 3 * 16 * 16 = 768 per sample over up to 4,224 positions (dw), as in the
                // test above (direct: measured worst 2.4e-6, 3.2e-6 and 1.4e-4); the transforms
                // add a few roundings of partial sums of the same size.
                let scale = if name == "dw" { 5e-4 } else { 2e-5 };
                for (i, (&gv, &wv)) in got.iter().zip(&want).enumerate() {
                    let tol = scale * (1.0 + wv.abs());
                    assert!((f64::from(gv) - wv).abs() <= tol, "{name}[{i}] {xd:?} {wd:?}: {gv} vs {wv}");
                }
            }
        }
    }

    #[test]
    fn huge_padding_and_stride_read_only_zeros_without_a_huge_buffer() {
        // A 1 x 8 plane, 1x1 kernel, horizontal stride 1 (the padded path's case), vertical
        // padding p and stride 2p: OH = (1 + 2p - 1) / 2p + 1 = 2 rows of 8 outputs, reading
        // padded rows 0 and 2p, i.e. input rows -p and p: both in the padding, so all zeros.
        // With p = 2^61 the padded plane's size overflows (it wrapped to 8 elements and the
        // offsets to 0: the input was copied out); with p = 2^28 it is 2^29 * 8 elements
        // (16 GiB) for 16 outputs.
        for p in [1usize << 61, 1 << 28] {
            let g = geo(1, 1, 8, [1, 1], ConvParams::new_2d([2 * p, 1], [p, 0], [1, 1], 1));
            assert_eq!((g.oh, g.ow), (2, 8), "p = {p}");
            let x: Vec<f32> = (1..=8).map(|v| v as f32).collect();
            let mut got = vec![f32::NAN; 16];
            im2col(&g, &x, &mut got);
            assert_eq!(got, vec![0.0; 16], "p = {p}");
        }
    }
}
