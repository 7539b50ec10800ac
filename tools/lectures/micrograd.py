"""micrograd's demo notebook (karpathy/micrograd, demo.ipynb) in PyTorch, printing what
`cargo run --release --example micrograd` prints.

Run by hand, never in CI: python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch==2.9.1 numpy
then /tmp/torch/bin/python tools/lectures/micrograd.py

Adapted only where the medium differs: the data is read from data/moons.csv (the notebook's
make_moons(n_samples=100, noise=0.1) after np.random.seed(1337); random.seed(1337)), and the
scalar Values become float64 tensors. The weights are micrograd's: random.uniform(-1, 1) for
each weight after random.seed(1337), neuron after neuron, biases 0.
"""
import csv, os, random, time
import torch

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
rows = list(csv.DictReader(open(os.path.join(root, "data", "moons.csv"))))
X = torch.tensor([[float(r["x0"]), float(r["x1"])] for r in rows], dtype=torch.float64)
y = torch.tensor([[float(r["y"])] for r in rows], dtype=torch.float64)

random.seed(1337)
def layer(nin, nout):
    w = torch.tensor([[random.uniform(-1, 1) for _ in range(nin)] for _ in range(nout)], dtype=torch.float64)
    lin = torch.nn.Linear(nin, nout, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.zero_()
    return lin
model = torch.nn.Sequential(layer(2, 16), torch.nn.ReLU(), layer(16, 16), torch.nn.ReLU(), layer(16, 1))
print(model)
print("number of parameters", sum(p.numel() for p in model.parameters()))

def loss():
    scores = model(X)
    # svm "max-margin" loss
    losses = (1 + -y * scores).relu()
    data_loss = losses.sum() * (1.0 / losses.numel())
    # L2 regularization
    alpha = 1e-4
    reg_loss = alpha * sum((p * p).sum() for p in model.parameters())
    total_loss = data_loss + reg_loss
    # also get accuracy
    accuracy = ((y > 0) == (scores > 0)).double().mean().item()
    return total_loss, accuracy

t0 = time.perf_counter()
for k in range(100):
    total_loss, acc = loss()
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    with torch.no_grad():
        for p in model.parameters():
            p -= learning_rate * p.grad
    print(f"step {k} loss {total_loss.item()}, accuracy {acc*100}%")
print(f"trained in {(time.perf_counter() - t0) * 1e3:.1f} ms")
