//! Layer norm's row sums for f32 rows on AVX2 or AVX-512, written with intrinsics, with its
//! backward's second pass over two rows at once ([`RowSums::dx_pair`]), and batch norm's
//! column sums of an `(N, C)` input on AVX-512 ([`RowSums::columns`], over [`F32s`]: the sums
//! of a group of rows kept in registers instead of going through memory row by row).
//!
//! The portable sums of `norm.rs` (`block_sum3`) leave the vectorising to LLVM, which allows
//! one accumulator of sixteen lanes per loop and a fold of the lanes one by one: each row is
//! then a long chain of dependent additions, and layer norm's forward spent ~60% of its time
//! waiting on them (a build without the sums ran the (8192, 256) forward in 151-158 us
//! against 410-435). Here a row is summed in four accumulators of sixteen lanes (four
//! independent chains; two per sum when two sums share the pass, so that AVX2 keeps its
//! accumulators in eight of its sixteen registers), and the lanes are added by halving
//! (`k + 8`, `k + 4`, `k + 2`, `k + 1`) in registers.
//!
//! Sixteen lanes are one 512-bit vector with AVX-512 and two 256-bit ones with AVX2 ([`V16`]);
//! each lane sees the same values in the same order either way, so the two builds give the
//! same bits. (The portable build keeps `block_sum3`, whose f64 lanes round differently.)
//! Values are summed in blocks of [`BLOCK`] (half of it per sum for two sums): within a block
//! in f32 (at most 16 additions per lane, then 2 + 4 for the accumulators and the halving,
//! about 22 roundings: a relative error of ~1.3e-6 of the sum of magnitudes at worst, as
//! PyTorch's f32 reductions), the blocks' sums in f64.

use super::{terms, RowGrad, SUM_GROUP};
use crate::dtype::{as_f32, as_f32_mut};
use crate::simd::vector::{for_strips, F32s, Strip};
use crate::simd::{capability, supported, Capability};
use crate::Float;
use std::arch::x86_64::*;

/// Values summed in f32 before an f64 takes over: 16 steps of the four accumulators of a sum
/// (half as many values when two sums share a pass and two accumulators each: [`sums_by`]).
const BLOCK: usize = 1024;

/// Sixteen f32 lanes in registers.
trait V16: Copy {
    /// All lanes `v`.
    unsafe fn splat(v: f32) -> Self;
    /// Sixteen values from `p` (any alignment).
    unsafe fn load(p: *const f32) -> Self;
    /// The sixteen lanes to `p` (any alignment).
    unsafe fn store(self, p: *mut f32);
    /// Lanewise `self + o`.
    unsafe fn add(self, o: Self) -> Self;
    /// Lanewise `self - o`.
    unsafe fn sub(self, o: Self) -> Self;
    /// Lanewise `self * o`.
    unsafe fn mul(self, o: Self) -> Self;
    /// The sum of the lanes by halving: `v[k] + v[k + 8]` (k < 8), then `+ 4`, `+ 2`, `+ 1`.
    unsafe fn sum(self) -> f32;
}

/// The last two halving steps on four lanes: `(v0 + v2) + (v1 + v3)`.
#[inline(always)]
unsafe fn sum4(v: __m128) -> f32 {
    let two = _mm_add_ps(v, _mm_movehl_ps(v, v));
    _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps::<1>(two, two)))
}

impl V16 for __m512 {
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        _mm512_set1_ps(v)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        _mm512_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self)
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        _mm512_add_ps(self, o)
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        _mm512_sub_ps(self, o)
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        _mm512_mul_ps(self, o)
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(self)));
        let eight = _mm256_add_ps(_mm512_castps512_ps256(self), hi);
        sum4(_mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps::<1>(eight)))
    }
}

