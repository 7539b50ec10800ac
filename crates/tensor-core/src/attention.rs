//! Fused scaled dot-product attention over independent heads: for each head (the product of
//! the leading dims) `p = softmax(q k^T * scale)` (causal: key `j` masked for query `i < j`)
//! and `o = p v`, and its backward from the saved `p`. Heads run in parallel, each product on
//! its own thread; the only `(L, S)` tensor kept per head is `p`, which the backward pass
//! needs. The autograd op (`ops/attention.rs` of torchlet-autograd) states the derivatives.

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

/// `p = softmax(q k^T * scale)` (the strict upper triangle masked when `causal`) into `p`
/// (`heads * l * s`) and `o = p v` into `out` (`heads * l * ev`).
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
    let head = |(i, (o, ph)): (usize, (&mut [T], &mut [T]))| -> Result<()> {
        let (qh, kh, vh) = (&q[i * l * e..][..l * e], &k[i * s * e..][..s * e], &v[i * s * ev..][..s * ev]);
        let mut scores = vec![T::ZERO; l * s];
        // scores (l, s) = q (l, e) @ k^T (e, s)
        gemm_strided_serial(
            l,
            e,
            s,
            Strided::new(qh, 0, e, 1),
            Strided::new(kh, 0, 1, e),
            &mut scores,
            false,
        )?;
        for (r, row) in scores.chunks_exact_mut(s).enumerate() {
            row.iter_mut().for_each(|x| *x *= scale);
            if causal && r + 1 < s {
                row[r + 1..].iter_mut().for_each(|x| *x = T::c(f64::NEG_INFINITY));
            }
        }
        softmax_rows(&scores, s, ph, false);
        // out (l, ev) = p (l, s) @ v (s, ev)
        gemm_strided_serial(l, s, ev, Strided::new(ph, 0, s, 1), Strided::new(vh, 0, ev, 1), o, false)
    };
    crate::simd::threads::keep_awake(); // one task per head
    out.par_chunks_mut(l * ev).zip(p.par_chunks_mut(l * s)).enumerate().try_for_each(head)
}

/// The gradients of [`forward`] from the upstream gradient `g` (`heads * l * ev`) and the
/// saved `p`: `dv = p^T g`, `dp = g v^T`, `ds = p * (dp - rowsum(p * dp)) * scale`,
/// `dq = ds k`, `dk = ds^T q`, each written when its slice is given.
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
    dq: Option<&mut [T]>,
    dk: Option<&mut [T]>,
    dv: Option<&mut [T]>,
) -> Result<()> {
    h.check(q.len(), k.len(), v.len());
    let Heads { heads, l, s, e, ev } = h;
    assert!(p.len() == heads * l * s && g.len() == heads * l * ev, "attention: saved sizes");
    let scale = T::c(scale);
    // One task per head, with that head's slices of each wanted gradient.
    let (dqs, dks, dvs) =
        (per_head(dq, l * e, heads), per_head(dk, s * e, heads), per_head(dv, s * ev, heads));
    let tasks: Vec<_> = dqs.into_iter().zip(dks).zip(dvs).enumerate().collect();
    crate::simd::threads::keep_awake();
    tasks.into_par_iter().try_for_each(|(i, ((dq, dk), dv))| -> Result<()> {
        let (qh, kh, vh) = (&q[i * l * e..][..l * e], &k[i * s * e..][..s * e], &v[i * s * ev..][..s * ev]);
        let (ph, gh) = (&p[i * l * s..][..l * s], &g[i * l * ev..][..l * ev]);
        if l == 0 || s == 0 {
            for d in [dq, dk, dv].into_iter().flatten() {
                d.iter_mut().for_each(|x| *x = T::ZERO);
            }
            return Ok(());
        }
        if let Some(dv) = dv {
            // dv (s, ev) = p^T (s, l) @ g (l, ev)
            gemm_strided_serial(s, l, ev, Strided::new(ph, 0, 1, s), Strided::new(gh, 0, ev, 1), dv, false)?;
        }
        if dq.is_none() && dk.is_none() {
            return Ok(());
        }
        // dp (l, s) = g (l, ev) @ v^T (ev, s), then ds in place.
        let mut ds = vec![T::ZERO; l * s];
        gemm_strided_serial(
            l,
            ev,
            s,
            Strided::new(gh, 0, ev, 1),
            Strided::new(vh, 0, 1, ev),
            &mut ds,
            false,
        )?;
        for (d, pr) in ds.chunks_exact_mut(s).zip(ph.chunks_exact(s)) {
            let dot = d.iter().zip(pr).fold(T::ZERO, |a, (&x, &y)| a + x * y);
            d.iter_mut().zip(pr).for_each(|(x, &y)| *x = y * (*x - dot) * scale);
        }
        if let Some(dq) = dq {
            // dq (l, e) = ds (l, s) @ k (s, e)
            gemm_strided_serial(l, s, e, Strided::new(&ds, 0, s, 1), Strided::new(kh, 0, e, 1), dq, false)?;
        }
        if let Some(dk) = dk {
            // dk (s, e) = ds^T (s, l) @ q (l, e)
            gemm_strided_serial(s, l, e, Strided::new(&ds, 0, 1, s), Strided::new(qh, 0, e, 1), dk, false)?;
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
