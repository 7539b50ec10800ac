//! Fused scaled dot-product attention over independent heads: for each head (the product of
//! the leading dims) `p = softmax(q k^T * scale)` (causal: key `j` masked for query `i < j`)
//! and `o = p v`, and its backward from the saved `p`. Heads run in parallel, each product on
//! its own thread; the only `(L, S)` tensor kept per head is `p`, which the backward pass
//! needs. With the causal mask a head runs in blocks of queries, each block's products and
//! softmax over only the keys it sees. The autograd op (`ops/attention.rs` of
//! torchlet-autograd) states the derivatives.

use crate::matmul::{gemm_strided_serial, Strided};
use crate::vmath::softmax_rows;
use crate::{Float, Result};
use rayon::prelude::*;

/// The sizes of a batch of attention heads: `heads` independent `(l, e)` queries, `(s, e)`
/// keys and `(s, ev)` values, all contiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heads {
    /// Independent heads (batch times heads).
    pub heads: usize,
    /// Queries per head.
    pub l: usize,
    /// Keys (and values) per head.
    pub s: usize,
    /// Query and key size.
    pub e: usize,
    /// Value size.
    pub ev: usize,
}

impl Heads {
    fn check(&self, q: usize, k: usize, v: usize) {
        let Heads { heads, l, s, e, ev } = *self;
        assert!(q == heads * l * e && k == heads * s * e && v == heads * s * ev, "attention: sizes");
    }
}

/// Queries per block of a causal head: block `[r0, r1)` sees keys `0..r1` only (the keys of
/// later blocks are masked for all its rows), so its products and softmax skip them, as
/// PyTorch's flash attention skips masked blocks. For 128 queries and keys that is 10 of the
/// 16 blocks of 32 x 32 scores. Without the causal mask a head is one block. On a 2-core
/// Xeon, `sdpa_causal_fwd_bwd_8x4x128x32` took 1,498 us as whole heads and 1,007 us in
/// blocks of 32 (medians of 8 alternating rounds; 1,878 -> 1,232 us with AVX2); blocks of 16
/// and 64 took 1,194 and 1,261 us against 1,109 for 32 in a slower hour (6 rounds).
const BLOCK: usize = 32;

/// The most queries in one block of a head of `l`: [`BLOCK`] with the causal mask, else all.
fn block_rows(l: usize, causal: bool) -> usize {
    if causal {
        BLOCK.min(l)
    } else {
        l
    }
}

/// The blocks of a head's `l` queries over `s` keys: `(r0, r1, keys)`, the block's rows and
/// the keys they see (`min(r1, s)` when `causal`; all `s` otherwise, in one block).
fn blocks(l: usize, s: usize, causal: bool) -> impl Iterator<Item = (usize, usize, usize)> {
    let step = block_rows(l, causal).max(1);
    (0..l).step_by(step).map(move |r0| {
        let r1 = (r0 + step).min(l);
        (r0, r1, if causal { r1.min(s) } else { s })
    })
}

