//! PyTorch's CPU random streams, bit for bit.
//!
//! [`Generator`] is PyTorch's CPU generator (`torch.Generator()`): the 32-bit Mersenne
//! Twister mt19937 seeded from the low 32 bits of the seed, plus PyTorch's cache of the second
//! Box–Muller normal. Every random function here consumes the twister's 32-bit words exactly
//! as ATen does and applies the same transform, so after `manual_seed(0)`
//! `TensorData::randn([10], DType::F32)` starts `1.5410, -0.2934, -2.1788` like
//! `torch.randn(10)`.
//!
//! The pieces, in the order a learner meets them (docs/guide/06-random-numbers.md tells the
//! whole story):
//! - words: [`Generator::next_u32`] is one twister output; [`Generator::next_u64`] is two,
//!   the first as the high half (`random64()` in ATen);
//! - floats: f32 from the low 24 bits of one word (`(w & 0xFFFFFF) * 2^-24`), f64 from the
//!   low 53 bits of a 64-bit draw (`(w & (2^53 - 1)) * 2^-53`), then `x * (to - from) + from`;
//! - normals: tensors of 16 or more contiguous elements fill all uniforms first and transform
//!   them in blocks of 16 (element `j` and `j + 8` form one Box–Muller pair; a ragged tail
//!   redraws the last 16); smaller tensors draw one f64 Box–Muller pair per two values and
//!   keep the spare one in the generator for the next call;
//! - integers: `randint` is `low + w % (high - low)` with a 32-bit word, or a 64-bit one when
//!   the range reaches 2^28; `randperm` swaps with `w % (n - i)`;
//! - multinomial: one sample or no replacement goes through exponential variates
//!   (`argmax`/`topk` of `p / E`, `E ~ Exp(1)`); with replacement a binary search of the
//!   normalised cumulative sum with one f64 uniform per sample.
//!
//! The global generator ([`manual_seed`], [`initial_seed`], [`seed`], [`get_rng_state`],
//! [`set_rng_state`]) is `torch.default_generator`. Unlike PyTorch, whose default generator
//! starts from a non-deterministic seed, torchlet's starts from [`DEFAULT_SEED`] so that a
//! program without `manual_seed` is still reproducible; call [`seed`] for a fresh one.

use crate::shape::Shape;
use crate::{with_float, DType, Element, Error, Float, Numeric, Result, TensorData};
use std::fmt;
use std::sync::Mutex;

/// The seed of a new `torch.Generator()` (`default_rng_seed_val` in ATen), and the seed
/// torchlet's global generator starts from.
pub const DEFAULT_SEED: u64 = 67_280_421_310_721;

/// Size of the twister's state in 32-bit words.
const N: usize = 624;
/// The twist's middle offset.
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;
/// Byte size of PyTorch's serialised CPU generator state (`torch.get_rng_state().numel()`).
pub const STATE_BYTES: usize = 5056;

/// The 32-bit Mersenne Twister (Matsumoto & Nishimura 1998) as ATen keeps it: the 624-word
/// state, the index of the next word to temper (`next`) and how many words are left before
/// the next twist (`left`; 1 right after seeding, so the first draw twists).
#[derive(Clone, PartialEq, Eq)]
struct Mt19937 {
    seed: u64,
    left: u32,
    next: u32,
    state: [u32; N],
}

impl Mt19937 {
    /// Knuth's initialisation: `s[0] = seed mod 2^32`,
    /// `s[j] = 1812433253 * (s[j-1] ^ (s[j-1] >> 30)) + j (mod 2^32)`.
    fn new(seed: u64) -> Self {
        let mut state = [0u32; N];
        state[0] = seed as u32;
        for j in 1..N {
            let p = state[j - 1];
            state[j] = 1_812_433_253u32.wrapping_mul(p ^ (p >> 30)).wrapping_add(j as u32);
        }
        Mt19937 { seed, left: 1, next: 0, state }
    }

    /// One tempered 32-bit output.
    fn next_u32(&mut self) -> u32 {
        self.left -= 1;
        if self.left == 0 {
            self.twist();
        }
        let y = self.state[self.next as usize];
        self.next += 1;
        temper(y)
    }

    /// `out.len()` outputs, exactly the sequence of that many [`Mt19937::next_u32`] calls,
    /// tempered straight from the state a run at a time (a loop the compiler vectorises).
    fn fill(&mut self, out: &mut [u32]) {
        let mut i = 0;
        while i < out.len() {
            // Words `next .. next + left - 1` are ready; the call after them twists.
            let ready = (self.left - 1) as usize;
            if ready == 0 {
                out[i] = self.next_u32();
                i += 1;
                continue;
            }
            let take = ready.min(out.len() - i);
            let start = self.next as usize;
            out[i..i + take]
                .iter_mut()
                .zip(&self.state[start..start + take])
                .for_each(|(o, &y)| *o = temper(y));
            self.next += take as u32;
            self.left -= take as u32;
            i += take;
        }
    }

    /// Regenerates all 624 words: `s[k] = s[k+M] ^ twist(s[k], s[k+1])`, indices mod 624,
    /// where `twist(u, v) = ((u & 0x80000000 | v & 0x7fffffff) >> 1) ^ (v odd ? 0x9908b0df : 0)`.
    fn twist(&mut self) {
        self.left = N as u32;
        self.next = 0;
        #[inline(always)]
        fn twisted(u: u32, v: u32) -> u32 {
            let mixed = (u & UPPER_MASK) | (v & LOWER_MASK);
            (mixed >> 1) ^ if v & 1 == 1 { MATRIX_A } else { 0 }
        }
        // In order k = 0..N, in three runs without the modulo (so that each vectorises):
        // `s[k + M]` is still the old word below N - M, then a new one (`s[k + M - N]`), and
        // the last word pairs with the new `s[0]`.
        let s = &mut self.state;
        for k in 0..N - M {
            s[k] = s[k + M] ^ twisted(s[k], s[k + 1]);
        }
        for k in N - M..N - 1 {
            s[k] = s[k + M - N] ^ twisted(s[k], s[k + 1]); // (a dependence 227 words back)
        }
        s[N - 1] = s[M - 1] ^ twisted(s[N - 1], s[0]);
    }
}

