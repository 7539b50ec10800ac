//! Everything in nn that draws random numbers draws PyTorch's: `Linear`'s init, `nn::init`,
//! dropout, `DataLoader`'s shuffle, `random_split` and `Categorical::sample`. Every expected
//! value below was printed by PyTorch 2.9.1 for the same seed and calls (quoted in each test).

use std::sync::Mutex;
use torchlet_autograd::distributions::Categorical;
use torchlet_autograd::{manual_seed, no_grad, DType, Generator, Tensor};
use torchlet_nn::data::{random_split_fractions_with, random_split_with, DataLoader, Dataset, TensorDataset};
use torchlet_nn::init::{self, FanMode, Nonlinearity};
use torchlet_nn::{dropout, Dropout, Linear, Module};

/// The tests of this file that use the global generator take this lock (tests run in
/// parallel threads and the global generator is one per process, as in PyTorch).
static GLOBAL: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn close(got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 1e-6 * w.abs().max(0.1),
            "element {i}: {g} vs PyTorch {w} (all {got:?})"
        );
    }
}

fn values(t: &Tensor) -> Vec<f32> {
    t.to_vec::<f32>().unwrap()
}

#[test]
fn linear_after_manual_seed_42_has_pytorchs_weights() {
    let _g = lock();
    // torch.manual_seed(42); l = nn.Linear(2, 5); l.weight, l.bias
    manual_seed(42);
    let l = Linear::new(2, 5).unwrap();
    close(
        &values(l.weight()),
        &[
            0.5406103730201721,
            0.5869042277336121,
            -0.16565565764904022,
            0.6495562791824341,
            -0.15492962300777435,
            0.14268755912780762,
            -0.34425848722457886,
            0.4152715504169464,
            0.6233449578285217,
            -0.5187534093856812,
        ],
    );
    close(
        &values(l.bias().unwrap()),
        &[
            0.6146144866943359,
            0.13234160840511322,
            0.5224167704582214,
            0.09576387703418732,
            0.34095847606658936,
        ],
    );
    assert!(l.weight().requires_grad() && l.bias().unwrap().requires_grad());
    // An explicit generator seeded the same way draws the same weights.
    let m = Linear::with_generator(2, 5, true, &mut Generator::new(42)).unwrap();
    assert_eq!(values(m.weight()), values(l.weight()));
}

#[test]
fn gains_and_fans() {
    // [nn.init.calculate_gain(n) for n in [linear, conv2d, sigmoid, tanh, relu, leaky_relu, selu]]
    // (relu: 1.4142135623730951 = sqrt(2))
    let want = [1.0, 1.0, 1.0, 1.6666666666666667, std::f64::consts::SQRT_2, 1.4141428569978354, 0.75];
    for (name, w) in ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"].iter().zip(want) {
        let g = init::calculate_gain(name.parse().unwrap(), None).unwrap();
        assert!((g - w).abs() < 1e-15, "{name}: {g} vs {w}");
    }
    // nn.init.calculate_gain('leaky_relu', 0.2)
    assert!(
        (init::calculate_gain(Nonlinearity::LeakyRelu, Some(0.2)).unwrap() - 1.3867504905630728).abs()
            < 1e-15
    );
    assert!("softplus".parse::<Nonlinearity>().unwrap_err().to_string().contains("softplus"));
    assert!("fan_avg".parse::<FanMode>().is_err());
    let w = Tensor::zeros([6, 2, 3, 2]).unwrap();
    assert_eq!(init::calculate_fan_in_and_fan_out(&w).unwrap(), (12, 36));
    assert!(init::calculate_fan_in_and_fan_out(&Tensor::zeros([5]).unwrap()).is_err());
}

