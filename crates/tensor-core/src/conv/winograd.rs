//! Winograd's minimal filtering F(2x2, 3x3) for the direct convolutions of [`super`]: 3x3
//! kernels at stride 1 without dilation, with even output sides, for the forward pass and
//! the input gradient (which is such a convolution too: [`super::InputGrad`]), and its
//! transpose for the weight gradient ([`WinogradGrad`]).
//!
//! One output tile of 2x2 needs the 4x4 input tile `d` under it. With
//!
//! ```text
//!       | 1  0 -1  0 |        | 1    0    0  |
//! B^T = | 0  1  1  0 |    G = | 1/2  1/2  1/2 |    A^T = | 1  1  1  0 |
//!       | 0 -1  1  0 |        | 1/2 -1/2  1/2 |          | 0  1 -1 -1 |
//!       | 0  1  0 -1 |        | 0    0    1  |
//! ```
//!
//! the tile is `Y = A^T [ (G w G^T) ⊙ (B^T d B) ] A` for a 3x3 kernel `w`: 16 products where
//! the definition takes 36. (In one dimension, `m1 = (d0 - d2) w0`, `m2 = (d1 + d2)(w0 + w1 +
//! w2) / 2`, `m3 = (d2 - d1)(w0 - w1 + w2) / 2`, `m4 = (d1 - d3) w2`, and `y0 = m1 + m2 + m3 =
//! d0 w0 + d1 w1 + d2 w2`, `y1 = m2 - m3 - m4 = d1 w0 + d2 w1 + d3 w2`; the 2-D form applies
//! it along both axes.) Summed over the input channels, the element-wise products become 16
//! matrix products, one per position `ξ` of the 4x4 transformed tile:
//! `M[ξ] (m x tiles) = U[ξ] (m x ch) @ V[ξ] (ch x tiles)`, with `U = G w G^T` per output row and
//! channel (transformed once, in f64, then rounded) and `V = B^T d B` per channel and tile.
//! Those products are [`windows::product`]'s (the register tile of the direct convolution)
//! over rows of `V`, so the multiply-adds run as fast as there, 2.25 times fewer of them.
//!
//! The tiles of a plane are taken a block of whole tile rows at a time (at most [`TILES`]
//! tiles), so that one block's `V` and `M` stay in the L2 between the transforms and the
//! products. The transforms are additions only (the halves of `G` are exact), so for finite
//! values the results differ from the definition's sums by rounding alone: a few ulps of the
//! sums of the terms' magnitudes more than the direct products, well within PyTorch's f32
//! tolerances (the tests of `conv.rs` check it against the f64 definition). Not so for
//! infinities: an infinite input enters a tile's transformed values with both signs (`d1 +
//! d2` and `d2 - d1`), so the outputs under it become NaN where the definition's sum is
//! infinite (as it also becomes NaN there when a tap of the kernel is 0), and inputs within
//! a factor of 4 of `f32::MAX` can overflow in the transforms. The output is then NaN or
//! infinite, never a finite wrong value.

use super::Windows;
use crate::dtype::{as_f32, as_f32_mut};
use crate::matmul::windows;
use crate::simd::vector::F32s;
use crate::simd::{enabled, Capability};
use crate::{pool, Float, Result};
use std::arch::x86_64::*;

/// Tiles per block: its `V` (`16 x ch x ld`) and `M` (`16 x m x ld`) for 16 and 32 channels
/// are 128 and 256 KiB, within the 1 MiB L2 of the machines measured.
const TILES: usize = 128;

/// Values (64 bytes) between the blocks of `V` and `M` of consecutive `ξ`: their `ch` or
/// `m` rows of `ld` make a multiple of 4 KiB, and the transforms' 16 streams (one per `ξ`)
/// would then fall in one set of the L1 (8 ways), missing it at every access.
const SKEW: usize = 16;