impl V16 for [__m256; 2] {
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        [_mm256_set1_ps(v); 2]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))]
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self[0]);
        _mm256_storeu_ps(p.add(8), self[1])
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        [_mm256_add_ps(self[0], o[0]), _mm256_add_ps(self[1], o[1])]
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        [_mm256_sub_ps(self[0], o[0]), _mm256_sub_ps(self[1], o[1])]
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        [_mm256_mul_ps(self[0], o[0]), _mm256_mul_ps(self[1], o[1])]
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        let eight = _mm256_add_ps(self[0], self[1]);
        sum4(_mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps::<1>(eight)))
    }
}

/// `sum(f(i))` over `0..n` as an f64, where `f(i)` is the vector of terms `i..i + 16` and
/// `tail(i)` the term `i` (for the last `n % 16`): per block of [`BLOCK`], four accumulators
/// take the vectors in turn, the rest of the block's vectors go to the first, and the block's
/// sum is `((a0 + a1) + (a2 + a3)).sum() + tail terms` (in order).
#[inline(always)]
unsafe fn sum_by<V: V16>(n: usize, f: impl Fn(usize) -> V, tail: impl Fn(usize) -> f32) -> f64 {
    let [s] = sums_by::<V, 1>(n, |i| [f(i)], |i| [tail(i)]);
    s
}

/// `K` (1 or 2) sums in one pass over `0..n` (`f(i)` and `tail(i)` give one term of each),
/// the `K` chains of additions and of lane folds overlapping instead of running one after
/// the other. Four accumulators in all: with two sums, two each (`a0` takes the vectors
/// `0, 2` of every 64 values, `a1` the vectors `1, 3`), in blocks of `BLOCK / 2`, so that a
/// lane still adds at most 16 values in f32; the block's sum is then `(a0 + a1).sum()`.
#[inline(always)]
unsafe fn sums_by<V: V16, const K: usize>(
    n: usize,
    f: impl Fn(usize) -> [V; K],
    tail: impl Fn(usize) -> [f32; K],
) -> [f64; K] {
    const { assert!(K == 1 || K == 2, "sums_by: one or two sums") };
    // Accumulators per sum (constant once monomorphised, so they stay in registers).
    let per = 4 / K;
    let mut total = [0.0f64; K];
    for b0 in (0..n).step_by(BLOCK / K) {
        let b1 = (b0 + BLOCK / K).min(n);
        let zero = V::splat(0.0);
        let mut acc = [[zero; 4]; K];
        let mut i = b0;
        while i + 64 <= b1 {
            for q in 0..4 {
                let t = f(i + 16 * q);
                for (a, t) in acc.iter_mut().zip(t) {
                    a[q % per] = a[q % per].add(t);
                }
            }
            i += 64;
        }
        while i + 16 <= b1 {
            for (a, t) in acc.iter_mut().zip(f(i)) {
                a[0] = a[0].add(t);
            }
            i += 16;
        }
        // A loop, not `from_fn`: a closure handed to a library function is compiled without
        // this function's target features, and the intrinsics in it can become calls.
        let mut s = [0.0f32; K];
        for (s, a) in s.iter_mut().zip(&acc) {
            let folded = if per == 4 { a[0].add(a[1]).add(a[2].add(a[3])) } else { a[0].add(a[1]) };
            *s = folded.sum();
        }
        for j in i..b1 {
            s.iter_mut().zip(tail(j)).for_each(|(s, t)| *s += t);
        }
        total.iter_mut().zip(s).for_each(|(total, s)| *total += s as f64);
    }
    total
}

