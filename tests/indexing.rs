//! Indexing as a learner writes it (`C[X]`, `probs[arange(n), y]`, `x[mask]`,
//! `N[ix1, ix2] += 1`, `x[:, ::2]`, batched `@`), forward values and gradients checked against
//! what PyTorch 2.9.1 prints for the same f64 expressions (quoted beside each assertion), and
//! the errors for bad indices.

use torchlet::prelude::*;

fn close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12 + 1e-10 * w.abs(), "got {got:?}, want {want:?}");
    }
}

/// `torch.arange(n, dtype=float64).view(shape) * scale + shift`, a leaf that requires grad.
fn leaf(n: usize, shape: &[isize], scale: f64, shift: f64) -> Tensor {
    let v: Vec<f64> = (0..n).map(|i| i as f64 * scale + shift).collect();
    Tensor::with_dtype(v, DType::F64).view(shape).unwrap().requires_grad_(true).unwrap()
}

fn grad(t: &Tensor) -> Vec<f64> {
    t.grad().expect("a gradient").to_f64_vec()
}

#[test]
fn embedding_lookup_with_repeated_and_negative_indices() {
    // C = torch.arange(12., dtype=float64).view(4, 3) * 0.1 - 0.5
    // X = tensor([[3, 0], [-1, 1], [0, -4]])   (-1 is row 3, -4 is row 0)
    let c = leaf(12, &[4, 3], 0.1, -0.5);
    let x = Tensor::from([[3i64, 0], [-1, 1], [0, -4]]);
    let e = c.i(&x).unwrap();
    assert_eq!(e.dims(), vec![3, 2, 3]); // torch.Size([3, 2, 3])
    close(
        &e.to_f64_vec(),
        &[
            0.4, 0.5, 0.6, -0.5, -0.4, -0.3, 0.4, 0.5, 0.6, -0.2, -0.1, 0.0, -0.5, -0.4, -0.3, -0.5, -0.4,
            -0.3,
        ],
    );
    // W = torch.arange(1., 19.).view(3, 2, 3); (C[X].tanh() * W).sum().backward()
    let w =
        Tensor::with_dtype((1..=18).map(f64::from).collect::<Vec<_>>(), DType::F64).view([3, 2, 3]).unwrap();
    e.tanh().unwrap().mul(&w).unwrap().sum().unwrap().backward().unwrap();
    // Row 0 is used three times (X = 0 twice, -4 once) and row 3 twice: their gradients add;
    // row 2 is never used (zeros). C.grad:
    close(
        &grad(&c),
        &[
            25.952775187875602,
            30.802996298922398,
            35.69034151123854,
            9.610429829661166,
            10.890729199321838,
            12.0,
            0.0,
            0.0,
            0.0,
            6.845110288649422,
            7.864477329659274,
            8.538933151046674,
        ],
    );
}

#[test]
fn probs_at_arange_and_targets_then_nll() {
    // logits = (torch.arange(12., dtype=float64).view(3, 4) * 0.7 - 4).tanh()
    let logits = leaf(12, &[3, 4], 0.7, -4.0);
    let logits = logits.tanh().unwrap().detach().requires_grad_(true).unwrap();
    let probs = logits.softmax(1).unwrap();
    let y = Tensor::from(vec![2i64, 0, 3]);
    let rows = Tensor::arange(3).unwrap();
    let p = probs.i(s![&rows, &y]).unwrap();
    // probs[torch.arange(3), y]
    close(&p.to_f64_vec(), &[0.24907450951617285, 0.10034961156071445, 0.2561761956944536]);
    let loss = p.log().unwrap().mean().unwrap().neg().unwrap();
    close(&loss.to_f64_vec(), &[1.68366269122774]); // -probs[arange(3), y].log().mean()
    loss.backward().unwrap();
    close(
        &grad(&logits),
        &[
            0.08217391373184398,
            0.08234224163817533,
            -0.2503084968279424,
            0.0857923414579231,
            -0.29988346281309514,
            0.048501046036512105,
            0.09379183853068532,
            0.15759057824589767,
            0.07905497500761968,
            0.08381159293915988,
            0.08507470015506918,
            -0.24794126810184883,
        ],
    );
}

#[test]
fn boolean_mask_selection() {
    // x = (torch.arange(6., dtype=float64).view(2, 3) - 2.5).tanh(); s = x[x > 0]
    let x = leaf(6, &[2, 3], 1.0, -2.5).tanh().unwrap().detach().requires_grad_(true).unwrap();
    let s = x.i(x.gt(0.0).unwrap()).unwrap();
    close(&s.to_f64_vec(), &[0.4621171572600098, 0.9051482536448664, 0.9866142981514303]);
    s.exp().unwrap().sum().unwrap().backward().unwrap();
    // exp(x) where selected, 0 elsewhere.
    close(&grad(&x), &[0.0, 0.0, 0.0, 1.587431271429835, 2.472298423141742, 2.682138162207557]);
}

