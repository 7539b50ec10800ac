"""makemore part 1 (karpathy/nn-zero-to-hero, lectures/makemore/makemore_part1_bigrams.ipynb)
in PyTorch, printing what `cargo run --release --example makemore_bigram` prints.

Run by hand, never in CI: python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch==2.9.1 numpy
then /tmp/torch/bin/python tools/lectures/makemore_bigram.py [--steps 100]

Adapted only where the data differ: data/names.txt (5,163 names) stands in for the lecture's
32k names; 10 names are sampled from each model; the network trains --steps steps.
"""
import argparse, os
import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=100)
args = ap.parse_args()

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
words = open(os.path.join(root, "data", "names.txt"), "r").read().splitlines()
print(len(words), "names, e.g.", words[:3])

# the 27 x 27 table of bigram counts ('.' marks start and end)
chars = sorted(list(set("".join(words))))
stoi = {s: i + 1 for i, s in enumerate(chars)}
stoi["."] = 0
itos = {i: s for s, i in stoi.items()}
N = torch.zeros((27, 27), dtype=torch.int32)
for w in words:
    chs = ["."] + list(w) + ["."]
    for ch1, ch2 in zip(chs, chs[1:]):
        N[stoi[ch1], stoi[ch2]] += 1
print("N[0] (counts of first letters):", N[0].tolist())
top = N.flatten().argmax().item()
print(f"most common bigram: {itos[top // 27]}{itos[top % 27]} ({N.flatten().max().item()} times)")

# smoothed, normalised rows; sample names
P = (N + 1).float()
P /= P.sum(1, keepdims=True)

def sample(probs_of, g):
    names = []
    for _ in range(10):
        out, ix = [], 0
        while True:
            ix = torch.multinomial(probs_of(ix), num_samples=1, replacement=True, generator=g).item()
            out.append(itos[ix])
            if ix == 0:
                break
        names.append("".join(out))
    return names

g = torch.Generator().manual_seed(2147483647)
print("samples:", " ".join(sample(lambda ix: P[ix], g)))

# the average negative log-likelihood of the data under the model
log_likelihood, n = 0.0, 0
for w in words:
    chs = ["."] + list(w) + ["."]
    for ch1, ch2 in zip(chs, chs[1:]):
        log_likelihood += torch.log(P[stoi[ch1], stoi[ch2]])
        n += 1
print(f"nll = {(-log_likelihood / n).item():.6f} over {n} bigrams")

# the same model as a one-layer network trained by gradient descent
xs, ys = [], []
for w in words:
    chs = ["."] + list(w) + ["."]
    for ch1, ch2 in zip(chs, chs[1:]):
        xs.append(stoi[ch1])
        ys.append(stoi[ch2])
xs, ys = torch.tensor(xs), torch.tensor(ys)
num = xs.nelement()
g = torch.Generator().manual_seed(2147483647)
W = torch.randn((27, 27), generator=g, requires_grad=True)
xenc = F.one_hot(xs, num_classes=27).float()
for k in range(args.steps):
    logits = xenc @ W  # log-counts
    counts = logits.exp()
    probs = counts / counts.sum(1, keepdims=True)
    loss = -probs[torch.arange(num), ys].log().mean() + 0.01 * (W**2).mean()
    if k < 5 or k == args.steps - 1:
        print(f"step {k}: loss {loss.item():.6f}")
    W.grad = None
    loss.backward()
    W.data += -50 * W.grad

g = torch.Generator().manual_seed(2147483647)
def net_probs(ix):
    logits = F.one_hot(torch.tensor([ix]), num_classes=27).float() @ W
    counts = logits.exp()
    return (counts / counts.sum(1, keepdims=True))[0]
print("network samples:", " ".join(sample(net_probs, g)))
