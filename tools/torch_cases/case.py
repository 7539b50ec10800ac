"""What every family module shares: the registry, seeding, tensors as JSON, and one case
from one PyTorch call (output, gradients through torch.autograd, or the error PyTorch raised).

The case format (README.md, "The format", and the parity README that came with the cases):
a TENSOR is {"dtype", "shape", "data"} with data flat in row-major order, non-finite floats
as the strings "nan", "inf", "-inf", and every f32 written as the exact decimal of the f32.
"""

import hashlib
import math

import torch

# The float dtypes a case can have, by the name the format uses.
DTYPES = {"f32": torch.float32, "f64": torch.float64}
# Every dtype a TENSOR can have, PyTorch dtype -> format name.
DTYPE_NAMES = {torch.float32: "f32", torch.float64: "f64", torch.int64: "i64", torch.bool: "bool"}

# Default tolerances per dtype: a value passes when |got - want| <= atol + rtol * |want|.
TOLERANCE = {"f32": (1e-5, 1e-6), "f64": (1e-10, 1e-12)}
# Whole training runs accumulate rounding over many steps, so they get looser ones.
TRAIN_TOLERANCE = {"f32": (1e-4, 1e-5), "f64": (1e-9, 1e-11)}

# The upstream gradient fed to backward when the output is a scalar (a reduced loss).
SCALAR_GRAD_OUTPUT = 0.75


class GeneratorError(Exception):
    """A case did not come out as its generator declared (e.g. PyTorch raised unexpectedly)."""


# ---------------------------------------------------------------------------------------
# Registry: a family module registers each generator function under a name; the function
# yields its cases. The family is the module's name (activations, losses, ...).

REGISTRY = {}  # name -> (family, function), in registration order


def register(name):
    """Decorator: registers a generator function (no arguments, yields cases) as `name`."""

    def wrap(fn):
        if name in REGISTRY:
            raise GeneratorError(f"generator {name!r} is registered twice")
        family = fn.__module__.rsplit(".", 1)[-1]
        REGISTRY[name] = (family, fn)
        return fn

    return wrap


# ---------------------------------------------------------------------------------------
# Seeding: every random input comes from a torch.Generator seeded by the run's seed and a
# key (usually the case's name), so a case's numbers do not depend on which other cases are
# generated, in what order, or whether --only was used.

_SEED = 1


def set_seed(seed):
    """The run's seed (generate.py --seed), mixed into every key."""
    global _SEED
    _SEED = int(seed)


