# shellcheck shell=bash
# ./dev online-migration [--rate N] [--gap S] [--batch N] [--pause-ms MS]
#
# The online rename of orders.total_minor to orders.total_amount_minor (docs/online-migration.md),
# step by step, under k6's checkout load at a fixed rate, with the k6 errors of each step:
#
#   baseline   the previous build (it knows only total_minor) on the previous schema
#   expand     migrate order up --steps 1     (column + trigger), the previous build serving
#   backfill   migrate order backfill          (batches), the previous build serving
#   deploy     restart of the order service into the build of the switch commit
#   contract   migrate order up                (catch-up, drop trigger and total_minor)
#   deploy     restart of the order service into this checkout's build (HEAD)
#
# Each step's window runs from its start to the next step's start (GAP seconds of steady load
# after the step's action), and a shopper counts in the window in which it got its answer.
# Sourced by ./dev (after its settings, helpers and load-tests/bench.sh), like bench.sh.
#
# The builds of the previous and the switch commit come from git (git archive, built in
# .dev/online-migration/, one target directory per commit: the first run builds their
# dependencies in release mode, minutes; later runs reuse them). The database goes back to
# the previous schema first (migrate order down, the contract then the expand migration,
# when applied): the demo can run again on the same .dev database, whose orders from earlier
# runs are what the backfill copies.

OM_EXPAND_FILE=migrations/src/order/m20261124_000001_orders_total_amount_minor_expand.rs
OM_EXPAND=m20261124_000001_orders_total_amount_minor_expand
OM_CONTRACT=m20261124_000002_orders_total_amount_minor_contract

# The commits the demo runs: the one before the expand migration (the previous version),
# the switch (its order service reads and writes total_amount_minor), found in the history
# unless OM_PREVIOUS_COMMIT / OM_SWITCH_COMMIT say otherwise.
om_find_commits() {
  local expand
  expand=$(git log --format=%H --diff-filter=A -1 -- "$OM_EXPAND_FILE")
  [[ -n $expand || -n ${OM_PREVIOUS_COMMIT:-} ]] || die "no commit adds $OM_EXPAND_FILE; set OM_PREVIOUS_COMMIT"
  OM_PREVIOUS=$(git rev-parse --verify "${OM_PREVIOUS_COMMIT:-$expand^}^{commit}")
  OM_SWITCH=$(git rev-parse --verify "${OM_SWITCH_COMMIT:-$(git log --format=%H -S 'total_amount_minor AS total_minor' -- services/order/src/orders.rs | tail -n 1)}^{commit}")
  [[ -n $OM_SWITCH ]] || die "no switch commit found; set OM_SWITCH_COMMIT"
  if git cat-file -e "$OM_PREVIOUS:$OM_EXPAND_FILE" 2>/dev/null; then
    die "the previous commit ${OM_PREVIOUS:0:12} already has the expand migration"
  fi
  # What serves during expand and backfill must be the order code from just before the
  # switch; what serves after the switch, the code this checkout runs.
  git diff --quiet "$OM_PREVIOUS" "$OM_SWITCH^" -- services/order ||
    warn "the order service differs between ${OM_PREVIOUS:0:12} and the commit before the switch"
  git diff --quiet "$OM_SWITCH" HEAD -- services/order ||
    warn "the order service changed after the switch commit ${OM_SWITCH:0:12}: the last deploy runs a different code"
  # Since inventory and payment accept their state-changing calls only from an order service
  # that proves who it is (shared/http/src/service_auth.rs), an order build from before that
  # cannot check out against this checkout's inventory and payment: every order would be
  # refused. Run the demo from a commit before it, in a worktree (docs/online-migration.md).
  if ! git grep -q authenticated_as "$OM_PREVIOUS" -- services/order/src/clients.rs &&
    git grep -q authenticated_as HEAD -- services/order/src/clients.rs; then
    die "the previous build ${OM_PREVIOUS:0:12} sends no service credential, and this checkout's inventory and payment require one; run the demo from a commit before service authentication: git worktree add ../om 90f7a8b && cd ../om && ./dev online-migration (docs/online-migration.md)"
  fi
  info "previous build: ${OM_PREVIOUS:0:12} $(git log --format=%s -1 "$OM_PREVIOUS" | cut -c1-70)"
  info "switch build:   ${OM_SWITCH:0:12} $(git log --format=%s -1 "$OM_SWITCH" | cut -c1-70)"
}

# The order service's release binary of a commit; prints its path.
om_build_at() { # commit
  local commit=$1 short=${1:0:12} src target bin
  src=$OM_DIR/src-$short
  target=$OM_DIR/target-$short
  bin=$OM_DIR/order-service-$short
  if [[ ! -x $bin ]]; then
    if [[ ! -f $src/Cargo.toml ]]; then
      rm -rf "$src"
      mkdir -p "$src"
      git archive "$commit" | tar -x -C "$src"
    fi
    # A target directory of its own: two source trees of the same workspace in one target
    # directory get the same artifact names, and cargo (which judges freshness by file
    # times) could hand one commit's crates to the other's build.
    info "building the order service of ${short} (release; in $target)" >&2
    (cd "$src" && CARGO_TARGET_DIR=$target cargo build --release --locked -p order-service --bin order-service >&2)
    cp "$target/release/order-service" "$bin.tmp"
    mv "$bin.tmp" "$bin"
  fi
  echo "$bin"
}

