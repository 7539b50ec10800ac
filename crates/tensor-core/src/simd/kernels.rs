//! The elementwise and reduction loops of tensor-core, each written once, compiled for every
//! capability through [`dispatch!`](crate::simd::dispatch!), and split across rayon's threads
//! from [`PARALLEL_MIN`] elements on.
//!
//! Each function takes the [`Capability`] to run at (the ops pass [`capability()`]; the
//! agreement tests pass each of [`available()`](crate::simd::available)). The split points
//! of a reduction depend on the data's length only, never on the thread count or the
//! capability, so a sum gives the same bits on one thread or many, and at every capability
//! (integer sums wrap around, float sums add in the same order).
//!
//! [`capability()`]: crate::simd::capability

use crate::simd::{Capability, Real};
use crate::Numeric;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Inputs of at least this many elements are split across threads. Twice PyTorch's grain
/// size (32,768): waking a sleeping thread costs microseconds (more in a VM), and at 32,768
/// elements (the GPT's residual stream, 512 x 64) the split cost more than it saved:
/// `gpt_step` took 9% longer than with 65,536 (A/B, 5 rounds) while the main thread handed
/// its parallel work to the pool; since it works in the pool itself (`threads`), the two
/// thresholds time the same (A/B, 6 rounds).
pub const PARALLEL_MIN: usize = 1 << 16;

/// Elements per parallel task for `n` elements: about two tasks per thread, a multiple of 64
/// (whole cache lines), and at least half of [`PARALLEL_MIN`]. Called by the kernels that
/// split their work, just before they do (so it keeps the pool awake: [`keep_awake`]).
///
/// [`keep_awake`]: super::threads::keep_awake
fn task_len(n: usize) -> usize {
    super::threads::keep_awake();
    let per = n.div_ceil(2 * rayon::current_num_threads());
    per.next_multiple_of(64).max(PARALLEL_MIN / 2)
}

/// `task(first, part)` over `out` cut into parts of whole units of `unit` (> 0) values,
/// `first` the index of a part's first unit: one part below [`PARALLEL_MIN`] values, else
/// parts of about `PARALLEL_MIN / 2` values on every core. The scaffolding of the kernels
/// that fill an output by rows or blocks (`gather`, `index_select`, `cat`, the copies of
/// views).
pub(crate) fn by_units<T: Send>(out: &mut [T], unit: usize, task: impl Fn(usize, &mut [T]) + Sync) {
    if out.len() < PARALLEL_MIN {
        return task(0, out);
    }
    super::threads::keep_awake();
    let per = (PARALLEL_MIN / 2).div_ceil(unit);
    out.par_chunks_mut(per * unit).enumerate().for_each(|(t, part)| task(t * per, part));
}

/// A formula of one [`Real`] (a line of the `float_unary!` table): a type with a generic
/// function, so that each build instantiates it with its own f32 flavour. Its fields, if any,
/// are the formula's parameters (`softplus`'s `beta` and `threshold`).
pub trait UnaryFn: Sync {
    /// The formula.
    fn call<T: Real>(&self, x: T) -> T;
    /// Whether [`UnaryFn::call_lanes`] computes the formula in lockstep (then
    /// [`unary_real`] uses it in the AVX2 and AVX-512 builds).
    const LOCKSTEP: bool = false;
    /// The formula of [`Fma32`](crate::simd::Fma32) on [`LANES`] independent values, each
    /// step applied to all of them before the next (`simd::real::exp_lanes`): for formulas
    /// whose vectorised loop is bound by one long chain of dependent operations (exp, tanh,
    /// sigmoid), four chains side by side run faster. Must give `call`'s bits for every lane
    /// (tested).
    #[inline(always)]
    fn call_lanes(&self, x: [f32; LANES]) -> [f32; LANES] {
        x.map(|v| self.call(crate::simd::Fma32::from_elem(v)).elem())
    }
    /// A hand-written kernel for f32 at `cap` (`simd::real::gelu_slice`): writes the
    /// formula's [`Fma32`](crate::simd::Fma32) bits for a prefix of `x` to `out` and returns
    /// its length; [`unary_real`] does the rest. None by default (0).
    #[inline(always)]
    fn slice_f32(cap: Capability, x: &[f32], out: &mut [MaybeUninit<f32>]) -> usize {
        let _ = (cap, x, out);
        0
    }
}

/// A formula of two [`Real`]s, `f(a, b)` (a derivative rule `dx = f(g, x)`): as
/// [`UnaryFn`], a type whose generic function each build instantiates with its own f32
/// flavour, so that `exp`, `tanh`, `erf` and the rest vectorise in it.
pub trait BinaryFn: Sync {
    /// The formula.
    fn call<T: Real>(&self, a: T, b: T) -> T;
}

/// `f(a, x)` for one fixed `a`, as a [`UnaryFn`] of `x` (a single value broadcast against a
/// tensor). `a` is held as f64: exact for an f32 or f64 element.
pub struct FixFirst<'a, K>(pub &'a K, pub f64);
impl<K: BinaryFn> UnaryFn for FixFirst<'_, K> {
    #[inline(always)]
    fn call<T: Real>(&self, x: T) -> T {
        self.0.call(T::c(self.1), x)
    }
}

/// `f(x, b)` for one fixed `b`, as a [`UnaryFn`] of `x` (see [`FixFirst`]).
pub struct FixSecond<'a, K>(pub &'a K, pub f64);
impl<K: BinaryFn> UnaryFn for FixSecond<'_, K> {
    #[inline(always)]
    fn call<T: Real>(&self, x: T) -> T {
        self.0.call(x, T::c(self.1))
    }
}

/// Values a [`UnaryFn::call_lanes`] takes at once.
pub const LANES: usize = 4;

/// `out[i] = f(x[i])`.
///
/// # Panics
/// If the lengths differ.
pub fn unary<A: Copy + Sync, O: Send>(
    cap: Capability,
    x: &[A],
    out: &mut [MaybeUninit<O>],
    f: impl Fn(A) -> O + Sync,
) {
    assert_eq!(x.len(), out.len(), "unary: input and output lengths differ");
    let seq = |x: &[A], out: &mut [MaybeUninit<O>]| {
        crate::dispatch!(cap, |F| out.iter_mut().zip(x).for_each(|(o, &v)| *o = MaybeUninit::new(f(v))))
    };
    if x.len() < PARALLEL_MIN {
        return seq(x, out);
    }
    let k = task_len(x.len());
    x.par_chunks(k).zip(out.par_chunks_mut(k)).for_each(|(x, o)| seq(x, o));
}

/// `out[i] = v` for every `i`, on every core above [`PARALLEL_MIN`] values.
pub fn fill<O: Copy + Send + Sync>(out: &mut [MaybeUninit<O>], v: O) {
    if out.len() < PARALLEL_MIN {
        return out.fill(MaybeUninit::new(v));
    }
    let k = task_len(out.len());
    out.par_chunks_mut(k).for_each(|o| o.fill(MaybeUninit::new(v)));
}

/// `out[i] = K(x[i])` for a table formula `K`, f32 through the build's flavour of [`Real`].
///
/// # Panics
/// If the lengths differ.
pub fn unary_real<E: crate::Float, K: UnaryFn>(cap: Capability, k: &K, x: &[E], out: &mut [MaybeUninit<E>]) {
    assert_eq!(x.len(), out.len(), "unary_real: input and output lengths differ");
    if let (Some(x), Some(out)) = (crate::dtype::as_f32(x), uninit_f32(out)) {
        // The lockstep form is written for fused multiply-adds: the AVX2 and AVX-512 builds.
        let lockstep = K::LOCKSTEP && crate::simd::supported(cap) >= Capability::Avx2;
        let seq = |x: &[f32], out: &mut [MaybeUninit<f32>]| {
            let done = K::slice_f32(cap, x, out);
            let (x, out) = (&x[done..], &mut out[done..]);
            crate::dispatch!(cap, |F| {
                let one = |o: &mut MaybeUninit<f32>, &v: &f32| {
                    *o = MaybeUninit::new(k.call(F::from_elem(v)).elem())
                };
                if !lockstep {
                    return out.iter_mut().zip(x).for_each(|(o, v)| one(o, v));
                }
                // Blocks of LANES runs of RUN values: lane j of step i is x[j * RUN + i], so
                // that the loop over i vectorises along each run. The blocks are arrays, so
                // that no index needs a bounds check (with slices of `chunks_exact`, whether
                // LLVM proved the indices in bounds, and so vectorised the loop, changed with
                // unrelated code: tanh of (32, 200) ran scalar for a session).
                const RUN: usize = 64;
                let (xs, x_rest) = x.as_chunks::<{ LANES * RUN }>();
                let (os, out_rest) = out.as_chunks_mut::<{ LANES * RUN }>();
                for (xb, ob) in xs.iter().zip(os) {
                    for i in 0..RUN {
                        let y = k.call_lanes(std::array::from_fn(|j| xb[j * RUN + i]));
                        for (j, &v) in y.iter().enumerate() {
                            ob[j * RUN + i] = MaybeUninit::new(v);
                        }
                    }
                }
                out_rest.iter_mut().zip(x_rest).for_each(|(o, v)| one(o, v))
            })
        };
        if x.len() < PARALLEL_MIN {
            return seq(x, out);
        }
        let t = task_len(x.len());
        return x.par_chunks(t).zip(out.par_chunks_mut(t)).for_each(|(x, o)| seq(x, o));
    }
    // f64 (the only other Float): the standard library's math; the formula's arithmetic
    // still vectorises. `E::c` of an f64 is exact for f64.
    unary(cap, x, out, |v: E| E::c(k.call::<f64>(crate::Element::to_f64(v))));
}

