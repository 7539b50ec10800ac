//! The math ops of issue 16 (activations with options, `pow` forms, reductions over dim
//! lists with `var`/`std` corrections, `cumsum`, `prod`, `logsumexp`, vector norms, `histc`,
//! `max_dim` ties) against values printed by PyTorch 2.9.1 in f64: each block quotes the
//! PyTorch expression. Outputs are the op's values; gradients are those of `y.sum()`.

// The expected values are PyTorch's printed numbers, some of which are constants like ln 2.
#![allow(clippy::approx_constant)]

use torchlet_autograd::{Dims, Result, Tensor, TensorData};

/// An f64 tensor.
fn f64t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_data(TensorData::from_vec(v.to_vec(), shape.to_vec()).unwrap())
}

/// `f(x)` and the gradient of `f(x).sum()` with respect to `x` (an f64 leaf of `shape`).
fn run(x: &[f64], shape: &[usize], f: impl Fn(&Tensor) -> Result<Tensor>) -> (Vec<f64>, Vec<f64>) {
    let x = f64t(x, shape).requires_grad_(true).unwrap();
    let y = f(&x).unwrap();
    y.sum().unwrap().backward().unwrap();
    (y.data().to_f64_vec(), x.grad_data().expect("a gradient").to_f64_vec())
}

/// Elementwise `|a - b| <= 1e-12 (1 + |b|)`; NaN matches NaN, an infinity the same infinity.
fn close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let ok = if b.is_nan() {
            a.is_nan()
        } else if b.is_infinite() {
            a == b
        } else {
            (a - b).abs() <= 1e-12 * (1.0 + b.abs())
        };
        assert!(ok, "{what}[{i}]: {a} but PyTorch gives {b} (all: {got:?})");
    }
}

fn check(what: &str, (y, g): (Vec<f64>, Vec<f64>), want_y: &[f64], want_g: &[f64]) {
    close(&format!("{what} output"), &y, want_y);
    close(&format!("{what} grad"), &g, want_g);
}

const X: [f64; 5] = [-1.5, -0.25, 0.0, 0.5, 2.0];
/// `m = torch.tensor([[1., 2., 4.], [3., 3., 0.]], dtype=torch.float64)`.
const M: [f64; 6] = [1.0, 2.0, 4.0, 3.0, 3.0, 0.0];

#[test]
fn activations_match_pytorch() {
    // F.gelu(x) for x = [-1.5, -0.25, 0, 0.5, 2]
    check(
        "gelu",
        run(&X, &[5], |x| x.gelu()),
        &[-0.10021080190328704, -0.10032341857926907, 0.0, 0.34573123063700656, 1.9544997361036416],
        &[-0.1274691922299796, 0.304626645116364, 0.5, 0.8674951246561629, 1.085231801078197],
    );
    // F.gelu(x, approximate='tanh')
    check(
        "gelu tanh",
        run(&X, &[5], |x| x.gelu_with("tanh".parse()?)),
        &[-0.10042842301976707, -0.100324649298315, 0.0, 0.34571400982514394, 1.954597694087775],
        &[-0.12771079315143308, 0.30464590484893955, 0.5, 0.8673699035346424, 1.0860992566236183],
    );
    // F.silu(x)
    check(
        "silu",
        run(&X, &[5], |x| x.silu()),
        &[-0.2736382857095345, -0.10945587477855048, 0.0, 0.3112296656009273, 1.7615941559557646],
        &[-0.041294154299142946, 0.37628997842980233, 0.5, 0.7399611873026519, 1.0907842487848955],
    );
    // F.leaky_relu(x, 0.1): the slope also at 0
    check(
        "leaky_relu",
        run(&X, &[5], |x| x.leaky_relu(0.1)),
        &[-0.15000000000000002, -0.025, 0.0, 0.5, 2.0],
        &[0.1, 0.1, 0.1, 1.0, 1.0],
    );
    // F.softplus(x, beta=2, threshold=1): x itself (gradient 1) where 2x > 1
    check(
        "softplus",
        run(&X, &[5], |x| x.softplus_with(2.0, 1.0)),
        &[0.02429367578687103, 0.23703849209005334, 0.34657359027997264, 0.6566308437591114, 2.0],
        &[0.04742587317756679, 0.37754066879814546, 0.5, 0.7310585786300049, 1.0],
    );
    // F.logsigmoid(x)
    check(
        "logsigmoid",
        run(&X, &[5], |x| x.log_sigmoid()),
        &[
            -1.7014132779827524,
            -0.8259394198788436,
            -0.6931471805599453,
            -0.4740769841801067,
            -0.1269280110429725,
        ],
        &[0.8175744761936437, 0.5621765008857982, 0.5, 0.37754066879814546, 0.11920292202211755],
    );
    // torch.sign / floor / round: zero gradients; round(-0.25) = -0.0, halves to even
    check("sign", run(&X, &[5], |x| x.sign()), &[-1.0, -1.0, 0.0, 1.0, 1.0], &[0.0; 5]);
    check("floor", run(&X, &[5], |x| x.floor()), &[-2.0, -1.0, 0.0, 0.0, 2.0], &[0.0; 5]);
    check("round", run(&X, &[5], |x| x.round()), &[-2.0, -0.0, 0.0, 0.0, 2.0], &[0.0; 5]);
}

