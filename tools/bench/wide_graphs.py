"""PyTorch's twin of the wide-graph workloads of `cargo run --release --example bench`:
backward through `stack` of many scalar leaves, and through `cat` of one leaf used many times.
Median microseconds per iteration of 3 timed runs after one warm-up, like the Rust side.

Run by hand: /tmp/torch/bin/python tools/bench/wide_graphs.py
"""
import time, statistics
import torch

def bench(step, repeats=3):
    step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); step(); times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times)

def stack(n):
    leaves = [torch.tensor(float(i), requires_grad=True) for i in range(n)]
    return bench(lambda: torch.stack(leaves).sum().backward())

def cat_one_leaf(n):
    x = torch.tensor([1.0], requires_grad=True)
    return bench(lambda: torch.cat([x] * n).sum().backward())

for name, f in [("backward_stack_40000_leaves", lambda: stack(40_000)),
                ("backward_stack_200000_leaves", lambda: stack(200_000)),
                ("backward_cat_one_leaf_100000", lambda: cat_one_leaf(100_000))]:
    print(f"{name}\t{f():.1f} us")
