//! The kernels of batch norm (statistics per channel) and layer norm (statistics per row),
//! vectorised through [`crate::dispatch!`] and split across threads above
//! [`PARALLEL_MIN`] elements. The autograd ops (`ops/norm.rs` of torchlet-autograd) state the
//! formulas and derivatives; these are the loops.
//!
//! A batch-norm input is viewed as `(outer, channels, inner)` (`(N, C)`: inner 1; `(N, C, L)`,
//! `(N, C, H, W)`: inner `L`, `H * W`). With inner > 1, for a run of adjacent channels
//! `c0..c1` each outer index contributes one contiguous slice, so a task owns a run of
//! channels and reads its slices in order; with inner 1 (`(N, C)`) the rows are split into
//! fixed blocks of rows whose partial sums are added in order. Either way the split depends
//! on the shape only, so results never depend on the thread count.

use crate::simd::kernels::PARALLEL_MIN;
use crate::simd::{capability, Capability};
use crate::Float;
use rayon::prelude::*;
use row_sums::RowSums;

#[cfg(target_arch = "x86_64")]
mod row_sums;

/// Off x86-64 the portable sums run. (The x86-64 module's signatures, type parameters
/// included, so that the call sites compile unchanged.)
#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::extra_unused_type_parameters)]
mod row_sums {
    use crate::Float;

    /// Never made here: [`RowSums::new`] is `None`.
    #[derive(Clone, Copy, Debug)]
    pub(super) enum RowSums {}

    impl RowSums {
        pub(super) fn new<T: Float>() -> Option<RowSums> {
            None
        }
        pub(super) fn at<T: Float>(_: crate::simd::Capability) -> Option<RowSums> {
            None
        }
        pub(super) fn moments<T: Float>(self, _: &[T]) -> (f64, f64) {
            match self {}
        }
        pub(super) fn grad_sums<T: Float>(self, _: &[T], _: &[T], _: Option<&[T]>, _: T, _: T) -> (f64, f64) {
            match self {}
        }
        #[allow(clippy::too_many_arguments)]
        pub(super) fn dx_pair<T: Float>(
            self,
            _: &[T],
            _: &[T],
            _: Option<&[T]>,
            _: [super::RowGrad; 2],
            _: &mut [T],
            _: &mut [T],
            _: &mut [T],
        ) {
            match self {}
        }
        pub(super) fn has_columns(self) -> bool {
            match self {}
        }
        pub(super) fn columns<T: Float, const GRAD: bool>(
            self,
            _: &[T],
            _: &[T],
            _: &[T],
            _: &mut [f64],
            _: &mut [f64],
        ) {
            match self {}
        }
    }
}

/// A batch-norm input seen as `(outer, channels, inner)`, element `(o, c, i)` in channel `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelLayout {
    /// The batch size `N`.
    pub outer: usize,
    /// The channels `C`.
    pub channels: usize,
    /// The values per channel and sample (the product of the spatial dims; 1 for `(N, C)`).
    pub inner: usize,
}

impl ChannelLayout {
    /// Values per channel: `outer * inner`.
    pub fn per_channel(&self) -> usize {
        self.outer * self.inner
    }

    /// Channels per parallel task for `len` elements.
    fn chunk(&self, len: usize) -> usize {
        if len < PARALLEL_MIN {
            self.channels.max(1)
        } else {
            crate::simd::threads::keep_awake(); // the channels are split among the threads
            self.channels.div_ceil(rayon::current_num_threads()).max(1)
        }
    }

    /// Samples (outer indices) per parallel task of the elementwise passes.
    fn rows_per_task(&self, len: usize) -> usize {
        let row = (self.channels * self.inner).max(1);
        if len < PARALLEL_MIN {
            self.outer.max(1)
        } else {
            crate::simd::threads::keep_awake(); // the samples are split among the threads
            (PARALLEL_MIN / 2).div_ceil(row).max(1)
        }
    }
}

/// The two terms batch norm sums per element `a` (and `b`) of a channel with center `k`:
/// `x - k` and `(x - k)^2` for the statistics (`GRAD` false, `a = x`, `b` unused), `g` and
/// `g (x - m)` for the gradient sums (`GRAD` true, `a = g`, `b = x`, `k = m`); in the
/// element type.
#[inline(always)]
fn terms<T: Float, const GRAD: bool>(a: T, b: T, k: T) -> (T, T) {
    if GRAD {
        (a, a * (b - k))
    } else {
        let d = a - k;
        (d, d * d)
    }
}

/// For every channel `c`, the sums over its elements of the two [`terms`] of `a`, `b` and
/// `center[c]` (with `a`, `b` the elements of two tensors of layout `l`), computed in the
/// element type and accumulated in f64 (see [`row_sums`] for `inner == 1`).
fn channel_sums<T: Float, const GRAD: bool>(
    l: ChannelLayout,
    a: &[T],
    b: &[T],
    center: &[T],
) -> (Vec<f64>, Vec<f64>) {
    let ChannelLayout { outer, channels, inner } = l;
    if inner == 1 {
        return row_sums::<T, GRAD>(capability(), channels, a, b, center);
    }
    let (mut s1, mut s2) = (vec![0.0f64; channels], vec![0.0f64; channels]);
    let per = l.chunk(a.len());
    let task = |c0: usize, s1: &mut [f64], s2: &mut [f64]| {
        let w = s1.len();
        let center = &center[c0..c0 + w];
        crate::dispatch!(capability(), |F| {
            for o in 0..outer {
                let base = (o * channels + c0) * inner;
                let (xa, xb) = (&a[base..base + w * inner], &b[base..base + w * inner]);
                for (j, &k) in center.iter().enumerate() {
                    let (ra, rb) = (&xa[j * inner..(j + 1) * inner], &xb[j * inner..(j + 1) * inner]);
                    // Eight partial sums per run (vectorised), added pairwise.
                    let (mut p, mut q) = ([0.0f64; 8], [0.0f64; 8]);
                    let (ca, cb) = (ra.chunks_exact(8), rb.chunks_exact(8));
                    let (ta, tb) = (ca.remainder(), cb.remainder());
                    for (x8, y8) in ca.zip(cb) {
                        for i in 0..8 {
                            let (u, v) = terms::<T, GRAD>(x8[i], y8[i], k);
                            p[i] += u.to_f64();
                            q[i] += v.to_f64();
                        }
                    }
                    for (i, (&x, &y)) in ta.iter().zip(tb).enumerate() {
                        let (u, v) = terms::<T, GRAD>(x, y, k);
                        p[i] += u.to_f64();
                        q[i] += v.to_f64();
                    }
                    let pair =
                        |s: [f64; 8]| ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
                    s1[j] += pair(p);
                    s2[j] += pair(q);
                }
            }
        })
    };
    s1.par_chunks_mut(per)
        .zip(s2.par_chunks_mut(per))
        .enumerate()
        .for_each(|(t, (s1, s2))| task(t * per, s1, s2));
    (s1, s2)
}

