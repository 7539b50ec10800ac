//! The `digits_train` benchmark's training (docs/benchmarks.md), shortened to 20 epochs,
//! classifies the held-out digits.

use std::path::Path;
use torchlet_examples::demos::{digits_default_path, load_digits, train_digits};

#[test]
fn digits_reach_88_percent_after_20_epochs() {
    // PyTorch reaches ~0.91-0.92 after 30 epochs. Same recipe (batch 32, lr 0.05, momentum
    // 0.9) and PyTorch's initial weights, seeds 0..10: 8 epochs give 0.858-0.889 (too close
    // to 0.88 to assert), 20 epochs 0.900-0.917, 30 epochs 0.906-0.922. So 20 epochs with a
    // 0.88 bar (7+ images of margin) catches a broken optimizer, loss or data pipeline
    // without being flaky, and runs in well under a second even at opt-level 1.
    let data = load_digits(&digits_default_path()).unwrap();
    assert_eq!(data.len(), 1797);
    assert_eq!(data.x.dims(), vec![1797, 64]);
    let px = data.x.to_vec::<f32>().unwrap();
    assert!(px.iter().all(|p| (0.0..=1.0).contains(p)), "pixels are divided by 16");
    for seed in [0, 1] {
        let run = train_digits(&data, 20, seed).unwrap();
        assert_eq!(run.epoch_losses.len(), 20);
        assert!(run.epoch_losses[19] < run.epoch_losses[0] / 3.0, "{:?}", run.epoch_losses);
        assert!(run.test_accuracy >= 0.88, "seed {seed}: test accuracy {}", run.test_accuracy);
        // The per-epoch curve (plotted by `--plot`) ends at the final test accuracy.
        assert_eq!(run.epoch_test_accuracy.len(), 20);
        assert_eq!(run.epoch_test_accuracy[19], run.test_accuracy);
    }
}

#[test]
fn digits_loading_errors_name_the_file_and_line() {
    let missing = load_digits(Path::new("/nonexistent/optdigits.csv")).err().unwrap().to_string();
    assert!(missing.contains("/nonexistent/optdigits.csv") && missing.contains("--data"), "{missing}");
    let dir = std::env::temp_dir().join(format!("torchlet-digits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    let good_row = vec!["0"; 64].join(",") + ",3";
    std::fs::write(&bad, format!("{good_row}\n{},17,3\n", vec!["0"; 63].join(","))).unwrap();
    let e = load_digits(&bad).err().unwrap().to_string();
    assert!(e.contains("bad.csv:2") && e.contains("\"17\""), "{e}");
    std::fs::write(&bad, "1,2,3\n").unwrap();
    assert!(load_digits(&bad).err().unwrap().to_string().contains("expected 65"));
    // Too few rows for the 1437/360 split is an error, not a panic.
    std::fs::write(&bad, format!("{good_row}\n")).unwrap();
    let tiny = load_digits(&bad).unwrap();
    assert!(train_digits(&tiny, 1, 0).is_err());
    std::fs::remove_dir_all(&dir).ok();
}
