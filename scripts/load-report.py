#!/usr/bin/env python3
"""Writes the report of one `./dev load` run: the scenario's figures next to the machine's
ceilings measured in the same run, and what each process cost.

Usage: load-report.py RESULTS_DIR   (reads the files `./dev load` left there, writes report.md)
"""
import json
import pathlib
import re
import sys

from histograms import histogram, quantile

results = pathlib.Path(sys.argv[1])


def read(name, default=""):
    path = results / name
    return path.read_text() if path.exists() else default


def metric(summary, name, stat):
    return summary.get("metrics", {}).get(name, {}).get("values", {}).get(stat)


summary_files = sorted(results.glob("*-summary.json"))
summary = json.loads(summary_files[0].read_text()) if summary_files else {}
scenario = summary_files[0].name.replace("-summary.json", "") if summary_files else "?"
duration_s = (summary.get("state", {}).get("testRunDurationMs") or 0) / 1000
attempts = metric(summary, "iterations", "count") or 0
# The checkout flow counts confirmations as orders_confirmed; the flash sale as flash_confirmed.
confirmed = metric(summary, "orders_confirmed", "count") or metric(summary, "flash_confirmed", "count") or 0
unavailable = metric(summary, "checkout_unavailable", "count") or 0
# Throughput = checkouts the platform confirmed per second (503s and drops excluded).
throughput = confirmed / duration_s if duration_s else 0

lag_before = {}
lag_after = {}
for service in ("inventory", "payment", "email", "analytics"):
    for store, name in ((lag_before, f"metrics-before-{service}.txt"), (lag_after, f"metrics-after-{service}.txt")):
        for le, n in histogram(read(name), "consumer_lag_seconds").items():
            store[le] = store.get(le, 0.0) + n
lag50, lag99 = quantile(lag_before, lag_after, 0.50), quantile(lag_before, lag_after, 0.99)

pg_tps = re.search(r"tps = ([0-9.]+)", read("pgbench.txt"))
pg_tps = float(pg_tps.group(1)) if pg_tps else None
bench = read("relay-bench.txt")
publish = re.search(r"publish with confirms\s+([0-9.]+)", bench)
consume = re.search(r"consume with acks\s+([0-9.]+)", bench)
relay = re.search(r"outbox relay \(batch 100\)\s+([0-9.]+)", bench)
publish, consume, relay = (float(m.group(1)) if m else None for m in (publish, consume, relay))


def fmt(v, unit="", digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}{unit}"


def ms(v):
    return fmt(v, " ms", 1)