/// Channels (input and output, each; input only for the weight gradient, whose output
/// channels are 16, 24 or 32) from which F(2x2, 3x3) runs, and [`MIN_PRODUCT`]. The
/// transforms' work per tile grows with the channels (`ch + m`), the products' saving with
/// their product (`m ch`), so with few channels the direct products are faster. Measured
/// (2026-12-06, `conv2d` forward and backward on (32, c, 32, 32), padding 1, medians of 4
/// alternating runs, native and AVX2): 8 -> 8 channels 1,071 / 919 us by F(2x2, 3x3)
/// against 987 / 850 direct (so 8 x 8 runs direct); 8 -> 16 channels 1,273 / 1,183 against
/// 1,301 / 1,321, but 16 -> 8 channels 7,912 / 7,782 against 7,589 / 7,635 (its weight
/// gradient, 8 output channels, unfolded either way): at 8 x 16 the two are within 10% of
/// each other either way; 16 -> 32 (the bench's) 3,993 / 3,907 against 5,070 / 5,114. The
/// digits CNN's convolution (1 input channel) and the parity cases' (1 to 4) run direct.
const MIN_CHANNELS: usize = 8;

/// The least `m ch` (output rows times input channels) for the forward and input gradient
/// products to take F(2x2, 3x3): 8 x 16 does, 8 x 8 does not (see [`MIN_CHANNELS`]).
const MIN_PRODUCT: usize = 128;

/// The tiling of one output plane: `th` rows of `tw` tiles of 2x2, taken `rows` tile rows a
/// block, and the padded input planes they read.
#[derive(Clone, Copy)]
struct Tiles {
    th: usize,
    tw: usize,
    rows: usize,
    /// Values per row of a block's `V` (and `M`): its tiles, rounded up.
    ld: usize,
    /// The padded planes: values a row and a plane.
    wp: usize,
    plane: usize,
}

impl Tiles {
    /// The tiling of `win`'s output planes, when F(2x2, 3x3) applies to them: f32 where
    /// [`windows::product`] runs, a 3x3 kernel without dilation and even output sides.
    fn new<T: Float>(win: &Windows, kernel: [usize; 2], dilation: [usize; 2]) -> Option<Tiles> {
        let fits = std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && windows::applies::<f32>()
            && kernel == [3, 3]
            && dilation == [1, 1]
            && win.oh.is_multiple_of(2)
            && win.ow.is_multiple_of(2)
            && win.oh > 0
            && win.ow > 0;
        if !fits {
            return None;
        }
        let (th, tw) = (win.oh / 2, win.ow / 2);
        // The transforms read 4x4 tiles from row and column 0 of the padded planes: for a
        // 3x3 kernel at stride 1 those are the output's sides plus 2 (as `Windows::new`
        // makes them; what the transforms' bounds rest on).
        let hp = win.h + 2 * win.pad[0];
        assert!(win.wp == win.ow + 2 && hp == win.oh + 2, "Winograd: padded planes of a 3x3 kernel");
        let rows = (TILES / tw).clamp(1, th);
        // The products take whole blocks of `windows::WIDTH` tiles (those past the block's
        // tiles are computed and dropped); the transforms write only the block's tiles.
        let ld = (rows * tw).next_multiple_of(windows::WIDTH);
        let plane = hp * win.wp;
        Some(Tiles { th, tw, rows, ld, wp: win.wp, plane })
    }

    /// The blocks: `(first tile row, tile rows)`.
    fn blocks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.th).step_by(self.rows).map(|ty0| (ty0, self.rows.min(self.th - ty0)))
    }

    /// One block's [`Block`] for `ch` input channels and `m` output planes.
    fn block(&self, ty0: usize, rows: usize, ch: usize, m: usize) -> Block {
        let ld = self.ld;
        Block { tw: self.tw, ty0, rows, ch, m, ld, vs: ch * ld + SKEW, ms: m * ld + SKEW }
    }

    /// `V` of one block into `v` (see [`transform_input`]).
    fn input(&self, at: &Block, padded: &[f32], v: &mut [f32]) {
        assert!(padded.len() >= at.ch * self.plane && v.len() >= 16 * at.vs);
        // SAFETY: `Tiles` exists only where `windows::applies` (AVX2 and FMA), and AVX-512F
        // is checked; the planes and `v` are as asserted, `at` made by `block`.
        unsafe {
            if enabled(Capability::Avx512) {
                input_avx512(at, padded, self.plane, self.wp, v);
            } else {
                input_avx2(at, padded, self.plane, self.wp, v);
            }
        }
    }
}