/// Rows per task of [`row_sums`] (fixed, so the sums never depend on the thread count).
const SUM_ROWS: usize = 512;

/// Rows [`row_sums`] adds up in the element type before adding that to its f64 sums.
const SUM_GROUP: usize = 16;

/// [`channel_sums`] for one value per channel and row (`(N, C)`): blocks of [`SUM_ROWS`] rows
/// each accumulate their sums along the rows (vectorised across channels), and the blocks'
/// sums are added in order. Within a block, groups of [`SUM_GROUP`] rows are summed in the
/// element type and each group's sums added to the block's f64 sums: with f64 work per
/// element, batch norm's statistics of a (28892, 200) f32 tensor (23 MB) took 0.90 ms, with
/// f32 groups 0.70 ms (the same run, 2 threads), and sixteen f32 additions lose at most ~1e-6
/// relatively before the f64 takes over. f32 on AVX-512 keeps a group's sums in
/// registers ([`RowSums::columns`]: the same additions in the same order, so the same bits).
/// Splitting the channels among threads instead would have every thread stream over every
/// row (twice the memory traffic where bandwidth is the limit).
fn row_sums<T: Float, const GRAD: bool>(
    cap: Capability,
    channels: usize,
    a: &[T],
    b: &[T],
    center: &[T],
) -> (Vec<f64>, Vec<f64>) {
    let rows = a.len() / channels.max(1);
    let fast = RowSums::at::<T>(cap).filter(|s| s.has_columns());
    let block = |r0: usize| {
        let (mut p, mut q) = (vec![0.0f64; channels], vec![0.0f64; channels]);
        let r1 = (r0 + SUM_ROWS).min(rows);
        let (a, b) = (&a[r0 * channels..r1 * channels], &b[r0 * channels..r1 * channels]);
        if let Some(sums) = fast {
            sums.columns::<T, GRAD>(a, b, center, &mut p, &mut q);
            return (p, q);
        }
        let (mut gp, mut gq) = (vec![T::ZERO; channels], vec![T::ZERO; channels]);
        crate::dispatch!(cap, |F| {
            for (ga, gb) in a.chunks(SUM_GROUP * channels).zip(b.chunks(SUM_GROUP * channels)) {
                gp.fill(T::ZERO);
                gq.fill(T::ZERO);
                for (xa, xb) in ga.chunks_exact(channels).zip(gb.chunks_exact(channels)) {
                    let sums = gp.iter_mut().zip(gq.iter_mut());
                    for (((p, q), &x), (&y, &k)) in sums.zip(xa).zip(xb.iter().zip(center)) {
                        let (u, v) = terms::<T, GRAD>(x, y, k);
                        *p += u;
                        *q += v;
                    }
                }
                let groups = gp.iter().zip(&gq);
                for ((p, q), (&u, &v)) in p.iter_mut().zip(q.iter_mut()).zip(groups) {
                    *p += u.to_f64();
                    *q += v.to_f64();
                }
            }
        });
        (p, q)
    };
    let starts: Vec<usize> = (0..rows).step_by(SUM_ROWS).collect();
    let parts: Vec<(Vec<f64>, Vec<f64>)> = if a.len() >= PARALLEL_MIN {
        crate::simd::threads::keep_awake();
        starts.par_iter().map(|&r| block(r)).collect()
    } else {
        starts.iter().map(|&r| block(r)).collect()
    };
    let (mut s1, mut s2) = (vec![0.0f64; channels], vec![0.0f64; channels]);
    for (p, q) in &parts {
        s1.iter_mut().zip(p).for_each(|(s, v)| *s += v);
        s2.iter_mut().zip(q).for_each(|(s, v)| *s += v);
    }
    (s1, s2)
}

/// Values of a channel whose mean is [`channel_moments`]' shift.
const SHIFT_SAMPLE: usize = 64;

/// Each channel's mean and biased variance (`sum((x - mean)^2) / n` over its `n = outer *
/// inner` values), in f64, from one pass: the sums of `x - k` and `(x - k)^2` with `k` the
/// mean of the channel's first 64 values (`SHIFT_SAMPLE`; its first value if that is not
/// finite), so the sums stay near the deviations (`var = (S2 - S1^2/n) / n`, never below 0;
/// NaN and inf give NaN). The squares are rounded in the element type, so `k` must be near
/// the mean: with the first value as `k`, a first value 100 standard deviations out made
/// the f32 variance of 28,892 values wrong by 7e-5 relatively (tested).
///
/// # Panics
/// If `x` does not hold `l`'s elements or a channel is empty.
pub fn channel_moments<T: Float>(x: &[T], l: ChannelLayout) -> (Vec<f64>, Vec<f64>) {
    assert!(x.len() == l.outer * l.channels * l.inner && l.per_channel() > 0, "channel_moments: layout");
    // The first `take` values of every channel: those of the first samples, in sample order.
    let take = l.per_channel().min(SHIFT_SAMPLE);
    let mut first = vec![0.0f64; l.channels];
    crate::dispatch!(capability(), |F| for o in 0..take.div_ceil(l.inner) {
        let sample = &x[o * l.channels * l.inner..][..l.channels * l.inner];
        if l.inner == 1 {
            first.iter_mut().zip(sample).for_each(|(s, &v)| *s += v.to_f64());
        } else {
            let run = l.inner.min(take - o * l.inner);
            for (s, values) in first.iter_mut().zip(sample.chunks_exact(l.inner)) {
                *s += values[..run].iter().map(|&v| v.to_f64()).sum::<f64>();
            }
        }
    });
    let shift: Vec<T> = first
        .iter()
        .enumerate()
        .map(|(c, &s)| {
            let k = T::c(s / take as f64);
            if k.to_f64().is_finite() {
                k
            } else {
                x[c * l.inner]
            }
        })
        .collect();
    let (s1, s2) = channel_sums::<T, false>(l, x, x, &shift);
    let n = l.per_channel() as f64;
    let mean = s1.iter().zip(&shift).map(|(s, &k)| k.to_f64() + s / n).collect();
    let var = s1
        .iter()
        .zip(&s2)
        .map(|(s1, s2)| {
            let v = (s2 - s1 * s1 / n) / n;
            if v < 0.0 {
                0.0 // rounding; a NaN stays NaN
            } else {
                v
            }
        })
        .collect();
    (mean, var)
}