/// A uniform f32 in `[0, 1)` from a word: its low 24 bits times `2^-24` (exact in f32).
#[inline(always)]
fn unit_f32(w: u32) -> f32 {
    (w & 0x00ff_ffff) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// A uniform f64 in `[0, 1)` from a 64-bit draw: its low 53 bits times `2^-53`.
#[inline(always)]
fn unit_f64(w: u64) -> f64 {
    (w & ((1u64 << 53) - 1)) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `w % d` for 32-bit words and a fixed divisor `d > 0` by two multiplications instead of a
/// division (Lemire, Kaser and Kurz, "Faster remainder by direct computation", 2019): with
/// `c = floor((2^64 - 1) / d) + 1` (mod 2^64), `w % d = ((c w mod 2^64) d) >> 64`, exact for
/// every 32-bit `w` and `d`.
#[derive(Clone, Copy)]
struct Remainder {
    c: u64,
    d: u32,
}

impl Remainder {
    fn new(d: u32) -> Remainder {
        Remainder { c: (u64::MAX / d as u64).wrapping_add(1), d }
    }
    #[inline(always)]
    fn of(self, w: u32) -> u32 {
        ((self.c.wrapping_mul(w as u64) as u128 * self.d as u128) >> 64) as u32
    }
}

/// The twister's output tempering.
#[inline]
fn temper(mut y: u32) -> u32 {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^ (y >> 18)
}

/// Python's `random` module: the same twister, seeded as CPython seeds it, for lessons written
/// in plain Python (micrograd draws its weights with `random.uniform(-1, 1)` after
/// `random.seed(1337)`), so a port reproduces their numbers.
///
/// `PyRandom::seed(n)` is `random.seed(n)` for a non-negative integer `n` (CPython's
/// `init_by_array` over the 32-bit words of `n`); [`PyRandom::random`] is `random.random()`
/// (53 bits from two words: `(a >> 5) * 2^26 + (b >> 6)`, over `2^53`) and
/// [`PyRandom::uniform`] is `random.uniform(a, b) = a + (b - a) * random()`.
///
/// ```
/// // Python: random.seed(1337); random.random() -> 0.6177528569514706
/// let mut r = torchlet_tensor_core::random::PyRandom::seed(1337);
/// assert_eq!(r.random(), 0.6177528569514706);
/// ```
#[derive(Clone)]
pub struct PyRandom {
    mt: Mt19937,
}

impl PyRandom {
    /// `random.seed(n)`.
    pub fn seed(n: u64) -> PyRandom {
        // init_by_array(key): key = the 32-bit words of n, least significant first ([0] for 0).
        let key: Vec<u32> = if n >> 32 == 0 { vec![n as u32] } else { vec![n as u32, (n >> 32) as u32] };
        let mut mt = Mt19937::new(19_650_218);
        let s = &mut mt.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let p = s[i - 1] ^ (s[i - 1] >> 30);
            s[i] = (s[i] ^ p.wrapping_mul(1_664_525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let p = s[i - 1] ^ (s[i - 1] >> 30);
            s[i] = (s[i] ^ p.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
        }
        s[0] = 0x8000_0000;
        PyRandom { mt }
    }

    /// `random.random()`: uniform in `[0, 1)` with 53 random bits.
    pub fn random(&mut self) -> f64 {
        let (a, b) = (self.mt.next_u32() >> 5, self.mt.next_u32() >> 6);
        (a as f64 * 67_108_864.0 + b as f64) / 9_007_199_254_740_992.0
    }

    /// `random.uniform(a, b)`.
    pub fn uniform(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.random()
    }

    /// `random.getrandbits(k)` for `k <= 32`: the top `k` bits of one word.
    pub fn getrandbits(&mut self, k: u32) -> u32 {
        if k == 0 {
            return 0;
        }
        self.mt.next_u32() >> (32 - k.min(32))
    }

    /// `random.shuffle(x)` (Fisher-Yates from the end; `randbelow(i + 1)` draws
    /// `getrandbits(bit_length(i + 1))` until below `i + 1`), for up to 2^32 elements.
    ///
    /// ```
    /// // Python: random.seed(42); x = list(range(10)); random.shuffle(x) -> [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]
    /// let mut r = torchlet_tensor_core::random::PyRandom::seed(42);
    /// let mut x: Vec<i32> = (0..10).collect();
    /// r.shuffle(&mut x);
    /// assert_eq!(x, [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]);
    /// ```
    pub fn shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let n = (i + 1) as u64;
            let k = 64 - n.leading_zeros();
            let j = loop {
                let r = self.getrandbits(k) as u64;
                if r < n {
                    break r as usize;
                }
            };
            x.swap(i, j);
        }
    }
}

/// A random number generator that produces exactly PyTorch's CPU streams (`torch.Generator`).
///
/// `Generator::new(s)` is `torch.Generator().manual_seed(s)`; pass it to the `_with`
/// functions (`TensorData::randn_with(shape, dtype, &mut g)`, `Tensor::multinomial_with`,
/// ...) like `generator=g`. Clone it to fork a stream; [`Generator::get_state`] /
/// [`Generator::set_state`] checkpoint it.
#[derive(Clone, PartialEq)]
pub struct Generator {
    engine: Mt19937,
    /// The spare sine value of the last scalar Box–Muller pair (f64 path).
    next_f64_normal: Option<f64>,
    /// The f32 counterpart ATen keeps (unused by its CPU kernels, kept for the state layout).
    next_f32_normal: Option<f32>,
}

impl Default for Generator {
    /// `torch.Generator()`: seeded with [`DEFAULT_SEED`].
    fn default() -> Self {
        Generator::new(DEFAULT_SEED)
    }
}

impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("initial_seed", &self.engine.seed)
            .field("words_left", &self.engine.left)
            .field("cached_normal", &self.next_f64_normal)
            .finish()
    }
}

impl Generator {
    /// A generator seeded with `seed`, like `torch.Generator().manual_seed(seed)`. Only the
    /// low 32 bits reach the twister (seeds `s` and `s + 2^32` give the same stream), but
    /// [`Generator::initial_seed`] returns the full value, as in PyTorch.
    pub fn new(seed: u64) -> Self {
        Generator { engine: Mt19937::new(seed), next_f64_normal: None, next_f32_normal: None }
    }

    /// Re-seeds this generator (`g.manual_seed(seed)`), forgetting any cached normal.
    /// Returns `self` for chaining.
    pub fn manual_seed(&mut self, seed: u64) -> &mut Self {
        *self = Generator::new(seed);
        self
    }

    /// The seed this generator was last seeded with (`g.initial_seed()`).
    pub fn initial_seed(&self) -> u64 {
        self.engine.seed
    }

    /// Re-seeds from a non-deterministic source and returns the new seed (`g.seed()`).
    pub fn seed(&mut self) -> u64 {
        let s = nondeterministic_seed();
        self.manual_seed(s);
        s
    }

    /// The next 32-bit word of the twister (ATen's `random()`).
    pub fn next_u32(&mut self) -> u32 {
        self.engine.next_u32()
    }

    /// A 64-bit value from two words, the first one high: `(w1 << 32) | w2` (ATen's
    /// `random64()`).
    pub fn next_u64(&mut self) -> u64 {
        let hi = self.engine.next_u32() as u64;
        let lo = self.engine.next_u32() as u64;
        (hi << 32) | lo
    }

