//! Every non-`train` PyTorch parity case (`tests/data/torch_cases.json`) must pass through the
//! public API. (`train` cases are whole training runs, covered by the nn work.)

#[test]
fn pytorch_parity_cases_pass() {
    let path = torchlet_examples::project_path("tests/data/torch_cases.json");
    let summary = torchlet_examples::parity::run_file_where(path, |case| case["op"] != "train")
        .expect("readable cases");
    let report: Vec<String> = summary.failures.iter().map(|(n, why)| format!("{n}: {why}")).collect();
    assert!(
        summary.failures.is_empty(),
        "{} passed, {} failed:\n{}",
        summary.passed,
        summary.failed(),
        report.join("\n")
    );
    assert!(summary.passed > 1400, "only {} cases ran", summary.passed);
}

/// Every case of the curriculum file must pass: PyTorch's CPU random streams (float streams
/// within the case tolerance, integers exactly), the curriculum's ops with their gradients
/// and error cases, the layers (BatchNorm's buffers after the call), clipping, schedulers and
/// the `train_model` runs (makemore's MLP with and without BatchNorm, the digits CNN, the
/// lecture's GPT, in f32 and f64).
#[test]
fn curriculum_cases_pass() {
    let path = torchlet_examples::project_path("tests/data/curriculum_cases.json");
    let summary = torchlet_examples::parity::run_file(path, None).expect("readable cases");
    let report: Vec<String> = summary.failures.iter().map(|(n, why)| format!("{n}: {why}")).collect();
    assert!(
        summary.failures.is_empty(),
        "{} passed, {} failed:\n{}",
        summary.passed,
        summary.failed(),
        report.join("\n")
    );
    assert_eq!(summary.passed, 971, "the curriculum file has 971 cases");
}
