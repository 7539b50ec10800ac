//! The fused attention op (no mask) against the composed path (forced by an all-true bool mask,
//! which changes nothing mathematically): the same outputs and gradients, causal or not, with
//! several heads, L != S and Ev != E, in f64. The causal fused op works in blocks of 32
//! queries, each over the keys it sees: the longer cases span several blocks, a partial last
//! one, and more or fewer keys than queries.

use torchlet_autograd::functional::AttentionOpts;
use torchlet_autograd::{DType, Generator, Tensor};

fn leaf(shape: &[usize], g: &mut Generator) -> Tensor {
    Tensor::randn_with(shape, DType::F64, g).unwrap().requires_grad_(true).unwrap()
}

#[test]
fn fused_attention_matches_the_composed_ops() {
    let mut gen = Generator::new(3);
    let cases = [
        (5, 7, true),
        (7, 5, true),
        (6, 6, false),
        (1, 4, true),
        (70, 70, true),
        (45, 80, true),
        (80, 45, true),
        (64, 64, true),
        (40, 40, false),
    ];
    for (l, s, causal) in cases {
        let (q, k, v) =
            (leaf(&[2, 3, l, 4], &mut gen), leaf(&[2, 3, s, 4], &mut gen), leaf(&[2, 3, s, 3], &mut gen));
        let up = Tensor::randn_with([2, 3, l, 3], DType::F64, &mut gen).unwrap();
        let run = |mask: Option<Tensor>| {
            for t in [&q, &k, &v] {
                t.zero_grad();
            }
            let opts = AttentionOpts { is_causal: causal, attn_mask: mask, ..Default::default() };
            let y = q.scaled_dot_product_attention(&k, &v, &opts).unwrap();
            y.backward_with(&up).unwrap();
            let grads: Vec<Vec<f64>> =
                [&q, &k, &v].iter().map(|t| t.grad().unwrap().to_vec::<f64>().unwrap()).collect();
            (y.to_vec::<f64>().unwrap(), grads)
        };
        let (fused, fused_grads) = run(None);
        let all = Tensor::full([l, s], true, DType::Bool).unwrap(); // attend everywhere
        let (composed, composed_grads) = run(Some(all));
        let close =
            |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs()));
        assert!(close(&fused, &composed), "output, l {l} s {s} causal {causal}");
        for (i, (a, b)) in fused_grads.iter().zip(&composed_grads).enumerate() {
            assert!(close(a, b), "gradient {i}, l {l} s {s} causal {causal}");
        }
    }
}