    /// A uniform f32 in `[0, 1)` from one word: `(w & (2^24 - 1)) * 2^-24` (exact in f32).
    pub fn uniform_f32(&mut self) -> f32 {
        unit_f32(self.next_u32())
    }

    /// A uniform f64 in `[0, 1)` from a 64-bit draw: `(w & (2^53 - 1)) * 2^-53`.
    pub fn uniform_f64(&mut self) -> f64 {
        unit_f64(self.next_u64())
    }

    /// `out.len()` draws of [`Generator::uniform_f32`], in order, generated in bulk.
    pub fn uniform_f32_into(&mut self, out: &mut [f32]) {
        let mut words = [0u32; 512];
        for chunk in out.chunks_mut(words.len()) {
            let words = &mut words[..chunk.len()];
            self.engine.fill(words);
            chunk.iter_mut().zip(words.iter()).for_each(|(o, &w)| *o = unit_f32(w));
        }
    }

    /// `out.len()` draws of [`Generator::uniform_f64`], in order, generated in bulk.
    pub fn uniform_f64_into(&mut self, out: &mut [f64]) {
        let mut words = [0u32; 512];
        for chunk in out.chunks_mut(words.len() / 2) {
            let words = &mut words[..2 * chunk.len()];
            self.engine.fill(words);
            for (o, w) in chunk.iter_mut().zip(words.chunks_exact(2)) {
                *o = unit_f64(((w[0] as u64) << 32) | w[1] as u64);
            }
        }
    }

    /// `out.len()` 32-bit words, in order, generated in bulk (the sequence of as many
    /// [`Generator::next_u32`] calls).
    pub fn fill_u32(&mut self, out: &mut [u32]) {
        self.engine.fill(out)
    }

    /// A standard normal f64 the way ATen's scalar `normal_distribution<double>` makes it:
    /// if a spare value is cached, return it and clear the cache; otherwise draw
    /// `u1, u2 = uniform_f64()`, set `r = sqrt(-2 ln(1 - u2))`, `theta = 2 pi u1`, cache
    /// `r sin(theta)` and return `r cos(theta)`.
    pub fn normal_f64(&mut self) -> f64 {
        if let Some(z) = self.next_f64_normal.take() {
            return z;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.next_f64_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// A snapshot of the whole state (`g.get_state()`): restoring it with
    /// [`Generator::set_state`] replays the same stream from this point on.
    pub fn get_state(&self) -> GeneratorState {
        GeneratorState {
            engine: self.engine.clone(),
            next_f64_normal: self.next_f64_normal,
            next_f32_normal: self.next_f32_normal,
        }
    }

    /// Restores a state taken with [`Generator::get_state`] or read by
    /// [`GeneratorState::from_bytes`] (`g.set_state(state)`).
    pub fn set_state(&mut self, state: &GeneratorState) {
        self.engine = state.engine.clone();
        self.next_f64_normal = state.next_f64_normal;
        self.next_f32_normal = state.next_f32_normal;
    }
}

/// A saved generator state, like the byte tensor `torch.get_rng_state()` returns.
///
/// [`GeneratorState::to_bytes`] writes PyTorch's own 5056-byte layout (ATen's
/// `CPUGeneratorImplState`, little-endian x86-64), so a state saved by torchlet can be loaded
/// by `torch.set_rng_state(torch.tensor(list(bytes), dtype=torch.uint8))` and vice versa.
#[derive(Clone, PartialEq)]
pub struct GeneratorState {
    engine: Mt19937,
    next_f64_normal: Option<f64>,
    next_f32_normal: Option<f32>,
}

impl fmt::Debug for GeneratorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratorState")
            .field("initial_seed", &self.engine.seed)
            .field("words_left", &self.engine.left)
            .field("cached_normal", &self.next_f64_normal)
            .finish()
    }
}

impl GeneratorState {
    /// The state in PyTorch's byte layout ([`STATE_BYTES`] bytes): `the_initial_seed` u64
    /// at 0, `left` i32 at 8, `seeded` i32 at 12, `next` u64 at 16, the 624 words as u64
    /// from 24, `normal_x`, `normal_y` (the cached f64 normal), `normal_rho` f64 at 5016,
    /// 5024, 5032, `normal_is_valid` i32 at 5040, the cached f32 normal at 5048 and its
    /// validity byte at 5052; padding is zero.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; STATE_BYTES];
        let e = &self.engine;
        b[0..8].copy_from_slice(&e.seed.to_le_bytes());
        b[8..12].copy_from_slice(&(e.left as i32).to_le_bytes());
        b[12..16].copy_from_slice(&1i32.to_le_bytes());
        b[16..24].copy_from_slice(&(e.next as u64).to_le_bytes());
        for (k, w) in e.state.iter().enumerate() {
            b[24 + 8 * k..32 + 8 * k].copy_from_slice(&(*w as u64).to_le_bytes());
        }
        if let Some(y) = self.next_f64_normal {
            b[5024..5032].copy_from_slice(&y.to_le_bytes());
            b[5040..5044].copy_from_slice(&1i32.to_le_bytes());
        }
        if let Some(z) = self.next_f32_normal {
            b[5048..5052].copy_from_slice(&z.to_le_bytes());
            b[5052] = 1;
        }
        b
    }

    /// Reads a state in PyTorch's byte layout (see [`GeneratorState::to_bytes`]). Errors
    /// when the length is not [`STATE_BYTES`] or the twister position is impossible
    /// (`seeded` false, `left` outside `1..=624`, `next > 624`, or `left + next > 625`).
    /// State words wider than 32 bits are truncated, as ATen does.
    pub fn from_bytes(bytes: &[u8]) -> Result<GeneratorState> {
        const OP: &str = "set_rng_state";
        if bytes.len() != STATE_BYTES {
            return Err(Error::invalid(
                OP,
                format!("expected a CPU generator state of {STATE_BYTES} bytes, got {} bytes", bytes.len()),
            ));
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or([0; 8]));
        let i32_at = |i: usize| i32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or([0; 4]));
        let (seed, left, seeded, next) = (u64_at(0), i32_at(8), i32_at(12), u64_at(16) as u32);
        if seeded == 0
            || !(1..=N as i32).contains(&left)
            || next as usize > N
            || left as usize + next as usize > N + 1
        {
            return Err(Error::invalid(
                OP,
                format!("invalid mt19937 state: seeded={seeded}, left={left}, next={next} (expected seeded != 0, left in 1..=624, next <= 624, left + next <= 625)"),
            ));
        }
        let mut state = [0u32; N];
        for (k, w) in state.iter_mut().enumerate() {
            *w = u64_at(24 + 8 * k) as u32;
        }
        let next_f64_normal =
            (i32_at(5040) != 0).then(|| f64::from_le_bytes(bytes[5024..5032].try_into().unwrap_or([0; 8])));
        let next_f32_normal =
            (bytes[5052] != 0).then(|| f32::from_le_bytes(bytes[5048..5052].try_into().unwrap_or([0; 4])));
        Ok(GeneratorState {
            engine: Mt19937 { seed, left: left as u32, next, state },
            next_f64_normal,
            next_f32_normal,
        })
    }
}