om_order_url() { echo "postgres://order:order@127.0.0.1:$PG_PORT/order"; }

om_migrate() { # migrate args... (order, against the order database)
  "$TARGET_DIR/release/migrate" order "$@" "$(om_order_url)"
}

om_applied() { # migration name -> 0 when applied
  [[ $(as_postgres "$PG_BIN/psql" -h "$PG_RUN" -p "$PG_PORT" -U postgres -d order -XAtq \
    -c "SELECT count(*) FROM seaql_migrations WHERE version = '$1'") == 1 ]]
}

# The order service from the given binary, with ./dev's environment for it.
om_start_order() { # binary
  require_free_port "${PORT[order]}" order "$(port_var order)"
  service_env order
  info "starting order from $1"
  start_bg order "$LOG_DIR/order.log" env "${SERVICE_ENV[@]}" "$1"
}

om_deploy() { # binary
  stop_pid order "${BINARY[order]}"
  om_start_order "$1"
  wait_service_ready order 90
}

# One step: its action (output in <results>/<n>-<name>.log), then GAP seconds of load.
om_step() { # name kind command...
  local name=$1 kind=$2 start end rc=0 log
  shift 2
  OM_N=$((OM_N + 1))
  log=$OM_RESULTS/$OM_N-$name.log
  info "step $OM_N: $name: $*"
  start=$(now_ms)
  "$@" >"$log" 2>&1 || rc=$?
  end=$(now_ms)
  printf '{"step":"%s","kind":"%s","start_ms":%s,"end_ms":%s,"rc":%s}\n' "$name" "$kind" "$start" "$end" "$rc" >>"$OM_RESULTS/steps.jsonl"
  tail -n 3 "$log" | sed 's/^/      /'
  ((rc == 0)) || die "step $name failed (exit $rc); see $log"
  kill -0 "$OM_K6_PID" 2>/dev/null || die "k6 exited during step $name"
  sleep "$OM_GAP"
}

om_cleanup() {
  local rc=$?
  trap - EXIT
  if [[ -n ${OM_K6_PID:-} ]] && kill -0 "$OM_K6_PID" 2>/dev/null; then
    kill -TERM "$OM_K6_PID" 2>/dev/null || true
    wait "$OM_K6_PID" 2>/dev/null || true
  fi
  # Never leave the platform without its order service (HEAD's build applies whatever
  # migration is still pending at start-up, the contract included).
  if ! running_pid order "${BINARY[order]}" >/dev/null; then
    warn "starting the order service from this checkout's build again"
    start_service order release || rc=1
  fi
  exit "$rc"
}

