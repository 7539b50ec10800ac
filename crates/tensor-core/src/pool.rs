//! A small cache of large freed tensor buffers, reused by the next allocation of the same
//! size: a training step allocates the same activations and gradients every iteration, and
//! reusing last iteration's memory skips the operating system's page faults on fresh memory
//! (a 6.4 MB activation is 1,600 of them; in the `mlp` benchmark they cost ~17 ms a step).
//!
//! Kernels take their output vectors from [`vec_with_capacity`] (empty), [`filled`] or
//! [`overwritable`] (old values kept, for outputs written in full), which hand back a cached
//! buffer of exactly that many elements if there is one. Those buffers (of at least
//! [`MIN_BYTES`]) return here when their last tensor is dropped (the `Drop` of [`Buffer`]);
//! buffers allocated elsewhere go back to the allocator as usual, so that sizes no kernel asks
//! the cache for never sit in it. At most [`MAX_BYTES`] are kept (the oldest go first), so
//! memory stays bounded; [`release_cached`] frees them all, like `torch.cuda.empty_cache()`.
//! Smaller buffers, from [`SMALL_MIN_BYTES`] up, wait instead in a short list on the thread
//! that freed them (whichever code allocated them), for the next allocation of their size.
//!
//! Every large allocation made here asks Linux to back it with 2 MiB pages (transparent huge
//! pages, `advise_huge_pages`): a kernel streaming a 23 MB tensor then walks a dozen pages
//! instead of 5,800, with as many fewer TLB misses (like PyTorch's `THP_MEM_ALLOC_ENABLE=1`).
//!
//! Allocation never aborts the process: [`try_vec_with_capacity`], [`try_filled`] and
//! [`try_overwritable`] check the requested tensor shape ([`Shape::validate`]) and return an
//! error when it is too large or the allocator refuses (`Vec::try_reserve_exact`); the
//! count-based functions panic in that case, with a message.

use crate::dtype::{Buffer, Element};
use crate::{Error, Result, Shape};
use std::collections::TryReserveError;
use std::sync::Mutex;

/// Buffers smaller than this stay out of the shared cache: glibc serves them with no page
/// faults (128 KiB is its threshold for fresh `mmap` memory). From [`SMALL_MIN_BYTES`] up,
/// they wait on the thread that freed them instead (see [`thread_cached_bytes`]).
pub const MIN_BYTES: usize = 128 << 10;
/// The most bytes the cache keeps.
pub const MAX_BYTES: usize = 64 << 20;
/// The most buffers of one dtype and size the cache keeps. A step can hold many at once (the
/// `elementwise_fwd_bwd` benchmark's `mean(0.5 tanh(x) + sigmoid(x))` and its backward, six
/// of 4 MB): with 4, two of them went back to the allocator every step and came back as
/// fresh pages (30,000 to 40,000 page faults in one run of that benchmark; about 4,400 with
/// 8 or 16).
pub const MAX_SAME: usize = 16;