/// `p = softmax(q k^T * scale)` (the strict upper triangle masked when `causal`: key `j` for
/// query `i < j`, PyTorch's top-left alignment) into `p` (`heads * l * s`, zero where masked)
/// and `o = p v` into `out` (`heads * l * ev`). With `causal`, by blocks of 32 queries
/// that skip the keys masked for the whole block.
///
/// # Panics
/// If the slices do not match `h`.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Float>(
    h: Heads,
    q: &[T],
    k: &[T],
    v: &[T],
    scale: f64,
    causal: bool,
    out: &mut [T],
    p: &mut [T],
) -> Result<()> {
    h.check(q.len(), k.len(), v.len());
    let Heads { l, s, e, ev, .. } = h;
    assert!(out.len() == h.heads * l * ev && p.len() == h.heads * l * s, "attention: outputs");
    if out.is_empty() || p.is_empty() {
        out.iter_mut().for_each(|o| *o = T::ZERO); // no keys: an empty sum (PyTorch gives NaN rows only when masked)
        return Ok(());
    }
    let scale = T::c(scale);
    let rows = block_rows(l, causal);
    let head = |(i, (o, ph)): (usize, (&mut [T], &mut [T]))| -> Result<()> {
        let (qh, kh, vh) = (&q[i * l * e..][..l * e], &k[i * s * e..][..s * e], &v[i * s * ev..][..s * ev]);
        // One block's scores, `keys` values a row, and (for a block that does not see every
        // key) its weights before they go into p's rows of `s`.
        let mut scores = vec![T::ZERO; rows * s];
        let mut probs = if causal { vec![T::ZERO; rows * s] } else { Vec::new() };
        for (r0, r1, keys) in blocks(l, s, causal) {
            let sc = &mut scores[..(r1 - r0) * keys];
            // scores (rows, keys) = q[r0..r1] (rows, e) @ k[..keys]^T (e, keys)
            let (qb, kt) = (Strided::new(qh, r0 * e, e, 1), Strided::new(kh, 0, 1, e));
            gemm_strided_serial(r1 - r0, e, keys, qb, kt, sc, false)?;
            for (r, row) in (r0..).zip(sc.chunks_exact_mut(keys)) {
                row.iter_mut().for_each(|x| *x *= scale);
                if causal && r + 1 < keys {
                    row[r + 1..].iter_mut().for_each(|x| *x = T::c(f64::NEG_INFINITY));
                }
            }
            let rows_p = &mut ph[r0 * s..r1 * s];
            let pb = if keys == s {
                // Every key seen: the weights go straight into p's rows.
                softmax_rows(sc, keys, rows_p, false);
                Strided::new(&*rows_p, 0, s, 1)
            } else {
                let pr = &mut probs[..(r1 - r0) * keys];
                softmax_rows(sc, keys, pr, false);
                for (dst, src) in rows_p.chunks_exact_mut(s).zip(pr.chunks_exact(keys)) {
                    dst[..keys].copy_from_slice(src);
                    dst[keys..].iter_mut().for_each(|x| *x = T::ZERO);
                }
                Strided::new(&*pr, 0, keys, 1)
            };
            // out[r0..r1] (rows, ev) = p (rows, keys) @ v[..keys] (keys, ev)
            let vb = Strided::new(vh, 0, ev, 1);
            gemm_strided_serial(r1 - r0, keys, ev, pb, vb, &mut o[r0 * ev..r1 * ev], false)?;
        }
        Ok(())
    };
    crate::simd::threads::keep_awake(); // one task per head
    out.par_chunks_mut(l * ev).zip(p.par_chunks_mut(l * s)).enumerate().try_for_each(head)
}

