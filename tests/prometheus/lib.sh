# Shared by the Prometheus checks (sourced after `set -euo pipefail`).

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A scratch directory and the processes to stop, both cleaned up on exit.
DIR=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

# Start a real Prometheus scraping 127.0.0.1:$1 every second,
# its data and config under $DIR, listening on 127.0.0.1:$2; its pid joins PIDS; sets API.
start_prometheus() {
  local mport=$1 pport=$2
  cat >"$DIR/prometheus.yml" <<YML
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: fanoutd
    metrics_path: /metrics
    static_configs: [{targets: ['127.0.0.1:$mport']}]
YML
  promtool check config "$DIR/prometheus.yml" >/dev/null
  prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
    --web.listen-address="127.0.0.1:$pport" >"$DIR/prometheus.log" 2>&1 &
  PIDS+=($!)
  API="http://127.0.0.1:$pport/api/v1"
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null && break; sleep 0.1; done
}
