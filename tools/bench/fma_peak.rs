//! The machine's f32 FMA peak, for the GFLOP/s figures of docs/performance.md: independent
//! chains of fused multiply-adds on registers (no memory traffic), on 1 and 2 threads.
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

fn main() {
    assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"), "needs AVX2 and FMA");
    let iters = 200_000_000;
    for threads in [1, 2] {
        let mut rounds: Vec<f64> = (0..5)
            .map(|_| {
                let hs: Vec<_> =
                    (0..threads).map(|_| std::thread::spawn(move || unsafe { chains(iters) })).collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        println!(
            "{threads} thread(s): median {:.1} GFLOP/s (rounds {:?})",
            rounds[2],
            rounds.iter().map(|r| r.round()).collect::<Vec<_>>()
        );
    }
}