/// A seed from the operating system's hash randomness and the clock (for [`seed`]).
fn nondeterministic_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    h.write_u128(nanos);
    h.finish()
}

static GLOBAL: Mutex<Option<Generator>> = Mutex::new(None);

/// Seeds the global generator, like `torch.manual_seed(seed)`.
pub fn manual_seed(seed: u64) {
    *GLOBAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Generator::new(seed));
}

/// The seed of the global generator (`torch.initial_seed()`).
pub fn initial_seed() -> u64 {
    with_global(|g| g.initial_seed())
}

/// Re-seeds the global generator non-deterministically and returns the seed (`torch.seed()`).
pub fn seed() -> u64 {
    with_global(|g| g.seed())
}

/// A snapshot of the global generator (`torch.get_rng_state()`).
pub fn get_rng_state() -> GeneratorState {
    with_global(|g| g.get_state())
}

/// Restores the global generator (`torch.set_rng_state(state)`).
pub fn set_rng_state(state: &GeneratorState) {
    with_global(|g| g.set_state(state))
}

/// Runs `f` with the global generator (seeded with [`DEFAULT_SEED`] on first use). The
/// generator stays locked while `f` runs: `f` must take its numbers from the `&mut Generator`
/// it is given, not call a global random function.
pub fn with_global<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(Generator::default))
}

// ----- buffers -------------------------------------------------------------------------------

/// An empty vector with room for `shape`'s elements and their count, or an error naming `op`
/// when the shape cannot be addressed or allocated. From the buffer cache ([`crate::pool`]),
/// like a kernel's output: a fill made every step (dropout's mask, a fresh `randn`) takes
/// last step's memory back instead of faulting in fresh pages (a quarter of `rand`'s
/// profile for a (1000, 1000) tensor).
fn buffer<T: Element>(op: &'static str, shape: &Shape) -> Result<(Vec<T>, usize)> {
    Ok((crate::pool::try_vec_with_capacity(op, shape)?, shape.numel()))
}

/// Builds a tensor of `shape` and `dtype` from `n` values computed in f64 by `draw`
/// (each rounded once to the dtype).
fn fill_float<T: Float + Element>(
    op: &'static str,
    shape: Shape,
    mut draw: impl FnMut() -> T,
) -> Result<TensorData> {
    let (mut v, n) = buffer::<T>(op, &shape)?;
    v.extend((0..n).map(|_| draw()));
    Ok(TensorData::from_vec_unchecked(v, shape))
}

/// A tensor of `shape` whose values `draw` fills in bulk with uniforms in `[0, 1)`, each then
/// mapped by `scale` (`u * (high - low) + low`, one fused multiply-add) in the capability's
/// vector build: with a call per value, the portable build called the C library's `fmaf`.
fn scaled_uniforms<T: Float + Element>(
    op: &'static str,
    shape: Shape,
    draw: impl FnOnce(&mut [T]),
    scale: impl Fn(T) -> T,
) -> Result<TensorData> {
    let (mut v, n) = buffer::<T>(op, &shape)?;
    v.resize(n, T::ZERO);
    draw(&mut v);
    crate::dispatch!(crate::simd::capability(), |F| v.iter_mut().for_each(|u| *u = scale(*u)));
    Ok(TensorData::from_vec_unchecked(v, shape))
}

// ----- the transforms ----------------------------------------------------------------------

/// ATen's `normal_fill_16` for f32 as its AVX2 kernel computes it (the build PyTorch's x86
/// wheels run), on each block of 16 values of `d` (whole blocks): `u1 = 1 - d[j]`, `u2 =
/// d[j+8]`, `r = sqrt(-2 ln u1)`, `theta = f32(2 pi) * u2`, `d[j] = fma(r cos theta, std,
/// mean)`, `d[j+8] = fma(r sin theta, std, mean)`, all in f32, with ln, sin and cos evaluated
/// in f64 (`simd::real`'s [`ln64_lanes`](crate::simd::real::ln64_lanes) and
/// [`sincos64_lanes`](crate::simd::real::sincos64_lanes), about an f64 ulp) and rounded (the
/// vector kernel's own approximations differ from that by about an f32 ulp). Vectorised
/// across the block's eight pairs.
fn normal_blocks_f32(cap: crate::simd::Capability, d: &mut [f32], mean: f32, std: f32) {
    use crate::simd::{real, supported, Capability};
    #[inline(always)]
    fn block<const FMA: bool>(d: &mut [f32; 16], mean: f32, std: f32) {
        let two_pi = (2.0 * std::f64::consts::PI) as f32;
        let u1: [f64; 8] = std::array::from_fn(|j| (1.0f32 - d[j]) as f64);
        let theta: [f64; 8] = std::array::from_fn(|j| (two_pi * d[j + 8]) as f64);
        let ln = real::ln64_lanes::<FMA, 8>(u1);
        let (sin, cos) = real::sincos64_lanes::<FMA, 8>(theta);
        for j in 0..8 {
            let radius = (-2.0f32 * (ln[j] as f32)).sqrt();
            d[j] = (radius * cos[j] as f32).mul_add(std, mean);
            d[j + 8] = (radius * sin[j] as f32).mul_add(std, mean);
        }
    }
    let fma = supported(cap) >= Capability::Avx2;
    let (blocks, _) = d.as_chunks_mut::<16>();
    crate::dispatch!(cap, |F| if fma {
        blocks.iter_mut().for_each(|b| block::<true>(b, mean, std))
    } else {
        blocks.iter_mut().for_each(|b| block::<false>(b, mean, std))
    })
}

/// ATen's `normal_fill_16` for f64 on each block of 16 values of `d`: the same pairing in
/// f64, `theta = 2 pi u2`, `d[j] = r cos(theta) std + mean` (the standard library's ln, sin
/// and cos, as ATen's scalar loop calls them).
fn normal_blocks_f64(d: &mut [f64], mean: f64, std: f64) {
    for d in d.chunks_exact_mut(16) {
        for j in 0..8 {
            let u1 = 1.0 - d[j];
            let u2 = d[j + 8];
            let radius = (-2.0 * u1.ln()).sqrt();
            let theta = 2.0 * std::f64::consts::PI * u2;
            d[j] = radius * theta.cos() * std + mean;
            d[j + 8] = radius * theta.sin() * std + mean;
        }
    }
}

