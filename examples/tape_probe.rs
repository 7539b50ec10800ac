use std::time::Instant;
use torchlet::prelude::*;
fn main() -> Result<()> {
    let x = Tensor::from([[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    let mut g = Generator::new(0);
    let w1 = Tensor::randn_with([5, 2], DType::F32, &mut g)?.requires_grad_(true)?;
    let b1 = Tensor::randn_with([5], DType::F32, &mut g)?.requires_grad_(true)?;
    let w2 = Tensor::randn_with([2, 5], DType::F32, &mut g)?.requires_grad_(true)?;
    let b2 = Tensor::randn_with([2], DType::F32, &mut g)?.requires_grad_(true)?;
    let y = Tensor::from(vec![0i64, 1, 1, 0]).unsqueeze(1)?;
    let step = || -> Result<()> {
        for p in [&w1, &b1, &w2, &b2] {
            p.zero_grad();
        }
        let h = x.linear(&w1, Some(&b1))?.sigmoid()?;
        let o = h.linear(&w2, Some(&b2))?.sigmoid()?;
        let loss = o.log_softmax(1)?.gather(1, &y)?.mean()?.neg()?;
        loss.backward()?;
        Ok(())
    };
    for _ in 0..1000 {
        step()?;
    }
    let t = Instant::now();
    let n = 20000;
    for _ in 0..n {
        step()?;
    }
    println!("step: {:.2} us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    Ok(())
}
