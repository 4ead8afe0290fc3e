#!/usr/bin/env bash
# The load measurements behind PERF.md, reproducible from a checkout.
#
# Each scenario runs the server (fanoutd) and then the floor (fanoutd-floor: the same syscalls
# and nothing else) in the same session, pinned to the cores in SERVER_CPUS, and drives both
# with the load generator (fanoutd-load) pinned to LOAD_CPUS, so every figure has its floor
# beside it. The two tools are the workspace member in benches/load/; the workspace shares one
# target directory, so all three binaries land in target/release/. Loopback only; every
# program stops by itself. Under $OUT, each fanoutd-load run leaves <run>.out (its last line
# is the JSON report) and <run>.err, the server and the floor leave <scenario>.fanoutd.log
# and <scenario>.fanoutd-floor.log, and `benches/perf.sh summary` prints the figures PERF.md
# quotes.
#
#   benches/perf.sh [scenario ...]      default: all of them, in this order
#     idle          19,000 idle subscribed connections: RSS and CPU per connection, and the
#                   /metrics scrape latency at 0 and at 19,000 connections (same server)
#     fanout        2,000 subscribers of one channel, 20 publishes/s of 100 B: CPU per
#                   delivery and end-to-end latency
#     saturate      the same subscribers, publishes as fast as they are answered
#     rest          signed REST publishes: keep-alive, and a new connection per publish
#     client-events 250 private-channel pairs, 25,000 client events/s in total
#     summary       print the figures of the runs in $OUT
#
# Settings (environment): SERVER_CPUS (0), FLOOR_CPUS (SERVER_CPUS: the floor is one thread,
# so e.g. SERVER_CPUS=0-1 FLOOR_CPUS=0 sets the two-core server against the one-core floor),
# LOAD_CPUS (1), REACTORS (2), IDLE_CONNS (19000), OUT (target/perf/<commit>).
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER_CPUS=${SERVER_CPUS:-0}
FLOOR_CPUS=${FLOOR_CPUS:-$SERVER_CPUS}
LOAD_CPUS=${LOAD_CPUS:-1}
REACTORS=${REACTORS:-2}
IDLE_CONNS=${IDLE_CONNS:-19000}
OUT=${OUT:-target/perf/$(git rev-parse --short HEAD)}
BIN=target/release
PORT=6001
METRICS_PORT=9601
FLOOR_SEND_PORT=16201
FLOOR_HTTP_PORT=16202
FLOOR_IDLE_PORT=16203

