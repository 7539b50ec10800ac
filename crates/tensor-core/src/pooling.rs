//! 2-D pooling: PyTorch's `max_pool2d` and `avg_pool2d` over the last two dimensions of a
//! `(N, C, H, W)` or `(C, H, W)` tensor, and their gradients.
//!
//! A window slides over each `H x W` plane: output `(oh, ow)` covers the rows
//! `oh*sh - ph + i*dh` for `i < KH` (and the same for the columns), in the input padded with
//! `ph` rows and `pw` columns on each side. The output has `OH = (H + 2*ph - dh*(KH - 1) - 1)
//! / sh + 1` rows (rounded up instead of down with `ceil_mode`, dropping a last window that
//! would start in the right padding).
//!
//! - **max**: the largest value of the window (the padding never wins; NaN does, the last
//!   NaN of the window); ties go to the first in row-major order. The forward pass returns
//!   the index `ih * W + iw` of each maximum within its plane; the gradient of `x` is `g`
//!   added at those indices (several times where windows overlap).
//! - **avg**: the window's sum over a divisor: the window's size counting the padding
//!   (`count_include_pad`, PyTorch's default; a window sticking out past the right padding
//!   in `ceil_mode` is cut there), or only the elements inside the input, or
//!   `divisor_override`. The gradient spreads `g / divisor` over the window.
//!
//! The window bounds of each output row and column are computed once per call; the planes
//! are independent and split among the threads above a size threshold.

#[cfg(target_arch = "x86_64")]
use crate::dtype::{as_f32, as_f32_mut};
use crate::simd::Capability;
use crate::{pool, with_float, DType, Error, Float, Numeric, Result, Shape, TensorData};
use num_traits::Float as _;
use rayon::prelude::*;

/// Input elements above which the planes are split among the threads.
const PARALLEL_POOL: usize = 1 << 16;

/// The window of a 2-D pooling per spatial dimension, `[height, width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolParams {
    /// The window's size (each at least 1).
    pub kernel_size: [usize; 2],
    /// Step between windows (each at least 1; PyTorch's default is the kernel size).
    pub stride: [usize; 2],
    /// Implicit padding on both sides (at most half the dilated window).
    pub padding: [usize; 2],
    /// Spacing between the window's taps (max pooling only; 1 for average pooling).
    pub dilation: [usize; 2],
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
}

impl PoolParams {
    /// A `kernel_size` window at stride `kernel_size`, no padding, no dilation, floor mode
    /// (PyTorch's defaults).
    pub fn new(kernel_size: [usize; 2]) -> Self {
        PoolParams { kernel_size, stride: kernel_size, padding: [0, 0], dilation: [1, 1], ceil_mode: false }
    }
}

/// What an average divides the window's sum by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgDivisor {
    /// Count the padding in the window's size (PyTorch's default `true`).
    pub count_include_pad: bool,
    /// Divide by this instead (must not be 0).
    pub divisor_override: Option<usize>,
}

impl Default for AvgDivisor {
    /// `count_include_pad = true`, no override.
    fn default() -> Self {
        AvgDivisor { count_include_pad: true, divisor_override: None }
    }
}

/// A pooling's checked sizes: planes of `h x w` pooled to `oh x ow`, the output's dims.
#[derive(Clone, Debug)]
struct PoolGeometry {
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    out_dims: Vec<usize>,
}

/// The output size along one dimension (PyTorch's `pooling_output_shape`), or 0 when no
/// window fits; `None` when the arithmetic overflows.
fn out_size(size: usize, k: usize, s: usize, pad: usize, d: usize, ceil: bool) -> Option<usize> {
    let span = size.checked_add(pad.checked_mul(2)?)?;
    let eff = (k - 1).checked_mul(d)?.checked_add(1)?;
    if span < eff {
        return Some(0);
    }
    let room = span - eff;
    let mut out = if ceil { room.div_ceil(s) } else { room / s } + 1;
    // In ceil mode the last window must start inside the input or the left padding.
    if ceil && (out - 1) * s >= size + pad {
        out -= 1;
    }
    Some(out)
}