/// One task's F(2x2, 3x3) over the padded planes of a [`Windows`]: the transformed kernels
/// of every group and the buffers of one block.
pub(super) struct Winograd {
    /// Output rows (planes) and input channels of one group.
    m: usize,
    ch: usize,
    tiles: Tiles,
    /// `U` of every group: `[group][ξ][m][ch]`.
    u: Vec<f32>,
    /// One block's `V` (`[ξ][ch][ld]`) and `M` (`[ξ][m][ld]`), [`SKEW`] apart per `ξ`.
    v: Vec<f32>,
    prod: Vec<f32>,
    /// Where row `c` of `V[ξ]` starts: `c * ld`.
    offs: Vec<usize>,
    /// The products' blocks of [`windows::WIDTH`] tiles of a whole block (a shorter last
    /// block takes the first of them).
    blocks: Vec<(usize, usize)>,
}

impl Winograd {
    /// F(2x2, 3x3) for the products `A @ windows` over `win`'s planes, where `a` holds every
    /// group's `m` rows of `ch x 3 x 3` taps, when it applies ([`Tiles::new`], at least
    /// [`MIN_CHANNELS`] rows and channels and [`MIN_PRODUCT`]); `None` otherwise (the direct
    /// product runs).
    pub(super) fn new<T: Float>(
        op: &'static str,
        win: &Windows,
        kernel: [usize; 2],
        dilation: [usize; 2],
        a: &[T],
        groups: usize,
        m: usize,
    ) -> Result<Option<Self>> {
        let (Some(tiles), Some(a)) = (Tiles::new::<T>(win, kernel, dilation), as_f32(a)) else {
            return Ok(None);
        };
        let ch = a.len().checked_div(groups * m * 9).unwrap_or(0);
        if m < MIN_CHANNELS || ch < MIN_CHANNELS || m * ch < MIN_PRODUCT || a.len() != groups * m * ch * 9 {
            return Ok(None);
        }
        let mut u = pool::try_work(op, groups * 16 * m * ch, 0.0f32)?;
        for (gi, ug) in u.chunks_exact_mut(16 * m * ch).enumerate() {
            for (r, taps) in a[gi * m * ch * 9..][..m * ch * 9].chunks_exact(9).enumerate() {
                let (o, c) = (r / ch, r % ch);
                for (xi, &t) in kernel_transform(taps).iter().enumerate() {
                    ug[(xi * m + o) * ch + c] = t;
                }
            }
        }
        let ld = tiles.ld;
        let v = pool::try_work(op, 16 * (ch * ld + SKEW), 0.0f32)?;
        let prod = pool::try_work(op, 16 * (m * ld + SKEW), 0.0f32)?;
        let offs = (0..ch).map(|c| c * ld).collect();
        let blocks = (0..tiles.rows * tiles.tw).step_by(windows::WIDTH).map(|q| (q, q)).collect();
        Ok(Some(Winograd { m, ch, tiles, u, v, prod, offs, blocks }))
    }

    /// `dst = seed + A @ windows` for group `gi`: `padded` holds its `ch` padded planes (as
    /// [`Windows::fill`] leaves them), `dst` receives its `m` output planes, `seed[row]` (the
    /// bias) added to each output after the output transform when given.
    pub(super) fn run<T: Float>(&mut self, gi: usize, padded: &[T], seed: Option<&[T]>, dst: &mut [T]) {
        let (Some(padded), Some(dst)) = (as_f32(padded), as_f32_mut(dst)) else {
            unreachable!("Winograd: f32 only (`new` made it)")
        };
        let seed = seed.map(|s| as_f32(s).expect("Winograd: f32 seed"));
        let (m, ch, t) = (self.m, self.ch, self.tiles);
        assert!(dst.len() == m * 4 * t.th * t.tw && seed.is_none_or(|s| s.len() == m));
        let u = &self.u[gi * 16 * m * ch..][..16 * m * ch];
        for (ty0, rows) in t.blocks() {
            let at = t.block(ty0, rows, ch, m);
            t.input(&at, padded, &mut self.v);
            let blocks = &self.blocks[..(rows * t.tw).div_ceil(windows::WIDTH)];
            for xi in 0..16 {
                let a = &u[xi * m * ch..][..m * ch];
                let src = &self.v[xi * at.vs..][..ch * t.ld];
                let c = &mut self.prod[xi * at.ms..][..m * t.ld];
                windows::product(a, m, src, &self.offs, blocks, c, t.ld, false);
            }
            assert!(self.prod.len() >= 16 * at.ms);
            // SAFETY: as in `Tiles::input`; `prod` has 16 blocks of `ms` (asserted), `dst` the
            // `m` planes and `seed` `m` values (asserted above).
            unsafe {
                if enabled(Capability::Avx512) {
                    output_avx512(&at, &self.prod, seed, dst);
                } else {
                    output_avx2(&at, &self.prod, seed, dst);
                }
            }
        }
    }