#[test]
fn index_put_accumulate_counts_repeated_pairs() {
    let (ix1, ix2) = (Tensor::from(vec![0i64, 1, 0, 2, 0]), Tensor::from(vec![1i64, 2, 1, 0, 1]));
    // N = torch.zeros(3, 3, dtype=torch.long); N.index_put_((ix1, ix2), tensor(1), accumulate=True)
    // gives [0, 3, 0, 0, 0, 1, 1, 0, 0] (the pair (0, 1) three times). Note PyTorch's
    // `N[ix1, ix2] += 1` does NOT count repeats (it gives 1 at (0, 1)); makemore loops instead.
    let n = Tensor::zeros_dtype([3, 3], DType::I64).unwrap();
    n.index_put_([&ix1, &ix2], 1, true).unwrap();
    assert_eq!(n.to_vec::<i64>().unwrap(), vec![0, 3, 0, 0, 0, 1, 1, 0, 0]);

    // a = torch.arange(9., dtype=float64).view(3, 3) * 0.1; v = tensor([1., 2., 3., 4., 5.])
    // o = a.index_put((ix1, ix2), v, accumulate=True); (o * o * G).sum().backward(), G = 1..9
    let a = leaf(9, &[3, 3], 0.1, 0.0);
    let v = Tensor::with_dtype(vec![1.0, 2.0, 3.0, 4.0, 5.0], DType::F64).requires_grad_(true).unwrap();
    let o = a.index_put([&ix1, &ix2], &v, true).unwrap();
    close(&o.to_f64_vec(), &[0.0, 9.1, 0.2, 0.3, 0.4, 2.5, 4.6, 0.7, 0.8]);
    let g = Tensor::with_dtype((1..=9).map(f64::from).collect::<Vec<_>>(), DType::F64).view([3, 3]).unwrap();
    o.mul(&o).unwrap().mul(&g).unwrap().sum().unwrap().backward().unwrap();
    // a.grad = 2 o G; v.grad = (2 o G)[ix1, ix2]
    close(&grad(&a), &[0.0, 36.4, 1.2, 2.4, 4.0, 30.0, 64.4, 11.2, 14.4]);
    close(&grad(&v), &[36.4, 30.0, 36.4, 64.4, 36.4]);
}

#[test]
fn slices_with_steps_and_negative_bounds_are_views() {
    // z = torch.arange(20., dtype=float64).view(4, 5) * 0.1
    let z = leaf(20, &[4, 5], 0.1, 0.0);
    let s1 = z.i(s![.., ..;2]).unwrap(); // z[:, ::2]
    assert_eq!(s1.dims(), vec![4, 3]);
    close(&s1.to_f64_vec(), &[0.0, 0.2, 0.4, 0.5, 0.7, 0.9, 1.0, 1.2, 1.4, 1.5, 1.7, 1.9]);
    // PyTorch: s1.is_contiguous() is False and s1._base is z: a strided view, no copy.
    assert!(!s1.data().is_contiguous());
    let s2 = z.i(s![1..-1, -4..;2]).unwrap(); // z[1:-1, -4::2] (literal bounds: no clippy lint)
    close(&s2.to_f64_vec(), &[0.6, 0.8, 1.1, 1.3]);
    let s3 = z.i(s![.., -1]).unwrap(); // z[:, -1]
    close(&s3.to_f64_vec(), &[0.4, 0.9, 1.4, 1.9]);
    // (s1 ** 2).sum() + (s2 * 3).sum() + s3.exp().sum(): the pieces' gradients add up.
    let loss = s1.pow_scalar(2).unwrap().sum().unwrap();
    let loss = loss.add(&s2.mul_scalar(3).unwrap().sum().unwrap()).unwrap();
    let loss = loss.add(&s3.exp().unwrap().sum().unwrap()).unwrap();
    loss.backward().unwrap();
    close(
        &grad(&z),
        &[
            0.0,
            0.0,
            0.4,
            0.0,
            2.29182469764127,
            1.0,
            3.0,
            1.4,
            3.0,
            4.25960311115695,
            2.0,
            3.0,
            2.4,
            3.0,
            6.855199966844676,
            3.0,
            0.0,
            3.4,
            0.0,
            10.485894442279271,
        ],
    );
    // z.t().view(20) raises in PyTorch ("view size is not compatible with input tensor's size
    // and stride ... Use .reshape(...) instead"); so does ours.
    let err = z.t().unwrap().view([20]).unwrap_err().to_string();
    assert!(err.contains("reshape"), "{err}");
}

