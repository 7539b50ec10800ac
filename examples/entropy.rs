//! The notebook "Entropy Based Loss Functions" (seed 000) replayed with torchlet.
//!
//! `cargo run --release --example entropy -- [--plot FILE.png]`
//!
//! `--plot` draws the three distributions as bar charts, like the notebook's first figure.
//!
//! Cell by cell: information, entropy, cross-entropy and KL divergence of the notebook's three
//! distributions (same digits as the notebook: the same f64 formulas, summed in the same
//! order), its BCE table, CCE vs KLD for one-hot targets, softmax with and without the max
//! trick on `x * 10000`, then torchlet's built-in losses against the hand-written ones and a
//! small fit of probability targets with `kl_div`. The hand-written functions live in
//! `torchlet_examples::seeds::seed000`, shared with `tests/seed_000.rs`.
//!
//! Where the notebook draws random inputs we draw ours from a seeded `Generator`: the numbers
//! differ from the notebook's, the agreements it demonstrates do not.

use torchlet::autograd::info;
use torchlet::{DType, Generator, Result, Tensor};
use torchlet_examples::seeds::seed000::{self as nb, py, DISTRIBUTIONS};

/// Prints the code of a notebook cell, to line our output up with the notebook's.
fn cell(code: &str) {
    println!("\n>>> {code}");
}