cmd_online_migration() {
  local rate=20 batch=200 pause_ms=20 name stamp previous_bin switch_bin waited=0
  OM_GAP=20
  while (($# > 0)); do
    case $1 in
      --rate) rate=${2:?--rate needs a value}; shift ;;
      --gap) OM_GAP=${2:?--gap needs a value}; shift ;;
      --batch) batch=${2:?--batch needs a value}; shift ;;
      --pause-ms) pause_ms=${2:?--pause-ms needs a value}; shift ;;
      *) die "unknown option for online-migration: $1 (./dev online-migration [--rate N] [--gap S] [--batch N] [--pause-ms MS])" ;;
    esac
    shift
  done
  OM_DIR=$DEV_DIR/online-migration
  mkdir -p "$OM_DIR"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  OM_RESULTS=$REPO_ROOT/load-tests/results/$stamp-online-migration
  mkdir -p "$OM_RESULTS"
  : >"$OM_RESULTS/steps.jsonl"
  echo "./dev online-migration --rate $rate --gap $OM_GAP --batch $batch --pause-ms $pause_ms" >"$OM_RESULTS/command.txt"
  OM_N=0

  om_find_commits
  {
    echo "previous $OM_PREVIOUS"
    echo "switch $OM_SWITCH"
    echo "head $(git rev-parse HEAD)"
  } >"$OM_RESULTS/commits.txt"
  infra_up
  build_services --release
  previous_bin=$(om_build_at "$OM_PREVIOUS")
  switch_bin=$(om_build_at "$OM_SWITCH")
  ensure_admin_token
  for name in "${SERVICES[@]}"; do
    [[ $name == order ]] && continue
    running_pid "$name" "${BINARY[$name]}" >/dev/null || start_service "$name" release
  done

  trap om_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # Set-up, not measured: the previous schema and the previous build.
  info "set-up: the order service stopped, its schema back to the previous version"
  stop_pid order "${BINARY[order]}"
  if om_applied "$OM_CONTRACT"; then om_migrate down --steps 1 >"$OM_RESULTS/0-setup.log" 2>&1; fi
  if om_applied "$OM_EXPAND"; then om_migrate down --steps 1 >>"$OM_RESULTS/0-setup.log" 2>&1; fi
  om_start_order "$previous_bin"
  wait_until_ready
  as_postgres "$PG_BIN/psql" -h "$PG_RUN" -p "$PG_PORT" -U postgres -d order -XAtq \
    -c "SELECT count(*) || ' orders, ' || count(total_minor) || ' with a total' FROM orders" >"$OM_RESULTS/orders-before.txt"
  info "the order database: $(cat "$OM_RESULTS/orders-before.txt")"

  info "k6: online-migration (the checkout scenario) at $rate/s until the steps are done"
  service_url_env order inventory
  env "${URL_ENV[@]}" RESULTS_DIR="$OM_RESULTS" ADMIN_TOKEN="$ADMIN_TOKEN" \
    "$REPO_ROOT/load-tests/run-k6.sh" online-migration --rate "$rate" \
    --log-output="file=$OM_RESULTS/shoppers.jsonl" --log-format=raw >"$OM_RESULTS/k6.txt" 2>&1 &
  OM_K6_PID=$!
  until grep -qs '"migration_run"' "$OM_RESULTS/shoppers.jsonl"; do
    kill -0 "$OM_K6_PID" 2>/dev/null || die "k6 exited during its start (see $OM_RESULTS/k6.txt)"
    ((++waited < 600)) || die "k6 did not start within 60 s"
    sleep 0.1
  done

  om_step baseline steady true
  om_step expand migration om_migrate up --steps 1
  om_step backfill migration om_migrate backfill --batch "$batch" --pause-ms "$pause_ms"
  om_step deploy-switch restart om_deploy "$switch_bin"
  om_step contract migration om_migrate up
  om_step deploy-head restart om_deploy "$TARGET_DIR/release/${BINARY[order]}"

  info "steps done; stopping k6"
  kill -TERM "$OM_K6_PID" 2>/dev/null || true
  wait "$OM_K6_PID" 2>/dev/null || true
  OM_K6_PID=
  echo "{\"end_ms\":$(now_ms)}" >>"$OM_RESULTS/steps.jsonl"
  CHECKER_PROFILE=release check_invariants 120 | tee "$OM_RESULTS/invariants.txt" || warn "the invariant checker failed"
  om_report | tee "$OM_RESULTS/report.md"
  info "report: $OM_RESULTS/report.md"
}

# Per step: shoppers answered in its window, errors among them (and why), the slowest
# shopper journeys. Errors are what checkout.js counts as checkout_errors: no definitive
# answer (transport error, 5xx, unexpected status, not terminal within the polling bound).
om_report() {
  python3 - "$OM_RESULTS" <<'PY'
import json, sys, collections
results = sys.argv[1]
steps, end = [], None
for line in open(f"{results}/steps.jsonl"):
    r = json.loads(line)
    if "step" in r: steps.append(r)
    else: end = r["end_ms"]
shoppers = []
for line in open(f"{results}/shoppers.jsonl"):
    try: r = json.loads(line)
    except ValueError: continue
    if isinstance(r, dict) and "shopper" in r: shoppers.append(r)
first = min((s["started_ms"] for s in shoppers), default=steps[0]["start_ms"])
bounds = [first] + [s["start_ms"] for s in steps[1:]] + [end]
print("| step | kind | action (s) | window (s) | shoppers | errors | error reasons | p99 journey (ms) | max (ms) |")
print("|---|---|---|---|---|---|---|---|---|")
for i, s in enumerate(steps):
    lo, hi = bounds[i], bounds[i + 1]
    inside = [r for r in shoppers if lo <= r["ended_ms"] < hi]
    errors = [r for r in inside if r["shopper"] == "error"]
    reasons = collections.Counter(f'{r["reason"]} (HTTP {r["status"]})' for r in errors)
    journeys = sorted(r["ended_ms"] - r["started_ms"] for r in inside)
    p99 = journeys[min(len(journeys) - 1, int(len(journeys) * 0.99))] if journeys else 0
    print(f'| {s["step"]} | {s["kind"]} | {(s["end_ms"] - s["start_ms"]) / 1000:.1f} | {(hi - lo) / 1000:.0f} | '
          f'{len(inside)} | {len(errors)} | {", ".join(f"{k}: {v}" for k, v in reasons.most_common(3)) or "-"} | '
          f'{p99} | {journeys[-1] if journeys else 0} |')
migration = sum(1 for i, s in enumerate(steps) if s["kind"] == "migration"
                for r in shoppers if bounds[i] <= r["ended_ms"] < bounds[i + 1] and r["shopper"] == "error")
restart = sum(1 for i, s in enumerate(steps) if s["kind"] == "restart"
              for r in shoppers if bounds[i] <= r["ended_ms"] < bounds[i + 1] and r["shopper"] == "error")
print(f"\nerrors in the migration steps' windows (expand, backfill, contract): {migration}")
print(f"errors in the restarts' windows (the two deploys of a single order instance): {restart}")
print(f"shoppers: {len(shoppers)}, errors in all: {sum(1 for r in shoppers if r['shopper'] == 'error')}")
PY
}
