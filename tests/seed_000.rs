//! Seed 000, "Entropy Based Loss Functions": every number the notebook prints for its fixed
//! inputs, and the identities it demonstrates on random inputs.
//!
//! The expected strings below are copied from the outputs the notebook printed (the notebook
//! itself is not part of this repository). The notebook computes them in f64 with
//! `np.log` and Python's left-to-right `sum`; `torchlet_examples::seeds::seed000` applies the same
//! formulas in the same order with f64 tensor ops (a sum of fewer than 8 elements is
//! sequential in torchlet too), so the check is exact: the value must print as the notebook's
//! digits (Python's shortest round-trip repr) and equal the f64 those digits denote.

use torchlet::autograd::info;
use torchlet::{DType, Generator, Tensor};
use torchlet_examples::seeds::seed000::{self as nb, py, DISTRIBUTIONS};

/// `got` must be exactly the f64 the notebook printed as `want`.
fn exact(got: f64, want: &str, what: &str) {
    assert_eq!(py(got), want, "{what}");
    assert_eq!(got, want.parse::<f64>().unwrap(), "{what}");
}

fn dist(i: usize) -> Tensor {
    nb::dist(&DISTRIBUTIONS[i].1)
}

fn item(t: torchlet::Result<Tensor>) -> f64 {
    t.unwrap().item().unwrap()
}

// ----- the fixed distributions: 15 + 3 + 9 + 9 printed numbers -------------------------------

/// Notebook cell 3, `h(x) = -np.log(p[x])`, for each distribution in order.
const H: [[&str; 5]; 3] = [
    [
        "2.3025850929940455",
        "1.6094379124341003",
        "0.916290731874155",
        "1.6094379124341003",
        "2.3025850929940455",
    ],
    [
        "1.6094379124341003",
        "1.6094379124341003",
        "1.6094379124341003",
        "1.6094379124341003",
        "1.6094379124341003",
    ],
    [
        "0.916290731874155",
        "2.3025850929940455",
        "2.995732273553991",
        "1.6094379124341003",
        "1.3862943611198906",
    ],
];

/// Notebook cell 4, entropy.
const ENTROPY: [&str; 3] = ["1.4708084763221112", "1.6094379124341005", "1.415022588493559"];

/// Notebook cell 24, `crossH(p, q)` with p the row and q the column.
const CROSS_H: [[&str; 3]; 3] = [
    ["1.4708084763221112", "1.6094379124341003", "2.21095601980663"],
    ["1.7480673485460896", "1.6094379124341005", "1.8420680743952367"],
    ["2.0253262207700673", "1.6094379124341005", "1.415022588493559"],
];

/// Notebook cell 18, `KLD(p, q)` with p the row and q the column.
const KLD: [[&str; 3]; 3] = [
    ["0.0", "0.13862943611198902", "0.7401475434845188"],
    ["0.13862943611198905", "0.0", "0.23263016196113617"],
    ["0.6103036322765085", "0.19441532394054145", "0.0"],
];

#[test]
fn seed_000_information_table() {
    for (i, (name, _)) in DISTRIBUTIONS.iter().enumerate() {
        let h = nb::h(&dist(i)).unwrap().to_vec::<f64>().unwrap();
        for x in 0..5 {
            exact(h[x], H[i][x], &format!("{name} h({x})"));
        }
        // The library form is the same formula.
        assert_eq!(info::information(&dist(i)).unwrap().to_vec::<f64>().unwrap(), h);
    }
}

#[test]
fn seed_000_entropy_table() {
    for (i, (name, _)) in DISTRIBUTIONS.iter().enumerate() {
        exact(item(nb::entropy(&dist(i))), ENTROPY[i], name);
    }
    // The uniform distribution is the most uncertain: H = ln 5 up to rounding.
    assert!((item(nb::entropy(&dist(1))) - 5f64.ln()).abs() < 1e-15);
}

#[test]
fn seed_000_cross_entropy_table() {
    for i in 0..3 {
        for j in 0..3 {
            let what = format!("crossH({}, {})", DISTRIBUTIONS[i].0, DISTRIBUTIONS[j].0);
            exact(item(nb::cross_h(&dist(i), &dist(j))), CROSS_H[i][j], &what);
        }
    }
}