#[test]
fn init_functions_match_pytorch() {
    let _g = lock();
    // torch.manual_seed(0); w = torch.empty(3, 4); kaiming_uniform_(w, mode='fan_out', nonlinearity='relu')
    manual_seed(0);
    let w = Tensor::zeros([3, 4]).unwrap();
    init::kaiming_uniform_(&w, 0.0, FanMode::FanOut, Nonlinearity::Relu).unwrap();
    close(
        &values(&w),
        &[
            -0.010587962344288826,
            0.75864577293396,
            -1.1639615297317505,
            -1.040774941444397,
            -0.5446904897689819,
            0.3792317807674408,
            -0.028020067140460014,
            1.1213150024414062,
            -0.1255030333995819,
            0.3742186725139618,
            -0.4273938238620758,
            -0.27798542380332947,
        ],
    );
    // torch.manual_seed(0); w = torch.empty(20, 2, 3); xavier_normal_(w, gain=2.0); w.flatten()[:4]
    manual_seed(0);
    let w = Tensor::zeros([20, 2, 3]).unwrap();
    init::xavier_normal_(&w, 2.0).unwrap();
    close(
        &values(&w)[..4],
        &[-0.39196711778640747, -0.4012003242969513, -0.08724026381969452, -0.15105721354484558],
    );
    // torch.manual_seed(0); nn.Embedding(4, 3, padding_idx=1).weight
    manual_seed(0);
    let e = init::embedding_weight(4, 3, Some(1), DType::F32).unwrap();
    close(
        &values(&e),
        &[
            1.5409960746765137,
            -0.293428897857666,
            -2.1787893772125244,
            0.0,
            0.0,
            0.0,
            0.40334683656692505,
            0.8380263447761536,
            -0.7192575931549072,
            -0.40334352850914,
            -0.5966353416442871,
            0.18203648924827576,
        ],
    );
    assert!(init::embedding_weight(4, 3, Some(4), DType::F32).is_err());
    // torch.manual_seed(0); c = nn.Conv2d(4, 6, (3, 2), groups=2): weight (6, 2, 3, 2), bias
    manual_seed(0);
    let (w, b) = init::conv2d_parameters(4, 6, (3, 2), 2, true, DType::F32).unwrap();
    assert_eq!(w.dims(), [6, 2, 3, 2]);
    close(&values(&w)[..3], &[-0.0021612588316202164, 0.15485791862010956, -0.2375926673412323]);
    close(
        &values(&b.unwrap()),
        &[
            0.11345218122005463,
            0.23918160796165466,
            0.2512072026729584,
            0.2547144591808319,
            0.0574505478143692,
            -0.2510268986225128,
        ],
    );
    assert!(
        init::conv2d_parameters(4, 6, (3, 3), 4, true, DType::F32).is_err(),
        "6 channels do not split in 4 groups"
    );
    // zeros_/ones_ draw nothing and keep the dtype.
    let t = Tensor::full([2, 2], 3.0, DType::F64).unwrap();
    init::ones_(&t).unwrap();
    assert_eq!(t.to_vec::<f64>().unwrap(), [1.0; 4]);
    init::zeros_(&t).unwrap();
    assert_eq!(t.to_vec::<f64>().unwrap(), [0.0; 4]);
}

#[test]
fn in_place_fills_refuse_recorded_leaves() {
    let w = Tensor::zeros([3]).unwrap().requires_grad_(true).unwrap();
    let e = w.normal_with_(0.0, 1.0, &mut Generator::new(0)).unwrap_err().to_string();
    assert!(e.contains("no_grad"), "{e}");
    // Under no_grad (what nn::init does) the fill works and the tensor still requires grad.
    no_grad(|| w.uniform_with_(-1.0, 1.0, &mut Generator::new(0))).unwrap();
    assert!(w.requires_grad() && values(&w).iter().all(|x| (-1.0..1.0).contains(x)));
    let y = w.mul_scalar(2.0).unwrap();
    assert!(no_grad(|| y.normal_with_(0.0, 1.0, &mut Generator::new(0))).is_err());
}

