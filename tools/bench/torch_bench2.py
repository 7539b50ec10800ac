"""PyTorch CPU reference timings for the curriculum workloads of docs/benchmarks.md (second table).

Usage: python tools/bench/torch_bench2.py [--threads N] [NAME ...]   (needs `pip install torch`; never in CI)
Prints one line per workload: NAME<TAB>MEDIAN us. Without --threads each workload is timed
with 1 thread and with the default thread count, and the faster is printed (what a user
tuning PyTorch would pick), followed by the thread count that won."""
import os, sys, time, statistics
import torch
import torch.nn as nn
import torch.nn.functional as F


def bench(fn, iters, repeats=7):
    fn()  # warm-up
    t = []
    for _ in range(repeats):
        s = time.perf_counter()
        for _ in range(iters):
            fn()
        t.append((time.perf_counter() - s) / iters * 1e6)
    return statistics.median(t)


def unary(f, shape=(1000, 1000)):
    def make():
        x = torch.randn(*shape)
        return lambda: f(x)
    return make


def chain_fwd_bwd(shape=(1000, 1000)):
    # loss = mean(0.5 * tanh(x) + sigmoid(x)); backward
    x = torch.randn(*shape, requires_grad=True)

    def step():
        x.grad = None
        (torch.tanh(x) * 0.5 + torch.sigmoid(x)).mean().backward()
    return step


def broadcast_add(n=28892, c=200):
    a, b = torch.randn(n, c), torch.randn(c)
    return lambda: a + b


def reduce_dim0(kind, n=28892, c=200):
    x = torch.randn(n, c)
    if kind == "sum":
        return lambda: x.sum(0)
    return lambda: x.var(0)


def layer_norm_fwd_bwd(n=8192, c=256):
    x = torch.randn(n, c, requires_grad=True)
    ln = nn.LayerNorm(c)
    g = torch.randn(n, c)

    def step():
        x.grad = None
        ln.zero_grad()
        ln(x).backward(g)
    return step


def batch_norm_fwd_bwd(n=28892, c=200):
    x = torch.randn(n, c, requires_grad=True)
    bn = nn.BatchNorm1d(c)
    g = torch.randn(n, c)

    def step():
        x.grad = None
        bn.zero_grad()
        bn(x).backward(g)
    return step


def conv2d_fwd_bwd(n=32, cin=16, hw=32, cout=32):
    x = torch.randn(n, cin, hw, hw, requires_grad=True)
    conv = nn.Conv2d(cin, cout, 3, padding=1)
    g = torch.randn(n, cout, hw, hw)

    def step():
        x.grad = None
        conv.zero_grad()
        conv(x).backward(g)
    return step


def max_pool_fwd_bwd(n=32, c=32, hw=32):
    x = torch.randn(n, c, hw, hw, requires_grad=True)
    g = torch.randn(n, c, hw // 2, hw // 2)

    def step():
        x.grad = None
        F.max_pool2d(x, 2).backward(g)
    return step


def sdpa_fwd_bwd(B=8, h=4, T=128, hs=32):
    q, k, v = (torch.randn(B, h, T, hs, requires_grad=True) for _ in range(3))
    g = torch.randn(B, h, T, hs)

    def step():
        for t in (q, k, v):
            t.grad = None
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)
    return step


def makemore_step(batchnorm):
    # makemore part 2 (part 3 with batchnorm): vocab 27, block 3, n_embd 10, n_hidden 200, batch 32, SGD lr 0.1
    V, block, emb, hid, B = 27, 3, 10, 200, 32
    X, Y = torch.randint(V, (20000, block)), torch.randint(V, (20000,))
    C = nn.Embedding(V, emb)
    l1 = nn.Linear(block * emb, hid, bias=not batchnorm)
    bn = nn.BatchNorm1d(hid) if batchnorm else nn.Identity()
    l2 = nn.Linear(hid, V)
    params = [*C.parameters(), *l1.parameters(), *bn.parameters(), *l2.parameters()]
    opt = torch.optim.SGD(params, lr=0.1)
    ix = torch.randint(20000, (1000, B))
    it = [0]

    def step():
        b = ix[it[0] % 1000]
        it[0] += 1
        opt.zero_grad(set_to_none=True)
        logits = l2(torch.tanh(bn(l1(C(X[b]).view(B, -1)))))
        F.cross_entropy(logits, Y[b]).backward()
        opt.step()
    return step


def cnn_digits_step(B=32):
    X, Y = torch.rand(1437, 1, 8, 8), torch.randint(10, (1437,))
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 3 * 3, 10))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    it = [0]

    def step():
        i = (it[0] * B) % (1437 - B)
        it[0] += 1
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(X[i:i + B]), Y[i:i + B]).backward()
        opt.step()
    return step


