"""Curriculum `random` cases: PyTorch's CPU random streams, bit for bit.

A case seeds one generator (`global`: torch.manual_seed(seed) and the default generator;
`local`: torch.Generator().manual_seed(seed) passed to every call), runs `calls` on it in
order, and records every call's results (`expected.outputs`). The stream seeds 0, 42 and 1337
are part of the names; only the tensors passed in args (probabilities, dropout input) come
from the run's --seed."""

import torch
import torch.nn.functional as F

from case import DTYPES, register, rng, shape_name, tensor, tensor_json

STREAM_SEEDS = [0, 42, 1337]
TOL = (1e-06, 1e-07)


# ---------------------------------------------------------------------------------------
# One function per call `fn`: (call, generator or None, args) -> list of tensors.


def _dtype(call):
    return DTYPES[call.get("dtype", "f32")]


def _kw(g):
    return {} if g is None else {"generator": g}


CALLS = {
    "rand": lambda c, g, a: [torch.rand(c["size"], dtype=_dtype(c), **_kw(g))],
    "randn": lambda c, g, a: [torch.randn(c["size"], dtype=_dtype(c), **_kw(g))],
    "randint": lambda c, g, a: [torch.randint(c["low"], c["high"], c["size"], **_kw(g))],
    "randperm": lambda c, g, a: [torch.randperm(c["n"], **_kw(g))],
    "multinomial": lambda c, g, a: [torch.multinomial(a[c["probs"]], c["num_samples"], c["replacement"], **_kw(g))],
    "bernoulli": lambda c, g, a: [torch.bernoulli(a[c["probs"]], **_kw(g))],
    "normal_": lambda c, g, a: [torch.empty(c["size"], dtype=_dtype(c)).normal_(c["mean"], c["std"], **_kw(g))],
    "uniform_": lambda c, g, a: [torch.empty(c["size"], dtype=_dtype(c)).uniform_(c["from"], c["to"], **_kw(g))],
    "exponential_": lambda c, g, a: [torch.empty(c["size"], dtype=_dtype(c)).exponential_(c["lambd"], **_kw(g))],
    # What a shuffling DataLoader draws for its worker base seed.
    "random_int64": lambda c, g, a: [torch.empty((), dtype=torch.int64).random_(**_kw(g))],
    # Global generator only (the module-level calls take none):
    "dropout": lambda c, g, a: [F.dropout(a[c["input"]], c["p"], training=True)],
    "linear_init": lambda c, g, a: _parameters(torch.nn.Linear(c["in_features"], c["out_features"],
                                                               bias=c.get("bias", True), dtype=_dtype(c))),
    "conv2d_init": lambda c, g, a: _parameters(torch.nn.Conv2d(c["in_channels"], c["out_channels"], c["kernel_size"])),
    "embedding_init": lambda c, g, a: _parameters(torch.nn.Embedding(c["num_embeddings"], c["embedding_dim"])),
    "kaiming_normal_": lambda c, g, a: [torch.nn.init.kaiming_normal_(torch.empty(c["size"]), mode=c["mode"],
                                                                      nonlinearity=c["nonlinearity"])],
    "xavier_uniform_": lambda c, g, a: [torch.nn.init.xavier_uniform_(torch.empty(c["size"]), gain=c["gain"])],
    "dataloader_order": lambda c, g, a: [_dataloader_order(c)],
}


def _parameters(module):
    # weight, then bias when there is one
    return [p.detach() for p in module.parameters()]


def _dataloader_order(c):
    # The indices DataLoader(range(n), batch_size, shuffle=True, drop_last) yields over `epochs` epochs.
    loader = torch.utils.data.DataLoader(range(c["n"]), batch_size=c["batch_size"], shuffle=True,
                                         drop_last=c["drop_last"])
    return torch.cat([batch for _ in range(c["epochs"]) for batch in loader])


def random_case(name, seed, generator, calls, args=None):
    args = args or {}
    if generator == "global":
        torch.manual_seed(seed)
        g = None
    else:
        g = torch.Generator().manual_seed(seed)
    outputs = [t for call in calls for t in CALLS[call["fn"]](call, g, args)]
    return {
        "name": name,
        "op": "random",
        "dtype": "f32",
        "args": {k: tensor_json(v) for k, v in args.items()},
        "requires_grad": [],
        "options": {"seed": seed, "generator": generator, "calls": calls},
        "rtol": TOL[0],
        "atol": TOL[1],
        "expected": {"outputs": [tensor_json(t) for t in outputs]},
    }


# ---------------------------------------------------------------------------------------
# The streams.


def float_calls(generator):
    """rand/randn: every size in f32 (local: fewer sizes), then [5], [17], [27, 27] in f64."""
    f32_sizes = [[5], [3, 4], [16], [17], [27, 27], [1000]]
    if generator == "local":
        f32_sizes = [[5], [17], [27, 27]]
    for dt, sizes in [("f32", f32_sizes), ("f64", [[5], [17], [27, 27]])]:
        for size in sizes:
            for fn in ("rand", "randn"):
                yield f"{fn}/{dt}/{shape_name(size)}", [{"fn": fn, "size": size, "dtype": dt}], None


def integer_calls():
    for low, high, size in [(0, 10, [5]), (0, 27, [32]), (-5, 5, [4, 4]), (0, 228146, [32]), (3, 4, [3])]:
        call = {"fn": "randint", "low": low, "high": high, "size": size}
        yield f"randint/{low}_{high}/{shape_name(size)}", [call], None
    for n in (1, 10, 100, 1437):
        yield f"randperm/{n}", [{"fn": "randperm", "n": n}], None


