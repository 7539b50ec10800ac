"""Alternates torchlet's `ops_survey` example and its PyTorch twin `ops_survey.py` for R
rounds and prints, per op, both medians over the rounds, their ratio and the per-round
ratios (ops where torchlet is slower are marked).

    python tools/bench/ops_side_by_side.py [--rounds R] [--bench PATH] [NAME ...]

`--bench` defaults to target/release/examples/ops_survey (build it first with
`cargo build --release --example ops_survey`). Run from the repository root, with the
PyTorch of the setup in README.md.
"""
import argparse
import os
import statistics
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--bench", default="target/release/examples/ops_survey")
ap.add_argument("names", nargs="*")
args = ap.parse_args()

times = {}
for _ in range(args.rounds):
    for who, cmd in (("torch", [sys.executable, os.path.join(here, "ops_survey.py")]), ("torchlet", [args.bench])):
        out = subprocess.run(cmd + args.names, capture_output=True, text=True, check=True).stdout
        for line in out.strip().splitlines():
            name, us = line.split("\t")
            times.setdefault(name, {}).setdefault(who, []).append(float(us))

print("| op | torchlet (us) | PyTorch (us) | ratio | per-round ratios |")
print("|---|---:|---:|---:|---|")
for name, t in times.items():
    ours, theirs = statistics.median(t["torchlet"]), statistics.median(t["torch"])
    per = ", ".join(f"{a / b:.2f}" for a, b in zip(t["torchlet"], t["torch"]))
    mark = " (slower)" if ours > theirs else ""
    print(f"| `{name}` | {ours:,.1f} | {theirs:,.1f} | **{ours / theirs:.3f}**{mark} | {per} |")
