#!/usr/bin/env bash
# `make cluster` / `make cluster-down`: the registry on more than one machine, on this one.
#
#   balancer (HAProxy, 127.0.0.1:$CLUSTER_PORT)  ->  registry node-1, node-2 (serve --demo)
#   pg_auto_failover: monitor, and two PostgreSQL nodes (primary + synchronous standby)
#
# Everything lives under $CLUSTER_DIR (default .cluster): data folders, sockets, logs, pid files,
# the shared keys file. Ports: monitor P+10, PostgreSQL P+11 and P+12, registry nodes P+1 and P+2,
# balancer P (P = $CLUSTER_PORT, default 8090). Authentication is `trust` on loopback: a local
# cluster for trying failover, not a production set-up (README, "Running more than one node").
#
#   scripts/cluster.sh up [REGISTRY_BINARY]   start what is not running
#   scripts/cluster.sh down                   stop everything it started
#   scripts/cluster.sh status                 the formation's state and the nodes
#   scripts/cluster.sh url                    the multi-host DATABASE_URL
#   scripts/cluster.sh restart-node NODE      start node1's or node2's keeper again after a crash
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${CLUSTER_DIR:-.cluster}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
P=${CLUSTER_PORT:-8090}
MONITOR_PORT=$((P + 10))
PG_PORTS=($((P + 11)) $((P + 12)))
NODE_PORTS=($((P + 1)) $((P + 2)))
DEMO_PASSWORD=${REGISTRY_DEMO_PASSWORD:-cluster demo password}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
export PATH="$PGBIN:$PATH"

as_postgres() {
    local env=(env "PATH=$PATH" "XDG_CONFIG_HOME=$DIR/xdg/config" "XDG_DATA_HOME=$DIR/xdg/data" "XDG_RUNTIME_DIR=$DIR/xdg/run"
        "PGHOST=$DIR/sock")
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "${env[@]}" "$@"
    else
        "${env[@]}" "$@"
    fi
}

database_url() {
    echo "postgres://postgres@localhost:${PG_PORTS[0]},localhost:${PG_PORTS[1]}/registry?target_session_attrs=read-write"
}

monitor_uri() {
    echo "postgres://autoctl_node@localhost:$MONITOR_PORT/pg_auto_failover?sslmode=disable"
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Starts `pg_autoctl run` for one data folder in the background (its own process group).
run_keeper() {
    local name=$1
    alive "$DIR/run/$name.pid" && return 0
    as_postgres setsid pg_autoctl run --pgdata "$DIR/$name" >>"$DIR/log/$name.log" 2>&1 &
    echo $! >"$DIR/run/$name.pid"
}

# initdb a data folder ourselves, so that its socket goes into our folder, not /var/run.
init_folder() {
    local name=$1
    [[ -d "$DIR/$name" ]] && return 0
    as_postgres initdb -D "$DIR/$name" -U postgres --auth=trust >>"$DIR/log/$name.log" 2>&1
    echo "unix_socket_directories = '$DIR/sock'" >>"$DIR/$name/postgresql.conf"
}

wait_for() { # seconds, description, command...
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS > deadline)); then
            echo "cluster: $what did not happen within ${seconds}s (logs in $DIR/log)" >&2
            exit 1
        fi
        sleep 0.5
    done
}

# The formation's reported states, "name state" per line.
states() {
    as_postgres pg_autoctl show state --pgdata "$DIR/monitor" 2>/dev/null |
        awk -F'|' 'NR > 2 { gsub(/ /, "", $1); gsub(/ /, "", $6); gsub(/ /, "", $7); if ($6 == $7) print $1, $6 }'
}

state_is() { # node-name, state (reported and assigned)
    states | grep -qx "$1 $2"
}

# One primary and one synchronous standby, whichever is which.
formation_ready() {
    local now
    now=$(states)
    grep -q " primary$" <<<"$now" && grep -q " secondary$" <<<"$now"
}

