"""PyTorch twin of torchlet's `examples/ops_survey.rs`: the same everyday ops on the same
shapes, each timed as the median over 7 repeats of `iters` calls after one call, at the
faster of 1 and 2 threads. Prints `NAME<TAB>MEDIAN us` per op (all without a name).

    python tools/bench/ops_survey.py [NAME ...]
"""
import sys
import time

import torch
import torch.nn.functional as F

torch.manual_seed(0)


def bench(f, iters):
    f()
    ts = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(iters):
            f()
        ts.append((time.perf_counter() - t) / iters * 1e6)
    ts.sort()
    return ts[3]
M = torch.randn(1000, 1000); S = torch.randn(64, 64); T = torch.randn(28892, 200)
B = torch.randn(512, 512)
idx10 = torch.randint(0, 1000, (1000, 10)); idxfull = torch.randint(0, 1000, (1000, 1000))
rows500 = torch.randint(0, 1000, (500,))
P = torch.softmax(torch.randn(1000, 27), 1); p27 = torch.softmax(torch.randn(27), 0); P32 = torch.softmax(torch.randn(32, 27), 1)
mask = M > 0
Y = torch.randn(1000, 1000)
A4 = torch.randn(32, 64, 8, 32)
W = torch.randn(27, 10, requires_grad=True); ix = torch.randint(0, 27, (32, 3)); gE = torch.randn(32, 3, 10)
lab = torch.randint(0, 27, (10000,))
Q = torch.randn(8, 128, 32); K = torch.randn(8, 32, 128)
X4 = torch.randn(32, 32, 32, 32)
C1 = torch.randn(8, 16, 100); W1 = torch.randn(32, 16, 3)
def emb_fb():
    W.grad = None
    F.embedding(ix, W).backward(gE)
# Forward and backward: a leaf like M, upstream gradients of each output's shape.
Mg = M.detach().clone().requires_grad_(True)
G1m = torch.randn(1000, 1000); G1k = torch.randn(1000); G10 = torch.randn(1000, 10)
G500 = torch.randn(500, 1000); G2m = torch.randn(2000, 1000)
Row = torch.randn(1000, requires_grad=True)
def fb(f, g):
    def step():
        Mg.grad = None
        Row.grad = None
        f().backward(g)
    return step
