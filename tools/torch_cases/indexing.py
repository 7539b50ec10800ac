"""Curriculum indexing: index_tensor embedding index_pair index_pair_nll slice gather
index_put one_hot (makemore's C[X], probs[arange(n), y], bigram counts)."""

import torch
import torch.nn.functional as F

from case import DTYPES, case, register, rng, shape_name, tensor

VOCAB, EMBD = 27, 10
INDEX_SHAPES = [(32, 3), (5,), (2, 4, 3)]


def table(dt):
    # The (27, 10) embedding table C, shared by index_tensor and embedding.
    return rng("indexing/table", dt).randn((VOCAB, EMBD), dt)


def indices(shape):
    # Random rows of the table; the first is 0 (embedding's padding_idx=0 cases).
    idx = rng("indexing/indices", shape_name(shape)).randint(VOCAB, shape)
    idx.view(-1)[0] = 0
    return idx


def index_tensor_call(input, index):
    return input[index]  # input[index]: rows along dim 0, negative indices from the end


@register("index_tensor")
def index_tensor():
    for dt in DTYPES:
        for shape in INDEX_SHAPES:
            name = f"index_tensor/{dt}/{VOCAB}x{EMBD}/{shape_name(shape)}"
            args = {"input": table(dt), "index": indices(shape)}
            yield case(name, "index_tensor", dt, args, ["input"], {}, index_tensor_call)
        args = {"input": table(dt), "index": tensor([-1, 0, -VOCAB], "i64")}
        yield case(f"index_tensor/{dt}/negative", "index_tensor", dt, args, ["input"], {}, index_tensor_call)
        args = {"input": table(dt), "index": tensor([0, VOCAB], "i64")}
        yield case(f"index_tensor/{dt}/out_of_range", "index_tensor", dt, args, ["input"], {}, index_tensor_call,
                   error=True)


@register("embedding")
def embedding():
    # F.embedding(input, weight, padding_idx=): input the i64 indices; the padding row gets no gradient.
    for dt in DTYPES:
        for shape in INDEX_SHAPES:
            base = f"embedding/{dt}/{VOCAB}x{EMBD}/{shape_name(shape)}"
            args = {"input": indices(shape), "weight": table(dt)}
            yield case(base, "embedding", dt, args, ["weight"], {}, F.embedding)
            yield case(f"{base}/padding0", "embedding", dt, args, ["weight"], {"padding_idx": 0}, F.embedding)
        args = {"input": tensor([1, VOCAB], "i64"), "weight": table(dt)}
        yield case(f"embedding/{dt}/out_of_range", "embedding", dt, args, ["weight"], {}, F.embedding, error=True)


def index_pair_args(dt, n):
    # Rows of probabilities, index0 = arange(n), index1 = random targets.
    r = rng("indexing/pair", dt, n)
    return {"input": r.probs((n, VOCAB), dt), "index0": torch.arange(n), "index1": r.randint(VOCAB, (n,))}


@register("index_pair")
def index_pair():
    # input[index0, index1]
    for dt in DTYPES:
        for n in (1, 5, 32):
            yield case(f"index_pair/{dt}/{n}x{VOCAB}", "index_pair", dt, index_pair_args(dt, n), ["input"], {},
                       lambda input, index0, index1: input[index0, index1])


@register("index_pair_nll")
def index_pair_nll():
    # -input[index0, index1].log().mean(), named index_pair/DT/NxV/nll
    for dt in DTYPES:
        for n in (1, 5, 32):
            yield case(f"index_pair/{dt}/{n}x{VOCAB}/nll", "index_pair_nll", dt, index_pair_args(dt, n), ["input"], {},
                       lambda input, index0, index1: -input[index0, index1].log().mean())


def slice_call(input, dim, start, end, step):
    # input[..., start:end:step] on dim
    return input[(slice(None),) * dim + (slice(start, end, step),)]


@register("slice")
def slice_():
    for dt in DTYPES:
        x = rng("indexing/slice", dt).randn((4, 8, 3), dt)
        for dim, start, end, step in [(1, 0, 8, 2), (1, 1, 8, 2), (0, 1, 3, 1), (2, 0, 3, 2), (1, 2, 7, 3)]:
            opts = {"dim": dim, "start": start, "end": end, "step": step}
            name = f"slice/{dt}/d{dim}/{start}:{end}:{step}"
            yield case(name, "slice", dt, {"input": x}, ["input"], opts, slice_call)


@register("gather")
def gather():
    # torch.gather(input, dim, index)
    for dt in DTYPES:
        name = f"gather/{dt}/d1"
        r = rng(name)
        args = {"input": r.randn((3, 5), dt), "index": r.randint(5, (3, 2))}
        yield case(name, "gather", dt, args, ["input"], {"dim": 1}, torch.gather)


def index_put_call(input, index0, index1, values, accumulate):
    return input.index_put((index0, index1), values, accumulate)  # out of place


@register("index_put")
def index_put():
    for dt in DTYPES:
        # makemore's bigram counts: N[ix1, ix2] += 1 over 200 pairs (repeats accumulate).
        name = f"index_put/{dt}/bigram_counts"
        r = rng(name)
        args = {"input": torch.zeros((VOCAB, VOCAB), dtype=table(dt).dtype), "index0": r.randint(VOCAB, (200,)),
                "index1": r.randint(VOCAB, (200,)), "values": torch.ones(200, dtype=table(dt).dtype)}
        yield case(name, "index_put", dt, args, [], {"accumulate": True}, index_put_call, omit_grad_output=True)
        # Plain assignment: the overwritten entries pass no gradient to input.
        name = f"index_put/{dt}/assign"
        args = {"input": rng(name).randn((4, 5), dt), "index0": tensor([0, 3], "i64"), "index1": tensor([4, 1], "i64"),
                "values": tensor([9.0, -9.0], dt)}
        yield case(name, "index_put", dt, args, ["input", "values"], {"accumulate": False}, index_put_call)


def one_hot_call(input, num_classes):
    return F.one_hot(input, num_classes)  # i64 output


@register("one_hot")
def one_hot():
    for dt in DTYPES:
        args = {"input": rng("indexing/one_hot", dt).randint(VOCAB, (7,))}
        yield case(f"one_hot/{dt}", "one_hot", dt, args, [], {"num_classes": VOCAB}, one_hot_call,
                   omit_grad_output=True)
        args = {"input": tensor([0, 5], "i64")}
        yield case(f"one_hot/{dt}/too_small", "one_hot", dt, args, [], {"num_classes": 3}, one_hot_call, error=True)