/// Checks a pooling's input and options as PyTorch does (its order, its wording) and works
/// out the sizes. `avg` selects average pooling's padding rule (no dilation).
fn geometry(
    op: &'static str,
    shape: &Shape,
    dtype: DType,
    p: &PoolParams,
    avg: bool,
) -> Result<PoolGeometry> {
    let [kh, kw] = p.kernel_size;
    if kh == 0 || kw == 0 {
        return Err(Error::invalid(
            op,
            format!("kernel_size must be greater than zero, but got kH: {kh} kW: {kw}"),
        ));
    }
    if p.stride.contains(&0) {
        return Err(Error::invalid(op, format!("stride should not be zero (stride={:?})", p.stride)));
    }
    if p.dilation.contains(&0) {
        return Err(Error::invalid(
            op,
            format!(
                "dilation should be greater than zero, but got dilationH: {} dilationW: {}",
                p.dilation[0], p.dilation[1]
            ),
        ));
    }
    let d = shape.dims();
    if !(d.len() == 3 || d.len() == 4) || d[d.len() - 3..].contains(&0) {
        return Err(Error::invalid(
            op,
            format!(
                "expected a 3D (C, H, W) or 4D (N, C, H, W) input with non-zero C, H and W (optionally a 0 batch size), but got input of size: {}",
                shape
            ),
        ));
    }
    if !dtype.is_float() {
        return Err(Error::need_float(op, dtype));
    }
    for i in 0..2 {
        // pad <= (effective kernel) / 2; for avg pooling, pad <= kernel / 2.
        let (k, dil, pad) = (p.kernel_size[i], p.dilation[i], p.padding[i]);
        let eff = if avg { Some(k) } else { (k - 1).checked_mul(dil).and_then(|v| v.checked_add(1)) };
        if eff.is_some_and(|e| pad > e / 2) {
            return Err(Error::invalid(
                op,
                format!("pad should be at most half of effective kernel size, but got pad={pad}, kernel_size={k} and dilation={dil}"),
            ));
        }
    }
    let (h, w) = (d[d.len() - 2], d[d.len() - 1]);
    let sizes = |i: usize, size: usize| {
        out_size(size, p.kernel_size[i], p.stride[i], p.padding[i], p.dilation[i], p.ceil_mode).ok_or_else(
            || {
                Error::invalid(
                    op,
                    format!("kernel_size {:?} or dilation {:?} is too large", p.kernel_size, p.dilation),
                )
            },
        )
    };
    let (oh, ow) = (sizes(0, h)?, sizes(1, w)?);
    let c = d[d.len() - 3];
    if oh == 0 || ow == 0 {
        return Err(Error::invalid(
            op,
            format!("given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{oh}x{ow}). Output size is too small"),
        ));
    }
    let mut out_dims = d.to_vec();
    let r = out_dims.len();
    out_dims[r - 2] = oh;
    out_dims[r - 1] = ow;
    Shape::new(&out_dims).validate(op, dtype)?;
    Ok(PoolGeometry { h, w, oh, ow, out_dims })
}

/// One dimension of a window: the taps `start, start + step, ... < end` (input indices), and
/// for average pooling the window's size counting the padding.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    padded_len: usize,
}

/// The span of every output position along one dimension. A window covers the padded
/// positions `o*s + i*d` for `i < k`, which are the input indices minus `pad`.
fn spans(out: usize, size: usize, k: usize, s: usize, pad: usize, d: usize, avg: bool) -> Vec<Span> {
    (0..out)
        .map(|o| {
            let first = o * s; // in padded coordinates
            if avg {
                // PyTorch: the window [first, first + k) cut at size + 2*pad counts for the
                // divisor; its part inside the input is summed.
                let end = first.saturating_add(k).min(size + 2 * pad);
                let (a, b) = (first.max(pad).min(size + pad), end.max(pad).min(size + pad));
                Span { start: a - pad, end: (b - pad).max(a - pad), padded_len: end - first }
            } else {
                // Skip the taps in the left padding, stop at the input's end.
                let skip = if first < pad { (pad - first).div_ceil(d) } else { 0 };
                let start = first + skip * d;
                let end = first.saturating_add((k - 1).saturating_mul(d)).saturating_add(1).min(size + pad);
                if start >= end {
                    Span { start: 0, end: 0, padded_len: 0 } // every tap in the padding
                } else {
                    Span { start: start - pad, end: end - pad, padded_len: 0 }
                }
            }
        })
        .collect()
}

