//! The threads the kernels split their work across: rayon's global pool, with the program's
//! main thread as one of its workers.
//!
//! By default rayon's pool has one thread per core and the thread that asks for parallel work
//! is not one of them: it hands the work over, sleeps until the pool is done and is woken
//! again. A training step of a small model (the GPT of the curriculum) runs a few hundred
//! kernels, each far shorter than a millisecond, and that hand-over (a sleep and a wake-up
//! per parallel kernel, the more expensive in a virtual machine) took a fifth of `gpt_step`.
//! [`init`] makes the main thread worker 0 of the global pool instead
//! (`ThreadPoolBuilder::use_current_thread`): its parallel kernels then split in place, like
//! a `rayon::join` inside the pool, the main thread doing its share and stealing the rest
//! while the other workers do theirs (`gpt_step` 13.4 -> 10.6 ms, A/B over 5 rounds).
//!
//! It happens once, when the first tensor buffer of the process is allocated (in `pool`,
//! normally before any kernel runs in parallel), and only when
//! - that is on the main thread (the one the Rust runtime names `main`: a worker thread that
//!   exits would leave the pool one thread short),
//! - that thread is not already a worker of some rayon pool, and
//! - the pool has at least two threads (`RAYON_NUM_THREADS`, else the deprecated
//!   `RAYON_RS_NUM_CPUS`, else the CPUs the process may use, as rayon counts them; the main
//!   thread counts as one): the main thread runs pool work only while it waits inside a
//!   parallel call, so other threads' parallel work needs a second worker.
//!
//! In every other case (another thread first, one thread, an embedding whose main thread has
//! no name, or rayon's global pool already set up by the program or another library) rayon's
//! default pool is used, as before. What a program using rayon itself should know:
//! - it must configure rayon's global pool (`ThreadPoolBuilder::build_global`) before it
//!   creates its first tensor, as before any other use of rayon: afterwards rayon refuses;
//! - while the main thread waits inside a parallel call (a kernel's part stolen by another
//!   worker), it may run jobs that other threads gave the pool, as every rayon worker does;
//! - `rayon::broadcast` and `spawn_broadcast` from another thread complete only when the main
//!   thread next waits inside a parallel call (torchlet and the `gemm` crate use neither),
//!   so a program that broadcasts from other threads should build its own pool first.
//!
//! Rayon's idle workers go to sleep after a few dozen rounds of looking for work (a few tens
//! of microseconds), and waking one costs more than that again in a virtual machine: a
//! (512 x 64) @ (64 x 256) product on 2 threads took 77-79 us when issued back to back and
//! 100-158 us after 20-1000 us of single-threaded work (the GPT's feed-forward layers, between
//! its per-head and normalisation kernels, which are too small to split). OpenMP, which
//! PyTorch uses, keeps its threads spinning for a while after each parallel region. So does
//! torchlet, with this pool: every kernel calls [`keep_awake`] before it splits its work,
//! which hands each other worker a job that looks for work ([`rayon::yield_now`]) until
//! [`LINGER`] has passed without any, then returns, and the worker may sleep again.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

/// How long a worker kept awake by [`keep_awake`] goes on looking for work after it last
/// found some: the most a core spins for nothing after a program's last parallel kernel.
/// (With 1 ms, the product of the module documentation took 77-84 us after 20-1000 us of
/// single-threaded work; rayon's own idle rounds last a few tens of microseconds.)
pub const LINGER: Duration = Duration::from_millis(1);

/// Jobs from [`keep_awake`] queued or running.
static LINGERING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this is the main thread and [`init`] made it worker 0 of the global pool.
    static POOL_MAIN: Cell<bool> = const { Cell::new(false) };
    /// Whether this worker is running a [`linger`] job (one is enough per worker).
    static IN_LINGER: Cell<bool> = const { Cell::new(false) };
}

/// Makes the calling thread worker 0 of rayon's global pool under the conditions of the
/// module documentation; does nothing after the first call.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let main = std::thread::current().name() == Some("main");
        // (Asking whether this thread is a worker does not set up the global pool.)
        let threads = pool_threads();
        if main && rayon::current_thread_index().is_none() && threads >= 2 {
            // Fails when the global pool already exists: rayon's default pool is kept then.
            let built =
                rayon::ThreadPoolBuilder::new().num_threads(threads).use_current_thread().build_global();
            POOL_MAIN.set(built.is_ok());
        }
    });
}

/// The number of threads rayon's default pool would have: `RAYON_NUM_THREADS` when it is a
/// positive number, else `RAYON_RS_NUM_CPUS` when it is, else the number of CPUs the process
/// may use (rayon's own order).
fn pool_threads() -> usize {
    let var = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<usize>().ok()).filter(|&n| n > 0);
    var("RAYON_NUM_THREADS")
        .or_else(|| var("RAYON_RS_NUM_CPUS"))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Keeps the pool's other workers from falling asleep for the next [`LINGER`]: called by
/// every kernel of this crate just before it splits its work across the pool (and by its
/// `gemm` calls that run in parallel), so that the kernels after it find the workers awake.
/// Acts only on the main thread, when [`init`] made it worker 0 of the global pool
/// (elsewhere, and in pools a program builds itself, rayon's default behaviour stays):
/// each other worker not already kept awake gets a job that runs the pool's pending work
/// as it comes ([`rayon::yield_now`]) and returns once [`LINGER`] has passed without any.
/// A worker costs one core spinning meanwhile, as OpenMP's do.
pub fn keep_awake() {
    if !POOL_MAIN.get() {
        return;
    }
    let others = rayon::current_num_threads().saturating_sub(1);
    // Only the main thread adds (checked above); workers only subtract.
    for _ in LINGERING.load(Ordering::Acquire)..others {
        LINGERING.fetch_add(1, Ordering::AcqRel);
        rayon::spawn(linger);
    }
}

/// How many jobs of [`keep_awake`] are queued or running: at most one per worker other than
/// the main thread, and none once [`LINGER`] has passed without parallel work (for tests and
/// diagnostics).
pub fn lingering() -> usize {
    LINGERING.load(Ordering::Acquire)
}

/// The job of [`keep_awake`]: run the pool's work as it comes until none has come for
/// [`LINGER`]. Returns at once on the main thread (which takes it from its own queue only
/// while it waits inside a parallel call, and must not be held there) and on a worker
/// already running one.
fn linger() {
    if !POOL_MAIN.get() && !IN_LINGER.replace(true) {
        let mut last = Instant::now();
        while last.elapsed() < LINGER {
            if rayon::yield_now() == Some(rayon::Yield::Executed) {
                last = Instant::now();
            } else {
                std::hint::spin_loop();
            }
        }
        IN_LINGER.set(false);
    }
    LINGERING.fetch_sub(1, Ordering::AcqRel);
}
