"""Curriculum `train_model` cases: a whole training run of a curriculum model.

Each step: optimizer.zero_grad(set_to_none=True), loss on batches[s], backward, optimizer
step, in training mode; then model.eval() and the loss on batches[0] without gradients
(expected.eval_loss, a number). `init` is the initial state_dict (PyTorch's default init,
from a seeded global generator), expected.state_dict the final one."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from case import DTYPES, TRAIN_TOLERANCE, register, rng, tensor_json

# train_model runs are longer and deeper than `train` ones: a looser f32 tolerance.
TOLERANCE = {"f32": (2e-4, 2e-5), "f64": TRAIN_TOLERANCE["f64"]}


# ---------------------------------------------------------------------------------------
# The architectures, with the attribute names that make PyTorch's state_dict keys.


class MakemoreMLP(nn.Module):
    # makemore part 2/3: embedding, one hidden tanh layer (optionally batch-normalised).
    def __init__(self, vocab, block_size, n_embd, n_hidden, batchnorm):
        super().__init__()
        self.C = nn.Embedding(vocab, n_embd)
        self.l1 = nn.Linear(block_size * n_embd, n_hidden, bias=not batchnorm)
        self.bn = nn.BatchNorm1d(n_hidden) if batchnorm else None
        self.l2 = nn.Linear(n_hidden, vocab)

    def forward(self, x):
        h = self.l1(self.C(x).view(x.shape[0], -1))
        if self.bn is not None:
            h = self.bn(h)
        return self.l2(torch.tanh(h))


def cnn_digits(channels, kernel_size, pool, classes):
    # Conv2d, ReLU, MaxPool2d, Flatten, Linear on (B, 1, 8, 8) images.
    side = (8 - kernel_size + 1) // pool
    return nn.Sequential(nn.Conv2d(1, channels, kernel_size), nn.ReLU(), nn.MaxPool2d(pool), nn.Flatten(),
                         nn.Linear(channels * side * side, classes))


class Head(nn.Module):
    # "let's build GPT": one head of causal self-attention.
    def __init__(self, n_embd, head_size, block_size):
        super().__init__()
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(block_size, block_size)))

    def forward(self, x):
        t = x.shape[1]
        k, q = self.key(x), self.query(x)
        wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
        wei = wei.masked_fill(self.tril[:t, :t] == 0, float("-inf"))
        return F.softmax(wei, dim=-1) @ self.value(x)


class MultiHeadAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.heads = nn.ModuleList([Head(n_embd, n_embd // n_head, block_size) for _ in range(n_head)])
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        return self.proj(torch.cat([h(x) for h in self.heads], dim=-1))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.sa = MultiHeadAttention(n_embd, n_head, block_size)
        self.ffwd = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.ReLU(), nn.Linear(4 * n_embd, n_embd))
        self.ln1 = nn.LayerNorm(n_embd)
        self.ln2 = nn.LayerNorm(n_embd)

    def forward(self, x):
        x = x + self.sa(self.ln1(x))
        return x + self.ffwd(self.ln2(x))


class GPT(nn.Module):
    # The lecture's gpt.py with dropout 0.
    def __init__(self, vocab, n_embd, n_head, n_layer, block_size):
        super().__init__()
        self.token_embedding_table = nn.Embedding(vocab, n_embd)
        self.position_embedding_table = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head, block_size) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.token_embedding_table(idx) + self.position_embedding_table(torch.arange(t))
        return self.lm_head(self.ln_f(self.blocks(x)))


# ---------------------------------------------------------------------------------------
# The runs: (name, model, config, data size, optimizer, steps, batch size).

MAKEMORE = {"vocab": 27, "block_size": 3, "n_embd": 10, "n_hidden": 64}
RUNS = [
    ("makemore_mlp/sgd", "makemore_mlp", {**MAKEMORE, "batchnorm": False}, {"name": "sgd", "lr": 0.1}, 25, 32),
    ("makemore_mlp_batchnorm/sgd", "makemore_mlp", {**MAKEMORE, "batchnorm": True}, {"name": "sgd", "lr": 0.1}, 25, 32),
    ("cnn_digits/adam", "cnn_digits", {"channels": 8, "kernel_size": 3, "pool": 2, "classes": 10},
     {"name": "adam", "lr": 0.01}, 15, 16),
    ("tiny_gpt/adamw", "gpt", {"vocab": 65, "n_embd": 16, "n_head": 2, "n_layer": 2, "block_size": 8},
     {"name": "adamw", "lr": 0.001}, 8, 4),
]


def build(model, config):
    if model == "makemore_mlp":
        return MakemoreMLP(**config)
    if model == "cnn_digits":
        return cnn_digits(**config)
    return GPT(**config)


def data(r, model, config, dt):
    """The data (args) and how many batch rows can be drawn."""
    if model == "makemore_mlp":  # 300 contexts of block_size characters and their next character
        vocab = config["vocab"]
        return {"X": r.randint(vocab, (300, config["block_size"])), "Y": r.randint(vocab, (300,))}, 300
    if model == "cnn_digits":  # 64 8x8 images in [0, 1)
        return {"X": r.uniform((64, 1, 8, 8), dt), "Y": r.randint(config["classes"], (64,))}, 64
    text = r.randint(config["vocab"], (400,))  # gpt: a text of 400 tokens; a batch row starts anywhere
    return {"text": text}, 400 - config["block_size"]


def loss_on(model_name, model, config, args, rows):
    """cross_entropy on the batch `rows` (a list of row indices, or of text offsets for gpt)."""
    if model_name == "gpt":
        bs = config["block_size"]
        text = args["text"]
        x = torch.stack([text[i:i + bs] for i in rows])
        y = torch.stack([text[i + 1:i + bs + 1] for i in rows])
        logits = model(x)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
    index = torch.tensor(rows)
    return F.cross_entropy(model(args["X"][index]), args["Y"][index])


def state_json(model):
    return {k: tensor_json(v) for k, v in model.state_dict().items()}


OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def make_optimizer(spec, params):
    # torch.optim.SGD / Adam / AdamW(params, **keyword arguments)
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    return OPTIMIZERS[spec["name"]](params, **kwargs)


@register("train_model")
def train_model():
    for dt in DTYPES:
        for suffix, model_name, config, optimizer, steps, batch in RUNS:
            yield train_model_case(f"train_model/{dt}/{suffix}", dt, model_name, config, optimizer, steps, batch)


def train_model_case(name, dt, model_name, config, optimizer, steps, batch):
    r = rng(name)
    args, rows = data(r, model_name, config, dt)
    batches = [r.randint(rows, (batch,)).tolist() for _ in range(steps)]
    torch.manual_seed(int(r.randint(2**31, ())))  # PyTorch's default init from the global generator
    model = build(model_name, config).to(DTYPES[dt])
    if isinstance(getattr(model, "bn", None), nn.BatchNorm1d):
        with torch.no_grad():  # a non-trivial affine, so its gradient matters
            model.bn.weight.copy_(r.uniform(model.bn.weight.shape, dt, 0.9, 1.1))
            model.bn.bias.copy_(r.randn(model.bn.bias.shape, dt, scale=0.05))
    init = state_json(model)

    opt = make_optimizer(optimizer, model.parameters())
    model.train()
    losses = []
    for rows_s in batches:
        opt.zero_grad(set_to_none=True)
        loss = loss_on(model_name, model, config, args, rows_s)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        eval_loss = loss_on(model_name, model, config, args, batches[0]).item()

    rtol, atol = TOLERANCE[dt]
    return {
        "name": name,
        "op": "train_model",
        "dtype": dt,
        "args": {k: tensor_json(v) for k, v in args.items()},
        "requires_grad": [],
        "options": {"model": model_name, "config": config, "optimizer": optimizer, "steps": steps, "batches": batches},
        "init": init,
        "rtol": rtol,
        "atol": atol,
        "expected": {
            "losses": tensor_json(torch.tensor(losses, dtype=DTYPES[dt])),
            "eval_loss": eval_loss,
            "state_dict": state_json(model),
        },
    }
