"""Losses, each case one torch.nn.functional call with the format's arg names as keywords:
cross_entropy nll_loss binary_cross_entropy binary_cross_entropy_with_logits kl_div
cosine_embedding_loss mse_loss."""

import torch
import torch.nn.functional as F

from case import DTYPES, case, register, rng, shape_name, tensor

REDUCTIONS = ["mean", "sum", "none"]
# Batch sizes x class counts of the classification losses.
BATCHES = [1, 2, 4, 16]
CLASSES = [2, 3, 4, 10]
# Elementwise losses' shapes.
SHAPES = [(5,), (4, 3), (2, 3, 2)]


def class_weight(r, c, dt):
    # A per-class weight in [0.2, 2).
    return r.uniform((c,), dt, 0.2, 2.0)


# ---------------------------------------------------------------------------------------
# cross_entropy


@register("cross_entropy")
def cross_entropy():
    # F.cross_entropy(input, target, weight=, reduction=, ignore_index=, label_smoothing=)
    for dt in DTYPES:
        for n in BATCHES:
            for c in CLASSES:
                yield from cross_entropy_indices(dt, n, c)
        yield from cross_entropy_extremes(dt)
        yield from cross_entropy_errors(dt)
        for n in BATCHES[:3]:
            for c in CLASSES:
                yield from cross_entropy_probs(dt, n, c)
        yield from cross_entropy_prob_errors(dt)


def cross_entropy_indices(dt, n, c):
    """Class-index targets (i64): every reduction x weight or not x label smoothing, then
    the default ignore_index (-100) and ignore_index=1 with weight and smoothing."""
    base = f"cross_entropy/{dt}/idx/{n}x{c}"
    r = rng(base)
    x, target, weight = r.randn((n, c), dt, scale=2.0), r.randint(c, (n,)), class_weight(r, c, dt)
    for red in REDUCTIONS:
        for w in (0, 1):
            for ls in (0.0, 0.2):
                args = {"input": x, "target": target, **({"weight": weight} if w else {})}
                opts = {"reduction": red, "label_smoothing": ls}
                yield case(f"{base}/{red}/w{w}/ls{ls}", "cross_entropy", dt, args, ["input"], opts, F.cross_entropy)
    # The first target is the default ignore_index -100 (with n=1 every target is ignored: NaN).
    ignored = target.clone()
    ignored[0] = -100
    opts = {"reduction": "mean", "ignore_index": -100}
    yield case(f"{base}/ignore_default", "cross_entropy", dt, {"input": x, "target": ignored}, ["input"], opts,
               F.cross_entropy)
    # ignore_index=1 with a weight and label smoothing; the last target is 1 when n > 1.
    target1 = target.clone()
    if n > 1:
        target1[-1] = 1
    args = {"input": x, "target": target1, "weight": weight}
    opts = {"reduction": "mean", "ignore_index": 1, "label_smoothing": 0.1}
    yield case(f"{base}/ignore1/w/ls", "cross_entropy", dt, args, ["input"], opts, F.cross_entropy)


def cross_entropy_extremes(dt):
    """Every target ignored (mean is 0/0 = NaN), an unbatched input, K-dimensional inputs
    (N, C, d1, d2) with weight and smoothing, and logits of magnitude 1e4."""
    name = f"cross_entropy/{dt}/all_ignored"
    x = rng(name).randn((3, 4), dt)
    args = {"input": x, "target": tensor([-100, -100, -100], "i64")}
    yield case(name, "cross_entropy", dt, args, ["input"], {"reduction": "mean"}, F.cross_entropy)

    name = f"cross_entropy/{dt}/unbatched"
    r = rng(name)
    args = {"input": r.randn((5,), dt, scale=2.0), "target": r.randint(5, ())}
    yield case(name, "cross_entropy", dt, args, ["input"], {"reduction": "mean"}, F.cross_entropy)

    for red in REDUCTIONS:
        name = f"cross_entropy/{dt}/kdim/{red}"
        r = rng(name)
        args = {"input": r.randn((2, 3, 4, 2), dt), "target": r.randint(3, (2, 4, 2)), "weight": class_weight(r, 3, dt)}
        opts = {"reduction": red, "label_smoothing": 0.05}
        yield case(name, "cross_entropy", dt, args, ["input"], opts, F.cross_entropy)

    name = f"cross_entropy/{dt}/huge"
    r = rng(name)
    args = {"input": r.randn((4, 5), dt, scale=1e4), "target": r.randint(5, (4,))}
    yield case(name, "cross_entropy", dt, args, ["input"], {"reduction": "mean"}, F.cross_entropy)


