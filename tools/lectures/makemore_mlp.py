"""makemore part 2 (karpathy/nn-zero-to-hero, lectures/makemore/makemore_part2_mlp.ipynb) in
PyTorch, printing what `cargo run --release --example makemore_mlp` prints.

Run by hand, never in CI: python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch==2.9.1 numpy
then /tmp/torch/bin/python tools/lectures/makemore_mlp.py [--steps 200000]

Adapted only where the data or the presentation differ: data/names.txt (5,163 names) stands in
for the 32k names; the learning-rate sweep (1000 steps, lr = 10**linspace(-3, 0, 1000)) runs
from the initial weights and prints the loss at a few rates, then the weights are drawn again
from the same seed for the real run (the lecture reused the swept weights); losses print every
10,000 steps; 20 names are sampled at the end.
"""
import argparse, os, random
import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=200000)
args = ap.parse_args()

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
words = open(os.path.join(root, "data", "names.txt"), "r").read().splitlines()
chars = sorted(list(set("".join(words))))
stoi = {s: i + 1 for i, s in enumerate(chars)}
stoi["."] = 0
itos = {i: s for s, i in stoi.items()}

block_size = 3  # context length: how many characters do we take to predict the next one?
def build_dataset(words):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]  # crop and append
    return torch.tensor(X), torch.tensor(Y)

random.seed(42)
random.shuffle(words)
n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
Xtr, Ytr = build_dataset(words[:n1])
Xdev, Ydev = build_dataset(words[n1:n2])
Xte, Yte = build_dataset(words[n2:])
print("train", tuple(Xtr.shape), "dev", tuple(Xdev.shape), "test", tuple(Xte.shape))

def init():
    g = torch.Generator().manual_seed(2147483647)  # for reproducibility
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g)
    b1 = torch.randn(200, generator=g)
    W2 = torch.randn((200, 27), generator=g)
    b2 = torch.randn(27, generator=g)
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    return parameters

def loss_of(parameters, X, Y):
    C, W1, b1, W2, b2 = parameters
    emb = C[X]  # (N, 3, 10)
    h = torch.tanh(emb.view(-1, 30) @ W1 + b1)  # (N, 200)
    logits = h @ W2 + b2  # (N, 27)
    return F.cross_entropy(logits, Y)

def step(parameters, lr):
    ix = torch.randint(0, Xtr.shape[0], (32,))  # minibatch
    loss = loss_of(parameters, Xtr[ix], Ytr[ix])
    for p in parameters:
        p.grad = None
    loss.backward()
    for p in parameters:
        p.data += -lr * p.grad
    return loss.item()

torch.manual_seed(0)  # the minibatches come from the global generator
parameters = init()
print("parameters:", sum(p.nelement() for p in parameters))
lre = torch.linspace(-3, 0, 1000)
lrs = 10**lre
sweep = [step(parameters, lrs[i].item()) for i in range(1000)]
for i in (0, 250, 500, 750, 999):
    print(f"sweep: lr {lrs[i].item():.4f} loss {sweep[i]:.4f}")

parameters = init()
for i in range(args.steps):
    lr = 0.1 if i < args.steps // 2 else 0.01
    loss = step(parameters, lr)
    if i < 5 or i % 10000 == 0:
        print(f"step {i}: loss {loss:.6f}")

with torch.no_grad():
    print(f"train loss {loss_of(parameters, Xtr, Ytr).item():.4f}")
    print(f"dev loss {loss_of(parameters, Xdev, Ydev).item():.4f}")

C, W1, b1, W2, b2 = parameters
g = torch.Generator().manual_seed(2147483647 + 10)
names = []
for _ in range(20):
    out, context = [], [0] * block_size
    while True:
        emb = C[torch.tensor([context])]  # (1, block_size, d)
        h = torch.tanh(emb.view(1, -1) @ W1 + b1)
        probs = F.softmax(h @ W2 + b2, dim=1)
        ix = torch.multinomial(probs, num_samples=1, generator=g).item()
        context = context[1:] + [ix]
        out.append(ix)
        if ix == 0:
            break
    names.append("".join(itos[i] for i in out))
print("samples:", " ".join(names))