/// `out[i] = K(a[i], b[i])` for a formula `K` of two values (a derivative rule), f32 through
/// the build's flavour of [`Real`], as [`unary_real`] does it.
///
/// # Panics
/// If the lengths differ.
pub fn binary_real<E: crate::Float, K: BinaryFn>(
    cap: Capability,
    k: &K,
    a: &[E],
    b: &[E],
    out: &mut [MaybeUninit<E>],
) {
    assert!(a.len() == out.len() && b.len() == out.len(), "binary_real: lengths differ");
    if let (Some(a), Some(b), Some(out)) = (crate::dtype::as_f32(a), crate::dtype::as_f32(b), uninit_f32(out))
    {
        let seq = |a: &[f32], b: &[f32], out: &mut [MaybeUninit<f32>]| {
            crate::dispatch!(cap, |F| out.iter_mut().zip(a.iter().zip(b)).for_each(
                |(o, (&x, &y))| *o = MaybeUninit::new(k.call(F::from_elem(x), F::from_elem(y)).elem())
            ))
        };
        if a.len() < PARALLEL_MIN {
            return seq(a, b, out);
        }
        let t = task_len(a.len());
        return a
            .par_chunks(t)
            .zip(b.par_chunks(t))
            .zip(out.par_chunks_mut(t))
            .for_each(|((a, b), o)| seq(a, b, o));
    }
    // f64: the standard library's math (as in `unary_real`).
    binary(cap, a, b, out, |x: E, y: E| {
        E::c(k.call::<f64>(crate::Element::to_f64(x), crate::Element::to_f64(y)))
    });
}

/// `out[i] = f(a[i], b[i])`.
///
/// # Panics
/// If the lengths differ.
pub fn binary<A: Copy + Sync, B: Copy + Sync, O: Send>(
    cap: Capability,
    a: &[A],
    b: &[B],
    out: &mut [MaybeUninit<O>],
    f: impl Fn(A, B) -> O + Sync,
) {
    assert!(a.len() == out.len() && b.len() == out.len(), "binary: lengths differ");
    let seq = |a: &[A], b: &[B], out: &mut [MaybeUninit<O>]| {
        crate::dispatch!(cap, |F| out
            .iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (&x, &y))| *o = MaybeUninit::new(f(x, y))))
    };
    if a.len() < PARALLEL_MIN {
        return seq(a, b, out);
    }
    let k = task_len(a.len());
    a.par_chunks(k).zip(b.par_chunks(k)).zip(out.par_chunks_mut(k)).for_each(|((a, b), o)| seq(a, b, o));
}

/// `acc[i] = f(acc[i], b[i])` in place (a gradient added onto the one already accumulated),
/// split across threads from 2 x [`PARALLEL_MIN`] (131,072) elements on: an in-place add does
/// so little per element that at 32,768 elements (the GPT's residual stream) the threads'
/// start cost more than they saved (`gpt_step` 8% slower in an A/B).
///
/// # Panics
/// If the lengths differ.
pub fn binary_assign<A: Copy + Send + Sync, B: Copy + Sync>(
    cap: Capability,
    acc: &mut [A],
    b: &[B],
    f: impl Fn(A, B) -> A + Sync,
) {
    assert!(acc.len() == b.len(), "binary_assign: lengths differ");
    let seq = |acc: &mut [A], b: &[B]| {
        crate::dispatch!(cap, |F| acc.iter_mut().zip(b).for_each(|(x, &y)| *x = f(*x, y)))
    };
    if acc.len() < 2 * PARALLEL_MIN {
        return seq(acc, b);
    }
    let k = task_len(acc.len());
    acc.par_chunks_mut(k).zip(b.par_chunks(k)).for_each(|(a, b)| seq(a, b));
}

/// `out[r*w + j] = f(a[r*w + j], row[j])`: a row vector broadcast over the rows of `a`
/// (`a + bias`). Rows are split across threads.
///
/// # Panics
/// If `row` is empty while `a` is not, or the lengths do not describe whole rows.
pub fn binary_rows<A: Copy + Sync, B: Copy + Sync, O: Send>(
    cap: Capability,
    a: &[A],
    row: &[B],
    out: &mut [MaybeUninit<O>],
    f: impl Fn(A, B) -> O + Sync,
) {
    let w = row.len();
    assert!(
        a.len() == out.len() && (w > 0 || a.is_empty()) && a.len().is_multiple_of(w.max(1)),
        "binary_rows: whole rows"
    );
    if a.is_empty() {
        return;
    }
    let seq = |a: &[A], out: &mut [MaybeUninit<O>]| {
        crate::dispatch!(cap, |F| for (ar, or) in a.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
            or.iter_mut().zip(ar.iter().zip(row)).for_each(|(o, (&x, &y))| *o = MaybeUninit::new(f(x, y)));
        })
    };
    if a.len() < PARALLEL_MIN {
        return seq(a, out);
    }
    let k = task_len(a.len()).next_multiple_of(w);
    a.par_chunks(k).zip(out.par_chunks_mut(k)).for_each(|(a, o)| seq(a, o));
}

/// `out[r*w + j] = f(a[r*w + j], col[r])`: one value per row broadcast along it (`x - mean`
/// over the last dim, kept). Rows are split across threads.
///
/// # Panics
/// If `a` and `out` do not hold `col.len()` rows of one width.
pub fn binary_cols<A: Copy + Sync, B: Copy + Sync, O: Send>(
    cap: Capability,
    a: &[A],
    col: &[B],
    out: &mut [MaybeUninit<O>],
    f: impl Fn(A, B) -> O + Sync,
) {
    let rows = col.len();
    assert!(
        a.len() == out.len() && (rows > 0 || a.is_empty()) && a.len().is_multiple_of(rows.max(1)),
        "binary_cols: whole rows"
    );
    if a.is_empty() {
        return;
    }
    let w = a.len() / rows;
    if w == 0 {
        return;
    }
    let seq = |a: &[A], col: &[B], out: &mut [MaybeUninit<O>]| {
        crate::dispatch!(cap, |F| for ((ar, or), &y) in
            a.chunks_exact(w).zip(out.chunks_exact_mut(w)).zip(col)
        {
            or.iter_mut().zip(ar).for_each(|(o, &x)| *o = MaybeUninit::new(f(x, y)));
        })
    };
    if a.len() < PARALLEL_MIN {
        return seq(a, col, out);
    }
    let r = task_len(a.len()).div_ceil(w);
    a.par_chunks(r * w)
        .zip(col.par_chunks(r))
        .zip(out.par_chunks_mut(r * w))
        .for_each(|((a, c), o)| seq(a, c, o));
}

/// `out` as f32 slots when `E` is f32 (the f32 path of [`unary_real`]).
fn uninit_f32<E: crate::Float>(out: &mut [MaybeUninit<E>]) -> Option<&mut [MaybeUninit<f32>]> {
    (std::any::TypeId::of::<E>() == std::any::TypeId::of::<f32>())
        // SAFETY: E is f32 (the TypeId check): the same slice under its own type.
        .then(|| unsafe {
            std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<MaybeUninit<f32>>(), out.len())
        })
}