/// [`RowSums::moments`] at one vector type.
#[inline(always)]
unsafe fn moments_with<V: V16>(row: &[f32]) -> (f64, f64) {
    let (m, p) = (row.len(), row.as_ptr());
    // The values are summed as deviations from `k`, the mean of the first 16 (or all, if
    // fewer), so that the f32 partial sums stay near the deviations: summed as they are, the
    // rows of `1000 + u` (u in [-1, 1]) of the test in norm.rs had their means wrong by ~1e-4.
    let k = if m >= 16 { V::load(p).sum() / 16.0 } else { row.iter().sum::<f32>() / m as f32 };
    let kv = V::splat(k);
    // One pass for the sums of `d = x - k` and `d^2`: with `delta = mean - k = S1 / m`, the
    // variance is `S2 / m - delta^2`. Where `delta^2 <= var` (k within a standard deviation
    // of the mean, as the mean of 16 values of the row usually is), `S2 / m <= 2 var` and
    // the subtraction at most doubles the sums' relative error. Otherwise (an outlier among
    // the first 16, a drifting row, NaN or inf) the second pass below, over the deviations
    // from the rounded mean. One pass instead of two dependent ones shortened layer norm's
    // forward from ~240 to ~170 cycles per row of 256 (AVX-512, data in L1).
    let dev = |i: usize| {
        let d = V::load(p.add(i)).sub(kv);
        [d, d.mul(d)]
    };
    let [s1, s2] = sums_by::<V, 2>(m, dev, |i| [row[i] - k, (row[i] - k) * (row[i] - k)]);
    let delta = s1 / m as f64;
    let var = s2 / m as f64 - delta * delta;
    if delta * delta <= var {
        return (k as f64 + delta, var);
    }
    let s = sum_by::<V>(m, |i| V::load(p.add(i)).sub(kv), |i| row[i] - k);
    let mu64 = k as f64 + s / m as f64;
    let mu_t = mu64 as f32;
    // mean((x - mu_t)^2) = var + (mean - mu_t)^2, mu_t being the rounded mean.
    let (shift, mv) = (mu64 - mu_t as f64, V::splat(mu_t));
    let dev = |i: usize| {
        let d = V::load(p.add(i)).sub(mv);
        d.mul(d)
    };
    let sq = sum_by::<V>(m, dev, |i| (row[i] - mu_t) * (row[i] - mu_t));
    (mu64, (sq / m as f64 - shift * shift).max(0.0))
}

/// [`RowSums::grad_sums`] at one vector type.
#[inline(always)]
unsafe fn grad_sums_with<V: V16>(x: &[f32], g: &[f32], w: Option<&[f32]>, mu: f32, rs: f32) -> (f64, f64) {
    let (m, px, pg) = (x.len(), x.as_ptr(), g.as_ptr());
    let (mv, rv) = (V::splat(mu), V::splat(rs));
    match w {
        Some(w) => {
            let pw = w.as_ptr();
            let terms = |i: usize| {
                let gw = V::load(pg.add(i)).mul(V::load(pw.add(i)));
                [gw, gw.mul(V::load(px.add(i)).sub(mv).mul(rv))]
            };
            let [s_gw, s_gwx] =
                sums_by::<V, 2>(m, terms, |i| [g[i] * w[i], g[i] * w[i] * ((x[i] - mu) * rs)]);
            (s_gw, s_gwx)
        }
        None => {
            let terms = |i: usize| {
                let gv = V::load(pg.add(i));
                [gv, gv.mul(V::load(px.add(i)).sub(mv).mul(rv))]
            };
            let [s_g, s_gx] = sums_by::<V, 2>(m, terms, |i| [g[i], g[i] * ((x[i] - mu) * rs)]);
            (s_g, s_gx)
        }
    }
}