    /// The buffers back to the cache.
    pub(super) fn give_back(self) {
        pool::give_back(self.u);
        pool::give_back(self.v);
        pool::give_back(self.prod);
    }
}

/// One task's weight gradient by F(2x2, 3x3), the transpose of the forward's linear map:
/// where the forward computes each output tile as `A^T [(G w G^T) ⊙ V] A`, the gradient of a
/// kernel is `G^T [ sum over tiles of (A gy A^T) ⊙ V ] G`, `gy` the tile's 2x2 output gradient.
/// Summed over the tiles and laid out for the direct weight gradient's product (`Og` of 16,
/// 24 or 32 columns): per `ξ`, `dU[ξ]^T (Cg x Og) += V[ξ] (Cg x tiles) @ Ĝ[ξ]^T (tiles x Og)`,
/// `Ĝ = A gy A^T` transformed from the sample's `gy` transposed (positions x `Og`); per sample
/// from zero, then added to the task's sums (as the direct path adds each sample's product),
/// and `G^T dU G` (in f64) into `dW` at the end.
pub(super) struct WinogradGrad {
    cg: usize,
    og: usize,
    tiles: Tiles,
    v: Vec<f32>,
    /// The sample's `gy` transposed: `oh * ow` rows of `og`.
    gt: Vec<f32>,
    /// One block's `Ĝ^T`: per `ξ` (`gs` apart), `ld` rows of `og`.
    ghat: Vec<f32>,
    gs: usize,
    /// One sample's `dU^T` (`[ξ][cg][og]`) and the task's sums of them, every group's.
    sample: Vec<f32>,
    sums: Vec<f32>,
    offs: Vec<usize>,
}

impl WinogradGrad {
    /// The weight gradient of `groups` groups of `og` output and `cg` input channels over
    /// `win`'s planes, when F(2x2, 3x3) applies ([`Tiles::new`], at least [`MIN_CHANNELS`]
    /// input channels, `og` of 16, 24 or 32); `None` otherwise.
    pub(super) fn new<T: Float>(
        op: &'static str,
        win: &Windows,
        kernel: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
        [cg, og]: [usize; 2],
    ) -> Result<Option<Self>> {
        let Some(tiles) = Tiles::new::<T>(win, kernel, dilation) else { return Ok(None) };
        if cg < MIN_CHANNELS || !windows::weight_applies::<f32>(og) {
            return Ok(None);
        }
        let (ld, gs) = (tiles.ld, tiles.ld * og + SKEW);
        let v = pool::try_work(op, 16 * (cg * ld + SKEW), 0.0f32)?;
        let gt = pool::try_work(op, 4 * tiles.th * tiles.tw * og, 0.0f32)?;
        let ghat = pool::try_work(op, 16 * gs, 0.0f32)?;
        let sample = pool::try_work(op, 16 * cg * og, 0.0f32)?;
        let sums = pool::try_work(op, groups * 16 * cg * og, 0.0f32)?;
        let offs = (0..cg).map(|c| c * ld).collect();
        Ok(Some(WinogradGrad { cg, og, tiles, v, gt, ghat, gs, sample, sums, offs }))
    }

    /// Adds group `gi`'s terms of one sample: `padded` holds its `cg` input planes padded (as
    /// [`Windows::fill`] leaves them), `gy` its `og` output gradient planes.
    pub(super) fn run<T: Float>(&mut self, gi: usize, padded: &[T], gy: &[T]) {
        let (Some(padded), Some(gy)) = (as_f32(padded), as_f32(gy)) else {
            unreachable!("WinogradGrad: f32 only (`new` made it)")
        };
        let (cg, og, t) = (self.cg, self.og, self.tiles);
        let l = 4 * t.th * t.tw;
        windows::transpose_planes(gy, og, l, &mut self.gt);
        for (ty0, rows) in t.blocks() {
            let at = t.block(ty0, rows, cg, og);
            t.input(&at, padded, &mut self.v);
            assert!(
                self.gt.len() >= l * og && self.ghat.len() >= 16 * self.gs && self.gs >= rows * t.tw * og
            );
            // SAFETY: `Tiles` exists only where the CPU has AVX2 and FMA; `gt` holds the `l`
            // positions of `og` (asserted) and `ghat` 16 blocks of `gs >= tiles * og`.
            unsafe { grad_avx2(&at, og, &self.gt, &mut self.ghat, self.gs) };
            let tiles = rows * t.tw;
            for xi in 0..16 {
                let src = &self.v[xi * at.vs..][..cg * t.ld];
                let b = &self.ghat[xi * self.gs..][..tiles * og];
                let c = &mut self.sample[xi * cg * og..][..cg * og];
                windows::rows_product(src, &self.offs, tiles, b, og, c, ty0 > 0);
            }
        }
        let sums = &mut self.sums[gi * 16 * cg * og..][..16 * cg * og];
        sums.iter_mut().zip(&self.sample).for_each(|(s, &v)| *s += v);
    }

