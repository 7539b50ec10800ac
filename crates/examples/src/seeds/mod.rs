//! The computations of the five seed documents, shared by the walkthrough examples and their tests.
//!
//! The seed documents are five public pages about PyTorch's entropy-based losses that torchlet
//! was created from. Their texts are not part of this repository; every computation they show
//! is reproduced by a walkthrough example, and the numbers they print for deterministic inputs
//! are asserted by `tests/seed_NNN.rs`.
//!
//! | seed | document | what it covers | example |
//! |---|---|---|---|
//! | 000 | notebook "Entropy Based Loss Functions" | information, entropy, cross-entropy and KL on three fixed distributions; a BCE table; CCE vs KLD; unstable vs stable softmax/log_softmax (`x * 10000`); `cross_entropy`, `nll_loss`, `kl_div` (batchmean) and `binary_cross_entropy` against hand-written versions; fitting probability targets with `kl_div` | `entropy` |
//! | 001 | notebook "Learning various pytorch loss function APIs" | `CrossEntropyLoss` with index and probability targets, `NLLLoss` + `LogSoftmax`, `KLDivLoss` default vs batchmean, CE = entropy + KL per sample, `Categorical` entropy, BCE via NLL, `CosineEmbeddingLoss`; the input cheat sheet | `loss_apis` |
//! | 002 | Q&A "Cross Entropy in PyTorch" | logits `[0, 0, 0, 1]` with target 3 give 0.7437, not 0; `NLLLoss` and `CrossEntropyLoss` by hand over 1000 random batches, and the precision question | `cross_entropy_by_hand` |
//! | 003 | notebook "Cross Entropy" | `CrossEntropyLoss` on sigmoid outputs, `BCELoss` multi-label and with targets outside {0, 1}, `one_hot` and per-row entropy, the XOR network Linear-Sigmoid-Linear-Sigmoid with SGD, `loss.backward()` and inspecting the parameters and `.grad` | `bce_and_xor`, `xor` |
//! | 004 | blog post "Categorical Cross Entropy" | softmax and log-softmax by hand, NLL by indexing `preds[range(n), target]`, an MNIST-shaped Linear-ReLU-Linear model on (50000, 784), `F.nll_loss(F.log_softmax(..))` equals `F.cross_entropy` | `categorical_cross_entropy` |
pub mod seed000;
pub mod seed001;
pub mod seed002;
pub mod seed003;
pub mod seed004;