created() { [[ -f "$DIR/xdg/config/pg_autoctl$DIR/$1/pg_autoctl.cfg" ]]; }

monitor_sql() { # one statement per argument, each in its own transaction
    local args=() sql
    for sql in "$@"; do args+=(-c "$sql"); done
    as_postgres psql -X -q -At -h "$DIR/sock" -p "$MONITOR_PORT" -U postgres -d pg_auto_failover "${args[@]}"
}

up() {
    local binary=${1:-.build/debug/registry}
    [[ -x "$binary" ]] || { echo "cluster: $binary not found (swift build first)" >&2; exit 1; }
    binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
    mkdir -p "$DIR"/{xdg/config,xdg/data,xdg/run,sock,log,run}
    chmod 700 "$DIR/xdg/run"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R postgres:postgres "$DIR/xdg" "$DIR/sock" "$DIR/log"
        chown postgres:postgres "$DIR"
        runuser -u postgres -- test -w "$DIR" || { echo "cluster: the postgres user cannot write $DIR; set CLUSTER_DIR" >&2; exit 1; }
    fi

    # The monitor: pg_auto_failover's own PostgreSQL, which watches the nodes and decides failovers.
    if ! created monitor; then
        init_folder monitor
        as_postgres pg_autoctl create monitor --pgdata "$DIR/monitor" --pgport "$MONITOR_PORT" --hostname localhost \
            --listen localhost --auth trust --no-ssl >>"$DIR/log/monitor.log" 2>&1
    fi
    run_keeper monitor
    wait_for 60 "the monitor starting" monitor_sql "SELECT 1"
    # Failover in seconds, not a minute: check health every second, call a node unhealthy after
    # two, demote a primary that lost the monitor after three (FIELD-NOTES: ~8 s in all).
    monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" \
        "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" \
        "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" \
        "ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1" \
        "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 2000" \
        "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 3000" \
        "SELECT pg_reload_conf()" >/dev/null

    # Two PostgreSQL nodes: the first becomes the primary, the second is copied from it and
    # follows as a synchronous standby.
    local i
    for i in 1 2; do
        local name="node$i" port=${PG_PORTS[$((i - 1))]}
        if ! created "$name"; then
            [[ $i -eq 1 ]] && init_folder "$name"
            as_postgres pg_autoctl create postgres --pgdata "$DIR/$name" --pgport "$port" --hostname localhost --name "$name" \
                --listen localhost --auth trust --no-ssl --dbname registry --monitor "$(monitor_uri)" >>"$DIR/log/$name.log" 2>&1
            as_postgres pg_autoctl config set --pgdata "$DIR/$name" timeout.network_partition_timeout 3 >/dev/null
            run_keeper "$name"
            [[ $i -eq 1 ]] && wait_for 90 "node1 becoming the primary" state_is node1 single
        else
            run_keeper "$name"
        fi
    done
    # After a failover either node may be the primary.
    wait_for 120 "a primary with a synchronous standby" formation_ready

    # The service: migrate once (which also writes the shared keys file), then two nodes, one
    # after the other so that only the first loads the demo data.
    export DATABASE_URL; DATABASE_URL=$(database_url)
    export REGISTRY_DB_APP_PASSWORD=${REGISTRY_DB_APP_PASSWORD:-cluster app password}
    export REGISTRY_KEYS_FILE="$DIR/keys/keys.json" REGISTRY_DEMO_PASSWORD="$DEMO_PASSWORD" REGISTRY_TRUSTED_PROXIES=127.0.0.1
    mkdir -p "$DIR/keys"
    for i in 1 2; do
        local port=${NODE_PORTS[$((i - 1))]}
        alive "$DIR/run/registry-$i.pid" && continue
        REGISTRY_DATA_DIR="$DIR/registry-$i" REGISTRY_NODE_ID="node-$i" PORT=$port \
            setsid "$binary" serve --demo >>"$DIR/log/registry-$i.log" 2>&1 &
        echo $! >"$DIR/run/registry-$i.pid"
        wait_for 180 "registry node-$i answering on $port" curl -fsS "http://127.0.0.1:$port/health/ready"
    done

    # The balancer: round robin over the nodes that answer /health/ready; a request whose
    # connection to a node fails is sent to the other (it never reached the first). A request
    # already sent is never sent again: it may have been saved.
    # What the balancer answers when no node can (none up, or the node died under the request):
    # the registry's own 503 shape, with Retry-After; a write may or may not have been saved.
    printf '%s\r\n' "HTTP/1.1 503 Service Unavailable" "Content-Type: application/json" "Retry-After: 5" \
        "Cache-Control: no-store" "Connection: close" "" \
        '{"error":{"code":"node_unavailable","message":"The registry node handling this request stopped. A change may or may not have been saved: check before sending it again."}}' \
        >"$DIR/503.http"
    cat >"$DIR/haproxy.cfg" <<EOF
global
    pidfile $DIR/run/haproxy.pid
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
    retry-on conn-failure
    option forwardfor
    errorfile 502 $DIR/503.http
    errorfile 503 $DIR/503.http
    errorfile 504 $DIR/503.http
frontend registry
    bind 127.0.0.1:$P
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /health/ready
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
    server node-1 127.0.0.1:${NODE_PORTS[0]} check
    server node-2 127.0.0.1:${NODE_PORTS[1]} check
EOF
    if ! alive "$DIR/run/haproxy.pid"; then
        haproxy -f "$DIR/haproxy.cfg" -D >>"$DIR/log/haproxy.log" 2>&1
    fi
    wait_for 30 "the balancer answering on $P" curl -fsS "http://127.0.0.1:$P/health/ready"
    echo "cluster up: http://127.0.0.1:$P/ (demo administrator password: $DEMO_PASSWORD)"
    echo "  DATABASE_URL=$(database_url)"
    echo "  state: scripts/cluster.sh status; logs: $DIR/log; stop: make cluster-down"
}

