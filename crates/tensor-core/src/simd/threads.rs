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

use std::sync::Once;

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
            let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).use_current_thread().build_global();
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
