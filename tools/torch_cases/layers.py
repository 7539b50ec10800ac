"""Curriculum layers: batched matmul (bmm_attention), layer_norm, batch_norm, conv1d,
conv2d, max_pool2d, avg_pool2d, scaled_dot_product_attention, cross_entropy_lm."""

import torch
import torch.nn.functional as F

from case import DTYPES, case, register, rng, shape_name


@register("bmm_attention")
def bmm_attention():
    # torch.matmul(input, other) on 3-D and 4-D batches (op "matmul").
    for dt in DTYPES:
        for a, b in [((2, 4, 8), (2, 8, 4)), ((2, 3, 5, 4), (2, 3, 4, 5))]:
            name = f"bmm_attention/{dt}/{shape_name(a)}"
            r = rng(name)
            args = {"input": r.randn(a, dt), "other": r.randn(b, dt)}
            yield case(name, "matmul", dt, args, ["input", "other"], {}, torch.matmul)


@register("layer_norm")
def layer_norm():
    # F.layer_norm(input, normalized_shape, weight, bias, eps), with and without the affine.
    for dt in DTYPES:
        for shape, normalized in [((4, 10), [10]), ((2, 5, 8), [8]), ((2, 3, 4), [3, 4])]:
            base = f"layer_norm/{dt}/{shape_name(shape)}/{shape_name(normalized)}"
            r = rng(base)
            x = r.randn(shape, dt, scale=2.0)
            weight, bias = r.randn(normalized, dt), r.randn(normalized, dt)
            opts = {"normalized_shape": normalized, "eps": 1e-05}
            args = {"input": x, "weight": weight, "bias": bias}
            yield case(f"{base}/aff1", "layer_norm", dt, args, ["input", "weight", "bias"], opts, F.layer_norm)
            yield case(f"{base}/aff0", "layer_norm", dt, {"input": x}, ["input"], opts, F.layer_norm)
        name = f"layer_norm/{dt}/shape_mismatch"
        opts = {"normalized_shape": [5], "eps": 1e-05}
        yield case(name, "layer_norm", dt, {"input": rng(name).randn((3, 4), dt)}, ["input"], opts, F.layer_norm,
                   error=True)


def running_stats(out, leaves):
    # F.batch_norm updates the buffers in place (training: unbiased batch variance).
    return {"running_mean": leaves["running_mean"], "running_var": leaves["running_var"]}


@register("batch_norm")
def batch_norm():
    # F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps);
    # expected.running_mean/var are the buffers after the call.
    for dt in DTYPES:
        for shape in [(32, 6), (8, 4, 5)]:
            r = rng("batch_norm", dt, shape_name(shape))
            c = shape[1]
            args = {"input": r.randn(shape, dt, scale=1.5), "weight": r.uniform((c,), dt, 0.5, 1.5),
                    "bias": r.randn((c,), dt, scale=0.3), "running_mean": r.randn((c,), dt, scale=0.05),
                    "running_var": r.uniform((c,), dt, 0.5, 1.7)}
            for training in (True, False):
                for momentum in (0.1, 0.001):
                    name = f"batch_norm/{dt}/{shape_name(shape)}/train{int(training)}/m{momentum}"
                    opts = {"training": training, "momentum": momentum, "eps": 1e-05}
                    yield case(name, "batch_norm", dt, args, ["input", "weight", "bias"], opts, F.batch_norm,
                               extra_expected=running_stats)
        # One value per channel cannot be normalised in training: PyTorch raises.
        name = f"batch_norm/{dt}/one_sample_train"
        x = rng(name).randn((1, 4), dt)
        args = {"input": x, "running_mean": torch.zeros(4, dtype=x.dtype), "running_var": torch.ones(4, dtype=x.dtype)}
        opts = {"training": True, "momentum": 0.1, "eps": 1e-05}
        yield case(name, "batch_norm", dt, args, ["input"], opts, F.batch_norm, error=True)


def conv_options(stride, padding, dilation, groups):
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


# (N, C_in, length), C_out, kernel, stride, padding, dilation, groups
CONV1D = [((2, 3, 10), 4, 3, 1, 0, 1, 1), ((1, 4, 9), 6, 2, 2, 1, 1, 2), ((2, 2, 8), 2, 3, 1, 2, 2, 1)]
# (N, C_in, H = W), C_out, kernel, stride, padding, dilation, groups
CONV2D = [((2, 1, 8), 8, 3, 1, 0, 1, 1), ((2, 3, 7), 4, 3, 2, 1, 1, 1), ((1, 4, 6), 4, 2, 1, 1, 2, 2),
          ((3, 2, 5), 3, 1, 1, 0, 1, 1)]