#[test]
fn dropout_draws_pytorchs_mask() {
    let _g = lock();
    // torch.manual_seed(0); F.dropout(torch.arange(1., 9.), 0.25, True)
    manual_seed(0);
    let x = Tensor::arange_step(1.0, 9.0, 1.0).unwrap();
    let y = dropout(&x, 0.25, true).unwrap();
    close(
        &values(&y),
        &[0.0, 2.6666667461395264, 4.0, 0.0, 6.6666669845581055, 0.0, 9.333333969116211, 10.666666984558105],
    );
    // Identity when not training or p = 0 (and nothing drawn), zeros for p = 1.
    assert_eq!(values(&dropout(&x, 0.25, false).unwrap()), values(&x));
    assert_eq!(values(&dropout(&x, 0.0, true).unwrap()), values(&x));
    assert_eq!(values(&dropout(&x, 1.0, true).unwrap()), [0.0; 8]);
    assert!(dropout(&x, 1.5, true).unwrap_err().to_string().contains("between 0 and 1"));
    assert!(dropout(&x, -0.1, true).is_err());
    assert!(Dropout::new(f64::NAN).is_err());
    // The module: training by default, identity after eval(); printed like PyTorch.
    let d = Dropout::new(0.25).unwrap();
    assert_eq!(d.to_string(), "Dropout(p=0.25, inplace=False)");
    manual_seed(0);
    assert_eq!(values(&d.forward(&x).unwrap()), values(&y));
    d.eval();
    assert_eq!(values(&d.forward(&x).unwrap()), values(&x));
}

#[test]
fn dropout_gradient_is_the_scaled_mask() {
    let x = Tensor::ones([200]).unwrap().requires_grad_(true).unwrap();
    let y = torchlet_nn::dropout::dropout_with(&x, 0.5, true, &mut Generator::new(3)).unwrap();
    y.sum().unwrap().backward().unwrap();
    let (g, v) = (values(&x.grad().unwrap()), values(&y));
    assert_eq!(g, v, "d(sum(x * mask))/dx = mask");
    assert!(v.iter().all(|&m| m == 0.0 || m == 2.0));
    let kept = v.iter().filter(|&&m| m == 2.0).count();
    assert!((60..140).contains(&kept), "about half of 200 kept, got {kept}");
}

fn dataset() -> TensorDataset {
    let x = Tensor::arange_step(0.0, 10.0, 1.0).unwrap().reshape([10, 1]).unwrap();
    TensorDataset::new(vec![x, Tensor::from((0..10i64).collect::<Vec<_>>())]).unwrap()
}

fn epoch<D: Dataset>(loader: &mut DataLoader<D>) -> Vec<Vec<i64>> {
    loader.iter().unwrap().map(|b| b.unwrap()[1].to_vec::<i64>().unwrap()).collect()
}