lines = [
    f"# Load run: {scenario}",
    "",
    f"- Machine: {read('machine.txt').strip()}",
    f"- Command: `{read('command.txt').strip()}`",
    f"- Duration: {duration_s:.0f} s",
    f"- Data before the run: {read('data-before.txt').strip() or 'n/a'}",
    "",
    "## Checkout",
    "",
    "| figure | value |",
    "| --- | --- |",
    f"| checkout attempts (k6 iterations) | {attempts:,.0f} ({attempts / duration_s if duration_s else 0:,.1f}/s) |",
    f"| confirmed | {confirmed:,.0f} ({throughput:,.1f}/s) |",
    f"| refused with 503 (saturation, Retry-After) | {unavailable:,.0f} |",
    f"| POST /orders latency p50 / p95 / p99 | {ms(metric(summary, 'checkout_duration', 'med'))} / {ms(metric(summary, 'checkout_duration', 'p(95)'))} / {ms(metric(summary, 'checkout_duration', 'p(99)'))} |",
    f"| error rate | {fmt((metric(summary, 'checkout_errors', 'rate') or 0) * 100, ' %', 2)} |",
    f"| dropped iterations | {fmt(metric(summary, 'dropped_iterations', 'count') or 0)} |",
    f"| fan-out lag p50 / p99 (event written → applied by a consumer) | {fmt(None if lag50 is None else lag50 * 1000, ' ms', 1)} / {fmt(None if lag99 is None else lag99 * 1000, ' ms', 1)} |",
    "",
    "## Ceilings of this machine, measured in the same run",
    "",
    "| ceiling | rate | checkout throughput as a fraction |",
    "| --- | --- | --- |",
    f"| PostgreSQL single-row commits (pgbench, 16 clients) | {fmt(pg_tps, '/s')} | {fmt(throughput / pg_tps if pg_tps else None, '', 3)} |",
    f"| RabbitMQ publish with confirms | {fmt(publish, '/s')} | {fmt(throughput / publish if publish else None, '', 3)} |",
    f"| RabbitMQ consume with acks | {fmt(consume, '/s')} | {fmt(throughput / consume if consume else None, '', 3)} |",
    f"| outbox relay drain (the platform's own relay) | {fmt(relay, '/s')} | {fmt(throughput / relay if relay else None, '', 3)} |",
    "",
    "A checkout is 7 database transactions across 3 databases on the critical path (order 4, inventory 1, payment 2), plus its share of the consumers' batched transactions and one event fanned out to 4 queues, so the useful comparison is with a fraction of these ceilings.",
    "",
    "## Cost per process during the run",
    "",
    "| process | CPU (% of one core, average over the scenario) | of it in the kernel | memory at the end (PSS) |",
    "| --- | --- | --- | --- |",
]
cpu_total = 0.0
for row in read("processes.txt").splitlines():
    # name, CPU %, PSS in kB, and (runs since 2026-12-06) the kernel's share of that CPU.
    name, cpu, rss, *kernel = row.split()
    cpu_total += float(cpu)
    memory = f"{int(rss) / 1024:.0f} MiB" if int(rss) else "not measured"
    # A process that barely ran (the frontend: a tick or two) has no share worth a figure.
    in_kernel = "–" if float(cpu) < 0.5 else f"{kernel[0]} %" if kernel else "not measured"
    lines.append(f"| {name} | {float(cpu):.0f} % | {in_kernel} | {memory} |")
# The figure that says how far a machine can go: CPU time per confirmed checkout, every
# process on the machine counted (k6 too, it shares the cores), against the cores there are.
elapsed = float(read("elapsed.txt", "0").strip() or 0)
cores = re.search(r"; (\d+) cores;", read("machine.txt"))
if confirmed and elapsed and cores:
    n = int(cores.group(1))
    per_checkout_ms = cpu_total / 100 * elapsed / confirmed * 1000
    lines += ["", f"CPU per confirmed checkout, all of the above together: **{per_checkout_ms:.1f} ms** "
              f"(refused requests and background work included); the machine was "
              f"**{cpu_total / n:.0f} %** busy ({n} cores). A checkout costs less as the rate rises "
              f"(background work is shared by more checkouts, consumers commit bigger batches), so "
              f"{n} cores / this cost = {n * 1000 / per_checkout_ms:.0f} checkouts/s is the machine's "
              f"ceiling only when the run was near full."]
# Where the database's time went (pg_stat_statements, zeroed before the scenario). The
# per-database totals table ends the file: "database | calls | total_ms".
statements = read("statements.txt")
per_db = re.findall(r"^ (\w+)\s+\|\s+(\d+)\s+\|\s+(\d+)\s*$", statements, re.M)
if per_db:
    lines += ["", "## Database statements (pg_stat_statements, scenario and settling, background work included)", "",
              "| database | statements | per confirmed checkout | execution time |", "| --- | --- | --- | --- |"]
    for db, calls, total_ms in per_db:
        if db == "postgres":
            continue
        per = int(calls) / confirmed if confirmed else 0
        lines.append(f"| {db} | {int(calls):,} | {per:.1f} | {int(total_ms) / 1000:.1f} s |")
    lines += ["", "The statements that cost the most are listed in `statements.txt` beside this report."]
lines += ["", "## Invariants", "", "```", read("invariants.txt").strip(), "```", "", "## k6 summary", "", "```", read(f"{scenario}-summary.txt").strip(), "```", ""]
(results / "report.md").write_text("\n".join(lines))
print("\n".join(lines[:30]))
