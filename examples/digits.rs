//! Handwritten digits (UCI optdigits, 8x8 images): BENCH.md's `digits_train` as a program.
//!
//! `cargo run --release --example digits -- [--epochs N] [--seed S] [--data PATH]`
//!
//! Linear(64,64)-ReLU-Linear(64,10), SGD(lr 0.05, momentum 0.9), batches of 32 in file
//! order, mean cross-entropy; the first 1437 images train, the last 360 test. PyTorch
//! reaches a test accuracy of about 0.91-0.92 with 30 epochs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use torchlet::demos::{digits_default_path, load_digits, train_digits, DIGITS_TRAIN_ROWS};

struct Args {
    epochs: usize,
    seed: u64,
    data: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { epochs: 30, seed: 0, data: digits_default_path() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--epochs" => args.epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--data" => args.data = PathBuf::from(value()?),
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
            eprintln!("usage: cargo run --release --example digits -- [--epochs N] [--seed S] [--data PATH]");
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
        let run = train_digits(&data, args.epochs, args.seed)?;
        let elapsed = start.elapsed();
        println!("{}", run.model);
        for (epoch, loss) in run.epoch_losses.iter().enumerate() {
            println!("epoch {:>3}  mean loss {loss:.4}", epoch + 1);
        }
        println!("train accuracy {:.4}", run.train_accuracy);
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