def rng(*key):
    """A fresh Rng for `key` (any strings/numbers); the same key gives the same numbers."""
    text = "/".join(str(k) for k in (_SEED,) + key)
    digest = hashlib.sha256(text.encode()).digest()
    return Rng(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


class Rng:
    """Random tensors from one torch.Generator; `dtype` is a format name ("f32", "f64")."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)

    def randn(self, shape, dtype, scale=1.0):
        # torch.randn(shape) * scale
        return torch.randn(tuple(shape), generator=self.gen, dtype=DTYPES[dtype]) * scale

    def uniform(self, shape, dtype, low=0.0, high=1.0):
        # torch.rand(shape) scaled to [low, high)
        t = torch.rand(tuple(shape), generator=self.gen, dtype=DTYPES[dtype])
        return t * (high - low) + low

    def randint(self, high, shape, low=0):
        # torch.randint(low, high, shape), int64
        return torch.randint(low, high, tuple(shape), generator=self.gen, dtype=torch.int64)

    def probs(self, shape, dtype, dim=-1):
        # softmax(randn(shape), dim): rows of probabilities summing to 1
        return torch.softmax(self.randn(shape, dtype), dim=dim)

    def signs(self, shape):
        # random +1/-1 as int64 (cosine_embedding_loss targets)
        return self.randint(2, shape) * 2 - 1


# ---------------------------------------------------------------------------------------
# Names.


def shape_name(shape):
    """`[2, 3, 4]`: how a shape appears in case names."""
    return str(list(shape))


# ---------------------------------------------------------------------------------------
# Tensors as JSON.


def _float(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    # A Python float holding an f32 value is that value exactly; json writes the shortest
    # decimal that parses back to the same double, hence to the same f32 bits.
    return x


def tensor_json(t):
    """A TENSOR: {"dtype", "shape", "data"}, data flat in row-major order."""
    t = t.detach().cpu()
    if t.dtype not in DTYPE_NAMES:
        raise GeneratorError(f"dtype {t.dtype} has no name in the case format")
    data = t.reshape(-1).tolist()
    if t.is_floating_point():
        data = [_float(x) for x in data]
    return {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "data": data}


def tensor(values, dtype):
    """A tensor from (nested lists of) numbers; dtype a format name: "f32", "f64", "i64", "bool"."""
    return torch.tensor(values, dtype={name: dt for dt, name in DTYPE_NAMES.items()}[dtype])


# ---------------------------------------------------------------------------------------
# One case from one PyTorch call.


def case(name, op, dtype, args, requires_grad, options, call, *, error=False, grad_output=None,
         tol=None, extra_expected=None, omit_grad_output=False):
    """Runs `call(**args, **options)` in PyTorch and returns the CASE.

    - args: name -> tensor, named as in PyTorch's functional signature (they are passed
      as keyword arguments, so the names must match the PyTorch call).
    - requires_grad: the arg names whose gradients are checked (computed with
      torch.autograd.grad against `grad_output`).
    - options: PyTorch keyword arguments; also passed to `call`.
    - error: the case is expected to raise; the CASE records PyTorch's message. A case
      whose outcome differs from `error` stops the generator (GeneratorError).
    - grad_output: the upstream gradient; default 0.75 for a scalar output, otherwise
      standard normal of the output's shape (seeded by the case's name).
    - tol: (rtol, atol); default TOLERANCE[dtype].
    - extra_expected: fn(output, leaves) -> {key: tensor} added to `expected` after
      `output` and `grads` (e.g. max_dim's indices).
    - omit_grad_output: write no grad_output (the curriculum file's cases with no gradient).
    A non-finite option (masked_fill's value=-inf) is written as a string, like tensor data.
    """
    options = dict(options or {})
    rtol, atol = tol or TOLERANCE[dtype]
    leaves = {k: _leaf(v, k in requires_grad) for k, v in args.items()}
    head = {
        "name": name,
        "op": op,
        "dtype": dtype,
        "args": {k: tensor_json(v) for k, v in args.items()},
        "requires_grad": sorted(requires_grad),  # sorted, as in the committed file
        "options": {k: json_option(v) for k, v in options.items()},
        "rtol": rtol,
        "atol": atol,
    }
    try:
        out = call(**leaves, **options)
    except (RuntimeError, ValueError, IndexError, TypeError) as e:
        if not error:
            raise GeneratorError(f"{name}: PyTorch raised {type(e).__name__}: {e}") from e
        return {**head, "expected": {"error": str(e)}}
    if error:
        raise GeneratorError(f"{name}: declared an error case but PyTorch succeeded")

    if grad_output is None and (requires_grad or not omit_grad_output):
        grad_output = default_grad_output(name, out)
    grads = gradients(out, leaves, requires_grad, grad_output)
    expected = {"output": tensor_json(out), "grads": {k: tensor_json(g) for k, g in grads.items()}}
    if extra_expected is not None:
        expected.update({k: tensor_json(v) for k, v in extra_expected(out, leaves).items()})
    if omit_grad_output:
        return {**head, "expected": expected}
    return {**head, "grad_output": tensor_json(grad_output), "expected": expected}


def default_grad_output(name, out):
    """0.75 for a scalar output; otherwise randn of the output's shape, seeded by the name."""
    if out.dim() == 0:
        return torch.tensor(SCALAR_GRAD_OUTPUT, dtype=out.dtype)
    return torch.randn(out.shape, generator=rng(name, "grad_output").gen, dtype=out.dtype)


def gradients(out, leaves, requires_grad, grad_output):
    """torch.autograd.grad(out, [leaves[k] for k in requires_grad], grad_output); an input
    the output does not depend on gets zeros."""
    if not requires_grad:
        return {}
    requires_grad = [k for k in leaves if k in requires_grad]  # in the order of args
    inputs = [leaves[k] for k in requires_grad]
    grads = torch.autograd.grad(out, inputs, grad_output, allow_unused=True, materialize_grads=True)
    return dict(zip(requires_grad, grads))


def json_option(v):
    """An option value as JSON: non-finite floats as strings, like tensor data."""
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, (list, tuple)):
        return [json_option(x) for x in v]
    if isinstance(v, dict):
        return {k: json_option(x) for k, x in v.items()}
    return v


def _leaf(t, requires_grad):
    t = t.detach().clone()
    return t.requires_grad_(True) if requires_grad else t
