//! `simd::threads` leaves rayon's global pool alone when the main thread is already a worker
//! of another pool: building the global pool from it would fail and leave rayon's global
//! pool unusable for every other thread. One test in its own binary (the pool is
//! process-wide and set up by the first allocation).

use torchlet_tensor_core::TensorData;

/// A parallel kernel (2^20 elements) with an exact result: the i64 sum `0 + ... + (n - 1)`.
fn parallel_sum_is_exact() {
    let n = 1usize << 20;
    let ints = TensorData::from_vec((0..n as i64).collect::<Vec<_>>(), vec![n]).unwrap();
    assert_eq!(ints.sum().unwrap().to_vec::<i64>().unwrap()[0], (n as i64) * (n as i64 - 1) / 2);
}

#[test]
fn a_main_thread_already_in_a_pool_keeps_the_global_pool_usable() {
    let main = std::thread::Builder::new().name("main".into()).spawn(|| {
        // The program made this thread worker 0 of its own pool before any tensor.
        let own = rayon::ThreadPoolBuilder::new().num_threads(2).use_current_thread().build().unwrap();
        assert_eq!(rayon::current_thread_index(), Some(0));
        // The first allocation: runs in the program's pool.
        parallel_sum_is_exact();
        // torchlet keeps no worker of the program's pool awake (`threads::keep_awake` acts
        // only in the global pool it set up itself).
        torchlet_tensor_core::simd::threads::keep_awake();
        assert_eq!(torchlet_tensor_core::simd::threads::lingering(), 0);
        drop(own);
    });
    main.unwrap().join().unwrap();
    // Another thread's kernels go to rayon's global pool, which must exist and work.
    parallel_sum_is_exact();
    std::thread::spawn(parallel_sum_is_exact).join().unwrap();
}