#[test]
fn seed_000_kl_divergence_table() {
    for i in 0..3 {
        for j in 0..3 {
            let what = format!("KLD({}, {})", DISTRIBUTIONS[i].0, DISTRIBUTIONS[j].0);
            exact(item(nb::kld(&dist(i), &dist(j))), KLD[i][j], &what);
        }
    }
}

#[test]
fn seed_000_cross_entropy_is_entropy_plus_kl() {
    // H(P, Q) = H(P) + KL(P || Q) on the notebook's own digits. The three are rounded
    // separately (each within half an ulp of ~2.2, i.e. 2.2e-16), so they agree to 4.5e-16.
    for i in 0..3 {
        for j in 0..3 {
            let (ce, h, kl): (f64, f64, f64) =
                (CROSS_H[i][j].parse().unwrap(), ENTROPY[i].parse().unwrap(), KLD[i][j].parse().unwrap());
            assert!((ce - (h + kl)).abs() <= 4.5e-16, "pair ({i}, {j}): {ce} vs {h} + {kl}");
            // The library's info:: functions sum the terms in another arrangement
            // (p ln p - p ln q instead of p (ln p - ln q)), so they agree to rounding only.
            let (p, q) = (dist(i), dist(j));
            assert!((item(info::cross_entropy(&p, &q, 0)) - ce).abs() <= 4.5e-16);
            assert!((item(info::entropy(&p, 0)) - h).abs() <= 4.5e-16);
            assert!((item(info::kl_divergence(&p, &q, 0)) - kl).abs() <= 4.5e-16);
        }
    }
}

// ----- the BCE table: 11 p values and 22 losses ------------------------------------------------

/// Notebook cell 8: `p`, `bce_loss(p, 0)`, `bce_loss(p, 1)` for `p in np.arange(11) / 10`.
const BCE: [(&str, &str, &str); 11] = [
    ("0.0", "-1.000088900581841e-12", "27.631021115928547"),
    ("0.1", "0.10536051565671518", "2.3025850929840455"),
    ("0.2", "0.22314355131295974", "1.6094379124291003"),
    ("0.3", "0.3566749439373039", "1.2039728043226028"),
    ("0.4", "0.510825623764324", "0.9162907318716551"),
    ("0.5", "0.6931471805579453", "0.6931471805579453"),
    ("0.6", "0.9162907318716551", "0.510825623764324"),
    ("0.7", "1.2039728043226026", "0.3566749439373039"),
    ("0.8", "1.6094379124291005", "0.22314355131295974"),
    ("0.9", "2.302585092984046", "0.10536051565671518"),
    ("1.0", "27.631021115928547", "-1.000088900581841e-12"),
];

#[test]
fn seed_000_bce_table() {
    let rows = nb::bce_table().unwrap();
    assert_eq!(rows.len(), BCE.len());
    for (row, (p, y0, y1)) in rows.iter().zip(BCE) {
        exact(row.p, p, "p");
        exact(row.y0, y0, &format!("bce_loss({p}, 0)"));
        exact(row.y1, y1, &format!("bce_loss({p}, 1)"));
    }
}

// ----- CCE vs KLD with one-hot targets: 15 pairs ----------------------------------------------

/// Notebook cell 9: `(cce_loss, kld_loss)` per distribution and target.
const CCE_KLD: [[(&str, &str); 5]; 3] = [
    [
        ("2.3025850929840455", "2.3025850929850455"),
        ("1.6094379124291003", "1.6094379124301004"),
        ("0.9162907318716551", "0.9162907318726552"),
        ("1.6094379124291003", "1.6094379124301004"),
        ("2.3025850929840455", "2.3025850929850455"),
    ],
    [
        ("1.6094379124291003", "1.6094379124301004"),
        ("1.6094379124291003", "1.6094379124301004"),
        ("1.6094379124291003", "1.6094379124301004"),
        ("1.6094379124291003", "1.6094379124301004"),
        ("1.6094379124291003", "1.6094379124301004"),
    ],
    [
        ("0.9162907318716551", "0.9162907318726552"),
        ("2.3025850929840455", "2.3025850929850455"),
        ("2.995732273533991", "2.995732273534991"),
        ("1.6094379124291003", "1.6094379124301004"),
        ("1.3862943611158907", "1.3862943611168907"),
    ],
];