/// Each channel's `sum(g)` and `sum(g * (x - mean[c]))` (the sums batch norm's backward
/// needs), in f64. The products use the mean rounded to the element type, `m_t`, and the
/// identity `sum(g (x - m)) = sum(g (x - m_t)) + (m_t - m) sum(g)` corrects the sum.
///
/// # Panics
/// If `x` and `g` do not hold `l`'s elements or `mean` is not one value per channel.
pub fn channel_grad_sums<T: Float>(x: &[T], g: &[T], mean: &[f64], l: ChannelLayout) -> (Vec<f64>, Vec<f64>) {
    let n = l.outer * l.channels * l.inner;
    assert!(x.len() == n && g.len() == n && mean.len() == l.channels, "channel_grad_sums: layout");
    let mean_t: Vec<T> = mean.iter().map(|&m| T::c(m)).collect();
    let (s_g, mut s_gx) = channel_sums::<T, true>(l, g, x, &mean_t);
    for ((s, &sg), (&m, &mt)) in s_gx.iter_mut().zip(&s_g).zip(mean.iter().zip(&mean_t)) {
        *s += (mt.to_f64() - m) * sg;
    }
    (s_g, s_gx)
}

/// `out = a * pa[c] + b * pb[c] + q[c]` elementwise over two tensors of layout `l` (`b` and
/// `pb` may be absent): batch norm's output `x * scale + shift` and input gradient.
///
/// # Panics
/// If the lengths do not match `l`.
pub fn channel_affine<T: Float>(
    l: ChannelLayout,
    a: &[T],
    pa: &[T],
    b: Option<(&[T], &[T])>,
    q: &[T],
    out: &mut [T],
) {
    let ChannelLayout { channels, inner, .. } = l;
    let row = channels * inner;
    assert!(a.len() == out.len() && a.len() == l.outer * row && pa.len() == channels && q.len() == channels);
    if let Some((b, pb)) = b {
        assert!(b.len() == a.len() && pb.len() == channels);
    }
    if out.is_empty() {
        return;
    }
    let rows = l.rows_per_task(a.len()) * row;
    let task = |t: usize, out: &mut [T]| {
        let a = &a[t * rows..t * rows + out.len()];
        let b = b.map(|(b, pb)| (&b[t * rows..t * rows + out.len()], pb));
        crate::dispatch!(capability(), |F| {
            for (r, o) in out.chunks_exact_mut(row).enumerate() {
                let ar = &a[r * row..(r + 1) * row];
                for c in 0..channels {
                    let (o, x) = (&mut o[c * inner..(c + 1) * inner], &ar[c * inner..(c + 1) * inner]);
                    let (s, k) = (pa[c], q[c]);
                    match b {
                        Some((b, pb)) => {
                            let (y, t) = (&b[r * row + c * inner..r * row + (c + 1) * inner], pb[c]);
                            o.iter_mut().zip(x).zip(y).for_each(|((o, &x), &y)| *o = x * s + y * t + k);
                        }
                        None => o.iter_mut().zip(x).for_each(|(o, &x)| *o = x * s + k),
                    }
                }
            }
        })
    };
    if inner == 1 {
        // One value per channel: vectorise across the row instead.
        let task1 = |t: usize, out: &mut [T]| {
            let a = &a[t * rows..t * rows + out.len()];
            let b = b.map(|(b, pb)| (&b[t * rows..t * rows + out.len()], pb));
            crate::dispatch!(capability(), |F| {
                for (r, o) in out.chunks_exact_mut(row).enumerate() {
                    let ar = &a[r * row..(r + 1) * row];
                    match b {
                        Some((b, pb)) => {
                            let br = &b[r * row..(r + 1) * row];
                            for ((((o, &x), &y), (&s, &t)), &k) in
                                o.iter_mut().zip(ar).zip(br).zip(pa.iter().zip(pb)).zip(q)
                            {
                                *o = x * s + y * t + k;
                            }
                        }
                        None => {
                            for (((o, &x), &s), &k) in o.iter_mut().zip(ar).zip(pa).zip(q) {
                                *o = x * s + k;
                            }
                        }
                    }
                }
            })
        };
        return out.par_chunks_mut(rows).enumerate().for_each(|(t, o)| task1(t, o));
    }
    out.par_chunks_mut(rows).enumerate().for_each(|(t, o)| task(t, o));
}

/// One row's constants for [`RowSums::dx_pair`]: its mean `mu`, its `rs = rstd`, and the
/// means `a = mean(g w)` and `b = mean(g w xhat)` of its first pass.
#[derive(Clone, Copy, Debug)]
// Off x86-64 only the stub's unreachable `dx_pair` takes it.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct RowGrad {
    mu: f32,
    rs: f32,
    a: f32,
    b: f32,
}

/// Rows per task of the layer-norm kernels (fixed, so partial sums do not depend on the
/// thread count).
const NORM_ROWS: usize = 64;

/// Rows the layer-norm kernels take at a time (the backward without `dx`: one): first both
/// rows' sums, then both rows' outputs. A row's sums are chains of dependent additions (and
/// the backward's second pass cannot start before they end); with the rows one by one, the
/// out-of-order window filled with the second pass's instructions waiting on them. Two at a time, on (8192, 256) f32
/// with AVX-512 and the data beyond the caches: the forward kernel 353-369 -> 309-321 us (4
/// and 8 rows at a time: no faster), the backward (with `RowSums::dx_pair`) 453-492 ->
/// 396-434 us; `layer_norm_fwd_bwd_8192x256` 845 -> 796 us (8 rounds), unchanged with AVX2
/// (838 -> 837).
const PAIR: usize = 2;

