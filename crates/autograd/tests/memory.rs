//! 100,000 forward/backward iterations of a small loss must not grow resident memory:
//! every graph is freed by its backward pass and by dropping its tensors.
//! (Linux only: reads /proc/self/statm. Alone in this test binary so no other test's
//! allocations disturb the measurement.)

use torchlet_autograd::{DType, Generator, Tensor, TensorData};

fn resident_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

#[test]
fn training_loop_memory_is_flat() {
    let mut g = Generator::new(0);
    let x = Tensor::from_data(TensorData::randn_with([4, 2], DType::F32, &mut g).unwrap());
    let w = Tensor::from_data(TensorData::randn_with([3, 2], DType::F32, &mut g).unwrap())
        .requires_grad_(true)
        .unwrap();
    let step = || {
        let loss = x.linear(&w, None).unwrap().sigmoid().unwrap().log_softmax(1).unwrap().mean().unwrap();
        loss.backward().unwrap();
        w.zero_grad();
    };
    for _ in 0..10_000 {
        step();
    }
    let Some(before) = resident_kib() else { return };
    for _ in 0..100_000 {
        step();
    }
    let after = resident_kib().unwrap();
    // A leak of even one 16-byte buffer per step would add ~1.6 MB; allow 512 KiB of noise.
    assert!(after <= before + 512, "resident memory grew from {before} KiB to {after} KiB over 100k steps");
}