#[test]
fn seed_000_cce_equals_kld_for_one_hot_targets() {
    for (i, (name, _)) in DISTRIBUTIONS.iter().enumerate() {
        for (target, &(cce, kld)) in CCE_KLD[i].iter().enumerate() {
            exact(item(nb::cce_loss(&dist(i), target)), cce, &format!("{name} cce_loss target {target}"));
            let one_hot = nb::one_hot(target, 5).unwrap();
            exact(item(nb::kld_loss(&dist(i), &one_hot)), kld, &format!("{name} kld_loss target {target}"));
            // "interchangeable": they differ only by the eps inside log(y = 1), ln(1 + 1e-12),
            // up to the rounding of two numbers near 3 (ulp 4.4e-16 each).
            let gap = kld.parse::<f64>().unwrap() - cce.parse::<f64>().unwrap();
            assert!((gap - (1e-12f64).ln_1p()).abs() <= 1e-15, "{name} target {target}: gap {gap}");
        }
    }
}

#[test]
fn python_repr_formatting() {
    assert_eq!(py(0.0), "0.0");
    assert_eq!(py(1.0), "1.0");
    assert_eq!(py(-1.000088900581841e-12), "-1.000088900581841e-12");
    assert_eq!(py(1e-5), "1e-05");
    assert_eq!(py(0.0001), "0.0001");
    assert_eq!(py(1.5e16), "1.5e+16");
    assert_eq!(py(123456789012345.6), "123456789012345.6");
    assert_eq!(py(f64::NAN), "nan");
    assert_eq!(py(f64::NEG_INFINITY), "-inf");
}

// ----- random inputs: the agreements the notebook shows ---------------------------------------

#[test]
fn softmax_forms_agree_for_small_inputs() {
    let x = Tensor::randn_with([3, 4], DType::F64, &mut Generator::new(11)).unwrap();
    let stable = nb::softmax(&x).unwrap();
    assert!(nb::softmax_unstable(&x).unwrap().allclose(&stable, 1e-14, 0.0).unwrap());
    assert!(stable.log().unwrap().allclose(&nb::log_softmax(&x).unwrap(), 1e-14, 1e-15).unwrap());
    assert!(x.softmax(-1).unwrap().allclose(&stable, 1e-14, 0.0).unwrap());
    assert!(x.log_softmax(-1).unwrap().allclose(&nb::log_softmax(&x).unwrap(), 1e-14, 1e-15).unwrap());
}

#[test]
fn only_the_max_trick_survives_x_times_10000() {
    // One row with a large positive entry (exp overflows: inf / inf = nan) and large negative
    // ones (exp underflows to 0, so log(softmax) = -inf).
    let x = Tensor::with_dtype([3000.0f64, -5500.0, -7600.0, 1000.0], DType::F64);
    let unstable = nb::softmax_unstable(&x).unwrap().to_vec::<f64>().unwrap();
    assert!(unstable[0].is_nan() && unstable[3].is_nan(), "{unstable:?}");
    assert_eq!(&unstable[1..3], &[0.0, 0.0]);
    assert_eq!(nb::softmax(&x).unwrap().to_vec::<f64>().unwrap(), vec![1.0, 0.0, 0.0, 0.0]);
    let log_of_softmax = nb::softmax(&x).unwrap().log().unwrap().to_vec::<f64>().unwrap();
    assert_eq!(log_of_softmax[0], 0.0);
    assert!(log_of_softmax[1..].iter().all(|&v| v == f64::NEG_INFINITY));
    // x - max - ln(1 + e^-2000 + ...) = x - 3000 exactly.
    let want = vec![0.0, -8500.0, -10600.0, -2000.0];
    assert_eq!(nb::log_softmax(&x).unwrap().to_vec::<f64>().unwrap(), want);
    assert_eq!(x.log_softmax(-1).unwrap().to_vec::<f64>().unwrap(), want);
    // The same with randn * 10000, as in the notebook: the built-ins stay finite.
    let x = Tensor::randn_with([8, 4], DType::F64, &mut Generator::new(5)).unwrap().mul_scalar(1e4).unwrap();
    assert!(nb::softmax_unstable(&x).unwrap().to_f64_vec().iter().any(|v| v.is_nan()));
    assert!(x.log_softmax(-1).unwrap().to_f64_vec().iter().all(|v| v.is_finite()));
    assert!(x.log_softmax(-1).unwrap().allclose(&nb::log_softmax(&x).unwrap(), 1e-14, 0.0).unwrap());
}

