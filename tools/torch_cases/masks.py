"""Curriculum masks and triangles: masked_fill masked_softmax tril triu."""

import torch

from case import DTYPES, case, register, rng

SIZES = [4, 8]  # T x T attention scores, batch of 2


def causal_mask(t):
    # True above the diagonal: the future positions "let's build GPT" masks out.
    return torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)


def masked_fill_call(input, mask, value):
    return input.masked_fill(mask, value)  # input.masked_fill(mask, value), mask broadcast


def masked_softmax_call(input, mask, value):
    return torch.softmax(input.masked_fill(mask, value), dim=-1)  # softmax over the last dim


@register("masked_fill")
def masked_fill():
    for dt in DTYPES:
        for t in SIZES:
            name = f"masked_fill/{dt}/causal{t}"
            args = {"input": rng("masks", dt, t).randn((2, t, t), dt), "mask": causal_mask(t)}
            yield case(name, "masked_fill", dt, args, ["input"], {"value": float("-inf")}, masked_fill_call)
        # A (C,) mask broadcast over (N, C).
        name = f"masked_fill/{dt}/broadcast_mask"
        args = {"input": rng(name).randn((3, 4), dt), "mask": torch.tensor([True, False, False, True])}
        yield case(name, "masked_fill", dt, args, ["input"], {"value": 0.25}, masked_fill_call)
        # A mask that does not broadcast: PyTorch raises.
        name = f"masked_fill/{dt}/bad_mask"
        args = {"input": rng(name).randn((3, 4), dt), "mask": torch.tensor([True, False, True])}
        yield case(name, "masked_fill", dt, args, ["input"], {"value": 0.0}, masked_fill_call, error=True)


@register("masked_softmax")
def masked_softmax():
    # Named masked_fill/DT/causalT/softmax: the same inputs as masked_fill/DT/causalT.
    for dt in DTYPES:
        for t in SIZES:
            name = f"masked_fill/{dt}/causal{t}/softmax"
            args = {"input": rng("masks", dt, t).randn((2, t, t), dt), "mask": causal_mask(t)}
            yield case(name, "masked_softmax", dt, args, ["input"], {"value": float("-inf")}, masked_softmax_call)


def triangle(op, call):
    # torch.tril / torch.triu(input, diagonal) on (2, T, T).
    for dt in DTYPES:
        for t in SIZES:
            x = rng("masks", dt, t).randn((2, t, t), dt)
            for diagonal in (0, 1, -1):
                yield case(f"{op}/{dt}/{t}/k{diagonal}", op, dt, {"input": x}, ["input"], {"diagonal": diagonal}, call)


@register("tril")
def tril():
    yield from triangle("tril", torch.tril)


@register("triu")
def triu():
    yield from triangle("triu", torch.triu)
