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

/// Every `random/` case of the curriculum file (PyTorch's CPU random streams: rand, randn,
/// randint, randperm, multinomial, bernoulli, the in-place fills, init, dropout and the
/// DataLoader's shuffle) must pass: float streams within the case tolerance, integers exactly.
#[test]
fn curriculum_random_cases_pass() {
    let path = torchlet_examples::project_path("tests/data/curriculum_cases.json");
    let summary = torchlet_examples::parity::run_file(path, Some("random/")).expect("readable cases");
    let report: Vec<String> = summary.failures.iter().map(|(n, why)| format!("{n}: {why}")).collect();
    assert!(
        summary.failures.is_empty(),
        "{} passed, {} failed:\n{}",
        summary.passed,
        summary.failed(),
        report.join("\n")
    );
    assert_eq!(summary.passed, 363, "the curriculum file has 363 random cases");
}
