//! One CPU dispatch for every vectorised kernel.
//!
//! The CPU is detected once ([`capability`]): AVX-512 (F, BW, VL, DQ with AVX2 and FMA),
//! AVX2 with FMA, or the portable baseline (whatever the target compiles for by default:
//! SSE2 on x86-64, NEON on aarch64). `TORCHLET_CPU_CAPABILITY=default|avx2|avx512` lowers it
//! (like PyTorch's `ATEN_CPU_CAPABILITY`), so that every path can be tested and timed on one
//! machine; asking for more than the CPU has is ignored, with a message on stderr. Every
//! build has passed the agreement tests, the test suite and the parity cases on a CPU that
//! has it (the AVX-512 builds on an AMD EPYC of the Zen 4 generation and on a 2-core Intel Xeon
//! with AVX-512 FP16 and AMX, a Sapphire Rapids or later).
//!
//! Kernels are written once and compiled once per capability:
//!
//! - [`dispatch!`] runs a block of ordinary Rust inside a function compiled for the chosen
//!   instruction set (`#[target_feature]`), so its loops vectorise at that width (16 f32
//!   lanes with AVX-512, 8 with AVX2, 4 with SSE2/NEON). The block names a type, [`Fma32`] in
//!   the AVX2 and AVX-512 builds and [`Plain32`] in the portable one, through which the f32
//!   math of [`Real`] (exp, ln, tanh, erf, ...) runs: branch-free polynomials that vectorise,
//!   with fused multiply-adds where the CPU has them. The elementwise table of
//!   `elementwise.rs` (`float_unary!`) writes its formulas over [`Real`], so a new line is
//!   vectorised on every CPU with no further work. Lines whose loop is bound by one chain of
//!   dependent operations (exp, tanh, sigmoid) also give a form over four values in lockstep
//!   (`kernels::UnaryFn::call_lanes`, the same bits), which the AVX2 and AVX-512 builds run
//!   over four runs of the tensor at once.
//! - The hand-written kernels, written once over a vector type with AVX2 and AVX-512 builds
//!   (the GEMM kernels of `matmul`: small products, narrow outputs, the direct convolution's
//!   windows, on `matmul/tile.rs`; the lane kernels of `vmath` for softmax rows of 2 to 16
//!   values, `vmath/lanes.rs`; the max-pooling taps of `pooling`), run their AVX-512 or
//!   AVX2 build by [`capability`], so the override picks them too (the narrow GEMM's
//!   24-column tiles and the direct convolution's weight-gradient tile exist in AVX2 only:
//!   an AVX-512 CPU runs their AVX2 build). Larger products go to the
//!   `gemm` crate, which detects the CPU itself and ignores the override.
//! - [`kernels`] holds the elementwise and reduction loops (split across threads above
//!   [`kernels::PARALLEL_MIN`] elements, on the pool [`threads`] sets up).
//!
//! Results: the AVX2 and AVX-512 builds of a [`dispatch!`]ed kernel compute every element
//! with the same operations in the same order, so they agree bit for bit; the portable build
//! rounds its multiply-adds separately and agrees within the ulp bounds stated in [`real`].

use std::sync::atomic::{AtomicU8, Ordering};

pub mod kernels;
pub mod real;
pub mod threads;
#[cfg(target_arch = "x86_64")]
pub(crate) mod vector;

pub use real::{Fma32, Plain32, Real};

/// The instruction sets a kernel can be compiled for, from the narrowest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// The target's baseline (SSE2 on x86-64, NEON on aarch64): no run-time features.
    Default,
    /// x86-64 with AVX2 and FMA (256-bit vectors).
    Avx2,
    /// x86-64 with AVX-512 F, BW, VL and DQ, plus AVX2 and FMA (512-bit vectors).
    Avx512,
}

impl Capability {
    /// The name `TORCHLET_CPU_CAPABILITY` takes: `default`, `avx2` or `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Default => "default",
            Capability::Avx2 => "avx2",
            Capability::Avx512 => "avx512",
        }
    }

    /// The capability named `s` (as [`Capability::name`] spells it, any case).
    pub fn parse(s: &str) -> Option<Capability> {
        match s.trim().to_ascii_lowercase().as_str() {
            "default" => Some(Capability::Default),
            "avx2" => Some(Capability::Avx2),
            "avx512" => Some(Capability::Avx512),
            _ => None,
        }
    }

    fn from_u8(v: u8) -> Capability {
        match v {
            1 => Capability::Avx2,
            2 => Capability::Avx512,
            _ => Capability::Default,
        }
    }
}

/// The widest capability this CPU has (detected at run time; no environment override).
pub fn detected() -> Capability {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        let avx512 = avx2
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512dq");
        if avx512 {
            return Capability::Avx512;
        }
        if avx2 {
            return Capability::Avx2;
        }
    }
    Capability::Default
}

/// The capabilities this CPU can run, from the narrowest: what the agreement tests loop over.
pub fn available() -> Vec<Capability> {
    [Capability::Default, Capability::Avx2, Capability::Avx512]
        .into_iter()
        .filter(|&c| c <= detected())
        .collect()
}

/// The capabilities of [`available`] that have hand-written vector kernels (AVX2, AVX-512):
/// what those kernels' agreement tests loop over (none on a CPU without AVX2 and FMA).
pub fn available_vector() -> Vec<Capability> {
    available().into_iter().filter(|&c| c >= Capability::Avx2).collect()
}

/// 0 = not yet decided; else 1 + the `Capability` as u8.
static CHOSEN: AtomicU8 = AtomicU8::new(0);

