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
