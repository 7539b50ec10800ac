//! makemore part 2 (`crates/examples/src/makemore_mlp.rs`) against PyTorch 2.9.1:
//! `tools/lectures/makemore_mlp.py --steps 20000` printed the quoted lines.

mod printed;

#[test]
fn split_sweep_and_first_steps_are_pytorchs() -> torchlet::Result<()> {
    let mut lines = vec![];
    let sweep = torchlet_examples::makemore_mlp::run(10, |l| lines.push(l))?;
    // the split (random.seed(42); random.shuffle), the parameter count and the start of the
    // learning-rate sweep as PyTorch printed them (PyTorch printed the first sweep loss as
    // 24.7655 in one run and 24.7654 in another, so a number may differ by one unit in its last
    // printed digit)
    printed::assert_lines_close(
        &lines[..5],
        "train (28892, 3) dev (3640, 3) test (3590, 3)
parameters: 11897
sweep: lr 0.0010 loss 24.7655
sweep: lr 0.0056 loss 18.0519
sweep: lr 0.0317 loss 9.9139",
        1e-6,
    );
    // the sweep handed back for `--plot` (the lecture's lri, lossi): exponents -3 to 0, the
    // losses the sweep lines print
    assert_eq!(sweep.len(), 1000);
    assert_eq!((sweep[0].0, sweep[999].0), (-3.0, 0.0));
    assert!(sweep.windows(2).all(|w| w[0].0 < w[1].0), "the exponents increase");
    for (i, line) in [0, 250, 500].iter().zip(&lines[2..5]) {
        assert!(line.ends_with(&format!(" loss {:.4}", sweep[*i].1)), "{line} vs sweep[{i}] {:?}", sweep[*i]);
    }
    // "step 0: loss 27.945810" ... "step 4: loss 15.422996": within 1e-6 relative (f32)
    let torch = [27.945810, 22.690788, 23.080338, 22.142765, 15.422996];
    for (i, want) in torch.iter().enumerate() {
        let line = lines.iter().find(|l| l.starts_with(&format!("step {i}: loss "))).expect("step line");
        let got: f64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a number");
        assert!((got - want).abs() <= 1e-6 * want, "{line} vs PyTorch {want}");
    }
    Ok(())
}