#[test]
fn dataloader_orders_match_pytorch() {
    let _g = lock();
    // torch.manual_seed(0); [b[1].tolist() for b in DataLoader(ds, 3, shuffle=True)]
    manual_seed(0);
    let mut loader = DataLoader::new(dataset(), 3).unwrap().shuffle(true);
    assert_eq!(loader.len(), 4);
    assert_eq!(epoch(&mut loader), [vec![6, 7, 1], vec![4, 2, 0], vec![9, 8, 3], vec![5]]);
    // Without shuffling the iterator still draws its base seed: torch.rand(1) after one
    // epoch of DataLoader(ds, 4) is 0.08847743272781372 (the third f32 of seed 0).
    manual_seed(0);
    let mut plain = DataLoader::new(dataset(), 4).unwrap();
    assert_eq!(epoch(&mut plain), [vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
    close(&values(&Tensor::rand([1]).unwrap()), &[0.08847743272781372]);
    // The batches hold every field: x is the float column, stacked along dim 0.
    let first = plain.iter().unwrap().next().unwrap().unwrap();
    assert_eq!(first[0].dims(), [4, 1]);
}

#[test]
fn dataloader_with_its_own_generator() {
    // (`three` below has no generator of its own: its epoch draws a base seed from the global
    // one, which the tests holding the lock rely on.)
    let _g = lock();
    // g = torch.Generator().manual_seed(5); dl = DataLoader(ds, 4, shuffle=True, generator=g)
    // two epochs, then torch.rand(1, generator=g)
    let mut loader = DataLoader::new(dataset(), 4).unwrap().shuffle(true).generator(Generator::new(5));
    assert_eq!(epoch(&mut loader), [vec![7, 4, 8, 1], vec![2, 3, 6, 5], vec![9, 0]]);
    assert_eq!(epoch(&mut loader), [vec![2, 1, 6, 3], vec![5, 9, 4, 7], vec![8, 0]]);
    let mut g = Generator::new(5);
    // Replay the loader's draws on g: per epoch a base seed, a permutation and the unused
    // permutation PyTorch's sampler draws when it runs out.
    for _ in 0..2 {
        Tensor::zeros_dtype([], DType::I64).unwrap().random_with_(&mut g).unwrap();
        Tensor::randperm_with(10, &mut g).unwrap();
        Tensor::randperm_with(10, &mut g).unwrap();
    }
    close(&values(&Tensor::rand_with([1], DType::F32, &mut g).unwrap()), &[0.5818747282028198]);
    // drop_last: DataLoader(ds, 5, shuffle=True, generator=g, drop_last=True)
    let mut loader =
        DataLoader::new(dataset(), 5).unwrap().shuffle(true).drop_last(true).generator(Generator::new(5));
    assert_eq!(epoch(&mut loader), [vec![7, 4, 8, 1, 2], vec![3, 6, 5, 9, 0]]);
    let mut three = DataLoader::new(dataset(), 3).unwrap().drop_last(true);
    assert_eq!(three.len(), 3);
    assert_eq!(epoch(&mut three).len(), 3);
    assert!(DataLoader::new(dataset(), 0).is_err());
}

#[test]
fn random_split_matches_pytorch() {
    let ds = dataset();
    // random_split(range(10), [3, 7], generator=torch.Generator().manual_seed(42))
    let parts = random_split_with(&ds, &[3, 7], &mut Generator::new(42)).unwrap();
    assert_eq!(parts[0].indices(), [2, 6, 1]);
    assert_eq!(parts[1].indices(), [8, 4, 5, 0, 9, 3, 7]);
    assert_eq!(parts[0].get(1).unwrap()[1].to_vec::<i64>().unwrap(), [6]);
    assert!(random_split_with(&ds, &[3, 6], &mut Generator::new(0)).is_err());
    // random_split(range(11), [0.5, 0.25, 0.25], generator=torch.Generator().manual_seed(1)):
    // floor gives 5, 2, 2 and the remainder 2 goes round robin: 6, 3, 2.
    let parts = random_split_fractions_with(
        &TensorDataset::new(vec![Tensor::zeros([11]).unwrap()]).unwrap(),
        &[0.5, 0.25, 0.25],
        &mut Generator::new(1),
    )
    .unwrap();
    assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [6, 3, 2]);
    assert_eq!(parts[0].indices(), [0, 10, 2, 3, 7, 6]);
    assert!(random_split_fractions_with(&ds, &[0.5, 0.4], &mut Generator::new(1)).is_err());
}

#[test]
fn categorical_samples_match_pytorch() {
    let _g = lock();
    // torch.manual_seed(0); d = Categorical(probs=[[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    // d.sample(), then d.sample((4,))
    manual_seed(0);
    let d = Categorical::from_probs(&Tensor::from([[0.1f32, 0.2, 0.7], [0.5, 0.5, 0.0]])).unwrap();
    assert_eq!(d.sample().unwrap().to_vec::<i64>().unwrap(), [2, 1]);
    let s = d.sample_n(&[4]).unwrap();
    assert_eq!(s.dims(), [4, 2]);
    assert_eq!(s.to_vec::<i64>().unwrap(), [1, 0, 2, 0, 2, 0, 1, 1]);
}
