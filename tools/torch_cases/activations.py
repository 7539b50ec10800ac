"""Activations: sigmoid relu exp log softmax log_softmax (arg `input`)."""

import torch
import torch.nn.functional as F

from case import DTYPES, case, register, rng, shape_name, tensor

SHAPES = [(5,), (3, 4), (2, 3, 4)]


def elementwise(op, call, make_input):
    """`op/DT/[shape]` for every shape: call(input) on make_input(rng, shape, dtype)."""
    for dt in DTYPES:
        for shape in SHAPES:
            name = f"{op}/{dt}/{shape_name(shape)}"
            x = make_input(rng(name), shape, dt)
            yield case(name, op, dt, {"input": x}, ["input"], {}, call)


@register("sigmoid")
def sigmoid():
    # torch.sigmoid(input) on randn, then a saturating row (exp under/overflow).
    yield from elementwise("sigmoid", torch.sigmoid, lambda r, s, dt: r.randn(s, dt))
    for dt in DTYPES:
        x = tensor([-800.0, -100.0, -20.0, 0.0, 20.0, 100.0, 800.0], dt)
        yield case(f"sigmoid/{dt}/saturated", "sigmoid", dt, {"input": x}, ["input"], {}, torch.sigmoid)


@register("relu")
def relu():
    # F.relu(input) on randn.
    yield from elementwise("relu", F.relu, lambda r, s, dt: r.randn(s, dt))


@register("exp")
def exp():
    # torch.exp(input) on randn.
    yield from elementwise("exp", torch.exp, lambda r, s, dt: r.randn(s, dt))


@register("log")
def log():
    # torch.log(input) on positive inputs in [0.1, 3).
    yield from elementwise("log", torch.log, lambda r, s, dt: r.uniform(s, dt, 0.1, 3.0))


def softmax_family(op, call):
    """`op/DT/[shape]/dimD` for every shape and every dim (and -1), then two extremes:
    `huge` (randn * 1e4: exp overflows without the max shift) and `neg_inf` (-inf logits)."""
    for dt in DTYPES:
        for shape in SHAPES:
            x = rng(op, dt, shape_name(shape)).randn(shape, dt)
            for dim in [-1] + list(range(len(shape))):
                name = f"{op}/{dt}/{shape_name(shape)}/dim{dim}"
                yield case(name, op, dt, {"input": x}, ["input"], {"dim": dim}, call)
        name = f"{op}/{dt}/huge"
        x = rng(name).randn((4, 5), dt, scale=1e4)
        yield case(name, op, dt, {"input": x}, ["input"], {"dim": -1}, call)
        # Rows with -inf entries. log_softmax's output holds -inf there; its gradient is
        # not checked (requires_grad empty), as in the committed file.
        inf = float("inf")
        x = tensor([[0.0, -inf, 1.0], [-inf, 2.0, -inf]], dt)
        checked = ["input"] if op == "softmax" else []
        yield case(f"{op}/{dt}/neg_inf", op, dt, {"input": x}, checked, {"dim": -1}, call)


@register("softmax")
def softmax():
    # F.softmax(input, dim)
    yield from softmax_family("softmax", F.softmax)


@register("log_softmax")
def log_softmax():
    # F.log_softmax(input, dim)
    yield from softmax_family("log_softmax", F.log_softmax)
