//! Every `train` parity case (whole training runs: SGD with momentum/dampening/nesterov/
//! weight decay/maximize, Adam, AdamW, amsgrad; cross-entropy, nll, mse, bce, bce-with-logits;
//! f32 and f64) matches PyTorch step by step.

use torchlet::parity::run_file;

#[test]
fn all_train_cases_match_pytorch() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/torch_cases.json");
    let summary = run_file(path, Some("train/")).unwrap();
    let report: Vec<String> = summary.failures.iter().map(|(n, why)| format!("{n}: {why}")).collect();
    assert!(report.is_empty(), "{} train cases failed:\n{}", report.len(), report.join("\n"));
    assert_eq!(summary.passed, 32, "the file holds 32 train cases (16 f32, 16 f64)");
}
