//! The lane folds of `reduce.rs`, vectorised and split across threads: the extremes and the
//! first index of each (`max`, `argmax`, ...), products, running sums, and a map of every
//! contiguous lane to one value.
//!
//! A lane of contiguous values (`inner == 1`) is folded in [`SLOTS`] independent partial
//! results (value `k` into slot `k % SLOTS`), which the vector builds keep in registers, and
//! the slots are combined at the end. Strided lanes (`inner > 1`, a reduction over a leading
//! dim) are folded a row at a time: every row of the `(n, inner)` block updates the `inner`
//! partial results elementwise, which vectorises across the row, in blocks of 128 rows whose
//! partial results are then combined in order (as sums are: `simd::kernels::sum_cols`; the
//! products are `prod_cols`). Work is split across threads by lanes, by blocks of rows, or
//! (for one long lane) by chunks of fixed length: never by thread count, so a result does not
//! depend on how many threads there are.

use crate::simd::kernels::PARALLEL_MIN;
use crate::simd::Capability;
use crate::Numeric;
use rayon::prelude::*;

/// Partial results per contiguous lane.
const SLOTS: usize = 16;

/// Values per chunk when one long lane is split across threads.
const CHUNK: usize = 1 << 14;

/// `out[r] = f(lane r)` for the contiguous lanes of `n` values of `v` (`n > 0`), compiled for
/// `cap`; lanes are split across threads when `v` holds [`PARALLEL_MIN`] values or more.
pub(super) fn rows<T: Sync, O: Send>(
    cap: Capability,
    v: &[T],
    n: usize,
    out: &mut [O],
    f: impl Fn(&[T]) -> O + Sync,
) {
    assert!(n > 0 && v.len() == out.len() * n, "lanes::rows: whole lanes");
    let seq = |v: &[T], out: &mut [O]| {
        crate::dispatch!(cap, |F| out.iter_mut().zip(v.chunks_exact(n)).for_each(|(o, l)| *o = f(l)))
    };
    if v.len() < PARALLEL_MIN || out.len() == 1 {
        return seq(v, out);
    }
    crate::simd::threads::keep_awake();
    let per = (PARALLEL_MIN / 2).div_ceil(n);
    out.par_chunks_mut(per).zip(v.par_chunks(per * n)).for_each(|(o, v)| seq(v, o));
}

/// `merge` over `part` of the chunks of [`CHUNK`] values of `lane`, in order, on every core
/// (each chunk compiled for `cap`) for a lane of [`PARALLEL_MIN`] values or more; else
/// `part(lane)` in the caller's build.
#[inline(always)]
fn chunked<T: Sync, A: Send>(
    cap: Capability,
    lane: &[T],
    part: impl Fn(&[T]) -> A + Sync,
    merge: impl Fn(A, A) -> A,
) -> A {
    if lane.len() < PARALLEL_MIN {
        return part(lane);
    }
    crate::simd::threads::keep_awake();
    let parts: Vec<A> = lane.par_chunks(CHUNK).map(|c| crate::dispatch!(cap, |F| part(c))).collect();
    parts.into_iter().reduce(merge).expect("a lane of PARALLEL_MIN values has chunks")
}

/// `sum(f(x))` over a slice, in f64 (0 for an empty slice): [`SLOTS`] partial sums, added
/// at the end (so the rounding differs from a running sum's, and is smaller).
#[inline(always)]
pub(super) fn sum_f64<T: crate::Element>(cap: Capability, lane: &[T], f: impl Fn(f64) -> f64 + Sync) -> f64 {
    chunked(
        cap,
        lane,
        #[inline(always)]
        |lane: &[T]| {
            let mut s = [0.0f64; SLOTS];
            let chunks = lane.chunks_exact(SLOTS);
            let tail = chunks.remainder();
            for c in chunks {
                for i in 0..SLOTS {
                    s[i] += f(c[i].to_f64());
                }
            }
            let pair = |s: &[f64]| s.iter().sum::<f64>();
            pair(&s) + tail.iter().map(|x| f(x.to_f64())).sum::<f64>()
        },
        |a, b| a + b,
    )
}

