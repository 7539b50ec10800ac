#!/usr/bin/env python3
"""Generates PyTorch parity cases (the format of tests/data/torch_cases.json).

    /tmp/torch/bin/python tools/torch_cases/generate.py --out /tmp/cases.json [--only FAMILY_OR_OP ...]

Run by hand with the pinned torch, never in CI. See README.md beside this file.
"""

import argparse
import importlib
import json
import os
import sys
import warnings

PINNED_TORCH = "2.9.1"

# Suites: the family modules whose cases make up one file, in output order.
SUITES = {
    # tests/data/torch_cases.json
    "torch_cases": ["activations", "linalg", "losses", "distributions", "optim"],
    # the curriculum ops (the format of curriculum_cases.json)
    "curriculum": ["elementwise", "reductions", "masks", "indexing", "layers", "schedules", "random_streams",
                   "models"],
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="the JSON file to write (never a committed file: see README.md)")
    p.add_argument("--suite", choices=sorted(SUITES), default="torch_cases",
                   help="which families to generate when --only is not given (default: torch_cases)")
    p.add_argument("--only", nargs="+", metavar="FAMILY_OR_OP",
                   help="generate only these families (module names) or generators (op names), from any suite")
    p.add_argument("--seed", type=int, default=1, help="the run's seed, recorded in the file (default: 1)")
    p.add_argument("--list", action="store_true", help="list the families and their generators, then exit")
    p.add_argument("--allow-other-torch", action="store_true",
                   help=f"run with a torch other than {PINNED_TORCH} (the numbers may differ)")
    args = p.parse_args(argv)
    if not args.list and not args.out:
        p.error("--out is required")
    return args


def check_torch(torch, allow_other):
    # "2.9.1+cu128" and "2.9.1+cpu" are both 2.9.1: compare the public version.
    public = torch.__version__.split("+")[0]
    if public != PINNED_TORCH and not allow_other:
        sys.exit(f"torch {torch.__version__} is not the pinned {PINNED_TORCH}; "
                 f"install torch=={PINNED_TORCH} or pass --allow-other-torch")
    return public


def load_families():
    """Imports every family module, which registers its generators in case.REGISTRY."""
    for family in dict.fromkeys(f for fams in SUITES.values() for f in fams):
        importlib.import_module(family)


def selected(registry, suite, only):
    """The (name, function) pairs to run, in suite order then registration order."""
    if only is None:
        order = SUITES[suite]
        return [(n, fn) for fam in order for n, (f, fn) in registry.items() if f == fam]
    known = {f for f, _ in registry.values()} | set(registry)
    unknown = [o for o in only if o not in known]
    if unknown:
        sys.exit(f"unknown family or generator: {', '.join(unknown)} (see --list)")
    families = [f for fams in SUITES.values() for f in fams]
    ranked = sorted(registry.items(), key=lambda item: families.index(item[1][0]))
    return [(n, fn) for n, (f, fn) in ranked if n in only or f in only]


def generate(generators):
    cases, seen = [], set()
    for name, fn in generators:
        count = 0
        for c in fn():
            if c["name"] in seen:
                sys.exit(f"duplicate case name {c['name']!r} (from generator {name})")
            seen.add(c["name"])
            cases.append(c)
            count += 1
        print(f"{name}: {count} cases", file=sys.stderr)
    return cases


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch

    version = check_torch(torch, args.allow_other_torch)
    # One thread and no warnings (kl_div's reduction="mean" warns): same bits on every machine.
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")

    import case

    case.set_seed(args.seed)
    load_families()
    if args.list:
        for suite, families in SUITES.items():
            for fam in families:
                names = [n for n, (f, _) in case.REGISTRY.items() if f == fam]
                print(f"{suite:12} {fam:14} {' '.join(names)}")
        return
    cases = generate(selected(case.REGISTRY, args.suite, args.only))
    doc = {"format": 1, "generator": f"torch {version}", "seed": args.seed, "cases": cases}
    # Compact, no NaN literals (non-finite values are strings), no trailing newline: the
    # layout of the committed files.
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"wrote {len(cases)} cases to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
