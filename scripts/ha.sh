# shellcheck shell=bash
#
# The highly available topology: `./dev up --ha`, `./dev drill`. Sourced by ./dev (after its
# settings and helpers); docs/ha.md explains the picture and what each piece stands for.
#
#   clients ──▶ HAProxy ─┬─ :8080..8085  ──▶ two instances of every service (readiness checks)
#                        ├─ :25432 (primary) / :25433 (replicas) ──▶ Patroni nodes pg1, pg2
#                        │                        (PostgreSQL 15, leader elected through etcd)
#                        └─ :25672 AMQP / :25673 management ──▶ RabbitMQ nodes rabbit1..3
#                                                 (one cluster; every consumer queue a quorum queue)
#
# HAProxy listens on the single-node stack's ports, so every client of the platform (the
# storefront, k6, the checkers, `./dev status`) works unchanged against either stack; the
# two stacks therefore never run at once. All state lives in .dev/ha/.

HA_DIR=$DEV_DIR/ha
HA_MARKER=$HA_DIR/active   # written by `./dev up --ha`, removed by `./dev down`
ETCD_PORT=${ETCD_PORT:-25780}              # etcd's client port; its peer port is the next one
HA_PG_BASE=${HA_PG_BASE:-25440}            # pgN: PostgreSQL on BASE+N, Patroni's REST API on BASE+10+N
HA_RMQ_BASE=${HA_RMQ_BASE:-25710}          # rabbitN: AMQP BASE+N, management BASE+10+N, Erlang BASE+20+N
HAPROXY_STATS_PORT=${HAPROXY_STATS_PORT:-25700}
HA_PG_NODES=(pg1 pg2)
HA_RMQ_NODES=(1 2 3)
HA_INSTANCES=(a b)                         # instance a listens on PORT+10000, b on PORT+20000
PATRONI_SCOPE=platform-ha
# Replication between the two PostgreSQL nodes: synchronous (a commit returns once the
# standby has the WAL, so a failover cannot lose an acknowledged transaction) unless
# HA_SYNC=off (asynchronous: commits do not wait, a failover may lose the last ones).
HA_SYNC=${HA_SYNC:-on}

ha_active() { [[ -f $HA_MARKER ]]; }