#[test]
fn roots_logs_and_powers_match_pytorch() {
    let p = [0.25, 1.0, 4.0];
    // torch.rsqrt(p)
    check("rsqrt", run(&p, &[3], |x| x.rsqrt()), &[2.0, 1.0, 0.5], &[-4.0, -0.5, -0.0625]);
    // torch.log10(p)
    check(
        "log10",
        run(&p, &[3], |x| x.log10()),
        &[-0.6020599913279624, 0.0, 0.6020599913279624],
        &[1.7371779276130075, 0.43429448190325187, 0.10857362047581297],
    );
    // torch.log2(p)
    check(
        "log2",
        run(&p, &[3], |x| x.log2()),
        &[-2.0, 0.0, 2.0],
        &[5.7707801635558535, 1.4426950408889634, 0.36067376022224085],
    );
    // 10 ** p
    check(
        "rpow",
        run(&p, &[3], |x| x.rpow(10.0)),
        &[1.7782794100389228, 10.0, 10000.0],
        &[4.09463966073387, 23.02585092994046, 23025.850929940458],
    );
    // p ** torch.tensor([2., 0.5, -1.])
    let e = f64t(&[2.0, 0.5, -1.0], &[3]);
    check("pow tensor", run(&p, &[3], |x| x.pow(&e)), &[0.0625, 1.0, 0.25], &[0.5, 0.5, -0.0625]);
}

/// `x ** e` for one number `e` takes PyTorch's shortcuts, so its f32 bits are PyTorch's:
/// for `e = 3` and `-2` they differ from the correctly rounded power (`x.double().pow(e)
/// .float()`, quoted in the comments) in the last bit, and the special values follow the
/// shortcut (`(-0) ** -0.5 = 1 / sqrt(-0) = -inf`, `nan ** 0 = 1`).
#[test]
fn pow_by_a_number_has_pytorchs_f32_bits() {
    let pow = |x: &[f32], e: f64| -> Vec<f32> {
        let t = Tensor::from_data(TensorData::from_vec(x.to_vec(), vec![x.len()]).unwrap());
        t.pow(e).unwrap().data().to_f64_vec().into_iter().map(|v| v as f32).collect()
    };
    let same = |what: &str, got: Vec<f32>, want: &[f32]| {
        let bits =
            |v: &[f32]| v.iter().map(|v| if v.is_nan() { u32::MAX } else { v.to_bits() }).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(want), "{what}: {got:?}, PyTorch {want:?}");
    };
    let x = [-0.300_501_53_f32, -1.827_566_7, -2.136_433_8];
    // torch.tensor(x).pow(3.0); the correctly rounded cubes are -0.027135638520121574,
    // -6.104073524475098 and -9.75143051147461
    same("pow 3", pow(&x, 3.0), &[-0.027_135_637, -6.104_073, -9.751_431]);
    let x = [-0.300_501_53_f32, -2.939_316_7, -4.827_288_6];
    // torch.tensor(x).pow(-2.0); correctly rounded 11.074053764343262, 0.11574632674455643,
    // 0.04291345179080963
    same("pow -2", pow(&x, -2.0), &[11.074_055, 0.115_746_334, 0.042_913_456]);
    // torch.tensor([-0.0, nan, -4.0, inf]).pow(e)
    let x = [-0.0f32, f32::NAN, -4.0, f32::INFINITY];
    let nan = f32::NAN;
    same("pow 0", pow(&x, 0.0), &[1.0, 1.0, 1.0, 1.0]);
    same("pow 1", pow(&x, 1.0), &[-0.0, nan, -4.0, f32::INFINITY]);
    same("pow 0.5", pow(&x, 0.5), &[-0.0, nan, nan, f32::INFINITY]);
    same("pow -0.5", pow(&x, -0.5), &[f32::NEG_INFINITY, nan, nan, 0.0]);
    same("pow 3 special", pow(&x, 3.0), &[-0.0, nan, -64.0, f32::INFINITY]);
    same("pow -2 special", pow(&x, -2.0), &[f32::INFINITY, nan, 0.0625, 0.0]);
    // x = torch.tensor([1.5, -2.25, 0.3], requires_grad=True); x.pow(e).sum().backward()
    let grad = |e: f64| -> Vec<f32> {
        let x = Tensor::from_data(TensorData::from_vec(vec![1.5f32, -2.25, 0.3], vec![3]).unwrap());
        let x = x.requires_grad_(true).unwrap();
        x.pow(e).unwrap().sum().unwrap().backward().unwrap();
        x.grad_data().unwrap().to_f64_vec().into_iter().map(|v| v as f32).collect()
    };
    same("grad 3", grad(3.0), &[6.75, 15.1875, 0.27]); // (f32 0.27 prints as 0.27000001072883606)
    same("grad 2", grad(2.0), &[3.0, -4.5, 0.6]);
    same("grad -1", grad(-1.0), &[-0.444_444_45, -0.197_530_87, -11.111_111]);
}

