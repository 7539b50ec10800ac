//! The digits CNN walkthrough against PyTorch 2.9.1: `tools/lectures/cnn_digits.py --epochs 2`
//! printed exactly these lines (same initial weights from `manual_seed(0)`, same shuffled
//! batches, Adam).

#[test]
fn two_epochs_print_pytorchs_lines() -> torchlet::Result<()> {
    let mut lines = vec![];
    torchlet_examples::cnn::run(2, |l| lines.push(l))?;
    let torch = [
        "parameters: 810",
        "epoch 0 step 0: loss 2.279710",
        "epoch 0 step 1: loss 2.259606",
        "epoch 0 step 2: loss 2.257890",
        "epoch 0 step 3: loss 2.267437",
        "epoch 0 step 4: loss 2.134059",
        "epoch 1: train loss 1.4157, test accuracy 0.8444",
        "epoch 2: train loss 0.3444, test accuracy 0.8556",
    ];
    assert_eq!(lines[1..], torch);
    assert!(lines[0].starts_with("Sequential(\n  (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))"));
    Ok(())
}