/// Layer norm's forward pass over contiguous rows of `m` values: per row the mean and biased
/// variance (f32 rows on AVX2 or AVX-512 by `row_sums.rs`: one pass about a shift near the
/// mean where that keeps its accuracy, else two; otherwise two passes, the variance about the
/// rounded mean, corrected, blocks of 64 values summed in the element type and the blocks in
/// f64), `rstd = 1 / sqrt(var + eps)`, and `y = (x - mean) * rstd (* w) (+ b)`, two rows at a
/// time. Writes `y` and each row's `mean`, `rstd` and `var`.
///
/// # Panics
/// If the lengths do not describe whole rows of `m` (`m > 0`).
#[allow(clippy::too_many_arguments)]
pub fn rows_forward<T: Float>(
    x: &[T],
    m: usize,
    eps: f64,
    w: Option<&[T]>,
    b: Option<&[T]>,
    y: &mut [T],
    mean: &mut [T],
    rstd: &mut [T],
    var: &mut [T],
) {
    let rows = mean.len();
    assert!(m > 0 && x.len() == rows * m && y.len() == x.len() && rstd.len() == rows && var.len() == rows);
    let fast = RowSums::new::<T>();
    let task = |x: &[T], y: &mut [T], mean: &mut [T], rstd: &mut [T], var: &mut [T]| {
        crate::dispatch!(capability(), |F| {
            let moments = |row: &[T]| match fast {
                Some(sums) => sums.moments(row),
                None => {
                    let mu64 = block_sum(row, |v| v) / m as f64;
                    let mu_t = T::c(mu64);
                    // mean((x - mu_t)^2) = var + (mean - mu_t)^2, mu_t the rounded mean.
                    let shift = mu64 - mu_t.to_f64();
                    (mu64, (block_sum(row, |v| (v - mu_t) * (v - mu_t)) / m as f64 - shift * shift).max(0.0))
                }
            };
            for ((((xs, ys), mus), rss), vas) in x
                .chunks(PAIR * m)
                .zip(y.chunks_mut(PAIR * m))
                .zip(mean.chunks_mut(PAIR))
                .zip(rstd.chunks_mut(PAIR))
                .zip(var.chunks_mut(PAIR))
            {
                // Both rows' statistics before their outputs: the two chains of additions
                // overlap.
                let mut st = [(0.0, 0.0); PAIR];
                for (s, row) in st.iter_mut().zip(xs.chunks_exact(m)) {
                    *s = moments(row);
                }
                let rows = xs.chunks_exact(m).zip(ys.chunks_exact_mut(m));
                for ((((row, out), mu), rs), (va, &(mu64, v))) in
                    rows.zip(mus.iter_mut()).zip(rss.iter_mut()).zip(vas.iter_mut().zip(&st))
                {
                    let (mu_t, r_t) = (T::c(mu64), T::c(1.0 / (v + eps).sqrt()));
                    // One pass for the output, whichever of w and b there are.
                    let rows = out.iter_mut().zip(row);
                    match (w, b) {
                        (Some(w), Some(b)) => rows
                            .zip(w.iter().zip(b))
                            .for_each(|((o, &xv), (&w, &b))| *o = (xv - mu_t) * r_t * w + b),
                        (Some(w), None) => rows.zip(w).for_each(|((o, &xv), &w)| *o = (xv - mu_t) * r_t * w),
                        (None, Some(b)) => rows.zip(b).for_each(|((o, &xv), &b)| *o = (xv - mu_t) * r_t + b),
                        (None, None) => rows.for_each(|(o, &xv)| *o = (xv - mu_t) * r_t),
                    }
                    (*mu, *rs, *va) = (mu_t, r_t, T::c(v));
                }
            }
        })
    };
    if x.len() < PARALLEL_MIN {
        return task(x, y, mean, rstd, var);
    }
    crate::simd::threads::keep_awake();
    x.par_chunks(NORM_ROWS * m)
        .zip(y.par_chunks_mut(NORM_ROWS * m))
        .zip(mean.par_chunks_mut(NORM_ROWS))
        .zip(rstd.par_chunks_mut(NORM_ROWS))
        .zip(var.par_chunks_mut(NORM_ROWS))
        .for_each(|((((x, y), mean), rstd), var)| task(x, y, mean, rstd, var));
}