/// The vectorised path of `normal_` (contiguous tensors of 16 or more elements): every
/// element gets a uniform of its dtype first (`uniforms`); each whole block of 16 is
/// transformed (`blocks`); if `n % 16 != 0` the last 16 elements get fresh uniforms and are
/// transformed again.
fn normal_fill<T>(v: &mut [T], mut uniforms: impl FnMut(&mut [T]), blocks: impl Fn(&mut [T])) {
    let n = v.len();
    uniforms(v);
    blocks(&mut v[..n - n % 16]);
    if !n.is_multiple_of(16) {
        let tail = &mut v[n - 16..];
        uniforms(tail);
        blocks(tail);
    }
}

fn check_float(op: &'static str, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        Err(Error::need_float(op, dtype))
    }
}

impl TensorData {
    /// Uniform samples in `[low, high)` (`torch.empty(shape, dtype=dtype).uniform_(low, high,
    /// generator=g)`): `x = u * (high - low) + low` with `u` from [`Generator::uniform_f32`]
    /// (f32, computed in f32 after rounding `low` and `high` to f32) or
    /// [`Generator::uniform_f64`] (f64). As in PyTorch, rounding can land an f32 sample on
    /// `high`. Errors unless `low <= high`, both finite, and `high - low` fits the dtype.
    pub fn uniform_with(
        shape: impl Into<Shape>,
        low: f64,
        high: f64,
        dtype: DType,
        g: &mut Generator,
    ) -> Result<Self> {
        const OP: &str = "uniform_";
        if !(low <= high && low.is_finite() && high.is_finite()) {
            return Err(Error::invalid(
                OP,
                format!("expects finite low <= high, got low={low}, high={high}"),
            ));
        }
        let shape = shape.into();
        match dtype {
            DType::F32 => {
                let (lo, hi) = (low as f32, high as f32);
                let span = hi - lo;
                if !span.is_finite() || !lo.is_finite() || !hi.is_finite() {
                    return Err(Error::invalid(OP, format!("high - low = {} exceeds the largest f32 value; pick a narrower range (got low={low}, high={high})", high - low)));
                }
                scaled_uniforms(OP, shape, |v| g.uniform_f32_into(v), |u: f32| u.mul_add(span, lo))
            }
            DType::F64 => {
                let span = high - low;
                if !span.is_finite() {
                    return Err(Error::invalid(OP, format!("high - low = {span} exceeds the largest f64 value; pick a narrower range (got low={low}, high={high})")));
                }
                scaled_uniforms(OP, shape, |v| g.uniform_f64_into(v), |u: f64| u.mul_add(span, low))
            }
            other => Err(Error::need_float(OP, other)),
        }
    }

    /// Uniform samples in `[0, 1)` from `g`, like `torch.rand(shape, dtype=dtype, generator=g)`:
    /// f32 from 24 bits of one word, f64 from 53 bits of two.
    pub fn rand_with(shape: impl Into<Shape>, dtype: DType, g: &mut Generator) -> Result<Self> {
        Self::uniform_with(shape, 0.0, 1.0, dtype, g)
    }

    /// Normal samples with the given `mean` and `std` (`torch.empty(shape).normal_(mean, std,
    /// generator=g)`), drawn by PyTorch's two paths:
    /// - 16 or more elements: all uniforms of the dtype first, then Box–Muller on blocks of
    ///   16 pairing element `j` with `j + 8` (`r = sqrt(-2 ln(1 - u_j))`,
    ///   `theta = 2 pi u_{j+8}`, `x_j = r cos(theta) std + mean`,
    ///   `x_{j+8} = r sin(theta) std + mean`); a ragged tail redraws the last 16 elements;
    /// - fewer than 16: [`Generator::normal_f64`] per element (f64 uniforms, the spare value
    ///   of each pair cached in the generator for the next element or the next call), then
    ///   `z std + mean` rounded to the dtype.
    ///
    /// That is why `randn(10)` and `randn(20)` start with different numbers. Errors on
    /// `std < 0` or a NaN `std`.
    pub fn normal_with(
        shape: impl Into<Shape>,
        mean: f64,
        std: f64,
        dtype: DType,
        g: &mut Generator,
    ) -> Result<Self> {
        const OP: &str = "normal_";
        if std.is_nan() || std < 0.0 {
            return Err(Error::invalid(OP, format!("expects std >= 0.0, got std={std}")));
        }
        check_float(OP, dtype)?;
        let shape = shape.into();
        let n = shape.checked_numel().unwrap_or(usize::MAX);
        if n < 16 {
            return with_float!(dtype, OP, |T| fill_float(OP, shape, || T::c(g.normal_f64() * std + mean)));
        }
        match dtype {
            DType::F32 => {
                let (mut v, n) = buffer::<f32>(OP, &shape)?;
                v.resize(n, 0.0);
                normal_fill(
                    &mut v,
                    |u| g.uniform_f32_into(u),
                    |b| normal_blocks_f32(crate::simd::capability(), b, mean as f32, std as f32),
                );
                Ok(TensorData::from_vec_unchecked(v, shape))
            }
            _ => {
                let (mut v, n) = buffer::<f64>(OP, &shape)?;
                v.resize(n, 0.0);
                normal_fill(&mut v, |u| g.uniform_f64_into(u), |b| normal_blocks_f64(b, mean, std));
                Ok(TensorData::from_vec_unchecked(v, shape))
            }
        }
    }

    /// Standard normal samples from `g`, like `torch.randn(shape, dtype=dtype, generator=g)`
    /// (see [`TensorData::normal_with`] for the two paths).
    pub fn randn_with(shape: impl Into<Shape>, dtype: DType, g: &mut Generator) -> Result<Self> {
        Self::normal_with(shape, 0.0, 1.0, dtype, g)
    }

    /// Integers uniform in `[low, high)` (i64), like `torch.randint(low, high, shape,
    /// generator=g)`: `low + w % (high - low)` where `w` is one 32-bit word, or a 64-bit draw
    /// when the range is 2^28 or more. (The modulo is slightly biased, as in PyTorch.)
    pub fn randint_with(low: i64, high: i64, shape: impl Into<Shape>, g: &mut Generator) -> Result<Self> {
        const OP: &str = "randint";
        if low >= high {
            return Err(Error::invalid(OP, format!("expects low < high, got low={low}, high={high}")));
        }
        let shape = shape.into();
        let range = (high as i128 - low as i128) as u64;
        let (mut v, n) = buffer::<i64>(OP, &shape)?;
        if range >= 1 << 28 {
            v.extend((0..n).map(|_| ((g.next_u64() % range) as i64).wrapping_add(low)));
        } else {
            // One word per value, drawn in bulk, reduced by a multiplication.
            let rem = Remainder::new(range as u32);
            let mut words = [0u32; 512];
            while v.len() < n {
                let words = &mut words[..(n - v.len()).min(512)];
                g.fill_u32(words);
                v.extend(words.iter().map(|&w| (rem.of(w) as i64).wrapping_add(low)));
            }
        }
        Ok(TensorData::from_vec_unchecked(v, shape))
    }

