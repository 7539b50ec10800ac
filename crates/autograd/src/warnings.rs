//! Pitfall warnings: torchlet's "teaching tools".
//!
//! Some mistakes give a loss that computes without error but is wrong: softmax (or sigmoid)
//! outputs fed to [`cross_entropy`](crate::functional::cross_entropy), probabilities fed to
//! [`nll_loss`](crate::functional::nll_loss) or [`kl_div`](crate::functional::kl_div),
//! `kl_div`'s element-wise `Mean`, or an `mse_loss` target that silently broadcasts. The losses
//! check for these cheaply and print a warning to stderr, naming *your* line:
//!
//! ```text
//! torchlet warning: cross_entropy expects raw logits; applying softmax/sigmoid first makes the loss wrong. ... (at src/main.rs:12:5)
//! ```
//!
//! The checks never change a result and never fail a call; `docs/warnings.md` lists what each
//! warning catches and why it matters.
//!
//! # How often, and how to silence them
//!
//! Each warning is shown **once per call site** by default: a training loop that makes the
//! same mistake a thousand times prints one line, but two different lines of code that make
//! it print one each. The call site is found with `#[track_caller]`, so it is the line that
//! calls the functional loss (`F::cross_entropy(..)`) or the loss module's `forward`.
//!
//! The mode is global:
//!
//! - in code: [`set_mode`]`(`[`WarningMode::Off`]`)` (or `Once`, the default, or `Always`:
//!   every call that makes the mistake prints);
//! - from the shell, without recompiling: `TORCHLET_WARNINGS=off|once|always cargo run`
//!   (read once, the first time a warning is considered; [`set_mode`] overrides it).
//!
//! ```
//! use torchlet_autograd::functional as F;
//! use torchlet_autograd::warnings::{self, WarningMode};
//! use torchlet_autograd::{Tensor, TensorData};
//!
//! let logits = Tensor::from([[2.0f32, -1.0, 0.5]]);
//! let target = Tensor::from_data(TensorData::from(vec![0i64]));
//! // The mistake: softmax before cross_entropy. `capture` records instead of printing.
//! let (loss, seen) = warnings::capture(|| F::cross_entropy(&logits.softmax(1)?, &target));
//! loss?;
//! assert_eq!(seen.len(), 1);
//! assert!(seen[0].starts_with("torchlet warning: cross_entropy expects raw logits"));
//! // Correct use is silent.
//! let (_, seen) = warnings::capture(|| F::cross_entropy(&logits, &target));
//! assert!(seen.is_empty());
//! # let _ = WarningMode::Once;
//! # Ok::<(), torchlet_autograd::Error>(())
//! ```
//!
//! # Testing
//!
//! [`capture`] runs a closure and returns the warnings it emitted on the current thread
//! instead of printing them, so tests running in parallel do not see each other's warnings.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::panic::Location;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use torchlet_tensor_core::{Error, Result};

/// How often a pitfall warning is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum WarningMode {
    /// Never (the checks are skipped too).
    Off,
    /// Once per call site and kind of warning (the default).
    #[default]
    Once,
    /// Every time the mistake is made.
    Always,
}

impl FromStr for WarningMode {
    type Err = Error;
    /// Parses `off`, `once` or `always` (any case, surrounding spaces ignored), the values of
    /// the `TORCHLET_WARNINGS` environment variable.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(WarningMode::Off),
            "once" => Ok(WarningMode::Once),
            "always" => Ok(WarningMode::Always),
            _ => Err(Error::invalid(
                "TORCHLET_WARNINGS",
                format!("{s:?} is not a warning mode (expected \"off\", \"once\" or \"always\")"),
            )),
        }
    }
}

impl fmt::Display for WarningMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WarningMode::Off => "off",
            WarningMode::Once => "once",
            WarningMode::Always => "always",
        })
    }
}

/// The mode set by [`set_mode`]: 0 until it is called (then the environment decides).
static MODE: AtomicU8 = AtomicU8::new(0);
/// The mode from `TORCHLET_WARNINGS`, read once.
static ENV_MODE: OnceLock<WarningMode> = OnceLock::new();
/// The (kind, call site) pairs already warned about, for [`WarningMode::Once`].
static SEEN: Mutex<Option<HashSet<(Pitfall, &'static Location<'static>)>>> = Mutex::new(None);

