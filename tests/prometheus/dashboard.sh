#!/usr/bin/env bash
# Checks docs/deploy/grafana-dashboard.json against a real Prometheus: fanoutd (default metric
# names) runs under a little traffic (tests/prometheus/traffic.py: WebSocket clients, REST
# publishes, connection churn, refused keys), Prometheus scrapes it every second, and then
# every query of every panel is sent to Prometheus' HTTP API (/api/v1/query) with the
# dashboard's variables substituted:
#   ${port} / $port        -> the public port fanoutd runs on (it is part of the names)
#   $job, $instance        -> .+ (the variables' "All" value)
#   $__rate_interval etc.  -> $RATE_WINDOW (default 10s; 10 scrapes)
# A query fails when its result is empty, or holds nothing but NaN (e.g. a latency quantile
# with no publish in the window). The script names every failing panel and exits 1.
# It also checks that the file is well-formed: unique panel ids, every target with a refId and
# an expression, and no variable left unsubstituted.
# Needs: target/release/fanoutd, prometheus, promtool, curl, jq, python3. Everything listens
# on 127.0.0.1 and is stopped on exit.
set -euo pipefail
# shellcheck source=tests/prometheus/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

BIN=${FANOUTD_BIN:-target/release/fanoutd}
DASHBOARD=${DASHBOARD:-docs/deploy/grafana-dashboard.json}
RATE_WINDOW=${RATE_WINDOW:-10s}
PORT=$(free_port)
MPORT=$(free_port)
PPORT=$(free_port)

echo "== $DASHBOARD: structure"
jq -e . "$DASHBOARD" >/dev/null
dupes=$(jq -r '[.. | objects | select(has("gridPos")) | .id] | group_by(.) | map(select(length > 1) | .[0]) | .[]' "$DASHBOARD")
[ -z "$dupes" ] || { echo "duplicate panel ids: $dupes"; exit 1; }
jq -e '[.. | objects | select(has("targets")) | .targets[] | select((.refId // "") == "" or (.expr // "") == "")] | length == 0' \
  "$DASHBOARD" >/dev/null || { echo "a target without refId or expr"; exit 1; }
# One line per query: panel title, TAB, expression.
jq -r '.. | objects | select(has("targets")) | .title as $t | .targets[] | "\($t)\t\(.expr)"' \
  "$DASHBOARD" >"$DIR/queries.tsv"
panels=$(cut -f1 "$DIR/queries.tsv" | sort -u | wc -l)
echo "$(wc -l <"$DIR/queries.tsv") queries in $panels panels"
# The query variables' label_values(SELECTOR, label): the selector must return series too.
jq -r '.templating.list[] | select(.type == "query") | "variable $\(.name)\t\(.definition)"' "$DASHBOARD" |
  sed -E 's/\tlabel_values\((.*), *[a-zA-Z_]+\)$/\t\1/' >>"$DIR/queries.tsv"

SOKETI_HOST=127.0.0.1 SOKETI_PORT=$PORT SOKETI_METRICS_HOST=127.0.0.1 \
  SOKETI_METRICS_SERVER_PORT=$MPORT SOKETI_METRICS_ENABLED=true "$BIN" >"$DIR/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done

start_prometheus "$MPORT" "$PPORT"

# The traffic outlives the checks (it is stopped on exit).
python3 tests/prometheus/traffic.py "$PORT" 120 8 >"$DIR/traffic.log" 2>&1 &
TRAFFIC=$!
PIDS+=($TRAFFIC)
for _ in $(seq 100); do grep -q ready "$DIR/traffic.log" && break; sleep 0.1; done
grep -q "ready 8" "$DIR/traffic.log" || { cat "$DIR/traffic.log"; echo "traffic did not start"; exit 1; }

# result_state QUERY -> "data", "nan" (only NaN values) or "empty" (or "error: ...").
result_state() {
  curl -s -G "$API/query" --data-urlencode "query=$1" | jq -r '
    if .status != "success" then "error: \(.error)"
    elif (.data.result | length) == 0 then "empty"
    elif all(.data.result[]; .value[1] == "NaN") then "nan"
    else "data" end'
}

echo "== waiting for $RATE_WINDOW of scrapes under traffic"
up=none
for _ in $(seq 150); do
  up=$(curl -s -G "$API/query" --data-urlencode 'query=up{job="fanoutd"}' | jq -r '.data.result[0].value[1] // "none"')
  [ "$up" = 1 ] && break
  sleep 0.2
done
[ "$up" = 1 ] || { curl -s "$API/targets" | jq -c '.data.activeTargets[] | {health,lastError}'; echo "target never up"; exit 1; }
sleep "${RATE_WINDOW%s}"

echo "== every panel query against Prometheus (port=$PORT, rate window $RATE_WINDOW)"
failed=()
while IFS=$'\t' read -r title expr; do
  q=${expr//'${port}'/$PORT}
  q=${q//'$port'/$PORT}
  q=${q//'$job'/.+}
  q=${q//'$instance'/.+}
  for v in '$__rate_interval' '$__interval' '$__range'; do q=${q//"$v"/$RATE_WINDOW}; done
  if [[ $q == *'$'* ]]; then
    echo "FAIL [$title] a variable is left: $q"
    failed+=("$title")
    continue
  fi
  # Rates need two scrapes in the window and the traffic its first ticks: retry for ~15 s.
  state=empty
  for _ in $(seq 30); do
    state=$(result_state "$q")
    [ "$state" = data ] && break
    sleep 0.5
  done
  if [ "$state" = data ]; then
    echo "ok   [$title] $q"
  else
    echo "FAIL [$title] $state: $q"
    failed+=("$title")
  fi
done <"$DIR/queries.tsv"

kill -0 "$TRAFFIC" 2>/dev/null || { cat "$DIR/traffic.log"; echo "the traffic stopped early"; exit 1; }
if [ ${#failed[@]} -gt 0 ]; then
  printf 'panels without data:\n'
  printf '  %s\n' "${failed[@]}" | sort -u
  exit 1
fi
echo "dashboard check passed: $panels panels, every query returns data"