/// Whether `x`, a later value of a lane, replaces `cur` as its extreme so far: larger (`MAX`)
/// or smaller, or a NaN where `cur` is not one. Strict, so the first of equal values stays,
/// and a NaN, once there, stays (PyTorch's `max` propagates NaN and reports the first one).
#[inline(always)]
#[allow(clippy::eq_op)] // `x != x`: NaN (never for integers)
fn beats<T: Numeric, const MAX: bool>(x: T, cur: T) -> bool {
    (if MAX { x > cur } else { x < cur }) | ((x != x) & (cur == cur))
}

/// The new extreme so far after the later value `x`: [`beats`] as two selects, which
/// vectorise without turning masks into bools and back: `x` unless `s` is at least as
/// extreme (never for a NaN `x`), then `s` anyway if it is NaN.
#[inline(always)]
#[allow(clippy::eq_op)]
fn pick<T: Numeric, const MAX: bool>(x: T, s: T) -> T {
    let at_least = if MAX { x <= s } else { x >= s };
    let t = if at_least { s } else { x };
    if s != s {
        s
    } else {
        t
    }
}

/// The extreme (largest with `MAX`, else smallest) of a non-empty slice: NaN if it holds a
/// NaN. Which of several equal values (`-0.0` and `0.0`) is returned is unspecified.
#[inline(always)]
pub(super) fn extreme<T: Numeric, const MAX: bool>(cap: Capability, lane: &[T]) -> T {
    chunked(
        cap,
        lane,
        #[inline(always)]
        |lane: &[T]| {
            let mut s = [lane[0]; SLOTS];
            let chunks = lane.chunks_exact(SLOTS);
            let tail = chunks.remainder();
            for c in chunks {
                for i in 0..SLOTS {
                    s[i] = pick::<T, MAX>(c[i], s[i]);
                }
            }
            s.iter().chain(tail).fold(lane[0], |m, &x| pick::<T, MAX>(x, m))
        },
        |m, x| pick::<T, MAX>(x, m),
    )
}

/// The index of the first value of `lane` equal to `m` (of the first NaN when `m` is NaN),
/// `m` a value of the lane: whole groups of [`SLOTS`] values are tested at once.
#[inline(always)]
#[allow(clippy::eq_op)]
fn first_index<T: Numeric>(lane: &[T], m: T) -> usize {
    let nan = m != m;
    let hit = |x: T| if nan { x != x } else { x == m };
    for (g, c) in lane.chunks(SLOTS).enumerate() {
        if c.iter().fold(false, |a, &x| a | hit(x)) {
            return g * SLOTS + c.iter().position(|&x| hit(x)).unwrap_or(0);
        }
    }
    0 // (unreachable for a value of the lane)
}