/// One tap of a max-pooling window across a row of outputs: output `o` sees `row[o * s]`
/// and takes it (as tap number `t`) when it is larger than the output's best so far or NaN,
/// the rule of the window-by-window loop. f32 rows at stride 1 or 2 go sixteen (AVX-512) or
/// eight (AVX2) outputs at a time (compare and blend: no branch per element, which on
/// unordered data mispredicts half the time); the rest is the scalar loop.
fn tap_row<T: Float>(cap: Capability, y: &mut [T], won: &mut [u32], row: &[T], s: usize, t: u32) {
    // Off x86-64 the scalar loop below does every output.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if s == 1 || s == 2 {
        if let (Some(y32), Some(row32)) = (as_f32_mut(y), as_f32(row)) {
            done = taps::row(cap, y32, won, row32, s, t);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = cap;
    let row = row.get(done * s..).unwrap_or(&[]);
    for ((y, won), &v) in y[done..].iter_mut().zip(won[done..].iter_mut()).zip(row.iter().step_by(s)) {
        let take = (v > *y) | v.is_nan();
        *y = if take { v } else { *y };
        *won = if take { t } else { *won };
    }
}

/// [`tap_row`]'s vector loop, written once over [`taps::Lanes`] (`__m256`, `__m512`).
#[cfg(target_arch = "x86_64")]
mod taps {
    use crate::simd::vector::F32s;
    use crate::simd::{supported, Capability};
    use std::arch::x86_64::*;

    /// A vector of f32 lanes ([`F32s`]) with what the tap loop needs besides. Every method
    /// is `unsafe`: the CPU must have the vector's instruction set, and pointers must be valid
    /// for the lanes.
    pub(super) trait Lanes: F32s {
        /// Which lanes take the tap.
        type Mask: Copy;
        /// The bits of `t` in every lane.
        unsafe fn splat_bits(t: u32) -> Self;
        /// `row[k * s]` for `k < N`, `s` 1 or 2, reading no further than `row[(N - 1) * s]`.
        unsafe fn taps(row: *const f32, s: usize) -> Self;
        /// The lanes where `v > best` or `v` is NaN.
        unsafe fn take(v: Self, best: Self) -> Self::Mask;
        /// `then` in the lanes of `m`, `self` elsewhere.
        unsafe fn blend(self, then: Self, m: Self::Mask) -> Self;
    }

    impl Lanes for __m256 {
        type Mask = __m256;
        #[inline(always)]
        unsafe fn splat_bits(t: u32) -> Self {
            _mm256_castsi256_ps(_mm256_set1_epi32(t as i32))
        }
        #[inline(always)]
        unsafe fn taps(row: *const f32, s: usize) -> Self {
            if s == 1 {
                return _mm256_loadu_ps(row);
            }
            // The taps are a0 a2 a4 a6 of a = row[0..8] and b1 b3 b5 b7 of b = row[7..15]
            // (b starts one early so as not to read past the tap 14). Per 128-bit half:
            // a0 a2 b1 b3 | a4 a6 b5 b7; then the 64-bit quarters reordered to
            // a0 a2 a4 a6 b1 b3 b5 b7.
            let (a, b) = (_mm256_loadu_ps(row), _mm256_loadu_ps(row.add(7)));
            let e = _mm256_shuffle_ps::<0xD8>(a, b);
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(e)))
        }
        #[inline(always)]
        unsafe fn take(v: Self, best: Self) -> Self::Mask {
            _mm256_or_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(v, best), _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v))
        }
        #[inline(always)]
        unsafe fn blend(self, then: Self, m: Self::Mask) -> Self {
            _mm256_blendv_ps(self, then, m)
        }
    }

    impl Lanes for __m512 {
        type Mask = __mmask16;
        #[inline(always)]
        unsafe fn splat_bits(t: u32) -> Self {
            _mm512_castsi512_ps(_mm512_set1_epi32(t as i32))
        }
        #[inline(always)]
        unsafe fn taps(row: *const f32, s: usize) -> Self {
            if s == 1 {
                return _mm512_loadu_ps(row);
            }
            // The even elements of a = row[0..16] and the odd ones of b = row[15..31] (b
            // starts one early so as not to read past the tap 30).
            let (a, b) = (_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(15)));
            let idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31);
            _mm512_permutex2var_ps(a, idx, b)
        }
        #[inline(always)]
        unsafe fn take(v: Self, best: Self) -> Self::Mask {
            _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best) | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v)
        }
        #[inline(always)]
        unsafe fn blend(self, then: Self, m: Self::Mask) -> Self {
            _mm512_mask_blend_ps(m, self, then)
        }
    }

    /// `V::N` outputs at a time while `V::N` whole taps' worth of `row` remain; returns how
    /// many outputs it did.
    #[inline(always)]
    unsafe fn run<V: Lanes>(y: &mut [f32], won: &mut [u32], row: &[f32], s: usize, t: u32) -> usize {
        let (n, w) = (y.len().min(won.len()), V::N);
        let tv = V::splat_bits(t);
        let mut o = 0;
        // The taps of outputs o..o+w are row[(o + k) * s], k < w: the last is row[(o+w-1)*s].
        while o + w <= n && (o + w - 1) * s < row.len() {
            // SAFETY (all loads and stores): o + w <= n bounds y and won; `taps` reads
            // row[o*s..=(o+w-1)*s], in bounds.
            let v = V::taps(row.as_ptr().add(o * s), s);
            let best = V::load(y.as_ptr().add(o));
            let take = V::take(v, best);
            best.blend(v, take).store(y.as_mut_ptr().add(o));
            let wp = won.as_mut_ptr().add(o).cast::<f32>();
            V::load(wp).blend(tv, take).store(wp);
            o += w;
        }
        o
    }

    /// [`run`] with AVX-512: the CPU must have AVX-512 F (and AVX2).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
    unsafe fn run_avx512(y: &mut [f32], won: &mut [u32], row: &[f32], s: usize, t: u32) -> usize {
        run::<__m512>(y, won, row, s, t)
    }

    /// [`run`] with AVX2: the CPU must have AVX2.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(y: &mut [f32], won: &mut [u32], row: &[f32], s: usize, t: u32) -> usize {
        run::<__m256>(y, won, row, s, t)
    }

    /// The outputs of [`super::tap_row`] done in vectors at capability `cap` (lowered to what
    /// the CPU has): AVX-512 groups of 16, then AVX2 groups of 8 of the rest.
    pub(super) fn row(
        cap: Capability,
        y: &mut [f32],
        won: &mut [u32],
        row: &[f32],
        s: usize,
        t: u32,
    ) -> usize {
        let n = y.len().min(won.len());
        if n < 8 {
            return 0; // (short rows, as a small CNN's: not even one AVX2 step)
        }
        let cap = supported(cap);
        let mut done = 0;
        if n >= 16 && cap >= Capability::Avx512 {
            // SAFETY: `supported` never exceeds what the CPU has: it has AVX-512 F, BW, VL and
            // DQ, AVX2 and FMA.
            done = unsafe { run_avx512(y, won, row, s, t) };
        }
        if n - done >= 8 && cap >= Capability::Avx2 {
            let r = row.get(done * s..).unwrap_or(&[]);
            // SAFETY: as above, with AVX2 and FMA.
            done += unsafe { run_avx2(&mut y[done..], &mut won[done..], r, s, t) };
        }
        done
    }
}

