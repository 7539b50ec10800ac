//! makemore part 4 (`crates/examples/src/makemore_backprop.rs`) against PyTorch 2.9.1:
//! `tools/lectures/makemore_backprop.py --steps 5` printed the quoted lines.

mod printed;

/// What PyTorch printed before the gradient checks, and from exercise 4 on.
const PYTORCH_START: &str = "\
4137
loss 3.5513";
const PYTORCH_TRAINING: &str = "\
12297
      0/      5: 3.8116
      1/      5: 3.6640
      2/      5: 3.3383
      3/      5: 3.6233
      4/      5: 3.5240
train 3.4765496253967285
val 3.4489052295684814
cbrmzhxqbw.
hqvbfwimrzxqlhtyrhjcfqszcjrzhnhwfqposvhc.
qgqhicoesmaipjcmmiirduxnhggphhlmgpows.
qbgjt.
srlixwawvvwbqhwqztlojdiaryxmtzkquupdusabwed.
ecoih.
gtlsfwysfwylhpagmbtxjhssymrimqbosozswplojn.
waljifgenzkpfsadlduodzoessr.
ovyzhrynhgaoskchynraes.
xqholoqnpsbvbwdn.
apvqmuitjgbvzmhpodgpycsvwlqzokmcbezauznejydhkhpvwbsdfttmzjmvtevl.
ky.
q.
cctoorwwvytxbyhojokidfcy.
zolndzss.
au.
eoanguhxerrqci.
wckkyfbaxsigtiglconwzysdyokhmlksjqcovyaditjhvyocawiwuw.
qrsxwvmshxqbrtzbiu.
zsrvgmhtbfjntixsfwdkkjmmy.";

#[test]
fn every_manual_gradient_is_autograds() -> torchlet::Result<()> {
    let mut lines = vec![];
    torchlet_examples::makemore_backprop::run(5, |l| lines.push(l))?;
    printed::assert_lines_close(&lines[..2], PYTORCH_START, 1e-6); // parameters, loss 3.5513
                                                                   // exercise 1: the 26 hand-derived gradients equal autograd's bit for bit, as in the
                                                                   // lecture (torchlet reduces a broadcast gradient with the kernel of `sum`, so `sum(1)`
                                                                   // written by hand is the very same sum; PyTorch 2.9.1 itself is exact for the first 11
                                                                   // and within 7.5e-9 for the rest)
    let checks = &lines[2..28];
    let names = ["logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes"];
    for (line, name) in checks.iter().zip(names) {
        assert!(line.starts_with(name), "{line}");
    }
    for line in checks {
        assert!(line.ends_with("| exact: True  | approximate: True  | maxdiff: 0.0"), "{line}");
    }
    assert!(checks[25].starts_with("C "), "{}", checks[25]);
    // exercises 2 and 3: the fused formulas agree with autograd to rounding
    let close = |line: &str, name: &str, below: f64| {
        assert!(line.starts_with(name) && line.contains("| approximate: True  |"), "{line}");
        let maxdiff: f64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a number");
        assert!(maxdiff < below, "{line}");
    };
    let loss_fast: Vec<f64> = lines[28].split(' ').filter_map(|t| t.parse().ok()).collect();
    assert!((loss_fast[0] - 3.5512664318084717).abs() < 1e-6 && loss_fast[1].abs() < 1e-6, "{}", lines[28]);
    close(&lines[29], "logits", 2e-8); // PyTorch: 4.889443516731262e-09
    let bn_fast: f64 = lines[30].rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a number");
    assert!(bn_fast < 2e-6, "{}", lines[30]); // PyTorch: max diff: 4.76837158203125e-07
    close(&lines[31], "hprebn", 5e-9); // PyTorch: 9.313225746154785e-10
                                       // exercise 4: the manual backward pass trains as PyTorch's does: the same losses,
                                       // eval losses and samples
    printed::assert_lines_close(&lines[32..], PYTORCH_TRAINING, 1e-6);
    Ok(())
}