/// `v`'s first `n` elements as slots to overwrite, and `v` then holds exactly those `n`
/// elements once `fill` has returned: an output buffer filled without first being zeroed.
///
/// # Safety
/// `fill` must write every slot it is given (the kernels of this module do: each asserts its
/// output length and writes every element, or panics).
///
/// # Panics
/// If `v` has room for fewer than `n` elements.
pub(crate) unsafe fn fill_uninit<T>(v: &mut Vec<T>, n: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) {
    v.clear();
    assert!(v.capacity() >= n, "fill_uninit: no room for {n} elements");
    fill(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: the capacity holds `n` elements (asserted), and `fill` initialised the first `n`
    // (the caller's obligation; a panic in `fill` unwinds past this line, length still 0).
    unsafe { v.set_len(n) };
}

/// Values per leaf of [`sum`]'s pairwise tree.
const LEAF: usize = 256;
/// Independent accumulators in a leaf: two AVX-512 vectors, four AVX2 ones, eight SSE ones.
const ACC: usize = 32;

/// Sum of a slice, pairwise like PyTorch's cascade sum: leaves of `LEAF` (256) values are summed
/// in `ACC` (32) independent accumulators (which vectorise), and leaf sums are combined pairwise,
/// so rounding errors grow with log(n). The top levels of the tree run on two threads from
/// `2 * PARALLEL_MIN` values on, with the same split points (the same result).
pub fn sum<T: Numeric>(cap: Capability, x: &[T]) -> T {
    if x.len() >= 2 * PARALLEL_MIN {
        let half = (x.len() / 2).next_multiple_of(LEAF).min(x.len());
        super::threads::keep_awake();
        let (a, b) = rayon::join(|| sum(cap, &x[..half]), || sum(cap, &x[half..]));
        return a.add_w(b);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = crate::dtype::as_f32(x).and_then(|x| leaves::sum(cap, x)) {
        return T::from_f64(s as f64); // T is f32 here: the round trip is exact
    }
    crate::dispatch!(cap, |F| sum_tree(x))
}

/// The pairwise tree of [`sum`] over `len` values: a node of more than `LEAF` values splits
/// at half its length rounded up to a multiple of `LEAF`, `leaf(lo, hi)` sums a leaf's
/// values, and `add(left, right)` a node's two halves. Walked without recursion: a
/// recursive function is not inlined into the build [`dispatch!`](crate::dispatch) compiles,
/// so the leaves ran as baseline SSE2 code (`x.sum(1)` of a (28892, 200) f32 tensor took
/// 830 us on a 2-core Zen 3, PyTorch 355-394). The nodes of up to four leaves are summed by
/// [`quad`], the walk only above them.
#[inline(always)]
fn tree<T: Copy>(len: usize, leaf: impl Fn(usize, usize) -> T, add: impl Fn(T, T) -> T) -> T {
    const QUAD: usize = 4 * LEAF;
    if len <= QUAD {
        return quad(0, len, &leaf, &add);
    }
    // The nodes from the root to the current one: their range and, once summed, the sum of
    // their left half. Each level at least halves the length (64 levels reach 2^64 values).
    let mut path = [(0usize, 0usize, None::<T>); 64];
    path[0] = (0, len, None);
    let (mut depth, mut done) = (1, None::<T>);
    loop {
        let (lo, hi, left) = path[depth - 1];
        let finished = match (done.take(), left) {
            // The left half summed: on to the right half.
            (Some(v), None) => {
                let half = (hi - lo) / 2;
                path[depth - 1].2 = Some(v);
                path[depth] = (lo + half.next_multiple_of(LEAF).min(hi - lo), hi, None);
                depth += 1;
                continue;
            }
            (Some(v), Some(l)) => add(l, v),
            (None, _) if hi - lo <= QUAD => quad(lo, hi, &leaf, &add),
            (None, _) => {
                let half = ((hi - lo) / 2).next_multiple_of(LEAF).min(hi - lo);
                path[depth] = (lo, lo + half, None);
                depth += 1;
                continue;
            }
        };
        depth -= 1;
        if depth == 0 {
            return finished;
        }
        done = Some(finished);
    }
}

/// A node of [`tree`] of at most four leaves (`lo` a multiple of `LEAF`): its leaves summed
/// one after another in a loop, then added as the tree adds them (`(s0 + s1) + (s2 + s3)`
/// for four leaves; test `the_tree_adds_the_pairs_its_definition_names`). The leaves'
/// sums do not wait on each other, so one leaf's final additions overlap the next one's
/// loads; through the walk they did not (and its path of 64 nodes was zeroed for every row):
/// `x.sum(1)` of (1000, 1000) f32 took about twice PyTorch's time on a 2-core Zen 3.
#[inline(always)]
fn quad<T: Copy>(lo: usize, hi: usize, leaf: &impl Fn(usize, usize) -> T, add: &impl Fn(T, T) -> T) -> T {
    let n = (hi - lo).div_ceil(LEAF);
    let mut s = [leaf(lo, lo); 4]; // (an empty leaf: zero)
    for (k, s) in s.iter_mut().enumerate().take(n) {
        *s = leaf(lo + k * LEAF, hi.min(lo + (k + 1) * LEAF));
    }
    // The node's split, as the tree splits it: after one leaf for 513 values (half of 513
    // rounds down to 256), after two otherwise.
    let left = ((hi - lo) / 2).div_ceil(LEAF);
    match (n, left) {
        (0 | 1, _) => s[0],
        (2, _) => add(s[0], s[1]),
        (3, 1) => add(s[0], add(s[1], s[2])),
        (3, _) => add(add(s[0], s[1]), s[2]),
        _ => add(add(s[0], s[1]), add(s[2], s[3])),
    }
}

#[inline(always)]
fn sum_tree<T: Numeric>(x: &[T]) -> T {
    tree(
        x.len(),
        #[inline(always)]
        |lo, hi| sum_leaf(&x[lo..hi]),
        T::add_w,
    )
}

/// The sum of a leaf (at most `LEAF` values). Fewer than `ACC` (32) values are added in
/// order, from +0 (left to right, as Python's `sum` and NumPy's small sums do: the seed
/// notebooks' printed digits depend on it). From `ACC` values on, value `i` is added into
/// accumulator `i % ACC` (the last, partial group too), then the accumulators are folded in
/// halves, `acc[i] + acc[i + h]` for `h` = 16, 8, 4, 2, 1: five levels. (Adding them in order
/// was a chain of 31 dependent additions per leaf: `x.sum(1)` of a (1000, 200) f32 tensor
/// took 18 us on a 2-core Zen 4, 10 with this fold in [`leaves`]' vectors; PyTorch 17.)
///
/// The partial group is added zero-padded, which leaves the accumulators past its end as
/// they are: an accumulator starts at +0 and so is never -0 (a sum is -0 only when both
/// terms are), and `a + 0 = a` for every other float, NaN and infinities included. The fold
/// is written level by level into smaller arrays: with a loop over `h` (or the partial group
/// added through a variable-length loop) LLVM kept the accumulators in memory, and the
/// portable build took 1.6-2x the time of the old in-order fold. With f32 at AVX2 and
/// AVX-512, [`leaves`] does the same additions in vectors: the same bits.
#[inline(always)]
fn sum_leaf<T: Numeric>(x: &[T]) -> T {
    if x.len() < ACC {
        return x.iter().fold(T::ZERO, |s, &v| s.add_w(v));
    }
    let mut acc = [T::ZERO; ACC];
    let chunks = x.chunks_exact(ACC);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..ACC {
            acc[i] = acc[i].add_w(c[i]);
        }
    }
    let mut last = [T::ZERO; ACC];
    last[..rest.len()].copy_from_slice(rest);
    for i in 0..ACC {
        acc[i] = acc[i].add_w(last[i]);
    }
    let mut a16 = [T::ZERO; 16];
    for i in 0..16 {
        a16[i] = acc[i].add_w(acc[i + 16]);
    }
    let mut a8 = [T::ZERO; 8];
    for i in 0..8 {
        a8[i] = a16[i].add_w(a16[i + 8]);
    }
    let mut a4 = [T::ZERO; 4];
    for i in 0..4 {
        a4[i] = a8[i].add_w(a8[i + 4]);
    }
    a4[0].add_w(a4[2]).add_w(a4[1].add_w(a4[3]))
}

/// [`sum`] and [`sum_rows`] of f32 at AVX2 and AVX-512: [`sum_leaf`]'s additions written with
/// intrinsics (the generic leaf compiled for either build ran 3-4x slower: LLVM does not keep
/// its 32 accumulators as vectors through the fold), in [`tree`]'s order: the same bits as
/// the portable build.
#[cfg(target_arch = "x86_64")]
mod leaves {
    use super::{tree, ACC};
    use crate::simd::{supported, Capability};
    use std::arch::x86_64::*;

    /// [`sum_leaf`](super::sum_leaf) of f32 in two 16-lane vectors (accumulators 0-15 and
    /// 16-31); the last partial group added under a mask, so the other lanes keep their value.
    #[inline(always)]
    unsafe fn leaf512(x: &[f32]) -> f32 {
        if x.len() < ACC {
            return in_order(x);
        }
        let p = x.as_ptr();
        let whole = x.len() / ACC * ACC;
        let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = 0;
        while i < whole {
            a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p.add(i)));
            a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p.add(i + 16)));
            i += ACC;
        }
        let rest = x.len() - whole;
        if rest > 0 {
            // Lanes below `rest` (the masked loads read only those).
            let m0 = ((1u32 << rest.min(16)) - 1) as u16;
            let m1 = ((1u32 << rest.saturating_sub(16)) - 1) as u16;
            a0 = _mm512_mask_add_ps(a0, m0, a0, _mm512_maskz_loadu_ps(m0, p.add(i)));
            a1 = _mm512_mask_add_ps(a1, m1, a1, _mm512_maskz_loadu_ps(m1, p.add(i + 16)));
        }
        // h = 16: accumulators i and i + 16; h = 8: the two halves of that.
        let q = _mm512_add_ps(a0, a1);
        fold8(_mm256_add_ps(_mm512_castps512_ps256(q), _mm512_extractf32x8_ps::<1>(q)))
    }

    /// [`sum_leaf`](super::sum_leaf) of f32 in four 8-lane vectors (accumulators 0-7, 8-15,
    /// 16-23, 24-31); the last partial group added lane by lane under a mask.
    #[inline(always)]
    unsafe fn leaf256(x: &[f32]) -> f32 {
        if x.len() < ACC {
            return in_order(x);
        }
        let p = x.as_ptr();
        let whole = x.len() / ACC * ACC;
        let mut a = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i < whole {
            for (k, a) in a.iter_mut().enumerate() {
                *a = _mm256_add_ps(*a, _mm256_loadu_ps(p.add(i + 8 * k)));
            }
            i += ACC;
        }
        let rest = x.len() - whole;
        if rest > 0 {
            let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            for (k, a) in a.iter_mut().enumerate() {
                // Lanes below `rest - 8 k` (the masked load reads only those).
                let m = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest as i32 - 8 * k as i32), lanes);
                let v = _mm256_add_ps(*a, _mm256_maskload_ps(p.add(i + 8 * k), m));
                *a = _mm256_blendv_ps(*a, v, _mm256_castsi256_ps(m));
            }
        }
        // h = 16: accumulators i and i + 16; h = 8: the two halves of that.
        fold8(_mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3])))
    }

    /// A leaf of fewer than `ACC` values: added in order, from +0.
    #[inline(always)]
    fn in_order(x: &[f32]) -> f32 {
        x.iter().fold(0.0, |s, &v| s + v)
    }

    /// The last three levels of the fold (h = 4, 2, 1) of eight accumulators.
    #[inline(always)]
    unsafe fn fold8(r: __m256) -> f32 {
        let r4 = _mm_add_ps(_mm256_castps256_ps128(r), _mm256_extractf128_ps::<1>(r));
        let r2 = _mm_add_ps(r4, _mm_movehl_ps(r4, r4));
        _mm_cvtss_f32(_mm_add_ss(r2, _mm_shuffle_ps::<1>(r2, r2)))
    }

    /// Each row of `n` values of `x` summed into `out` by [`tree`] over `leaf`.
    #[inline(always)]
    unsafe fn rows_with(x: &[f32], n: usize, out: &mut [f32], leaf: impl Fn(&[f32]) -> f32) {
        for (o, r) in out.iter_mut().zip(x.chunks_exact(n)) {
            *o = tree(
                n,
                #[inline(always)]
                |lo, hi| leaf(&r[lo..hi]),
                #[inline(always)]
                |a, b| a + b,
            );
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
    unsafe fn rows512(x: &[f32], n: usize, out: &mut [f32]) {
        rows_with(
            x,
            n,
            out,
            #[inline(always)]
            |r| leaf512(r),
        )
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows256(x: &[f32], n: usize, out: &mut [f32]) {
        rows_with(
            x,
            n,
            out,
            #[inline(always)]
            |r| leaf256(r),
        )
    }

    /// `out[r]` = the sum of row `r` of `x` (rows of `n > 0`, `out.len()` of them) at `cap`,
    /// or `false` (nothing done) below AVX2.
    pub(super) fn rows(cap: Capability, x: &[f32], n: usize, out: &mut [f32]) -> bool {
        assert!(n > 0 && x.len() == out.len() * n, "leaves::rows: rows of n");
        // SAFETY: each build only where the CPU has it (`supported`); every load is within a
        // row of `x` (a leaf's `lo..hi` is within its row, the masked loads read only lanes
        // below the leaf's length).
        unsafe {
            match supported(cap) {
                Capability::Avx512 => rows512(x, n, out),
                Capability::Avx2 => rows256(x, n, out),
                Capability::Default => return false,
            }
        }
        true
    }

    /// The sum of `x` at `cap` (one thread), or `None` below AVX2.
    pub(super) fn sum(cap: Capability, x: &[f32]) -> Option<f32> {
        if x.is_empty() {
            return Some(0.0);
        }
        let mut s = [0.0f32];
        rows(cap, x, x.len(), &mut s).then_some(s[0])
    }
}

/// `sum(a[i] * b[i])`, pairwise over leaves of `LEAF` values like [`sum`] (one thread).
#[inline(always)]
fn dot_tree<T: crate::Float>(a: &[T], b: &[T]) -> T {
    tree(
        a.len(),
        #[inline(always)]
        |lo, hi| dot_leaf(&a[lo..hi], &b[lo..hi]),
        #[inline(always)]
        |l, r| l + r,
    )
}

/// `sum(a[i] * b[i])` over a leaf of [`dot_tree`], in `ACC` (32) accumulators.
#[inline(always)]
fn dot_leaf<T: crate::Float>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; ACC];
    let (ca, cb) = (a.chunks_exact(ACC), b.chunks_exact(ACC));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..ACC {
            acc[i] += x[i] * y[i];
        }
    }
    let total = acc.iter().fold(T::ZERO, |s, &v| s + v);
    ra.iter().zip(rb).fold(total, |s, (&x, &y)| s + x * y)
}