    /// A random permutation of `0..n` (i64), like `torch.randperm(n, generator=g)`. For
    /// `n < (2^32 - 1) / 20` (every practical size) PyTorch's Fisher–Yates: for `i` in
    /// `0..n-1`, swap element `i` with element `i + w % (n - i)`, `w` one 32-bit word. Larger
    /// `n` uses the "inside-out" variant with 64-bit draws: `z = w % (i + 1)`,
    /// `r[i] = r[z]`, `r[z] = i`.
    pub fn randperm_with(n: usize, g: &mut Generator) -> Result<Self> {
        const OP: &str = "randperm";
        let shape = Shape::new(&[n]);
        let (mut v, _) = buffer::<i64>(OP, &shape)?;
        if (n as u64) < (u32::MAX / 20) as u64 {
            v.extend(0..n as i64);
            for i in 0..n.saturating_sub(1) {
                let z = (g.next_u32() as u64 % (n - i) as u64) as usize;
                v.swap(i, i + z);
            }
        } else {
            v.resize(n, 0);
            for i in 0..n {
                let z = (g.next_u64() % (i as u64 + 1)) as usize;
                v[i] = v[z];
                v[z] = i as i64;
            }
        }
        Ok(TensorData::from_vec_unchecked(v, shape))
    }

    /// Exponential samples with rate `lambd` (`torch.empty(shape).exponential_(lambd,
    /// generator=g)`): `x = -1/lambd * ln(1 - u)` with `u` an f64 uniform (53 bits) for every
    /// dtype, rounded to the dtype. Errors unless `lambd > 0`.
    pub fn exponential_with(
        shape: impl Into<Shape>,
        lambd: f64,
        dtype: DType,
        g: &mut Generator,
    ) -> Result<Self> {
        const OP: &str = "exponential_";
        if lambd.is_nan() || lambd <= 0.0 {
            return Err(Error::invalid(OP, format!("expects lambd > 0.0, got lambd={lambd}")));
        }
        let shape = shape.into();
        with_float!(dtype, OP, |T| fill_float(OP, shape, || T::c(-1.0 / lambd * (-g.uniform_f64()).ln_1p())))
    }

    /// Draws 0 or 1 for each element of the probabilities `self` (`torch.bernoulli(p,
    /// generator=g)`): `1` when `u < p`, with `u` an f32 uniform (one word) for f32
    /// probabilities and an f64 uniform (two words) for f64 ones. The result has the shape and
    /// dtype of `self`. Errors on non-float tensors and probabilities outside `[0, 1]`.
    pub fn bernoulli_with(&self, g: &mut Generator) -> Result<Self> {
        const OP: &str = "bernoulli";
        check_float(OP, self.dtype())?;
        let shape = self.shape().clone();
        with_float!(self.dtype(), OP, |T| {
            let p = self.values::<T>()?;
            if let Some(bad) = p.iter().find(|&&x| !(T::ZERO..=T::ONE).contains(&x)) {
                return Err(Error::invalid(
                    OP,
                    format!("expects every probability in [0, 1], found {bad} (shape {shape})"),
                ));
            }
            let (mut v, _) = buffer::<T>(OP, &shape)?;
            if self.dtype() == DType::F32 {
                v.extend(p.iter().map(|&x| if T::c(g.uniform_f32() as f64) < x { T::ONE } else { T::ZERO }));
            } else {
                v.extend(p.iter().map(|&x| if T::c(g.uniform_f64()) < x { T::ONE } else { T::ZERO }));
            }
            Ok(TensorData::from_vec_unchecked(v, shape))
        })
    }

