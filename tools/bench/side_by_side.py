"""Times torchlet and PyTorch side by side, alternating, and prints a markdown table.

Usage (from the repository root, after `cargo build --release --example bench`):

    python tools/bench/side_by_side.py [--rounds R] [--bench PATH] NAME ...

Each round runs torchlet's bench binary on all NAMEs, then the PyTorch script of their table
(torch_bench.py for the first table, torch_bench2.py, which picks PyTorch's faster of 1 and 2
threads, for the curriculum table). The table has both medians over the rounds (each
round's value is itself a median of 7 repeats), their ratio and the per-round ratios; then
any extra a workload reports per round (digits_train's test accuracy).
Environment variables pass through, so `TORCHLET_CPU_CAPABILITY=avx2 ATEN_CPU_CAPABILITY=avx2
MKL_ENABLE_INSTRUCTIONS=AVX2` forces both sides to AVX2. Needs PyTorch (never in CI)."""
import statistics
import subprocess
import sys
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FIRST = {"xor_step", "log_softmax_50000x10", "cross_entropy_fwd_bwd_50000x10",
         "mlp_784_32_10_fwd_bwd_50000", "matmul_512", "digits_train"}


def parse(out, extras=None):
    """NAME -> microseconds from lines `NAME<TAB>MEDIAN us[<TAB>extra]`; the extras (digits'
    `accuracy 0.9139`) go to `extras[NAME]` when given."""
    res = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1].endswith(" us"):
            res[parts[0]] = float(parts[1][:-3])
            if extras is not None and len(parts) >= 3 and parts[2].startswith("accuracy"):
                extras.setdefault(parts[0], []).append(parts[2])
    return res


def main():
    args = sys.argv[1:]
    rounds, bench = 3, "target/release/examples/bench"
    while args and args[0].startswith("--"):
        if args[0] == "--rounds":
            rounds, args = int(args[1]), args[2:]
        elif args[0] == "--bench":
            bench, args = args[1], args[2:]
        else:
            sys.exit(f"unknown option {args[0]}")
    names = args
    first = [n for n in names if n in FIRST]
    second = [n for n in names if n not in FIRST]
    ours, theirs = {n: [] for n in names}, {n: [] for n in names}
    our_extra, their_extra = {}, {}
    for r in range(rounds):
        t = parse(subprocess.run([bench, *names], capture_output=True, text=True, check=True).stdout, our_extra)
        p = {}
        for script, group in (("torch_bench.py", first), ("torch_bench2.py", second)):
            if group:
                cmd = [sys.executable, os.path.join(HERE, script), *group]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                p.update(parse(out, their_extra))
        for n in names:
            ours[n].append(t[n])
            theirs[n].append(p[n])
        print(f"round {r + 1}: " + ", ".join(f"{n} {t[n]:.1f}/{p[n]:.1f}" for n in names), file=sys.stderr)
    print("| workload | torchlet (us) | PyTorch (us) | ratio | per-round ratios |")
    print("|---|---:|---:|---:|---|")
    for n in names:
        a, b = statistics.median(ours[n]), statistics.median(theirs[n])
        per = ", ".join(f"{x / y:.3f}" for x, y in zip(ours[n], theirs[n]))
        print(f"| `{n}` | {a:,.1f} | {b:,.1f} | **{a / b:.3f}** | {per} |")
    for n in our_extra:
        print(f"\n`{n}`: torchlet {', '.join(our_extra[n])}; PyTorch {', '.join(their_extra.get(n, []))} (per round)")


if __name__ == "__main__":
    main()