/// The gradients of [`forward`] from the upstream gradient `g` (`heads * l * ev`) and the
/// saved `p`: `dv = p^T g`, `dp = g v^T`, `ds = p * (dp - rowsum(p * dp)) * scale`,
/// `dq = ds k`, `dk = ds^T q`, each written when its slice is given. With `causal`, by the
/// forward's blocks of queries, each over the keys it sees (`p` is zero beyond them, and so
/// is `ds`): a block's terms of `dk` and `dv` are added to those of the blocks before it.
///
/// # Panics
/// If the slices do not match `h`.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Float>(
    h: Heads,
    q: &[T],
    k: &[T],
    v: &[T],
    p: &[T],
    g: &[T],
    scale: f64,
    causal: bool,
    dq: Option<&mut [T]>,
    dk: Option<&mut [T]>,
    dv: Option<&mut [T]>,
) -> Result<()> {
    h.check(q.len(), k.len(), v.len());
    let Heads { heads, l, s, e, ev } = h;
    assert!(p.len() == heads * l * s && g.len() == heads * l * ev, "attention: saved sizes");
    let scale = T::c(scale);
    let rows = block_rows(l, causal);
    // One task per head, with that head's slices of each wanted gradient.
    let (dqs, dks, dvs) =
        (per_head(dq, l * e, heads), per_head(dk, s * e, heads), per_head(dv, s * ev, heads));
    let tasks: Vec<_> = dqs.into_iter().zip(dks).zip(dvs).enumerate().collect();
    crate::simd::threads::keep_awake();
    tasks.into_par_iter().try_for_each(|(i, ((mut dq, mut dk), mut dv))| -> Result<()> {
        let (qh, kh, vh) = (&q[i * l * e..][..l * e], &k[i * s * e..][..s * e], &v[i * s * ev..][..s * ev]);
        let (ph, gh) = (&p[i * l * s..][..l * s], &g[i * l * ev..][..l * ev]);
        // Keys no block sees (l < s with the causal mask) get no gradient.
        for d in [dk.as_deref_mut(), dv.as_deref_mut()].into_iter().flatten() {
            d.iter_mut().for_each(|x| *x = T::ZERO);
        }
        if l == 0 || s == 0 {
            if let Some(dq) = dq {
                dq.iter_mut().for_each(|x| *x = T::ZERO);
            }
            return Ok(());
        }
        let mut ds = if dq.is_some() || dk.is_some() { vec![T::ZERO; rows * s] } else { Vec::new() };
        for (r0, r1, keys) in blocks(l, s, causal) {
            let n = r1 - r0;
            // This block's rows of p and g: (n, keys) with rows s apart, and (n, ev).
            let (pb, gb) = (Strided::new(ph, r0 * s, s, 1), Strided::new(gh, r0 * ev, ev, 1));
            if let Some(dv) = dv.as_deref_mut() {
                // dv[..keys] (keys, ev) += p_b^T (keys, n) @ g_b (n, ev)
                gemm_strided_serial(keys, n, ev, pb.t(), gb, &mut dv[..keys * ev], true)?;
            }
            if dq.is_none() && dk.is_none() {
                continue;
            }
            // dp (n, keys) = g_b (n, ev) @ v[..keys]^T (ev, keys), then ds in place.
            let d = &mut ds[..n * keys];
            gemm_strided_serial(n, ev, keys, gb, Strided::new(vh, 0, 1, ev), d, false)?;
            for (d, pr) in d.chunks_exact_mut(keys).zip(ph[r0 * s..].chunks(s)) {
                let pr = &pr[..keys];
                let dot = d.iter().zip(pr).fold(T::ZERO, |a, (&x, &y)| a + x * y);
                d.iter_mut().zip(pr).for_each(|(x, &y)| *x = y * (*x - dot) * scale);
            }
            if let Some(dq) = dq.as_deref_mut() {
                // dq[r0..r1] (n, e) = ds (n, keys) @ k[..keys] (keys, e)
                let (a, b) = (Strided::new(&d[..], 0, keys, 1), Strided::new(kh, 0, e, 1));
                gemm_strided_serial(n, keys, e, a, b, &mut dq[r0 * e..r1 * e], false)?;
            }
            if let Some(dk) = dk.as_deref_mut() {
                // dk[..keys] (keys, e) += ds^T (keys, n) @ q_b (n, e)
                let (a, b) = (Strided::new(&d[..], 0, 1, keys), Strided::new(qh, r0 * e, e, 1));
                gemm_strided_serial(keys, n, e, a, b, &mut dk[..keys * e], true)?;
            }
        }
        Ok(())
    })
}

/// `heads` slots: the consecutive `n`-element slices of `d`, or all `None` when `d` is absent
/// (or empty).
fn per_head<T>(d: Option<&mut [T]>, n: usize, heads: usize) -> Vec<Option<&mut [T]>> {
    match d {
        Some(d) if n > 0 => d.chunks_mut(n).map(Some).collect(),
        Some(_) | None => (0..heads).map(|_| None).collect(),
    }
}
