//! PyTorch's CPU random streams. Every expected number below was printed by PyTorch 2.9.1
//! (`torch.set_printoptions(precision=8)`) for the same seed and calls; the 363 `random/`
//! cases of tests/data/curriculum_cases.json cover the rest (tests/parity.rs at the root).

// The expected values are PyTorch's printed digits, quoted as printed (more than f32 holds).
#![allow(clippy::excessive_precision)]

use torchlet_tensor_core::random::{with_global, GeneratorState, DEFAULT_SEED, STATE_BYTES};
use torchlet_tensor_core::{DType, Generator, TensorData};

fn f32s(t: &TensorData) -> Vec<f32> {
    t.to_vec::<f32>().unwrap()
}

fn i64s(t: &TensorData) -> Vec<i64> {
    t.to_vec::<i64>().unwrap()
}

fn close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "element {i}: {g} vs PyTorch {w} (all: {got:?})");
    }
}

/// The global generator is shared by the tests of this file; each test that uses it holds
/// this lock so they do not interleave.
static GLOBAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn classic_values_after_manual_seed_0() {
    let _lock = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    // torch.manual_seed(0); torch.randn(10)
    torchlet_tensor_core::manual_seed(0);
    let x = TensorData::randn([10], DType::F32).unwrap();
    close(
        &f32s(&x),
        &[
            1.54099607,
            -0.29342890,
            -2.17878938,
            0.56843126,
            -1.08452237,
            -1.39859545,
            0.40334684,
            0.83802634,
            -0.71925759,
            -0.40334353,
        ],
    );
    // torch.manual_seed(0); torch.rand(2)
    torchlet_tensor_core::manual_seed(0);
    close(&f32s(&TensorData::rand([2], DType::F32).unwrap()), &[0.49625659, 0.76822180]);
    // torch.manual_seed(0); torch.randn(20)[:4]: 16 or more elements take the block path,
    // so the stream starts differently from randn(10).
    torchlet_tensor_core::manual_seed(0);
    let x = f32s(&TensorData::randn([20], DType::F32).unwrap());
    close(&x[..4], &[-1.12583983, -1.15236020, -0.25057858, -0.43387881]);
    // torch.manual_seed(0); torch.empty((), dtype=torch.int64).random_()
    torchlet_tensor_core::manual_seed(0);
    assert_eq!(
        i64s(&with_global(|g| TensorData::random_with([], DType::I64, g)).unwrap()),
        [900450186894289455]
    );
    assert_eq!(torchlet_tensor_core::initial_seed(), 0);
}

#[test]
fn makemore_generator_2147483647() {
    // g = torch.Generator().manual_seed(2147483647); torch.rand(3, generator=g)
    let mut g = Generator::new(2147483647);
    let p = TensorData::rand_with([3], DType::F32, &mut g).unwrap();
    close(&f32s(&p), &[0.70812887, 0.35423911, 0.10543233]);
    // p = p / p.sum(); torch.multinomial(p, num_samples=20, replacement=True, generator=g)
    let s: f32 = f32s(&p).iter().sum();
    let p = TensorData::from_vec(f32s(&p).iter().map(|x| x / s).collect::<Vec<f32>>(), [3]).unwrap();
    assert_eq!(
        i64s(&p.multinomial_with(20, true, &mut g).unwrap()),
        [1, 1, 2, 0, 0, 2, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1]
    );
    // torch.randint(0, 10, (6,), generator=g), then torch.randperm(8, generator=g)
    let mut g = Generator::new(2147483647);
    assert_eq!(i64s(&TensorData::randint_with(0, 10, [6], &mut g).unwrap()), [1, 4, 9, 2, 3, 0]);
    assert_eq!(i64s(&TensorData::randperm_with(8, &mut g).unwrap()), [0, 1, 5, 2, 3, 6, 4, 7]);
}

#[test]
fn default_generator_and_seed_truncation() {
    // torch.Generator() starts from 67280421310721: torch.rand(2, generator=g)
    let mut g = Generator::default();
    assert_eq!(g.initial_seed(), DEFAULT_SEED);
    close(&f32s(&TensorData::rand_with([2], DType::F32, &mut g).unwrap()), &[0.26729524, 0.87252831]);
    // Only the low 32 bits seed the twister: 2^32 + 5 and 5 give the same stream
    // (torch.manual_seed(2**32 + 5); torch.rand(2) == [0.83025187, 0.12611091]).
    let mut a = Generator::new((1u64 << 32) + 5);
    let mut b = Generator::new(5);
    assert_eq!(a.initial_seed(), (1u64 << 32) + 5);
    let x = f32s(&TensorData::rand_with([2], DType::F32, &mut a).unwrap());
    close(&x, &[0.83025187, 0.12611091]);
    assert_eq!(x, f32s(&TensorData::rand_with([2], DType::F32, &mut b).unwrap()));
    // manual_seed on an existing generator restarts it and drops the cached normal.
    let first = f32s(&TensorData::randn_with([3], DType::F32, &mut b).unwrap());
    b.manual_seed(5);
    let _ = TensorData::rand_with([2], DType::F32, &mut b).unwrap();
    assert_eq!(f32s(&TensorData::randn_with([3], DType::F32, &mut b).unwrap()), first);
    // seed() picks a fresh seed and reports it.
    let s = b.seed();
    assert_eq!(b.initial_seed(), s);
}

