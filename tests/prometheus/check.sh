#!/usr/bin/env bash
# Checks the metrics with the real Prometheus tools:
#  (a) a scrape of a server carrying live connections through `promtool check metrics`
#      (exit 1 is a parse error and fails; exit 3 — naming warnings for soketi's historical
#      counter names without _total — is expected), and the same for a second server with
#      soketi 1.x names (METRICS_PROMETHEUS_PORT_IN_NAME=false), whose soketi process families
#      must all be there with the port label;
#  (b) a real Prometheus on 127.0.0.1 scraping the server every second: the target must be
#      up and soketi_<port>_connected must equal the number of open test connections.
# Needs: target/release/fanoutd, promtool and prometheus (Debian's `prometheus`), curl, jq,
# python3. Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
# shellcheck source=tests/prometheus/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

BIN=${FANOUTD_BIN:-target/release/fanoutd}
CONNS=${CONNS:-7}
port_free() { python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$1))" 2>/dev/null; }
# soketi's docs name soketi_6001_connected: use 6001 when it is free.
PORT=${PUBLIC_PORT:-6001}
port_free "$PORT" || PORT=$(free_port)
MPORT=$(free_port)
PPORT=$(free_port)

SOKETI_HOST=127.0.0.1 SOKETI_PORT=$PORT SOKETI_METRICS_HOST=127.0.0.1 \
  SOKETI_METRICS_SERVER_PORT=$MPORT SOKETI_METRICS_ENABLED=true "$BIN" >"$DIR/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done

python3 tests/prometheus/hold_connections.py "$PORT" "$CONNS" 60 >"$DIR/hold.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$DIR/hold.log" && break; sleep 0.1; done
grep -q "ready $CONNS" "$DIR/hold.log" || { cat "$DIR/hold.log"; echo "could not open $CONNS connections"; exit 1; }

# promtool_check FILE: exit 1 is a parse error; 3 is allowed for soketi's names only.
promtool_check() {
  set +e
  promtool check metrics <"$1" >"$DIR/promtool.out" 2>&1
  rc=$?
  set -e
  cat "$DIR/promtool.out"
  case $rc in
    0) echo "promtool: clean" ;;
    3) echo "promtool: lint warnings only (expected: soketi's counter names without _total)"
       if grep -v '_total" suffix' "$DIR/promtool.out" | grep -q .; then
         echo "unexpected lint problems"; exit 1
       fi ;;
    *) echo "promtool: parse error (rc=$rc)"; exit 1 ;;
  esac
}

echo "== promtool check metrics (live scrape, $CONNS connections)"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$DIR/body.prom"
promtool_check "$DIR/body.prom"

echo "== promtool check metrics, soketi 1.x names (with soketi's process families)"
PPORT2=$(free_port)
MPORT2=$(free_port)
SOKETI_HOST=127.0.0.1 SOKETI_PORT=$PPORT2 SOKETI_METRICS_HOST=127.0.0.1 \
  SOKETI_METRICS_SERVER_PORT=$MPORT2 SOKETI_METRICS_ENABLED=true \
  METRICS_PROMETHEUS_PORT_IN_NAME=false "$BIN" >"$DIR/server2.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$MPORT2/metrics" >"$DIR/plain.prom" && break; sleep 0.1; done
promtool_check "$DIR/plain.prom"
for fam in cpu_user_seconds_total cpu_system_seconds_total cpu_seconds_total start_time_seconds \
  resident_memory_bytes virtual_memory_bytes heap_bytes open_fds max_fds; do
  grep -q "^soketi_process_${fam}{port=\"$PPORT2\"} " "$DIR/plain.prom" ||
    { echo "soketi_process_${fam}{port=\"$PPORT2\"} missing"; exit 1; }
done
echo "soketi's 9 process families present with the port label"

echo "== a real Prometheus scraping 127.0.0.1:$MPORT every second"
start_prometheus "$MPORT" "$PPORT"
query() { curl -s -G "$API/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // "none"'; }
up=none; connected=none
for _ in $(seq 150); do
  up=$(query 'up{job="fanoutd"}')
  connected=$(query "sum(soketi_${PORT}_connected)")
  [ "$up" = 1 ] && [ "$connected" = "$CONNS" ] && break
  sleep 0.2
done
curl -s "$API/targets?state=active" | jq -c '.data.activeTargets[] | {scrapeUrl,health,lastError}'
echo "up=$up soketi_${PORT}_connected=$connected (expected 1 and $CONNS)"
[ "$up" = 1 ] && [ "$connected" = "$CONNS" ]
echo "prometheus checks passed"
