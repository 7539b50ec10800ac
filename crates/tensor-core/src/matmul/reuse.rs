//! Packed copies of the right operand `B` of [`super::small`]'s products, kept between calls
//! while `B`'s storage is unchanged: a `Linear`'s weight, transposed and padded once, for as
//! long as the model runs without an optimizer step (text generation runs the same weights
//! through ~60 small products per token).
//!
//! **When it is safe.** A tensor's values change only through `TensorData::values_mut`, which
//! calls `Arc::make_mut` on the storage. An entry here holds a [`Weak`] reference to the
//! storage it was packed from; while it exists, `make_mut` never writes into that storage in
//! place: with other tensors sharing it, it copies; with none, the weak reference makes it
//! move the storage into a new allocation (the standard library "disassociates" weak
//! references). Either way the tensor that changed points to a different allocation from
//! then on. And while the weak reference exists, the old allocation is not freed, so no
//! other storage can appear at its address. So an entry whose weak reference points at the
//! allocation of the operand in hand holds a copy of exactly its current values.
//!
//! **When it is used.** An operand is packed into the cache on its second use unchanged: the
//! first use only leaves a mark (its weak reference, no copy). A training step changes every
//! weight before it is used again, so it only leaves marks, and packs as it did before.
//!
//! **How much it keeps.** Per thread, at most [`MAX_FLOATS`] packed values (4 MiB) and
//! [`MAX_ENTRIES`] entries; beyond either, entries of storage that no longer exists are
//! dropped first, then the least recently used.

use super::Strided;
use crate::dtype::Buffer;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Weak};

/// The most packed f32 values kept per thread (4 MiB; the lecture GPT's weights take ~0.8).
const MAX_FLOATS: usize = 1 << 20;
/// The most entries (marks and packed copies) kept per thread.
const MAX_ENTRIES: usize = 1024;

/// Which view of which storage, packed how: the storage's address, B's offset and strides,
/// its k x n size, the padded row length `ld` and the vector width `w` of the panels.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    storage: usize,
    off: usize,
    rs: usize,
    cs: usize,
    k: usize,
    n: usize,
    ld: usize,
    w: usize,
}

struct Entry {
    /// Keeps the storage's allocation (not its values) alive: see the module documentation.
    storage: Weak<Buffer>,
    /// B as k rows of `ld`; empty until the second use.
    packed: Vec<f32>,
    /// When it was last used (the cache's clock).
    used: u64,
}

/// A multiply-rotate hash of the key's words: the standard library's SipHash, made to resist
/// keys chosen by an attacker, took ~2% of `gpt_generate_100` here, where the keys are
/// addresses and sizes.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.write_u64(b as u64));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Key, Entry, BuildHasherDefault<WordHasher>>,
    /// The packed values held, summed over the entries.
    floats: usize,
    clock: u64,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

impl Cache {
    /// Drops entries until `floats` more values and one more entry fit: those whose storage
    /// is gone first (always, before a packed copy is added: the copies of weights an
    /// optimizer has changed since are freed then, so memory stays flat over a training run
    /// with evaluations), then the least recently used.
    fn make_room(&mut self, floats: usize) {
        let over = |c: &Cache| c.entries.len() >= MAX_ENTRIES || c.floats + floats > MAX_FLOATS;
        if floats == 0 && !over(self) {
            return;
        }
        let mut freed = 0;
        self.entries.retain(|_, e| {
            let alive = e.storage.strong_count() > 0;
            if !alive {
                freed += e.packed.len();
            }
            alive
        });
        self.floats -= freed;
        while over(self) {
            let Some((&oldest, _)) = self.entries.iter().min_by_key(|(_, e)| e.used) else { return };
            let e = self.entries.remove(&oldest).expect("the key was just found");
            self.floats -= e.packed.len();
        }
    }
}