/// The gradient of softmax along rows of `n`: `out = (g - sum(g y)) y` for every row of the
/// output `y` and its gradient `g`; with `log`, of log_softmax: `out = g - e^y sum(g)`. One
/// pass per row (rows split across threads). For log_softmax the row's sum is pairwise as
/// [`sum_rows`] adds it and `e^y` the build's [`Real::exp`](crate::simd::Real) (f32; f64 the
/// standard library's), so the values are those of the formula op by op, whose four passes
/// and three temporaries took 1.3x PyTorch's time for a (1000, 1000) input.
///
/// # Panics
/// If the lengths differ or are not whole rows of `n`.
pub fn softmax_grad_rows<T: crate::Float>(
    cap: Capability,
    y: &[T],
    g: &[T],
    n: usize,
    log: bool,
    out: &mut [MaybeUninit<T>],
) {
    assert!(
        y.len() == g.len() && y.len() == out.len() && n > 0 && y.len().is_multiple_of(n),
        "softmax_grad_rows: rows of n"
    );
    let seq = |y: &[T], g: &[T], out: &mut [MaybeUninit<T>]| {
        if log {
            return log_softmax_grad_seq(cap, y, g, n, out);
        }
        crate::dispatch!(cap, |F| for ((y, g), o) in
            y.chunks_exact(n).zip(g.chunks_exact(n)).zip(out.chunks_exact_mut(n))
        {
            let s = dot_tree(g, y);
            o.iter_mut().zip(y.iter().zip(g)).for_each(|(o, (&y, &g))| *o = MaybeUninit::new((g - s) * y));
        })
    };
    if y.len() < PARALLEL_MIN {
        return seq(y, g, out);
    }
    let k = task_len(y.len()).div_ceil(n) * n;
    y.par_chunks(k).zip(g.par_chunks(k)).zip(out.par_chunks_mut(k)).for_each(|((y, g), o)| seq(y, g, o));
}

