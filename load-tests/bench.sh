# shellcheck shell=bash
#
# load-tests/bench.sh: the benchmark harness behind `./dev load <scenario> [--rate N]
# [--duration D] [k6 args]`: a release build of the platform, the machine's ceilings
# (pgbench, relay-bench), the k6 scenario, CPU and memory per process (k6 and the hot
# standby included), the standby's lag and the reads it served (replica_report; compare
# with READ_REPLICA=off), pg_stat_statements, the invariant checker and the report in
# load-tests/results/<time>-<scenario>/ (scripts/load-report.py writes report.md).
#
# Not a program of its own: ./dev sources this file after its own settings and helpers, so
# everything here runs inside ./dev with them at hand. From ./dev it uses
#   settings  REPO_ROOT PG_BIN PG_RUN PG_PORT AMQP_PORT BROKER_USER BROKER_PASS
#             RABBITMQ_MANAGEMENT_URL TARGET_DIR, ADMIN_TOKEN (set by ensure_admin_token),
#             and the service table's SERVICES DB_SERVICES BINARY
#   helpers   info warn die, running_pid, as_postgres pg_running pg_pid pg_admin_psql,
#             infra_up, build_services start_service stop_services wait_until_ready,
#             ensure_admin_token, service_url service_url_env, check_invariants
# and ./dev chaos uses data_size from here. bash reads a sourced file whole before running
# it, so editing this file during a long run cannot change the run, as for ./dev itself.

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  echo "load-tests/bench.sh is sourced by ./dev; run ./dev load <scenario> (./dev help)" >&2
  exit 2
fi

# CPU ticks (user + system), memory (PSS, kB) and the system ticks alone of a server and
# the processes it runs: its process group (the Erlang VM under rabbitmq-server) and its
# direct children (PostgreSQL backends, each in a session of its own). Backends that exited
# during the run are not counted: the services' pools keep theirs open. The system ticks
# say how much of a process's CPU the kernel spent for it (sockets, wake-ups, fsync): the
# share that fewer round trips would save, where faster code would not.
group_usage() { # pid -> "ticks peak_kb system_ticks"
  local pgid pid ticks=0 peak=0 sys=0 fields hwm
  pgid=$(ps -o pgid= -p "$1" 2>/dev/null | tr -d ' ') || { echo "0 0 0"; return; }
  for pid in $(ps -e -o pid=,ppid=,pgid= | awk -v g="$pgid" -v r="$1" '$3 == g || $2 == r { print $1 }' | sort -u); do
    read -ra fields <"/proc/$pid/stat" 2>/dev/null || continue
    ticks=$((ticks + fields[13] + fields[14]))
    sys=$((sys + fields[14]))
    # PSS: shared pages (PostgreSQL's shared buffers) divided among the processes sharing them.
    hwm=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
    peak=$((peak + ${hwm:-0}))
  done
  echo "$ticks $peak $sys"
}

usage_snapshot() { # -> lines "name ticks peak_kb system_ticks"
  local name pid
  for name in "${SERVICES[@]}"; do
    pid=$(running_pid "$name" "${BINARY[$name]}") && echo "$name $(group_usage "$pid")"
  done
  pg_running && echo "postgres $(group_usage "$(pg_pid)")"
  # The hot standby on its own line: with READ_REPLICA=off it still streams and replays WAL.
  pg_running "$PG_REPLICA_DATA" && echo "postgres-replica $(group_usage "$(pg_pid "$PG_REPLICA_DATA")")"
  pid=$(running_pid rabbitmq rabbitmq-server) && echo "rabbitmq $(group_usage "$pid")"
  return 0
}

# CPU seconds used by children that finished between two `times` outputs (its second
# line: children's user and system time, e.g. "1m2.345s 0m0.678s"), then the system
# seconds alone.
children_cpu_seconds() { # times-before times-after -> "total system"
  awk 'FNR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
                  if (NR == FNR) { before = t; sys_before = p[1] * 60 + p[2] }
                  else printf "%.2f %.2f\n", t - before, p[1] * 60 + p[2] - sys_before }' "$1" "$2"
}

scrape_metrics() { # dir label
  local name
  for name in "${DB_SERVICES[@]}"; do
    curl -fsS --max-time 5 "$(service_url "$name")/metrics" >"$1/metrics-$2-$name.txt" 2>/dev/null || true
  done
}