/// Whether to split the planes of a tensor of `elements` among the threads.
fn split(elements: usize) -> bool {
    elements >= PARALLEL_POOL && rayon::current_num_threads() > 1
}

impl TensorData {
    /// `max_pool2d(input)` with the indices of the maxima (PyTorch's
    /// `max_pool2d(..., return_indices=True)`): the output of shape `(N, C, OH, OW)` (or
    /// `(C, OH, OW)`) and, for each output, the index `ih * W + iw` of its maximum within
    /// its plane (i64). See the module docs for the window, NaN and tie rules.
    pub fn max_pool2d_with_indices(&self, p: &PoolParams) -> Result<(TensorData, TensorData)> {
        let op = "max_pool2d";
        let geo = geometry(op, self.shape(), self.dtype(), p, false)?;
        let shape = Shape::new(&geo.out_dims);
        let [dh, dw] = p.dilation;
        let hs = spans(geo.oh, geo.h, p.kernel_size[0], p.stride[0], p.padding[0], dh, false);
        let ws = spans(geo.ow, geo.w, p.kernel_size[1], p.stride[1], p.padding[1], dw, false);
        with_float!(self.dtype(), op, |T| {
            let x = self.values_for::<T>(op)?;
            let mut out = pool::try_overwritable::<T>(op, &shape)?;
            let mut idx = pool::try_overwritable::<i64>(op, &shape)?;
            let (hw, l) = (geo.h * geo.w, geo.oh * geo.ow);
            if l > 0 && hw > 0 && !out.is_empty() {
                let [kh, kw] = p.kernel_size;
                let full = |spans: &[Span], k: usize, d: usize| {
                    spans.iter().all(|s| s.end - s.start == (k - 1) * d + 1)
                };
                let all_inside = full(&hs, kh, dh) && full(&ws, kw, dw);
                let (sw, cap) = (p.stride[1], crate::simd::capability());
                // Each tap's offset from its window's first element (for the fast path).
                let offsets: Vec<usize> =
                    (0..kh * kw).map(|t| (t / kw) * dh * geo.w + (t % kw) * dw).collect();
                let plane = |((xp, yp), ip): ((&[T], &mut [T]), &mut [i64])| {
                    if all_inside {
                        // Every window lies inside the plane (no padding reached): visit the
                        // taps one at a time across a whole output row, so each compare and
                        // select is over independent outputs (vectorised, no branches)
                        // rather than a chain of data-dependent branches within a window.
                        // The taps go in the window's row-major order: the same ties. `won`
                        // holds each output's winning tap number; the i64 indices are
                        // written once per row.
                        let mut won = vec![0u32; geo.ow];
                        for ((sh, yr), ir) in hs.iter().zip(yp.chunks_mut(geo.ow)).zip(ip.chunks_mut(geo.ow))
                        {
                            // Starting from -inf and tap 0 is the same as starting from
                            // tap 0 (a -inf or NaN first tap ends up as the answer either way).
                            yr.fill(T::neg_infinity());
                            won.fill(0);
                            for i in 0..kh {
                                let row = &xp[(sh.start + i * dh) * geo.w..][..geo.w];
                                for j in 0..kw {
                                    let first = ws[0].start + j * dw;
                                    let t = (i * kw + j) as u32;
                                    tap_row(cap, yr, &mut won, &row[first..], sw, t);
                                }
                            }
                            let row_start = sh.start * geo.w;
                            for ((a, &n), sw) in ir.iter_mut().zip(&won).zip(&ws) {
                                *a = (row_start + sw.start + offsets[n as usize]) as i64;
                            }
                        }
                        return;
                    }
                    let (mut y, mut at) = (yp.iter_mut(), ip.iter_mut());
                    for sh in &hs {
                        for sw in &ws {
                            let mut best = T::neg_infinity();
                            let mut best_at = sh.start * geo.w + sw.start;
                            for ih in (sh.start..sh.end).step_by(dh) {
                                let row = &xp[ih * geo.w..][..geo.w];
                                for iw in (sw.start..sw.end).step_by(dw) {
                                    let v = row[iw];
                                    if v > best || v.is_nan() {
                                        best = v;
                                        best_at = ih * geo.w + iw;
                                    }
                                }
                            }
                            *y.next().expect("one output per window") = best;
                            *at.next().expect("one index per window") = best_at as i64;
                        }
                    }
                };
                if split(x.len()) {
                    crate::simd::threads::keep_awake();
                    x.par_chunks(hw).zip(out.par_chunks_mut(l)).zip(idx.par_chunks_mut(l)).for_each(plane);
                } else {
                    x.chunks(hw).zip(out.chunks_mut(l)).zip(idx.chunks_mut(l)).for_each(plane);
                }
            }
            Ok((
                TensorData::from_vec_unchecked(out, shape.clone()),
                TensorData::from_vec_unchecked(idx, shape),
            ))
        })
    }

