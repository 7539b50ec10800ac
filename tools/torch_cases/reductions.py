"""Curriculum reductions (arg `input`): sum mean var std max_dim argmax cumsum logsumexp norm."""

import torch

from case import DTYPES, case, register, rng, shape_name, tensor

SHAPES = [(6,), (3, 5), (2, 3, 4)]


def inputs(op):
    """(dtype, shape, base name, input) for every dtype and shape, seeded per shape (every
    reduction of a shape sees the same input)."""
    for dt in DTYPES:
        for shape in SHAPES:
            yield dt, shape, f"{op}/{dt}/{shape_name(shape)}", rng("reductions", dt, shape_name(shape)).randn(shape, dt)


def dim_lists(shape):
    # [-1], [0], and for 2-D and more the first and last dims together.
    lists = [[-1], [0]]
    if len(shape) > 1:
        lists.append([0, len(shape) - 1])
    return lists


def dims(shape):
    # -1, then every dim.
    return [-1] + list(range(len(shape)))


def dim_tag(dim):
    return "d" + "_".join(str(d) for d in dim)


def sum_mean(op, call):
    for dt, shape, base, x in inputs(op):
        for dim in dim_lists(shape):
            for keepdim in (False, True):
                name = f"{base}/{dim_tag(dim)}/k{int(keepdim)}"
                yield case(name, op, dt, {"input": x}, ["input"], {"dim": dim, "keepdim": keepdim}, call)


@register("sum")
def sum_():
    yield from sum_mean("sum", torch.sum)  # torch.sum(input, dim, keepdim)


@register("mean")
def mean():
    yield from sum_mean("mean", torch.mean)  # torch.mean(input, dim, keepdim)


def var_std(op, call):
    for dt, shape, base, x in inputs(op):
        for dim in dim_lists(shape):
            for keepdim in (False, True):
                for correction in (0, 1):
                    name = f"{base}/{dim_tag(dim)}/k{int(keepdim)}/c{correction}"
                    opts = {"dim": dim, "keepdim": keepdim, "correction": correction}
                    yield case(name, op, dt, {"input": x}, ["input"], opts, call)


@register("var")
def var():
    yield from var_std("var", torch.var)  # torch.var(input, dim, keepdim=, correction=)


@register("std")
def std():
    yield from var_std("std", torch.std)  # torch.std(input, dim, keepdim=, correction=)


def max_values(input, dim, keepdim):
    return torch.max(input, dim, keepdim).values


def max_case(name, dt, x, options):
    # torch.max(input, dim, keepdim): output the values, expected.indices the indices; the
    # gradient goes to the index PyTorch returns (the first maximum on ties).
    def indices(out, leaves):
        return {"indices": torch.max(leaves["input"], **options).indices}

    return case(name, "max_dim", dt, {"input": x}, ["input"], options, max_values, extra_expected=indices)


@register("max_dim")
def max_dim():
    for dt, shape, base, x in inputs("max_dim"):
        for dim in dims(shape):
            for keepdim in (False, True):
                yield max_case(f"{base}/d{dim}/k{int(keepdim)}", dt, x, {"dim": dim, "keepdim": keepdim})
    for dt in DTYPES:
        x = tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], dt)
        yield max_case(f"max_dim/{dt}/ties", dt, x, {"dim": 1, "keepdim": False})


@register("argmax")
def argmax():
    # torch.argmax(input, dim, keepdim): i64 output, no gradient.
    for dt, shape, base, x in inputs("argmax"):
        for dim in dims(shape):
            for keepdim in (False, True):
                yield case(f"{base}/d{dim}/k{int(keepdim)}", "argmax", dt, {"input": x}, [],
                           {"dim": dim, "keepdim": keepdim}, torch.argmax, omit_grad_output=True)


@register("cumsum")
def cumsum():
    for dt, shape, base, x in inputs("cumsum"):
        for dim in dims(shape):
            yield case(f"{base}/d{dim}", "cumsum", dt, {"input": x}, ["input"], {"dim": dim}, torch.cumsum)


@register("logsumexp")
def logsumexp():
    for dt, shape, base, x in inputs("logsumexp"):
        for dim in dims(shape):
            yield case(f"{base}/d{dim}", "logsumexp", dt, {"input": x}, ["input"], {"dim": dim}, torch.logsumexp)


@register("norm")
def norm():
    # torch.linalg.vector_norm(input): the 2-norm of all elements.
    for dt, shape, base, x in inputs("norm"):
        yield case(base, "norm", dt, {"input": x}, ["input"], {}, lambda input: torch.linalg.vector_norm(input))