pg_node_port() { echo $((HA_PG_BASE + ${1#pg})); }
patroni_port() { echo $((HA_PG_BASE + 10 + ${1#pg})); }
patroni_url() { echo "http://127.0.0.1:$(patroni_port "$1")"; }
patroni_urls() { # -> comma-separated REST URLs, for the storefront's topology panel
  local node out=()
  for node in "${HA_PG_NODES[@]}"; do out+=("$(patroni_url "$node")"); done
  (IFS=,; echo "${out[*]}")
}
rmq_amqp_port() { echo $((HA_RMQ_BASE + $1)); }
rmq_mgmt_port() { echo $((HA_RMQ_BASE + 10 + $1)); }
rmq_dist_port() { echo $((HA_RMQ_BASE + 20 + $1)); }
rmq_node_name() { echo "platform-ha$1@localhost"; }
instance_port() { # name a|b
  case $2 in a) echo $((PORT[$1] + 10000)) ;; b) echo $((PORT[$1] + 20000)) ;; esac
}

# patroni, etcd and haproxy from Debian's packages (python3-etcd: Patroni's etcd client).
# Installing them enables their system services; ./dev runs its own, so those are stopped.
ensure_ha_packages() {
  local missing=() unit
  command -v patroni >/dev/null || missing+=(patroni)
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v haproxy >/dev/null || missing+=(haproxy)
  /usr/bin/python3 -c 'import etcd' 2>/dev/null || missing+=(python3-etcd)
  ((${#missing[@]} == 0)) && return 0
  ensure_apt_packages --no-install-recommends "${missing[@]}"
  if [[ -d /run/systemd/system ]]; then
    for unit in etcd haproxy patroni; do
      systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
    done
  fi
}

# ---------------------------------------------------------------------------------------
# etcd: where the PostgreSQL nodes elect their leader
# ---------------------------------------------------------------------------------------
# One member: Patroni keeps its leader key (with a TTL) here, and only the holder of the key
# may run as primary, which is what prevents two primaries (split brain). Production runs
# three or five members, on separate machines; one is enough to show a failover here.

etcd_url() { echo "http://127.0.0.1:$ETCD_PORT"; }

start_etcd() {
  local tries=0 peer="http://127.0.0.1:$((ETCD_PORT + 1))"
  if running_pid etcd "etcd --name" >/dev/null; then return 0; fi
  require_free_port "$ETCD_PORT" etcd ETCD_PORT
  mkdir -p "$HA_DIR/etcd"
  info "starting etcd on $(etcd_url)"
  start_bg etcd "$LOG_DIR/etcd.log" etcd --name platform-dev --data-dir "$HA_DIR/etcd/data" \
    --listen-client-urls "$(etcd_url)" --advertise-client-urls "$(etcd_url)" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "platform-dev=$peer" --log-level warn
  STARTED+=(etcd)
  until curl -fsS -o /dev/null --max-time 1 "$(etcd_url)/health" 2>/dev/null; do
    running_pid etcd "etcd --name" >/dev/null || { show_log_tail "$LOG_DIR/etcd.log"; die "etcd exited during start-up"; }
    ((++tries < 300)) || die "etcd did not answer within 30 s"
    sleep 0.1
  done
}

stop_etcd() {
  if running_pid etcd "etcd --name" >/dev/null; then
    info "stopping etcd"
    stop_pid etcd "etcd --name"
  fi
}

# ---------------------------------------------------------------------------------------
# PostgreSQL under Patroni: two nodes, one leader, failover through etcd
# ---------------------------------------------------------------------------------------

ha_superuser_password() { service_secret ha-postgres; }

# The timing is the failover's cost: the leader key lives `ttl` seconds, renewed every
# `loop_wait`; a dead primary's key expires within ttl, then the standby promotes. Patroni's
# rule loop_wait + 2 × retry_timeout <= ttl. 10 s keeps checkouts failing for about that long.
# maximum_lag_on_failover: a standby further behind than this is not promoted (availability
# bought with acknowledged data); the drill's asynchronous run lets it be seconds behind.
patroni_write_config() { # node
  local node=$1 dir=$HA_DIR/$1 sync=true
  [[ $HA_SYNC == off ]] && sync=false
  mkdir -p "$dir/run"
  cat >"$dir/patroni.yml" <<EOF
# Written by ./dev on every start; edit scripts/ha.sh, not this file.
scope: $PATRONI_SCOPE
namespace: /platform-dev/
name: $node
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:$(patroni_port "$node")
  connect_address: 127.0.0.1:$(patroni_port "$node")
etcd3:
  host: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 67108864
    synchronous_mode: $sync
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 300
        shared_buffers: 128MB
        wal_level: replica
        hot_standby: "on"
        hot_standby_feedback: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        password_encryption: scram-sha-256
        shared_preload_libraries: pg_stat_statements
        pg_stat_statements.track: top
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - auth-local: trust
    - auth-host: scram-sha-256
postgresql:
  listen: 127.0.0.1:$(pg_node_port "$node")
  connect_address: 127.0.0.1:$(pg_node_port "$node")
  data_dir: $dir/data
  bin_dir: $PG_BIN
  pgpass: $dir/pgpass
  authentication:
    superuser:
      username: postgres
      password: $(ha_superuser_password)
    replication:
      username: $REPLICATION_USER
      password: $REPLICATION_PASS
    rewind:
      username: postgres
      password: $(ha_superuser_password)
  parameters:
    unix_socket_directories: $dir/run
  pg_hba:
    - local all all trust
    - local replication all trust
    - host all all 127.0.0.1/32 scram-sha-256
    - host replication $REPLICATION_USER 127.0.0.1/32 scram-sha-256
EOF
  chmod 700 "$dir/run"
  chmod 600 "$dir/patroni.yml"
  give_to_postgres "$dir" "$dir/run" "$dir/patroni.yml"
}

patroni_pid() { running_pid "patroni-$1" "patroni $HA_DIR/$1/"; }

start_patroni() { # node
  local node=$1 run_as=()
  if patroni_pid "$node" >/dev/null; then return 0; fi
  require_free_port "$(pg_node_port "$node")" "PostgreSQL $node" HA_PG_BASE
  require_free_port "$(patroni_port "$node")" "Patroni $node" HA_PG_BASE
  patroni_write_config "$node"
  ensure_postgres_can_reach_dev_dir "$HA_DIR/$node"
  touch "$LOG_DIR/patroni-$node.log"
  # setpriv, not runuser: runuser stays as Patroni's parent and, on SIGTERM, kills it 2 s
  # later, in the middle of shutting PostgreSQL down, which then runs on without Patroni.
  # setpriv changes the user and executes Patroni itself, so its pid is Patroni's.
  ((EUID == 0)) && run_as=(setpriv --reuid=postgres --regid=postgres --init-groups)
  info "starting Patroni $node (PostgreSQL on 127.0.0.1:$(pg_node_port "$node"), REST on $(patroni_url "$node"))"
  # env -C /: the postgres user may not read the repository's directory.
  start_bg "patroni-$node" "$LOG_DIR/patroni-$node.log" "${run_as[@]}" \
    env -C / HOME="$(getent passwd postgres | cut -d: -f6)" patroni "$HA_DIR/$node/patroni.yml"
  STARTED+=("patroni-$node")
}

# Patroni's REST answer for a node: 200 on /primary when it is the leader, on /replica when
# it is a streaming standby.
patroni_is() { # node primary|replica
  curl -fsS -o /dev/null --max-time 1 "$(patroni_url "$1")/$2" 2>/dev/null
}

wait_patroni() { # node primary|replica seconds
  local deadline=$((SECONDS + $3))
  until patroni_is "$1" "$2"; do
    if ! patroni_pid "$1" >/dev/null; then
      show_log_tail "$LOG_DIR/patroni-$1.log"
      die "Patroni $1 exited (see $LOG_DIR/patroni-$1.log)"
    fi
    ((SECONDS < deadline)) || { show_log_tail "$LOG_DIR/patroni-$1.log"; die "Patroni $1 is not $2 after $3 s"; }
    sleep 0.5
  done
}

# The node that holds the leader key, from any node that answers (empty when none).
patroni_leader() {
  local node
  for node in "${HA_PG_NODES[@]}"; do
    curl -fsS --max-time 1 "$(patroni_url "$node")/cluster" 2>/dev/null |
      python3 -c 'import json,sys; print(next((m["name"] for m in json.load(sys.stdin)["members"] if m["role"] == "leader"), ""))' 2>/dev/null &&
      return 0
  done
  echo ""
}

# The first node starts (and, the first time, initializes the cluster) alone; the second
# then copies it with pg_basebackup and follows it. Later starts: whoever held the key.
start_patroni_cluster() {
  local node leader
  for node in "${HA_PG_NODES[@]}"; do start_patroni "$node"; done
  info "waiting for a PostgreSQL leader"
  local deadline=$((SECONDS + 120))
  until leader=$(patroni_leader) && [[ -n $leader ]] && patroni_is "$leader" primary; do
    ((SECONDS < deadline)) || { for node in "${HA_PG_NODES[@]}"; do show_log_tail "$LOG_DIR/patroni-$node.log"; done; die "no PostgreSQL leader after 120 s"; }
    sleep 0.5
  done
  for node in "${HA_PG_NODES[@]}"; do
    [[ $node == "$leader" ]] || wait_patroni "$node" replica 180
  done
  info "PostgreSQL: $leader is the primary, the other node streams from it"
}

# Patroni stops its PostgreSQL (fast shutdown) before it exits; it may take longer than a
# service, hence its own patience. A PostgreSQL left running without its Patroni (one that
# died, say) is stopped too, so that ./dev down leaves nothing behind.
stop_patroni() { # node
  local data=$HA_DIR/$1/data
  if patroni_pid "$1" >/dev/null; then
    info "stopping Patroni $1"
    STOP_TIMEOUT=60 stop_pid "patroni-$1" "patroni $HA_DIR/$1/"
  fi
  if pg_running "$data"; then
    info "stopping the PostgreSQL of $1, which ran without its Patroni"
    as_postgres "$PG_BIN/pg_ctl" stop -D "$data" -m fast -w -t 60 -s || true
  fi
}

# Replicas first: a leader stopped while its standby runs hands over to it (a switchover).
stop_patroni_cluster() {
  local node leader
  leader=$(patroni_leader)
  for node in "${HA_PG_NODES[@]}"; do
    [[ $node == "$leader" ]] || stop_patroni "$node"
  done
  for node in "${HA_PG_NODES[@]}"; do stop_patroni "$node"; done
}

# Admin SQL in the HA stack: as the superuser over TCP through HAProxy, so it always reaches
# whichever node is the primary now (pg_admin_psql and pg_query call this when HA_MODE is set).
ha_psql() { # psql args...
  PGPASSWORD=$(ha_superuser_password) "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -X -q "$@"
}

# Synchronous or asynchronous, through Patroni's REST API (stored in etcd, applied by every
# node within a loop). Waits until the primary's synchronous_standby_names says so.
patroni_set_sync() { # on|off
  local want=true leader names deadline=$((SECONDS + 30))
  [[ $1 == off ]] && want=false
  leader=$(patroni_leader)
  curl -fsS -o /dev/null --max-time 5 -X PATCH -H 'Content-Type: application/json' \
    -d "{\"synchronous_mode\": $want}" "$(patroni_url "$leader")/config" ||
    die "could not set synchronous_mode=$want through Patroni's REST API"
  while :; do
    names=$(ha_psql -A -t -c "SHOW synchronous_standby_names" 2>/dev/null) || names='?'
    if [[ $want == true && -n $names && $names != '?' ]] || [[ $want == false && -z $names ]]; then
      info "PostgreSQL replication is now $([[ $want == true ]] && echo synchronous || echo asynchronous) (synchronous_standby_names='$names')"
      return 0
    fi
    ((SECONDS < deadline)) || die "synchronous_standby_names is still '$names' after 30 s"
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------
# RabbitMQ: a cluster of three nodes
# ---------------------------------------------------------------------------------------
# Same Erlang cookie (HOME), same epmd, own names and ports. The nodes find each other by
# the list in their configuration (classic_config peer discovery): a node that starts with an
# empty database joins the others. Quorum queues need a majority: two of three nodes.
# The Erlang VMs are kept small for two cores: one scheduler each and no busy-waiting
# (a scheduler spinning for work costs a core's worth of CPU on an idle node).

RMQ_HA_DIR=$HA_DIR/rabbitmq

rmq_ha_env() { # n -> fills RMQ_HA_ENV
  local n=$1
  RMQ_HA_ENV=(
    HOME="$RMQ_HA_DIR/home"
    LC_ALL=C.UTF-8
    ERL_EPMD_PORT="$ERL_EPMD_PORT"
    ERL_EPMD_ADDRESS=127.0.0.1
    RABBITMQ_NODENAME="$(rmq_node_name "$n")"
    RABBITMQ_USE_LONGNAME=false
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    RABBITMQ_NODE_PORT="$(rmq_amqp_port "$n")"
    RABBITMQ_DIST_PORT="$(rmq_dist_port "$n")"
    RABBITMQ_CONF_ENV_FILE="$RMQ_HA_DIR/rabbitmq-env.conf"
    RABBITMQ_CONFIG_FILE="$RMQ_HA_DIR/rabbit$n.conf"
    RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_HA_DIR/advanced.config"
    RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_HA_DIR/enabled_plugins"
    RABBITMQ_MNESIA_BASE="$RMQ_HA_DIR/rabbit$n/mnesia"
    RABBITMQ_LOG_BASE="$RMQ_HA_DIR/rabbit$n/log"
    # A node that fails to boot writes its crash dump here, not into the current directory.
    ERL_CRASH_DUMP="$RMQ_HA_DIR/rabbit$n/log/erl_crash.dump"
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none"
    RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  )
}

rmq_ha_ctl() { # n args...
  local n=$1
  shift
  rmq_ha_env "$n"
  env "${RMQ_HA_ENV[@]}" "$RMQ_BIN/rabbitmqctl" -n "$(rmq_node_name "$n")" "$@"
}

rmq_ha_write_config() {
  local n m
  mkdir -p "$RMQ_HA_DIR/home"
  chmod 700 "$RMQ_HA_DIR/home"
  if [[ ! -f $RMQ_HA_DIR/home/.erlang.cookie ]]; then
    random_hex | tr a-f A-F >"$RMQ_HA_DIR/home/.erlang.cookie"
    chmod 400 "$RMQ_HA_DIR/home/.erlang.cookie"
  fi
  echo "# Intentionally empty: keeps /etc/rabbitmq/rabbitmq-env.conf out of the dev nodes." >"$RMQ_HA_DIR/rabbitmq-env.conf"
  echo "[rabbitmq_management]." >"$RMQ_HA_DIR/enabled_plugins"
  for n in "${HA_RMQ_NODES[@]}"; do
    mkdir -p "$RMQ_HA_DIR/rabbit$n"/{mnesia,log}
    {
      cat <<EOF
# Written by ./dev on every start; edit scripts/ha.sh, not this file.
management.tcp.ip = 127.0.0.1
management.tcp.port = $(rmq_mgmt_port "$n")
collect_statistics_interval = 1000
default_user = $BROKER_USER
default_pass = $BROKER_PASS
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
# A node cut off from the majority pauses rather than serving a diverging copy.
cluster_partition_handling = pause_minority
# New quorum queues' leaders spread over the nodes.
queue_leader_locator = balanced
cluster_formation.peer_discovery_backend = classic_config
EOF
      for m in "${HA_RMQ_NODES[@]}"; do
        echo "cluster_formation.classic_config.nodes.$m = $(rmq_node_name "$m")"
      done
    } >"$RMQ_HA_DIR/rabbit$n.conf"
  done
}

rmq_ha_pid() { running_pid "rabbit$1" rabbitmq-server; }

start_rmq_node() { # n
  local n=$1
  if rmq_ha_pid "$n" >/dev/null; then return 0; fi
  require_free_port "$(rmq_amqp_port "$n")" "RabbitMQ node $n" HA_RMQ_BASE
  require_free_port "$(rmq_mgmt_port "$n")" "RabbitMQ node $n management" HA_RMQ_BASE
  rmq_ha_env "$n"
  info "starting RabbitMQ node $(rmq_node_name "$n") (AMQP 127.0.0.1:$(rmq_amqp_port "$n"))"
  start_bg "rabbit$n" "$LOG_DIR/rabbit$n.log" env "${RMQ_HA_ENV[@]}" "$RMQ_BIN/rabbitmq-server"
  STARTED+=("rabbit$n")
}

wait_rmq_node() { # n seconds
  local deadline=$((SECONDS + $2))
  until rmq_ha_ctl "$1" -q await_startup --timeout 20 >/dev/null 2>&1; do
    rmq_ha_pid "$1" >/dev/null || { show_log_tail "$LOG_DIR/rabbit$1.log"; die "RabbitMQ node $1 exited during start-up"; }
    ((SECONDS < deadline)) || die "RabbitMQ node $1 did not start within $2 s"
    sleep 1
  done
}

# The first node alone (on a first start it forms the cluster), then the others, which join.
start_rmq_cluster() {
  local n first=${HA_RMQ_NODES[0]} running
  start_epmd
  rmq_ha_write_config
  start_rmq_node "$first"
  wait_rmq_node "$first" 120
  for n in "${HA_RMQ_NODES[@]:1}"; do start_rmq_node "$n"; done
  for n in "${HA_RMQ_NODES[@]:1}"; do wait_rmq_node "$n" 120; done
  running=$(rmq_ha_ctl "$first" -q cluster_status --formatter json 2>/dev/null |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))' 2>/dev/null) || running=0
  ((running == ${#HA_RMQ_NODES[@]})) || die "the RabbitMQ cluster has $running running nodes, expected ${#HA_RMQ_NODES[@]} (see $LOG_DIR/rabbit*.log)"
  info "RabbitMQ: a cluster of $running nodes"
  RABBITMQCTL=(rmq_ha_ctl "$first")
  mkdir -p "$RMQ_DIR"   # ensure_rabbitmq_setup writes its definitions file there
  ensure_rabbitmq_setup
}

# The reverse order: the node stopped last starts first next time (it has the newest view).
stop_rmq_cluster() {
  local i n
  for ((i = ${#HA_RMQ_NODES[@]} - 1; i >= 0; i--)); do
    n=${HA_RMQ_NODES[i]}
    if rmq_ha_pid "$n" >/dev/null; then
      info "stopping RabbitMQ node $n"
      timeout 60 rmq_ha_ctl "$n" -q shutdown >/dev/null 2>&1 || true
      stop_pid "rabbit$n" rabbitmq-server
    fi
  done
}

# The node that leads most quorum queues (the drill kills it), from the management API.
rmq_busiest_leader() {
  curl -fsS --max-time 5 -u "$BROKER_USER:$BROKER_PASS" "http://127.0.0.1:$RABBITMQ_MGMT_PORT/api/queues/$BROKER_VHOST" 2>/dev/null |
    python3 -c '
import collections, json, sys
leaders = collections.Counter(q.get("leader") for q in json.load(sys.stdin) if q.get("type") == "quorum")
print(leaders.most_common(1)[0][0] if leaders else "")'
}

# ---------------------------------------------------------------------------------------
# HAProxy: the one address of everything
# ---------------------------------------------------------------------------------------
# PostgreSQL: the primary port checks Patroni's /primary, the replica port /replica, every
# second; a node that fails two checks is taken out and its connections are cut
# (shutdown-sessions), so a client never keeps talking to a demoted primary. RabbitMQ: TCP
# checks, connections spread over the nodes; a client whose node dies reconnects through the
# same address to a live one. Services: HTTP, GET /health/ready; a request whose connection
# could not be made is sent to the other instance (retry-on conn-failure: nothing was sent,
# so it is safe even for a POST); one already sent is not retried by HAProxy (the client's
# Idempotency-Key makes its own retry safe).

# One PostgreSQL front port: the connections go to the nodes that Patroni's REST check
# (/primary or /replica) says play that role.
haproxy_postgres_listen() { # name port check-path
  local node
  cat <<EOF

listen $1
  mode tcp
  bind 127.0.0.1:$2
  timeout client 30m
  timeout server 30m
  option httpchk GET $3
  http-check expect status 200
  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
EOF
  for node in "${HA_PG_NODES[@]}"; do
    echo "  server $node 127.0.0.1:$(pg_node_port "$node") check port $(patroni_port "$node")"
  done
}

haproxy_write_config() { # file
  local name n inst
  {
    cat <<EOF
# Written by ./dev on every start; edit scripts/ha.sh, not this file.
global
  maxconn 4096
  nbthread 1
  stats socket $HA_DIR/haproxy.sock mode 600 level admin

defaults
  timeout connect 2s
  timeout check 1s
  retries 2
  option redispatch

listen stats
  mode http
  bind 127.0.0.1:$HAPROXY_STATS_PORT
  timeout client 10s
  stats enable
  stats uri /stats
  stats refresh 5s
EOF
    haproxy_postgres_listen postgres-primary "$PG_PORT" /primary
    haproxy_postgres_listen postgres-replicas "$PG_REPLICA_PORT" /replica
    cat <<EOF

listen rabbitmq-amqp
  mode tcp
  bind 127.0.0.1:$AMQP_PORT
  balance roundrobin
  timeout client 3h
  timeout server 3h
  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
EOF
    for n in "${HA_RMQ_NODES[@]}"; do
      echo "  server rabbit$n 127.0.0.1:$(rmq_amqp_port "$n") check"
    done
    cat <<EOF

listen rabbitmq-management
  mode http
  bind 127.0.0.1:$RABBITMQ_MGMT_PORT
  balance roundrobin
  timeout client 30s
  timeout server 30s
  option httpchk GET /
  default-server inter 2s fall 2 rise 2
EOF
    for n in "${HA_RMQ_NODES[@]}"; do
      echo "  server rabbit$n 127.0.0.1:$(rmq_mgmt_port "$n") check"
    done
    for name in "${SERVICES[@]}"; do
      cat <<EOF

listen $name
  mode http
  bind 127.0.0.1:${PORT[$name]}
  balance roundrobin
  timeout client 60s
  timeout server 60s
  option httpchk GET /health/ready
  http-check expect status 200
  retry-on conn-failure
  default-server inter 1s fall 2 rise 2
  # No instance ready: the platform's JSON error shape and a hint when to come back.
  http-error status 503 content-type application/json string '{"error":{"code":"no_instance_ready","message":"no instance of $name is ready; retry shortly"}}' hdr Retry-After 1
  http-error status 502 content-type application/json string '{"error":{"code":"instance_failed","message":"the $name instance failed while answering; retry with the same Idempotency-Key"}}'
EOF
      for inst in "${HA_INSTANCES[@]}"; do
        echo "  server $name-$inst 127.0.0.1:$(instance_port "$name" "$inst") check"
      done
    done
  } >"$1"
}

haproxy_stats_url() { echo "http://127.0.0.1:$HAPROXY_STATS_PORT/stats;csv"; }

start_haproxy() {
  local tries=0 port
  if running_pid haproxy "haproxy -f" >/dev/null; then return 0; fi
  for port in "$HAPROXY_STATS_PORT" "$PG_PORT" "$PG_REPLICA_PORT" "$AMQP_PORT" "$RABBITMQ_MGMT_PORT"; do
    require_free_port "$port" HAProxy "the port's variable"
  done
  haproxy_write_config "$HA_DIR/haproxy.cfg"
  haproxy -c -q -f "$HA_DIR/haproxy.cfg" || die "HAProxy refused its configuration ($HA_DIR/haproxy.cfg)"
  info "starting HAProxy (stats on $(haproxy_stats_url))"
  # -db: stay in the foreground (start_bg keeps its pid); -Ws would be for systemd.
  start_bg haproxy "$LOG_DIR/haproxy.log" haproxy -f "$HA_DIR/haproxy.cfg" -db
  STARTED+=(haproxy)
  until curl -fsS -o /dev/null --max-time 1 "$(haproxy_stats_url)" 2>/dev/null; do
    running_pid haproxy "haproxy -f" >/dev/null || { show_log_tail "$LOG_DIR/haproxy.log"; die "HAProxy exited during start-up"; }
    ((++tries < 100)) || die "HAProxy did not answer within 10 s"
    sleep 0.1
  done
}

stop_haproxy() {
  if running_pid haproxy "haproxy -f" >/dev/null; then
    info "stopping HAProxy"
    stop_pid haproxy "haproxy -f"
  fi
}

# One server's state as HAProxy sees it (UP, DOWN, "UP 1/2"...), from the stats CSV.
haproxy_server_status() { # backend server
  curl -fsS --max-time 2 "$(haproxy_stats_url)" 2>/dev/null |
    awk -F, -v b="$1" -v s="$2" '$1 == b && $2 == s { print $18; exit }'
}

# ---------------------------------------------------------------------------------------
# Two instances of every service
# ---------------------------------------------------------------------------------------

start_instance() { # name a|b profile
  local name=$1 inst=$2 id=$1-$2 bin port
  bin=$TARGET_DIR/$3/${BINARY[$name]}
  if running_pid "$id" "${BINARY[$name]}" >/dev/null; then return 0; fi
  [[ -x $bin ]] || die "$bin not found; did the build succeed?"
  port=$(instance_port "$name" "$inst")
  require_free_port "$port" "$id" "$(port_var "$name")"
  service_env "$name"
  # env takes the last of a repeated variable: these override service_env's.
  SERVICE_ENV+=(HTTP_PORT="$port" BROKER_QUEUE_TYPE=quorum INSTANCE="$id")
  if [[ $name == frontend ]]; then
    SERVICE_ENV+=(HAPROXY_STATS_URL="$(haproxy_stats_url)" PATRONI_URLS="$(patroni_urls)")
  else
    # Over TCP through HAProxy (not a node's socket): whichever node is primary now.
    SERVICE_ENV+=(DATABASE_URL="postgres://$name:$name@127.0.0.1:$PG_PORT/$name")
    [[ $READ_REPLICA == on ]] && SERVICE_ENV+=(DATABASE_REPLICA_URL="postgres://$name:$name@127.0.0.1:$PG_REPLICA_PORT/$name")
  fi
  info "starting $id on 127.0.0.1:$port"
  start_bg "$id" "$LOG_DIR/$id.log" env "${SERVICE_ENV[@]}" "$bin"
}

stop_instances() {
  local name inst
  for name in "${SERVICES[@]}"; do
    for inst in "${HA_INSTANCES[@]}"; do
      if running_pid "$name-$inst" "${BINARY[$name]}" >/dev/null; then
        info "stopping $name-$inst"
        stop_pid "$name-$inst" "${BINARY[$name]}"
      fi
    done
  done
}

instance_ready() { # name a|b
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$(instance_port "$1" "$2")/health/ready" 2>/dev/null
}

# Every instance ready on its own port and seen UP by HAProxy; fails early when one exited.
wait_instances_ready() { # seconds
  local deadline=$((SECONDS + $1)) name inst pending
  info "waiting up to $1 s for every instance's /health/ready (and HAProxy to see it)"
  while :; do
    pending=()
    for name in "${SERVICES[@]}"; do
      for inst in "${HA_INSTANCES[@]}"; do
        if ! running_pid "$name-$inst" "${BINARY[$name]}" >/dev/null; then
          show_log_tail "$LOG_DIR/$name-$inst.log"
          die "$name-$inst exited"
        fi
        instance_ready "$name" "$inst" && [[ $(haproxy_server_status "$name" "$name-$inst") == UP* ]] && continue
        pending+=("$name-$inst")
      done
    done
    ((${#pending[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      for name in "${pending[@]}"; do show_log_tail "$LOG_DIR/$name.log"; done
      die "not ready after $1 s: ${pending[*]}"
    fi
    sleep 1
  done
}

# ---------------------------------------------------------------------------------------
# ./dev up --ha, down, status
# ---------------------------------------------------------------------------------------

ha_refuse_single_node() {
  if pg_running || running_pid rabbitmq rabbitmq-server >/dev/null || running_pid order order-service >/dev/null; then
    die "the single-node stack is running (its ports are the HA stack's too): ./dev down first"
  fi
}

ha_infra_up() {
  HA_MODE=1
  ensure_packages
  ensure_ha_packages
  ensure_dirs
  ha_refuse_single_node
  mkdir -p "$HA_DIR"
  touch "$HA_MARKER"
  start_etcd
  start_haproxy
  start_patroni_cluster
  ensure_pg_roles
  start_rmq_cluster
}

ha_up() { # profile
  local profile=$1 name inst
  ha_infra_up
  if [[ $profile == release ]]; then build_services --release; else build_services; fi
  ensure_admin_token
  for name in "${SERVICES[@]}"; do
    for inst in "${HA_INSTANCES[@]}"; do start_instance "$name" "$inst" "$profile"; done
  done
  start_prometheus
  wait_instances_ready "$READY_TIMEOUT"
  print_urls
  cat <<EOF
  HA topology       HAProxy stats $(haproxy_stats_url | sed 's/;csv$//')
                    Patroni $(patroni_urls), etcd $(etcd_url)
                    RabbitMQ nodes: AMQP $(for n in "${HA_RMQ_NODES[@]}"; do printf '%s ' "$(rmq_amqp_port "$n")"; done)
EOF
}

ha_down() {
  HA_MODE=1
  stop_instances
  stop_haproxy
  stop_rmq_cluster
  stop_patroni_cluster
  stop_etcd
  rm -f "$HA_MARKER"
}

ha_status() {
  local node n name inst state pid role
  for node in "${HA_PG_NODES[@]}"; do
    state=stopped pid=- role=no
    if pid=$(patroni_pid "$node"); then state=running; else pid=-; fi
    if patroni_is "$node" primary; then role="yes (primary)"; elif patroni_is "$node" replica; then role="yes (replica)"; fi
    status_row "patroni-$node" "$state" "$pid" "$(pg_node_port "$node")" "$role"
  done
  state=stopped
  if pid=$(running_pid etcd "etcd --name"); then state=running; else pid=-; fi
  status_row etcd "$state" "$pid" "$ETCD_PORT" "$(curl -fsS --max-time 1 "$(etcd_url)/health" >/dev/null 2>&1 && echo yes || echo no)"
  for n in "${HA_RMQ_NODES[@]}"; do
    state=stopped
    if pid=$(rmq_ha_pid "$n"); then state=running; else pid=-; fi
    status_row "rabbit$n" "$state" "$pid" "$(rmq_amqp_port "$n")" "$(haproxy_server_status rabbitmq-amqp "rabbit$n")"
  done
  state=stopped
  if pid=$(running_pid haproxy "haproxy -f"); then state=running; else pid=-; fi
  status_row haproxy "$state" "$pid" "$HAPROXY_STATS_PORT" "$(haproxy_stats_url | sed 's/;csv$//')"
  for name in "${SERVICES[@]}"; do
    for inst in "${HA_INSTANCES[@]}"; do
      state=stopped
      if pid=$(running_pid "$name-$inst" "${BINARY[$name]}"); then state=running; else pid=-; fi
      status_row "$name-$inst" "$state" "$pid" "$(instance_port "$name" "$inst")" "$(haproxy_server_status "$name" "$name-$inst")"
    done
  done
}

# ./dev idle-cpu [seconds]: the CPU every process ./dev started uses while nothing is asked of
# it (either stack): what the topology costs before the first checkout.
cmd_idle_cpu() { # seconds
  local secs=${1:-30} roots before after hz n
  hz=$(getconf CLK_TCK)
  # The processes ./dev started (pid files) and every PostgreSQL under .dev (Patroni starts
  # its server detached, in a process group of its own), with all their descendants.
  roots=$(cat "$PID_DIR"/*.pid 2>/dev/null; find "$DEV_DIR" -name postmaster.pid -exec head -n 1 {} \; 2>/dev/null)
  stack_pids() {
    ps -e -o pid=,ppid= | awk -v roots="$(echo $roots)" '
      BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
      { parent[$1] = $2 }
      END { for (p in parent) { q = p; while (q > 1) { if (q in keep) { print p; break } q = parent[q] } } }'
  }
  cpu_ticks() {
    local p t=0
    for p in $(stack_pids); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
    echo "$t"
  }
  n=$(stack_pids | wc -l)
  before=$(cpu_ticks)
  sleep "$secs"
  after=$(cpu_ticks)
  awk -v d=$((after - before)) -v hz="$hz" -v s="$secs" -v n="$n" 'BEGIN { printf "idle CPU of the %d processes ./dev started: %.1f%% of one core (over %d s)\n", n, 100 * d / hz / s, s }'
}

# ---------------------------------------------------------------------------------------
# ./dev drill: failovers under load, with the chaos suite's client-side ledger
# ---------------------------------------------------------------------------------------
# The chaos suite's machinery (run_chaos: patient k6 shoppers writing a ledger, a schedule
# of faults one at a time, check-ledger, the invariant checker) with the HA stack's faults:
# a node of a replicated component dies and the platform must go on without it.

# A PostgreSQL node dying as a machine would: Patroni and PostgreSQL with all its processes
# at once (kill -9), so nobody hands anything over. With lag-seconds > 0 the primary's WAL
# senders are stopped (SIGSTOP) that long first: the standby falls behind as over a slow
# network. Synchronous replication makes commits wait meanwhile (no acknowledged order is
# missing on the standby); asynchronous replication acknowledges them, and they are gone once
# the standby is promoted without them.
fault_pg_primary_kill() { # fault-name lag-seconds
  local leader other node postmaster pids start end ready promoted lag=$2 senders
  leader=$(patroni_leader)
  [[ -n $leader ]] || die "no PostgreSQL leader to kill"
  for node in "${HA_PG_NODES[@]}"; do [[ $node != "$leader" ]] && other=$node; done
  postmaster=$(head -n 1 "$HA_DIR/$leader/data/postmaster.pid" 2>/dev/null)
  start=$(now_ms)
  if ((lag > 0)); then
    senders=$(pgrep -P "$postmaster" -f 'walsender' | tr '\n' ' ')
    info "drill: the primary $leader's WAL senders stopped for $lag s (pids $senders), then $leader killed"
    # shellcheck disable=SC2086
    kill -STOP $senders 2>/dev/null || true
    sleep "$lag"
  else
    info "drill: kill -9 the PostgreSQL primary $leader (Patroni and PostgreSQL)"
  fi
  pids="$(patroni_pid "$leader") $postmaster $(pgrep -P "$postmaster" | tr '\n' ' ')"
  # shellcheck disable=SC2086
  kill -KILL -- "-$(patroni_pid "$leader")" $pids 2>/dev/null || true
  rm -f "$(pid_file "patroni-$leader")"
  until patroni_is "$other" primary; do
    (($(now_ms) - start < 90000)) || { warn "drill: $other not promoted within 90 s"; break; }
    sleep 0.2
  done
  promoted=$(now_ms)
  info "drill: $other is the primary after $(((promoted - start) / 1000)) s; restarting $leader (it rejoins as a replica)"
  end=$(now_ms)
  start_patroni "$leader"
  local deadline=$((SECONDS + 120))
  until patroni_is "$leader" replica; do
    ((SECONDS < deadline)) || { warn "drill: $leader not streaming again after 120 s"; break; }
    sleep 0.5
  done
  ready=$(now_ms)
  wait_instances_ready 90 || true
  chaos_record "$1" "$start" "$end" "$ready" "$(now_ms)" "$other promoted $(((promoted - start) / 1000)) s after the kill; $leader back as a replica $(((ready - end) / 1000)) s after its restart"
}

# The node that leads most quorum queues, killed (-9) and restarted after hold seconds. Its
# queues elect new leaders among the two others (a majority); clients connected through it
# reconnect through HAProxy.
fault_rmq_leader_kill() { # hold-seconds
  local node n pid start end ready led
  node=$(rmq_busiest_leader)
  [[ $node =~ ^platform-ha([0-9]+)@ ]] || die "no quorum queue leader found (is BROKER_QUEUE_TYPE=quorum?)"
  n=${BASH_REMATCH[1]}
  led=$(curl -fsS --max-time 5 -u "$BROKER_USER:$BROKER_PASS" "http://127.0.0.1:$RABBITMQ_MGMT_PORT/api/queues/$BROKER_VHOST" |
    python3 -c "import json,sys; print(sum(1 for q in json.load(sys.stdin) if q.get('leader') == '$node'))")
  pid=$(rmq_ha_pid "$n") || die "RabbitMQ node $n is not running"
  info "drill: kill -9 RabbitMQ node $node (leads $led quorum queues) for $1 s"
  start=$(now_ms)
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
  rm -f "$(pid_file "rabbit$n")"
  sleep "$1"
  end=$(now_ms)
  start_rmq_node "$n"
  wait_rmq_node "$n" 120
  ready=$(now_ms)
  wait_instances_ready 90 || true
  chaos_record rabbitmq-leader-kill "$start" "$end" "$ready" "$(now_ms)" "rabbit$n led $led quorum queues"
}

# Instance a of every service at once (-9), restarted after hold seconds: b serves alone.
fault_instances_kill() { # hold-seconds
  local name pid start end ready killed=()
  start=$(now_ms)
  for name in "${SERVICES[@]}"; do
    if pid=$(running_pid "$name-a" "${BINARY[$name]}"); then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
      rm -f "$(pid_file "$name-a")"
      killed+=("$name-a")
    fi
  done
  info "drill: kill -9 ${killed[*]}; restart after $1 s"
  sleep "$1"
  end=$(now_ms)
  for name in "${SERVICES[@]}"; do start_instance "$name" a "${CHAOS_PROFILE:-debug}"; done
  wait_instances_ready 90 || true
  ready=$(now_ms)
  chaos_record instance-kill "$start" "$end" "$ready" "$(now_ms)" "${#killed[@]} instances (one of each service)"
}

# The drill's schedules ("offset-seconds fault args..."), for chaos_schedule.
drill_schedule() { # drill|drill-short|drill-async
  case $1 in
    drill-short)
      cat <<'EOS'
10 pg-primary-kill 0
55 rabbitmq-leader-kill 5
95 instance-kill 2
EOS
      ;;
    drill-async)
      echo "15 pg-primary-kill-lagging 3"
      ;;
    *)
      cat <<'EOS'
20 pg-primary-kill 0
80 rabbitmq-leader-kill 10
135 instance-kill 3
175 pg-primary-kill-lagging 3
EOS
      ;;
  esac
}

# A component that died on its own (not killed by the schedule) is started again and written
# down, as chaos_revive does for the single-node stack.
ha_revive() { # results-dir when
  local name inst node n
  for node in "${HA_PG_NODES[@]}"; do
    if ! patroni_pid "$node" >/dev/null; then
      echo "$(now_ms) patroni-$node exited on its own ($2)" >>"$1/revived.txt"
      start_patroni "$node"
    fi
  done
  for n in "${HA_RMQ_NODES[@]}"; do
    if ! rmq_ha_pid "$n" >/dev/null; then
      echo "$(now_ms) rabbit$n exited on its own ($2)" >>"$1/revived.txt"
      start_rmq_node "$n"
    fi
  done
  for name in "${SERVICES[@]}"; do
    for inst in "${HA_INSTANCES[@]}"; do
      if ! running_pid "$name-$inst" "${BINARY[$name]}" >/dev/null; then
        warn "drill: $name-$inst had exited on its own ($2); starting it again"
        echo "$(now_ms) $name-$inst exited on its own ($2); see $LOG_DIR/$name-$inst.log" >>"$1/revived.txt"
        start_instance "$name" "$inst" "${CHAOS_PROFILE:-debug}"
      fi
    done
  done
}

# Whatever happened: every node and instance running again, replication synchronous again.
ha_recover() {
  local node n name inst
  for node in "${HA_PG_NODES[@]}"; do patroni_pid "$node" >/dev/null || start_patroni "$node"; done
  for n in "${HA_RMQ_NODES[@]}"; do rmq_ha_pid "$n" >/dev/null || start_rmq_node "$n"; done
  for name in "${SERVICES[@]}"; do
    for inst in "${HA_INSTANCES[@]}"; do
      running_pid "$name-$inst" "${BINARY[$name]}" >/dev/null || start_instance "$name" "$inst" "${CHAOS_PROFILE:-debug}"
    done
  done
  if [[ -n ${DRILL_ASYNC:-} ]]; then
    [[ -n $(patroni_leader) ]] && patroni_set_sync on
  fi
}

cmd_drill() {
  local mode=drill rate='' duration='' profile=release stamp results name rc=0 down=
  while (($# > 0)); do
    case $1 in
      --short) mode=drill-short ;;
      --debug) profile=debug ;;
      --down) down=1 ;;
      --rate) rate=${2:?--rate needs a value}; shift ;;
      --rate=*) rate=${1#*=} ;;
      *) die "unknown option for drill: $1 (./dev drill [--rate N] [--short] [--debug] [--down])" ;;
    esac
    shift
  done
  [[ -n $rate ]] || rate=$([[ $mode == drill-short ]] && echo 5 || echo 10)
  [[ $rate =~ ^[0-9]+$ ]] && ((rate > 0)) || die "--rate must be a positive integer"
  duration=$(($(chaos_min_duration "$mode") + 10))

  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  results=$REPO_ROOT/load-tests/results/$stamp-$mode
  [[ -n ${DRILL_RESULTS:-} ]] && results=$DRILL_RESULTS
  mkdir -p "$results"
  echo "./dev drill --rate $rate ($mode schedule, $profile build, synchronous replication)" >"$results/command.txt"
  machine_summary >"$results/machine.txt"
  HA_MODE=1
  ha_infra_up
  stop_instances
  if [[ $profile == release ]]; then build_services --release; else build_services; fi
  ensure_admin_token
  export CHAOS_PROFILE=$profile
  for name in "${SERVICES[@]}"; do
    start_instance "$name" a "$profile"
    start_instance "$name" b "$profile"
  done
  start_prometheus
  wait_instances_ready "$READY_TIMEOUT"
  patroni_set_sync on
  run_chaos "$results" "$mode" "$rate" "$duration" "$profile" || rc=$?
  if [[ $mode == drill ]]; then
    # The same failover with asynchronous replication: what it loses, not a failure of the
    # drill (the verdict says it; docs/ha.md explains it).
    mkdir -p "$results/async"
    echo "./dev drill --rate $rate (asynchronous replication, primary killed with the standby 3 s behind)" >"$results/async/command.txt"
    patroni_set_sync off
    DRILL_ASYNC=1 run_chaos "$results/async" drill-async "$rate" "$(($(chaos_min_duration drill-async) + 10))" "$profile" ||
      info "drill: the asynchronous failover's verdict is in $results/async/verdict.txt (losses there are the point)"
    patroni_set_sync on
  fi
  info "drill: results in $results"
  python3 "$REPO_ROOT/scripts/chaos-table.py" "$results" || true
  [[ -d $results/async ]] && python3 "$REPO_ROOT/scripts/chaos-table.py" "$results/async" || true
  if [[ -n $down ]]; then
    stop_prometheus
    ha_down
  fi
  return "$rc"
}

# ./dev test: the short drill on a second, separate stack (its own .dev directory and ports,
# so that it runs beside a platform already up), stopped again however it ends. Fails on any
# lost acknowledged order, duplicated effect, unexpected order or violated invariant.
ha_drill_smoke() {
  local dir=$DEV_DIR/ha-drill rc=0
  # Ports below 32768, like the first stack's (./dev explains why).
  local shifted=(
    DEV_DIR="$dir" PG_PORT=26432 PG_REPLICA_PORT=26433 AMQP_PORT=26672 RABBITMQ_MGMT_PORT=26673
    ERL_EPMD_PORT=26675 PROMETHEUS_PORT=26690 ETCD_PORT=26780 HA_PG_BASE=26440 HA_RMQ_BASE=26710
    HAPROXY_STATS_PORT=26700 FRONTEND_PORT=9080 ORDER_PORT=9081 INVENTORY_PORT=9082 PAYMENT_PORT=9083
    EMAIL_PORT=9084 ANALYTICS_PORT=9085 DRILL_RESULTS="$dir/results" CHAOS_SETTLE_SECS=60
  )
  info "HA drill (short): Patroni, a RabbitMQ cluster and two instances of each service on ports 26xxx and 9080-9085, state in $dir"
  env "${shifted[@]}" "$REPO_ROOT/dev" drill --short --debug || rc=$?
  env "${shifted[@]}" "$REPO_ROOT/dev" down || rc=1
  return "$rc"
}