    /// The gradient of [`TensorData::max_pool2d_with_indices`]: a tensor of `input_shape`
    /// holding, in each plane, `self` (the upstream gradient) added at `indices`.
    pub fn max_pool2d_backward(&self, indices: &TensorData, input_shape: &Shape) -> Result<TensorData> {
        let op = "max_pool2d_backward";
        let d = input_shape.dims();
        let r = d.len();
        let planes_match = r >= 2 && self.ndim() == r && self.dims()[..r - 2] == d[..r - 2];
        if !planes_match || self.dims() != indices.dims() {
            return Err(Error::shapes(
                op,
                self.shape(),
                indices.shape(),
                format!("mismatch: the gradient and the indices need the output's shape, with the planes of an input of shape {input_shape}"),
            ));
        }
        if indices.dtype() != DType::I64 {
            return Err(Error::dtype(op, "i64 indices", indices.dtype(), ""));
        }
        let hw = d[r - 2].saturating_mul(d[r - 1]);
        let l = self.dims()[r - 2] * self.dims()[r - 1];
        with_float!(self.dtype(), op, |T| {
            let (g, ix) = (self.values_for::<T>(op)?, indices.values_for::<i64>(op)?);
            let mut dx = pool::try_filled::<T>(op, input_shape, T::ZERO)?;
            if let Some(&bad) = ix.iter().find(|&&i| i < 0 || i as usize >= hw) {
                return Err(Error::IndexOutOfRange {
                    op,
                    what: "index",
                    index: bad,
                    size: hw,
                    extra: " (a position in an input plane)".into(),
                });
            }
            if l > 0 && hw > 0 && !dx.is_empty() {
                let plane = |((dp, gp), ip): ((&mut [T], &[T]), &[i64])| {
                    for (&gv, &i) in gp.iter().zip(ip) {
                        dp[i as usize] += gv;
                    }
                };
                if split(dx.len()) {
                    crate::simd::threads::keep_awake();
                    dx.par_chunks_mut(hw).zip(g.par_chunks(l)).zip(ix.par_chunks(l)).for_each(plane);
                } else {
                    dx.chunks_mut(hw).zip(g.chunks(l)).zip(ix.chunks(l)).for_each(plane);
                }
            }
            Ok(TensorData::from_vec_unchecked(dx, input_shape.clone()))
        })
    }