/// Layer norm's backward pass over contiguous rows of `m` values, from the saved `mean` and
/// `rstd`. With `dx`: two passes per row, two rows at a time (the rows' two sums, by
/// `row_sums.rs` for f32 on AVX2 or AVX-512, else by `block_sum3`; then `dx` and the
/// parameter gradients, by `row_sums.rs`'s `dx_pair` for a pair of f32 rows there, else,
/// and for a task's odd last row, by `dx_rows`). Without `dx`: one pass per row for the
/// parameter gradients. With
/// `xhat = (x - mean) * rstd` and `gw = g * w`,
/// `dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))` (written when `dx` is given),
/// `dw = sum over rows of g * xhat`, `db = sum over rows of g` (per position).
///
/// # Panics
/// If the lengths do not describe whole rows of `m` (`m > 0`).
#[allow(clippy::too_many_arguments)]
pub fn rows_backward<T: Float>(
    x: &[T],
    g: &[T],
    m: usize,
    mean: &[T],
    rstd: &[T],
    w: Option<&[T]>,
    dx: Option<&mut [T]>,
    dw: &mut [T],
    db: &mut [T],
) {
    let rows = mean.len();
    assert!(m > 0 && x.len() == rows * m && g.len() == x.len() && rstd.len() == rows);
    assert!(dw.len() == m && db.len() == m && dx.as_ref().is_none_or(|d| d.len() == x.len()));
    // One task: rows `r0..` of `x`/`g`, its partial dw and db (in `part`: 2m values).
    let fast = RowSums::new::<T>();
    let task = |r0: usize, dx: Option<&mut [T]>, part: &mut [T]| {
        let n = part_rows(rows, r0);
        let (pdw, pdb) = part.split_at_mut(m);
        crate::dispatch!(capability(), |F| {
            let Some(dx) = dx else {
                // No dx: only the parameter gradients' partial sums.
                for r in r0..r0 + n {
                    let (xr, gr) = (&x[r * m..(r + 1) * m], &g[r * m..(r + 1) * m]);
                    let (mu, rs) = (mean[r], rstd[r]);
                    let cols = xr.iter().zip(gr).zip(pdw.iter_mut().zip(pdb.iter_mut()));
                    cols.for_each(|((&x, &g), (dw, db))| {
                        *dw += g * ((x - mu) * rs);
                        *db += g;
                    });
                }
                return;
            };
            for p0 in (r0..r0 + n).step_by(PAIR) {
                let k = PAIR.min(r0 + n - p0);
                // Pass 1, both rows: mean(gw) and mean(gw * xhat), gw = g * w.
                let mut st = [(T::ZERO, T::ZERO); PAIR];
                for (i, s) in st.iter_mut().enumerate().take(k) {
                    let r = p0 + i;
                    let (xr, gr) = (&x[r * m..(r + 1) * m], &g[r * m..(r + 1) * m]);
                    let (mu, rs) = (mean[r], rstd[r]);
                    let (s_gw, s_gwx) = match (fast, w) {
                        (Some(sums), _) => {
                            // Without this, dx_pair's stores (two rows interleaved)
                            // missed the caches: the backward took 637-694 us against
                            // 501-528 with the rows one by one.
                            crate::simd::prefetch(&dx[(r - r0) * m..(r - r0 + 1) * m]);
                            sums.grad_sums(xr, gr, w, mu, rs)
                        }
                        (None, Some(w)) => (
                            block_sum3(xr, gr, w, |_, g, w| g * w),
                            block_sum3(xr, gr, w, |x, g, w| g * w * ((x - mu) * rs)),
                        ),
                        (None, None) => {
                            (block_sum(gr, |g| g), block_sum3(xr, gr, gr, |x, g, _| g * ((x - mu) * rs)))
                        }
                    };
                    *s = (T::c(s_gw / m as f64), T::c(s_gwx / m as f64));
                }
                // Pass 2: dx and the parameter gradients' partial sums, xhat recomputed.
                let out = &mut dx[(p0 - r0) * m..(p0 - r0 + k) * m];
                let (xs, gs) = (&x[p0 * m..(p0 + k) * m], &g[p0 * m..(p0 + k) * m]);
                match fast {
                    Some(sums) if k == PAIR => {
                        let f = |v: T| v.to_f64() as f32;
                        let row = |i: usize| RowGrad {
                            mu: f(mean[p0 + i]),
                            rs: f(rstd[p0 + i]),
                            a: f(st[i].0),
                            b: f(st[i].1),
                        };
                        sums.dx_pair(xs, gs, w, [row(0), row(1)], out, pdw, pdb);
                    }
                    _ => dx_rows(xs, gs, w, &mean[p0..p0 + k], &rstd[p0..p0 + k], &st, out, pdw, pdb),
                }
            }
        })
    };
    let tasks = rows.div_ceil(NORM_ROWS);
    let mut parts = vec![T::ZERO; tasks * 2 * m];
    let parallel = x.len() >= PARALLEL_MIN;
    if parallel {
        crate::simd::threads::keep_awake();
    }
    match dx {
        Some(dx) if parallel => dx
            .par_chunks_mut(NORM_ROWS * m)
            .zip(parts.par_chunks_mut(2 * m))
            .enumerate()
            .for_each(|(t, (dx, p))| task(t * NORM_ROWS, Some(dx), p)),
        None if parallel => {
            parts.par_chunks_mut(2 * m).enumerate().for_each(|(t, p)| task(t * NORM_ROWS, None, p))
        }
        Some(dx) => {
            for (t, (dx, p)) in dx.chunks_mut(NORM_ROWS * m).zip(parts.chunks_mut(2 * m)).enumerate() {
                task(t * NORM_ROWS, Some(dx), p);
            }
        }
        None => parts.chunks_mut(2 * m).enumerate().for_each(|(t, p)| task(t * NORM_ROWS, None, p)),
    }
    dw.iter_mut().chain(db.iter_mut()).for_each(|v| *v = T::ZERO);
    for p in parts.chunks_exact(2 * m) {
        dw.iter_mut().zip(&p[..m]).for_each(|(d, &v)| *d += v);
        db.iter_mut().zip(&p[m..]).for_each(|(d, &v)| *d += v);
    }
}

/// Layer norm's second backward pass, portable, over the rows of `xs`, `gs` and `out` (rows
/// of `m = pdw.len()` values; `mean`, `rstd` and `st = (mean(g w), mean(g w xhat))` per row):
/// `out = rstd (g w - st.0 - xhat st.1)` with `xhat = (x - mean) rstd`, and `pdw += g xhat`,
/// `pdb += g` (`w` taken as 1 when absent). The loop LLVM vectorises; [`RowSums::dx_pair`]
/// gives the same bits for two f32 rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn dx_rows<T: Float>(
    xs: &[T],
    gs: &[T],
    w: Option<&[T]>,
    mean: &[T],
    rstd: &[T],
    st: &[(T, T)],
    out: &mut [T],
    pdw: &mut [T],
    pdb: &mut [T],
) {
    let m = pdw.len();
    let rows = out.chunks_exact_mut(m).zip(xs.chunks_exact(m).zip(gs.chunks_exact(m)));
    for (((out, (xr, gr)), (&mu, &rs)), &(s_gw, s_gwx)) in rows.zip(mean.iter().zip(rstd)).zip(st) {
        let cols = out.iter_mut().zip(xr.iter().zip(gr)).zip(pdw.iter_mut().zip(pdb.iter_mut()));
        let step = |d: &mut T, x: T, g: T, dw: &mut T, db: &mut T, wv: T| {
            let h = (x - mu) * rs;
            *d = rs * (g * wv - s_gw - h * s_gwx);
            *dw += g * h;
            *db += g;
        };
        match w {
            Some(w) => cols.zip(w).for_each(|(((d, (&x, &g)), (dw, db)), &wv)| step(d, x, g, dw, db, wv)),
            None => cols.for_each(|((d, (&x, &g)), (dw, db))| step(d, x, g, dw, db, T::ONE)),
        }
    }
}

