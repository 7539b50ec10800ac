//! The small buffers each thread of `pool` keeps: reuse on that thread, bounds, release. In
//! its own binary, since `release_cached` also empties the process-wide cache.

use torchlet_tensor_core::pool::{
    cached_bytes, filled, give_back, overwritable, release_cached, thread_cached_bytes, vec_with_capacity,
    MIN_BYTES, SMALL_MAX_BYTES, SMALL_MAX_COUNT, SMALL_MIN_BYTES,
};

#[test]
fn small_buffers_are_reused_on_their_thread_bounded_and_released() {
    release_cached();
    assert_eq!(thread_cached_bytes(), 0);
    let n = 1024; // 4 KiB of f32: between SMALL_MIN_BYTES and MIN_BYTES
    assert!(SMALL_MIN_BYTES <= n * 4 && n * 4 < MIN_BYTES);
    let first = filled::<f32>(n, 2.5);
    let ptr = first.as_ptr();
    give_back(first);
    assert_eq!(thread_cached_bytes(), n * 4);
    assert_eq!(cached_bytes(), 0, "small buffers stay out of the shared cache");
    // Another thread does not see this thread's buffers.
    let elsewhere = std::thread::spawn(move || {
        let v = vec_with_capacity::<f32>(n);
        (v.as_ptr() as usize, thread_cached_bytes())
    });
    let (other_ptr, other_kept) = elsewhere.join().expect("the thread ran");
    assert_ne!(other_ptr, ptr as usize);
    assert_eq!(other_kept, 0);
    // A different dtype or size does not match; the same one gets the same memory back, with
    // its old values for `overwritable` (every caller writes it whole).
    let (other_dtype, other_size) = (vec_with_capacity::<i64>(n / 2), vec_with_capacity::<f32>(n + 1));
    assert_ne!(other_dtype.as_ptr() as *const f32, ptr);
    assert_ne!(other_size.as_ptr(), ptr);
    let again = overwritable::<f32>(n);
    assert_eq!((again.as_ptr(), again.len(), again[0], again[n - 1]), (ptr, n, 2.5, 2.5));
    assert_eq!(thread_cached_bytes(), 0);
    // `filled` and `vec_with_capacity` hand it out with the requested contents.
    give_back(again);
    let zeros = filled::<f32>(n, 0.0);
    assert_eq!((zeros.as_ptr(), zeros.iter().all(|&v| v == 0.0)), (ptr, true));
    give_back(zeros);
    let empty = vec_with_capacity::<f32>(n);
    assert_eq!((empty.as_ptr(), empty.len(), empty.capacity()), (ptr, 0, n));
    give_back(empty);
    // Buffers under SMALL_MIN_BYTES go to the allocator (its own thread caches serve them).
    give_back(vec_with_capacity::<f32>(SMALL_MIN_BYTES / 4 - 1));
    assert_eq!(thread_cached_bytes(), n * 4);
    // At most SMALL_MAX_COUNT buffers are kept, the oldest evicted first ...
    let many: Vec<Vec<f32>> = (0..SMALL_MAX_COUNT + 5).map(|_| vec_with_capacity(n)).collect();
    let newest = many.last().map(|v| v.as_ptr()).expect("some buffers");
    many.into_iter().for_each(give_back);
    assert_eq!(thread_cached_bytes(), SMALL_MAX_COUNT * n * 4);
    let back = vec_with_capacity::<f32>(n);
    assert_eq!(back.as_ptr(), newest, "the most recently kept comes back first");
    give_back(back);
    // ... and at most SMALL_MAX_BYTES.
    release_cached();
    let big = MIN_BYTES / 4 - 1; // just under MIN_BYTES, in f32
    let heavy: Vec<Vec<f32>> = (0..SMALL_MAX_BYTES / (big * 4) + 3).map(|_| vec_with_capacity(big)).collect();
    heavy.into_iter().for_each(give_back);
    assert!(thread_cached_bytes() <= SMALL_MAX_BYTES && thread_cached_bytes() > SMALL_MAX_BYTES - big * 4);
    release_cached();
    assert_eq!(thread_cached_bytes(), 0);
}
