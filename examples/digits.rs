//! Handwritten digits (UCI optdigits, 8x8 images): the `digits_train` benchmark
//! (docs/benchmarks.md) as a program.
//!
//! `cargo run --release --example digits -- [--epochs N] [--seed S] [--data PATH] [--plot FILE.png]`
//!
//! A progress bar per epoch shows the running loss when stderr is a terminal (quiet
//! otherwise, or with `TORCHLET_NO_PROGRESS=1`); `--plot` writes the loss and test-accuracy
//! curves.
//!
//! Linear(64,64)-ReLU-Linear(64,10), SGD(lr 0.05, momentum 0.9), batches of 32 in file
//! order, mean cross-entropy; the first 1437 images train, the last 360 test. PyTorch
//! reaches a test accuracy of about 0.91-0.92 with 30 epochs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use torchlet_examples::demos::{
    digits_default_path, load_digits, train_digits_observed, DigitsEvent, DIGITS_BATCHES, DIGITS_TRAIN_ROWS,
};
use torchlet_examples::progress::EpochBar;

struct Args {
    epochs: usize,
    seed: u64,
    data: PathBuf,
    plot: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { epochs: 30, seed: 0, data: digits_default_path(), plot: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--epochs" => args.epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--data" => args.data = PathBuf::from(value()?),
            "--plot" => args.plot = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("usage: cargo run --release --example digits -- [--epochs N] [--seed S] [--data PATH] [--plot FILE.png]");
            return ExitCode::from(2);
        }
    };
    let run = || -> torchlet::Result<()> {
        let data = load_digits(&args.data)?;
        println!(
            "{}: {} images ({} train, {} test)",
            args.data.display(),
            data.len(),
            DIGITS_TRAIN_ROWS.min(data.len()),
            data.len().saturating_sub(DIGITS_TRAIN_ROWS)
        );
        let start = Instant::now();
        let mut bar: Option<EpochBar> = None;
        let run = train_digits_observed(&data, args.epochs, args.seed, |event| match event {
            DigitsEvent::Batch { epoch, running_loss, .. } => bar
                .get_or_insert_with(|| EpochBar::new(epoch, args.epochs, DIGITS_BATCHES))
                .tick(running_loss),
            DigitsEvent::Epoch { test_accuracy, .. } => {
                if let Some(b) = bar.take() {
                    b.finish(test_accuracy)
                }
            }
        })?;
        let elapsed = start.elapsed();
        println!("{}", run.model);
        for (epoch, (loss, acc)) in run.epoch_losses.iter().zip(&run.epoch_test_accuracy).enumerate() {
            println!("epoch {:>3}  mean loss {loss:.4}  test accuracy {acc:.4}", epoch + 1);
        }
        println!("train accuracy {:.4}", run.train_accuracy);
        if let Some(path) = &args.plot {
            let title = format!(
                "digits: Linear(64,64)-ReLU-Linear(64,10), SGD(0.05, momentum 0.9), seed {}",
                args.seed
            );
            torchlet_examples::plot::training_curves(
                path,
                &title,
                &run.epoch_losses,
                &run.epoch_test_accuracy,
            )?;
            println!("wrote {}", path.display());
        }
        println!(
            "test accuracy {:.4}  ({} epochs, seed {}, {:.0} ms)",
            run.test_accuracy,
            args.epochs,
            args.seed,
            elapsed.as_secs_f64() * 1e3
        );
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