thread_local! {
    /// Where this thread's warnings go: `None` prints to stderr, `Some` records ([`capture`]).
    static SINK: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Sets the warning mode for the whole process (overrides `TORCHLET_WARNINGS`).
pub fn set_mode(mode: WarningMode) {
    let code = match mode {
        WarningMode::Off => 1,
        WarningMode::Once => 2,
        WarningMode::Always => 3,
    };
    MODE.store(code, Ordering::Relaxed);
}

/// The current warning mode: the last [`set_mode`], else `TORCHLET_WARNINGS`, else
/// [`WarningMode::Once`].
pub fn mode() -> WarningMode {
    match MODE.load(Ordering::Relaxed) {
        1 => WarningMode::Off,
        2 => WarningMode::Once,
        3 => WarningMode::Always,
        _ => *ENV_MODE.get_or_init(env_mode),
    }
}

/// Reads `TORCHLET_WARNINGS`; an unknown value keeps the default and says so (once).
fn env_mode() -> WarningMode {
    match std::env::var("TORCHLET_WARNINGS") {
        Ok(v) => v.parse().unwrap_or_else(|e: Error| {
            emit_line(format!("torchlet warning: {e}; using \"once\""));
            WarningMode::Once
        }),
        Err(_) => WarningMode::Once,
    }
}

/// Runs `f` and returns its result with the warnings it emitted on this thread, each the line
/// that would have been printed (`torchlet warning: <message> (at <file>:<line>:<col>)`),
/// instead of printing them. Other threads keep printing; captures nest.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    /// Restores the previous sink even if `f` panics.
    struct Restore(Option<Option<Vec<String>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(prev) = self.0.take() {
                SINK.with(|s| *s.borrow_mut() = prev);
            }
        }
    }
    let prev = SINK.with(|s| s.borrow_mut().replace(Vec::new()));
    let mut restore = Restore(Some(prev));
    let out = f();
    let seen = SINK.with(|s| s.borrow_mut().take()).unwrap_or_default();
    if let Some(prev) = restore.0.take() {
        SINK.with(|s| *s.borrow_mut() = prev);
    }
    (out, seen)
}

/// The mistakes torchlet warns about (one "once per call site" budget each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Pitfall {
    /// `cross_entropy` on probabilities (softmax or sigmoid outputs).
    CrossEntropyProbabilities,
    /// `nll_loss` on something other than log-probabilities.
    NllNotLogProbabilities,
    /// `kl_div` with the element-wise `Mean` reduction.
    KlDivMean,
    /// `kl_div` with an input that is not log-probabilities.
    KlDivNotLogProbabilities,
    /// `mse_loss` with shapes that differ but broadcast.
    MseBroadcast,
}

fn seen_set<R>(f: impl FnOnce(&mut HashSet<(Pitfall, &'static Location<'static>)>) -> R) -> R {
    // A panic elsewhere while holding the lock cannot leave the set inconsistent: keep going.
    let mut guard = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(HashSet::new))
}

/// Whether a `kind` warning at `at` would be shown now: lets a loss skip its check (the
/// extra pass over the input) when the warning is off or was already shown there.
pub(crate) fn wanted(kind: Pitfall, at: &'static Location<'static>) -> bool {
    match mode() {
        WarningMode::Off => false,
        WarningMode::Always => true,
        WarningMode::Once => seen_set(|s| !s.contains(&(kind, at))),
    }
}

/// Shows the `kind` warning `message()` for the call site `at`, as the mode allows.
pub(crate) fn warn(kind: Pitfall, at: &'static Location<'static>, message: impl FnOnce() -> String) {
    let show = match mode() {
        WarningMode::Off => false,
        WarningMode::Always => true,
        WarningMode::Once => seen_set(|s| s.insert((kind, at))),
    };
    if show {
        emit_line(format!("torchlet warning: {} (at {at})", message()));
    }
}

/// Prints `line` to stderr, or records it when this thread is inside [`capture`].
fn emit_line(line: String) {
    let line = SINK.with(|s| match s.borrow_mut().as_mut() {
        Some(v) => {
            v.push(line);
            None
        }
        None => Some(line),
    });
    if let Some(line) = line {
        eprintln!("{line}");
    }
}
