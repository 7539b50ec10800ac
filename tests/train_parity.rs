//! Every `train` parity case (whole training runs: SGD with momentum/dampening/nesterov/
//! weight decay/maximize, Adam, AdamW, amsgrad; cross-entropy, nll, mse, bce, bce-with-logits;
//! f32 and f64) matches PyTorch step by step.

use torchlet_examples::parity::run_file;

#[test]
fn all_train_cases_match_pytorch() {
    let path = torchlet_examples::project_path("tests/data/torch_cases.json");
    let summary = run_file(path, Some("train/")).unwrap();
    let report: Vec<String> = summary.failures.iter().map(|(n, why)| format!("{n}: {why}")).collect();
    assert!(report.is_empty(), "{} train cases failed:\n{}", report.len(), report.join("\n"));
    assert_eq!(summary.passed, 32, "the file holds 32 train cases (16 f32, 16 f64)");
}

/// The runner notices a wrong loss or a wrong final parameter, and says which.
#[test]
fn the_train_runner_reports_what_differs() {
    let path = torchlet_examples::project_path("tests/data/torch_cases.json");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case =
        json["cases"].as_array().unwrap().iter().find(|c| c["name"] == "train/f64/xor_seed/sgd2").unwrap();
    assert_eq!(torchlet_examples::parity::run_case(case), Ok(()));

    let mut bad_loss = case.clone();
    let l5 = bad_loss["expected"]["losses"]["data"][5].as_f64().unwrap();
    bad_loss["expected"]["losses"]["data"][5] = (l5 + 1e-6).into();
    let e = torchlet_examples::parity::run_case(&bad_loss).unwrap_err();
    assert!(e.contains("losses (per step): element 5"), "{e}");

    let mut bad_param = case.clone();
    let w = bad_param["expected"]["params"][2]["data"][3].as_f64().unwrap();
    bad_param["expected"]["params"][2]["data"][3] = (w * 1.001).into();
    let e = torchlet_examples::parity::run_case(&bad_param).unwrap_err();
    assert!(e.contains("param 2.weight after step 40: element 3"), "{e}");

    let mut bad_opt = case.clone();
    bad_opt["options"]["optimizer"]["foreach"] = true.into();
    let e = torchlet_examples::parity::run_case(&bad_opt).unwrap_err();
    assert!(e.contains("unsupported SGD option \"foreach\""), "{e}");
}