/// The extreme of each lane of `v`, laid out as `(outer, n, inner)` with `n > 0`, and the
/// index of its first occurrence along the lane, into `vals` and `idx` (`outer * inner`
/// each): `torch.max(x, dim)` (`MAX`) and `torch.min(x, dim)`. The value written is the
/// lane's value at that index (so `-0.0` and `0.0` keep their sign).
pub(super) fn extremes<T: Numeric, const MAX: bool>(
    cap: Capability,
    v: &[T],
    (outer, n, inner): (usize, usize, usize),
    vals: &mut [T],
    idx: &mut [i64],
) {
    assert!(n > 0 && v.len() == outer * n * inner && vals.len() == outer * inner && idx.len() == vals.len());
    if inner == 1 {
        let mut pairs = vec![(T::ZERO, 0usize); outer];
        rows(
            cap,
            v,
            n,
            &mut pairs,
            #[inline(always)]
            |lane| {
                let k = first_index(lane, extreme::<T, MAX>(cap, lane));
                (lane[k], k)
            },
        );
        for ((p, o), i) in pairs.into_iter().zip(vals.iter_mut()).zip(idx.iter_mut()) {
            (*o, *i) = (p.0, p.1 as i64);
        }
        return;
    }
    // Strided lanes: each (n, inner) matrix in blocks of rows (`kernels::COL_BLOCK`, as its
    // sums and products), every block's extremes and their first rows, then the blocks' in
    // order, a later block's taken only where it beats the earlier ones (so the first index
    // stays). Column runs of 512 had read half of every 4 KB row of a (1000, 1000) matrix
    // and jumped to the next: `max(0)` took 4-5x the time of `mean(0)`.
    let rows = crate::simd::kernels::COL_BLOCK;
    let matrix = |x: &[T], vals: &mut [T], idx: &mut [i64]| {
        let blocks = n.div_ceil(rows);
        // Rows `b * rows..` of the matrix folded into `bv`, `bi` (`inner` each). The extremes
        // so far and their rows go back and forth between `bv`, `bi` and a second pair, each
        // row read from one and written to the other: updated in place, `*m = if beats { v }
        // else { *m }` compiled to masked stores in the AVX2 build (`vmaskmovps`, slow on
        // AMD's cores: `max(0)` of (1000, 1000) took 3x its AVX-512 time).
        let block = |b: usize, bv: &mut [T], bi: &mut [i64]| {
            let (r0, r1) = (b * rows, ((b + 1) * rows).min(n));
            let (mut sv, mut si) = (vec![T::ZERO; inner], vec![0i64; inner]);
            crate::dispatch!(cap, |F| {
                bv.copy_from_slice(&x[r0 * inner..(r0 + 1) * inner]);
                bi.iter_mut().for_each(|i| *i = r0 as i64);
                let mut in_b = true; // whether `bv`, `bi` hold the latest
                for k in r0 + 1..r1 {
                    let row = &x[k * inner..(k + 1) * inner];
                    let k = k as i64;
                    let (from, to) = if in_b {
                        ((&*bv, &*bi), (&mut sv[..], &mut si[..]))
                    } else {
                        ((&sv[..], &si[..]), (&mut *bv, &mut *bi))
                    };
                    let now = to.0.iter_mut().zip(to.1.iter_mut());
                    for (((m, i), (&pm, &pi)), &v) in now.zip(from.0.iter().zip(from.1)).zip(row) {
                        let b = beats::<T, MAX>(v, pm);
                        *m = if b { v } else { pm };
                        *i = if b { k } else { pi };
                    }
                    in_b = !in_b;
                }
                if !in_b {
                    bv.copy_from_slice(&sv);
                    bi.copy_from_slice(&si);
                }
            })
        };
        if blocks == 1 {
            return block(0, vals, idx);
        }
        let (mut pv, mut pi) = (vec![T::ZERO; blocks * inner], vec![0i64; blocks * inner]);
        if x.len() >= PARALLEL_MIN {
            crate::simd::threads::keep_awake();
            let parts = pv.par_chunks_mut(inner).zip(pi.par_chunks_mut(inner));
            parts.enumerate().for_each(|(b, (bv, bi))| block(b, bv, bi));
        } else {
            let parts = pv.chunks_mut(inner).zip(pi.chunks_mut(inner));
            parts.enumerate().for_each(|(b, (bv, bi))| block(b, bv, bi));
        }
        vals.copy_from_slice(&pv[..inner]);
        idx.copy_from_slice(&pi[..inner]);
        for (bv, bi) in pv.chunks_exact(inner).zip(pi.chunks_exact(inner)).skip(1) {
            for ((m, i), (&v, &k)) in vals.iter_mut().zip(idx.iter_mut()).zip(bv.iter().zip(bi)) {
                if beats::<T, MAX>(v, *m) {
                    (*m, *i) = (v, k);
                }
            }
        }
    };
    // The matrices of the outer indices split across threads when each is too small to
    // split itself (as `kernels::per_outer` does for sums and products).
    let m = n * inner;
    if v.len() >= PARALLEL_MIN && m < PARALLEL_MIN {
        crate::simd::threads::keep_awake();
        let outs = vals.par_chunks_exact_mut(inner).zip(idx.par_chunks_exact_mut(inner));
        v.par_chunks_exact(m).zip(outs).for_each(|(x, (vals, idx))| matrix(x, vals, idx));
    } else {
        let outs = vals.chunks_exact_mut(inner).zip(idx.chunks_exact_mut(inner));
        v.chunks_exact(m).zip(outs).for_each(|(x, (vals, idx))| matrix(x, vals, idx));
    }
}

