"""PyTorch CPU reference timings for the benchmark workloads of docs/benchmarks.md (first table),
for side-by-side comparison with `cargo run --release --example bench`.

Usage: python tools/bench/torch_bench.py [NAME ...]   (needs `pip install torch`; never run in CI)
Prints one line per workload: NAME<TAB>MEDIAN us (digits_train adds its test accuracy)."""
import csv, os, sys, time, statistics
import torch
import torch.nn as nn
import torch.nn.functional as F

DIGITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "optdigits.csv")


def bench(fn, iters, repeats=7):
    fn()  # warm-up
    t = []
    for _ in range(repeats):
        s = time.perf_counter()
        for _ in range(iters):
            fn()
        t.append((time.perf_counter() - s) / iters * 1e6)
    return statistics.median(t)


def xor_step():
    X = torch.tensor([[0., 0], [0, 1], [1, 0], [1, 1]])
    Y = torch.tensor([0, 1, 1, 0])
    model = nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 2), nn.Sigmoid())
    opt = torch.optim.SGD(model.parameters(), lr=0.03)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        opt.step()
    return step


def log_softmax_fwd(n=50000, c=10):
    x = torch.randn(n, c)
    return lambda: F.log_softmax(x, -1)


def ce_fwd_bwd(n=50000, c=10):
    x = torch.randn(n, c, requires_grad=True)
    y = torch.randint(c, (n,))

    def step():
        x.grad = None
        F.cross_entropy(x, y).backward()
    return step


def mlp_fwd_bwd(n=50000):
    x = torch.randn(n, 784)
    y = torch.randint(10, (n,))
    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))

    def step():
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
    return step


def matmul(n=512):
    a, b = torch.randn(n, n), torch.randn(n, n)
    return lambda: a @ b


def digits_train(epochs=30):
    rows = [list(map(int, r)) for r in csv.reader(open(DIGITS))]
    X = torch.tensor([r[:64] for r in rows], dtype=torch.float32) / 16
    Y = torch.tensor([r[64] for r in rows])
    xtr, ytr, xte, yte = X[:1437], Y[:1437], X[1437:], Y[1437:]
    acc = []

    def run():
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for _ in range(epochs):
            for i in range(0, 1437, 32):
                opt.zero_grad()
                F.cross_entropy(model(xtr[i:i + 32]), ytr[i:i + 32]).backward()
                opt.step()
        with torch.no_grad():
            acc.append((model(xte).argmax(1) == yte).float().mean().item())
    return run, acc


WORKLOADS = {
    "xor_step": (xor_step, 2000),
    "log_softmax_50000x10": (log_softmax_fwd, 100),
    "cross_entropy_fwd_bwd_50000x10": (ce_fwd_bwd, 50),
    "mlp_784_32_10_fwd_bwd_50000": (mlp_fwd_bwd, 3),
    "matmul_512": (matmul, 50),
    "digits_train": (digits_train, 1),
}

if __name__ == "__main__":
    torch.manual_seed(0)
    for name in sys.argv[1:] or list(WORKLOADS):
        make, iters = WORKLOADS[name]
        if name == "digits_train":
            run, acc = make()
            print(f"{name}\t{bench(run, iters, repeats=3):.1f} us\taccuracy {statistics.median(acc):.4f}")
        else:
            print(f"{name}\t{bench(make(), iters):.1f} us")