    /// `avg_pool2d(input)`: each window's sum over its divisor (see the module docs and
    /// [`AvgDivisor`]). `p.dilation` must be `[1, 1]`.
    pub fn avg_pool2d(&self, p: &PoolParams, div: AvgDivisor) -> Result<TensorData> {
        let op = "avg_pool2d";
        let (geo, hs, ws) = avg_setup(op, self.shape(), self.dtype(), p, div)?;
        let shape = Shape::new(&geo.out_dims);
        with_float!(self.dtype(), op, |T| {
            let x = self.values_for::<T>(op)?;
            let mut out = pool::try_overwritable::<T>(op, &shape)?;
            let (hw, l) = (geo.h * geo.w, geo.oh * geo.ow);
            if l > 0 && !out.is_empty() {
                let plane = |(xp, yp): (&[T], &mut [T])| {
                    let mut y = yp.iter_mut();
                    for sh in &hs {
                        for sw in &ws {
                            let mut sum = T::ZERO;
                            for ih in sh.start..sh.end {
                                sum += xp[ih * geo.w..][sw.start..sw.end].iter().copied().sum::<T>();
                            }
                            let out = y.next().expect("one output per window");
                            *out = match divisor(sh, sw, div) {
                                0 => T::ZERO, // an empty window (PyTorch writes 0)
                                n => sum / T::c(n as f64),
                            };
                        }
                    }
                };
                if split(x.len()) {
                    crate::simd::threads::keep_awake();
                    x.par_chunks(hw).zip(out.par_chunks_mut(l)).for_each(plane);
                } else {
                    x.chunks(hw).zip(out.chunks_mut(l)).for_each(plane);
                }
            }
            Ok(TensorData::from_vec_unchecked(out, shape))
        })
    }

