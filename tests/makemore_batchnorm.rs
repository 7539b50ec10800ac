//! makemore part 3 (`crates/examples/src/makemore_batchnorm.rs`) against PyTorch 2.9.1:
//! `tools/lectures/makemore_batchnorm.py --steps 5` printed the quoted lines (the full
//! 200,000-step comparison is in docs/guide/12-makemore-batchnorm.md).

mod printed;

/// What PyTorch printed: parameter count, the first losses, the diagnostics after the last
/// step, train/val loss in eval mode and 20 names sampled with `Generator(2147483657)`.
const PYTORCH: &str = "\
47024
      0/      5: 3.3170
      1/      5: 3.2956
      2/      5: 3.3100
      3/      5: 3.2934
      4/      5: 3.2661
activation distribution
layer 2 (      Tanh): mean -0.00, std 0.63, saturated: 3.06%
layer 5 (      Tanh): mean -0.00, std 0.64, saturated: 2.75%
layer 8 (      Tanh): mean -0.00, std 0.64, saturated: 2.41%
layer 11 (      Tanh): mean -0.00, std 0.64, saturated: 2.66%
layer 14 (      Tanh): mean -0.00, std 0.64, saturated: 2.91%
gradient distribution
layer 2 (      Tanh): mean +0.000000, std 8.353392e-04
layer 5 (      Tanh): mean -0.000000, std 7.045762e-04
layer 8 (      Tanh): mean +0.000000, std 6.129643e-04
layer 11 (      Tanh): mean +0.000000, std 5.214731e-04
layer 14 (      Tanh): mean -0.000000, std 4.416033e-04
weights gradient distribution
weight   (27, 10) | mean -0.000000 | std 1.610483e-03 | grad:data ratio 1.609318e-03
weight  (30, 100) | mean -0.000065 | std 2.867069e-03 | grad:data ratio 1.532217e-02
weight (100, 100) | mean -0.000059 | std 2.677954e-03 | grad:data ratio 2.686727e-02
weight (100, 100) | mean +0.000003 | std 2.168727e-03 | grad:data ratio 2.152980e-02
weight (100, 100) | mean -0.000023 | std 1.978810e-03 | grad:data ratio 1.972703e-02
weight (100, 100) | mean +0.000003 | std 1.761946e-03 | grad:data ratio 1.754808e-02
weight  (100, 27) | mean -0.000002 | std 2.935344e-03 | grad:data ratio 2.968831e-02
train 3.2805540561676025
val 3.2803990840911865
cbrpzhxqabfhqvkfkwmrpxqthtykhkcaqskejrzhnbnfqpwsyhc.
vgqeiunrzmuqptcmziivduxlhggphhbmgpoinfqbqjtzsrlivwa.
vvdbquwqjehogdjaryxixfkqeupiusdbwed.
ecxia.
gtlffhysflquhpqgmbvdjhksyjrpmqqosozswjcojqmwycjsfrenqkpfsadlnuo.
zoebsrkoiazhrynhr.
opklhynrxph.
xqioloqbprbvbbda.
ipyqmuitjpbvfpzpddgpycsislqwkkmcrnzazqnljydpk.
kvweskatimzamdtevl.
ky.
qdyctoorowooktbymomokibfcw.
zoinhzcs.
nu.
eoaignqqeroqci.
ipjzykbadyieluglc.
nwzyzdjokhnlhfzqsxmuadmtjhvtoyaplwuw.
xisxwrdfv.
zphtzbiuzzsrvgmknbfyntiysfgdglnmmj.
pmgcrvdhpvdafpsdvkhzkxkimtvoscjupgawjmjqjwgvhflwkewtxarclxdctpvhgqllyuil.";

#[test]
fn five_steps_diagnostics_eval_and_samples_are_pytorchs() -> torchlet::Result<()> {
    let mut lines = vec![];
    let d = torchlet_examples::makemore_batchnorm::run(5, |l| lines.push(l))?;
    printed::assert_lines_close(&lines, PYTORCH, 1e-6);

    // what --plot draws: a density histogram per tanh layer (100 bins, each integrating to
    // 1: sum of density * bin width), one per 2-D parameter, and a ratio per step and parameter
    assert_eq!((d.activations.len(), d.gradients.len(), d.weight_gradients.len()), (5, 5, 7));
    for (name, h) in d.activations.iter().chain(&d.gradients) {
        let width = h[1].0 - h[0].0;
        let area: f64 = h.iter().map(|&(_, density)| density * width).sum();
        assert_eq!(h.len(), 100, "{name}");
        assert!((area - 1.0).abs() < 1e-9, "{name}: the density integrates to {area}");
    }
    assert_eq!(d.weights, [0, 1, 4, 7, 10, 13, 16]); // C and the six Linear weights
    assert_eq!((d.ud.len(), d.ud[0].len()), (5, 19));
    // the weights' updates are far smaller than the weights (lr 0.1 times a gradient
    // of std ~1e-3 against weights of std ~0.1-1); gamma (all ones) and beta (all zeros)
    // start with zero spread, so their ratio is infinite at first, in PyTorch too
    for ud in &d.ud {
        assert!(d.weights.iter().all(|&i| ud[i].is_finite() && ud[i] < -1.0), "{ud:?}");
    }
    Ok(())
}
