//! The machine's memory floor for the elementwise workloads of docs/performance.md: how long
//! reading `n` f32 values, or copying them to another buffer, takes on 1 and 2 threads (each
//! thread its half, both started together). An elementwise op (`exp`, `tanh`, `x + b`) reads
//! its input and writes its output, so the copy time of its size is a floor for it that no
//! kernel beats.
//!
//! Build and run (outside cargo, on the machine being measured; any x86-64 or aarch64):
//! `rustc -O -C target-cpu=native tools/bench/mem_copy.rs -o /tmp/mem_copy && /tmp/mem_copy`
//! (sizes: 1M values, `exp_1000x1000`'s; 5.78M, `broadcast_add_28892x200`'s).
use std::sync::Barrier;
use std::time::Instant;

/// The median over `reps` of one thread's time (us) for `f` after all threads meet.
fn timed(bar: &Barrier, reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            bar.wait();
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

/// The sum of `s` in 64 independent lanes (so that the loads, not the additions, bound it;
/// a tail of fewer than 64 values is left out).
fn sum(s: &[f32]) -> f32 {
    let mut acc = [0f32; 64];
    for c in s.chunks_exact(64) {
        acc.iter_mut().zip(c).for_each(|(a, &v)| *a += v);
    }
    acc.iter().sum()
}

fn main() {
    for n in [1_000_000usize, 28_892 * 200] {
        let src: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let mut dst = vec![0f32; n];
        for threads in [1, 2] {
            let chunk = n.div_ceil(threads);
            for copy in [false, true] {
                let bar = Barrier::new(threads);
                // The slowest thread's median: when the op would be done.
                let us = std::thread::scope(|sc| {
                    let hs: Vec<_> = src
                        .chunks(chunk)
                        .zip(dst.chunks_mut(chunk))
                        .map(|(s, d)| {
                            let bar = &bar;
                            sc.spawn(move || {
                                timed(bar, 41, || {
                                    if copy {
                                        d.copy_from_slice(s);
                                    } else {
                                        std::hint::black_box(sum(s));
                                    }
                                })
                            })
                        })
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap()).fold(0.0, f64::max)
                });
                let bytes = if copy { 8 * n } else { 4 * n } as f64;
                println!(
                    "{} {n} f32, {threads} thread(s): {us:.1} us ({:.1} GB/s)",
                    if copy { "copy" } else { "read" },
                    bytes / us / 1e3
                );
            }
        }
    }
}
