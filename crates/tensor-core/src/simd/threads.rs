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
//! before any kernel can run in parallel), and only when that is on the main thread (the one
//! the Rust runtime names `main`: a worker thread that exits would leave the pool one thread
//! short) and the pool has at least two threads (the main thread runs pool work only while it
//! is itself in a parallel kernel, so another thread's kernels need a second worker). In
//! every other case (another thread first, one core, `RAYON_NUM_THREADS=1`, or rayon's global
//! pool already set up by the program or another library) nothing changes: rayon's default
//! pool. `RAYON_NUM_THREADS` sets the number of threads as usual, the main thread counting
//! as one. A program that configures rayon's global pool itself
//! (`ThreadPoolBuilder::build_global`) must do so before it creates its first tensor, as it
//! would before any other use of rayon: afterwards the pool exists and rayon refuses.

use std::sync::Once;

/// Makes the calling thread worker 0 of rayon's global pool if it is the main thread and the
/// pool does not exist yet (see the module documentation); does nothing after the first call.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let threads = pool_threads();
        if std::thread::current().name() == Some("main") && threads >= 2 {
            // Fails when the global pool already exists: rayon's default pool is kept then.
            let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).use_current_thread().build_global();
        }
    });
}

/// The number of threads rayon's default pool would have: `RAYON_NUM_THREADS` when it is a
/// positive number, else the number of CPUs the process may use.
fn pool_threads() -> usize {
    let env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|s| s.trim().parse::<usize>().ok());
    match env {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}