    /// Adds `G^T dU G` of every group, output and input channel into `dw` (`O x Cg x 3 x 3`),
    /// and gives the buffers back to the cache.
    pub(super) fn finish<T: Float>(self, dw: &mut [T]) {
        let (cg, og) = (self.cg, self.og);
        for (gi, sums) in self.sums.chunks_exact(16 * cg * og).enumerate() {
            for (o, c) in (0..og).flat_map(|o| (0..cg).map(move |c| (o, c))) {
                let du: [f32; 16] = std::array::from_fn(|xi| sums[(xi * cg + c) * og + o]);
                let taps = &mut dw[((gi * og + o) * cg + c) * 9..][..9];
                for (d, v) in taps.iter_mut().zip(kernel_gradient(&du)) {
                    *d += T::c(v);
                }
            }
        }
        pool::give_back(self.v);
        pool::give_back(self.gt);
        pool::give_back(self.ghat);
        pool::give_back(self.sample);
        pool::give_back(self.sums);
    }
}

/// `G^T D G` of a row-major 4x4 `D`, in f64: the 3x3 kernel gradient of `D = dL/dU`.
fn kernel_gradient(d: &[f32; 16]) -> [f64; 9] {
    // G^T's rows applied to four values: (d0 + (d1 + d2) / 2, (d1 - d2) / 2, (d1 + d2) / 2 + d3).
    let gt = |a: f64, b: f64, c: f64, e: f64| [a + (b + c) / 2.0, (b - c) / 2.0, (b + c) / 2.0 + e];
    let d = |i: usize, j: usize| f64::from(d[4 * i + j]);
    let cols: [[f64; 3]; 4] = std::array::from_fn(|j| gt(d(0, j), d(1, j), d(2, j), d(3, j))); // G^T D, by column
    let mut w = [0.0; 9];
    for a in 0..3 {
        let row = gt(cols[0][a], cols[1][a], cols[2][a], cols[3][a]); // row a of (G^T D) G
        w[3 * a..3 * a + 3].copy_from_slice(&row);
    }
    w
}

/// `U = G w G^T` of one 3x3 kernel (row-major taps), in f64 and rounded once: row-major 4x4.
fn kernel_transform(w: &[f32]) -> [f32; 16] {
    let w = |i: usize, j: usize| f64::from(w[3 * i + j]);
    // G's rows applied to a column (or, transposed, to a row) of three values.
    let g = |a: f64, b: f64, c: f64| [a, (a + b + c) / 2.0, (a - b + c) / 2.0, c];
    let cols: [[f64; 4]; 3] = std::array::from_fn(|j| g(w(0, j), w(1, j), w(2, j))); // G w, by column
    let mut u = [0.0f32; 16];
    for i in 0..4 {
        let row = g(cols[0][i], cols[1][i], cols[2][i]); // row i of (G w) G^T
        for j in 0..4 {
            u[4 * i + j] = row[j] as f32;
        }
    }
    u
}

/// One block of tiles: tile rows `ty0..ty0 + rows` of `tw` tiles, `ch` input channels, `m`
/// output planes, rows of `V` and `M` `ld` apart.
struct Block {
    tw: usize,
    ty0: usize,
    rows: usize,
    ch: usize,
    m: usize,
    ld: usize,
    /// Values from one `ξ` to the next in `V` and `M` ([`SKEW`] more than their `ch` or `m`
    /// rows of `ld`).
    vs: usize,
    ms: usize,
}