#[test]
fn batched_matmul_broadcasts_like_attention() {
    // A = (torch.arange(48., dtype=float64).view(2, 3, 2, 4) * 0.05 - 0.5).tanh()
    // B = (torch.arange(24., dtype=float64).view(3, 4, 2) * 0.1 - 1).tanh(); C = A @ B
    let a = leaf(48, &[2, 3, 2, 4], 0.05, -0.5).tanh().unwrap().detach().requires_grad_(true).unwrap();
    let b = leaf(24, &[3, 4, 2], 0.1, -1.0).tanh().unwrap().detach().requires_grad_(true).unwrap();
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.dims(), vec![2, 3, 2, 2]);
    close(
        &c.i(s![1, 2]).unwrap().to_f64_vec(),
        &[2.5691804634127218, 2.7397979387091276, 2.641978336629335, 2.8176952141308127],
    );
    c.tanh().unwrap().sum().unwrap().backward().unwrap();
    // B.grad[0] sums over A's batch of 2 (the broadcast dim).
    let gb = b.grad().unwrap().i(0).unwrap().to_f64_vec();
    close(
        &gb,
        &[
            -0.2322896961689686,
            -0.1997793957006349,
            -0.17132336537563056,
            -0.1307291047938921,
            -0.10925958652168954,
            -0.060622948668069554,
            -0.04628308793383362,
            0.010344696873582415,
        ],
    );
    let ga = a.grad().unwrap().i(s![1, 0]).unwrap().to_f64_vec();
    close(
        &ga,
        &[
            -0.3139268029097952,
            -0.2687396212957098,
            -0.21077037994021328,
            -0.14033139833226524,
            -0.20824646763491875,
            -0.17817998827266657,
            -0.13962247502556677,
            -0.09279198988344638,
        ],
    );
}

#[test]
fn bad_indices_name_the_problem() {
    // torch.zeros(3)[torch.tensor([3])]: "index 3 is out of bounds for dimension 0 with size 3"
    let e = Tensor::zeros([3]).unwrap().i(Tensor::from(vec![3i64])).unwrap_err().to_string();
    assert!(e.contains('3') && e.contains("dimension 0") && e.contains("size 3"), "{e}");
    // torch.zeros(3, 4)[torch.tensor([True, False])]: "The shape of the mask [2] at index 0
    // does not match the shape of the indexed tensor [3, 4] at index 0"
    let e = Tensor::zeros([3, 4]).unwrap().i(Tensor::from(vec![true, false])).unwrap_err().to_string();
    assert!(e.contains("[2]") && e.contains("[3, 4]"), "{e}");
    // F.one_hot(tensor([1, 5, 2]), 3): "Class values must be smaller than num_classes."
    let e = Tensor::from(vec![1i64, 5, 2]).one_hot(Some(3)).unwrap_err().to_string();
    assert!(e.contains('5') && e.contains("num_classes"), "{e}");
    // x[:, ::0] / x[:, ::-1]: "step must be greater than zero"
    let e = Tensor::zeros([2, 3]).unwrap().i(s![.., ..;-1]).unwrap_err().to_string();
    assert!(e.contains("step must be greater than zero"), "{e}");
}

#[test]
fn batched_matmul_with_many_batches_matches_each_product() {
    // 64 products of (32, 48) @ (48, 40), the second operand broadcast over the outer dim:
    // large enough in total for the batches to be spread over the cores. Each batch must
    // equal the 2-D product of its operands.
    let a = Tensor::arange(8 * 8 * 32 * 48).unwrap().to_dtype(DType::F64).unwrap();
    let a = a.mul_scalar(1e-4).unwrap().tanh().unwrap().view([8, 8, 32, 48]).unwrap();
    let b = Tensor::arange(8 * 48 * 40).unwrap().to_dtype(DType::F64).unwrap();
    let b = b.mul_scalar(-3e-4).unwrap().tanh().unwrap().view([1, 8, 48, 40]).unwrap();
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.dims(), vec![8, 8, 32, 40]);
    for (i, j) in [(0, 0), (3, 5), (7, 7)] {
        let want = a.i(s![i, j]).unwrap().matmul(&b.i(s![0, j]).unwrap()).unwrap();
        close(&c.i(s![i, j]).unwrap().to_f64_vec(), &want.to_f64_vec());
    }
}