/// The capability the kernels use: the detected one, lowered by `TORCHLET_CPU_CAPABILITY`
/// when that is set (read once, at the first call).
#[inline]
pub fn capability() -> Capability {
    match CHOSEN.load(Ordering::Relaxed) {
        0 => decide(),
        v => Capability::from_u8(v - 1),
    }
}

#[cold]
fn decide() -> Capability {
    let best = detected();
    let chosen = match std::env::var("TORCHLET_CPU_CAPABILITY") {
        Ok(s) => match Capability::parse(&s) {
            Some(c) if c <= best => c,
            Some(c) => {
                eprintln!(
                    "torchlet: TORCHLET_CPU_CAPABILITY={} asks for more than this CPU has; using {}",
                    c.name(),
                    best.name()
                );
                best
            }
            None => {
                eprintln!(
                    "torchlet: TORCHLET_CPU_CAPABILITY={s:?} is not default, avx2 or avx512; using {}",
                    best.name()
                );
                best
            }
        },
        Err(_) => best,
    };
    // A racing first call decides the same value: store it either way.
    CHOSEN.store(chosen as u8 + 1, Ordering::Relaxed);
    chosen
}

/// Whether the chosen [`capability`] (lowered to what the CPU has) includes `c`: the test of
/// the hand-written kernels that need an instruction set (the narrow GEMM and the direct
/// convolution need AVX2 at least), so that `TORCHLET_CPU_CAPABILITY=default` turns them off.
#[inline]
pub fn enabled(c: Capability) -> bool {
    supported(capability()) >= c
}

/// `c`, lowered to what this CPU has: the capability a kernel asked to run at `c` runs at.
/// Every [`dispatch!`] goes through it, so no capability value, however obtained, can make a
/// kernel execute instructions the CPU lacks.
#[inline]
pub fn supported(c: Capability) -> Capability {
    static DETECTED: AtomicU8 = AtomicU8::new(0);
    let best = match DETECTED.load(Ordering::Relaxed) {
        0 => {
            let d = detected();
            DETECTED.store(d as u8 + 1, Ordering::Relaxed);
            d
        }
        v => Capability::from_u8(v - 1),
    };
    c.min(best)
}

/// Runs `$body` compiled for the capability `$cap` (lowered by [`supported`] to what the CPU
/// has; kernels pass [`capability`], tests every one of [`available`]), with `$F` naming the
/// f32 flavour of [`Real`] that build uses: [`Fma32`] for AVX2 and AVX-512, [`Plain32`] for
/// the portable build. `$body` is an expression; the functions and closures it calls should
/// be `#[inline]` (generic code and `#[inline(always)]` helpers are) so that they are compiled
/// into the feature-enabled function rather than called outside it.
///
/// ```ignore
/// dispatch!(capability(), |F| out.iter_mut().zip(x).for_each(|(o, &v)| *o = F::from_f32(v).exp().to_f32()))
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch {
    ($cap:expr, |$F:ident| $body:expr) => {{
        match $crate::simd::supported($cap) {
            #[cfg(target_arch = "x86_64")]
            $crate::simd::Capability::Avx512 => {
                #[allow(dead_code)]
                type $F = $crate::simd::Fma32;
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
                unsafe fn run<R>(f: impl FnOnce() -> R) -> R {
                    f()
                }
                // SAFETY: `supported` returns Avx512 only when `detected` found AVX-512 F, BW,
                // VL and DQ, AVX2 and FMA on this CPU, all that this `#[target_feature]`
                // function needs to be called.
                unsafe {
                    run(
                        #[inline(always)]
                        || $body,
                    )
                }
            }
            #[cfg(target_arch = "x86_64")]
            $crate::simd::Capability::Avx2 => {
                #[allow(dead_code)]
                type $F = $crate::simd::Fma32;
                #[target_feature(enable = "avx2,fma")]
                unsafe fn run<R>(f: impl FnOnce() -> R) -> R {
                    f()
                }
                // SAFETY: `supported` returns Avx2 only when the CPU has AVX2 and FMA (as above).
                unsafe {
                    run(
                        #[inline(always)]
                        || $body,
                    )
                }
            }
            _ => {
                #[allow(dead_code)]
                type $F = $crate::simd::Plain32;
                $body
            }
        }
    }};
}
pub use crate::dispatch;

/// Asks the CPU to bring `s`'s cache lines into L1 (`prefetcht0` every 64 bytes from its
/// start, and at its last byte), ahead of a pass that will write them: a hint with no
/// effect on results (nothing off x86-64).
#[inline(always)]
pub(crate) fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let (p, len) = (s.as_ptr() as *const i8, std::mem::size_of_val(s));
        for o in (0..len).step_by(64).chain(len.checked_sub(1)) {
            // SAFETY: `p + o` lies within `s`; a prefetch reads nothing and cannot fault
            // (SSE, which every x86-64 CPU has).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(o)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_override_never_exceeds_the_cpu() {
        for c in [Capability::Default, Capability::Avx2, Capability::Avx512] {
            assert_eq!(Capability::parse(c.name()), Some(c));
        }
        assert_eq!(Capability::parse(" AVX2 "), Some(Capability::Avx2));
        assert_eq!(Capability::parse("sse"), None);
        assert!(capability() <= detected() && supported(Capability::Avx512) == detected());
        assert_eq!(supported(Capability::Default), Capability::Default);
        assert!(available().contains(&Capability::Default) && available().contains(&detected()));
    }
}
