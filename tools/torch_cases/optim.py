"""`train` cases: a whole training run of a small Sequential with SGD, Adam or AdamW.

Each step is PyTorch's loop: optimizer.zero_grad(), forward, loss, loss.backward(),
optimizer.step(). Expected: every step's loss (before its update) and every parameter after
the last step (weight, bias of each linear layer, in order)."""

import math

import torch
import torch.nn.functional as F

from case import DTYPES, TRAIN_TOLERANCE, register, rng, tensor, tensor_json

XOR_X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
XOR_Y = [0, 1, 1, 0]

# The loss by its functional name, as the format's options.loss names it.
LOSSES = {
    "cross_entropy": F.cross_entropy,
    "nll_loss": lambda out, y, **o: F.nll_loss(F.log_softmax(out, -1), y, **o),  # on log_softmax(output)
    "mse_loss": F.mse_loss,
    "binary_cross_entropy": F.binary_cross_entropy,
    "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
}
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}

# xor_seed/<name><i>: the same XOR network under every optimizer configuration.
XOR_SEED_OPTIMIZERS = [
    {"name": "sgd", "lr": 0.03},
    {"name": "sgd", "lr": 0.5},
    {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    {"name": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.3},
    {"name": "sgd", "lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01},
    {"name": "sgd", "lr": 0.1, "momentum": 0.5, "maximize": True},
    {"name": "adam", "lr": 0.01},
    {"name": "adam", "lr": 0.02, "betas": [0.8, 0.99], "eps": 1e-06, "weight_decay": 0.01},
    {"name": "adam", "lr": 0.01, "amsgrad": True},
    {"name": "adamw", "lr": 0.01, "weight_decay": 0.1},
]


def runs():
    """(name suffix, layers, data, loss, loss_options, optimizer, steps) of every run.
    layers: ("linear", in, out) | ("sigmoid",) | ("relu",); data: "xor_class" (i64 labels),
    "xor_float" ((4, 1) float labels) or "mlp3" (32 random points, 3 classes)."""
    xor_sigmoid = [("linear", 2, 5), ("sigmoid",), ("linear", 5, 2), ("sigmoid",)]
    for i, opt in enumerate(XOR_SEED_OPTIMIZERS):
        yield f"xor_seed/{opt['name']}{i}", xor_sigmoid, "xor_class", "cross_entropy", {}, opt, 40
    yield ("xor_logits/sgd", [("linear", 2, 8), ("relu",), ("linear", 8, 2)], "xor_class", "cross_entropy",
           {"label_smoothing": 0.1}, {"name": "sgd", "lr": 0.2, "momentum": 0.9}, 60)
    yield ("xor_nll/sgd", [("linear", 2, 6), ("sigmoid",), ("linear", 6, 2)], "xor_class", "nll_loss", {},
           {"name": "sgd", "lr": 0.5}, 60)
    yield ("xor_mse/adam", [("linear", 2, 4), ("sigmoid",), ("linear", 4, 1), ("sigmoid",)], "xor_float",
           "mse_loss", {}, {"name": "adam", "lr": 0.05}, 60)
    yield ("xor_bce_logits/sgd", [("linear", 2, 4), ("sigmoid",), ("linear", 4, 1)], "xor_float",
           "binary_cross_entropy_with_logits", {}, {"name": "sgd", "lr": 0.5, "momentum": 0.5}, 60)
    yield ("xor_bce/sgd", [("linear", 2, 4), ("relu",), ("linear", 4, 1), ("sigmoid",)], "xor_float",
           "binary_cross_entropy", {}, {"name": "sgd", "lr": 0.3}, 60)
    yield ("mlp3/adam", [("linear", 6, 16), ("relu",), ("linear", 16, 8), ("sigmoid",), ("linear", 8, 3)], "mlp3",
           "cross_entropy", {}, {"name": "adam", "lr": 0.01}, 30)


@register("train")
def train():
    for dt in DTYPES:
        for suffix, layers, data, loss, loss_options, optimizer, steps in runs():
            yield train_case(f"train/{dt}/{suffix}", dt, layers, data, loss, loss_options, optimizer, steps)


def train_data(r, data, dt):
    if data == "xor_class":
        return tensor(XOR_X, dt), tensor(XOR_Y, "i64")
    if data == "xor_float":
        return tensor(XOR_X, dt), tensor([[float(y)] for y in XOR_Y], dt)
    return r.randn((32, 6), dt), r.randint(3, (32,))  # mlp3


def build_model(r, layers, dt):
    """torch.nn.Sequential of the layers; each Linear initialised like nn.Linear
    (uniform in +-1/sqrt(in_features)) from the case's generator."""
    modules = []
    for layer in layers:
        if layer[0] == "linear":
            _, fan_in, fan_out = layer
            lin = torch.nn.Linear(fan_in, fan_out, dtype=DTYPES[dt])
            bound = 1.0 / math.sqrt(fan_in)
            with torch.no_grad():
                lin.weight.copy_(r.uniform((fan_out, fan_in), dt, -bound, bound))
                lin.bias.copy_(r.uniform((fan_out,), dt, -bound, bound))
            modules.append(lin)
        else:
            modules.append({"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[layer[0]]())
    return torch.nn.Sequential(*modules)


def model_json(model):
    """The format's `model`: linear layers with their (PyTorch-layout) weights, activations by type."""
    out = []
    for m in model:
        if isinstance(m, torch.nn.Linear):
            out.append({"type": "linear", "weight": tensor_json(m.weight), "bias": tensor_json(m.bias)})
        else:
            out.append({"type": type(m).__name__.lower()})
    return out


def make_optimizer(spec, params):
    # torch.optim.SGD / Adam / AdamW(params, **keyword arguments); betas as a tuple.
    kwargs = {k: (tuple(v) if k == "betas" else v) for k, v in spec.items() if k != "name"}
    return OPTIMIZERS[spec["name"]](params, **kwargs)


def train_case(name, dt, layers, data, loss, loss_options, optimizer, steps):
    r = rng(name)
    x, y = train_data(r, data, dt)
    model = build_model(r, layers, dt)
    initial = model_json(model)
    opt = make_optimizer(optimizer, model.parameters())
    loss_fn = LOSSES[loss]
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        value = loss_fn(model(x), y, **loss_options)
        losses.append(value.item())
        value.backward()
        opt.step()
    rtol, atol = TRAIN_TOLERANCE[dt]
    return {
        "name": name,
        "op": "train",
        "dtype": dt,
        "args": {"x": tensor_json(x), "y": tensor_json(y)},
        "model": initial,
        "options": {"loss": loss, "loss_options": loss_options, "optimizer": optimizer, "steps": steps},
        "rtol": rtol,
        "atol": atol,
        "expected": {
            "losses": tensor_json(tensor(losses, dt)),
            "params": [tensor_json(p) for p in model.parameters()],
        },
    }