/// [`RowSums::dx_pair`] at one vector type: per 16 columns, `w`, `dw` and `db` are loaded
/// once for both rows and the two rows' terms added in row order; the last `m % 16`
/// columns one by one, with the same operations.
#[inline(always)]
unsafe fn dx_pair_with<V: V16>(
    x: &[f32],
    g: &[f32],
    w: Option<&[f32]>,
    rows: [RowGrad; 2],
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let m = dw.len();
    let (px, pg, pd, pdw, pdb) = (x.as_ptr(), g.as_ptr(), dx.as_mut_ptr(), dw.as_mut_ptr(), db.as_mut_ptr());
    let splat = |r: RowGrad| [V::splat(r.mu), V::splat(r.rs), V::splat(r.a), V::splat(r.b)];
    let c = [splat(rows[0]), splat(rows[1])];
    let one = V::splat(1.0);
    let mut j = 0;
    while j + 16 <= m {
        let wv = match w {
            Some(w) => V::load(w.as_ptr().add(j)),
            None => one,
        };
        let (mut sw, mut sb) = (V::load(pdw.add(j)), V::load(pdb.add(j)));
        for (r, [mu, rs, a, b]) in c.iter().enumerate() {
            let (xv, gv) = (V::load(px.add(r * m + j)), V::load(pg.add(r * m + j)));
            let h = xv.sub(*mu).mul(*rs);
            rs.mul(gv.mul(wv).sub(*a).sub(h.mul(*b))).store(pd.add(r * m + j));
            sw = sw.add(gv.mul(h));
            sb = sb.add(gv);
        }
        sw.store(pdw.add(j));
        sb.store(pdb.add(j));
        j += 16;
    }
    for j in j..m {
        let wv = w.map_or(1.0, |w| w[j]);
        for (r, k) in rows.iter().enumerate() {
            let (xv, gv) = (x[r * m + j], g[r * m + j]);
            let h = (xv - k.mu) * k.rs;
            dx[r * m + j] = k.rs * (gv * wv - k.a - h * k.b);
            dw[j] += gv * h;
            db[j] += gv;
        }
    }
}

/// One group of rows `a` (and `b`) of batch norm's column sums ([`RowSums::columns`]), rows
/// of `center.len()` values, and the f64 sums `p`, `q` they are added to.
struct Columns<'a, const GRAD: bool> {
    a: &'a [f32],
    b: &'a [f32],
    center: &'a [f32],
    p: &'a mut [f64],
    q: &'a mut [f64],
}

impl<const GRAD: bool> Strip for Columns<'_, GRAD> {
    /// The `S * V::N` columns from `j0` on: the two [`terms`] summed down each column in
    /// registers (`S` vectors of each), then added to `p`, `q` in f64.
    #[inline(always)]
    unsafe fn strip<V: F32s, const S: usize>(&mut self, j0: usize) {
        let w = self.center.len();
        let k = self.center.as_ptr().add(j0);
        let (mut sp, mut sq) = ([V::zero(); S], [V::zero(); S]);
        for r in 0..self.a.len() / w {
            let (ra, rb) = (self.a.as_ptr().add(r * w + j0), self.b.as_ptr().add(r * w + j0));
            for s in 0..S {
                let (o, c) = (s * V::N, V::load(k.add(s * V::N)));
                let x = V::load(ra.add(o));
                let (u, v) = if GRAD {
                    (x, x.mul(V::load(rb.add(o)).sub(c)))
                } else {
                    let d = x.sub(c);
                    (d, d.mul(d))
                };
                sp[s] = sp[s].add(u);
                sq[s] = sq[s].add(v);
            }
        }
        let mut lanes = [[0.0f32; 16]; 2];
        for s in 0..S {
            sp[s].store(lanes[0].as_mut_ptr());
            sq[s].store(lanes[1].as_mut_ptr());
            let o = j0 + s * V::N;
            for (i, (p, q)) in self.p[o..o + V::N].iter_mut().zip(&mut self.q[o..o + V::N]).enumerate() {
                *p += lanes[0][i] as f64;
                *q += lanes[1][i] as f64;
            }
        }
    }
}

