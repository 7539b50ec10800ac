//! The notebook "Learning various pytorch loss function APIs" (seed 001) replayed with torchlet.
//!
//! `cargo run --release --example loss_apis`
//!
//! Cell by cell: `CrossEntropyLoss` with class-index and with probability targets, `NLLLoss`
//! after `LogSoftmax`, `KLDivLoss` with the default `mean` against `batchmean`, the per-sample
//! identity CE = H + KL (with `Categorical::entropy`), BCE computed through NLL, and
//! `CosineEmbeddingLoss`; then the cheat sheet of which loss takes logits, log-probabilities
//! or probabilities. Shared pieces live in `torchlet_examples::seeds::seed001` (see `tests/seed_001.rs`).
//!
//! The notebook's inputs are random; ours come from a seeded `Generator`, so the numbers
//! differ while every equality the notebook shows still holds.

use torchlet::autograd::distributions::Categorical;
use torchlet::nn::functional::{self as F, Reduction};
use torchlet::nn::{BCELoss, CosineEmbeddingLoss, CrossEntropyLoss, KLDivLoss, LogSoftmax, Module, NLLLoss};
use torchlet::{DType, Generator, Result, Tensor, TensorData};
use torchlet_examples::seeds::seed000::py;
use torchlet_examples::seeds::seed001::{self as nb, cheat_sheet_table};

/// Prints the code of a notebook cell, to line our output up with the notebook's.
fn cell(code: &str) {
    println!("\n>>> {code}");
}