/// One thread's rows of [`softmax_grad_rows`] for log_softmax: `out = g - e^y sum(g)`.
fn log_softmax_grad_seq<T: crate::Float>(
    cap: Capability,
    y: &[T],
    g: &[T],
    n: usize,
    out: &mut [MaybeUninit<T>],
) {
    let (Some(y32), Some(g32)) = (crate::dtype::as_f32(y), crate::dtype::as_f32(g)) else {
        return y.chunks_exact(n).zip(g.chunks_exact(n)).zip(out.chunks_exact_mut(n)).for_each(
            |((y, g), o)| {
                let s = sum_tree(g);
                o.iter_mut()
                    .zip(y.iter().zip(g))
                    .for_each(|(o, (&y, &g))| *o = MaybeUninit::new(g - y.exp() * s));
            },
        );
    };
    let out = uninit_f32(out).expect("f32 like y");
    crate::dispatch!(cap, |F| for ((y, g), o) in
        y32.chunks_exact(n).zip(g32.chunks_exact(n)).zip(out.chunks_exact_mut(n))
    {
        let s = sum_tree(g);
        o.iter_mut()
            .zip(y.iter().zip(g))
            .for_each(|(o, (&y, &g))| *o = MaybeUninit::new(g - F::from_elem(y).exp().elem() * s));
    })
}

/// [`softmax_grad_rows`] for the strided lanes of a softmax over a leading or middle dim:
/// each `(n, w)` matrix of `y` and `g` (laid out `(outer, n, w)`) walked by whole rows, as
/// its forward pass ([`crate::vmath::softmax_cols`]) does. softmax: `out = (g - s) y` with `s`
/// the column sums of `g y` (taken first into `out`); log_softmax: `out = g - e^y s` with
/// `s` the column sums of `g` (`e^y` as in [`softmax_grad_rows`]). The sums are
/// [`sum_cols`]'. (Op by op, with the formula's four passes and three temporaries,
/// log_softmax over dim 0 of (1000, 1000), forward and backward, took 1,264-1,504 us with
/// AVX-512; 817-912 us since.)
///
/// # Panics
/// If the lengths differ or are not whole `(n, w)` matrices.
pub fn softmax_grad_cols<T: crate::Float>(
    cap: Capability,
    y: &[T],
    g: &[T],
    (n, w): (usize, usize),
    log: bool,
    out: &mut [T],
) {
    let m = n * w;
    assert!(
        y.len() == g.len() && y.len() == out.len() && m > 0 && y.len().is_multiple_of(m),
        "softmax_grad_cols: whole (n, w) matrices"
    );
    let matrix = |y: &[T], g: &[T], out: &mut [T]| {
        let mut s = vec![T::ZERO; w];
        if log {
            sum_cols(cap, g, &mut s);
            rows_of(y, g, w, out, |y, g, o| log_softmax_grad_pass(cap, y, g, &s, o));
        } else {
            rows_of(y, g, w, out, |y, g, o| {
                crate::dispatch!(cap, |F| o
                    .iter_mut()
                    .zip(y.iter().zip(g))
                    .for_each(|(o, (&y, &g))| *o = g * y))
            });
            sum_cols(cap, out, &mut s);
            rows_of(y, g, w, out, |y, g, o| {
                crate::dispatch!(cap, |F| for ((o, y), g) in
                    o.chunks_exact_mut(w).zip(y.chunks_exact(w)).zip(g.chunks_exact(w))
                {
                    o.iter_mut()
                        .zip(y.iter().zip(g))
                        .zip(&s)
                        .for_each(|((o, (&y, &g)), &s)| *o = (g - s) * y);
                })
            });
        }
    };
    if m < PARALLEL_MIN && y.len() >= PARALLEL_MIN {
        super::threads::keep_awake();
        y.par_chunks_exact(m)
            .zip(g.par_chunks_exact(m))
            .zip(out.par_chunks_exact_mut(m))
            .for_each(|((y, g), o)| matrix(y, g, o));
    } else {
        y.chunks_exact(m)
            .zip(g.chunks_exact(m))
            .zip(out.chunks_exact_mut(m))
            .for_each(|((y, g), o)| matrix(y, g, o));
    }
}

/// `pass(y, g, part)` for the parts of `out` cut by [`by_units`] into whole rows of `w`
/// values (split across threads when `out` is large), with the same rows of `y` and `g`.
fn rows_of<T: Send + Sync>(
    y: &[T],
    g: &[T],
    w: usize,
    out: &mut [T],
    pass: impl Fn(&[T], &[T], &mut [T]) + Sync,
) {
    by_units(out, w, |r, o| pass(&y[r * w..r * w + o.len()], &g[r * w..r * w + o.len()], o))
}

/// `out = g - e^y s` over rows of `s.len()` values (`s` one value per column): the pass of
/// [`softmax_grad_cols`] for log_softmax, f32 through the build's `exp`.
fn log_softmax_grad_pass<T: crate::Float>(cap: Capability, y: &[T], g: &[T], s: &[T], out: &mut [T]) {
    let w = s.len();
    match (
        crate::dtype::as_f32(y),
        crate::dtype::as_f32(g),
        crate::dtype::as_f32(s),
        crate::dtype::as_f32_mut(out),
    ) {
        (Some(y), Some(g), Some(s), Some(o)) => crate::dispatch!(cap, |F| {
            for ((o, y), g) in o.chunks_exact_mut(w).zip(y.chunks_exact(w)).zip(g.chunks_exact(w)) {
                o.iter_mut()
                    .zip(y.iter().zip(g))
                    .zip(s)
                    .for_each(|((o, (&y, &g)), &s)| *o = g - F::from_elem(y).exp().elem() * s);
            }
        }),
        _ => {
            for ((o, y), g) in out.chunks_exact_mut(w).zip(y.chunks_exact(w)).zip(g.chunks_exact(w)) {
                o.iter_mut().zip(y.iter().zip(g)).zip(s).for_each(|((o, (&y, &g)), &s)| *o = g - y.exp() * s);
            }
        }
    }
}

/// `out[r] = sum(x[r*n..(r+1)*n])` for every row (rows split across threads).
///
/// # Panics
/// If `x` is not `out.len()` rows of `n`.
pub fn sum_rows<T: Numeric>(cap: Capability, x: &[T], n: usize, out: &mut [T]) {
    assert!(x.len() == out.len() * n, "sum_rows: x must hold out.len() rows of n");
    if n == 0 {
        out.iter_mut().for_each(|o| *o = T::ZERO);
        return;
    }
    let seq = |x: &[T], out: &mut [T]| {
        #[cfg(target_arch = "x86_64")]
        if let (Some(x), Some(out)) = (crate::dtype::as_f32(x), crate::dtype::as_f32_mut(out)) {
            if leaves::rows(cap, x, n, out) {
                return;
            }
        }
        crate::dispatch!(cap, |F| for (o, r) in out.iter_mut().zip(x.chunks_exact(n)) {
            *o = sum_tree(r);
        })
    };
    if x.len() < PARALLEL_MIN {
        return seq(x, out);
    }
    let r = task_len(x.len()).div_ceil(n);
    x.par_chunks(r * n).zip(out.par_chunks_mut(r)).for_each(|(x, o)| seq(x, o));
}

/// Rows per block of [`sum_cols`], [`prod_cols`] and [`max_cols`] (and of the extremes over a
/// leading dim).
pub(crate) const COL_BLOCK: usize = 128;

/// `out[j] = sum_k x[k*w + j]`: the column sums of `x` (rows of `w`), the sum over dim 0 of a
/// matrix: rows walked in order (vectorised across the row) in blocks of 128 whose partial
/// sums are added in block order, the same for any thread count (f32 blocks on AVX-512 keep
/// their sums in registers, `strips`).
///
/// # Panics
/// If `x` is not whole rows of `out.len()`.
pub fn sum_cols<T: Numeric>(cap: Capability, x: &[T], out: &mut [T]) {
    fold_cols(
        cap,
        x,
        out,
        T::ZERO,
        #[inline(always)]
        |a: T, b: T| a.add_w(b),
        |xb: &[T], acc: &mut [T]| {
            #[cfg(target_arch = "x86_64")]
            if let (Some(xb), Some(acc)) = (crate::dtype::as_f32(xb), crate::dtype::as_f32_mut(acc)) {
                return strips::sum_block(cap, xb, acc);
            }
            let _ = (xb, acc);
            false
        },
    );
}

