//! The machine's f32 FMA peak, for the GFLOP/s figures of docs/performance.md: independent
//! chains of fused multiply-adds on registers (no memory traffic), on 1 and 2 threads, with
//! 256-bit (AVX2) and, where the CPU has it, 512-bit (AVX-512) vectors.
//!
//! Build and run (outside cargo, on the machine being measured; x86-64 with AVX2 + FMA):
//! `rustc -O -C target-cpu=native tools/bench/fma_peak.rs -o /tmp/fma_peak && /tmp/fma_peak`
use std::arch::x86_64::*;
use std::time::Instant;

/// GFLOP/s of one thread running 12 independent 8-lane FMA chains for `iters` rounds.
#[target_feature(enable = "avx2,fma")]
unsafe fn chains(iters: u64) -> f64 {
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); 12];
    let t = Instant::now();
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let mut sum = [0f32; 8];
    _mm256_storeu_ps(sum.as_mut_ptr(), acc.iter().fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v)));
    std::hint::black_box(sum);
    (iters * 12 * 8 * 2) as f64 / secs / 1e9
}

/// The same with 16-lane AVX-512 FMAs.
#[target_feature(enable = "avx512f")]
unsafe fn chains512(iters: u64) -> f64 {
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); 12];
    let t = Instant::now();
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm512_fmadd_ps(*v, a, b);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    std::hint::black_box(acc.iter().fold(_mm512_setzero_ps(), |s, &v| _mm512_add_ps(s, v)));
    (iters * 12 * 16 * 2) as f64 / secs / 1e9
}

fn main() {
    assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"), "needs AVX2 and FMA");
    let iters = 200_000_000;
    let wide = is_x86_feature_detected!("avx512f");
    for (width, threads) in [(256, 1), (256, 2), (512, 1), (512, 2)] {
        if width == 512 && !wide {
            continue;
        }
        let mut rounds: Vec<f64> = (0..5)
            .map(|_| {
                let run = move || unsafe {
                    if width == 512 {
                        chains512(iters / 2)
                    } else {
                        chains(iters)
                    }
                };
                let hs: Vec<_> = (0..threads).map(|_| std::thread::spawn(run)).collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        println!(
            "{width}-bit FMAs, {threads} thread(s): median {:.1} GFLOP/s (rounds {:?})",
            rounds[2],
            rounds.iter().map(|r| r.round()).collect::<Vec<_>>()
        );
    }
}