class Head(nn.Module):
    def __init__(self, n_embd, hs, block):
        super().__init__()
        self.key, self.query, self.value = (nn.Linear(n_embd, hs, bias=False) for _ in range(3))
        self.register_buffer("tril", torch.tril(torch.ones(block, block)))

    def forward(self, x):
        B, T, C = x.shape
        k, q = self.key(x), self.query(x)
        wei = (q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5).masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        return F.softmax(wei, dim=-1) @ self.value(x)


class Block(nn.Module):
    def __init__(self, n, nh, block):
        super().__init__()
        self.heads = nn.ModuleList([Head(n, n // nh, block) for _ in range(nh)])
        self.proj = nn.Linear(n, n)
        self.ffwd = nn.Sequential(nn.Linear(n, 4 * n), nn.ReLU(), nn.Linear(4 * n, n))
        self.ln1, self.ln2 = nn.LayerNorm(n), nn.LayerNorm(n)

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.proj(torch.cat([hd(h) for hd in self.heads], -1))
        return x + self.ffwd(self.ln2(x))


class GPT(nn.Module):
    # the "let's build GPT" lecture's gpt.py, dropout 0
    def __init__(self, V=65, n=64, nh=4, nl=4, block=32):
        super().__init__()
        self.block = block
        self.tok, self.pos = nn.Embedding(V, n), nn.Embedding(block, n)
        self.blocks = nn.Sequential(*[Block(n, nh, block) for _ in range(nl)])
        self.ln_f, self.lm_head = nn.LayerNorm(n), nn.Linear(n, V)

    def forward(self, idx):
        T = idx.shape[1]
        return self.lm_head(self.ln_f(self.blocks(self.tok(idx) + self.pos(torch.arange(T)))))


def gpt_step(B=16):
    model = GPT()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = torch.randint(65, (100000,))
    it = [0]

    def step():
        g = torch.Generator().manual_seed(it[0])
        it[0] += 1
        ix = torch.randint(len(data) - 33, (B,), generator=g)
        xb = torch.stack([data[i:i + 32] for i in ix])
        yb = torch.stack([data[i + 1:i + 33] for i in ix])
        opt.zero_grad(set_to_none=True)
        logits = model(xb)
        F.cross_entropy(logits.view(-1, 65), yb.view(-1)).backward()
        opt.step()
    return step


def gpt_generate(tokens=100):
    model = GPT().eval()

    @torch.no_grad()
    def run():
        idx = torch.zeros((1, 1), dtype=torch.long)
        for _ in range(tokens):
            logits = model(idx[:, -model.block:])[:, -1, :]
            nxt = torch.multinomial(F.softmax(logits, -1), 1)
            idx = torch.cat((idx, nxt), 1)
    return run


WORKLOADS = {
    "tanh_1000x1000": (unary(torch.tanh), 50),
    "gelu_1000x1000": (unary(F.gelu), 50),
    "exp_1000x1000": (unary(torch.exp), 50),
    "elementwise_fwd_bwd_1000x1000": (chain_fwd_bwd, 20),
    "broadcast_add_28892x200": (broadcast_add, 50),
    "sum_dim0_28892x200": (lambda: reduce_dim0("sum"), 50),
    "var_dim0_28892x200": (lambda: reduce_dim0("var"), 50),
    "layer_norm_fwd_bwd_8192x256": (layer_norm_fwd_bwd, 20),
    "batch_norm_fwd_bwd_28892x200": (batch_norm_fwd_bwd, 10),
    "conv2d_fwd_bwd_32x16x32x32_k3_o32": (conv2d_fwd_bwd, 5),
    "max_pool2d_fwd_bwd_32x32x32x32": (max_pool_fwd_bwd, 20),
    "sdpa_causal_fwd_bwd_8x4x128x32": (sdpa_fwd_bwd, 10),
    "makemore_mlp_step": (lambda: makemore_step(False), 500),
    "makemore_bn_step": (lambda: makemore_step(True), 500),
    "cnn_digits_step": (cnn_digits_step, 500),
    "gpt_step": (gpt_step, 20),
    "gpt_generate_100": (gpt_generate, 3),
}


def run(name, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    make, iters = WORKLOADS[name]
    return bench(make(), iters)


if __name__ == "__main__":
    args = sys.argv[1:]
    fixed = None
    if args[:1] == ["--threads"]:
        fixed, args = int(args[1]), args[2:]
    default = torch.get_num_threads()
    for name in args or list(WORKLOADS):
        if fixed:
            print(f"{name}\t{run(name, fixed):.1f} us")
        else:
            best = min((run(name, t), t) for t in sorted({1, default}))
            print(f"{name}\t{best[0]:.1f} us\tthreads {best[1]}")