# The standby's lag as the primary sees it, once a second while k6 runs: one line per
# sample, "epoch lag_bytes replay_lag_ms" (replay_lsn behind pg_current_wal_lsn(); replay_lag
# empty when nothing was waiting to be replayed). One psql session for all samples, so the
# sampler costs a query a second, not a process. Stopped by replica_lag_stop.
replica_lag_start() { # samples-file
  local query="SELECT round(extract(epoch FROM clock_timestamp()), 1),
    pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint,
    round(extract(epoch FROM r.replay_lag)::numeric * 1000, 1)
    FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
    WHERE s.slot_name = '$PG_REPLICA_SLOT';"
  LAG_STOP=$1.stop
  rm -f "$LAG_STOP"
  (
    while [[ ! -e $LAG_STOP ]]; do echo "$query"; sleep 1; done |
      as_postgres "$PG_BIN/psql" -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres -X -q -A -t -F ' ' \
        >"$1" 2>/dev/null || true
  ) &
  LAG_SAMPLER=$!
}

replica_lag_stop() {
  touch "$LAG_STOP"
  wait "$LAG_SAMPLER" 2>/dev/null || true
  rm -f "$LAG_STOP"
}

# The read replica's part of a run, appended to report.md and kept as replica.md: CPU per
# confirmed checkout of the primary, the standby, the services and everything; the standby's
# lag during k6 (replica-lag.txt); tolerant reads per pool from db_reads_total in each
# service's /metrics before and after (scrape_metrics; the reads not on the replica count
# as primary with their reason, and with no replica configured none are counted).
replica_report() { # results-dir
  python3 - "$1" "$READ_REPLICA" "${SERVICES[@]}" <<'PY'
import json, math, pathlib, re, sys

results, read_replica, services = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
text = lambda name: (results / name).read_text() if (results / name).exists() else ""
summary = next(iter(sorted(results.glob("*-summary.json"))), None)
summary = json.loads(summary.read_text()) if summary else {}
values = lambda name: summary.get("metrics", {}).get(name, {}).get("values", {})
confirmed = values("orders_confirmed").get("count") or values("flash_confirmed").get("count") or 0
elapsed = float(text("elapsed.txt").strip() or 0)
cpu = {row.split()[0]: float(row.split()[1]) for row in text("processes.txt").splitlines() if row.strip()}
per = lambda pct: pct / 100 * elapsed / confirmed * 1000 if confirmed else float("nan")
groups = [("postgres (primary)", cpu.get("postgres", 0.0)), ("postgres-replica", cpu.get("postgres-replica", 0.0)),
          ("services (" + ", ".join(s for s in services if s in cpu) + ")", sum(cpu.get(s, 0.0) for s in services)),
          ("rabbitmq", cpu.get("rabbitmq", 0.0)), ("k6", cpu.get("k6", 0.0)), ("**total**", sum(cpu.values()))]

def stats(samples):
    if not samples:
        return None
    samples = sorted(samples)
    rank = lambda q: samples[max(0, math.ceil(q * len(samples)) - 1)]   # nearest rank
    return rank(0.50), rank(0.99), samples[-1]

lag_bytes, lag_ms, missing = [], [], 0
for row in text("replica-lag.txt").splitlines():
    fields = row.split(" ")
    if len(fields) < 3 or fields[1] == "":
        missing += 1
        continue
    lag_bytes.append(float(fields[1]))
    lag_ms.append(float(fields[2]) if fields[2] else 0.0)   # empty: nothing was waiting

def counters(label):
    counts = {}
    for service in services:
        for line in text(f"metrics-{label}-{service}.txt").splitlines():
            m = re.match(r"^db_reads_total\{(.*)\} ([0-9.e+-]+)$", line)
            if m:
                labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
                key = (service, labels.get("pool", "?"), labels.get("why", "?"))
                counts[key] = counts.get(key, 0.0) + float(m.group(2))
    return counts

before, after = counters("before"), counters("after")
reads = {k: after[k] - before.get(k, 0.0) for k in after}
out = [f"## Read replica (READ_REPLICA={read_replica})", "",
       "| process | CPU (% of one core) | CPU per confirmed checkout |", "| --- | --- | --- |"]
out += [f"| {name} | {pct:.1f} % | {per(pct):.2f} ms |" for name, pct in groups]
fmt = lambda s, unit, d: "n/a" if s is None else " / ".join(f"{v:,.{d}f}" for v in s) + unit
out += ["", f"Replica lag during k6, sampled once a second on the primary ({len(lag_bytes)} samples"
        + (f", {missing} without a streaming standby" if missing else "") + "), p50 / p99 / max: "
        f"**{fmt(stats(lag_bytes), ' bytes', 0)}**, replay lag **{fmt(stats(lag_ms), ' ms', 1)}** "
        "(an empty replay_lag, nothing waiting, counts as 0).", ""]
out += ["Tolerant reads by pool (`db_reads_total`, from before k6 to after the invariant checker):", "",
        "| service | pool | why | reads |", "| --- | --- | --- | --- |"]
out += [f"| {s} | {p} | {w} | {n:,.0f} |" for (s, p, w), n in sorted(reads.items()) if n]
totals = {}
for (_, p, _), n in reads.items():
    totals[p] = totals.get(p, 0.0) + n
out += [f"| all | {p} | | {n:,.0f} |" for p, n in sorted(totals.items())] or ["| all | - | none counted (no replica configured) | 0 |"]
(results / "replica.md").write_text("\n".join(out) + "\n")
with open(results / "report.md", "a") as report:
    report.write("\n" + "\n".join(out) + "\n")
print("\n".join(out))
PY
}

