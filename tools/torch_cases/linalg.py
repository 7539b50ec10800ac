"""Products: matmul (args `input`, `other`) and linear (args `input`, `weight`, `bias`)."""

import torch
import torch.nn.functional as F

from case import DTYPES, case, register, rng

# (n, k, m): input (n, k) @ other (k, m); linear maps k features to m.
SIZES = [(1, 3, 2), (4, 2, 5), (7, 16, 3)]


@register("matmul")
def matmul():
    # torch.matmul(input, other)
    for dt in DTYPES:
        for n, k, m in SIZES:
            name = f"matmul/{dt}/{n}x{k}x{m}"
            r = rng(name)
            args = {"input": r.randn((n, k), dt), "other": r.randn((k, m), dt)}
            yield case(name, "matmul", dt, args, ["input", "other"], {}, torch.matmul)
        # Inner dimensions differ: PyTorch raises.
        name = f"matmul/{dt}/mismatch"
        r = rng(name)
        args = {"input": r.randn((2, 3), dt), "other": r.randn((4, 2), dt)}
        yield case(name, "matmul", dt, args, ["input"], {}, torch.matmul, error=True)


@register("linear")
def linear():
    # F.linear(input, weight, bias): input @ weight.T + bias, weight in PyTorch's (out, in).
    for dt in DTYPES:
        for n, k, m in SIZES:
            name = f"linear/{dt}/{n}x{k}->{m}"
            r = rng(name)
            x, w, b = r.randn((n, k), dt), r.randn((m, k), dt), r.randn((m,), dt)
            args = {"input": x, "weight": w, "bias": b}
            yield case(name, "linear", dt, args, ["input", "weight", "bias"], {}, F.linear)
            args = {"input": x, "weight": w}
            yield case(f"{name}/nobias", "linear", dt, args, ["input", "weight"], {}, F.linear)
        # An unbatched 1-D input: output (out,).
        name = f"linear/{dt}/1d_input"
        r = rng(name)
        args = {"input": r.randn((3,), dt), "weight": r.randn((2, 3), dt), "bias": r.randn((2,), dt)}
        yield case(name, "linear", dt, args, ["input", "weight", "bias"], {}, F.linear)