mkdir -p "$OUT"
children=()
cleanup() {
  for p in "${children[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

wait_port() {
  for _ in $(seq 400); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "port $1 never opened" >&2
  return 1
}

# start_server NAME [VAR=VALUE ...]: fanoutd with metrics on, pinned to SERVER_CPUS; sets $server.
start_server() {
  local name=$1
  shift
  env SOKETI_METRICS_ENABLED=true FANOUTD_REACTORS="$REACTORS" "$@" \
    taskset -c "$SERVER_CPUS" "$BIN/fanoutd" >"$OUT/$name.fanoutd.log" 2>&1 &
  server=$!
  children+=("$server")
  wait_port "$PORT"
  sleep 0.5
}

# start_floor NAME PORT MODE [flags]: fanoutd-floor pinned to FLOOR_CPUS; sets $floor.
start_floor() {
  local name=$1 port=$2
  shift 2
  taskset -c "$FLOOR_CPUS" "$BIN/fanoutd-floor" "$@" --port "$port" \
    >"$OUT/$name.fanoutd-floor.log" 2>&1 &
  floor=$!
  children+=("$floor")
  wait_port "$port"
}

stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# load NAME MODE [flags]: fanoutd-load pinned to LOAD_CPUS, in the foreground.
load() {
  local name=$1
  shift
  log "$name: fanoutd-load $*"
  taskset -c "$LOAD_CPUS" "$BIN/fanoutd-load" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
  grep -v '^{' "$OUT/$name.out" >&2 || true
}

# Waits until fanoutd-load's output file shows the connections are up.
wait_connected() {
  for _ in $(seq 1200); do
    grep -q '^connected:' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no 'connected:' line in $1" >&2
  return 1
}

scenario_idle() {
  # Server: scrape with no connections, then with IDLE_CONNS held, in one process.
  start_server idle
  load idle.scrape-0 scrape --url "http://127.0.0.1:$METRICS_PORT/metrics" \
    --count 2000 --interval-ms 5 --server-pid "$server"
  log "idle: fanoutd-load idle --conns $IDLE_CONNS (background)"
  taskset -c "$LOAD_CPUS" "$BIN/fanoutd-load" idle --port "$PORT" --conns "$IDLE_CONNS" \
    --channels 100 --hold 40 --settle 2 --server-pid "$server" \
    >"$OUT/idle.out.partial" 2>"$OUT/idle.err" &
  local idle=$!
  children+=("$idle")
  wait_connected "$OUT/idle.out.partial"
  sleep 3
  load "idle.scrape-$IDLE_CONNS" scrape --url "http://127.0.0.1:$METRICS_PORT/metrics" \
    --count 2000 --interval-ms 5 --server-pid "$server"
  wait "$idle"
  mv "$OUT/idle.out.partial" "$OUT/idle.out"
  grep -v '^{' "$OUT/idle.out" >&2 || true
  stop "$server"

  # Floor: the same connections, handshakes and subscribes, to a program that answers them
  # with fixed frames and keeps only the fd.
  start_floor idle "$FLOOR_IDLE_PORT" idle --duration 240
  load idle.floor idle --floor --port "$FLOOR_IDLE_PORT" --conns "$IDLE_CONNS" --channels 100 \
    --hold 10 --settle 2 --server-pid "$floor"
  stop "$floor"
}

scenario_fanout() {
  start_server fanout
  load fanout fanout --port "$PORT" --subs 2000 --channels 1 --rate 20 --payload 100 \
    --duration 30 --publishers 1 --server-pid "$server"
  stop "$server"
  start_floor fanout "$FLOOR_SEND_PORT" send --conns 2000 --rate 20 --payload 100 --duration 30
  load fanout.floor fanout --floor --port "$FLOOR_SEND_PORT" --subs 2000 --duration 60 \
    --server-pid "$floor"
  stop "$floor"
}

scenario_saturate() {
  start_server saturate
  load saturate fanout --port "$PORT" --subs 2000 --channels 1 --rate 0 --payload 100 \
    --duration 20 --publishers 4 --drain 5 --server-pid "$server"
  stop "$server"
  # The floor at a rate its core cannot keep up with: one write per frame, then 4 per write.
  for batch in 1 4; do
    start_floor "saturate-batch$batch" "$FLOOR_SEND_PORT" send --conns 2000 --rate 1000 \
      --payload 100 --duration 20 --batch "$batch"
    load "saturate.floor-batch$batch" fanout --floor --port "$FLOOR_SEND_PORT" --subs 2000 \
      --duration 40 --server-pid "$floor"
    stop "$floor"
  done
}

scenario_rest() {
  start_server rest
  load rest.keepalive rest --port "$PORT" --conns 8 --duration 15 --server-pid "$server"
  load rest.newconn rest --port "$PORT" --conns 8 --new-conn --duration 15 --server-pid "$server"
  stop "$server"
  start_floor rest "$FLOOR_HTTP_PORT" http --duration 60
  load rest.floor-keepalive rest --port "$FLOOR_HTTP_PORT" --conns 8 --duration 15 \
    --server-pid "$floor"
  load rest.floor-newconn rest --port "$FLOOR_HTTP_PORT" --conns 8 --new-conn --duration 15 \
    --server-pid "$floor"
  stop "$floor"
}

scenario_client_events() {
  start_server client-events SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true
  load client-events client-events --port "$PORT" --pairs 250 --rate 25000 --payload 100 \
    --duration 20 --server-pid "$server"
  stop "$server"
}

# The figures PERF.md quotes, from the JSON reports in $OUT.
summary() {
  python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def report(name):
    path = os.path.join(out, name + ".out")
    if not os.path.exists(path):
        return None
    lines = [l for l in open(path) if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None
def show(name, *keys):
    r = report(name)
    if r is None:
        return
    vals = []
    for k in keys:
        v = r
        for part in k.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        vals.append(f"{k}={v}")
    print(f"{name}: " + "  ".join(vals))
for n in sorted(f[:-4] for f in os.listdir(out) if f.endswith(".out")):
    r = report(n)
    if r is None:
        continue
    mode = r.get("mode")
    if mode == "idle":
        show(n, "ready", "ready_at_end", "server_rss_bytes_per_conn_after_hold",
             "server_rss_anon_bytes_per_conn_after_hold", "server_connect.cpu_us_per_connection",
             "kernel_slab_bytes_per_conn_both_ends")
    elif mode == "fanout":
        show(n, "ready", "expected", "received", "lost", "deliveries_per_s",
             "server.cpu_us_per_delivery", "latency.p50_us", "latency.p99_us", "latency.p999_us",
             "load_generator.cpu_share_of_one_core")
    elif mode == "rest":
        show(n, "ok", "failed", "publishes_per_s", "server.cpu_us_per_publish",
             "response_latency.p50_us", "response_latency.p99_us",
             "load_generator.cpu_share_of_one_core")
    elif mode == "client-events":
        show(n, "ready_pairs", "sent", "received", "lost", "deliveries_per_s",
             "server.cpu_us_per_delivery", "latency.p50_us",
             "latency.p99_us", "latency.p999_us", "load_generator.cpu_share_of_one_core")
    elif mode == "scrape":
        show(n, "ok", "errors", "latency.p50_us", "latency.p99_us", "latency.max_us",
             "body_bytes_last", "server.cpu_us_per_scrape")
    else:
        print(f"{n}: {json.dumps(r)[:300]}")
PY
}

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(idle fanout saturate rest client-events summary)
if [[ " ${scenarios[*]} " != " summary " ]]; then
  cargo build --release --workspace --bins -q
  {
    echo "commit $(git rev-parse HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
    echo "date $(date -u +%FT%TZ)"
    echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "nproc $(nproc)  kernel $(uname -r)"
    echo "SERVER_CPUS=$SERVER_CPUS FLOOR_CPUS=$FLOOR_CPUS LOAD_CPUS=$LOAD_CPUS REACTORS=$REACTORS IDLE_CONNS=$IDLE_CONNS"
  } >>"$OUT/session.txt"
fi
for s in "${scenarios[@]}"; do
  case "$s" in
    idle) scenario_idle ;;
    fanout) scenario_fanout ;;
    saturate) scenario_saturate ;;
    rest) scenario_rest ;;
    client-events) scenario_client_events ;;
    summary) summary ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done