stop_pid() { # pid file, signal
    local file=$1 signal=${2:-TERM}
    if alive "$file"; then
        local pid
        pid=$(cat "$file")
        kill "-$signal" "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

down() {
    [[ -d "$DIR/run" ]] || { echo "cluster: nothing running under $DIR"; return 0; }
    stop_pid "$DIR/run/haproxy.pid"
    stop_pid "$DIR/run/registry-2.pid"
    stop_pid "$DIR/run/registry-1.pid"
    local name
    for name in node2 node1 monitor; do
        [[ -d "$DIR/$name" ]] && as_postgres pg_autoctl stop --pgdata "$DIR/$name" >/dev/null 2>&1 || true
        stop_pid "$DIR/run/$name.pid"
        # A keeper killed -9 leaves its postgres behind: stop that too.
        [[ -f "$DIR/$name/postmaster.pid" ]] && as_postgres pg_ctl -D "$DIR/$name" -m fast -w stop >/dev/null 2>&1 || true
    done
    echo "cluster stopped (data kept in $DIR; remove the folder to start afresh)"
}

restart_node() { # node1 | node2: start a PostgreSQL node's keeper again (after a crash)
    local name=$1
    [[ $name == node1 || $name == node2 ]] || { echo "cluster: restart-node node1|node2" >&2; exit 2; }
    rm -f "$DIR/run/$name.pid"
    run_keeper "$name"
}

status() {
    as_postgres pg_autoctl show state --pgdata "$DIR/monitor"
    curl -fsS "http://127.0.0.1:$P/health/ready" && echo
}

case "${1:-}" in
up) shift; up "$@" ;;
down) down ;;
status) status ;;
url) database_url ;;
restart-node) restart_node "${2:-}" ;;
*) echo "usage: scripts/cluster.sh up [binary] | down | status | url | restart-node node1|node2" >&2; exit 2 ;;
esac
