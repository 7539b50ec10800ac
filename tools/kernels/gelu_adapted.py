"""Adapted coefficients (Knuth, TAOCP 2, 4.6.4) for GELU's tail polynomial.

`simd::real::gelu_root` evaluates GELU_R, the degree-7 fit R(t) with R(|x| - 2.77)^8 ~
Phi(-|x|), as follows. In s = SCALE t, SCALE = GELU_R[7]^(1/7), R is a monic P(s) =
s Q(s) + GELU_R[0], and the monic sextic Q is (w + z + a4) w + a5 with z = (s + a0) s + a1
and w = (s + a2) z + a3. This script solves the six equations that match Q's coefficients
for a0..a5 (40 digits, Newton from many starting points) and prints every real solution with
SCALE and SHIFT = -2.77 SCALE, rounded to f32 as the Rust constants are written.

    python3 tools/kernels/gelu_adapted.py      # needs mpmath (PyTorch's sympy brings it)
"""
import random
import struct

import mpmath as mp

mp.mp.dps = 40
# GELU_R from crates/tensor-core/src/simd/real.rs, constant term first.
R = [mp.mpf(v) for v in ["0.47967738", "-0.18408544", "0.007697707", "0.005718712",
                         "-6.225131e-4", "-1.1706984e-4", "2.4408237e-5", "2.857423e-6"]]
MID = mp.mpf(struct.unpack("f", struct.pack("f", 2.77))[0])  # GELU_MID as an f32


def f32(v):
    return repr(struct.unpack("f", struct.pack("f", float(v)))[0])


scale = R[7] ** (mp.mpf(1) / 7)
p = [R[i] / scale**i for i in range(8)]  # P(s) = R(s / scale), p[7] = 1
q = p[1:]  # Q(s) = (P(s) - p[0]) / s, q[6] = 1


def residual(*a):
    a0, a1, a2, a3, a4, a5 = a
    b2, b1, b0 = a0 + a2, a1 + a0 * a2, a1 * a2 + a3  # w = s^3 + b2 s^2 + b1 s + b0
    e2, e1, e0 = b2 + 1, b1 + a0, b0 + a1 + a4  # w + z + a4 = s^3 + e2 s^2 + e1 s + e0
    got = [e0 * b0 + a5, e0 * b1 + e1 * b0, e0 * b2 + e1 * b1 + e2 * b0,
           e0 + e1 * b2 + e2 * b1 + b0, e1 + e2 * b2 + b1, e2 + b2]
    return [g - w for g, w in zip(got, q[:6])]


random.seed(1)
found = []
for _ in range(300):
    try:
        sol = mp.findroot(residual, [mp.mpf(random.uniform(-4, 4)) for _ in range(6)])
    except (ZeroDivisionError, ValueError):
        continue
    sol = [mp.re(v) for v in sol]
    if max(abs(r) for r in residual(*sol)) < 1e-25 and not any(
        all(abs(x - y) < 1e-12 for x, y in zip(sol, old)) for old in found
    ):
        found.append(sol)
print("GELU_SCALE", f32(scale), "GELU_SHIFT", f32(-MID * scale))
for sol in found:
    print("GELU_ADAPTED", [f32(v) for v in sol])
