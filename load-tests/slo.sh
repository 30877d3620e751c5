# shellcheck shell=bash
#
# load-tests/slo.sh: `./dev load slo [--p99 100ms] [--p95 D] [--step S]`: the highest arrival
# rate at which POST /orders keeps its latency objective, found by a bounded search of
# open-model k6 runs, then that rate repeated (its spread) and measured like `./dev load`
# (CPU per process and per checkout, k6 apart; statements per checkout; fan-out lag), with the
# machine's ceilings at the start and the end (how noisy the machine was). Sourced by ./dev
# after bench.sh, whose helpers it uses (measure_ceilings, measured_run, report).
#
# A step passes when, at its rate for its whole duration, the p99 (and p95 when given) of
# POST /orders is under the objective, no checkout failed (checkout_errors), none was refused
# (503), and k6 dropped no arrival (an open model that cannot keep up flatters latency). The
# invariant checker runs once at the end over everything the search created.

SLO_START=${SLO_START:-40}          # the first rate tried, checkouts/s
SLO_MAX=${SLO_MAX:-600}             # never tried above this
SLO_STEP_SECS=${SLO_STEP_SECS:-30}  # each step's length (after a warm-up of the first rate)
SLO_REPEATS=${SLO_REPEATS:-2}       # extra runs at the rate found
SLO_CONFIRM_ROUNDS=${SLO_CONFIRM_ROUNDS:-3}  # times a missed repeat lowers the rate by 10 %

ms_of() { # 100ms | 1s | 250 -> milliseconds
  case $1 in
    *ms) echo "${1%ms}" ;;
    *s) awk -v s="${1%s}" 'BEGIN { print s * 1000 }' ;;
    *) echo "$1" ;;
  esac
}

# One step: k6's checkout scenario at a rate; prints "pass|fail rate p95 p99 errors 503s dropped confirmed".
slo_step() { # dir rate seconds p99-ms p95-ms
  local dir=$1 rate=$2
  mkdir -p "$dir"
  service_url_env order inventory
  env "${URL_ENV[@]}" RESULTS_DIR="$dir" ADMIN_TOKEN="$ADMIN_TOKEN" \
    "$REPO_ROOT/load-tests/run-k6.sh" checkout --rate "$rate" --duration "${3}s" \
    -e P99_MS="$4" -e P95_MS="${5:-100000}" >"$dir/k6.txt" 2>&1 || true
  slo_verdict "$dir/checkout-summary.json" "$rate" "$4" "${5:-}"
}

# The step's verdict from k6's summary (the same numbers k6 prints).
slo_verdict() { # summary.json rate p99-ms [p95-ms]
  python3 - "$@" <<'PY'
import json, sys
path, rate, p99_max = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
p95_max = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else None
try:
    m = json.load(open(path))["metrics"]
except (OSError, ValueError):
    print(f"fail {rate} - - - - - 0")
    sys.exit()
val = lambda name, stat, d=0: m.get(name, {}).get("values", {}).get(stat, d)
p95, p99 = val("checkout_duration", "p(95)", float("inf")), val("checkout_duration", "p(99)", float("inf"))
errors = round(val("checkout_errors", "passes") or 0)
refused = round(val("checkout_unavailable", "count"))
dropped = round(val("dropped_iterations", "count"))
confirmed = round(val("orders_confirmed", "count"))
ok = p99 < p99_max and (p95_max is None or p95 < p95_max) and errors == 0 and refused == 0 and dropped == 0
print(f"{'pass' if ok else 'fail'} {rate} {p95:.1f} {p99:.1f} {errors} {refused} {dropped} {confirmed}")
PY
}

