//! `simd::threads`: the process's main thread becomes worker 0 of rayon's global pool, and
//! the pool keeps working for other threads, also after that thread has ended. One test in
//! its own binary, since the pool is process-wide and set up by the first allocation. Also
//! `threads::keep_awake`: at most one job per other worker, all ended soon after the last
//! parallel kernel.

use std::time::{Duration, Instant};
use torchlet_tensor_core::simd::threads::{keep_awake, lingering, LINGER};
use torchlet_tensor_core::TensorData;

/// Parallel kernels (above the threading threshold) with exact results: `x + x` on
/// integer-valued f32 (exact below 2^24) and the i64 sum `0 + 1 + ... + (n - 1)`.
fn parallel_kernels_agree_with_exact_values() {
    let n = 1usize << 20;
    let x = TensorData::from_vec((0..n).map(|i| (i % 4096) as f32).collect::<Vec<_>>(), vec![n]).unwrap();
    let doubled = x.add(&x).unwrap().to_vec::<f32>().unwrap();
    assert!(doubled.iter().enumerate().all(|(i, &v)| v == 2.0 * (i % 4096) as f32));
    let ints = TensorData::from_vec((0..n as i64).collect::<Vec<_>>(), vec![n]).unwrap();
    let total = ints.sum().unwrap().to_vec::<i64>().unwrap()[0];
    assert_eq!(total, (n as i64) * (n as i64 - 1) / 2);
}

#[test]
fn the_main_thread_joins_the_pool_and_the_pool_outlives_it() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let var = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<usize>().ok()).filter(|&n| n > 0);
    let threads = var("RAYON_NUM_THREADS").or_else(|| var("RAYON_RS_NUM_CPUS")).unwrap_or(cpus);
    // The test harness runs tests on threads named after them; a thread named like the
    // runtime's main thread makes the process's first allocation.
    let main = std::thread::Builder::new().name("main".into()).spawn(move || {
        assert_eq!(rayon::current_thread_index(), None, "not a pool worker before the first tensor");
        parallel_kernels_agree_with_exact_values();
        if threads >= 2 {
            assert_eq!(rayon::current_thread_index(), Some(0), "the main thread is worker 0");
            assert_eq!(rayon::current_num_threads(), threads);
            // The kernels above kept the other workers awake: at most one job each, however
            // often it is asked for, and the kernels still give exact results meanwhile.
            for _ in 0..100 {
                keep_awake();
                assert!(
                    lingering() < threads,
                    "{} keep-awake jobs for {} other workers",
                    lingering(),
                    threads - 1
                );
            }
            parallel_kernels_agree_with_exact_values();
            // With no more parallel work the jobs end after LINGER (a worker left spinning
            // would burn a core for good): allow a generous 2000 LINGERs for a loaded machine.
            let start = Instant::now();
            while lingering() > 0 && start.elapsed() < 2000 * LINGER {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(
                lingering(),
                0,
                "keep-awake jobs still running {:?} after the last kernel",
                start.elapsed()
            );
        } else {
            // One thread: the main thread would be the only worker, and other threads'
            // kernels would wait forever for it; the default pool is kept.
            assert_eq!(rayon::current_thread_index(), None);
        }
    });
    main.unwrap().join().unwrap();
    // This thread is no worker; the pool (now without its worker 0) still runs its kernels,
    // and keeping it awake is for the main thread only.
    assert_eq!(rayon::current_thread_index(), None);
    keep_awake();
    assert_eq!(lingering(), 0);
    parallel_kernels_agree_with_exact_values();
    std::thread::spawn(parallel_kernels_agree_with_exact_values).join().unwrap();
}