/// `out[j] = prod_k x[k*w + j]`: the column products of `x` (rows of `w`), the product over
/// dim 0 of a matrix, in [`sum_cols`]' blocks of rows (floats round differently from a
/// running product down each column, as with PyTorch's vectorised products; integers wrap,
/// the same in any order).
///
/// # Panics
/// If `x` is not whole rows of `out.len()`.
pub fn prod_cols<T: Numeric>(cap: Capability, x: &[T], out: &mut [T]) {
    fold_cols(
        cap,
        x,
        out,
        T::ONE,
        #[inline(always)]
        |a: T, b: T| a.mul_w(b),
        |_: &[T], _: &mut [T]| false,
    );
}

/// `out[j] = max_k x[k*w + j]` over the values that are not NaN (-inf for a column of NaN
/// alone): the column maxima of a matrix, which softmax over a leading dim subtracts
/// ([`crate::vmath::softmax_cols`]; a NaN reaches its column's outputs through `x - max`), in
/// [`sum_cols`]' blocks of rows.
///
/// # Panics
/// If `x` is not whole rows of `out.len()`.
pub fn max_cols<T: crate::Float>(cap: Capability, x: &[T], out: &mut [T]) {
    fold_cols(
        cap,
        x,
        out,
        T::neg_infinity(),
        // (IEEE maxNum, which skips NaN. `if b > a { b } else { a }` became a masked store
        // into the partial maxima, `vmaskmovps`, which is slow on AMD's cores: 38% of
        // `softmax(0)` of (1000, 1000) with AVX2.)
        #[inline(always)]
        |a: T, b: T| num_traits::Float::max(a, b),
        |_: &[T], _: &mut [T]| false,
    );
}

/// `cols(matrix, out)` ([`sum_cols`] or [`prod_cols`]) for each outer index of `v`, laid out
/// as `(outer, n, inner)`, with its `inner` outputs: a reduction over a middle or leading dim.
/// The matrices are split across threads when each is too small to split itself (they would
/// otherwise run one after another on one thread).
pub fn per_outer<T: Numeric>(
    v: &[T],
    (n, inner): (usize, usize),
    out: &mut [T],
    cols: impl Fn(&[T], &mut [T]) + Sync,
) {
    let m = n * inner;
    assert!(m > 0 && v.len() == out.len() / inner.max(1) * m, "per_outer: (outer, n, inner) blocks");
    if v.len() >= PARALLEL_MIN && m < PARALLEL_MIN {
        super::threads::keep_awake();
        v.par_chunks_exact(m).zip(out.par_chunks_exact_mut(inner)).for_each(|(x, o)| cols(x, o));
    } else {
        v.chunks_exact(m).zip(out.chunks_exact_mut(inner)).for_each(|(x, o)| cols(x, o));
    }
}

/// `out[j] = x[0, j] op x[1, j] op ...` for the columns of `x` (rows of `w = out.len()`;
/// `identity` when there are no rows). Rows are walked in order (contiguous, vectorised
/// across the row), in blocks of [`COL_BLOCK`] (128) rows whose partial results are then
/// combined in block order: the same blocks and order for any thread count. Blocks are split
/// across threads. `fast(block, acc)` may do a block's fold itself (returning true) with the
/// same operations in the same order. (Columns split among threads instead, runs of 512 of
/// each row, made `prod` over dim 0 of a (1000, 1000) matrix 1.5x slower than the sum.)
///
/// # Panics
/// If `x` is not whole rows of `out.len()`.
fn fold_cols<T: Numeric>(
    cap: Capability,
    x: &[T],
    out: &mut [T],
    identity: T,
    op: impl Fn(T, T) -> T + Sync + Copy,
    fast: impl Fn(&[T], &mut [T]) -> bool + Sync,
) {
    let w = out.len();
    assert!(
        x.len().is_multiple_of(w.max(1)) && (w > 0 || x.is_empty()),
        "fold_cols: whole rows of out.len()"
    );
    out.iter_mut().for_each(|o| *o = identity);
    if x.is_empty() {
        return;
    }
    let rows = x.len() / w;
    let blocks = rows.div_ceil(COL_BLOCK);
    // One block's fold into `acc` (its first row copied, the others combined).
    let block = |xb: &[T], acc: &mut [T]| {
        if fast(xb, acc) {
            return;
        }
        crate::dispatch!(cap, |F| {
            acc.copy_from_slice(&xb[..w]);
            for r in xb[w..].chunks_exact(w) {
                acc.iter_mut().zip(r).for_each(|(a, &v)| *a = op(*a, v));
            }
        })
    };
    let combine = |out: &mut [T], p: &[T]| {
        crate::dispatch!(cap, |F| out.iter_mut().zip(p).for_each(|(o, &v)| *o = op(*o, v)))
    };
    if blocks == 1 {
        return block(x, out);
    }
    let mut partial = vec![T::ZERO; blocks * w];
    if x.len() < PARALLEL_MIN {
        x.chunks(COL_BLOCK * w).zip(partial.chunks_mut(w)).for_each(|(xb, p)| block(xb, p));
    } else {
        super::threads::keep_awake();
        x.par_chunks(COL_BLOCK * w).zip(partial.par_chunks_mut(w)).for_each(|(xb, p)| block(xb, p));
    }
    for p in partial.chunks_exact(w) {
        combine(out, p);
    }
}

/// [`sum_cols`]' blocks of f32 rows on AVX-512: the columns in strips of twelve vectors
/// ([`for_strips`](crate::simd::vector::for_strips)), each strip's sums kept in registers
/// down the block's rows (instead of loaded and stored again for every row), the last
/// columns one by one; each column's additions in the portable order, so the same bits.
#[cfg(target_arch = "x86_64")]
mod strips {
    use crate::simd::vector::{for_strips, F32s, Strip};
    use crate::simd::{supported, Capability};
    use std::arch::x86_64::*;