/// The product of a slice (1 for an empty one), in [`SLOTS`] partial products (integers
/// wrap, so any order gives the same product; floats round differently from a running
/// product, as PyTorch's vectorised product does).
#[inline(always)]
pub(super) fn product<T: Numeric>(cap: Capability, lane: &[T]) -> T {
    chunked(
        cap,
        lane,
        #[inline(always)]
        |lane: &[T]| {
            let mut s = [T::ONE; SLOTS];
            let chunks = lane.chunks_exact(SLOTS);
            let tail = chunks.remainder();
            for c in chunks {
                for i in 0..SLOTS {
                    s[i] = s[i].mul_w(c[i]);
                }
            }
            s.iter().chain(tail).fold(T::ONE, |p, &x| p.mul_w(x))
        },
        |a, b| a.mul_w(b),
    )
}

/// The product of each lane of `v` (laid out as `(outer, n, inner)`, `n > 0`) into `out`.
pub(super) fn products<T: Numeric>(
    cap: Capability,
    v: &[T],
    (outer, n, inner): (usize, usize, usize),
    out: &mut [T],
) {
    assert!(n > 0 && v.len() == outer * n * inner && out.len() == outer * inner);
    if inner == 1 {
        return rows(
            cap,
            v,
            n,
            out,
            #[inline(always)]
            |l| product(cap, l),
        );
    }
    // Strided lanes: for each outer index the column products of an (n, inner) matrix.
    let products = |x: &[T], o: &mut [T]| crate::simd::kernels::prod_cols(cap, x, o);
    crate::simd::kernels::per_outer(v, (n, inner), out, products);
}

/// Lanes a running sum interleaves (independent chains of additions).
const SCAN_LANES: usize = 4;

/// The running sums of every contiguous lane of `n` values of `v` into `out` (from the end of
/// each lane with `reverse`): floats accumulated in f64 and rounded for each output, as
/// PyTorch's CPU `cumsum` does; integers wrap. [`SCAN_LANES`] lanes at a time, so that their
/// chains of additions overlap.
pub(super) fn scan_rows<T: Numeric>(cap: Capability, v: &[T], n: usize, out: &mut [T], reverse: bool) {
    assert!(n > 0 && v.len() == out.len() && v.len().is_multiple_of(n), "lanes::scan_rows: whole lanes");
    let float = T::DTYPE.is_float();
    // One group of up to SCAN_LANES lanes: the lanes' values at step k, then their sums.
    let group = move |v: &[T], out: &mut [T]| {
        let lanes = v.len() / n;
        if float && lanes == SCAN_LANES {
            // The common case written out: four f64 chains, no per-value dtype test.
            let mut acc = [0.0f64; SCAN_LANES];
            let ((x01, x23), (o01, o23)) = (v.split_at(2 * n), out.split_at_mut(2 * n));
            let (xs, os) = ([x01.split_at(n), x23.split_at(n)], [o01.split_at_mut(n), o23.split_at_mut(n)]);
            let xs = [xs[0].0, xs[0].1, xs[1].0, xs[1].1];
            let [(o0, o1), (o2, o3)] = os;
            let os = [o0, o1, o2, o3];
            for step in 0..n {
                let k = if reverse { n - 1 - step } else { step };
                for l in 0..SCAN_LANES {
                    acc[l] += xs[l][k].to_f64();
                    os[l][k] = T::from_f64(acc[l]);
                }
            }
            return;
        }
        let mut acc = [(0.0f64, T::ZERO); SCAN_LANES];
        for step in 0..n {
            let k = if reverse { n - 1 - step } else { step };
            for (l, a) in acc.iter_mut().enumerate().take(lanes) {
                let x = v[l * n + k];
                out[l * n + k] = if float {
                    a.0 += x.to_f64();
                    T::from_f64(a.0)
                } else {
                    a.1 = a.1.add_w(x);
                    a.1
                };
            }
        }
    };
    let seq = move |v: &[T], out: &mut [T]| {
        crate::dispatch!(cap, |F| {
            v.chunks(SCAN_LANES * n).zip(out.chunks_mut(SCAN_LANES * n)).for_each(|(v, o)| group(v, o))
        })
    };
    if v.len() < PARALLEL_MIN || v.len() == n {
        return seq(v, out);
    }
    crate::simd::threads::keep_awake();
    let per = (PARALLEL_MIN / 2).div_ceil(n).next_multiple_of(SCAN_LANES) * n;
    v.par_chunks(per).zip(out.par_chunks_mut(per)).for_each(|(v, o)| seq(v, o));
}