/// `sum of f(v)` over `row` as an f64: sixteen partial sums in the element type within
/// blocks of 64 values (so the loop vectorises at full width), each block's sixteen added to
/// sixteen f64 lanes (a vector add, no horizontal sum per block), the lanes added in order
/// at the end.
#[inline(always)]
fn block_sum<T: Float>(row: &[T], f: impl Fn(T) -> T) -> f64 {
    block_sum3(row, row, row, |v, _, _| f(v))
}

/// The sum of `f(a[i], b[i], c[i])` over three slices of one length, as [`block_sum`] adds.
/// (One sum per call: two accumulations in one loop make LLVM pair them instead of
/// vectorising along `i`.)
#[inline(always)]
fn block_sum3<T: Float>(a: &[T], b: &[T], c: &[T], f: impl Fn(T, T, T) -> T) -> f64 {
    let mut lanes = [0.0f64; 16];
    let mut rest = 0.0;
    for ((a, b), c) in a.chunks(64).zip(b.chunks(64)).zip(c.chunks(64)) {
        let mut acc = [T::ZERO; 16];
        let (ca, cb, cc) = (a.chunks_exact(16), b.chunks_exact(16), c.chunks_exact(16));
        let tail = ca.remainder().iter().zip(cb.remainder()).zip(cc.remainder());
        rest += tail.fold(T::ZERO, |s, ((&a, &b), &c)| s + f(a, b, c)).to_f64();
        for ((a, b), c) in ca.zip(cb).zip(cc) {
            for k in 0..16 {
                acc[k] += f(a[k], b[k], c[k]);
            }
        }
        for (l, v) in lanes.iter_mut().zip(acc) {
            *l += v.to_f64();
        }
    }
    // The sixteen lanes in order (a pairwise tree here makes LLVM's SLP vectoriser pair
    // the lanes two by two and give up the full-width loops above).
    lanes.iter().fold(0.0, |s, &v| s + v) + rest
}

