//! f32 products with a narrow output (16, 24 or 32 columns) on AVX2: the forward pass and the
//! weight gradient of a `Linear` layer with that many outputs over a large batch.
//!
//! For `C (m x n) += A (m x k) @ B (k x n)`, the `gemm` crate packs A into column panels and
//! feeds its 16 x 6 tiles with six broadcasts per twelve multiply-adds. With `n` at most 32
//! a row of C is at most four vectors, so this kernel keeps a tile of `MR` rows by the whole
//! row width in registers (3 x 32 = twelve accumulators for `n = 32`) and, for each `p`, loads
//! row `p` of B (contiguous, packed once when it is not) and broadcasts `A[r, p]` straight
//! from A in its own layout (any strides: rows of `x` in the forward pass, columns of `x` in
//! the weight gradient), which needs only `MR` broadcasts per `MR x n/8` multiply-adds and
//! no packing of the large operand. A long `k` (more than 1024) is walked in blocks of [`KC`]
//! so that the rows of B of a block stay in L1; the tile is kept in C between blocks.
//!
//! Measured on the project's VM for the `mlp` workload's two products (median of 7, calls
//! alternating with the `gemm` crate's): the forward product (50000 x 784 @ 784 x 32) 20.0 ms
//! against 22.1-23.5 ms, the weight gradient (784 x 50000 @ 50000 x 32, split over k between
//! the two threads) 21.8 ms against 28.4 ms.

use super::tile::{a_rows, pack, rows_of, tile};
use super::{Product, Strided};
use crate::dtype::{as_f32, as_f32_mut};
use crate::Float;
use rayon::prelude::*;
use std::arch::x86_64::*;

/// Rows of B per block of a long `k`: 256 rows of 32 f32 are 32 KiB.
const KC: usize = 256;
/// Rows of C per parallel task.
const ROWS_PER_TASK: usize = 192;

/// Whether [`gemm`] handles an f32 product with `n` columns on this CPU.
pub(super) fn applies<T: Float>(n: usize) -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && matches!(n, 16 | 24 | 32)
        && crate::simd::enabled(crate::simd::Capability::Avx2)
}

/// `dst = A @ B`, or `dst += A @ B` with `accumulate`, where `dst[i*d.0 + j*d.1]` is element
/// (i, j) of the m x n result; on every core when `parallel`. Only for products where
/// [`applies`] holds, with operands checked by `gemm_strided` (`m, k, n >= 1`, in bounds).
pub(super) fn gemm<T: Float>(
    p: Product<T>,
    dst: &mut [T],
    d: (usize, usize),
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (p.m, p.k, p.n);
    assert!(applies::<T>(n) && p.fits() && m.checked_mul(n) == Some(dst.len()));
    let (Some(sa), Some(sb), Some(dst)) = (as_f32(p.a.s), as_f32(p.b.s), as_f32_mut(dst)) else {
        unreachable!("narrow::gemm: `applies` holds, so T is f32")
    };
    let (a, b) = (
        Strided { s: sa, off: p.a.off, rs: p.a.rs, cs: p.a.cs },
        Strided { s: sb, off: p.b.off, rs: p.b.rs, cs: p.b.cs },
    );
    // B as k contiguous rows of n: in place if it is laid out so, else packed.
    let packed: Vec<f32>;
    let b = if b.cs == 1 && b.rs == n {
        &b.s[b.off..b.off + k * n]
    } else {
        let mut rows = vec![0.0f32; k * n];
        // SAFETY: the CPU has AVX2 (`applies`).
        unsafe { pack(&b, k, n, n, &mut rows) };
        packed = rows;
        &packed
    };
    let run = |r0: usize, out: &mut [f32], acc: bool| {
        let rows = out.len() / n;
        // SAFETY: the CPU has AVX2 and FMA (`applies`); rows r0..r0+rows of A and all k rows
        // of B are in bounds (`a.fits(m, k)`, `b.len() == k * n`), `out` holds rows x n.
        unsafe {
            match n {
                32 => tiles::<4, 3>(rows, k, a.from(r0, 0), b, out, acc),
                24 => tiles::<3, 3>(rows, k, a.from(r0, 0), b, out, acc),
                _ => tiles::<2, 4>(rows, k, a.from(r0, 0), b, out, acc),
            }
        }
    };
    let each = |(t, out): (usize, &mut [f32])| run(t * ROWS_PER_TASK, out, accumulate);
    if d == (n, 1) {
        // C's rows are contiguous: the tasks write their rows of it directly.
        if parallel {
            dst.par_chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(each);
        } else {
            dst.chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(each);
        }
    } else {
        // Any other layout (the transposed product): compute, then add into place.
        let mut tmp = vec![0.0f32; m * n];
        if parallel {
            tmp.par_chunks_mut(ROWS_PER_TASK * n)
                .enumerate()
                .for_each(|(t, o)| run(t * ROWS_PER_TASK, o, false));
        } else {
            run(0, &mut tmp, false);
        }
        if d.0 == 1 {
            // C^T's rows are contiguous (the transposed product): a blocked transpose, 16
            // rows of tmp (2 KiB, in L1) at a time, so that each column j of the block is one
            // contiguous run of C^T's row j (a scatter element by element, 4 KiB apart, had
            // taken ~30% of a conv2d step).
            for (ib, block) in tmp.chunks(16 * n).enumerate() {
                let (i0, rows) = (ib * 16, block.len() / n);
                for j in 0..n {
                    let out = &mut dst[j * d.1 + i0..][..rows];
                    let col = block[j..].iter().step_by(n);
                    if accumulate {
                        out.iter_mut().zip(col).for_each(|(o, &v)| *o += v);
                    } else {
                        out.iter_mut().zip(col).for_each(|(o, &v)| *o = v);
                    }
                }
            }
        } else {
            for (i, row) in tmp.chunks_exact(n).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    let o = &mut dst[i * d.0 + j * d.1];
                    *o = if accumulate { *o + v } else { v };
                }
            }
        }
    }
}

/// `C (rows x 8NV) (+)= A (rows x k) @ B (k x 8NV)` in tiles of `MR` rows, then single rows.
///
/// # Safety
/// The CPU supports AVX2 and FMA; `A[r, p]` is in bounds for `r < rows`, `p < k`;
/// `b.len() >= k * 8NV`; `c.len() == rows * 8NV`.
#[target_feature(enable = "avx2,fma")]
unsafe fn tiles<const NV: usize, const MR: usize>(
    rows: usize,
    k: usize,
    a: Strided<f32>,
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    let (full, w) = (rows / MR * MR, 8 * NV);
    let kc = if k <= 4 * KC { k } else { KC };
    for p0 in (0..k).step_by(kc) {
        let kb = kc.min(k - p0);
        let keep = accumulate || p0 > 0; // add to what C holds
        let brow = rows_of(&b[p0 * w..], w);
        for r in (0..full).step_by(MR) {
            tile::<__m256, NV, MR>(a_rows(a.from(r, p0)), a.cs, &brow, kb, &mut c[r * w..], w, keep);
        }
        for r in full..rows {
            tile::<__m256, NV, 1>(a_rows(a.from(r, p0)), a.cs, &brow, kb, &mut c[r * w..], w, keep);
        }
    }
}