cmd_load_slo() {
  local p99=100ms p95='' p99_ms p95_ms='' stamp results line verdict rate lo=0 hi=0 n=0 best rounds=0
  while (($# > 0)); do
    case $1 in
      --p99) p99=${2:?--p99 needs a value}; shift ;;
      --p95) p95=${2:?--p95 needs a value}; shift ;;
      --step) SLO_STEP_SECS=$(duration_secs "${2:?--step needs a value}"); shift ;;
      *) die "unknown option for load slo: $1 (./dev load slo [--p99 100ms] [--p95 D] [--step S])" ;;
    esac
    shift
  done
  p99_ms=$(ms_of "$p99")
  [[ -n $p95 ]] && p95_ms=$(ms_of "$p95")
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  results=$REPO_ROOT/load-tests/results/$stamp-slo
  mkdir -p "$results"
  echo "./dev load slo --p99 $p99${p95:+ --p95 $p95} (steps of ${SLO_STEP_SECS} s)" >"$results/command.txt"
  machine_summary >"$results/machine.txt"

  platform_from_one_build release
  mkdir -p "$results/ceilings-start" "$results/ceilings-end"
  measure_ceilings "$results/ceilings-start"
  monolith_ceiling "$results/ceilings-start"

  info "slo: warm-up, ${SLO_START}/s for 10 s (not judged)"
  slo_step "$results/warm-up" "$SLO_START" 10 "$p99_ms" "$p95_ms" >/dev/null
  : >"$results/steps.txt"
  step() { # rate -> sets verdict
    n=$((n + 1))
    line=$(slo_step "$results/step-$n" "$1" "$SLO_STEP_SECS" "$p99_ms" "$p95_ms")
    echo "$line" >>"$results/steps.txt"
    verdict=${line%% *}
    info "slo: step $n at $1/s: $line"
    sleep 5   # the backlog of one step must not be the next one's latency
  }
  # Up by half each time until a step fails, then halve the gap (to 5 % or 5/s) at most 4 times.
  rate=$SLO_START
  while ((rate <= SLO_MAX)); do
    step "$rate"
    if [[ $verdict == pass ]]; then lo=$rate; rate=$((rate * 3 / 2)); else hi=$rate; break; fi
  done
  ((hi > 0)) || hi=$((SLO_MAX + 1))
  while ((lo > 0 && hi - lo > 5 && hi - lo > lo / 20 && rounds < 4)); do
    rounds=$((rounds + 1))
    rate=$(((lo + hi) / 2))
    step "$rate"
    if [[ $verdict == pass ]]; then lo=$rate; else hi=$rate; fi
  done
  best=$lo
  ((best > 0)) || { warn "slo: even ${SLO_START}/s misses the objective (SLO_START=... to start lower)"; best=$SLO_START; }
  # A rate counts only if it holds when repeated: one lucky step is not a capacity. Repeats
  # that miss lower the rate by a tenth and try again, at most SLO_CONFIRM_ROUNDS times.
  local i held round=0
  while :; do
    held=1
    for ((i = 1; i <= SLO_REPEATS; i++)); do
      info "slo: repeat $i of ${best}/s"
      step "$best"
      [[ $verdict == pass ]] || held=0
    done
    round=$((round + 1))
    ((held == 1 || round >= SLO_CONFIRM_ROUNDS)) && break
    best=$((best * 9 / 10))
    info "slo: a repeat missed the objective; confirming ${best}/s instead"
    step "$best"
    [[ $verdict == pass ]] || { best=$((best * 9 / 10)); continue; }
  done
  echo "$best $held" >"$results/best.txt"
  info "slo: the cost of a checkout at ${best}/s, measured"
  mkdir -p "$results/at-best"
  cp "$results/command.txt" "$results/machine.txt" "$results/at-best/"
  cp "$results/ceilings-start/"* "$results/at-best/" 2>/dev/null || true
  measured_run "$results/at-best" checkout --rate "$best" --duration "${SLO_STEP_SECS}s" \
    -e P99_MS="$p99_ms" -e P95_MS="${p95_ms:-100000}" || true
  CHECKER_PROFILE=release check_invariants 120 | tee "$results/invariants.txt" || warn "slo: invariant violations (see $results/invariants.txt)"
  cp "$results/invariants.txt" "$results/at-best/"
  report "$results/at-best"
  measure_ceilings "$results/ceilings-end"
  monolith_ceiling "$results/ceilings-end"
  python3 "$REPO_ROOT/scripts/slo-report.py" "$results" "$p99" "$p95" | tee "$results/slo.md"
}

# The one-database checkout (../shared/bench, beside the repository, when it is there): the
# same business writes as plain SQL in one PostgreSQL database, no network, driven by
# pgbench: the physical limit a distributed checkout on this machine is compared with.
MONOLITH_BENCH=${MONOLITH_BENCH:-$REPO_ROOT/../shared/bench}
monolith_ceiling() { # results-dir
  local dir=$1 db=monolith_ceiling script
  if [[ ! -f $MONOLITH_BENCH/monolith-checkout.sql ]]; then
    echo "not measured: no $MONOLITH_BENCH/monolith-checkout.sql" >"$dir/monolith.txt"
    return 0
  fi
  info "ceiling: the one-database checkout (pgbench, 15 s each)"
  echo "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db OWNER platform;" | pg_admin_psql
  PGPASSWORD=platform "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U platform -d "$db" \
    -f "$REPO_ROOT/load-tests/monolith-schema.sql" >/dev/null
  {
    for script in monolith-checkout monolith-critical-path; do
      echo "== $script"
      PGPASSWORD=platform "$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U platform -n -c 16 -j 2 -T 15 \
        -f "$MONOLITH_BENCH/$script.sql" "$db" 2>&1 | grep -E '^(tps|latency average|number of failed|pgbench: error)' || true
    done
  } >"$dir/monolith.txt"
  echo "DROP DATABASE IF EXISTS $db;" | pg_admin_psql
}
