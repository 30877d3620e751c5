#!/usr/bin/env python3
"""Writes hot-product.md for one `./dev load hot-product` run: each flash sale (row mode or
batched mode) side by side.

Usage: hot-product-report.py RESULTS_DIR   (one directory per sale: <round>-<mode>/)
"""
import json
import pathlib
import sys

from histograms import count, histogram, quantile

results = pathlib.Path(sys.argv[1])


def read(path, default=""):
    return path.read_text() if path.exists() else default


def metric(summary, name, stat):
    return summary.get("metrics", {}).get(name, {}).get("values", {}).get(stat)


def fmt(value, digits=1, unit=""):
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def counter(text, name):
    """A counter's value in one scrape (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def lock_waits(path):
    """From the 20 ms samples: the sale's window (from the first sample with an active
    backend to the last), the mean and peak of backends waiting for a lock, and the
    backend-seconds spent waiting (samples x interval)."""
    samples = []
    for line in read(path).splitlines():
        parts = line.split()
        if len(parts) == 3:
            samples.append((float(parts[0]), int(parts[1]), int(parts[2])))
    busy = [s for s in samples if s[2] > 0]
    if not busy:
        return None
    window = [s for s in samples if busy[0][0] <= s[0] <= busy[-1][0]]
    waited = 0.0
    for (t0, w0, _), (t1, _, _) in zip(window, window[1:]):
        waited += w0 * (t1 - t0)
    return {
        "mean": sum(s[1] for s in window) / len(window),
        "peak": max(s[1] for s in window),
        "waited_s": waited,
        "with_waiters": sum(1 for s in window if s[1] > 0) / len(window),
    }


def cpu(path):
    """CPU of everything but k6 and of k6, in core-seconds, from processes.txt (per cent of
    one core over the run) and elapsed.txt."""
    elapsed = float(read(path / "elapsed.txt", "0") or 0)
    platform = k6 = 0.0
    for line in read(path / "processes.txt").splitlines():
        name, percent = line.split()[:2]
        if name == "k6":
            k6 += float(percent) / 100 * elapsed
        else:
            platform += float(percent) / 100 * elapsed
    return platform, k6


rows = []
for sale in sorted(p for p in results.iterdir() if p.is_dir() and (p / "mode.txt").exists()):
    mode = read(sale / "mode.txt").strip()
    summary_path = sale / "flash-sale-summary.json"
    summary = json.loads(read(summary_path, "{}"))
    before_inv = read(sale / "metrics-before-inventory.txt")
    after_inv = read(sale / "metrics-after-inventory.txt")
    labels = f'mode="{mode}"'
    reserve_before = histogram(before_inv, "inventory_reserve_duration_seconds", labels)
    reserve_after = histogram(after_inv, "inventory_reserve_duration_seconds", labels)
    transactions = None
    try:
        transactions = int(read(sale / "transactions-after.txt")) - int(read(sale / "transactions-before.txt"))
    except ValueError:
        pass
    reservations = count(reserve_before, reserve_after)
    batches = counter(after_inv, "inventory_reservation_batches_total") - counter(
        before_inv, "inventory_reservation_batches_total"
    )
    platform_cpu, k6_cpu = cpu(sale)
    confirmed = metric(summary, "flash_confirmed_server", "value")
    waits = lock_waits(sale / "lock-waits.txt")
    rows.append(
        {
            "sale": sale.name,
            "mode": mode,
            "shoppers": metric(summary, "iterations", "count"),
            "before": metric(summary, "flash_stock_before", "value"),
            "confirmed": confirmed,
            "sold_out": metric(summary, "flash_sold_out", "count"),
            "other": metric(summary, "flash_other_outcome", "count"),
            "oversold": metric(summary, "flash_oversold", "count") or 0,
            "turned_away": metric(summary, "flash_turned_away", "count") or 0,
            "sale_s": (metric(summary, "flash_answered_after", "max") or 0) / 1000,
            "confirmed_p50": metric(summary, "checkout_duration{outcome:confirmed}", "med"),
            "confirmed_p99": metric(summary, "checkout_duration{outcome:confirmed}", "p(99)"),
            "checks": metric(summary, "checks", "rate"),
            "reserve_p50": quantile(reserve_before, reserve_after, 0.5),
            "reserve_p99": quantile(reserve_before, reserve_after, 0.99),
            "reservations": reservations,
            "batch_mean": reservations / batches if batches else None,
            "transactions": transactions,
            "waits": waits,
            "cpu_ms": platform_cpu * 1000 / confirmed if confirmed else None,
            "k6_ms": k6_cpu * 1000 / confirmed if confirmed else None,
        }
    )

out = [
    "# Hot product at scale",
    "",
    f"`{read(results / 'command.txt').strip()}` on {read(results / 'machine.txt').strip()}.",
    "",
    "Every shopper presses Buy on the same product at the same instant and waits out 503s with "
    "the same Idempotency-Key. `row`: each reservation its own transaction on the product's "
    "row; `batched`: single-line reservations taken many per transaction "
    "(services/inventory/src/batching.rs).",
    "",
    "| Sale | Mode | Shoppers | Units | Confirmed | Sold out | Other | Oversold | 503s waited out "
    "| Sale took | Checkout p50 / p99 (confirmed) | Reserve p50 / p99 (inventory) | Reservations per transaction "
    "| Inventory transactions | Lock waiters mean / peak | Lock wait (backend-s) | CPU per confirmed order (k6 apart) | Checks |",
    "| --- " * 18 + "|",
]
for r in rows:
    waits = r["waits"]
    out.append(
        "| "
        + " | ".join(
            [
                r["sale"],
                f"`{r['mode']}`",
                fmt(r["shoppers"], 0),
                fmt(r["before"], 0),
                fmt(r["confirmed"], 0),
                fmt(r["sold_out"], 0),
                fmt(r["other"], 0),
                fmt(r["oversold"], 0),
                fmt(r["turned_away"], 0),
                fmt(r["sale_s"], 1, " s"),
                f"{fmt(r['confirmed_p50'], 0)} / {fmt(r['confirmed_p99'], 0)} ms",
                f"{fmt(r['reserve_p50'] and r['reserve_p50'] * 1000, 1)} / "
                f"{fmt(r['reserve_p99'] and r['reserve_p99'] * 1000, 1)} ms",
                fmt(r["batch_mean"], 1) if r["mode"] == "batched" else "1",
                fmt(r["transactions"], 0),
                f"{fmt(waits and waits['mean'], 2)} / {fmt(waits and waits['peak'], 0)}",
                fmt(waits and waits["waited_s"], 2),
                f"{fmt(r['cpu_ms'], 1)} ms ({fmt(r['k6_ms'], 1)})",
                fmt(r["checks"] and r["checks"] * 100, 1, " %"),
            ]
        )
        + " |"
    )
out += [
    "",
    "- Lock waiters: backends of the inventory database waiting for a lock, sampled every "
    "20 ms (pg_stat_activity) from the first sample with an active backend to the last; "
    "lock wait: waiters x time. During a sale of one product the locks waited for are its row's "
    "(reservations, and the stock commits of the orders already confirmed).",
    "- Reserve p50 / p99: `inventory_reserve_duration_seconds{mode}` between the scrapes "
    "before and after the sale (batched: the wait for the batch included).",
    "- CPU: every process of the platform (PostgreSQL with its standby, RabbitMQ, the five "
    "services) over the whole measured run, divided by the confirmed orders; k6's own in "
    "brackets.",
    "",
    "Invariants after every sale:",
    "",
    "```",
    read(results / "invariants.txt").strip(),
    "```",
]
(results / "hot-product.md").write_text("\n".join(out) + "\n")
print("\n".join(out))