/// Runs `f` on B (k x n, of `storage`) packed by `pack` into k x `ld` values (panels for
/// vectors of `w` lanes), from this thread's cache: `Some` when B was seen before unchanged
/// (packed now on its second use, then kept), `None` on its first use (a mark is left) or
/// when the packed copy would not fit in the cache at all.
#[allow(clippy::too_many_arguments)]
pub(super) fn with_packed<R>(
    storage: &Arc<Buffer>,
    b: &Strided<f32>,
    k: usize,
    n: usize,
    ld: usize,
    w: usize,
    pack: impl FnOnce(&mut [f32]),
    f: impl FnOnce(Option<&[f32]>) -> R,
) -> R {
    let size = k * ld;
    if size > MAX_FLOATS {
        return f(None);
    }
    let key = Key { storage: Arc::as_ptr(storage) as usize, off: b.off, rs: b.rs, cs: b.cs, k, n, ld, w };
    CACHE.with_borrow_mut(|cache| {
        cache.clock += 1;
        let clock = cache.clock;
        // An entry under this key points at `storage`'s allocation (its address is the key, and
        // the entry's weak reference keeps it from being reused), so it holds its values.
        match cache.entries.get_mut(&key) {
            Some(e) if !e.packed.is_empty() => {
                e.used = clock;
            }
            Some(_) => {
                cache.make_room(size);
                let mut packed = vec![0.0; size];
                pack(&mut packed);
                cache.floats += size;
                // (`make_room` may have dropped the mark: insert rather than update.)
                cache.entries.insert(key, Entry { storage: Arc::downgrade(storage), packed, used: clock });
            }
            None => {
                cache.make_room(0);
                cache
                    .entries
                    .insert(key, Entry { storage: Arc::downgrade(storage), packed: Vec::new(), used: clock });
                return f(None);
            }
        }
        f(Some(&cache.entries[&key].packed))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed_sizes() -> (usize, usize) {
        CACHE.with_borrow(|c| (c.entries.len(), c.floats))
    }

    #[test]
    fn a_copy_is_used_from_the_second_use_until_the_values_change() {
        // B = the 3 x 2 matrix [[1, 2], [3, 4], [5, 6]] stored row-major, "packed" as the
        // rows padded to 4 (pack writes what `with_packed` then hands to f).
        let mut t = crate::TensorData::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2]).unwrap();
        let run = |t: &crate::TensorData, packs: &mut usize| -> Option<Vec<f32>> {
            let s = t.values::<f32>().unwrap().into_owned();
            let b = Strided::new(&s, 0, 2, 1);
            with_packed(
                &t.buf,
                &b,
                3,
                2,
                4,
                4,
                |out| {
                    *packs += 1;
                    for p in 0..3 {
                        out[p * 4..p * 4 + 2].copy_from_slice(&s[p * 2..p * 2 + 2]);
                    }
                },
                |packed| packed.map(<[f32]>::to_vec),
            )
        };
        let mut packs = 0;
        assert_eq!(run(&t, &mut packs), None, "the first use only leaves a mark");
        assert_eq!(packs, 0);
        let want = vec![1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 5.0, 6.0, 0.0, 0.0];
        assert_eq!(run(&t, &mut packs).as_deref(), Some(&want[..]), "packed on the second use");
        assert_eq!(run(&t, &mut packs).as_deref(), Some(&want[..]), "and kept");
        assert_eq!(packs, 1);
        // A clone shares the storage and its copy.
        let shared = t.clone();
        assert_eq!(run(&shared, &mut packs).as_deref(), Some(&want[..]));
        assert_eq!(packs, 1);
        // Changing the values (copy-on-write while shared) leaves the clone's copy valid and
        // makes the changed tensor a new storage: a mark again, then its own copy.
        t.values_mut::<f32>().unwrap()[0] = 10.0;
        assert_eq!(run(&shared, &mut packs).as_deref(), Some(&want[..]));
        assert_eq!(run(&t, &mut packs), None);
        let changed = vec![10.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 5.0, 6.0, 0.0, 0.0];
        assert_eq!(run(&t, &mut packs).as_deref(), Some(&changed[..]));
        // Unshared now that the clone is gone: the change moves the storage (no copy of the
        // values), and the old copy is not used for the new values.
        drop(shared);
        t.values_mut::<f32>().unwrap()[1] = 20.0;
        assert_eq!(run(&t, &mut packs), None);
        let changed = vec![10.0, 20.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 5.0, 6.0, 0.0, 0.0];
        assert_eq!(run(&t, &mut packs).as_deref(), Some(&changed[..]));
        assert_eq!(packs, 3);
    }

    #[test]
    fn copies_of_changed_or_dropped_storage_are_freed_at_the_next_copy() {
        // Three storages of 64 x 16 values, each packed on its second use: a copy of one that
        // changed since (its storage moved) or was dropped is freed when the next copy is made.
        let size = 64 * 16;
        let use_twice = |t: &crate::TensorData| {
            let s = t.values::<f32>().unwrap().into_owned();
            let b = Strided::new(&s, 0, 1, 1);
            for _ in 0..2 {
                with_packed(&t.buf, &b, 64, 1, 16, 16, |out| out.fill(1.0), |_| ());
            }
        };
        let mut a = crate::TensorData::from_vec(vec![1.0f32; 64], [64, 1]).unwrap();
        let b = crate::TensorData::from_vec(vec![2.0f32; 64], [64, 1]).unwrap();
        use_twice(&a);
        use_twice(&b);
        assert_eq!(packed_sizes().1, 2 * size);
        a.values_mut::<f32>().unwrap()[0] = 5.0; // moves a's storage: its copy is stale
        drop(b);
        let c = crate::TensorData::from_vec(vec![3.0f32; 64], [64, 1]).unwrap();
        use_twice(&c);
        assert_eq!(packed_sizes().1, size, "only c's copy is left");
        use_twice(&a);
        assert_eq!(packed_sizes().1, 2 * size);
    }

    #[test]
    fn the_cache_stays_within_its_bounds() {
        // Many distinct storages, each used twice (a mark, then a packed copy of k x ld =
        // 4096 x 16 values): the cache never holds more than MAX_FLOATS values or
        // MAX_ENTRIES entries, and the most recently used copy is the one kept.
        let (k, ld) = (4096, 16);
        let mut kept = Vec::new();
        for i in 0..(2 * MAX_FLOATS / (k * ld) + 3) {
            let t = crate::TensorData::from_vec(vec![i as f32; k], [k, 1]).unwrap();
            let s = t.values::<f32>().unwrap().into_owned();
            let b = Strided::new(&s, 0, 1, 1);
            for _ in 0..2 {
                with_packed(&t.buf, &b, k, 1, ld, ld, |out| out.fill(i as f32), |_| ());
            }
            let (entries, floats) = packed_sizes();
            assert!(entries <= MAX_ENTRIES && floats <= MAX_FLOATS, "{entries} entries, {floats} values");
            kept.push(t);
        }
        let last = kept.last().unwrap();
        let s = last.values::<f32>().unwrap().into_owned();
        let b = Strided::new(&s, 0, 1, 1);
        let hit = with_packed(&last.buf, &b, k, 1, ld, ld, |_| panic!("packed again"), |p| p.map(|p| p[0]));
        assert_eq!(hit, Some((kept.len() - 1) as f32));
    }
}
