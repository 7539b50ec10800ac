//! The buffer cache of `pool`: reuse, bounds, release. One test in its own binary, since the
//! cache is process-wide.

use torchlet_tensor_core::pool::{
    cached_bytes, filled, give_back, overwritable, release_cached, vec_with_capacity, MAX_BYTES, MAX_SAME,
    MIN_BYTES,
};
use torchlet_tensor_core::Buffer;

#[test]
fn freed_buffers_are_reused_bounded_and_released() {
    release_cached();
    let n = MIN_BYTES / 4; // exactly the threshold, in f32
    let first = vec_with_capacity::<f32>(n);
    let ptr = first.as_ptr();
    drop(Buffer::F32(first)); // the last tensor of a buffer goes away
    assert_eq!(cached_bytes(), n * 4);
    // A different dtype or size does not match; the same one gets the same memory back.
    let (other_dtype, other_size) = (vec_with_capacity::<f64>(n / 2), vec_with_capacity::<f32>(n + 1));
    assert_ne!(other_dtype.as_ptr() as *const f32, ptr);
    assert_ne!(other_size.as_ptr(), ptr);
    assert_eq!(cached_bytes(), n * 4);
    let again = filled::<f32>(n, 1.5);
    assert_eq!((again.as_ptr(), again.len(), again[n - 1]), (ptr, n, 1.5));
    assert_eq!(cached_bytes(), 0);
    // A vector that never became a tensor comes back through give_back.
    give_back(again);
    assert_eq!(cached_bytes(), n * 4);
    // `overwritable` skips the fill: a cached buffer comes back with its old values, a new
    // one (or the part of a buffer that was never written) holds zeros.
    let stale = overwritable::<f32>(n);
    assert_eq!((stale.as_ptr(), stale.len(), stale[0], stale[n - 1]), (ptr, n, 1.5, 1.5));
    let mut short = stale;
    short.truncate(3); // a tensor of 3 values in a buffer with room for n
    give_back(short);
    let grown = overwritable::<f32>(n);
    assert_eq!((grown.as_ptr(), grown[2], grown[3], grown[n - 1]), (ptr, 1.5, 0.0, 0.0));
    release_cached();
    let fresh = overwritable::<f32>(n);
    assert!(fresh.len() == n && fresh.iter().all(|&v| v == 0.0));
    give_back(fresh);
    release_cached();
    // Small buffers and buffers the cache did not hand out go to the allocator.
    drop(Buffer::F32(vec_with_capacity(16)));
    drop(Buffer::F32(Vec::with_capacity(n)));
    assert_eq!(cached_bytes(), 0);
    // At most MAX_SAME buffers of one dtype and size are kept.
    let same: Vec<Vec<i64>> = (0..MAX_SAME + 3).map(|_| vec_with_capacity(MIN_BYTES / 8)).collect();
    same.into_iter().for_each(give_back);
    assert_eq!(cached_bytes(), MAX_SAME * MIN_BYTES);
    // The total stays within MAX_BYTES: the oldest are evicted.
    let many: Vec<Vec<f64>> =
        (0..MAX_BYTES / MIN_BYTES + 8).map(|i| vec_with_capacity(MIN_BYTES / 8 + i)).collect();
    many.into_iter().for_each(give_back);
    assert!(cached_bytes() <= MAX_BYTES && cached_bytes() > MAX_BYTES - 2 * MIN_BYTES);
    release_cached();
    assert_eq!(cached_bytes(), 0);
}
