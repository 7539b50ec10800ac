#!/usr/bin/env python3
"""Compares the structure of two case files, ignoring the random numbers:

    python3 tools/torch_cases/compare.py tests/data/torch_cases.json /tmp/cases.json

Reports the case names only in one file, then, for the names in both, every difference in
op, dtype, arg names/dtypes/shapes, requires_grad, options, tolerances, grad_output, model
and init shapes, what expected holds (which tensors, their dtypes and shapes) and, for error
cases, PyTorch's message. Exits 1 when anything differs. Needs only the standard library.
"""

import json
import sys


def describe(v):
    """A value without its numbers: a TENSOR becomes (dtype, shape), a number its type."""
    if isinstance(v, dict):
        if "dtype" in v and "shape" in v and "data" in v:
            return (v["dtype"], tuple(v["shape"]))
        return {k: describe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [describe(x) for x in v]
    if isinstance(v, float):
        return "number"
    return v


def skeleton(c):
    """What a case is, without its numbers (random batch indices included)."""
    s = {k: describe(v) for k, v in c.items() if k not in ("name", "options", "requires_grad", "expected")}
    s["requires_grad"] = sorted(c.get("requires_grad", []))
    options = dict(c["options"])
    if "batches" in options:  # train_model: random row indices
        options["batches"] = [len(b) for b in options["batches"]]
    s["options"] = options
    exp = c["expected"]
    s["expected"] = ("error", exp["error"]) if "error" in exp else describe(exp)
    return s


def main(a_path, b_path):
    a = {c["name"]: c for c in json.load(open(a_path))["cases"]}
    b = {c["name"]: c for c in json.load(open(b_path))["cases"]}
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    print(f"{len(a)} cases in {a_path}, {len(b)} in {b_path}, {len(set(a) & set(b))} names in both")
    for n in only_a:
        print(f"only in {a_path}: {n}")
    for n in only_b:
        print(f"only in {b_path}: {n}")
    differ = 0
    for n in sorted(set(a) & set(b)):
        sa, sb = skeleton(a[n]), skeleton(b[n])
        for k in sa.keys() | sb.keys():
            if sa.get(k) != sb.get(k):
                differ += 1
                print(f"{n}: {k}: {sa.get(k)} vs {sb.get(k)}")
    print(f"{len(only_a)} names only in the first, {len(only_b)} only in the second, {differ} differences")
    return 1 if only_a or only_b or differ else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
