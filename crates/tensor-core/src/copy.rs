//! Copies of strided views into row-major order: `contiguous()`, `repeat`, `reshape`'s
//! copies, and the transposes of softmax along a leading dim all come here.
//!
//! A view is `(dims, strides, offset)` into a buffer. The copy walks it one innermost run at
//! a time (a slice, a repeated value or a gather: the index arithmetic is per run, not per
//! value), except a transposed pair of innermost dims (the second-last with stride 1), which
//! it copies in 8 x 8 blocks through AVX2 registers (f32; `matmul`'s `untranspose`) or
//! else in square tiles. Large copies split their leading dim across threads.

use crate::shape::for_each_offset;
use crate::Element;

/// Side of the square tiles a transposed view is copied in: a tile's source lines
/// (`TILE` values of each of `TILE` columns) stay in L1 while its rows are written (value by
/// value, every read of a 1000-long column was a cache miss).
const TILE: usize = 32;

/// Writes the view `(dims, strides, offset)` of `src` to `out` in row-major order.
///
/// # Panics
/// If `out`'s length is not the view's number of elements, or the view reaches outside `src`.
pub(crate) fn strided<T: Element>(
    src: &[T],
    dims: &[usize],
    strides: &[usize],
    offset: usize,
    out: &mut [T],
) {
    assert_eq!(out.len(), dims.iter().product::<usize>(), "copy::strided: output length");
    if out.is_empty() {
        return;
    }
    // Leading dims of size 1 move nothing; the first other one is split across threads.
    let lead = dims.iter().position(|&d| d != 1).unwrap_or(dims.len());
    let (dims, strides) = (&dims[lead..], &strides[lead..]);
    if dims.is_empty() {
        out[0] = src[offset];
        return;
    }
    // Values per index of the leading dim. A transposed matrix splits in bands of whole tiles
    // (a band of 33 rows read every source line of its last tile for one value).
    let rows = out.len() / dims[0];
    let band = if dims.len() == 2 && strides[0] == 1 && strides[1] > 1 { TILE } else { 1 };
    crate::simd::kernels::by_units(out, rows * band, |first, out| {
        let mut part: crate::shape::Dims = dims.into();
        part[0] = out.len() / rows;
        sequential(src, &part, strides, offset + first * band * strides[0], out);
    });
}

/// The `outer` `(rows, cols)` matrices of the contiguous `src`, each transposed into `dst`
/// (which holds `outer` `(cols, rows)` matrices).
pub(crate) fn transpose<T: Element>(src: &[T], (outer, rows, cols): (usize, usize, usize), dst: &mut [T]) {
    strided(src, &[outer, cols, rows], &[rows * cols, 1, cols], 0, dst)
}

/// [`strided`] on one thread, for a view without leading dims of size 1.
fn sequential<T: Element>(src: &[T], dims: &[usize], strides: &[usize], offset: usize, out: &mut [T]) {
    let nd = dims.len();
    let (inner, step) = (dims[nd - 1], strides[nd - 1]);
    let mut at = 0;
    if nd >= 2 && strides[nd - 2] == 1 && step > 1 {
        // (rows, cols) matrices read down their columns: out[r][c] = src[o + r + c * step].
        let (rows, cols) = (dims[nd - 2], inner);
        for_each_offset(&dims[..nd - 2], &strides[..nd - 2], offset, |o| {
            let m = &mut out[at..at + rows * cols];
            at += rows * cols;
            #[cfg(target_arch = "x86_64")]
            if let (Some(s), Some(m)) = (crate::dtype::as_f32(src), crate::dtype::as_f32_mut(m)) {
                if step >= rows
                    && crate::simd::supported(crate::simd::capability()) >= crate::simd::Capability::Avx2
                {
                    // SAFETY: the CPU has AVX2. (The view reaches (cols - 1) * step + rows
                    // values from `o`, which `untranspose` asserts `s[o..]` holds.)
                    unsafe { crate::matmul::untranspose(&s[o..], step, m, rows, cols, false) };
                    return;
                }
            }
            for r0 in (0..rows).step_by(TILE) {
                for c0 in (0..cols).step_by(TILE) {
                    for r in r0..(r0 + TILE).min(rows) {
                        let line = &mut m[r * cols..(r + 1) * cols];
                        for (c, v) in line.iter_mut().enumerate().take((c0 + TILE).min(cols)).skip(c0) {
                            *v = src[o + r + c * step];
                        }
                    }
                }
            }
        });
        return;
    }
    if step == 1 && inner < SHORT_RUN {
        // Short runs (a head's 32 values of `permute(0, 2, 1, 3)`): copied in blocks of 16
        // values by the CPU's vectors, in a loop compiled for them, where a call of `memcpy`
        // per run had been most of the profile (`permute(0, 2, 1, 3).contiguous()` of
        // (32, 64, 8, 32): 48-81 -> 42-72 us, 3 alternating runs; now its loads of the
        // source's lines are what it waits for).
        return crate::dispatch!(crate::simd::capability(), |F| {
            for_each_offset(&dims[..nd - 1], &strides[..nd - 1], offset, |o| {
                copy_short(&mut out[at..at + inner], &src[o..o + inner]);
                at += inner;
            })
        });
    }
    for_each_offset(&dims[..nd - 1], &strides[..nd - 1], offset, |o| {
        let line = &mut out[at..at + inner];
        match step {
            0 => line.fill(src[o]),
            1 => line.copy_from_slice(&src[o..o + inner]),
            s => line.iter_mut().enumerate().for_each(|(k, v)| *v = src[o + k * s]),
        }
        at += inner;
    });
}

/// Runs shorter than this many values are copied by [`copy_short`]; longer ones by `memcpy`.
const SHORT_RUN: usize = 256;

/// `dst.copy_from_slice(src)` in blocks of 16 values (whole vectors in the caller's build),
/// then the rest one by one.
#[inline(always)]
fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    let mut d = dst.chunks_exact_mut(16);
    let mut s = src.chunks_exact(16);
    for (d, s) in (&mut d).zip(&mut s) {
        let s: &[T; 16] = s.try_into().expect("a block of 16");
        let d: &mut [T; 16] = d.try_into().expect("a block of 16");
        *d = *s;
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = *s;
    }
}