@register("conv1d")
def conv1d():
    # F.conv1d(input, weight, bias, stride, padding, dilation, groups)
    for dt in DTYPES:
        for (n, cin, length), cout, k, s, p, d, g in CONV1D:
            name = f"conv1d/{dt}/{n}x{cin}x{length}/o{cout}k{k}s{s}p{p}d{d}g{g}"
            r = rng(name)
            args = {"input": r.randn((n, cin, length), dt), "weight": r.randn((cout, cin // g, k), dt),
                    "bias": r.randn((cout,), dt)}
            yield case(name, "conv1d", dt, args, ["input", "weight", "bias"], conv_options(s, p, d, g), F.conv1d)


@register("conv2d")
def conv2d():
    # F.conv2d(input, weight, bias, stride, padding, dilation, groups), with and without bias.
    for dt in DTYPES:
        for (n, cin, hw), cout, k, s, p, d, g in CONV2D:
            base = f"conv2d/{dt}/{n}x{cin}x{hw}/o{cout}k{k}"
            r = rng(base)
            x, w, b = r.randn((n, cin, hw, hw), dt), r.randn((cout, cin // g, k, k), dt), r.randn((cout,), dt)
            opts = conv_options(s, p, d, g)
            yield case(f"{base}s{s}p{p}d{d}g{g}", "conv2d", dt, {"input": x, "weight": w, "bias": b},
                       ["input", "weight", "bias"], opts, F.conv2d)
            yield case(f"{base}/nobias", "conv2d", dt, {"input": x, "weight": w}, ["input", "weight"], opts, F.conv2d)
        # Errors: input channels that do not match the weight, a kernel larger than the input.
        for what, x_shape, w_shape in [("channel_mismatch", (1, 3, 5, 5), (2, 2, 3, 3)),
                                       ("kernel_too_big", (1, 1, 2, 2), (1, 1, 3, 3))]:
            name = f"conv2d/{dt}/{what}"
            r = rng(name)
            args = {"input": r.randn(x_shape, dt), "weight": r.randn(w_shape, dt)}
            yield case(name, "conv2d", dt, args, ["input"], conv_options(1, 0, 1, 1), F.conv2d, error=True)


# (N, C, H = W), kernel, stride, padding
POOLS = [((2, 3, 8), 2, 2, 0), ((1, 2, 7), 3, 2, 1), ((2, 1, 6), 3, 1, 0)]


def pool(op, call):
    for dt in DTYPES:
        for (n, c, hw), k, s, p in POOLS:
            name = f"{op}/{dt}/{n}x{c}x{hw}/k{k}s{s}p{p}"
            x = rng("pool", dt, n, c, hw).randn((n, c, hw, hw), dt)
            yield case(name, op, dt, {"input": x}, ["input"], {"kernel_size": k, "stride": s, "padding": p}, call)


@register("max_pool2d")
def max_pool2d():
    yield from pool("max_pool2d", F.max_pool2d)  # F.max_pool2d(input, kernel_size, stride, padding)


@register("avg_pool2d")
def avg_pool2d():
    yield from pool("avg_pool2d", F.avg_pool2d)  # F.avg_pool2d(input, kernel_size, stride, padding)


@register("scaled_dot_product_attention")
def scaled_dot_product_attention():
    # F.scaled_dot_product_attention(query, key, value, is_causal=), scale 1/sqrt(E).
    op = "scaled_dot_product_attention"
    for dt in DTYPES:
        for shape, causal in [((2, 1, 4, 8), True), ((1, 2, 5, 4), True), ((2, 2, 3, 6), False)]:
            name = f"{op}/{dt}/{'x'.join(map(str, shape))}/causal{int(causal)}"
            r = rng(name)
            args = {"query": r.randn(shape, dt), "key": r.randn(shape, dt), "value": r.randn(shape, dt)}
            yield case(name, op, dt, args, ["query", "key", "value"], {"is_causal": causal},
                       F.scaled_dot_product_attention)


@register("cross_entropy_lm")
def cross_entropy_lm():
    # F.cross_entropy(input.view(-1, C), target.view(-1)) for (B, T, C) logits, named cross_entropy/DT/lm_view.
    def call(input, target):
        return F.cross_entropy(input.view(-1, input.shape[-1]), target.view(-1))

    for dt in DTYPES:
        name = f"cross_entropy/{dt}/lm_view"
        r = rng(name)
        args = {"input": r.randn((2, 5, 7), dt), "target": r.randint(7, (2, 5))}
        yield case(name, "cross_entropy_lm", dt, args, ["input"], {}, call)
