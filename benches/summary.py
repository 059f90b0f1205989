#!/usr/bin/env python3
"""Ratios and absolute figures from the last `cargo bench --bench verify` run.

Reads criterion's estimates (target/criterion/<ALG>/<bench>/new/estimates.json,
mean point estimates) and prints, per algorithm, the ratios the issue's goals
are stated in, then the absolute times. Usage: python3 benches/summary.py
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
ALGS = ["HS256", "RS256", "ES256", "EdDSA"]
BENCHES = [
    "jsonwebtoken/decode",
    "verifier/first-seen",
    "verifier/repeated",
    "inner/bare",
    "layer/memory/first-seen",
    "layer/memory/repeated",
    "layer/redis/first-seen",
    "layer/redis/repeated",
    "jwt-authorizer/layer",
]


def mean_us(alg, bench):
    # criterion names directories after the id with '/' replaced by '_'.
    path = ROOT / alg / bench.replace("/", "_") / "new" / "estimates.json"
    try:
        return json.loads(path.read_text())["mean"]["point_estimate"] / 1000.0
    except FileNotFoundError:
        return None


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "n/a"


def main():
    t = {alg: {b: mean_us(alg, b) for b in BENCHES} for alg in ALGS}
    if all(v is None for alg in ALGS for v in t[alg].values()):
        sys.exit("no criterion results: run `cargo bench --bench verify` first")
    hs_decode = t["HS256"]["jsonwebtoken/decode"]

    print("| ratio | goal | " + " | ".join(ALGS) + " |")
    print("|---|---|" + "---|" * len(ALGS))
    rows = [
        ("verifier first-seen / jsonwebtoken::decode", "≤ 0.6 HS256, ≤ 1.0 others",
         lambda a: ratio(t[a]["verifier/first-seen"], t[a]["jsonwebtoken/decode"])),
        ("layer overhead, repeated token / HS256 jsonwebtoken::decode", "≤ 0.3",
         lambda a: ratio(
             None if t[a]["layer/memory/repeated"] is None
             else t[a]["layer/memory/repeated"] - t[a]["inner/bare"], hs_decode)),
        ("layer first-seen / jwt-authorizer", "≤ 1.0",
         lambda a: ratio(t[a]["layer/memory/first-seen"], t[a]["jwt-authorizer/layer"])),
        ("layer repeated / jwt-authorizer", "≤ 1.0",
         lambda a: ratio(t[a]["layer/memory/repeated"], t[a]["jwt-authorizer/layer"])),
        ("RedisStore speed / MemoryStore, first-seen", "≥ 0.95",
         lambda a: ratio(t[a]["layer/memory/first-seen"], t[a]["layer/redis/first-seen"])),
        ("RedisStore speed / MemoryStore, repeated", "≥ 0.95",
         lambda a: ratio(t[a]["layer/memory/repeated"], t[a]["layer/redis/repeated"])),
    ]
    for name, goal, f in rows:
        print(f"| {name} | {goal} | " + " | ".join(f(a) for a in ALGS) + " |")

    print()
    print("| µs per call (mean) | " + " | ".join(ALGS) + " |")
    print("|---|" + "---|" * len(ALGS))
    for b in BENCHES:
        cells = [f"{t[a][b]:.2f}" if t[a][b] is not None else "n/a" for a in ALGS]
        print(f"| {b} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