    /// 0/1 samples with one probability `p` for every element (`torch.empty(shape,
    /// dtype=dtype).bernoulli_(p, generator=g)`, the mask of dropout): `1` when `u < p` with
    /// `u` an f64 uniform (53 bits), for every dtype. Errors unless `0 <= p <= 1`.
    pub fn bernoulli_scalar_with(
        shape: impl Into<Shape>,
        p: f64,
        dtype: DType,
        g: &mut Generator,
    ) -> Result<Self> {
        const OP: &str = "bernoulli_";
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(OP, format!("expects p in [0, 1], got p={p}")));
        }
        let shape = shape.into();
        let draw = |g: &mut Generator| if g.uniform_f64() < p { 1.0 } else { 0.0 };
        match dtype {
            // The same draws in bulk (dropout's masks): one f64 uniform per element.
            DType::F32 | DType::F64 => with_float!(dtype, OP, |T| {
                let (mut v, n) = buffer::<T>(OP, &shape)?;
                let mut u = [0.0f64; 1024];
                let mut left = n;
                while left > 0 {
                    let u = &mut u[..left.min(1024)];
                    g.uniform_f64_into(u);
                    v.extend(u.iter().map(|&u| if u < p { T::ONE } else { T::ZERO }));
                    left -= u.len();
                }
                Ok(TensorData::from_vec_unchecked(v, shape))
            }),
            DType::I64 => {
                let (mut v, n) = buffer::<i64>(OP, &shape)?;
                v.extend((0..n).map(|_| draw(g) as i64));
                Ok(TensorData::from_vec_unchecked(v, shape))
            }
            DType::Bool => {
                let (mut v, n) = buffer::<bool>(OP, &shape)?;
                v.extend((0..n).map(|_| draw(g) == 1.0));
                Ok(TensorData::from_vec_unchecked(v, shape))
            }
        }
    }

    /// `torch.empty(shape, dtype=dtype).random_(generator=g)`: integers uniform over the
    /// dtype's exactly representable range, `w % (max + 1)`: i64 from a 64-bit draw modulo
    /// 2^63 (what a shuffling `DataLoader` draws for its seeds), f32 from one word modulo
    /// 2^24 + 1, f64 from a 64-bit draw modulo 2^53 + 1, bool from the low bit of one word.
    pub fn random_with(shape: impl Into<Shape>, dtype: DType, g: &mut Generator) -> Result<Self> {
        const OP: &str = "random_";
        let shape = shape.into();
        match dtype {
            DType::I64 => {
                let (mut v, n) = buffer::<i64>(OP, &shape)?;
                v.extend((0..n).map(|_| (g.next_u64() % (1u64 << 63)) as i64));
                Ok(TensorData::from_vec_unchecked(v, shape))
            }
            DType::F32 => fill_float(OP, shape, || (g.next_u32() as u64 % ((1u64 << 24) + 1)) as f32),
            DType::F64 => fill_float(OP, shape, || (g.next_u64() % ((1u64 << 53) + 1)) as f64),
            DType::Bool => {
                let (mut v, n) = buffer::<bool>(OP, &shape)?;
                v.extend((0..n).map(|_| g.next_u32() & 1 == 1));
                Ok(TensorData::from_vec_unchecked(v, shape))
            }
        }
    }

    /// `num_samples` class indices per row of the probabilities `self` (1-D `(C)` or 2-D
    /// `(rows, C)`, not necessarily normalised), like `torch.multinomial(p, num_samples,
    /// replacement, generator=g)`. The result is i64 of shape `(num_samples)` or
    /// `(rows, num_samples)`. PyTorch's two algorithms:
    /// - one sample, or no replacement: `E = exponential_(1)` drawn over the whole tensor in
    ///   the dtype of `self` (row-major), `q = p / E`, then the `argmax` (first maximum) or the
    ///   `num_samples` largest in descending order (`topk`) of each row of `q`. A class of
    ///   probability 0 has `q = 0` and is never chosen while a positive class is left;
    /// - with replacement and several samples: per row, the cumulative sum of `p` in the
    ///   dtype, divided by the total, the last entry set to 1; each sample draws an f64
    ///   uniform `u` and takes the first class whose cumulative value is `>= u` (binary
    ///   search).
    ///
    /// Errors on non-float dtypes, tensors that are not 1-D or 2-D, `num_samples == 0`,
    /// more samples than classes without replacement, more than 2^24 classes, negative,
    /// infinite or NaN entries, and rows summing to 0.
    pub fn multinomial_with(&self, num_samples: usize, replacement: bool, g: &mut Generator) -> Result<Self> {
        const OP: &str = "multinomial";
        check_float(OP, self.dtype())?;
        if self.ndim() == 0 || self.ndim() > 2 {
            return Err(Error::invalid(
                OP,
                format!("expects 1-D or 2-D probabilities, got shape {}", self.shape()),
            ));
        }
        if num_samples == 0 {
            return Err(Error::invalid(
                OP,
                "cannot draw num_samples = 0 samples (expected num_samples >= 1)",
            ));
        }
        let c = self.dims()[self.ndim() - 1];
        let rows = if self.ndim() == 2 { self.dims()[0] } else { 1 };
        if !replacement && num_samples > c {
            return Err(Error::invalid(
                OP,
                format!(
                    "cannot draw {num_samples} samples without replacement from {c} categories (shape {})",
                    self.shape()
                ),
            ));
        }
        if c > 1 << 24 {
            return Err(Error::invalid(OP, format!("the number of categories cannot exceed 2^24, got {c}")));
        }
        let out_shape =
            if self.ndim() == 2 { Shape::new(&[rows, num_samples]) } else { Shape::new(&[num_samples]) };
        let (mut out, total) = buffer::<i64>(OP, &out_shape)?;
        if total == 0 {
            return Ok(TensorData::from_vec_unchecked(out, out_shape));
        }
        with_float!(self.dtype(), OP, |T| {
            let p = self.values::<T>()?;
            if c == 0 {
                return Err(Error::invalid(
                    OP,
                    format!("cannot sample from 0 categories (shape {})", self.shape()),
                ));
            }
            if let Some(bad) = p.iter().find(|&&x| !(x >= T::ZERO && x.is_finite())) {
                return Err(Error::invalid(
                    OP,
                    format!(
                        "probabilities must be finite and non-negative, found {bad} (shape {})",
                        self.shape()
                    ),
                ));
            }
            for (r, row) in p.chunks(c).enumerate() {
                if row.iter().fold(T::ZERO, |a, &x| a + x) <= T::ZERO {
                    return Err(Error::invalid(OP, format!("row {r} of the probabilities sums to 0 (shape {}); every row needs a positive entry", self.shape())));
                }
            }
            if !replacement || num_samples == 1 {
                // q = p / E with E ~ Exp(1), drawn over the whole tensor first.
                let mut q: Vec<T> = Vec::new();
                q.try_reserve_exact(p.len()).map_err(|_| Error::invalid(OP, "out of memory"))?;
                // E = -1/lambda * ln(1 - u) with lambda = 1.
                q.extend(p.iter().map(|&x| x / T::c(-(-g.uniform_f64()).ln_1p())));
                for row in q.chunks(c) {
                    if num_samples == 1 {
                        out.push(argmax_nan_first(row) as i64);
                    } else {
                        let mut idx: Vec<usize> = (0..c).collect();
                        idx.sort_by(|&a, &b| descending_nan_first(row[a], row[b]));
                        out.extend(idx[..num_samples].iter().map(|&i| i as i64));
                    }
                }
            } else {
                let mut cum = vec![T::ZERO; c];
                for row in p.chunks(c) {
                    let mut sum = T::ZERO;
                    for (cj, &x) in cum.iter_mut().zip(row) {
                        sum += x;
                        *cj = sum;
                    }
                    for cj in cum.iter_mut() {
                        *cj /= sum;
                    }
                    cum[c - 1] = T::ONE;
                    for _ in 0..num_samples {
                        let u = g.uniform_f64();
                        let (mut left, mut right) = (0usize, c);
                        while right > left {
                            let mid = left + (right - left) / 2;
                            if cum[mid].to_f64() < u {
                                left = mid + 1;
                            } else {
                                right = mid;
                            }
                        }
                        out.push(left as i64);
                    }
                }
            }
            Ok(TensorData::from_vec_unchecked(out, out_shape))
        })
    }

    /// `torch.rand` from the global generator.
    pub fn rand(shape: impl Into<Shape>, dtype: DType) -> Result<Self> {
        with_global(|g| Self::rand_with(shape, dtype, g))
    }

    /// `torch.randn` from the global generator.
    pub fn randn(shape: impl Into<Shape>, dtype: DType) -> Result<Self> {
        with_global(|g| Self::randn_with(shape, dtype, g))
    }

    /// `torch.randint` from the global generator.
    pub fn randint(low: i64, high: i64, shape: impl Into<Shape>) -> Result<Self> {
        with_global(|g| Self::randint_with(low, high, shape, g))
    }

    /// `torch.randperm` from the global generator.
    pub fn randperm(n: usize) -> Result<Self> {
        with_global(|g| Self::randperm_with(n, g))
    }

    /// `torch.multinomial` from the global generator.
    pub fn multinomial(&self, num_samples: usize, replacement: bool) -> Result<Self> {
        with_global(|g| self.multinomial_with(num_samples, replacement, g))
    }

    /// `torch.bernoulli` from the global generator.
    pub fn bernoulli(&self) -> Result<Self> {
        with_global(|g| self.bernoulli_with(g))
    }

    // ----- in-place fills: the value is replaced by a fresh contiguous tensor -------------

    /// `self.normal_(mean, std, generator=g)`: replaces the value with normal samples of the
    /// same shape and dtype (see [`TensorData::normal_with`]).
    pub fn normal_(&mut self, mean: f64, std: f64, g: &mut Generator) -> Result<()> {
        *self = Self::normal_with(self.shape().clone(), mean, std, self.dtype(), g)?;
        Ok(())
    }

    /// `self.uniform_(low, high, generator=g)` (see [`TensorData::uniform_with`]).
    pub fn uniform_(&mut self, low: f64, high: f64, g: &mut Generator) -> Result<()> {
        *self = Self::uniform_with(self.shape().clone(), low, high, self.dtype(), g)?;
        Ok(())
    }

    /// `self.exponential_(lambd, generator=g)` (see [`TensorData::exponential_with`]).
    pub fn exponential_(&mut self, lambd: f64, g: &mut Generator) -> Result<()> {
        *self = Self::exponential_with(self.shape().clone(), lambd, self.dtype(), g)?;
        Ok(())
    }

    /// `self.bernoulli_(p, generator=g)` (see [`TensorData::bernoulli_scalar_with`]).
    pub fn bernoulli_(&mut self, p: f64, g: &mut Generator) -> Result<()> {
        *self = Self::bernoulli_scalar_with(self.shape().clone(), p, self.dtype(), g)?;
        Ok(())
    }

    /// `self.random_(generator=g)` (see [`TensorData::random_with`]).
    pub fn random_(&mut self, g: &mut Generator) -> Result<()> {
        *self = Self::random_with(self.shape().clone(), self.dtype(), g)?;
        Ok(())
    }
}

