"""Curriculum elementwise ops (arg `input`): tanh gelu silu leaky_relu softplus logsigmoid
sqrt rsqrt log10 abs pow clamp."""

import torch
import torch.nn.functional as F

from case import DTYPES, case, register, rng, shape_name

SHAPES = [(6,), (3, 5), (2, 3, 4)]


def normal(r, shape, dt):
    return r.randn(shape, dt, scale=1.5)


def positive(r, shape, dt):
    # In [0.1, 4): where sqrt, rsqrt, log10 and fractional powers are defined.
    return r.uniform(shape, dt, 0.1, 4.0)


def unary(op, call, make_input=normal, variants=({},), tag=None):
    """`op/DT/[shape]` (plus `/tag(options)` per variant) for every shape; `call(input, **options)`."""
    for dt in DTYPES:
        for shape in SHAPES:
            base = f"{op}/{dt}/{shape_name(shape)}"
            x = make_input(rng(base), shape, dt)
            for options in variants:
                name = base + (f"/{tag(options)}" if tag else "")
                yield case(name, op, dt, {"input": x}, ["input"], options, call)


@register("tanh")
def tanh():
    yield from unary("tanh", torch.tanh)  # torch.tanh(input)


@register("gelu")
def gelu():
    # F.gelu(input, approximate="none" | "tanh")
    variants = [{"approximate": "none"}, {"approximate": "tanh"}]
    yield from unary("gelu", F.gelu, variants=variants, tag=lambda o: o["approximate"])


@register("silu")
def silu():
    yield from unary("silu", F.silu)  # F.silu(input)


@register("leaky_relu")
def leaky_relu():
    yield from unary("leaky_relu", F.leaky_relu, variants=[{"negative_slope": 0.1}])  # F.leaky_relu(input, 0.1)


@register("softplus")
def softplus():
    # F.softplus(input, beta, threshold)
    yield from unary("softplus", F.softplus, variants=[{"beta": 1.0, "threshold": 20.0}])


@register("logsigmoid")
def logsigmoid():
    yield from unary("logsigmoid", F.logsigmoid)  # F.logsigmoid(input)


@register("sqrt")
def sqrt():
    yield from unary("sqrt", torch.sqrt, positive)  # torch.sqrt(input), input > 0


@register("rsqrt")
def rsqrt():
    yield from unary("rsqrt", torch.rsqrt, positive)  # torch.rsqrt(input), input > 0


@register("log10")
def log10():
    yield from unary("log10", torch.log10, positive)  # torch.log10(input), input > 0


@register("abs")
def abs_():
    yield from unary("abs", torch.abs)  # torch.abs(input)


@register("pow")
def pow_():
    # torch.pow(input, exponent) with a number exponent, input > 0.
    variants = [{"exponent": e} for e in (2.0, -0.5, -1.0, 3.0)]
    yield from unary("pow", torch.pow, positive, variants, tag=lambda o: f"e{o['exponent']}")


@register("clamp")
def clamp():
    # torch.clamp(input, min, max): no gradient where clamped.
    yield from unary("clamp", torch.clamp, variants=[{"min": -1.0, "max": 0.5}])