def cross_entropy_errors(dt):
    """Inputs PyTorch rejects: a target >= C, a negative target other than ignore_index,
    batch sizes that differ, a weight of the wrong length."""
    bad = [
        ("target_out_of_range", (2, 4), [1, 4], None),
        ("negative_target", (2, 4), [1, -3], None),
        ("batch_mismatch", (3, 4), [1, 2], None),
        ("weight_len", (2, 4), [1, 2], 3),
    ]
    for what, shape, target, weight_len in bad:
        name = f"cross_entropy/{dt}/{what}"
        r = rng(name)
        args = {"input": r.randn(shape, dt), "target": tensor(target, "i64")}
        if weight_len:
            args["weight"] = class_weight(r, weight_len, dt)
        yield case(name, "cross_entropy", dt, args, ["input"], {"reduction": "mean"}, F.cross_entropy, error=True)


def cross_entropy_probs(dt, n, c):
    """Probability targets (rows of softmax(randn)), differentiable: every reduction x
    weight or not x label smoothing."""
    base = f"cross_entropy/{dt}/prob/{n}x{c}"
    r = rng(base)
    x, target, weight = r.randn((n, c), dt, scale=2.0), r.probs((n, c), dt), class_weight(r, c, dt)
    for red in REDUCTIONS:
        for w in (0, 1):
            for ls in (0.0, 0.3):
                args = {"input": x, "target": target, **({"weight": weight} if w else {})}
                opts = {"reduction": red, "label_smoothing": ls}
                yield case(f"{base}/{red}/w{w}/ls{ls}", "cross_entropy", dt, args, ["input", "target"], opts,
                           F.cross_entropy)


def cross_entropy_prob_errors(dt):
    # Probability targets must have the input's shape.
    name = f"cross_entropy/{dt}/prob/shape_mismatch"
    r = rng(name)
    args = {"input": r.randn((2, 4), dt), "target": r.probs((2, 3), dt)}
    yield case(name, "cross_entropy", dt, args, ["input"], {"reduction": "mean"}, F.cross_entropy, error=True)


# ---------------------------------------------------------------------------------------
# nll_loss


@register("nll_loss")
def nll_loss():
    # F.nll_loss(input, target, weight=, reduction=, ignore_index=) on log-probabilities.
    for dt in DTYPES:
        for n in BATCHES:
            for c in CLASSES:
                base = f"nll_loss/{dt}/{n}x{c}"
                r = rng(base)
                x = torch.log_softmax(r.randn((n, c), dt, scale=2.0), dim=1)
                target, weight = r.randint(c, (n,)), class_weight(r, c, dt)
                for red in REDUCTIONS:
                    for w in (0, 1):
                        args = {"input": x, "target": target, **({"weight": weight} if w else {})}
                        yield case(f"{base}/{red}/w{w}", "nll_loss", dt, args, ["input"], {"reduction": red},
                                   F.nll_loss)
                # ignore_index=0 with a weight; the first target is 0 when n > 1.
                target0 = target.clone()
                if n > 1:
                    target0[0] = 0
                args = {"input": x, "target": target0, "weight": weight}
                opts = {"reduction": "mean", "ignore_index": 0}
                yield case(f"{base}/ignore0/w", "nll_loss", dt, args, ["input"], opts, F.nll_loss)
        yield from nll_loss_extremes(dt)