def sequence_call():
    # Several calls in a row on the same generator: each continues where the last stopped.
    calls = [
        {"fn": "randn", "size": [3], "dtype": "f32"},
        {"fn": "rand", "size": [2], "dtype": "f32"},
        {"fn": "randn", "size": [20], "dtype": "f32"},
        {"fn": "randint", "low": 0, "high": 5, "size": [4]},
        {"fn": "randn", "size": [1], "dtype": "f64"},
        {"fn": "randn", "size": [1], "dtype": "f64"},
        {"fn": "rand", "size": [3], "dtype": "f64"},
        {"fn": "randperm", "n": 6},
    ]
    yield "sequence", calls, None


def sampling_calls(key):
    """multinomial on a 27-way distribution, 4 of them, and one with a zero; bernoulli."""
    r = rng(key, "probs")
    probs = {
        "p27": r.probs((27,), "f32"),
        "batch4x27": r.probs((4, 27), "f32"),
        "p5_zero": tensor([0.1, 0.0, 0.5, 0.3, 0.1], "f32"),
    }
    for tag, p in probs.items():
        for n, replacement in [(1, True), (1, False), (5, True), (3, False), (20, True)]:
            call = {"fn": "multinomial", "probs": "probs", "num_samples": n, "replacement": replacement}
            yield f"multinomial/{tag}/n{n}/rep{int(replacement)}", [call], {"probs": p}
    # makemore's sampling loop: one draw at a time.
    call = {"fn": "multinomial", "probs": "probs", "num_samples": 1, "replacement": True}
    yield "multinomial/chain", [call] * 12, {"probs": probs["p27"]}
    yield "bernoulli", [{"fn": "bernoulli", "probs": "probs"}], {"probs": r.uniform((6, 7), "f32")}


def in_place_calls():
    for dt in ("f32", "f64"):
        yield f"normal_/{dt}", [{"fn": "normal_", "size": [40], "mean": 0.5, "std": 0.02, "dtype": dt}], None
        yield f"uniform_/{dt}", [{"fn": "uniform_", "size": [3, 9], "from": -0.3, "to": 0.7, "dtype": dt}], None
        yield f"exponential_/{dt}", [{"fn": "exponential_", "size": [30], "lambd": 1.0, "dtype": dt}], None
    yield "random_int64", [{"fn": "random_int64"}] * 3, None


def stream_calls(generator, key):
    yield from float_calls(generator)
    yield from integer_calls()
    yield from sequence_call()
    yield from sampling_calls(key)
    yield from in_place_calls()


@register("random")
def random():
    for seed in STREAM_SEEDS:
        for generator in ("global", "local"):
            prefix = f"random/{generator}/s{seed}"
            for tag, calls, args in stream_calls(generator, prefix):
                yield random_case(f"{prefix}/{tag}", seed, generator, calls, args)
        yield from init_streams(seed)
        yield from dropout_streams(seed)
        yield from dataloader_streams(seed)


def init_streams(seed):
    # Module and torch.nn.init initialisation after torch.manual_seed(seed).
    prefix = f"random/init/s{seed}"
    for fan_in, fan_out, bias in [(2, 5, True), (5, 2, True), (64, 64, True), (30, 200, False), (100, 32, True)]:
        for dt in ("f32", "f64"):
            call = {"fn": "linear_init", "in_features": fan_in, "out_features": fan_out, "bias": bias, "dtype": dt}
            yield random_case(f"{prefix}/linear/{fan_in}x{fan_out}/b{int(bias)}/{dt}", seed, "global", [call])
    xor = [{"fn": "linear_init", "in_features": 2, "out_features": 5},
           {"fn": "linear_init", "in_features": 5, "out_features": 2}]
    yield random_case(f"{prefix}/xor_model", seed, "global", xor)
    for num, dim in [(27, 10), (65, 32)]:
        call = {"fn": "embedding_init", "num_embeddings": num, "embedding_dim": dim}
        yield random_case(f"{prefix}/embedding/{num}x{dim}", seed, "global", [call])
    call = {"fn": "conv2d_init", "in_channels": 1, "out_channels": 8, "kernel_size": 3}
    yield random_case(f"{prefix}/conv2d/1x8x3", seed, "global", [call])
    call = {"fn": "kaiming_normal_", "size": [200, 30], "mode": "fan_in", "nonlinearity": "tanh"}
    yield random_case(f"{prefix}/kaiming_normal_", seed, "global", [call])
    call = {"fn": "xavier_uniform_", "size": [10, 20], "gain": 1.0}
    yield random_case(f"{prefix}/xavier_uniform_", seed, "global", [call])


def dropout_streams(seed):
    # F.dropout(input, p, training=True): the mask comes from the global generator.
    prefix = f"random/dropout/s{seed}"
    x = rng(prefix, "input").randn((8, 20), "f32")
    for p in (0.0, 0.1, 0.5, 1.0):
        yield random_case(f"{prefix}/p{p}", seed, "global", [{"fn": "dropout", "input": "input", "p": p}], {"input": x})


def dataloader_streams(seed):
    prefix = f"random/dataloader/s{seed}"
    for n, batch_size, drop_last in [(10, 3, False), (1437, 32, False), (100, 32, True)]:
        call = {"fn": "dataloader_order", "n": n, "batch_size": batch_size, "epochs": 2, "drop_last": drop_last}
        yield random_case(f"{prefix}/{n}/b{batch_size}/drop{int(drop_last)}", seed, "global", [call])
