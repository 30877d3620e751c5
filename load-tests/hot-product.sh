# shellcheck shell=bash
#
# load-tests/hot-product.sh: `./dev load hot-product [--shoppers 2000] [--units 1000]
# [--rounds 1]`: the hot-product lesson at scale. SHOPPERS shoppers press "Buy" on one
# product with UNITS units at the same instant (k6's flash-sale scenario, each shopper
# waiting out 503s with the same Idempotency-Key), once with the product in `row` mode (each
# reservation a transaction on the product's row) and once in `batched` mode (many per
# transaction, services/inventory/src/batching.rs), ROUNDS times each, alternating, in one
# run on one release build. For each sale: no oversell and every unit sold (k6's checks from
# the server's records), how long the sale took, the checkout's latency, the reservation's
# latency at inventory per mode, the backends waiting on a lock in the inventory database
# (sampled every 20 ms: the product row's lock wait), transactions in the inventory database
# and CPU per process; the invariant checker at the end; hot-product.md compares the modes.
# Sourced by ./dev after bench.sh, whose helpers it uses (measured_run, report).

HOT_SKU=${HOT_SKU:-hot-sneaker}

# Backends of the inventory database waiting for a lock, and active, every 20 ms while k6
# runs: lines "epoch waiting active". One psql session for all samples (psql's \watch), so the
# sampler costs a query per sample, not a process. lock_waits_stop ends that session from the
# server side (its application_name), which ends psql whatever user and wrapper run it.
lock_waits_start() { # samples-file
  local query="SELECT round(extract(epoch FROM clock_timestamp())::numeric, 3),
    count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) FILTER (WHERE state = 'active')
    FROM pg_stat_activity WHERE datname = 'inventory' AND pid <> pg_backend_pid()"
  printf '%s\n\\watch 0.02\n' "$query" |
    as_postgres "$PG_BIN/psql" -h "$PG_RUN" -p "$PG_PORT" -U postgres \
      -d "dbname=postgres application_name=lock-sampler" -X -q -A -t -F ' ' >"$1" 2>/dev/null &
  LOCK_SAMPLER=$!
}

lock_waits_stop() {
  pg_query "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lock-sampler'" >/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do kill -0 "$LOCK_SAMPLER" 2>/dev/null || break; sleep 0.1; done
  kill "$LOCK_SAMPLER" 2>/dev/null || true
  wait "$LOCK_SAMPLER" 2>/dev/null || true
}

# Commits and rollbacks in the inventory database so far (pg_stat_database).
inventory_transactions() {
  pg_query "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'inventory'"
}

set_reservation_mode() { # mode
  curl -fsS -X PUT "$(service_url inventory)/admin/products/$HOT_SKU/reservation-mode" \
    -H "X-Admin-Token: $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$HOT_SKU\",\"mode\":\"$1\"}" >/dev/null ||
    die "hot-product: could not set $HOT_SKU's reservation mode to $1"
}

# One sale: its own shoppers (signed in before it, not measured), the mode set, k6's flash
# sale measured like ./dev load, the lock sampler around it.
hot_product_sale() { # results-dir mode shoppers units
  local dir=$1 mode=$2 shoppers=$3 units=$4 rc=0
  mkdir -p "$dir"
  echo "$mode" >"$dir/mode.txt"
  info "hot-product: signing in $shoppers shoppers ($(basename "$dir"))"
  python3 "$REPO_ROOT/load-tests/sign-in.py" --order-url "$(service_url order)" \
    --prefix "lt-hot-$(basename "$(dirname "$dir")")-$(basename "$dir")" --count "$shoppers" \
    --out "$dir/shoppers.json" || die "hot-product: the shoppers could not be signed in"
  set_reservation_mode "$mode"
  sleep 2   # every instance reads the mode within a second (batching.rs)
  inventory_transactions >"$dir/transactions-before.txt"
  lock_waits_start "$dir/lock-waits.txt"
  measured_run "$dir" flash-sale --vus "$shoppers" -e STOCK="$units" -e SKU="$HOT_SKU" \
    -e TOKENS_FILE="$dir/shoppers.json" -e START_DELAY_MS=5000 -e POLL_MAX_MS=60000 \
    -e PATIENCE_MS=120000 || rc=$?
  lock_waits_stop
  inventory_transactions >"$dir/transactions-after.txt"
  return "$rc"
}

cmd_load_hot_product() {
  local shoppers=2000 units=1000 rounds=1 stamp results round mode failed=0 check_rc=0
  while (($# > 0)); do
    case $1 in
      --shoppers) shoppers=${2:?--shoppers needs a number}; shift ;;
      --units) units=${2:?--units needs a number}; shift ;;
      --rounds) rounds=${2:?--rounds needs a number}; shift ;;
      *) die "unknown option for load hot-product: $1 (./dev load hot-product [--shoppers N] [--units N] [--rounds N])" ;;
    esac
    shift
  done
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  results=$REPO_ROOT/load-tests/results/$stamp-hot-product
  mkdir -p "$results"
  echo "./dev load hot-product --shoppers $shoppers --units $units --rounds $rounds" >"$results/command.txt"
  machine_summary >"$results/machine.txt"
  platform_from_one_build release

  for ((round = 1; round <= rounds; round++)); do
    # Alternated, so that neither mode always runs on the fuller database.
    local modes=(row batched)
    ((round % 2 == 0)) && modes=(batched row)
    for mode in "${modes[@]}"; do
      info "hot-product: round $round, $mode mode: $shoppers shoppers, $units units of $HOT_SKU"
      hot_product_sale "$results/$round-$mode" "$mode" "$shoppers" "$units" || failed=1
      sleep 10   # the sale's fan-out (stock commits, emails) settles before the next one
    done
  done
  set_reservation_mode row
  CHECKER_PROFILE=release check_invariants 180 | tee "$results/invariants.txt" || check_rc=$?
  python3 "$REPO_ROOT/scripts/hot-product-report.py" "$results" || warn "hot-product: the report failed"
  info "report: $results/hot-product.md"
  ((failed == 0 && check_rc == 0)) || die "hot-product run failed (a sale's checks or thresholds: $failed, invariant checker exit $check_rc)"
}
