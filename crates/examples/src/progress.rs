//! A progress bar for one training epoch.
//!
//! ```no_run
//! use torchlet_examples::progress::EpochBar;
//!
//! let (epochs, batches) = (3, 100);
//! for epoch in 1..=epochs {
//!     let mut bar = EpochBar::new(epoch, epochs, batches);
//!     let mut running_loss = 0.0;
//!     for batch in 0..batches {
//!         let loss = 1.0 / (epoch * batches + batch) as f64; // a training step goes here
//!         running_loss += (loss - running_loss) / (batch + 1) as f64;
//!         bar.tick(running_loss);
//!     }
//!     bar.finish(0.97);
//! }
//! ```
//!
//! On a terminal this shows, and keeps once the epoch is done:
//!
//! ```text
//! epoch 1/3 [##############################] 100/100  loss 0.0052  test acc 97.00%
//! ```
//!
//! The bar draws on stderr and is hidden — nothing is written at all — when stderr is not a
//! terminal (output piped or redirected, tests, CI), when `TERM` is `dumb` or unset, or when
//! the environment variable `TORCHLET_NO_PROGRESS` is set to anything but `""` or `"0"`.

use std::ffi::OsStr;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The environment variable that turns progress bars off: `TORCHLET_NO_PROGRESS=1`.
pub const NO_PROGRESS_ENV: &str = "TORCHLET_NO_PROGRESS";

/// The progress bar of one epoch: batches done, running loss, and at the end the test
/// accuracy. See the [module docs](self).
#[derive(Debug)]
pub struct EpochBar {
    bar: ProgressBar,
    loss: Option<f64>,
}

impl EpochBar {
    /// A bar for epoch `epoch` of `epochs` (both shown as given, so count from 1) that
    /// expects `batches` calls to [`tick`](Self::tick).
    pub fn new(epoch: usize, epochs: usize, batches: usize) -> Self {
        // `stderr()` is already hidden when stderr is not a terminal or `TERM` is dumb/unset.
        let target =
            if progress_disabled() { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        Self::with_target(epoch, epochs, batches, target)
    }

    /// [`new`](Self::new) drawing to `target`.
    fn with_target(epoch: usize, epochs: usize, batches: usize, target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(batches as u64), target);
        // The template is a constant, so the fallback is never used; it avoids an unwrap.
        let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len}  {msg}")
            .map(|style| style.progress_chars("#>-"))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(format!("{epoch}/{epochs}"));
        EpochBar { bar, loss: None }
    }

    /// Marks one more batch as done and shows `running_loss` (the mean loss of the epoch so
    /// far, or the last batch's loss: whatever the caller wants on screen).
    pub fn tick(&mut self, running_loss: f64) {
        self.loss = Some(running_loss);
        self.bar.set_message(format!("loss {running_loss:.4}"));
        self.bar.inc(1);
    }

    /// Ends the epoch: the bar stays on screen with the last running loss and
    /// `test_accuracy`, a fraction in `[0, 1]` shown as a percentage (`0.97` → `97.00%`).
    pub fn finish(self, test_accuracy: f64) {
        let accuracy = format!("test acc {:.2}%", test_accuracy * 100.0);
        let msg = match self.loss {
            Some(loss) => format!("loss {loss:.4}  {accuracy}"),
            None => accuracy,
        };
        self.bar.finish_with_message(msg);
    }

    /// Whether nothing is drawn (stderr is not a terminal, or progress is turned off with
    /// [`NO_PROGRESS_ENV`]).
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }
}

/// A progress bar over training steps: `step [####>---] 1200/5000  loss 2.1034`. Hidden
/// under the same conditions as [`EpochBar`].
#[derive(Debug)]
pub struct StepBar {
    bar: ProgressBar,
}

impl StepBar {
    /// A bar expecting `steps` calls to [`tick`](Self::tick).
    pub fn new(steps: usize) -> Self {
        let target =
            if progress_disabled() { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(Some(steps as u64), target);
        let style = ProgressStyle::with_template("step [{bar:30}] {pos}/{len}  {msg}  {elapsed}<{eta}")
            .map(|style| style.progress_chars("#>-"))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        StepBar { bar }
    }

    /// Marks one more step as done and shows its `loss`.
    pub fn tick(&self, loss: f64) {
        self.bar.set_message(format!("loss {loss:.4}"));
        self.bar.inc(1);
    }

    /// Prints `line` above the bar (or plainly when the bar is hidden).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            println!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the bar from the screen.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// Whether `TORCHLET_NO_PROGRESS` asks for no progress bars.
fn progress_disabled() -> bool {
    disables_progress(std::env::var_os(NO_PROGRESS_ENV).as_deref())
}

/// Whether a value of `TORCHLET_NO_PROGRESS` turns progress bars off: set, and not `""` or `"0"`.
fn disables_progress(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_that_disable_progress() {
        assert!(!disables_progress(None));
        assert!(!disables_progress(Some(OsStr::new(""))));
        assert!(!disables_progress(Some(OsStr::new("0"))));
        assert!(disables_progress(Some(OsStr::new("1"))));
        assert!(disables_progress(Some(OsStr::new("true"))));
    }

    #[test]
    fn a_hidden_bar_takes_ticks_and_finishes() {
        let mut bar = EpochBar::with_target(1, 2, 3, ProgressDrawTarget::hidden());
        assert!(bar.is_hidden());
        for loss in [0.9, 0.5, 0.25, f64::NAN] {
            bar.tick(loss);
        }
        assert_eq!(bar.bar.position(), 4);
        assert_eq!(bar.loss.map(f64::is_nan), Some(true));
        bar.finish(0.5);
    }
}