/// A cached allocation. Its own type, without `Buffer`'s `Drop`, so that evicting one frees
/// it instead of offering it back to the cache.
enum Spare {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl Spare {
    fn bytes(&self) -> usize {
        match self {
            Spare::F32(v) => v.capacity() * 4,
            Spare::F64(v) => v.capacity() * 8,
            Spare::I64(v) => v.capacity() * 8,
            Spare::Bool(v) => v.capacity(),
        }
    }
    /// Moves the vector out of `b` (leaving it empty).
    fn from_buffer(b: &mut Buffer) -> Spare {
        match b {
            Buffer::F32(v) => Spare::F32(std::mem::take(v)),
            Buffer::F64(v) => Spare::F64(std::mem::take(v)),
            Buffer::I64(v) => Spare::I64(std::mem::take(v)),
            Buffer::Bool(v) => Spare::Bool(std::mem::take(v)),
        }
    }
    /// Moves the vector into a `Buffer` (leaving this one empty).
    fn take_buffer(&mut self) -> Buffer {
        match self {
            Spare::F32(v) => Buffer::F32(std::mem::take(v)),
            Spare::F64(v) => Buffer::F64(std::mem::take(v)),
            Spare::I64(v) => Buffer::I64(std::mem::take(v)),
            Spare::Bool(v) => Buffer::Bool(std::mem::take(v)),
        }
    }
    /// Whether it holds a vector of `T` with room for exactly `n` elements.
    fn holds<T: Element>(&self, n: usize) -> bool {
        let (dtype, cap) = match self {
            Spare::F32(v) => (crate::DType::F32, v.capacity()),
            Spare::F64(v) => (crate::DType::F64, v.capacity()),
            Spare::I64(v) => (crate::DType::I64, v.capacity()),
            Spare::Bool(v) => (crate::DType::Bool, v.capacity()),
        };
        dtype == T::DTYPE && cap == n
    }
    /// The vector if it holds `T` and has room for exactly `n` elements.
    fn take<T: Element>(&mut self, n: usize) -> Option<Vec<T>> {
        let mut buf = self.take_buffer();
        let got = T::vec_mut(&mut buf).filter(|v| v.capacity() == n).map(std::mem::take);
        if got.is_none() {
            *self = Spare::from_buffer(&mut buf); // not a match: put the vector back
        }
        got
    }
}

/// The cached buffers (oldest first), their total size in bytes, and the addresses of the
/// buffers handed out (by [`vec_with_capacity`], [`filled`] or [`overwritable`]) that may come back.
struct Cache {
    spares: Vec<Spare>,
    total: usize,
    out: Vec<usize>,
}

/// How many handed-out addresses are remembered (a vector that grows moves its buffer, and
/// its old address is never seen again: the list is cleared when it gets this long).
const MAX_OUT: usize = 1024;

static CACHE: Mutex<Cache> = Mutex::new(Cache { spares: Vec::new(), total: 0, out: Vec::new() });

fn cache() -> std::sync::MutexGuard<'static, Cache> {
    // The cache holds no invariant a panic elsewhere could break: recover from poisoning.
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new empty vector with room for exactly `n` elements (huge pages advised), or the
/// allocator's refusal.
fn new_vec<T>(n: usize) -> std::result::Result<Vec<T>, TryReserveError> {
    // The first buffer of the process comes before any parallel kernel: the moment to set up
    // the thread pool (after the first call, one atomic load).
    crate::simd::threads::init();
    let mut v = Vec::new();
    v.try_reserve_exact(n)?;
    advise_huge_pages(&v);
    Ok(v)
}

/// Asks the kernel to back the 2 MiB-aligned part of `v`'s allocation with transparent huge
/// pages (`madvise(MADV_HUGEPAGE)`); nothing for an allocation holding no aligned 2 MiB
/// range, or off Linux. Advice only: the contents never change, and where huge pages are off
/// (`/sys/kernel/mm/transparent_hugepage/enabled` is `never`) or unavailable the call fails
/// harmlessly and the memory stays in 4 KiB pages. Most useful before the memory is first
/// written (the pages then fault in whole); on memory already written, the kernel's
/// background thread may merge it later.
pub(crate) fn advise_huge_pages<T>(v: &Vec<T>) {
    let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
    #[cfg(target_os = "linux")]
    if let Some(r) = huge_page_range(v.as_ptr() as usize, bytes) {
        // SAFETY: `r` lies within the allocation `v` owns (see `huge_page_range`), page-aligned
        // as madvise requires. MADV_HUGEPAGE changes how the kernel backs those pages, never
        // their contents or mapping, so no Rust reference observes anything; the return value
        // (an error where huge pages are unsupported) is ignored because the advice is optional.
        unsafe {
            libc::madvise(r.start as *mut libc::c_void, r.len(), libc::MADV_HUGEPAGE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

/// The size of a huge page (x86-64 and most aarch64 kernels).
const HUGE_PAGE: usize = 2 << 20;

/// The whole 2 MiB pages inside `[addr, addr + bytes)`: from `addr` rounded up to a multiple of
/// 2 MiB to `addr + bytes` rounded down; `None` when that is empty (or the ends overflow).
fn huge_page_range(addr: usize, bytes: usize) -> Option<std::ops::Range<usize>> {
    let start = addr.checked_next_multiple_of(HUGE_PAGE)?;
    let end = addr.checked_add(bytes)? & !(HUGE_PAGE - 1);
    (end > start).then_some(start..end)
}

/// A vector with capacity for exactly `n` elements: a cached buffer of that size if there is
/// one (the most recently freed, still holding its old values), else a new empty allocation,
/// or the allocator's refusal (never an abort).
fn cached_or_new<T: Element>(n: usize) -> std::result::Result<Vec<T>, TryReserveError> {
    let fresh = || new_vec(n);
    if n.saturating_mul(std::mem::size_of::<T>()) < MIN_BYTES {
        return small::take::<T>(n).map_or_else(fresh, Ok);
    }
    let mut c = cache();
    let found = (0..c.spares.len()).rev().find_map(|i| c.spares[i].take::<T>(n).map(|v| (i, v)));
    let v = match found {
        Some((i, v)) => {
            c.total -= c.spares.remove(i).bytes() + v.capacity() * std::mem::size_of::<T>();
            v
        }
        None => fresh()?,
    };
    if c.out.len() >= MAX_OUT {
        c.out.clear();
    }
    c.out.push(v.as_ptr() as usize);
    Ok(v)
}

/// [`cached_or_new`] for the infallible functions: a failed allocation panics with a message
/// (a panic can be caught and reported; the standard library's allocation failure aborts).
fn cached_or_new_or_panic<T: Element>(n: usize) -> Vec<T> {
    cached_or_new(n).unwrap_or_else(|e| {
        let bytes = n.saturating_mul(std::mem::size_of::<T>());
        panic!("pool: cannot allocate {n} elements of {} ({bytes} bytes): {e}", T::DTYPE)
    })
}

/// An empty vector with capacity for exactly `n` elements: a cached buffer of that size if
/// there is one (the most recently freed), else a new allocation.
///
/// # Panics
/// When the allocation fails ([`try_vec_with_capacity`] returns an error instead).
pub fn vec_with_capacity<T: Element>(n: usize) -> Vec<T> {
    let mut v = cached_or_new_or_panic(n);
    v.clear();
    v
}

/// `n` copies of `value` in a buffer from [`vec_with_capacity`].
///
/// # Panics
/// When the allocation fails ([`try_filled`] returns an error instead).
pub fn filled<T: Element>(n: usize, value: T) -> Vec<T> {
    let mut v = vec_with_capacity(n);
    v.resize(n, value);
    v
}

/// `n` elements for an output its caller overwrites completely: a cached buffer keeps the
/// values of the tensor it last held (skipping a fill pass over memory the kernel is about to
/// write), a new one is filled with zeros.
///
/// # Panics
/// When the allocation fails ([`try_overwritable`] returns an error instead).
pub fn overwritable<T: Element>(n: usize) -> Vec<T> {
    let mut v = cached_or_new_or_panic(n);
    v.resize(n, T::default());
    v
}

/// The fallible core of the allocating functions: checks that a `T` tensor of `shape` can
/// exist ([`Shape::validate`]), then allocates room for its elements (from the cache when it
/// has a buffer of that size). Every failure is an error naming `op`, the shape and the dtype:
/// a size beyond `isize::MAX` bytes, or an allocation the allocator refuses.
/// With `cached = false` the room is always a new allocation (constructors, whose buffers are
/// not offered back to the cache).
fn try_reserve_for<T: Element>(op: &'static str, shape: &Shape, cached: bool) -> Result<Vec<T>> {
    let n = shape.validate(op, T::DTYPE)?;
    let v = if cached { cached_or_new(n) } else { new_vec(n) };
    v.map_err(|e| {
        Error::invalid(
            op,
            format!(
                "out of memory: cannot allocate a tensor of shape {shape} and dtype {} ({} bytes): {e}",
                T::DTYPE,
                n * std::mem::size_of::<T>() // within isize::MAX (validated)
            ),
        )
    })
}

/// [`vec_with_capacity`] for the elements of a `T` tensor of `shape`, or an error: the shape
/// has too many elements ([`Shape::validate`]) or the allocation fails (never an abort).
pub fn try_vec_with_capacity<T: Element>(op: &'static str, shape: &Shape) -> Result<Vec<T>> {
    let mut v = try_reserve_for(op, shape, true)?;
    v.clear();
    Ok(v)
}

/// [`filled`] for the elements of a `T` tensor of `shape`, or an error (see
/// [`try_vec_with_capacity`]).
pub fn try_filled<T: Element>(op: &'static str, shape: &Shape, value: T) -> Result<Vec<T>> {
    let mut v = try_vec_with_capacity(op, shape)?;
    v.resize(shape.numel(), value); // no reallocation: the room is there (validated count)
    Ok(v)
}

/// [`overwritable`] for the elements of a `T` tensor of `shape`, or an error (see
/// [`try_vec_with_capacity`]).
pub fn try_overwritable<T: Element>(op: &'static str, shape: &Shape) -> Result<Vec<T>> {
    let mut v = try_reserve_for(op, shape, true)?;
    v.resize(shape.numel(), T::default()); // as in `try_filled`
    Ok(v)
}

/// An empty vector with room for the elements of a `T` tensor of `shape`, always a new
/// allocation (not from the cache, and not offered back to it), or an error as for
/// [`try_vec_with_capacity`].
pub(crate) fn try_fresh<T: Element>(op: &'static str, shape: &Shape) -> Result<Vec<T>> {
    try_reserve_for(op, shape, false)
}

/// `n` copies of `value` for scratch space of any type (accumulators, gathered lanes), not
/// cached; an error naming `op` when the allocation fails.
pub(crate) fn try_scratch<A: Clone>(op: &'static str, n: usize, value: A) -> Result<Vec<A>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|e| no_room::<A>(op, n, e))?;
    v.resize(n, value);
    Ok(v)
}

/// `n` copies of `value` as a kernel's working space, taken from the cache like a tensor's
/// buffer, for a kernel that hands it back with [`give_back`] when done: the next call reuses
/// that memory. With [`try_scratch`] a convolution's backward, whose tasks each take ~800 KB
/// of 128 to 260 KB buffers, had glibc map and unmap them on every call: ~200 page faults a
/// step of `conv2d_fwd_bwd_32x16x32x32_k3_o32`.
pub(crate) fn try_work<T: Element>(op: &'static str, n: usize, value: T) -> Result<Vec<T>> {
    let mut v = cached_or_new::<T>(n).map_err(|e| no_room::<T>(op, n, e))?;
    v.clear();
    v.resize(n, value); // no reallocation: the room is there
    Ok(v)
}

/// The error of a refused allocation of `n` values of `A` as working space for `op`.
fn no_room<A>(op: &'static str, n: usize, e: TryReserveError) -> Error {
    Error::invalid(
        op,
        format!(
            "out of memory: cannot allocate {n} values of {} bytes of working space: {e}",
            std::mem::size_of::<A>()
        ),
    )
}

/// Offers the vector of a dropped buffer to the cache (called by `Buffer`'s `Drop`): kept if
/// it was handed out here (by [`vec_with_capacity`], [`filled`] or [`overwritable`]).
pub(crate) fn recycle(buf: &mut Buffer) {
    let (ptr, bytes) = match &*buf {
        Buffer::F32(v) => (v.as_ptr() as usize, v.capacity() * 4),
        Buffer::F64(v) => (v.as_ptr() as usize, v.capacity() * 8),
        Buffer::I64(v) => (v.as_ptr() as usize, v.capacity() * 8),
        Buffer::Bool(v) => (v.as_ptr() as usize, v.capacity()),
    };
    if bytes < MIN_BYTES {
        small::keep(buf, bytes);
        return;
    }
    if bytes > MAX_BYTES {
        return; // not worth keeping
    }
    let mut c = cache();
    let Some(i) = c.out.iter().position(|&p| p == ptr) else {
        return; // not one of ours
    };
    c.out.swap_remove(i);
    let spare = Spare::from_buffer(buf);
    let same = |s: &Spare| s.bytes() == bytes && std::mem::discriminant(s) == std::mem::discriminant(&spare);
    if c.spares.iter().filter(|s| same(s)).count() >= MAX_SAME {
        drop(c);
        return; // enough of these already: `spare` is freed here, outside the lock
    }
    c.spares.push(spare);
    c.total += bytes;
    let mut n = 0;
    while c.total > MAX_BYTES {
        c.total -= c.spares[n].bytes();
        n += 1;
    }
    let evicted: Vec<Spare> = c.spares.drain(..n).collect();
    drop(c);
    drop(evicted); // freed outside the lock
}

/// Returns a vector handed out here that never became a tensor to the cache.
pub fn give_back<T: Element>(v: Vec<T>) {
    drop(T::into_buffer(v));
}

/// Frees every cached buffer (returning the memory to the allocator): the shared cache's,
/// and the small buffers kept by the calling thread.
pub fn release_cached() {
    small::release();
    let spares = {
        let mut c = cache();
        c.total = 0;
        std::mem::take(&mut c.spares)
    };
    drop(spares);
}

/// The bytes currently held by the cache (not counting the small buffers threads keep).
pub fn cached_bytes() -> usize {
    cache().total
}

/// Small buffers (from [`SMALL_MIN_BYTES`] up to [`MIN_BYTES`]) freed on a thread, kept in that
/// thread's list for the next allocation of their exact size and dtype. The allocator serves
/// those sizes from its bins rather than its per-thread caches (glibc's end at 1,032 bytes),
/// merging and splitting chunks (`_int_malloc`, `malloc_consolidate`); `gpt_generate_100`
/// frees and allocates a few hundred buffers of 4 to 64 KiB per token, and keeping them here
/// made it ~1% faster on a 2-core Xeon (A/B, medians of 8 rounds). A list per thread needs
/// no lock; a buffer freed on another thread than the one that allocated it joins that
/// thread's list. Bounded: [`SMALL_MAX_COUNT`] buffers and [`SMALL_MAX_BYTES`] per thread,
/// the oldest going back to the allocator first; a thread's list is freed when the thread
/// ends, and [`release_cached`] frees the calling thread's.
mod small {
    use super::{Spare, MIN_BYTES};
    use crate::dtype::{Buffer, Element};
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// The smallest buffer kept (smaller ones the allocator serves from its thread caches).
    pub const SMALL_MIN_BYTES: usize = 1 << 10;
    /// The most buffers one thread keeps.
    pub const SMALL_MAX_COUNT: usize = 64;
    /// The most bytes one thread keeps.
    pub const SMALL_MAX_BYTES: usize = 2 << 20;

    /// The kept buffers (oldest first) and their total size in bytes.
    struct Kept {
        spares: VecDeque<Spare>,
        total: usize,
    }

    thread_local! {
        static KEPT: RefCell<Kept> = const { RefCell::new(Kept { spares: VecDeque::new(), total: 0 }) };
    }

    /// The most recently kept vector of `T` with room for exactly `n` elements, if any.
    pub(super) fn take<T: Element>(n: usize) -> Option<Vec<T>> {
        if n * std::mem::size_of::<T>() < SMALL_MIN_BYTES {
            return None;
        }
        KEPT.try_with(|k| {
            let mut k = k.try_borrow_mut().ok()?;
            let i = k.spares.iter().rposition(|s| s.holds::<T>(n))?;
            let v = k.spares.remove(i)?.take::<T>(n)?;
            k.total -= n * std::mem::size_of::<T>();
            Some(v)
        })
        .ok()
        .flatten()
    }

    /// Keeps the vector of a dropped buffer of `bytes` (under [`MIN_BYTES`]) if it is large
    /// enough, evicting the oldest beyond the bounds; otherwise leaves it to be freed.
    pub(super) fn keep(buf: &mut Buffer, bytes: usize) {
        debug_assert!(bytes < MIN_BYTES);
        if bytes < SMALL_MIN_BYTES {
            return;
        }
        let _ = KEPT.try_with(|k| {
            let Ok(mut k) = k.try_borrow_mut() else { return };
            k.spares.push_back(Spare::from_buffer(buf));
            k.total += bytes;
            while k.total > SMALL_MAX_BYTES || k.spares.len() > SMALL_MAX_COUNT {
                // (Freeing a `Spare` goes straight to the allocator: no `Buffer` drop, so
                // nothing comes back here while the list is borrowed.)
                let Some(old) = k.spares.pop_front() else { break };
                k.total -= old.bytes();
            }
        });
    }

    /// The bytes the calling thread keeps.
    pub fn thread_cached_bytes() -> usize {
        KEPT.try_with(|k| k.try_borrow().map_or(0, |k| k.total)).unwrap_or(0)
    }

    /// Frees the calling thread's kept buffers.
    pub(super) fn release() {
        let spares = KEPT.try_with(|k| {
            k.try_borrow_mut().map(|mut k| {
                k.total = 0;
                std::mem::take(&mut k.spares)
            })
        });
        drop(spares);
    }
}
pub use small::{thread_cached_bytes, SMALL_MAX_BYTES, SMALL_MAX_COUNT, SMALL_MIN_BYTES};

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn huge_page_range_is_the_whole_2mib_pages_inside_the_allocation() {
        // 23 MB from 16 bytes past a 2 MiB boundary at 64 MiB: the pages from 66 MiB up to the
        // last boundary at or below the end (64 MiB + 16 + 23,000,000 = 90,108,880; the
        // boundaries are multiples of 2,097,152, and 42 of them make 88,080,384).
        assert_eq!(huge_page_range(64 * MIB + 16, 23_000_000), Some(66 * MIB..88_080_384));
        // Exactly one aligned page.
        assert_eq!(huge_page_range(2 * MIB, 2 * MIB), Some(2 * MIB..4 * MIB));
        // 4 MB from 1 MiB + 1 (to 5,048,577) holds one whole page: 2 MiB..4 MiB.
        assert_eq!(huge_page_range(MIB + 1, 4_000_000), Some(2 * MIB..4 * MIB));
        // Less than a whole page: nothing to advise.
        assert_eq!(huge_page_range(MIB, 2 * MIB), None);
        assert_eq!(huge_page_range(0, MIB), None);
        // Ends past the address space: no range rather than a wrapped one.
        assert_eq!(huge_page_range(usize::MAX - MIB, 4 * MIB), None);
        assert_eq!(huge_page_range(usize::MAX - 10, 5), None);
    }

    #[test]
    fn work_space_comes_back_from_the_cache_filled_afresh() {
        // A size no other test of this binary allocates (the cache is process-wide; nothing
        // in this binary calls `release_cached`).
        let n = 777_777;
        let mut first = try_work::<f32>("test", n, 0.0).expect("3 MB");
        assert!(first.len() == n && first.iter().all(|&v| v == 0.0));
        first.iter_mut().for_each(|v| *v = 7.0); // what a kernel leaves behind
        let ptr = first.as_ptr();
        give_back(first);
        // The same memory again, every value the new fill (none of the old 7s).
        let again = try_work::<f32>("test", n, -1.5).expect("3 MB");
        assert_eq!((again.as_ptr(), again.len()), (ptr, n));
        assert!(again.iter().all(|&v| v == -1.5));
        give_back(again);
        // A refused size is an error naming the op, not an abort.
        let e = try_work::<f64>("conv2d", usize::MAX / 4, 0.0).unwrap_err().to_string();
        assert!(e.contains("conv2d") && e.contains("out of memory"), "{e}");
    }

    #[test]
    fn advised_allocations_keep_their_contents() {
        // 8 MiB: at least three whole 2 MiB pages are advised, before and after writing.
        let n = 2 * MIB;
        let mut v: Vec<f32> = new_vec(n).expect("8 MiB");
        v.extend((0..n).map(|i| i as f32));
        advise_huge_pages(&v);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as f32));
    }
}
