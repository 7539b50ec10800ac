//! `cargo run --release --example parity -- FILE [--filter PREFIX]`: runs PyTorch's parity
//! cases through torchlet, prints one line per failing case, then `N passed, M failed`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut file = None;
    let mut filter = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--filter" => filter = it.next().cloned(),
            _ if file.is_none() => file = Some(a.clone()),
            other => {
                eprintln!("unexpected argument {other:?}\nusage: parity FILE [--filter PREFIX]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("usage: parity FILE [--filter PREFIX]");
        return ExitCode::from(2);
    };
    match torchlet_examples::parity::run_file(&file, filter.as_deref()) {
        Ok(summary) => {
            for (name, why) in &summary.failures {
                println!("FAIL {name}: {why}");
            }
            println!("{} passed, {} failed", summary.passed, summary.failed());
            if summary.failed() > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