#[test]
fn other_transforms_match_pytorch() {
    // torch.manual_seed(0); torch.empty(4).exponential_()
    let mut g = Generator::new(0);
    close(
        &f32s(&TensorData::exponential_with([4], 1.0, DType::F32, &mut g).unwrap()),
        &[3.50832629, 1.23038471, 0.61504412, 2.53511858],
    );
    // torch.manual_seed(0); torch.bernoulli(torch.full((8,), 0.5))
    let mut g = Generator::new(0);
    let p = TensorData::full([8], 0.5, DType::F32);
    assert_eq!(f32s(&p.bernoulli_with(&mut g).unwrap()), [1., 0., 1., 1., 1., 0., 1., 0.]);
    // The same probabilities as a scalar (dropout's bernoulli_(p)) use f64 uniforms.
    let mut g = Generator::new(0);
    let mask = TensorData::bernoulli_scalar_with([160], 0.5, DType::F32, &mut g).unwrap();
    let mut h = Generator::new(0);
    let u = TensorData::rand_with([160], DType::F64, &mut h).unwrap().to_vec::<f64>().unwrap();
    let want: Vec<f32> = u.iter().map(|&u| if u < 0.5 { 1.0 } else { 0.0 }).collect();
    assert_eq!(f32s(&mask), want);
}

#[test]
fn multinomial_never_picks_zero_probability_classes() {
    let p = TensorData::from_vec(vec![0.1f32, 0.0, 0.5, 0.3, 0.1, 0.0, 0.0, 1.0, 0.0, 2.0], [2, 5]).unwrap();
    let mut g = Generator::new(3);
    for (n, rep) in [(1, false), (1, true), (2, false), (50, true)] {
        let s = p.multinomial_with(n, rep, &mut g).unwrap();
        assert_eq!(s.dims(), [2, n]);
        let v = i64s(&s);
        assert!(v[..n].iter().all(|&k| k != 1), "row 0 drew class 1 of probability 0: {v:?}");
        assert!(v[n..].iter().all(|&k| k == 2 || k == 4), "row 1 drew a class of probability 0: {v:?}");
        if !rep {
            let mut row: Vec<i64> = v[..n].to_vec();
            row.sort();
            row.dedup();
            assert_eq!(row.len(), n, "without replacement the classes differ: {v:?}");
        }
    }
}

#[test]
fn state_bytes_are_pytorchs_layout() {
    // torch.manual_seed(0); torch.randn(3); b = bytes(torch.get_rng_state().tolist())
    let mut g = Generator::new(0);
    let _ = TensorData::randn_with([3], DType::F32, &mut g).unwrap();
    let b = g.get_state().to_bytes();
    assert_eq!(b.len(), STATE_BYTES);
    assert_eq!(b.iter().map(|&x| x as u64).sum::<u64>(), 312882, "sum of the 5056 bytes");
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(hex(&b[8..24]), "69020000010000000800000000000000"); // left 617, seeded, next 8
    assert_eq!(hex(&b[5024..5056]), "0d353eca9630e23f000000000000000001000000000000000000000000000000");
    // Restoring the bytes replays the stream, the cached normal included.
    let mut h = Generator::new(99);
    h.set_state(&GeneratorState::from_bytes(&b).unwrap());
    assert_eq!(
        f32s(&TensorData::randn_with([5], DType::F32, &mut h).unwrap()),
        f32s(&TensorData::randn_with([5], DType::F32, &mut g).unwrap())
    );
    assert!(GeneratorState::from_bytes(&b[..100]).is_err());
}

#[test]
fn global_state_checkpoints_a_run() {
    let _lock = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    torchlet_tensor_core::manual_seed(7);
    let _ = TensorData::randn([5], DType::F32).unwrap();
    let saved = torchlet_tensor_core::get_rng_state();
    let a = f32s(&TensorData::randn([40], DType::F32).unwrap());
    torchlet_tensor_core::set_rng_state(&saved);
    assert_eq!(f32s(&TensorData::randn([40], DType::F32).unwrap()), a);
}

