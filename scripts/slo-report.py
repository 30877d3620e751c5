#!/usr/bin/env python3
"""The report of `./dev load slo`: the rate found, its spread, its cost, the ceilings.

    scripts/slo-report.py load-tests/results/<time>-slo P99 [P95]

Reads steps.txt (one line per k6 step: verdict rate p95 p99 errors 503s dropped confirmed),
at-best/ (the measured run: processes.txt, elapsed.txt, checkout-summary.json, statements.txt,
report.md) and ceilings-start/, ceilings-end/ (pgbench.txt, relay-bench.txt, monolith.txt).
"""

import json
import pathlib
import re
import sys


def read(path):
    return path.read_text() if path.exists() else ""


def tps(text):
    m = re.search(r"tps = ([0-9.]+)", text)
    return float(m.group(1)) if m else None


def monolith(text):
    found = re.findall(r"== (\S+)\n(?:.*\n)*?tps = ([0-9.]+)", text)
    return {name: float(v) for name, v in found}


def main(run, p99, p95):
    run = pathlib.Path(run)
    steps = [line.split() for line in read(run / "steps.txt").splitlines() if line.strip()]
    passed = [int(s[1]) for s in steps if s[0] == "pass"]
    # The rate the search settled on (best.txt: "rate held"), else the highest that passed.
    chosen = read(run / "best.txt").split()
    best = int(chosen[0]) if chosen else (max(passed) if passed else None)
    held = chosen[1] == "1" if len(chosen) > 1 else None
    at_best = [s for s in steps if best is not None and int(s[1]) == best]
    objective = f"p99 < {p99}" + (f", p95 < {p95}" if p95 else "")
    print(f"# The rate the checkout sustains within its objective ({objective})\n")
    print(f"Run `{read(run / 'command.txt').strip()}` on {read(run / 'machine.txt').strip()}.\n")
    if best is None:
        print("**No step met the objective.**\n")
    else:
        p99s = [float(s[3]) for s in at_best]
        verdicts = [s[0] for s in at_best]
        print(
            f"**{best} checkouts/s** with POST /orders p99 under {p99}, no errors, no 503, no dropped "
            f"arrival; at that rate {len(at_best)} runs: p99 {', '.join(f'{v:.1f} ms' for v in p99s)} "
            f"({verdicts.count('pass')} of {len(at_best)} within the objective)"
            + ("." if held else "; **it did not hold in every repeat**, so the objective is not met "
               "reliably at any rate the search tried: the tail is spiky, not saturated.")
            + "\n"
        )
    print("| Step | Rate /s | Verdict | p95 ms | p99 ms | errors | 503s | dropped | confirmed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for i, s in enumerate(steps, 1):
        print(f"| {i} | {s[1]} | {s[0]} | {s[2]} | {s[3]} | {s[4]} | {s[5]} | {s[6]} | {s[7]} |")

    # The cost at the best rate: CPU of every process (k6 apart) per confirmed checkout.
    best_dir = run / "at-best"
    procs = [line.split() for line in read(best_dir / "processes.txt").splitlines() if line.strip()]
    elapsed = float(read(best_dir / "elapsed.txt") or 0)
    try:
        summary = json.loads(read(best_dir / "checkout-summary.json"))["metrics"]
        confirmed = summary.get("orders_confirmed", {}).get("values", {}).get("count", 0)
    except ValueError:
        confirmed = 0
    if procs and elapsed and confirmed:
        platform = sum(float(p[1]) for p in procs if p[0] != "k6") / 100 * elapsed
        k6 = sum(float(p[1]) for p in procs if p[0] == "k6") / 100 * elapsed
        print(
            f"\nAt {best}/s ({confirmed:.0f} confirmed in {elapsed:.0f} s): **{platform / confirmed * 1000:.1f} ms of CPU "
            f"per checkout, everything counted but k6** (k6 {k6 / confirmed * 1000:.1f} ms more).\n"
        )
        print("| Process | CPU % of one core | ms per checkout | of it in the kernel |")
        print("| --- | --- | --- | --- |")
        for p in sorted(procs, key=lambda p: -float(p[1])):
            # A process that barely ran (the frontend: a tick or two) has no share worth a figure.
            kernel = "–" if float(p[1]) < 0.5 else f"{p[3]} %" if len(p) > 3 else "not measured"
            print(f"| {p[0]} | {float(p[1]):.1f} | {float(p[1]) / 100 * elapsed / confirmed * 1000:.2f} | {kernel} |")
    print(f"\nStatements per checkout, fan-out lag and latencies: [at-best/report.md](at-best/report.md).\n")

    # The ceilings at the start and the end of the run, and the best rate as a share of them.
    print("| Ceiling | start | end |")
    print("| --- | --- | --- |")
    rows = [
        ("PostgreSQL single-row commits /s (pgbench)", lambda d: tps(read(d / "pgbench.txt"))),
        ("one-database checkout /s (both transactions)", lambda d: monolith(read(d / "monolith.txt")).get("monolith-checkout")),
        ("one-database critical path /s", lambda d: monolith(read(d / "monolith.txt")).get("monolith-critical-path")),
    ]
    for name, get in rows:
        a, b = get(run / "ceilings-start"), get(run / "ceilings-end")
        fmt = lambda v: "-" if v is None else f"{v:,.0f}"
        share = ""
        if best and a and b:
            share = f" (the checkout at {best}/s is {best / ((a + b) / 2) * 100:.1f} % of it)"
        print(f"| {name}{share} | {fmt(a)} | {fmt(b)} |")
    relay = read(run / "ceilings-start" / "relay-bench.txt").strip().splitlines()
    if relay:
        print(f"\nBroker and relay ceilings (start): {'; '.join(relay[-3:])}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