/// What the transforms need beyond [`F32s`]: the even and odd lanes of two vectors, and back.
trait Pairs: F32s {
    /// `(even, odd)` lanes of the `2 N` values `a ++ b`.
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self);
    /// The `2 N` values `e0 o0 e1 o1 ...` as two vectors.
    unsafe fn interleave(e: Self, o: Self) -> (Self, Self);
}

impl Pairs for __m512 {
    #[inline(always)]
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        (_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b))
    }
    #[inline(always)]
    unsafe fn interleave(e: Self, o: Self) -> (Self, Self) {
        let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        (_mm512_permutex2var_ps(e, lo, o), _mm512_permutex2var_ps(e, hi, o))
    }
}

impl Pairs for __m256 {
    #[inline(always)]
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        // Per 128-bit lane [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit pairs in order 0 2 1 3.
        let even = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
        let odd = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
        let fix = |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)));
        (fix(even), fix(odd))
    }
    #[inline(always)]
    unsafe fn interleave(e: Self, o: Self) -> (Self, Self) {
        // [e0 o0 e1 o1 | e4 o4 e5 o5] and [e2 o2 e3 o3 | e6 o6 e7 o7], then their halves.
        let (lo, hi) = (_mm256_unpacklo_ps(e, o), _mm256_unpackhi_ps(e, o));
        (_mm256_permute2f128_ps::<0x20>(lo, hi), _mm256_permute2f128_ps::<0x31>(lo, hi))
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn input_avx512(at: &Block, padded: &[f32], plane: usize, wp: usize, v: &mut [f32]) {
    transform_input::<__m512>(at, padded, plane, wp, v)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn input_avx2(at: &Block, padded: &[f32], plane: usize, wp: usize, v: &mut [f32]) {
    transform_input::<__m256>(at, padded, plane, wp, v)
}

#[target_feature(enable = "avx512f")]
unsafe fn output_avx512(at: &Block, prod: &[f32], seed: Option<&[f32]>, dst: &mut [f32]) {
    transform_output::<__m512>(at, prod, seed, dst)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn output_avx2(at: &Block, prod: &[f32], seed: Option<&[f32]>, dst: &mut [f32]) {
    transform_output::<__m256>(at, prod, seed, dst)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn grad_avx2(at: &Block, og: usize, gt: &[f32], ghat: &mut [f32], gs: usize) {
    transform_grad::<__m256>(at, og, gt, ghat, gs)
}

/// `Ĝ = A gy A^T` of every tile of the block, `og` output channels at once (`N` per vector):
/// tile `t` reads the rows `p`, `p + 1`, `p + ow`, `p + ow + 1` of `gt` (positions of `og`
/// values; `p = 2 ty ow + 2 tx`), its 2x2 `[[a, b], [c, d]]`; `A` (4x2, rows `[1, 0]`,
/// `[1, 1]`, `[1, -1]`, `[0, -1]`) on the left makes the rows `(a, b)`, `(a + c, b + d)`,
/// `(a - c, b - d)`, `(-c, -d)`, and `A^T` on the right turns each row `(p, q)` into
/// `(p, p + q, p - q, -q)`; `Ĝ[ξ]` goes to row `t` of `ghat[ξ gs..]` (rows of `og`).
///
/// # Safety
/// The CPU has `V`'s instruction set; `og` is a multiple of `N`; `gt` holds every position
/// of the plane (`4 th tw` rows of `og`) and `ghat` 16 blocks of `gs >= tiles * og` values.
#[inline(always)]
unsafe fn transform_grad<V: F32s>(at: &Block, og: usize, gt: &[f32], ghat: &mut [f32], gs: usize) {
    let Block { tw, ty0, rows, .. } = *at;
    let ow = 2 * tw;
    debug_assert!(og.is_multiple_of(V::N) && gt.len() >= 2 * (ty0 + rows) * ow * og && ghat.len() >= 16 * gs);
    let (gp, hp) = (gt.as_ptr(), ghat.as_mut_ptr());
    let zero = V::zero();
    for r in 0..rows {
        for tx in 0..tw {
            let (t, p) = (r * tw + tx, 2 * (ty0 + r) * ow + 2 * tx);
            for k in (0..og).step_by(V::N) {
                let at = |q: usize| gp.add(q * og + k); // (pointer arithmetic only)
                let (a, b, c, d) =
                    (V::load(at(p)), V::load(at(p + 1)), V::load(at(p + ow)), V::load(at(p + ow + 1)));
                let left = [(a, b), (a.add(c), b.add(d)), (a.sub(c), b.sub(d)), (zero.sub(c), zero.sub(d))];
                for (i, (p, q)) in left.into_iter().enumerate() {
                    for (j, x) in [p, p.add(q), p.sub(q), zero.sub(q)].into_iter().enumerate() {
                        x.store(hp.add((4 * i + j) * gs + t * og + k));
                    }
                }
            }
        }
    }
}

/// `B^T` down four rows at column `at`: `(d0 - d2, d1 + d2, d2 - d1, d1 - d3)`. A function
/// marked `#[inline(always)]`, not a closure given to `array::map`: since `98617b9` (unrelated
/// code) LLVM compiled such closures outside the AVX2 build, every `_mm256_sub_ps` a call,
/// and `conv2d_fwd_bwd` took 12-15 ms instead of 6.
///
/// # Safety
/// The CPU has `V`'s instruction set; each row has `at + N` values.
#[inline(always)]
unsafe fn b_t<V: Pairs>(d: &[*const f32; 4], at: usize) -> [V; 4] {
    let (d0, d1, d2, d3) =
        (V::load(d[0].add(at)), V::load(d[1].add(at)), V::load(d[2].add(at)), V::load(d[3].add(at)));
    [d0.sub(d2), d1.add(d2), d2.sub(d1), d1.sub(d3)]
}

/// `A^T` on four values of a tile's row, one vector each: `(m0 + m1 + m2, m1 - m2 - m3)`.
///
/// # Safety
/// The CPU has `V`'s instruction set; each pointer has `N` values.
#[inline(always)]
unsafe fn a_t<V: Pairs>(m: [*const f32; 4]) -> (V, V) {
    let (a, b, c, d) = (V::load(m[0]), V::load(m[1]), V::load(m[2]), V::load(m[3]));
    (a.add(b).add(c), b.sub(c).sub(d))
}

/// `V = B^T d B` of every tile of the block, for every channel: tile `t = (ty - ty0) tw + tx`
/// reads the padded rows `2 ty .. 2 ty + 4` and columns `2 tx .. 2 tx + 4` of its channel's
/// plane (`plane` values, rows of `wp`); `V[ξ][c][t]` goes to `v[(ξ ch + c) ld + t]`. First
/// `B^T` down the columns (`s0 = d0 - d2`, `s1 = d1 + d2`, `s2 = d2 - d1`, `s3 = d1 - d3`),
/// then `B` along each row `s`: with `(e0, o0, e1, o1)` its values at columns `2 tx ..
/// 2 tx + 4`, the tile's four are `e0 - e1`, `o0 + e1`, `e1 - o0` and `o0 - o1`. `N` tiles at
/// once: the rows are loaded at the tiles' columns `+ 0, + N` and `+ 2, + 2 + N`, and the
/// even and odd lanes of each pair are the `e` and `o` of the `N` tiles. A last part vector
/// of a tile row is done one tile at a time (the same operations).
///
/// # Safety
/// The CPU has `V`'s instruction set; the planes hold the rows read (`2 th + 2` rows of at
/// least `2 tw + 2` values, `ch` planes) and `v` has `16 vs` values, `ld` and `vs` as
/// [`Tiles::block`] makes them.
#[allow(clippy::needless_range_loop)] // `i` picks row i after B^T at each of four offsets
#[inline(always)]
unsafe fn transform_input<V: Pairs>(at: &Block, padded: &[f32], plane: usize, wp: usize, v: &mut [f32]) {
    let Block { tw, ty0, rows, ch, ld, vs, .. } = *at;
    debug_assert!(padded.len() >= ch * plane && v.len() >= 16 * vs && wp >= 2 * tw + 2);
    let vp = v.as_mut_ptr();
    let full = tw / V::N * V::N;
    for c in 0..ch {
        for r in 0..rows {
            let d = padded.as_ptr().add(c * plane + 2 * (ty0 + r) * wp);
            let d = [d, d.add(wp), d.add(2 * wp), d.add(3 * wp)];
            let out = |i: usize, j: usize, t: usize| vp.add((4 * i + j) * vs + c * ld + r * tw + t);
            for tx in (0..full).step_by(V::N) {
                // The four rows after B^T, at column offsets 2 tx + [0, N, 2, 2 + N].
                let at = 2 * tx;
                let s = [
                    b_t::<V>(&d, at),
                    b_t::<V>(&d, at + V::N),
                    b_t::<V>(&d, at + 2),
                    b_t::<V>(&d, at + 2 + V::N),
                ];
                for i in 0..4 {
                    let (e0, o0) = V::deinterleave(s[0][i], s[1][i]);
                    let (e1, o1) = V::deinterleave(s[2][i], s[3][i]);
                    for (j, x) in [e0.sub(e1), o0.add(e1), e1.sub(o0), o0.sub(o1)].into_iter().enumerate() {
                        x.store(out(i, j, tx));
                    }
                }
            }
            for tx in full..tw {
                let s: [[f32; 4]; 4] = std::array::from_fn(|x| {
                    let [d0, d1, d2, d3] = d.map(|p| *p.add(2 * tx + x));
                    [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
                });
                for i in 0..4 {
                    let (e0, o0, e1, o1) = (s[0][i], s[1][i], s[2][i], s[3][i]);
                    for (j, x) in [e0 - e1, o0 + e1, e1 - o0, o0 - o1].into_iter().enumerate() {
                        *out(i, j, tx) = x;
                    }
                }
            }
        }
    }
}

/// `Y = seed + A^T M A` of every tile of the block, for every output plane `o` of `dst`
/// (`2 th x 2 tw` values each), `M[ξ][o][t]` at `prod[(ξ m + o) ld + t]`: `A^T` on each row of
/// the tile's `M`, `(m0 + m1 + m2, m1 - m2 - m3)`, then down the columns the same; the even
/// and odd output columns of `N` tiles are interleaved into the rows. A last part vector of
/// a tile row is written one tile at a time (the same operations).
///
/// # Safety
/// The CPU has `V`'s instruction set; `prod` has `16 ms` values, `dst` `m` planes and `seed`
/// (when given) `m` values.
#[inline(always)]
unsafe fn transform_output<V: Pairs>(at: &Block, prod: &[f32], seed: Option<&[f32]>, dst: &mut [f32]) {
    let Block { tw, ty0, rows, m, ld, ms, .. } = *at;
    let ow = 2 * tw;
    let plane = dst.len() / m;
    debug_assert!(prod.len() >= 16 * ms && seed.is_none_or(|s| s.len() == m));
    let pp = prod.as_ptr();
    for (o, y) in dst.chunks_exact_mut(plane).enumerate() {
        let b = seed.map_or(0.0, |s| s[o]);
        let bv = V::splat(b);
        for r in 0..rows {
            let base = pp.add(o * ld + r * tw);
            let mrow = |xi: usize| base.add(xi * ms);
            let y0 = y.as_mut_ptr().add(2 * (ty0 + r) * ow);
            let y1 = y0.add(ow);
            let full = tw / V::N * V::N;
            for tx in (0..full).step_by(V::N) {
                let m = |k: usize| mrow(k).add(tx); // (pointer arithmetic only)
                let (q00, q01) = a_t::<V>([m(0), m(1), m(2), m(3)]);
                let (q10, q11) = a_t::<V>([m(4), m(5), m(6), m(7)]);
                let (q20, q21) = a_t::<V>([m(8), m(9), m(10), m(11)]);
                let (q30, q31) = a_t::<V>([m(12), m(13), m(14), m(15)]);
                let top = V::interleave(bv.add(q00.add(q10).add(q20)), bv.add(q01.add(q11).add(q21)));
                let bottom = V::interleave(bv.add(q10.sub(q20).sub(q30)), bv.add(q11.sub(q21).sub(q31)));
                top.0.store(y0.add(2 * tx));
                top.1.store(y0.add(2 * tx + V::N));
                bottom.0.store(y1.add(2 * tx));
                bottom.1.store(y1.add(2 * tx + V::N));
            }
            for tx in full..tw {
                let q = |i: usize| {
                    let [a, b, c, d] = [0, 1, 2, 3].map(|j| *mrow(4 * i + j).add(tx));
                    (a + b + c, b - c - d)
                };
                let ((q00, q01), (q10, q11), (q20, q21), (q30, q31)) = (q(0), q(1), q(2), q(3));
                *y0.add(2 * tx) = b + (q00 + q10 + q20);
                *y0.add(2 * tx + 1) = b + (q01 + q11 + q21);
                *y1.add(2 * tx) = b + (q10 - q20 - q30);
                *y1.add(2 * tx + 1) = b + (q11 - q21 - q31);
            }
        }
    }
}