# pg_stat_statements, zeroed before the scenario and read after it (and after the
# checker's settle time, so the fan-out's statements are in): the statements that cost
# the database most, with calls, so "statements per checkout" can be read off.
statements_reset() {
  echo "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset();" |
    pg_admin_psql >/dev/null
}

statements_report() {
  pg_admin_psql -P pager=off <<'SQL'
SELECT d.datname AS database, s.calls, round(s.total_exec_time) AS total_ms,
       round(s.mean_exec_time::numeric, 3) AS mean_ms, s.rows,
       left(regexp_replace(s.query, '\s+', ' ', 'g'), 110) AS statement
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname NOT IN ('postgres') ORDER BY s.total_exec_time DESC LIMIT 40;
SELECT d.datname AS database, sum(s.calls) AS calls, round(sum(s.total_exec_time)) AS total_ms
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
GROUP BY d.datname ORDER BY total_ms DESC;
SQL
}

# How much the platform has stored before a run. Figures drift as the databases grow (every
# run adds its orders, and the invariant checker reads them all), so a report says what it
# started from; `./dev down` and deleting .dev/pg starts again from empty.
data_size() {
  local orders sizes databases psql=("$PG_BIN/psql" -h "$PG_RUN" -p "$PG_PORT" -U postgres -XAtq)
  databases=$(printf ", '%s'" "${DB_SERVICES[@]}")   # , 'order', 'inventory', ...
  orders=$(as_postgres "${psql[@]}" -d order -c "SELECT count(*) FROM orders")
  sizes=$(as_postgres "${psql[@]}" -d postgres -c "SELECT string_agg(datname || ' ' ||
    pg_size_pretty(pg_database_size(datname)), ', ' ORDER BY datname) FROM pg_database
    WHERE datname IN (${databases#, })")
  echo "$orders orders; databases: $sizes"
}

# What this machine can do at most, measured in the same run as the scenario: PostgreSQL's
# single-row commit rate and the broker's publish-with-confirms and consume rates (plus the
# platform's own relay), so that checkout throughput can be stated as a fraction of them.
measure_ceilings() { # results-dir
  local dir=$1 script
  info "ceiling: PostgreSQL single-row commits (pgbench, 10 s)"
  echo "DROP DATABASE IF EXISTS pgbench_ceiling; CREATE DATABASE pgbench_ceiling OWNER platform;" | pg_admin_psql
  PGPASSWORD=platform "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U platform -d pgbench_ceiling \
    -c "CREATE TABLE ceiling (id bigserial PRIMARY KEY, v int NOT NULL)"
  script=$(mktemp)
  echo "INSERT INTO ceiling (v) VALUES (1);" >"$script"
  PGPASSWORD=platform "$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U platform -n -c 16 -j 2 -T 10 \
    -f "$script" pgbench_ceiling >"$dir/pgbench.txt" 2>&1 || warn "pgbench failed (see $dir/pgbench.txt)"
  rm -f "$script"
  echo "DROP DATABASE IF EXISTS pgbench_ceiling;" | pg_admin_psql
  info "ceiling: broker publish/consume and the outbox relay (relay-bench)"
  TEST_DATABASE_URL="postgres://platform:platform@127.0.0.1:$PG_PORT/postgres" \
    TEST_AMQP_URL="amqp://$BROKER_USER:$BROKER_PASS@127.0.0.1:$AMQP_PORT" \
    TEST_RABBITMQ_MANAGEMENT_URL="$RABBITMQ_MANAGEMENT_URL" \
    "$TARGET_DIR/release/relay-bench" 20000 | tee "$dir/relay-bench.txt"
}

# The machine a run's figures come from, in one line (each run's machine.txt).
machine_summary() {
  printf '%s; %s cores; %s RAM; %s\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)" "$(nproc)" \
    "$(free -h | awk '/^Mem:/ {print $2}')" "$(uname -sr)"
}

# The infrastructure up and every service restarted from one build (release or debug), so
# that a run's figures all come from the same binaries.
platform_from_one_build() { # release|debug
  local name
  infra_up
  stop_services
  if [[ $1 == release ]]; then build_services --release; else build_services; fi
  ensure_admin_token
  for name in "${SERVICES[@]}"; do start_service "$name" "$1"; done
  wait_until_ready
}

# One k6 run on the running platform with everything measured around it: data size, the
# services' metrics and every process's CPU and memory before and after, k6's own CPU, the
# standby's lag, pg_stat_statements. ./dev load and ./dev load slo (its cost run) use it;
# report() turns the directory into report.md. Returns k6's exit code.
measured_run() { # results-dir scenario [run-k6 args...]
  local results=$1 scenario=$2 started_at elapsed k6_rc=0
  shift 2
  data_size >"$results/data-before.txt"
  scrape_metrics "$results" before
  usage_snapshot >"$results/usage-before.txt"
  statements_reset
  started_at=$(date +%s.%N)
  # k6 shares the machine, so its CPU is part of the picture. It is our (grand)child: the
  # shell's `times` (user and system time of finished children) before and after the run.
  times >"$results/times-before.txt"
  info "k6: $scenario $* (READ_REPLICA=$READ_REPLICA)"
  service_url_env order inventory
  replica_lag_start "$results/replica-lag.txt"
  env "${URL_ENV[@]}" RESULTS_DIR="$results" \
    ADMIN_TOKEN="$ADMIN_TOKEN" "$REPO_ROOT/load-tests/run-k6.sh" "$scenario" "$@" || k6_rc=$?
  times >"$results/times-after.txt"
  elapsed=$(awk -v a="$started_at" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  echo "$elapsed" >"$results/elapsed.txt"
  usage_snapshot >"$results/usage-after.txt"
  # CPU as a percentage of one core over the scenario, the memory at its end (k6's memory
  # is not measured: 0) and the share of that CPU spent in the kernel, in %.
  {
    awk -v secs="$elapsed" -v hz="$(getconf CLK_TCK)" 'NR == FNR { before[$1] = $2; sys[$1] = $4; next }
      { t = $2 - before[$1]; printf "%s %.1f %d %.0f\n", $1, t / hz / secs * 100, $3,
        (t > 0 ? ($4 - sys[$1]) / t * 100 : 0) }' \
      "$results/usage-before.txt" "$results/usage-after.txt"
    children_cpu_seconds "$results/times-before.txt" "$results/times-after.txt" |
      awk -v secs="$elapsed" '{ printf "k6 %.1f 0 %.0f\n", $1 / secs * 100, ($1 > 0 ? $2 / $1 * 100 : 0) }'
  } >"$results/processes.txt"
  # Stopped after the figures above, so the sampler's own processes are not counted as k6.
  replica_lag_stop

  statements_report >"$results/statements.txt"
  scrape_metrics "$results" after
  return "$k6_rc"
}

# report.md of a measured run (and the standby's section).
report() { # results-dir
  python3 "$REPO_ROOT/scripts/load-report.py" "$1" >/dev/null
  replica_report "$1" || warn "the read replica's section of the report failed"
  info "report: $1/report.md"
}

cmd_load() { # scenario [run-k6 args...]
  local scenario=${1:-} stamp results name k6_rc=0 check_rc=0 prefix=
  if [[ $scenario == slo ]]; then shift; cmd_load_slo "$@"; return; fi
  if [[ $scenario == hot-product ]]; then shift; cmd_load_hot_product "$@"; return; fi
  [[ -n $scenario ]] || die "usage: ./dev load <scenario> [--rate N] [--duration D] [k6 args] (scenarios: $(ls "$REPO_ROOT/load-tests/k6" | sed 's/\.js$//' | paste -sd ' ' -))"
  shift
  [[ -f $REPO_ROOT/load-tests/k6/$scenario.js ]] || die "no scenario $scenario in load-tests/k6"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  results=$REPO_ROOT/load-tests/results/$stamp-$scenario
  mkdir -p "$results"
  if [[ $READ_REPLICA == off ]]; then prefix="READ_REPLICA=off "; fi
  echo "$prefix./dev load $scenario $*" >"$results/command.txt"
  machine_summary >"$results/machine.txt"

  # Figures come from release builds.
  platform_from_one_build release

  measure_ceilings "$results"
  measured_run "$results" "$scenario" "$@" || k6_rc=$?
  CHECKER_PROFILE=release check_invariants 120 | tee "$results/invariants.txt" || check_rc=$?
  report "$results"
  ((k6_rc == 0 && check_rc == 0)) || die "load run failed (k6 exit $k6_rc, invariant checker exit $check_rc)"
}