    /// The gradient of [`TensorData::avg_pool2d`] at an input of `input_shape`: each
    /// window's `g / divisor` (`self` is the upstream gradient) added over the window.
    pub fn avg_pool2d_backward(
        &self,
        input_shape: &Shape,
        p: &PoolParams,
        div: AvgDivisor,
    ) -> Result<TensorData> {
        let op = "avg_pool2d_backward";
        let (geo, hs, ws) = avg_setup(op, input_shape, self.dtype(), p, div)?;
        if self.dims() != geo.out_dims.as_slice() {
            return Err(Error::shapes(
                op,
                self.shape(),
                &Shape::new(&geo.out_dims),
                "mismatch: the gradient must have the output's shape (the second)",
            ));
        }
        with_float!(self.dtype(), op, |T| {
            let g = self.values_for::<T>(op)?;
            let mut dx = pool::try_filled::<T>(op, input_shape, T::ZERO)?;
            let (hw, l) = (geo.h * geo.w, geo.oh * geo.ow);
            if l > 0 && !dx.is_empty() {
                let plane = |(dp, gp): (&mut [T], &[T])| {
                    let mut gs = gp.iter();
                    for sh in &hs {
                        for sw in &ws {
                            let gv = *gs.next().expect("one gradient per window");
                            let n = divisor(sh, sw, div);
                            if n == 0 {
                                continue;
                            }
                            let share = gv / T::c(n as f64);
                            for ih in sh.start..sh.end {
                                dp[ih * geo.w..][sw.start..sw.end].iter_mut().for_each(|d| *d += share);
                            }
                        }
                    }
                };
                if split(dx.len()) {
                    crate::simd::threads::keep_awake();
                    dx.par_chunks_mut(hw).zip(g.par_chunks(l)).for_each(plane);
                } else {
                    dx.chunks_mut(hw).zip(g.chunks(l)).for_each(plane);
                }
            }
            Ok(TensorData::from_vec_unchecked(dx, input_shape.clone()))
        })
    }
}

/// The divisor of the window `sh x sw` (0 for an empty window without override).
fn divisor(sh: &Span, sw: &Span, div: AvgDivisor) -> usize {
    if sh.start >= sh.end || sw.start >= sw.end {
        return 0;
    }
    match div.divisor_override {
        Some(d) => d,
        None if div.count_include_pad => sh.padded_len * sw.padded_len,
        None => (sh.end - sh.start) * (sw.end - sw.start),
    }
}

type AvgSetup = (PoolGeometry, Vec<Span>, Vec<Span>);