def nll_loss_extremes(dt):
    """Inputs that are not log-probabilities (nll_loss does not care), K-dimensional inputs
    (N, C, d), and a target >= C (an error)."""
    name = f"nll_loss/{dt}/raw_values"
    r = rng(name)
    args = {"input": r.uniform((10, 10), dt), "target": r.randint(10, (10,))}
    yield case(name, "nll_loss", dt, args, ["input"], {"reduction": "mean"}, F.nll_loss)
    for red in REDUCTIONS:
        name = f"nll_loss/{dt}/kdim/{red}"
        r = rng(name)
        args = {"input": torch.log_softmax(r.randn((2, 3, 5), dt), dim=1), "target": r.randint(3, (2, 5))}
        yield case(name, "nll_loss", dt, args, ["input"], {"reduction": red}, F.nll_loss)
    name = f"nll_loss/{dt}/target_out_of_range"
    args = {"input": rng(name).randn((2, 3), dt), "target": tensor([0, 3], "i64")}
    yield case(name, "nll_loss", dt, args, ["input"], {"reduction": "mean"}, F.nll_loss, error=True)


# ---------------------------------------------------------------------------------------
# binary_cross_entropy


@register("binary_cross_entropy")
def binary_cross_entropy():
    # F.binary_cross_entropy(input, target, weight=, reduction=) on probabilities in (0, 1).
    for dt in DTYPES:
        for shape in SHAPES:
            base = f"binary_cross_entropy/{dt}/{shape_name(shape)}"
            r = rng(base)
            x = r.uniform(shape, dt, 0.01, 0.99)
            hard = r.randint(2, shape).to(x.dtype)
            soft, weight = r.uniform(shape, dt), r.uniform(shape, dt, 0.2, 2.0)
            for red in REDUCTIONS:
                # Hard 0/1 targets.
                yield case(f"{base}/{red}", "binary_cross_entropy", dt, {"input": x, "target": hard}, ["input"],
                           {"reduction": red}, F.binary_cross_entropy)
                # Soft targets (differentiable) and an elementwise weight.
                args = {"input": x, "target": soft, "weight": weight}
                yield case(f"{base}/{red}/soft/w", "binary_cross_entropy", dt, args, ["input", "target"],
                           {"reduction": red}, F.binary_cross_entropy)
        yield from binary_cross_entropy_edges(dt)


def binary_cross_entropy_edges(dt):
    """Inputs exactly 0 and 1 (PyTorch clamps log to -100), then inputs PyTorch rejects:
    targets outside [0, 1], inputs outside [0, 1], shapes that differ."""
    name = f"binary_cross_entropy/{dt}/edges"
    args = {"input": tensor([0.0, 1.0, 0.0, 1.0, 0.5], dt), "target": tensor([0.0, 1.0, 1.0, 0.0, 1.0], dt)}
    yield case(name, "binary_cross_entropy", dt, args, ["input"], {"reduction": "none"}, F.binary_cross_entropy)

    name = f"binary_cross_entropy/{dt}/targets_0_to_4"
    r = rng(name)
    x = r.uniform((5, 3), dt, 0.01, 0.99)
    target = r.randint(5, (5, 3)).to(x.dtype)
    target[0, 0] = 4.0  # at least one target outside [0, 1]
    bad = [
        ("targets_0_to_4", x, target),
        ("input_out_of_range", tensor([0.2, 1.5], dt), tensor([0.0, 1.0], dt)),
        ("shape_mismatch", tensor([0.2, 0.5, 0.7], dt), tensor([0.0, 1.0], dt)),
    ]
    for what, x, target in bad:
        yield case(f"binary_cross_entropy/{dt}/{what}", "binary_cross_entropy", dt, {"input": x, "target": target},
                   ["input"], {"reduction": "mean"}, F.binary_cross_entropy, error=True)


# ---------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits (cases named bce_with_logits/...)