FB = {
 "softmax_1_fb": (fb(lambda: Mg.softmax(1), G1m), 50),
 "softmax_0_fb": (fb(lambda: Mg.softmax(0), G1m), 50),
 "log_softmax_1_fb": (fb(lambda: Mg.log_softmax(1), G1m), 50),
 "logsumexp_1_fb": (fb(lambda: Mg.logsumexp(1), G1k), 50),
 "gather_1000x10_fb": (fb(lambda: Mg.gather(1, idx10), G10), 500),
 "index_select_fb": (fb(lambda: Mg.index_select(0, rows500), G500), 100),
 "max_dim_1_fb": (fb(lambda: Mg.max(1).values, G1k), 50),
 "cumsum_1_fb": (fb(lambda: Mg.cumsum(1), G1m), 50),
 "norm2_1_fb": (fb(lambda: torch.linalg.vector_norm(Mg, 2, 1), G1k), 50),
 "mean_0_fb": (fb(lambda: Mg.mean(0), G1k), 50),
 "var_1_fb": (fb(lambda: Mg.var(1), G1k), 50),
 "where_fb": (fb(lambda: torch.where(mask, Mg, Y), G1m), 50),
 "pow_2_5_fb": (fb(lambda: Mg.pow(2.5), G1m), 50),
 "sigmoid_fb": (fb(lambda: Mg.sigmoid(), G1m), 50),
 "add_row_fb": (fb(lambda: Mg + Row, G1m), 50),
 "cat_fb": (fb(lambda: torch.cat([Mg, Y], 0), G2m), 50),
}
W_ = {
 "repeat_512_2x2": (lambda: B.repeat(2, 2), 50),
 "repeat_64_4x4": (lambda: S.repeat(4, 4), 2000),
 "gather_1000x10": (lambda: M.gather(1, idx10), 2000),
 "gather_1000x1000": (lambda: M.gather(1, idxfull), 50),
 "index_select_500rows": (lambda: M.index_select(0, rows500), 200),
 "multinomial_1000x27": (lambda: torch.multinomial(P, 1, True), 500),
 "multinomial_32x27": (lambda: torch.multinomial(P32, 1, True), 2000),
 "multinomial_27_100": (lambda: torch.multinomial(p27, 100, True), 2000),
 "cumsum_1": (lambda: M.cumsum(1), 50),
 "cumsum_0": (lambda: M.cumsum(0), 50),
 "argmax_1": (lambda: M.argmax(1), 100),
 "max_dim_1": (lambda: M.max(1), 100),
 "max_dim_0": (lambda: M.max(0), 100),
 "softmax_1": (lambda: M.softmax(1), 100),
 "softmax_0": (lambda: M.softmax(0), 100),
 "t_contiguous": (lambda: M.t().contiguous(), 100),
 "permute_contiguous": (lambda: A4.permute(0, 2, 1, 3).contiguous(), 100),
 "cat_dim1": (lambda: torch.cat([M, Y], 1), 50),
 "stack_4": (lambda: torch.stack([M, Y, M, Y]), 50),
 "where": (lambda: torch.where(mask, M, Y), 100),
 "masked_fill": (lambda: M.masked_fill(mask, 0.0), 100),
 "clamp": (lambda: M.clamp(-1, 1), 100),
 "pow2": (lambda: M.pow(2.0), 100),
 "pow3": (lambda: M.pow(3.0), 100),
 "pow_2_5": (lambda: M.pow(2.5), 100),
 "std_1": (lambda: M.std(1), 100),
 "var_1": (lambda: M.var(1), 100),
 "mean_0": (lambda: M.mean(0), 100),
 "norm2_1": (lambda: torch.linalg.vector_norm(M, 2, 1), 100),
 "norm2_0": (lambda: torch.linalg.vector_norm(M, 2, 0), 100),
 "norm1_1": (lambda: torch.linalg.vector_norm(M, 1, 1), 100),
 "logsumexp_1": (lambda: M.logsumexp(1), 100),
 "logsumexp_0": (lambda: M.logsumexp(0), 100),
 "prod_1": (lambda: M.prod(1), 100),
 "prod_0": (lambda: M.prod(0), 100),
 "std_0": (lambda: M.std(0), 100),
 "argmax_0": (lambda: M.argmax(0), 100),
 "randn_1M": (lambda: torch.randn(1000, 1000), 50),
 "rand_1M": (lambda: torch.rand(1000, 1000), 50),
 "randint_1M": (lambda: torch.randint(0, 27, (1000, 1000)), 50),
 "tril": (lambda: M.tril(), 100),
 "one_hot_10000": (lambda: F.one_hot(lab, 27), 200),
 "embedding_fwd_bwd": (emb_fb, 2000),
 "matmul_64": (lambda: S @ S, 5000),
 "bmm_8x128x32": (lambda: Q @ K, 500),
 "avg_pool2d": (lambda: F.avg_pool2d(X4, 2), 50),
 "conv1d": (lambda: F.conv1d(C1, W1, padding=1), 200),
 "nonzero": (lambda: mask.nonzero(), 50),
 "masked_select": (lambda: M.masked_select(mask), 50),
 "sum_1_tall": (lambda: T.sum(1), 50),
 "sum_0_tall": (lambda: T.sum(0), 50),
 "mean_1_tall": (lambda: T.mean(1), 50),
 "relu": (lambda: torch.relu(M), 100),
 "sigmoid": (lambda: torch.sigmoid(M), 100),
 "log": (lambda: torch.log(M.abs()), 100),
 "mul": (lambda: M * Y, 100),
 "div": (lambda: M / Y, 100),
 "transpose_matmul": (lambda: M.t() @ Y[:, :64], 50),
}
W_.update(FB)
names = sys.argv[1:] or list(W_)
for n in names:
    f, it = W_[n]
    best = min(*(torch.set_num_threads(t) or bench(f, it) for t in (1, 2)))
    print(f"{n}\t{best:.2f}")