#[test]
fn var_and_std_match_pytorch() {
    // m.var(1)
    check(
        "var dim 1",
        run(&M, &[2, 3], |x| x.var_dim(1, false)),
        &[2.333333333333333, 3.0],
        &[-1.3333333333333335, -0.3333333333333335, 1.6666666666666665, 1.0, 1.0, -2.0],
    );
    // m.var(correction=0)
    check(
        "var all c0",
        run(&M, &[2, 3], |x| x.var_with(Dims::All, 0, false)),
        &[1.8055555555555554],
        &[
            -0.38888888888888884,
            -0.055555555555555504,
            0.6111111111111112,
            0.2777777777777778,
            0.2777777777777778,
            -0.7222222222222221,
        ],
    );
    // m.std(0, keepdim=True)
    let r = run(&M, &[2, 3], |x| x.std_dim(0, true));
    let h = std::f64::consts::FRAC_1_SQRT_2;
    check(
        "std dim 0",
        r,
        &[1.4142135623730951, 0.7071067811865476, 2.8284271247461903],
        &[-h, -h, h, h, h, -h],
    );
    // m.var(0, correction=2): n - c = 0 gives inf, and gradients 2 (x - mean) / 0 = +-inf
    let (inf, nan) = (f64::INFINITY, f64::NAN);
    check(
        "var dof 0",
        run(&M, &[2, 3], |x| x.var_with(0, 2, false)),
        &[inf, inf, inf],
        &[-inf, -inf, inf, inf, inf, -inf],
    );
    // m.var(0, correction=3): n - c = -1, the gradient 2 (x - mean) / -1 stays finite
    let r = run(&M, &[2, 3], |x| x.var_with(0, 3, false));
    check("var dof -1", r, &[inf, inf, inf], &[2.0, 1.0, -4.0, -2.0, -1.0, 4.0]);
    // m.std(0, correction=3): g / (2 inf) = 0 before var's rule
    let r = run(&M, &[2, 3], |x| x.std_with(0, 3, false));
    check("std dof -1", r, &[inf, inf, inf], &[0.0; 6]);
    // m.std(0, correction=2): 0 * inf
    check("std dof 0", run(&M, &[2, 3], |x| x.std_with(0, 2, false)), &[inf, inf, inf], &[nan; 6]);
    // m2 = tensor([[1., 2., 3.], [2., 2., 2.]]); m2.var(correction=6) (no dim): inf, NaN
    // where x equals the mean 2; and m2.var((0, 1), correction=6): +-inf, NaN at the mean
    let m2 = [1.0, 2.0, 3.0, 2.0, 2.0, 2.0];
    let r = run(&m2, &[2, 3], |x| x.var_with(Dims::All, 6, false));
    check("var all dof 0", r, &[inf], &[inf, nan, inf, nan, nan, nan]);
    let r = run(&m2, &[2, 3], |x| x.var_with([0, 1], 6, false));
    check("var dims dof 0", r, &[inf], &[-inf, nan, inf, nan, nan, nan]);
    // m2.var((0, 1), correction=6.5): 2 (x - mean) / -0.5
    let r = run(&m2, &[2, 3], |x| x.var_with([0, 1], 6.5, false));
    check("var dims dof -0.5", r, &[inf], &[4.0, -0.0, -4.0, -0.0, -0.0, -0.0]);
    // m.std((0, 1))
    check(
        "std dims",
        run(&M, &[2, 3], |x| x.std_dim([0, 1], false)),
        &[1.4719601443879744],
        &[
            -0.1585187847802434,
            -0.022645540682891895,
            0.24910094751181108,
            0.11322770341445959,
            0.11322770341445959,
            -0.29439202887759486,
        ],
    );
    // torch.tensor([[2.]]).var() and .std(): one value, n - c = 0 and a zero deviation: NaN
    check("var n=1", run(&[2.0], &[1, 1], |x| x.var()), &[nan], &[nan]);
    check("std n=1", run(&[2.0], &[1, 1], |x| x.std()), &[nan], &[nan]);
    // m.mean((0, 1), keepdim=True)
    let r = run(&M, &[2, 3], |x| x.mean_dim([0, 1], true));
    check("mean dims", r, &[2.1666666666666665], &[1.0 / 6.0; 6]);
}