    /// A block's rows `x` and their column sums `acc` (rows of `acc.len()`).
    struct Sums<'a> {
        x: &'a [f32],
        acc: &'a mut [f32],
    }

    impl Strip for Sums<'_> {
        /// The block's column sums of the `S * V::N` columns from `j` into `acc`.
        #[inline(always)]
        unsafe fn strip<V: F32s, const S: usize>(&mut self, j: usize) {
            let w = self.acc.len();
            let p = self.x.as_ptr().add(j);
            // (A loop, not a closure given to `array::from_fn`, which may be compiled outside
            // the AVX2 or AVX-512 build: see `matmul::tile`.)
            let mut s = [V::zero(); S];
            for (k, s) in s.iter_mut().enumerate() {
                *s = V::load(p.add(k * V::N));
            }
            for r in 1..self.x.len() / w {
                let row = p.add(r * w);
                for (k, s) in s.iter_mut().enumerate() {
                    *s = s.add(V::load(row.add(k * V::N)));
                }
            }
            for (k, s) in s.iter().enumerate() {
                s.store(self.acc.as_mut_ptr().add(j + k * V::N));
            }
        }
    }

    /// A block's column sums with `V` strips of `S` vectors (see [`for_strips`]), the rest
    /// one by one.
    #[inline(always)]
    unsafe fn sum_with<V: F32s, H: F32s, const S: usize>(x: &[f32], acc: &mut [f32]) {
        let w = acc.len();
        let j = for_strips::<V, H, S>(w, &mut Sums { x, acc: &mut *acc });
        if j < w {
            acc[j..].copy_from_slice(&x[j..w]);
            for row in x[w..].chunks_exact(w) {
                acc[j..].iter_mut().zip(&row[j..]).for_each(|(a, &v)| *a += v);
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn sum_avx512(x: &[f32], acc: &mut [f32]) {
        sum_with::<__m512, __m256, 12>(x, acc)
    }

    /// `acc[j] = sum_r x[r * w + j]` over the block's rows (`w = acc.len()`, `x` whole
    /// rows, at least one) at `cap`, or `false` (nothing done) below AVX-512. With AVX2 the
    /// portable loop is as fast: a strip of twelve 8-lane vectors covers 96 columns, and a
    /// (28892, 200) sum took 307 us against 291 (A/B, 6 rounds; AVX-512 198 against 294).
    pub(super) fn sum_block(cap: Capability, x: &[f32], acc: &mut [f32]) -> bool {
        let w = acc.len();
        assert!(w > 0 && x.len() >= w && x.len().is_multiple_of(w), "sum_block: whole rows");
        // SAFETY: AVX-512 only if the CPU has it (`supported`); the strips read whole rows
        // of `x` (asserted) and write `acc`'s `w` values.
        unsafe {
            match supported(cap) {
                Capability::Avx512 => sum_avx512(x, acc),
                _ => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::available;

    struct Tanh;
    impl UnaryFn for Tanh {
        fn call<T: Real>(&self, x: T) -> T {
            x.tanh()
        }
    }

    /// The same formula, computed four runs at a time in the AVX2 and AVX-512 builds.
    struct TanhLockstep;
    impl UnaryFn for TanhLockstep {
        fn call<T: Real>(&self, x: T) -> T {
            x.tanh()
        }
        const LOCKSTEP: bool = true;
        fn call_lanes(&self, x: [f32; LANES]) -> [f32; LANES] {
            crate::simd::real::tanh_lanes::<true, LANES>(x)
        }
    }

    #[test]
    fn every_capability_gives_the_bits_of_the_fma_build_or_within_ulps_of_it() {
        // (Every task's share is whole blocks of 4 runs of 64 and a remainder.)
        let x: Vec<f32> =
            (0..PARALLEL_MIN * 3 + 17).map(|i| ((i * 7919) % 20011) as f32 / 1000.0 - 10.0).collect();
        let mut want = vec![0.0f32; x.len()];
        x.iter().zip(&mut want).for_each(|(&v, w)| *w = crate::simd::real::tanh::<true>(v));
        for cap in available() {
            let mut got = Vec::with_capacity(x.len());
            // SAFETY: `unary_real` writes every slot.
            unsafe { fill_uninit(&mut got, x.len(), |o| unary_real(cap, &Tanh, &x, o)) };
            let mut lockstep = Vec::with_capacity(x.len());
            // SAFETY: as above.
            unsafe { fill_uninit(&mut lockstep, x.len(), |o| unary_real(cap, &TanhLockstep, &x, o)) };
            assert!(
                lockstep.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{cap:?}: lockstep differs"
            );
            for (g, w) in got.iter().zip(&want) {
                if cap == Capability::Default {
                    assert!(
                        (g - w).abs() <= 4.0 * f32::EPSILON * w.abs().max(f32::MIN_POSITIVE),
                        "{cap:?}: {g} vs {w}"
                    );
                } else {
                    assert_eq!(g.to_bits(), w.to_bits(), "{cap:?}");
                }
            }
        }
    }

    /// A derivative-like rule of two values with a parameter: `g k (1 - tanh(x)^2) + e^-x`.
    struct Rule {
        k: f64,
    }
    impl BinaryFn for Rule {
        fn call<T: Real>(&self, g: T, x: T) -> T {
            let t = x.tanh();
            g * T::c(self.k) * (T::ONE - t * t) + (-x).exp()
        }
    }

    #[test]
    fn binary_real_gives_the_scalar_formulas_bits_at_every_capability() {
        // Split across threads above PARALLEL_MIN: every value as `Fma32` computes it in the
        // AVX2 and AVX-512 builds, as `Plain32` in the portable one; and (the right formula)
        // within 1e-6 of f64.
        let n = PARALLEL_MIN * 2 + 13;
        let g: Vec<f32> = (0..n).map(|i| ((i * 31) % 1009) as f32 / 300.0 - 1.5).collect();
        let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 20011) as f32 / 2000.0 - 5.0).collect();
        let rule = Rule { k: 0.75 };
        for cap in available() {
            let mut got = Vec::with_capacity(n);
            // SAFETY: `binary_real` writes every slot.
            unsafe { fill_uninit(&mut got, n, |o| binary_real(cap, &rule, &g, &x, o)) };
            for ((&gv, &xv), o) in g.iter().zip(&x).zip(&got) {
                let want = if cap == Capability::Default {
                    rule.call(crate::simd::Plain32::from_elem(gv), crate::simd::Plain32::from_elem(xv)).elem()
                } else {
                    rule.call(crate::simd::Fma32::from_elem(gv), crate::simd::Fma32::from_elem(xv)).elem()
                };
                assert_eq!(o.to_bits(), want.to_bits(), "{cap:?}: ({gv}, {xv})");
                let exact = gv as f64 * 0.75 * (1.0 - (xv as f64).tanh().powi(2)) + (-xv as f64).exp();
                assert!((*o as f64 - exact).abs() <= 1e-6 * exact.abs().max(1.0), "{cap:?}: {o} vs {exact}");
            }
        }
    }

    /// GELU with its hand-written kernel enrolled, as `float_unary!` does it.
    struct GeluKernel;
    impl UnaryFn for GeluKernel {
        fn call<T: Real>(&self, x: T) -> T {
            x.gelu()
        }
        fn slice_f32(cap: Capability, x: &[f32], out: &mut [MaybeUninit<f32>]) -> usize {
            crate::simd::real::gelu_slice(cap, x, out)
        }
    }

    #[test]
    fn a_kernel_slice_and_the_formula_give_one_result_at_every_capability() {
        // Split across threads, the kernel on each task's whole vectors and the formula on
        // its rest: every value as `gelu::<true>` gives it in the AVX2 and AVX-512 builds,
        // and as `gelu::<false>` in the portable one (which runs no kernel).
        let x: Vec<f32> =
            (0..PARALLEL_MIN * 3 + 21).map(|i| ((i * 7919) % 20011) as f32 / 1500.0 - 6.7).collect();
        for cap in available() {
            let mut got = Vec::with_capacity(x.len());
            // SAFETY: `unary_real` writes every slot.
            unsafe { fill_uninit(&mut got, x.len(), |o| unary_real(cap, &GeluKernel, &x, o)) };
            for (&v, g) in x.iter().zip(&got) {
                let fma = crate::simd::real::gelu::<true>(v);
                if cap == Capability::Default {
                    assert_eq!(
                        g.to_bits(),
                        crate::simd::real::gelu::<false>(v).to_bits(),
                        "{cap:?}: gelu({v})"
                    );
                } else {
                    assert_eq!(g.to_bits(), fma.to_bits(), "{cap:?}: gelu({v})");
                }
            }
        }
    }

    #[test]
    fn the_tree_adds_the_pairs_its_definition_names() {
        // The definition, recursive: a node of more than LEAF values splits at half its
        // length rounded up to a multiple of LEAF. With a non-associative, non-commutative
        // `add` and leaves named by their range, any other grouping or order of the walk
        // and its four-leaf nodes gives another number.
        fn reference(lo: usize, hi: usize) -> u64 {
            if hi - lo <= LEAF {
                return leaf(lo, hi);
            }
            let half = ((hi - lo) / 2).next_multiple_of(LEAF).min(hi - lo);
            add(reference(lo, lo + half), reference(lo + half, hi))
        }
        fn leaf(lo: usize, hi: usize) -> u64 {
            (lo as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (hi as u64).wrapping_mul(31)
        }
        fn add(l: u64, r: u64) -> u64 {
            l.wrapping_mul(1_000_003).wrapping_add(r ^ (r >> 7)).wrapping_add(7)
        }
        let lengths = (0..=40 * LEAF)
            .step_by(37)
            .chain([1, LEAF, LEAF + 1, 3 * LEAF, 4 * LEAF, 4 * LEAF + 1])
            .chain([100_000, (1 << 20) + 3]);
        for len in lengths {
            assert_eq!(tree(len, leaf, add), reference(0, len), "{len} values");
        }
    }

    #[test]
    fn row_sums_are_their_leaves_and_tree_by_definition() {
        // The definition written out: a leaf of fewer than ACC values added in order from
        // +0; a longer one's values added into ACC accumulators by position (value i into
        // accumulator i % ACC, the last partial group too), the accumulators then folded in
        // halves (accumulator i plus accumulator i + h, h = 16, 8, 4, 2, 1); leaves joined by
        // the tree of `reference`. Rows shorter than ACC, of every length of a partial group,
        // of one leaf and of several (`quad`, the walk), a few row counts; `sum` of the first
        // row too.
        fn leaf(x: &[f32]) -> f32 {
            if x.len() < ACC {
                return x.iter().fold(0.0, |s, &v| s + v);
            }
            let mut acc = [0.0f32; ACC];
            for (i, &v) in x.iter().enumerate() {
                acc[i % ACC] += v;
            }
            for h in [16, 8, 4, 2, 1] {
                for i in 0..h {
                    acc[i] += acc[i + h];
                }
            }
            acc[0]
        }
        fn reference(x: &[f32]) -> f32 {
            if x.len() <= LEAF {
                return leaf(x);
            }
            let half = (x.len() / 2).next_multiple_of(LEAF).min(x.len());
            reference(&x[..half]) + reference(&x[half..])
        }
        let x: Vec<f32> = (0..9 * 2100).map(|i| ((i * 7919) % 2003) as f32 / 97.0 - 10.0).collect();
        let lengths = (1..=72).chain([100, 200, 255, 256, 257, 513, 1000, 1025, 2100]);
        for n in lengths {
            for rows in [1, 3, 4, 5, 8, 9] {
                let m = &x[..n * rows];
                let want: Vec<u32> = m.chunks_exact(n).map(|r| reference(r).to_bits()).collect();
                for cap in available() {
                    let mut got = vec![0.0f32; rows];
                    sum_rows(cap, m, n, &mut got);
                    let got: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(got, want, "{cap:?}: {rows} rows of {n}");
                    assert_eq!(sum(cap, &m[..n]).to_bits(), want[0], "{cap:?}: sum of {n}");
                }
            }
        }
    }

    #[test]
    fn sums_are_the_same_at_every_capability_and_match_f64() {
        let x: Vec<f32> = (0..PARALLEL_MIN * 5 + 3).map(|i| ((i * 31) % 1000) as f32 / 100.0 - 5.0).collect();
        let exact: f64 = x.iter().map(|&v| v as f64).sum();
        let s0 = sum(Capability::Default, &x);
        assert!((s0 as f64 - exact).abs() < 1e-3 * exact.abs().max(1.0), "{s0} vs {exact}");
        let (w, rows) = (200usize, 800usize);
        let m = &x[..w * rows];
        let want: Vec<f64> = (0..w).map(|j| (0..rows).map(|r| m[r * w + j] as f64).sum()).collect();
        let mut c0 = vec![0.0f32; w];
        sum_cols(Capability::Default, m, &mut c0);
        let mut r0 = vec![0.0f32; rows];
        sum_rows(Capability::Default, m, w, &mut r0);
        // A block of COL_BLOCK rows summed in order, then the blocks in order: the classic
        // bound of recursive summation, (COL_BLOCK + blocks) * eps * sum |x|, per column.
        let depth = (COL_BLOCK + rows.div_ceil(COL_BLOCK)) as f64 * f32::EPSILON as f64;
        for (j, (g, exact)) in c0.iter().zip(&want).enumerate() {
            let abs: f64 = (0..rows).map(|r| (m[r * w + j] as f64).abs()).sum();
            assert!((*g as f64 - exact).abs() <= depth * abs, "{g} vs {exact}");
        }
        for cap in available() {
            assert_eq!(sum(cap, &x).to_bits(), s0.to_bits(), "{cap:?}");
            let mut c = vec![0.0f32; w];
            sum_cols(cap, m, &mut c);
            assert_eq!(c, c0, "{cap:?}");
            let mut r = vec![0.0f32; rows];
            sum_rows(cap, m, w, &mut r);
            assert_eq!(r, r0, "{cap:?}");
            assert_eq!(sum(cap, &[i64::MAX, 1]), i64::MIN, "integer sums wrap");
        }
        // Widths around the AVX2 and AVX-512 strips (12 vectors of 8 or 16), single and half
        // vectors and the scalar rest; one row, a block and a bit (COL_BLOCK 128): the bits
        // of the portable loop at every capability.
        for w in [1, 7, 8, 9, 16, 17, 95, 96, 97, 191, 192, 200, 217, 400] {
            for rows in [1, 2, 129] {
                let m = &x[..w * rows];
                let mut c0 = vec![0.0f32; w];
                sum_cols(Capability::Default, m, &mut c0);
                for cap in available() {
                    let mut c = vec![0.0f32; w];
                    sum_cols(cap, m, &mut c);
                    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&c), bits(&c0), "{cap:?}: {rows} rows of {w}");
                }
            }
        }
    }

    #[test]
    fn column_products_match_the_definition() {
        // (1030, 70): nine blocks of 128 rows, split across threads (72,100 values). Factors
        // near 1 keep the f64 products in range: within 1e-12 of the running product down
        // each column (1,030 roundings of ~1.1e-16 each), f32 within (1030 + 9) eps of it;
        // i64 factors -1, 1, 2, 3 wrap, and wrapping products are the same in any order.
        let (rows, w) = (1030usize, 70usize);
        let f: Vec<f64> = (0..rows * w).map(|i| 1.0 + (((i * 7919) % 201) as f64 - 100.0) / 1000.0).collect();
        let want: Vec<f64> = (0..w).map(|j| (0..rows).map(|r| f[r * w + j]).product()).collect();
        let f32s: Vec<f32> = f.iter().map(|&v| v as f32).collect();
        let want32: Vec<f64> = (0..w).map(|j| (0..rows).map(|r| f32s[r * w + j] as f64).product()).collect();
        let ints: Vec<i64> = (0..rows * w).map(|i| [-1i64, 1, 2, 3][(i * 31) % 4]).collect();
        let want_i: Vec<i64> =
            (0..w).map(|j| (0..rows).fold(1i64, |p, r| p.wrapping_mul(ints[r * w + j]))).collect();
        for cap in available() {
            let mut got = vec![0.0f64; w];
            prod_cols(cap, &f, &mut got);
            for (g, e) in got.iter().zip(&want) {
                assert!((g - e).abs() <= 1e-12 * e.abs(), "{cap:?}: {g} vs {e}");
            }
            let mut got = vec![0.0f32; w];
            prod_cols(cap, &f32s, &mut got);
            for (g, e) in got.iter().zip(&want32) {
                assert!(
                    (*g as f64 - e).abs() <= 1039.0 * f32::EPSILON as f64 * e.abs(),
                    "{cap:?}: {g} vs {e}"
                );
            }
            let mut got = vec![0i64; w];
            prod_cols(cap, &ints, &mut got);
            assert_eq!(got, want_i, "{cap:?}");
        }
        let mut empty = [7.0f32; 3];
        prod_cols(Capability::Default, &[], &mut empty);
        assert_eq!(empty, [1.0; 3], "no rows: the empty product");
    }

    #[test]
    fn in_place_adds_match_the_definition_at_every_capability() {
        // Above and below the threading threshold; integers, so the sums are exact.
        for n in [100, 9 * PARALLEL_MIN + 17] {
            let b: Vec<i64> = (0..n as i64).map(|i| i * 7 - 3).collect();
            for cap in available() {
                let mut acc: Vec<i64> = (0..n as i64).collect();
                binary_assign(cap, &mut acc, &b, |x, y| x + 2 * y);
                assert!(acc.iter().enumerate().all(|(i, &v)| v == i as i64 + 2 * (i as i64 * 7 - 3)));
            }
        }
    }

    #[test]
    fn broadcast_loops_match_the_definition() {
        // Rows that are and are not whole vectors, few and many rows, and sizes below and
        // above the threading threshold.
        let sizes = [
            (PARALLEL_MIN / 100 + 3, 100usize),
            (3, 200),
            (PARALLEL_MIN / 200 + 5, 200),
            (2, 7),
            (5000, 7),
            (40, 1),
            (17, 3000),
        ];
        for (rows, w) in sizes {
            let a: Vec<f32> = (0..rows * w).map(|i| i as f32 * 0.5).collect();
            let row: Vec<f32> = (0..w).map(|j| j as f32).collect();
            let col: Vec<f32> = (0..rows).map(|r| r as f32 * 3.0).collect();
            for cap in available() {
                let mut o = vec![0.0f32; a.len()];
                // SAFETY (three times): the kernels write every slot.
                unsafe { fill_uninit(&mut o, a.len(), |o| binary_rows(cap, &a, &row, o, |x, y| x - y)) };
                assert!(o.iter().enumerate().all(|(i, &v)| v == a[i] - row[i % w]), "{rows} x {w}");
                unsafe { fill_uninit(&mut o, a.len(), |o| binary_cols(cap, &a, &col, o, |x, y| x * y)) };
                assert!(o.iter().enumerate().all(|(i, &v)| v == a[i] * col[i / w]));
                unsafe { fill_uninit(&mut o, a.len(), |o| binary(cap, &a, &a, o, |x, y| x + y)) };
                assert!(o.iter().enumerate().all(|(i, &v)| v == 2.0 * a[i]));
            }
        }
    }
}