/// [`RowSums::columns`] with `V`: per group of [`SUM_GROUP`] rows, strips of `S` vectors
/// (see [`for_strips`]), then the rest one by one.
#[inline(always)]
unsafe fn columns_with<V: F32s, H: F32s, const S: usize, const GRAD: bool>(
    a: &[f32],
    b: &[f32],
    center: &[f32],
    p: &mut [f64],
    q: &mut [f64],
) {
    let w = center.len();
    for (ga, gb) in a.chunks(SUM_GROUP * w).zip(b.chunks(SUM_GROUP * w)) {
        let group = &mut Columns::<GRAD> { a: ga, b: gb, center, p: &mut *p, q: &mut *q };
        let j = for_strips::<V, H, S>(w, group);
        if j < w {
            // The last columns, in the portable order: the group's sums in f32, then in f64.
            let ([mut gp, mut gq], n) = ([[0.0f32; 16]; 2], w - j);
            let (gp, gq) = (&mut gp[..n], &mut gq[..n]);
            for (ra, rb) in ga.chunks_exact(w).zip(gb.chunks_exact(w)) {
                for (i, (p, q)) in gp.iter_mut().zip(gq.iter_mut()).enumerate() {
                    let (u, v) = terms::<f32, GRAD>(ra[j + i], rb[j + i], center[j + i]);
                    *p += u;
                    *q += v;
                }
            }
            for (i, (u, v)) in gp.iter().zip(gq.iter()).enumerate() {
                p[j + i] += *u as f64;
                q[j + i] += *v as f64;
            }
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn columns_avx512<const GRAD: bool>(a: &[f32], b: &[f32], c: &[f32], p: &mut [f64], q: &mut [f64]) {
    columns_with::<__m512, __m256, 12, GRAD>(a, b, c, p, q)
}

#[target_feature(enable = "avx512f")]
unsafe fn moments_avx512(row: &[f32]) -> (f64, f64) {
    moments_with::<__m512>(row)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn moments_avx2(row: &[f32]) -> (f64, f64) {
    moments_with::<[__m256; 2]>(row)
}

#[target_feature(enable = "avx512f")]
unsafe fn grad_sums_avx512(x: &[f32], g: &[f32], w: Option<&[f32]>, mu: f32, rs: f32) -> (f64, f64) {
    grad_sums_with::<__m512>(x, g, w, mu, rs)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn grad_sums_avx2(x: &[f32], g: &[f32], w: Option<&[f32]>, mu: f32, rs: f32) -> (f64, f64) {
    grad_sums_with::<[__m256; 2]>(x, g, w, mu, rs)
}

#[target_feature(enable = "avx512f")]
unsafe fn dx_pair_avx512(
    x: &[f32],
    g: &[f32],
    w: Option<&[f32]>,
    r: [RowGrad; 2],
    d: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    dx_pair_with::<__m512>(x, g, w, r, d, dw, db)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dx_pair_avx2(
    x: &[f32],
    g: &[f32],
    w: Option<&[f32]>,
    r: [RowGrad; 2],
    d: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    dx_pair_with::<[__m256; 2]>(x, g, w, r, d, dw, db)
}

/// The vector build the row sums run at, if any: f32 rows on an AVX2 or AVX-512 CPU (at
/// the capability `TORCHLET_CPU_CAPABILITY` leaves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RowSums(Capability);

impl RowSums {
    /// The build for rows of `T` at capability `cap` (lowered to what the CPU has), or `None`
    /// (f64, or no AVX2): then the portable sums of `norm.rs` run.
    pub(super) fn at<T: Float>(cap: Capability) -> Option<RowSums> {
        let is_f32 = std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>();
        match supported(cap) {
            c @ (Capability::Avx2 | Capability::Avx512) if is_f32 => Some(RowSums(c)),
            _ => None,
        }
    }

    /// [`RowSums::at`] the chosen capability.
    pub(super) fn new<T: Float>() -> Option<RowSums> {
        Self::at::<T>(capability())
    }

    /// A row's mean and biased variance, in f64 (`row` non-empty): the sums of the values'
    /// deviations `d` from the mean of the first 16 and of `d^2` in one pass, when the mean
    /// lies within a standard deviation of that shift; otherwise the sum of the `d`, then the
    /// sum of the squared deviations from the mean rounded to f32, corrected by the square of
    /// that rounding.
    pub(super) fn moments<T: Float>(self, row: &[T]) -> (f64, f64) {
        let row = as_f32(row).expect("RowSums: f32 rows");
        // SAFETY: `RowSums` exists only for a capability the CPU has (`supported`).
        unsafe {
            match self.0 {
                Capability::Avx512 => moments_avx512(row),
                _ => moments_avx2(row),
            }
        }
    }

    /// Layer norm's two backward sums over a row: `sum(g w)` and `sum(g w xhat)` with
    /// `xhat = (x - mu) rs` (`w` taken as 1 when absent).
    pub(super) fn grad_sums<T: Float>(self, x: &[T], g: &[T], w: Option<&[T]>, mu: T, rs: T) -> (f64, f64) {
        let (Some(x), Some(g)) = (as_f32(x), as_f32(g)) else { unreachable!("RowSums: f32 rows") };
        let w = w.map(|w| as_f32(w).expect("RowSums: f32 weight"));
        assert!(g.len() == x.len() && w.is_none_or(|w| w.len() == x.len()));
        let (mu, rs) = (mu.to_f64() as f32, rs.to_f64() as f32);
        // SAFETY: `RowSums` exists only for a capability the CPU has (`supported`); the
        // slices have one length (asserted), which bounds every load.
        unsafe {
            match self.0 {
                Capability::Avx512 => grad_sums_avx512(x, g, w, mu, rs),
                _ => grad_sums_avx2(x, g, w, mu, rs),
            }
        }
    }

    /// Layer norm's second backward pass over two rows of `m = dw.len()` values (`x`, `g`
    /// and `dx` hold both rows, `rows` their constants): with `xhat = (x - mu) rs`,
    /// `dx = rs (g w - a - xhat b)`, and `dw += g xhat`, `db += g` per column, the first
    /// row's terms added before the second's. The operations, unfused and in this order,
    /// are those of the portable loop in norm.rs, so the bits are the same; per 16 columns,
    /// `dw` and `db` are read and written once for the two rows instead of once per row.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dx_pair<T: Float>(
        self,
        x: &[T],
        g: &[T],
        w: Option<&[T]>,
        rows: [RowGrad; 2],
        dx: &mut [T],
        dw: &mut [T],
        db: &mut [T],
    ) {
        let (Some(x), Some(g)) = (as_f32(x), as_f32(g)) else { unreachable!("RowSums: f32 rows") };
        let (Some(dx), Some(dw), Some(db)) = (as_f32_mut(dx), as_f32_mut(dw), as_f32_mut(db)) else {
            unreachable!("RowSums: f32 rows")
        };
        let w = w.map(|w| as_f32(w).expect("RowSums: f32 weight"));
        let m = dw.len();
        assert!(db.len() == m && x.len() == 2 * m && g.len() == 2 * m && dx.len() == 2 * m);
        assert!(w.is_none_or(|w| w.len() == m));
        // SAFETY: `RowSums` exists only for a capability the CPU has (`supported`); every
        // vector is of columns `j..j + 16 <= m` of a row of `x`, `g`, `dx` (two rows of `m`,
        // asserted), `w`, `dw` or `db` (`m`, asserted).
        unsafe {
            match self.0 {
                Capability::Avx512 => dx_pair_avx512(x, g, w, rows, dx, dw, db),
                _ => dx_pair_avx2(x, g, w, rows, dx, dw, db),
            }
        }
    }

    /// Whether [`RowSums::columns`] runs here: with AVX-512. The portable loop stays with
    /// AVX2, where 8-lane strips read each group of rows as many short runs: on a
    /// (28892, 200) f32 input (2 threads) the gradient sums, reading two tensors, took
    /// 1,680-1,730 us in strips of 48 columns against 870-875 portable; the statistics
    /// alone 360-375 against 541-549, but `batch_norm_fwd_bwd` as a whole 4,807 against
    /// 4,268 us with them (A/B, 10 rounds). With AVX-512 (strips of 192 columns): the
    /// statistics 286-288 against 558-635, the gradient sums 609-631 against 875-902.
    pub(super) fn has_columns(self) -> bool {
        self.0 == Capability::Avx512
    }

    /// Batch norm's sums down the columns of the rows `a` (and `b`; rows of `center.len()`
    /// values), added to `p` and `q`: the sums of the two [`terms`] of each column, in
    /// groups of [`SUM_GROUP`] rows summed in f32 (in registers, strips of 12 vectors) and
    /// added in f64. The additions and their order are those of
    /// the portable loop of `row_sums` in norm.rs, lane by lane, so the bits are the same.
    pub(super) fn columns<T: Float, const GRAD: bool>(
        self,
        a: &[T],
        b: &[T],
        center: &[T],
        p: &mut [f64],
        q: &mut [f64],
    ) {
        let (Some(a), Some(b), Some(c)) = (as_f32(a), as_f32(b), as_f32(center)) else {
            unreachable!("RowSums: f32 rows")
        };
        let w = c.len();
        assert!(w > 0 && a.len() % w == 0 && (b.len() == a.len() || !GRAD) && p.len() == w && q.len() == w);
        // Without GRAD `b` is not read: pass `a` for it.
        let b = if GRAD { b } else { a };
        // SAFETY: `RowSums` exists only for a capability the CPU has (`supported`); every
        // load is of a row of `w` values of `a` or `b` (whole rows, asserted) or of `c`.
        unsafe {
            match self.0 {
                Capability::Avx512 => columns_avx512::<GRAD>(a, b, c, p, q),
                _ => unreachable!("RowSums::columns: AVX-512 only (has_columns)"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::available_vector;

    #[test]
    fn row_sums_match_f64_and_avx2_gives_the_bits_of_avx512() {
        // Rows around the vector (16), the four accumulators (64) and the block (1024)
        // lengths, with a large offset (values 100 + u, u in [-1, 1]: the variance is a
        // 3e-5 part of the mean square); the f64 definitions on the same f32 values.
        // Bounds: the mean within 1e-6 (1e-8 relatively: the sums are of deviations from
        // the mean of the first 16 values, of magnitude ~4 at most here; summed as they
        // are, values of 100 in f32 lanes miss that by up to ~4e-6), the variance within 1e-5
        // relatively (the squares of deviations from the rounded mean, each rounded once),
        // the gradient sums within 2e-6 of the sums of their terms' magnitudes. Also with the
        // first value an outlier.
        let caps = available_vector();
        let lengths = [1, 5, 16, 17, 63, 64, 100, 256, 1000, 1024, 1030, 3000];
        for (m, outlier) in lengths.iter().flat_map(|&m| [(m, false), (m, true)]) {
            let mut x: Vec<f32> = (0..m).map(|i| 100.0 + ((i * 37 % 101) as f32 / 50.0 - 1.0)).collect();
            if outlier {
                x[0] = 158.0; // 100 standard deviations out, in the values the shift is taken from
            }
            let g: Vec<f32> = (0..m).map(|i| (i * 53 % 97) as f32 / 24.0 - 2.0).collect();
            let w: Vec<f32> = (0..m).map(|i| 0.5 + (i % 7) as f32 / 7.0).collect();
            let xs: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let mean = xs.iter().sum::<f64>() / m as f64;
            let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m as f64;
            let (mu, rs) = (mean as f32, (1.0 / (var + 1e-5).sqrt()) as f32);
            let mut bits: Option<Vec<u64>> = None;
            for &cap in &caps {
                let sums = RowSums::at::<f32>(cap).expect("f32 at AVX2 or AVX-512");
                let (got_mean, got_var) = sums.moments(&x);
                assert!(
                    (got_mean - mean).abs() <= 1e-8 * mean,
                    "{cap:?} m={m} {outlier}: mean {got_mean} vs {mean}"
                );
                assert!(
                    (got_var - var).abs() <= 1e-5 * var.max(1e-30),
                    "{cap:?} m={m} {outlier}: var {got_var} vs {var}"
                );
                let mut out = vec![got_mean.to_bits(), got_var.to_bits()];
                for wv in [Some(&w[..]), None] {
                    let wk = |i: usize| wv.map_or(1.0, |w| w[i] as f64);
                    let h = |i: usize| (x[i] - mu) as f64 * rs as f64;
                    let (s1, s2) = sums.grad_sums(&x, &g, wv, mu, rs);
                    let t1: Vec<f64> = (0..m).map(|i| g[i] as f64 * wk(i)).collect();
                    let t2: Vec<f64> = (0..m).map(|i| t1[i] * h(i)).collect();
                    for (got, t) in [(s1, &t1), (s2, &t2)] {
                        let (want, mag) = (t.iter().sum::<f64>(), t.iter().map(|v| v.abs()).sum::<f64>());
                        assert!(
                            (got - want).abs() <= 2e-6 * mag,
                            "{cap:?} m={m} w={}: {got} vs {want}",
                            wv.is_some()
                        );
                    }
                    out.extend([s1.to_bits(), s2.to_bits()]);
                }
                match &bits {
                    None => bits = Some(out),
                    Some(first) => assert_eq!(first, &out, "{cap:?} m={m}"),
                }
            }
        }
        // Not for f64 rows, nor without AVX2.
        assert!(RowSums::at::<f64>(Capability::Avx512).is_none());
        assert!(RowSums::at::<f32>(Capability::Default).is_none());
    }

    #[test]
    fn moments_one_pass_and_its_fallback_match_f64() {
        // Rows of 100 + u (u in [-1, 1]) whose first 16 values (the shift's sample) are moved
        // by s: the shift then lies |delta| from the mean with delta^2 / var swept from 0 to
        // ~4000 (m = 65536, s = 1024; at most (m - 16) / 16 for a shift that is the mean of
        // 16 of the values), across the one-pass limit (delta^2 <= var) both ways. The f64 two-pass
        // definitions on the same f32 values are the reference: the mean within 2e-6 of the
        // mean magnitude of the deviations from the shift (the f32 sums' bound), the
        // variance within 1e-5 relatively on both sides of the limit (one pass: the f32
        // sums' ~2e-6, at most doubled by the subtraction; here a one-pass sum with no limit
        // was off by more at m = 65536). AVX2 and AVX-512
        // give the same bits.
        let caps = available_vector();
        let (mut below, mut above) = (0, 0);
        let shifts = (0..=40).map(|k| k as f32 * 0.1).chain([8.0, 64.0, 256.0, 1024.0]);
        for (m, s) in [64, 256, 1000, 65536].into_iter().flat_map(|m| shifts.clone().map(move |s| (m, s))) {
            let x: Vec<f32> = (0..m)
                .map(|i| 100.0 + ((i * 37 % 101) as f32 / 50.0 - 1.0) + if i < 16 { s } else { 0.0 })
                .collect();
            let xs: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let mean = xs.iter().sum::<f64>() / m as f64;
            let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m as f64;
            let shift = xs[..16].iter().sum::<f64>() / 16.0;
            let dev = xs.iter().map(|v| (v - shift).abs()).sum::<f64>() / m as f64;
            let ratio = (mean - shift).powi(2) / var;
            below += usize::from(ratio < 0.8);
            above += usize::from(ratio > 1.25);
            let mut first: Option<(u64, u64)> = None;
            for &cap in &caps {
                let (got_mean, got_var) = RowSums::at::<f32>(cap).unwrap().moments(&x);
                let at = format!("{cap:?} m={m} s={s} delta^2/var={ratio:.2}");
                assert!((got_mean - mean).abs() <= 2e-6 * dev, "{at}: mean {got_mean} vs {mean}");
                assert!((got_var - var).abs() <= 1e-5 * var, "{at}: var {got_var} vs {var}");
                let b = (got_mean.to_bits(), got_var.to_bits());
                assert_eq!(*first.get_or_insert(b), b, "{at}");
            }
        }
        // The sweep reaches both sides of the limit (a property of the data above).
        assert!(below >= 20 && above >= 20, "{below} rows below the limit, {above} above");
    }
}