fn main() -> Result<()> {
    println!("=== Learning various PyTorch loss function APIs (seed 001) ===");
    let mut g = Generator::new(1);
    let (batchsize, num_class) = (2, 4);

    cell("logits = torch.randn(2, 4); target_indices = torch.randint(4, size=(2,)); target_logits = torch.randn(2, 4).softmax(dim=1)");
    let nb::Inputs { logits, target_indices, target_logits } = nb::inputs(&mut g, batchsize, num_class)?;
    println!("logits = {logits}");
    println!("target_indices = {target_indices}");
    println!("target_logits = {target_logits}");

    // --- 1. Cross entropy: logits in, log_softmax applied inside.
    cell("ce_loss_fn = nn.CrossEntropyLoss(); ce_loss1 = ce_loss_fn(logits, target_indices)");
    let ce_loss_fn = CrossEntropyLoss::new();
    let ce_loss1 = ce_loss_fn.forward(&logits, &target_indices)?;
    println!("ce loss1: {}", py(ce_loss1.item()?));
    let picked = logits.log_softmax(-1)?.gather(1, &target_indices.unsqueeze(1)?)?;
    println!("# = mean_i -log_softmax(logits)[i, target_i] = {}", py(picked.neg()?.mean()?.item()?));

    cell("ce_loss2 = ce_loss_fn(logits, target_logits)  # a whole distribution per sample");
    let ce_loss2 = ce_loss_fn.forward(&logits, &target_logits)?;
    println!("ce loss2: {}", py(ce_loss2.item()?));
    let by_hand = target_logits.mul(&logits.log_softmax(-1)?)?.sum_dim(-1, false)?.neg()?.mean()?;
    println!("# = mean_i -sum_c target[i, c] log_softmax(logits)[i, c] = {}", py(by_hand.item()?));
    println!(
        "# the notebook: ce loss1: 1.7834562063217163, ce loss2: 1.9118367433547974 (its random inputs)"
    );

    cell("nn.CrossEntropyLoss(label_smoothing=0.1)(logits, target_indices)  # not in the notebook");
    let smoothed = CrossEntropyLoss::new().label_smoothing(0.1).forward(&logits, &target_indices)?;
    println!("smoothed: {}", py(smoothed.item()?));
    let one_hot = target_indices.one_hot(Some(num_class))?.to_dtype(DType::F32)?;
    let soft_target = one_hot.mul_scalar(0.9)?.add_scalar(0.1 / num_class as f64)?;
    println!("soft target = {soft_target}");
    let as_probs = ce_loss_fn.forward(&logits, &soft_target)?;
    println!("# = CE with the probability target one_hot * 0.9 + 0.1 / 4: {}", py(as_probs.item()?));

    // --- 2. NLL: log-probabilities in.
    cell("m = nn.LogSoftmax(dim=-1); nll_loss_fn = nn.NLLLoss(); nll_loss = nll_loss_fn(m(logits), target_indices)");
    let m = LogSoftmax::new(-1);
    let nll_loss_fn = NLLLoss::new();
    let nll_loss = nll_loss_fn.forward(&m.forward(&logits)?, &target_indices)?;
    println!("nll loss: {}", py(nll_loss.item()?));
    println!("# equal to ce loss1: {}", py_bool(nll_loss.allclose(&ce_loss1, 1e-6, 0.0)?));
    println!("# the notebook printed nll loss 0.7282825708389282 next to ce loss1 1.7834562063217163: its");
    println!(
        "# cells ran out of order (In [127] before In [133] redrew the data). On the same inputs they agree."
    );

    // --- 3. KL divergence: log-probabilities in, probabilities as target.
    cell("kl_loss_fn = nn.KLDivLoss(); kl_loss = kl_loss_fn(m(logits), target_logits.softmax(dim=-1))");
    let target = target_logits.softmax(-1)?; // the notebook softmaxes a second time: still a distribution
    let kl_mean = KLDivLoss::new().forward(&m.forward(&logits)?, &target)?;
    println!("KL loss: {}", py(kl_mean.item()?));
    println!("# (torchlet warns on stderr: 'mean' divides by all N*C = 8 elements, not by the batch)");
    cell("kl_loss_fn_mathematically_correct = nn.KLDivLoss(reduction=\"batchmean\")");
    let kl_batchmean =
        KLDivLoss::new().reduction(Reduction::BatchMean).forward(&m.forward(&logits)?, &target)?;
    println!("KL loss: {}", py(kl_batchmean.item()?));
    println!(
        "# batchmean / mean = {} = num_class; the notebook: 0.144607812166214 / 0.0361519530415535 = 4",
        py(kl_batchmean.item()? / kl_mean.item()?)
    );

    // --- 4. H(p, q) = H(p) + KL(p || q), per sample.
    cell("ce_loss_sample, kl_loss_sample, Categorical(probs=target).entropy()  # reduction='none'");
    let d = nb::decomposition(&logits, &target)?;
    println!("ce loss sample: {}", d.ce);
    println!("KL loss sample: {}", d.kl);
    println!("target_info_entropy_sample: {}", d.entropy);
    cell("torch.allclose(ce_loss_sample, kl_loss_sample + target_info_entropy_sample)");
    println!("{}", py_bool(d.ce.allclose(&d.kl.add(&d.entropy)?, 1e-5, 1e-8)?));
    println!("# the notebook: [1.5688, 1.4553] = [0.1949, 0.0943] + [1.3739, 1.3610]: True");
    let delta = Categorical::from_probs(&target_indices.one_hot(Some(num_class))?.to_dtype(DType::F32)?)?;
    println!(
        "# a delta (one-hot) target has entropy ~0 ({}), so then CE = KL: optimising either is the same",
        delta.entropy()?
    );

    // --- 5. Binary cross-entropy, and the same number through NLL over two classes.
    cell("logits = torch.randn(2); prob_1 = torch.sigmoid(logits); target = torch.randint(2, size=(2,))");
    let logits = Tensor::randn_with([batchsize], DType::F32, &mut g)?;
    let prob_1 = logits.sigmoid()?;
    let target = Tensor::from_data(TensorData::randint_with(0, 2, [batchsize], &mut g)?);
    println!("prob_1 = {prob_1}\ntarget = {target}");
    cell("BCE_loss = nn.BCELoss()(prob_1, target.float())");
    let bce_loss = BCELoss::new().forward(&prob_1, &target.to_dtype(DType::F32)?)?;
    println!("BCE_loss: {}", py(bce_loss.item()?));
    cell("prob = torch.cat([1 - prob_1, prob_1], dim=-1); nll_loss_fn(torch.log(prob), target)");
    let nll_loss_binary = nb::bce_via_nll(&prob_1, &target)?;
    println!("nll_loss binary: {}", py(nll_loss_binary.item()?));
    println!("{}", py_bool(nll_loss_binary.allclose(&bce_loss, 1e-5, 1e-8)?));
    println!("# the notebook: 0.9651271104812622 twice, True");

    // --- 6. Cosine embedding loss: two embeddings and a +1 / -1 target.
    cell("v1, v2 = torch.randn(2, 512), torch.randn(2, 512); target = torch.randint(2, size=(2,)) * 2 - 1");
    let v1 = Tensor::randn_with([batchsize, 512], DType::F32, &mut g)?;
    let v2 = Tensor::randn_with([batchsize, 512], DType::F32, &mut g)?;
    let target = Tensor::from_data(TensorData::randint_with(0, 2, [batchsize], &mut g)?)
        .mul_scalar(2.0)?
        .add_scalar(-1.0)?;
    println!("target = {target}");
    let cosine_loss = CosineEmbeddingLoss::new().forward(&v1, &v2, &target)?;
    println!("cosine_loss: {}", py(cosine_loss.item()?));
    println!(
        "# by hand (1 - cos for +1, max(0, cos) for -1, mean): {}",
        py(nb::cosine_embedding_by_hand(&v1, &v2, &target)?.item()?)
    );
    println!(
        "# random 512-d vectors are nearly orthogonal (cos ~ 0), so each +1 pair costs ~1, each -1 pair ~0;"
    );
    println!("# the notebook: 0.9742875099182129");

    // --- The cheat sheet, and what happens when the input is the wrong kind.
    cell("# Summary of PyTorch Loss-Input Confusion (Cheatsheet)");
    println!("{}", cheat_sheet_table());
    let nb::Inputs { logits, target_indices, .. } = nb::inputs(&mut g, batchsize, num_class)?;
    cell("F::binary_cross_entropy(&logits, &t)  # logits where probabilities belong");
    match F::binary_cross_entropy(&logits, &logits.sigmoid()?) {
        Ok(l) => println!("{l}"),
        Err(e) => println!("Err: {e}"),
    }
    cell("F::nll_loss(&logits, &t)  # logits where log-probabilities belong: no error, wrong number");
    println!("nll_loss(logits)              = {}", py(F::nll_loss(&logits, &target_indices)?.item()?));
    println!(
        "nll_loss(log_softmax(logits)) = {}",
        py(F::nll_loss(&logits.log_softmax(-1)?, &target_indices)?.item()?)
    );
    println!("cross_entropy(logits)         = {}", py(F::cross_entropy(&logits, &target_indices)?.item()?));
    cell(
        "F::cross_entropy(&softmax(logits), &t)  # probabilities where logits belong: softmax applied twice",
    );
    println!("{}", py(F::cross_entropy(&logits.softmax(-1)?, &target_indices)?.item()?));
    cell("F::nll_loss(&log_p, &t.to_dtype(F32))  # float targets where class indices belong");
    match F::nll_loss(&logits.log_softmax(-1)?, &target_indices.to_dtype(DType::F32)?) {
        Ok(l) => println!("{l}"),
        Err(e) => println!("Err: {e}"),
    }
    Ok(())
}

/// Python's spelling of a bool, as the notebook prints `torch.allclose`.
fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}