fn main() -> Result<()> {
    println!("=== Entropy Based Loss Functions (seed 000) ===");
    let mut g = Generator::new(0);

    cell("distributions  # numpy float64 arrays, so f64 tensors here");
    for (name, p) in DISTRIBUTIONS {
        println!("{name}: {}", nb::dist(&p));
    }
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--plot", Some(path)) => {
                // fig, axes = plt.subplots(nrows=1, ncols=3); axes[i].bar(events, dist)
                let named: Vec<(&str, &[f64])> = DISTRIBUTIONS.iter().map(|(n, p)| (*n, &p[..])).collect();
                torchlet_examples::plot::distributions(&path, &named)?;
                println!("wrote the three distributions as bar charts to {path}");
            }
            _ => {
                eprintln!("usage: cargo run --release --example entropy -- [--plot FILE.png]");
                return Err(torchlet::Error::invalid(
                    "entropy",
                    format!("unknown or incomplete argument {flag:?}"),
                ));
            }
        }
    }

    // --- Information: h(x) = -log P(x), high for rare events.
    cell("h = lambda p, x: -np.log(p[x])");
    for (name, p) in DISTRIBUTIONS {
        println!("{name}");
        for (x, hx) in nb::h(&nb::dist(&p))?.to_vec::<f64>()?.iter().enumerate() {
            println!("h({x}) = {}", py(*hx));
        }
        println!();
    }
    println!("# the notebook: the same 15 numbers, digit for digit (h(0) = 2.3025850929940455 = -ln 0.1)");
    let p = nb::dist(&DISTRIBUTIONS[2].1);
    println!("# library form: info::information(&random_dist) = {}", info::information(&p)?);

    // --- Entropy: the expected information, H(P) = -sum P log P.
    cell("H = lambda p: -sum([p_x * np.log(p_x) for p_x in p])");
    for (name, p) in DISTRIBUTIONS {
        println!("{name} = {}", py(nb::entropy(&nb::dist(&p))?.item()?));
    }
    println!("# the notebook: normal_dist = 1.4708084763221112, uniform_dist = 1.6094379124341005,");
    println!("#               random_dist = 1.415022588493559 (uniform is the most uncertain: ln 5)");

    // --- Cross entropy: H(P, Q) = -sum P log Q = H(P) + KL(P || Q).
    cell("crossH = lambda p, q: -sum([p_x * np.log(q_x) for p_x, q_x in zip(p, q)])");
    for (name1, p) in DISTRIBUTIONS {
        for (name2, q) in DISTRIBUTIONS {
            println!("crossH({name1}, {name2}) = {}", py(nb::cross_h(&nb::dist(&p), &nb::dist(&q))?.item()?));
        }
    }
    println!("# the notebook: crossH(normal_dist, random_dist) = 2.21095601980663, and crossH(P, P) = H(P)");

    // --- KL divergence: D_KL(P || Q) = sum P (log P - log Q), 0 iff P = Q, not symmetric.
    cell("KLD = lambda p, q: sum([p_x * (np.log(p_x) - np.log(q_x)) for p_x, q_x in zip(p, q)])");
    for (name1, p) in DISTRIBUTIONS {
        for (name2, q) in DISTRIBUTIONS {
            println!("KLD({name1}, {name2}) = {}", py(nb::kld(&nb::dist(&p), &nb::dist(&q))?.item()?));
        }
    }
    println!(
        "# the notebook: KLD(normal_dist, random_dist) = 0.7401475434845188, KLD(random_dist, normal_dist)"
    );
    println!("#               = 0.6103036322765085 (KL is not symmetric)");

    cell("crossH(p, q) - H(p) - KLD(p, q) for every pair  # H(P, Q) = H(P) + KL(P || Q)");
    let mut worst: f64 = 0.0;
    for (_, p) in DISTRIBUTIONS {
        for (_, q) in DISTRIBUTIONS {
            let (p, q) = (nb::dist(&p), nb::dist(&q));
            let gap = nb::cross_h(&p, &q)?.item()? - nb::entropy(&p)?.item()? - nb::kld(&p, &q)?.item()?;
            worst = worst.max(gap.abs());
        }
    }
    println!("largest |gap| = {} (rounding only)", py(worst));
    let (p, q) = (nb::dist(&DISTRIBUTIONS[0].1), nb::dist(&DISTRIBUTIONS[2].1));
    println!(
        "# library form: info::cross_entropy = {}, info::kl_divergence = {}",
        py(info::cross_entropy(&p, &q, 0)?.item()?),
        py(info::kl_divergence(&p, &q, 0)?.item()?)
    );

    // --- Loss functions with the safe log(x) = np.log(x + 1e-12).
    cell("for p in np.arange(11) / 10: bce_loss(p, 0), bce_loss(p, 1)");
    for row in nb::bce_table()? {
        println!("p = {}", py(row.p));
        println!("bce_loss(p, 0) = {}", py(row.y0));
        println!("bce_loss(p, 1) = {}", py(row.y1));
        println!();
    }
    println!("# the notebook: bce_loss(0.0, 1) = 27.631021115928547 = -ln(1e-12), the price of the eps;");
    println!("#               bce_loss(0.0, 0) = -1.000088900581841e-12 = -ln(1 + 1e-12), slightly negative");

    cell("# notice, cce_loss and kld_loss are interchangeable for the categorical case");
    for (name, p) in DISTRIBUTIONS {
        println!("--- {name} ---");
        let p = nb::dist(&p);
        for target in 0..5 {
            println!("target = {target}");
            println!("cce_loss = {}", py(nb::cce_loss(&p, target)?.item()?));
            println!("kld_loss = {}", py(nb::kld_loss(&p, &nb::one_hot(target, 5)?)?.item()?));
            println!();
        }
        println!();
    }
    println!(
        "# the notebook: the same pairs; they differ by ln(1 + 1e-12) ~ 1e-12, the eps inside log(y = 1)"
    );

    // --- Softmax with and without the max trick.
    let x = Tensor::randn_with([4], DType::F64, &mut g)?;
    cell("x = np.random.normal(size=(4))  # seeded Generator here");
    println!("x: {x}");
    println!("softmax_unstable(x): {}", nb::softmax_unstable(&x)?);
    println!("softmax(x): {}", nb::softmax(&x)?);
    println!("log(softmax(x)): {}", nb::softmax(&x)?.log()?);
    println!("log_softmax(x): {}", nb::log_softmax(&x)?);
    println!("# all four agree for small x");

    let x = Tensor::randn_with([4], DType::F64, &mut g)?.mul_scalar(10000.0)?;
    cell("x = np.random.normal(size=(4)) * 10000");
    println!("x: {x}");
    println!("softmax_unstable(x): {}", nb::softmax_unstable(&x)?);
    println!("softmax(x): {}", nb::softmax(&x)?);
    println!("log(softmax(x)): {}", nb::softmax(&x)?.log()?);
    println!("log_softmax(x): {}", nb::log_softmax(&x)?);
    println!("# the notebook: [nan 0. 0. nan], [1. 0. 0. 0.], [0. -inf -inf -inf], [0. -5537.00 -7592.31 -1077.17]");
    println!("# exp(x) overflows to inf for x > 709 (f64), and inf / inf = nan; exp(x) underflows to 0 for");
    println!("# x < -745, so log(softmax) is -inf. x - max(x) - log(sum(exp(x - max))) never does either.");
    cell("x.softmax(-1), x.log_softmax(-1)  # torchlet's built-ins use the max trick");
    println!("{}\n{}", x.softmax(-1)?, x.log_softmax(-1)?);
    println!(
        "same as the stable hand-written forms: {}",
        x.log_softmax(-1)?.allclose(&nb::log_softmax(&x)?, 1e-12, 0.0)?
            && x.softmax(-1)?.allclose(&nb::softmax(&x)?, 1e-12, 0.0)?
    );

    // --- Torch loss functions against the hand-written ones (f32 inputs, like torch's defaults).
    cell("binary_cross_entropy(p, y) vs batch_bce_loss(p, y)  # batch 64, p ~ U(0, 1), y in {0, 1}");
    let bin = nb::compare_binary(&mut g, 64, DType::F32)?;
    println!("torchlet: {}", py(bin.builtin));
    println!("by hand:  {}", py(bin.hand_written));
    println!("# the notebook: torch: 1.1347017288208008 / numpy: 1.1347016079713899 (f32 vs f64 rounding)");

    cell("cross_entropy(logits, y), nll_loss(log_p, y), kl_div(log_p, y_one_hot, 'batchmean')  # 64 x 10");
    let cat = nb::compare_categorical(&mut g, 64, 10, DType::F32)?;
    println!("--- torchlet functions ---");
    println!("cross_entropy: {}", py(cat.cross_entropy));
    println!("nll_loss: {}", py(cat.nll_loss));
    println!("kl_div: {}", py(cat.kl_div));
    println!("--- hand-written functions ---");
    println!("batch_cce_loss: {}", py(cat.batch_cce_loss));
    println!("batch_kld_loss: {}", py(cat.batch_kld_loss));
    println!("# the notebook: all five 2.74352..., since H(one-hot) = 0 makes cross-entropy equal KL;");
    println!("# cross_entropy takes logits, nll_loss and kl_div take log-probabilities (log_softmax),");
    println!("# and only the hand-written versions take log(softmax(x)) of probabilities.");

    cell("kl_div(log_p, y, reduction='batchmean') vs batch_kld_loss(p, y)  # y: whole distributions");
    let dist = nb::compare_distribution_targets(&mut g, 64, 10, DType::F32)?;
    println!("torchlet: {}", py(dist.kl_div));
    println!("by hand:  {}", py(dist.batch_kld_loss));
    println!("# the notebook: torch: 0.8245439529418945 / numpy: 0.8245439636521041");
    println!(
        "# cross_entropy(logits, y) with probability targets = {} = mean H(y) {} + KL {}",
        py(dist.cross_entropy),
        py(dist.target_entropy),
        py(dist.kl_div)
    );

    // --- Fitting probability targets: a model that must output a whole distribution.
    cell("fit logits (3, 5) to the three distributions: Adam(lr=0.1), kl_div(log_softmax(logits), targets, batchmean)");
    let fit = nb::fit_distributions(300, 0.1)?;
    for (step, loss) in fit.losses.iter().enumerate().step_by(50) {
        println!("step {step:>3}  kl_div {loss:.3e}");
    }
    println!("step 300  kl_div {:.3e}", fit.kl.mean()?.item()?);
    println!("softmax(logits):\n{}", fit.probs);
    println!("per-row KL(target || softmax(logits)): {}", fit.kl);
    println!("per-row cross_entropy(logits, target):  {}", fit.cross_entropy);
    println!("# KL goes to 0 but cross-entropy stops at H(target) = 1.4708, 1.6094, 1.4150: the same");
    println!("# gradient (softmax - target), a different floor: the two losses differ by a constant.");
    Ok(())
}
