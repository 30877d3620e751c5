#!/usr/bin/env python3
"""The figures of a chaos run as Markdown, for docs/reliability.md.

    scripts/chaos-table.py load-tests/results/<time>-chaos

Reads verdict.json (written by check-ledger), faults.jsonl and command.txt from the run's
directory and prints the verdict line and one table row per fault: how long the fault
lasted, how many POST attempts failed and how many were answered 202 (accepted, outcome
still open), the client-visible failure window (first failed attempt to the last before
success resumed), the time to recover (fault end to the first definitive answer) and the
failed attempts after that (late).
"""

import json
import pathlib
import sys


def secs(ms):
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def main(run_dir):
    run = pathlib.Path(run_dir)
    verdict = json.loads((run / "verdict.json").read_text())
    command = (run / "command.txt").read_text().strip() if (run / "command.txt").exists() else "?"
    told = ", ".join(f"{n} {k}" for k, n in sorted(verdict.get("told", {}).items()))
    print(f"Run `{command}` ({run.name}): {verdict['attempts']} POST attempts; clients were told {told}.")
    print()
    print(
        f"Verdict: **{verdict['lost']} lost, {verdict['duplicated']} duplicated, "
        f"{verdict['unexpected']} unexpected**, {verdict['recovered']} recovered; "
        f"{verdict['invariant_failures']} invariants violated."
    )
    print()
    print(
        "| Fault | Down for | Failed attempts (503 / other 5xx / no answer) | 202s | Failure window "
        "| Time to recover | First success after the fault's start | Late failures | Note |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for f in verdict["faults"]:
        kinds = f"{f.get('http_503', '-')} / {f.get('http_5xx_other', '-')} / {f.get('transport', '-')}"
        print(
            f"| {f['fault']} | {secs(f['duration_ms'])} | {f['failed_attempts']} ({kinds}) | {f.get('accepted', '-')} | "
            f"{secs(f['window_ms'])} | {secs(f['recover_ms'])} | {secs(f.get('first_success_ms'))} | "
            f"{f.get('stragglers', '-')} | {f.get('note') or ''} |"
        )
    findings = verdict.get("findings", [])
    if findings:
        print()
        for f in findings:
            print(f"- {f['category']} {f['count']}: {f['what']} (e.g. {'; '.join(f['sample'][:3])})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