@register("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits():
    # F.binary_cross_entropy_with_logits(input, target, weight=, reduction=, pos_weight=)
    op = "binary_cross_entropy_with_logits"
    call = F.binary_cross_entropy_with_logits
    for dt in DTYPES:
        for shape in SHAPES[:2]:
            base = f"bce_with_logits/{dt}/{shape_name(shape)}"
            r = rng(base)
            x, target = r.randn(shape, dt, scale=3.0), r.uniform(shape, dt)
            weight = r.uniform(shape, dt, 0.2, 2.0)
            pos_weight = r.uniform(shape[-1:], dt, 0.5, 2.5)  # one per class (last dim)
            for red in REDUCTIONS:
                for w in (0, 1):
                    for pw in (0, 1):
                        args = {"input": x, "target": target}
                        if w:
                            args["weight"] = weight
                        if pw:
                            args["pos_weight"] = pos_weight
                        yield case(f"{base}/{red}/w{w}/pw{pw}", op, dt, args, ["input", "target"],
                                   {"reduction": red}, call)
        # Logits of magnitude 50 and 1000: the log-sum-exp form must not overflow.
        args = {"input": tensor([-1000.0, -50.0, 50.0, 1000.0], dt), "target": tensor([1.0, 0.0, 1.0, 0.0], dt)}
        yield case(f"bce_with_logits/{dt}/huge", op, dt, args, ["input"], {"reduction": "none"}, call)


# ---------------------------------------------------------------------------------------
# kl_div


@register("kl_div")
def kl_div():
    # F.kl_div(input, target, reduction=, log_target=): input log-probabilities, target
    # probabilities (log_target=False) or their logs (log_target=True).
    for dt in DTYPES:
        for n in BATCHES[:3]:
            for c in CLASSES:
                base = f"kl_div/{dt}/{n}x{c}"
                r = rng(base)
                x, target = torch.log_softmax(r.randn((n, c), dt), dim=1), r.probs((n, c), dt)
                for red in ["none", "sum", "mean", "batchmean"]:
                    for log_target in (False, True):
                        name = f"{base}/{red}" + ("/log_target" if log_target else "")
                        args = {"input": x, "target": target.log() if log_target else target}
                        opts = {"reduction": red, "log_target": log_target}
                        yield case(name, "kl_div", dt, args, ["input", "target"], opts, F.kl_div)
        # One-hot targets: 0 * log 0 counts as 0.
        name = f"kl_div/{dt}/one_hot/batchmean"
        r = rng(name)
        x = torch.log_softmax(r.randn((4, 5), dt), dim=1)
        target = F.one_hot(r.randint(5, (4,)), 5).to(x.dtype)
        opts = {"reduction": "batchmean", "log_target": False}
        yield case(name, "kl_div", dt, {"input": x, "target": target}, ["input"], opts, F.kl_div)


# ---------------------------------------------------------------------------------------
# cosine_embedding_loss


@register("cosine_embedding_loss")
def cosine_embedding_loss():
    # F.cosine_embedding_loss(input1, input2, target, margin=, reduction=), target +1/-1 (i64).
    op, call = "cosine_embedding_loss", F.cosine_embedding_loss
    for dt in DTYPES:
        for n, d in [(2, 512), (4, 3), (1, 7)]:
            base = f"{op}/{dt}/{n}x{d}"
            r = rng(base)
            args = {"input1": r.randn((n, d), dt), "input2": r.randn((n, d), dt), "target": r.signs((n,))}
            for red in REDUCTIONS:
                for margin in (0.0, 0.3, -0.2):
                    yield case(f"{base}/{red}/m{margin}", op, dt, args, ["input1", "input2"],
                               {"reduction": red, "margin": margin}, call)
        # Unbatched 1-D inputs with a 0-dim target.
        name = f"{op}/{dt}/1d"
        r = rng(name)
        args = {"input1": r.randn((6,), dt), "input2": r.randn((6,), dt), "target": tensor(1, "i64")}
        yield case(name, op, dt, args, ["input1", "input2"], {"reduction": "mean", "margin": 0.0}, call)


# ---------------------------------------------------------------------------------------
# mse_loss


@register("mse_loss")
def mse_loss():
    # F.mse_loss(input, target, reduction=), both differentiable.
    for dt in DTYPES:
        for shape in SHAPES:
            base = f"mse_loss/{dt}/{shape_name(shape)}"
            r = rng(base)
            args = {"input": r.randn(shape, dt), "target": r.randn(shape, dt)}
            for red in REDUCTIONS:
                yield case(f"{base}/{red}", "mse_loss", dt, args, ["input", "target"], {"reduction": red}, F.mse_loss)