#[test]
fn scans_products_and_norms_match_pytorch() {
    // m.cumsum(1) * tensor([1., 2., 3.]): the gradient is the reversed running sum of [1, 2, 3]
    let w = f64t(&[1.0, 2.0, 3.0], &[3]);
    check(
        "cumsum",
        run(&M, &[2, 3], |x| x.cumsum(1)?.mul(&w)),
        &[1.0, 6.0, 21.0, 3.0, 12.0, 18.0],
        &[6.0, 5.0, 3.0, 6.0, 5.0, 3.0],
    );
    // m.prod(1): the row with a 0 sends the others' product to the 0 only
    check(
        "prod dim",
        run(&M, &[2, 3], |x| x.prod_dim(1, false)),
        &[8.0, 0.0],
        &[8.0, 4.0, 2.0, 0.0, 0.0, 9.0],
    );
    // m.prod()
    check("prod", run(&M, &[2, 3], |x| x.prod()), &[0.0], &[0.0, 0.0, 0.0, 0.0, 0.0, 72.0]);
    // m.logsumexp((0, 1))
    check(
        "logsumexp dims",
        run(&M, &[2, 3], |x| x.logsumexp([0, 1], false)),
        &[4.662273904286409],
        &[
            0.02567406593176372,
            0.06978934688497276,
            0.5156773992407948,
            0.18970711345744634,
            0.18970711345744634,
            0.009444961027576004,
        ],
    );
    // m.norm()
    check(
        "norm",
        run(&M, &[2, 3], |x| x.norm()),
        &[6.244997998398398],
        &[
            0.16012815380508713,
            0.32025630761017426,
            0.6405126152203485,
            0.48038446141526137,
            0.48038446141526137,
            0.0,
        ],
    );
    // torch.linalg.vector_norm(m, 1, dim=1): sign(x), 0 at 0
    let r = run(&M, &[2, 3], |x| x.vector_norm(1.0, 1, false));
    check("1-norm", r, &[7.0, 6.0], &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    // torch.linalg.vector_norm(m, inf)
    let r = run(&M, &[2, 3], |x| x.vector_norm(f64::INFINITY, Dims::All, false));
    check("inf-norm", r, &[4.0], &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    // torch.linalg.vector_norm(m, 3, dim=0, keepdim=True)
    check(
        "3-norm",
        run(&M, &[2, 3], |x| x.vector_norm(3.0, 0, true)),
        &[3.0365889718756622, 3.2710663101885897, 3.9999999999999996],
        &[
            0.10844960613841653,
            0.37383614973583884,
            1.0000000000000002,
            0.9760464552457488,
            0.8411313369056374,
            0.0,
        ],
    );
}

#[test]
fn max_dim_ties_argmax_and_histc_match_pytorch() {
    // m.max(1): values [4, 3], indices [2, 0] (the first of the tied 3s gets the gradient)
    let x = f64t(&M, &[2, 3]).requires_grad_(true).unwrap();
    let (v, i) = x.max_dim(1, false).unwrap();
    v.sum().unwrap().backward().unwrap();
    close("max values", &v.data().to_f64_vec(), &[4.0, 3.0]);
    close("max indices", &i.data().to_f64_vec(), &[2.0, 0.0]);
    close("max grad", &x.grad_data().unwrap().to_f64_vec(), &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    // m.argmax(1) = [2, 0], m.argmin(0) = [0, 0, 1]
    close("argmax", &x.argmax(1, false).unwrap().data().to_f64_vec(), &[2.0, 0.0]);
    close("argmin", &x.argmin(0, false).unwrap().data().to_f64_vec(), &[0.0, 0.0, 1.0]);
    // torch.histc(tensor([0., 1., 1.5, 2., 3., 7.]), bins=4, min=0, max=3) = [1, 1, 2, 1]
    let h = Tensor::from_vec(vec![0.0f32, 1.0, 1.5, 2.0, 3.0, 7.0], [6]).unwrap().histc(4, 0.0, 3.0).unwrap();
    close("histc", &h.data().to_f64_vec(), &[1.0, 1.0, 2.0, 1.0]);
    // torch.histc(tensor([0., 1., 1.5, 2., 3.]), bins=3): the data's range [0, 3] = [1, 2, 2]
    let h = Tensor::from_vec(vec![0.0f32, 1.0, 1.5, 2.0, 3.0], [5]).unwrap().histc(3, 0.0, 0.0).unwrap();
    close("histc default range", &h.data().to_f64_vec(), &[1.0, 2.0, 2.0]);
}