/// Rows of the task starting at row `r0` of `rows`.
fn part_rows(rows: usize, r0: usize) -> usize {
    NORM_ROWS.min(rows - r0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-3, 3) plus `offset`.
    fn data(n: usize, offset: f64) -> Vec<f64> {
        (0..n).map(|i| ((i * 7919 + 13) % 6007) as f64 / 1001.0 - 3.0 + offset).collect()
    }

    #[test]
    fn channel_kernels_match_the_definitions_serial_and_threaded() {
        // (N, C) with inner 1, and (N, C, 13): runs not a multiple of 8; small (one task) and
        // large (threaded) inputs.
        for (outer, channels, inner) in [(5, 3, 1), (7, 4, 13), (3000, 40, 1), (300, 6, 37)] {
            let l = ChannelLayout { outer, channels, inner };
            let n = outer * channels * inner;
            let x = data(n, 10.0);
            let g = data(n, -0.5).iter().rev().copied().collect::<Vec<_>>();
            let idx = |o: usize, c: usize, i: usize| (o * channels + c) * inner + i;
            let lane = |v: &[f64], c: usize| -> Vec<f64> {
                (0..outer)
                    .flat_map(|o| (0..inner).map(move |i| (o, i)))
                    .map(|(o, i)| v[idx(o, c, i)])
                    .collect()
            };
            let (mean, var) = channel_moments(&x, l);
            let (sg, sgx) = channel_grad_sums(&x, &g, &mean, l);
            for c in 0..channels {
                let (xs, gs) = (lane(&x, c), lane(&g, c));
                let m = xs.iter().sum::<f64>() / xs.len() as f64;
                let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64;
                assert!(
                    (mean[c] - m).abs() < 1e-12 * m.abs() && (var[c] - v).abs() < 1e-10 * v,
                    "{l:?} c {c}"
                );
                let want_g: f64 = gs.iter().sum();
                let want_gx: f64 = gs.iter().zip(&xs).map(|(g, x)| g * (x - mean[c])).sum();
                assert!((sg[c] - want_g).abs() < 1e-9 && (sgx[c] - want_gx).abs() < 1e-9, "{l:?} c {c}");
            }
            let pa: Vec<f64> = (0..channels).map(|c| 1.5 - c as f64 * 0.75).collect();
            let pb: Vec<f64> = (0..channels).map(|c| 0.5 + (c % 3) as f64).collect();
            let q: Vec<f64> = (0..channels).map(|c| c as f64 - 1.0).collect();
            let mut out = vec![0.0; n];
            channel_affine(l, &x, &pa, Some((&g, &pb)), &q, &mut out);
            let mut one = vec![0.0; n];
            channel_affine(l, &x, &pa, None, &q, &mut one);
            for o in 0..outer {
                for c in 0..channels {
                    for i in 0..inner {
                        let k = idx(o, c, i);
                        assert_eq!(out[k], x[k] * pa[c] + g[k] * pb[c] + q[c]);
                        assert_eq!(one[k], x[k] * pa[c] + q[c]);
                    }
                }
            }
        }
    }

    #[test]
    fn column_sums_give_the_portable_bits_at_every_capability() {
        // Channel counts around the AVX-512 strips (192 = 12 x 16), single vectors, the half
        // vector and the scalar rest; row counts around a group (16) and a block (512). Both
        // term pairs; every capability against the portable loop, bit for bit.
        for channels in [1, 3, 7, 8, 9, 16, 17, 24, 31, 192, 200, 209, 215, 400] {
            for rows in [1, 15, 17, 600] {
                let n = rows * channels;
                let a: Vec<f32> = (0..n).map(|i| ((i * 7919) % 2003) as f32 / 97.0 - 10.0).collect();
                let b: Vec<f32> = (0..n).map(|i| ((i * 104_729) % 1009) as f32 / 53.0 - 9.0).collect();
                let center: Vec<f32> = (0..channels).map(|c| c as f32 * 0.37 - 3.0).collect();
                let bits = |cap: Capability| -> Vec<u64> {
                    let (p, q) = row_sums::<f32, false>(cap, channels, &a, &a, &center);
                    let (g, h) = row_sums::<f32, true>(cap, channels, &a, &b, &center);
                    [p, q, g, h].concat().iter().map(|v| v.to_bits()).collect()
                };
                let want = bits(Capability::Default);
                for cap in crate::simd::available() {
                    assert_eq!(bits(cap), want, "{cap:?}: {rows} rows of {channels}");
                }
            }
        }
    }

    #[test]
    fn f32_channel_statistics_match_the_f64_definition() {
        // f32 values 1000 + u, u in [-1, 1]: the channel kernels compute in f32 (sixteen rows
        // at a time for (N, C)) and accumulate in f64; the reference is the f64 definition on
        // the same f32 values. The variance is ~1/3, a 3e-7 part of the mean square. Within
        // 1e-6 relatively (the f32 deviations from the shift, a sample mean near 1000, and
        // their squares round at 6e-8 each); sums of products within 1e-6 (sums of g within
        // 1e-7) of the sum of their magnitudes. Also with each channel's first value an
        // outlier (100 standard deviations out): shifting by it failed the variance bound.
        for (outer, channels, inner, outlier) in [
            (3000, 40, 1, false),
            (37, 200, 1, false),
            (300, 6, 37, false),
            (28892, 3, 1, true),
            (300, 2, 37, true),
        ] {
            let l = ChannelLayout { outer, channels, inner };
            let n = outer * channels * inner;
            let mut x: Vec<f32> = (0..n).map(|i| 1000.0 + ((i * 37 % 101) as f32 / 50.0 - 1.0)).collect();
            if outlier {
                (0..channels).for_each(|c| x[c * inner] = 1058.0);
            }
            let g: Vec<f32> = (0..n).map(|i| (i * 53 % 97) as f32 / 24.0 - 2.0).collect();
            let (mean, var) = channel_moments(&x, l);
            let (sg, sgx) = channel_grad_sums(&x, &g, &mean, l);
            for c in 0..channels {
                let at = |o: usize, i: usize| (o * channels + c) * inner + i;
                let pos: Vec<usize> = (0..outer).flat_map(|o| (0..inner).map(move |i| at(o, i))).collect();
                let m = pos.iter().map(|&k| x[k] as f64).sum::<f64>() / pos.len() as f64;
                let v = pos.iter().map(|&k| (x[k] as f64 - m).powi(2)).sum::<f64>() / pos.len() as f64;
                assert!((mean[c] - m).abs() < 1e-12 * m && (var[c] - v).abs() < 1e-6 * v, "{l:?} c {c}");
                let want_g: f64 = pos.iter().map(|&k| g[k] as f64).sum();
                let g_scale: f64 = pos.iter().map(|&k| (g[k] as f64).abs()).sum();
                let terms = pos.iter().map(|&k| g[k] as f64 * (x[k] as f64 - mean[c]));
                let (want_gx, scale) = terms.fold((0.0, 0.0), |(s, a), t| (s + t, a + t.abs()));
                assert!((sg[c] - want_g).abs() < 1e-7 * g_scale, "{l:?} c {c}: {} vs {want_g}", sg[c]);
                assert!((sgx[c] - want_gx).abs() < 1e-6 * scale, "{l:?} c {c}: {} vs {want_gx}", sgx[c]);
            }
        }
    }

    #[test]
    fn f32_row_statistics_survive_a_large_offset() {
        // Rows of 1000 + u, u spread over [-1, 1]: the variance (about 1/3) is a 3e-7 part of
        // the mean square, so squares about zero would lose it in f32. The f32 kernel sums
        // about its rounded mean; the reference is the f64 definition on the same f32 values.
        let (rows, m) = (4, 300);
        let x: Vec<f32> = (0..rows * m).map(|i| 1000.0 + ((i * 37 % 101) as f32 / 50.0 - 1.0)).collect();
        let (mut y, mut mean, mut rstd, mut var) =
            (vec![0f32; rows * m], vec![0f32; rows], vec![0f32; rows], vec![0f32; rows]);
        rows_forward(&x, m, 1e-5, None, None, &mut y, &mut mean, &mut rstd, &mut var);
        for r in 0..rows {
            let xr: Vec<f64> = x[r * m..(r + 1) * m].iter().map(|&v| v as f64).collect();
            let mu = xr.iter().sum::<f64>() / m as f64;
            let v = xr.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / m as f64;
            assert!((var[r] as f64 - v).abs() < 1e-6 * v, "row {r}: var {} vs {v}", var[r]);
            let rs = 1.0 / (v + 1e-5).sqrt();
            for j in 0..m {
                // mean is rounded to f32 (half an ulp of 1000 = 3e-5), scaled by rstd ~ 1.7.
                let want = (xr[j] - mu) * rs;
                assert!((y[r * m + j] as f64 - want).abs() < 1e-4, "row {r} col {j}");
            }
        }
    }

    #[test]
    fn row_kernels_match_the_definitions_serial_and_threaded() {
        for (rows, m) in [(3, 5), (1000, 70)] {
            let (x, g) = (data(rows * m, 1.0), data(rows * m, 0.0).iter().rev().copied().collect::<Vec<_>>());
            let w: Vec<f64> = (0..m).map(|j| 0.5 + j as f64 / m as f64).collect();
            let b: Vec<f64> = (0..m).map(|j| j as f64 - 2.0).collect();
            let (mut y, mut mean, mut rstd, mut var) =
                (vec![0.0; rows * m], vec![0.0; rows], vec![0.0; rows], vec![0.0; rows]);
            rows_forward(&x, m, 1e-5, Some(&w), Some(&b), &mut y, &mut mean, &mut rstd, &mut var);
            let (mut dx, mut dw, mut db) = (vec![0.0; rows * m], vec![0.0; m], vec![0.0; m]);
            rows_backward(&x, &g, m, &mean, &rstd, Some(&w), Some(&mut dx), &mut dw, &mut db);
            let (mut want_dw, mut want_db) = (vec![0.0; m], vec![0.0; m]);
            for r in 0..rows {
                let (xr, gr) = (&x[r * m..(r + 1) * m], &g[r * m..(r + 1) * m]);
                let mu = xr.iter().sum::<f64>() / m as f64;
                let v = xr.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / m as f64;
                let rs = 1.0 / (v + 1e-5).sqrt();
                let xhat: Vec<f64> = xr.iter().map(|x| (x - mu) * rs).collect();
                let gw: Vec<f64> = gr.iter().zip(&w).map(|(g, w)| g * w).collect();
                let mg = gw.iter().sum::<f64>() / m as f64;
                let mgx = gw.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / m as f64;
                for j in 0..m {
                    assert!((y[r * m + j] - (xhat[j] * w[j] + b[j])).abs() < 1e-12);
                    assert!((dx[r * m + j] - rs * (gw[j] - mg - xhat[j] * mgx)).abs() < 1e-11);
                    want_dw[j] += gr[j] * xhat[j];
                    want_db[j] += gr[j];
                }
            }
            for j in 0..m {
                assert!((dw[j] - want_dw[j]).abs() < 1e-9 && (db[j] - want_db[j]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn dx_pair_gives_the_portable_bits_at_every_capability() {
        // Row lengths around the vector (16) and its rest, with and without w, and dw/db
        // holding earlier rows' sums: dx_pair against the portable loop on the same two rows,
        // bit for bit.
        for m in [1, 5, 15, 16, 17, 33, 100, 256, 300] {
            let x: Vec<f32> = (0..2 * m).map(|i| ((i * 7919) % 2003) as f32 / 97.0 - 10.0).collect();
            let g: Vec<f32> = (0..2 * m).map(|i| ((i * 104_729) % 1009) as f32 / 53.0 - 9.0).collect();
            let w: Vec<f32> = (0..m).map(|j| 0.5 + (j % 7) as f32 / 7.0).collect();
            let (mean, rstd) = ([0.3f32, -1.7], [0.9f32, 1.3]);
            let st = [(0.25f32, -0.6f32), (-1.1, 0.45)];
            let start: Vec<f32> = (0..m).map(|j| j as f32 * 0.01 - 1.0).collect();
            for wv in [Some(&w[..]), None] {
                let (mut want, mut want_dw, mut want_db) = (vec![0f32; 2 * m], start.clone(), start.clone());
                dx_rows(&x, &g, wv, &mean, &rstd, &st, &mut want, &mut want_dw, &mut want_db);
                let rows = [0, 1].map(|i| RowGrad { mu: mean[i], rs: rstd[i], a: st[i].0, b: st[i].1 });
                let caps = crate::simd::available().into_iter().filter_map(RowSums::at::<f32>);
                for sums in caps {
                    let (mut dx, mut dw, mut db) = (vec![0f32; 2 * m], start.clone(), start.clone());
                    sums.dx_pair(&x, &g, wv, rows, &mut dx, &mut dw, &mut db);
                    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    let case = format!("{sums:?} m={m} w={}", wv.is_some());
                    assert_eq!(bits(&dx), bits(&want), "{case}: dx");
                    assert_eq!((bits(&dw), bits(&db)), (bits(&want_dw), bits(&want_db)), "{case}: dw, db");
                }
            }
        }
    }

    #[test]
    fn f32_row_kernels_match_the_f64_definitions() {
        // f32 rows through the vector kernels where the CPU has them (the sums, and the
        // backward's pairs of rows): 129 rows (tasks of 64, 64 and 1: an odd last row) of 37
        // (two vectors of 16 and a rest), serial, and 1000 rows of 70 on the threads. The
        // reference is the f64 definition on the same f32 values; bounds: 2e-5 absolute for
        // y and dx (values of a few units, each from a handful of f32 roundings of ~6e-8
        // relative, plus the f32 mean and rstd), 1e-5 of the sum of the terms' magnitudes
        // for dw and db.
        for (rows, m) in [(129, 37), (1000, 70)] {
            let x: Vec<f32> = data(rows * m, 1.0).iter().map(|&v| v as f32).collect();
            let g: Vec<f32> = data(rows * m, 0.0).iter().rev().map(|&v| v as f32).collect();
            let w: Vec<f32> = (0..m).map(|j| 0.5 + j as f32 / m as f32).collect();
            let b: Vec<f32> = (0..m).map(|j| j as f32 * 0.1 - 2.0).collect();
            let (mut y, mut mean, mut rstd, mut var) =
                (vec![0f32; rows * m], vec![0f32; rows], vec![0f32; rows], vec![0f32; rows]);
            rows_forward(&x, m, 1e-5, Some(&w), Some(&b), &mut y, &mut mean, &mut rstd, &mut var);
            let (mut dx, mut dw, mut db) = (vec![0f32; rows * m], vec![0f32; m], vec![0f32; m]);
            rows_backward(&x, &g, m, &mean, &rstd, Some(&w), Some(&mut dx), &mut dw, &mut db);
            let (mut want_dw, mut want_db, mut mag_dw, mut mag_db) =
                (vec![0.0; m], vec![0.0; m], vec![0.0; m], vec![0.0; m]);
            for r in 0..rows {
                let xr: Vec<f64> = x[r * m..(r + 1) * m].iter().map(|&v| v as f64).collect();
                let gr: Vec<f64> = g[r * m..(r + 1) * m].iter().map(|&v| v as f64).collect();
                let mu = xr.iter().sum::<f64>() / m as f64;
                let v = xr.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / m as f64;
                let rs = 1.0 / (v + 1e-5).sqrt();
                let xhat: Vec<f64> = xr.iter().map(|x| (x - mu) * rs).collect();
                let gw: Vec<f64> = gr.iter().zip(&w).map(|(g, &w)| g * w as f64).collect();
                let mg = gw.iter().sum::<f64>() / m as f64;
                let mgx = gw.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / m as f64;
                for j in 0..m {
                    let want_y = xhat[j] * w[j] as f64 + b[j] as f64;
                    assert!((y[r * m + j] as f64 - want_y).abs() < 2e-5, "{rows}x{m} y[{r}, {j}]");
                    let want_dx = rs * (gw[j] - mg - xhat[j] * mgx);
                    assert!((dx[r * m + j] as f64 - want_dx).abs() < 2e-5, "{rows}x{m} dx[{r}, {j}]");
                    want_dw[j] += gr[j] * xhat[j];
                    want_db[j] += gr[j];
                    mag_dw[j] += (gr[j] * xhat[j]).abs();
                    mag_db[j] += gr[j].abs();
                }
            }
            for j in 0..m {
                assert!((dw[j] as f64 - want_dw[j]).abs() <= 1e-5 * mag_dw[j], "{rows}x{m} dw[{j}]");
                assert!((db[j] as f64 - want_db[j]).abs() <= 1e-5 * mag_db[j], "{rows}x{m} db[{j}]");
            }
        }
    }
}