/// The index of the first largest value, NaN counting as larger than everything (argmax).
fn argmax_nan_first<T: Float>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate().skip(1) {
        let b = row[best];
        if !b.is_nan() && (x.is_nan() || x > b) {
            best = i;
        }
    }
    best
}

/// Descending order with NaN first (topk's order); ties keep the lower index first when
/// used with a stable sort.
fn descending_nan_first<T: Float>(a: T, b: T) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bulk generation is the same sequence as one call at a time, across twists and from
    /// any starting point: the 10000th output of seed 5489 is still 4123659995.
    #[test]
    fn bulk_draws_are_the_same_stream() {
        let mut g = Generator::new(5489);
        let _ = g.next_u32(); // start mid-state
        let mut bulk = vec![0u32; 9_999];
        g.engine.fill(&mut bulk[..1000]);
        g.engine.fill(&mut bulk[1000..]);
        assert_eq!(bulk[9_998], 4_123_659_995);
        let (mut a, mut b) = (Generator::new(7), Generator::new(7));
        let mut u = vec![0.0; 1500];
        a.uniform_f64_into(&mut u);
        assert!(u.iter().all(|&u| u == b.uniform_f64()));
        let mut u = vec![0.0f32; 1500];
        a.uniform_f32_into(&mut u);
        assert!(u.iter().all(|&u| u == b.uniform_f32()));
    }

    /// The f32 normal transform gives the bits of its definition computed with the standard
    /// library's f64 `ln`, `sin` and `cos` (what its vector forms replaced), at every
    /// capability, on 2^16 uniforms: the f64 values differ in their last bits at most,
    /// which moves none of these f32 roundings.
    #[test]
    fn normal_blocks_match_their_definition_with_std_math() {
        let mut u = vec![0f32; 1 << 16];
        Generator::new(7).uniform_f32_into(&mut u);
        let (mean, std) = (0.25f32, 1.5f32);
        let mut want = u.clone();
        for d in want.chunks_exact_mut(16) {
            for j in 0..8 {
                let radius = (-2.0f32 * ((1.0f32 - d[j]) as f64).ln() as f32).sqrt();
                let theta = ((2.0 * std::f64::consts::PI) as f32 * d[j + 8]) as f64;
                d[j] = (radius * theta.cos() as f32).mul_add(std, mean);
                d[j + 8] = (radius * theta.sin() as f32).mul_add(std, mean);
            }
        }
        for cap in crate::simd::available() {
            let mut got = u.clone();
            normal_blocks_f32(cap, &mut got, mean, std);
            let differ = got.iter().zip(&want).filter(|(g, w)| g.to_bits() != w.to_bits()).count();
            assert_eq!(differ, 0, "{cap:?}: {differ} of {} values", u.len());
        }
    }

    /// The multiplicative remainder is `%` for divisors from 1 to 2^28 - 1 (the range
    /// `randint` uses it for) and words from 0 to 2^32 - 1.
    #[test]
    fn remainders_by_multiplication_are_exact() {
        let mut g = Generator::new(3);
        let mut ds: Vec<u32> = (1..=300).chain([1 << 27, (1 << 28) - 1, 65_537, 1_000_003]).collect();
        ds.extend((0..200).map(|_| g.next_u32() >> 4));
        for d in ds.into_iter().filter(|&d| d > 0) {
            let r = Remainder::new(d);
            let ws = [0, 1, d - 1, d, d.wrapping_mul(3).wrapping_add(1), u32::MAX, u32::MAX - 1];
            for w in ws.into_iter().chain((0..300).map(|_| g.next_u32())) {
                assert_eq!(r.of(w), w % d, "{w} % {d}");
            }
        }
    }

    /// The reference outputs of mt19937 (C++ `std::mt19937` with the default seed 5489: its
    /// 10000th output is 4123659995, as the C++ standard requires).
    #[test]
    fn twister_matches_the_standard() {
        let mut g = Generator::new(5489);
        let first: Vec<u32> = (0..3).map(|_| g.next_u32()).collect();
        assert_eq!(first, [3_499_211_612, 581_869_302, 3_890_346_734]);
        let mut g = Generator::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = g.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn state_round_trips_through_bytes() {
        let mut g = Generator::new(7);
        let _ = TensorData::randn_with([3], DType::F32, &mut g).unwrap(); // leaves a cached normal
        let state = g.get_state();
        let bytes = state.to_bytes();
        assert_eq!(bytes.len(), STATE_BYTES);
        let back = GeneratorState::from_bytes(&bytes).unwrap();
        assert_eq!(back, state);
        let a = TensorData::randn_with([5], DType::F64, &mut g).unwrap().to_vec::<f64>().unwrap();
        let mut h = Generator::new(0);
        h.set_state(&back);
        assert_eq!(TensorData::randn_with([5], DType::F64, &mut h).unwrap().to_vec::<f64>().unwrap(), a);
        assert!(GeneratorState::from_bytes(&bytes[1..]).is_err());
        let mut bad = bytes.clone();
        bad[8..12].copy_from_slice(&0i32.to_le_bytes());
        assert!(GeneratorState::from_bytes(&bad).is_err());
    }
}