/// Average pooling's checks and spans for an input of `shape`.
fn avg_setup(
    op: &'static str,
    shape: &Shape,
    dtype: DType,
    p: &PoolParams,
    div: AvgDivisor,
) -> Result<AvgSetup> {
    if p.dilation != [1, 1] {
        return Err(Error::invalid(
            op,
            format!("average pooling has no dilation (got {:?}; expected [1, 1])", p.dilation),
        ));
    }
    if div.divisor_override == Some(0) {
        return Err(Error::invalid(op, "divisor must be not zero (divisor_override=0)"));
    }
    let geo = geometry(op, shape, dtype, p, true)?;
    let hs = spans(geo.oh, geo.h, p.kernel_size[0], p.stride[0], p.padding[0], 1, true);
    let ws = spans(geo.ow, geo.w, p.kernel_size[1], p.stride[1], p.padding[1], 1, true);
    Ok((geo, hs, ws))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values with many ties, some NaN and -inf, from a fixed linear congruential stream.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                match (s >> 33) % 23 {
                    0 => f32::NAN,
                    1 => f32::NEG_INFINITY,
                    k => (k % 7) as f32 - 3.0,
                }
            })
            .collect()
    }

    #[test]
    fn one_tap_across_a_row_is_the_same_at_every_capability() {
        for cap in crate::simd::available() {
            for s in 1..=3 {
                for n in 0..=41 {
                    for extra in 0..3 {
                        let row = values(n * s + extra, (n * 10 + s + extra) as u64);
                        let mut y = values(n, 7 + n as u64);
                        let mut won: Vec<u32> = (0..n as u32).collect();
                        // The rule, output by output: take the tap if larger or NaN.
                        let (mut y_ref, mut won_ref) = (y.clone(), won.clone());
                        for o in 0..n.min(row.len().div_ceil(s)) {
                            let v = row[o * s];
                            if v > y_ref[o] || v.is_nan() {
                                y_ref[o] = v;
                                won_ref[o] = 99;
                            }
                        }
                        tap_row(cap, &mut y, &mut won, &row, s, 99);
                        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&y), bits(&y_ref), "{cap:?} s={s} n={n} extra={extra}");
                        assert_eq!(won, won_ref, "{cap:?} s={s} n={n} extra={extra}");
                    }
                }
            }
        }
    }

    #[test]
    fn max_pool_matches_the_window_definition() {
        // (kernel, stride, padding, dilation, ceil_mode) over planes of several widths: the
        // first four reach every window inside the plane (the tap-by-tap path), the others
        // the window-by-window loop.
        let cases = [
            ([2, 2], [2, 2], [0, 0], [1, 1], false),
            ([3, 2], [1, 1], [0, 0], [1, 1], false),
            ([2, 3], [2, 3], [0, 0], [2, 1], false),
            ([3, 3], [2, 2], [0, 0], [1, 2], false),
            ([3, 3], [2, 2], [1, 1], [1, 1], false),
            ([2, 2], [2, 2], [0, 0], [1, 1], true),
        ];
        for (k, st, pad, dil, ceil) in cases {
            for (h, w) in [(7, 9), (8, 32), (5, 33), (6, 17)] {
                let p =
                    PoolParams { kernel_size: k, stride: st, padding: pad, dilation: dil, ceil_mode: ceil };
                let xs = values(2 * 3 * h * w, (h * w) as u64);
                let x = TensorData::from_vec(xs.clone(), [2, 3, h, w]).unwrap();
                let (y, idx) = x.max_pool2d_with_indices(&p).unwrap();
                let (oh, ow) = (y.dims()[2], y.dims()[3]);
                let (y, idx) = (y.to_vec::<f32>().unwrap(), idx.to_vec::<i64>().unwrap());
                for plane in 0..6 {
                    for (o, (&got, &at)) in
                        y[plane * oh * ow..][..oh * ow].iter().zip(&idx[plane * oh * ow..]).enumerate()
                    {
                        // The definition: over the taps inside the input, in row-major order,
                        // the first largest value, or the last NaN.
                        let (r, c) = ((o / ow) as i64, (o % ow) as i64);
                        let (mut best, mut best_at) = (f32::NEG_INFINITY, -1i64);
                        for i in 0..k[0] as i64 {
                            for j in 0..k[1] as i64 {
                                let ih = r * st[0] as i64 - pad[0] as i64 + i * dil[0] as i64;
                                let iw = c * st[1] as i64 - pad[1] as i64 + j * dil[1] as i64;
                                if ih < 0 || iw < 0 || ih >= h as i64 || iw >= w as i64 {
                                    continue;
                                }
                                let v = xs[plane * h * w + (ih * w as i64 + iw) as usize];
                                if best_at < 0 || v > best || v.is_nan() {
                                    (best, best_at) = (v, ih * w as i64 + iw);
                                }
                            }
                        }
                        let what = format!("{p:?} {h}x{w} plane {plane} output {o}");
                        assert_eq!(got.to_bits(), best.to_bits(), "{what}");
                        assert_eq!(at, best_at, "{what}");
                    }
                }
            }
        }
    }
}