#[test]
fn binary_cross_entropy_matches_the_hand_written_loss() {
    for seed in 0..4 {
        let c = nb::compare_binary(&mut Generator::new(seed), 64, DType::F64).unwrap();
        // The hand-written loss takes ln(p + 1e-12) where the built-in takes ln(p) (clamped at
        // -100): they differ by at most 1e-12 / min(p, 1 - p) per element, plus rounding.
        let p = c.p.to_vec::<f64>().unwrap();
        let bound = 1e-12 / p.iter().map(|&v| v.min(1.0 - v)).fold(1.0, f64::min) + 1e-14;
        assert!(
            (c.builtin - c.hand_written).abs() <= bound,
            "seed {seed}: {} vs {}",
            c.builtin,
            c.hand_written
        );
        // And in f32, as torch computes, to f32 precision.
        let c = nb::compare_binary(&mut Generator::new(seed), 64, DType::F32).unwrap();
        assert!((c.builtin - c.hand_written).abs() <= 1e-6 * c.builtin, "seed {seed} f32");
    }
}

#[test]
fn cross_entropy_nll_and_kl_div_agree_for_class_targets() {
    for seed in 0..4 {
        let c = nb::compare_categorical(&mut Generator::new(seed), 64, 10, DType::F64).unwrap();
        // Same math, different grouping of the rounding: cross_entropy is fused,
        // nll_loss sums log_softmax rows, kl_div sums one-hot * (ln 1 - log_p).
        assert!((c.cross_entropy - c.nll_loss).abs() <= 1e-14, "seed {seed}");
        assert!((c.cross_entropy - c.kl_div).abs() <= 1e-14, "seed {seed}");
        // The hand-written ones add eps = 1e-12 inside ln: |ln(p + eps) - ln p| <= eps / p,
        // and kld_loss adds ln(1 + eps) ~ 1e-12 per sample.
        let min_p = c.p.to_f64_vec().into_iter().fold(1.0, f64::min);
        let bound = 1e-12 / min_p + 1e-12 + 1e-14;
        assert!((c.cross_entropy - c.batch_cce_loss).abs() <= bound, "seed {seed}");
        assert!((c.cross_entropy - c.batch_kld_loss).abs() <= bound, "seed {seed}");
    }
}

#[test]
fn kl_div_matches_the_hand_written_loss_for_distribution_targets() {
    for seed in 0..4 {
        let c = nb::compare_distribution_targets(&mut Generator::new(seed), 64, 10, DType::F64).unwrap();
        let min_p = c.p.to_f64_vec().into_iter().fold(1.0, f64::min);
        assert!((c.kl_div - c.batch_kld_loss).abs() <= 2e-12 / min_p + 1e-14, "seed {seed}");
        // cross_entropy with probability targets = mean entropy of the targets + KL.
        assert!((c.cross_entropy - (c.target_entropy + c.kl_div)).abs() <= 1e-14, "seed {seed}");
        assert!(c.kl_div > 0.0);
    }
}

#[test]
fn kl_div_fits_the_three_distributions() {
    let fit = nb::fit_distributions(300, 0.1).unwrap();
    // Step 0 predicts uniform: KL(P || uniform) averaged over the rows, from the KLD table.
    let kl_uniform: f64 = KLD.iter().map(|row| row[1].parse::<f64>().unwrap()).sum::<f64>() / 3.0;
    assert!((fit.losses[0] - kl_uniform).abs() <= 1e-15, "{} vs {kl_uniform}", fit.losses[0]);
    assert!(fit.losses.windows(50).all(|w| w[49] < w[0]), "the loss keeps falling");
    assert!(fit.kl.to_f64_vec().iter().all(|&kl| kl.abs() < 1e-12), "{}", fit.kl);
    let targets: Vec<f64> = DISTRIBUTIONS.iter().flat_map(|(_, p)| *p).collect();
    for (got, want) in fit.probs.to_f64_vec().iter().zip(&targets) {
        assert!((got - want).abs() < 1e-7, "{got} vs {want}");
    }
    // Cross-entropy does not go to 0: it stops at the targets' entropies (cell 4's numbers).
    for (ce, h) in fit.cross_entropy.to_f64_vec().iter().zip(ENTROPY) {
        assert!((ce - h.parse::<f64>().unwrap()).abs() < 1e-12, "{ce} vs {h}");
    }
}
