"""A small convolutional network on the UCI digits in PyTorch, printing what
`cargo run --release --example cnn_digits` prints.

Run by hand, never in CI: python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch==2.9.1 numpy
then /tmp/torch/bin/python tools/lectures/cnn_digits.py [--epochs 10]

data/optdigits.csv: 8x8 images (pixels 0..16, scaled to [0, 1]) and labels; the first 1437
train, the last 360 test (as the digits MLP example). torch.manual_seed(0); Conv2d(1, 8, 3),
ReLU, MaxPool2d(2), Flatten, Linear(72, 10); Adam(lr=0.01); batches of 32, shuffled.
"""
import argparse, os
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=10)
args = ap.parse_args()

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
rows = [list(map(int, l.split(","))) for l in open(os.path.join(root, "data", "optdigits.csv")) if l.strip()]
X = torch.tensor([r[:64] for r in rows], dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
Y = torch.tensor([r[64] for r in rows])
Xtr, Ytr, Xte, Yte = X[:1437], Y[:1437], X[1437:], Y[1437:]

torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(72, 10))
print(model)
print("parameters:", sum(p.numel() for p in model.parameters()))
opt = torch.optim.Adam(model.parameters(), lr=0.01)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xtr, Ytr), batch_size=32, shuffle=True)
for epoch in range(args.epochs):
    total, n = 0.0, 0
    for step, (xb, yb) in enumerate(loader):
        loss = F.cross_entropy(model(xb), yb)
        if epoch == 0 and step < 5:
            print(f"epoch 0 step {step}: loss {loss.item():.6f}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(yb)
        n += len(yb)
    with torch.no_grad():
        acc = (model(Xte).argmax(1) == Yte).float().mean().item()
    print(f"epoch {epoch + 1}: train loss {total / n:.4f}, test accuracy {acc:.4f}")