#[test]
fn bad_arguments_are_errors() {
    let mut g = Generator::new(1);
    let msg = |r: torchlet_tensor_core::Result<TensorData>| r.unwrap_err().to_string();
    assert!(msg(TensorData::randint_with(3, 3, [2], &mut g)).contains("low < high"));
    assert!(msg(TensorData::uniform_with([2], 1.0, 0.0, DType::F32, &mut g)).contains("low <= high"));
    assert!(msg(TensorData::uniform_with([2], -3e38, 3e38, DType::F32, &mut g)).contains("exceeds"));
    assert!(msg(TensorData::normal_with([2], 0.0, -1.0, DType::F32, &mut g)).contains("std >= 0"));
    assert!(msg(TensorData::exponential_with([2], 0.0, DType::F64, &mut g)).contains("lambd > 0"));
    assert!(msg(TensorData::randn_with([2], DType::I64, &mut g)).contains("floating-point"));
    assert!(msg(TensorData::bernoulli_scalar_with([2], 1.5, DType::F32, &mut g)).contains("[0, 1]"));
    let p = TensorData::from_vec(vec![0.5f32, 1.5], [2]).unwrap();
    assert!(msg(p.bernoulli_with(&mut g)).contains("1.5"));
    let p = TensorData::from_vec(vec![0.5f32, 0.5], [2]).unwrap();
    assert!(msg(p.multinomial_with(3, false, &mut g)).contains("without replacement"));
    assert!(msg(p.multinomial_with(0, true, &mut g)).contains("num_samples"));
    let z = TensorData::from_vec(vec![0.5f32, 0.5, 0.0, 0.0], [2, 2]).unwrap();
    assert!(msg(z.multinomial_with(1, true, &mut g)).contains("row 1"));
    assert!(msg(z.multinomial_with(2, true, &mut g)).contains("row 1"));
    let neg = TensorData::from_vec(vec![0.5f32, -0.1], [2]).unwrap();
    assert!(msg(neg.multinomial_with(1, true, &mut g)).contains("-0.1"));
    let nan = TensorData::from_vec(vec![0.5f32, f32::NAN], [2]).unwrap();
    assert!(nan.multinomial_with(1, false, &mut g).is_err());
    assert!(TensorData::scalar(1.0f32).multinomial_with(1, true, &mut g).is_err());
    // Sizes that cannot be allocated are errors, not aborts.
    assert!(TensorData::randn_with([usize::MAX / 4, 4], DType::F32, &mut g).is_err());
    assert!(TensorData::randint_with(0, 2, [1usize << 62], &mut g).is_err());
}

#[test]
fn ranges_and_permutations() {
    let mut g = Generator::new(1);
    let u =
        TensorData::uniform_with([1000], -0.5, 0.25, DType::F64, &mut g).unwrap().to_vec::<f64>().unwrap();
    assert!(u.iter().all(|&x| (-0.5..0.25).contains(&x)));
    let r = i64s(&TensorData::randint_with(2, 5, [1000], &mut g).unwrap());
    assert!(r.iter().all(|&x| (2..5).contains(&x)));
    assert!((2..5).all(|k| r.contains(&k)), "all of 2, 3, 4 appear in 1000 draws");
    // A range of 2^28 or more takes 64-bit draws; the values stay in range.
    let big = i64s(&TensorData::randint_with(-(1 << 40), 1 << 40, [100], &mut g).unwrap());
    assert!(big.iter().all(|&x| (-(1 << 40)..(1 << 40)).contains(&x)));
    let mut p = i64s(&TensorData::randperm_with(50, &mut g).unwrap());
    p.sort();
    assert_eq!(p, (0..50).collect::<Vec<i64>>());
    assert_eq!(TensorData::randperm_with(0, &mut g).unwrap().dims(), [0]);
}

#[test]
fn python_random_module_streams() {
    use torchlet_tensor_core::random::PyRandom;
    // CPython 3.11: random.seed(1337); [random.uniform(-1, 1) for _ in range(3)]
    // -> [0.23550571390294128, 0.06653114721000164, -0.26830328150124894] (micrograd's first
    // three weights in its demo notebook)
    let mut r = PyRandom::seed(1337);
    let w: Vec<f64> = (0..3).map(|_| r.uniform(-1.0, 1.0)).collect();
    assert_eq!(w, vec![0.23550571390294128, 0.06653114721000164, -0.26830328150124894]);
    // A seed wider than 32 bits is two key words: random.seed(2**40 + 5); random.random()
    assert_eq!(PyRandom::seed((1 << 40) + 5).random(), 0.5043802970418443);
}
