#!/usr/bin/env bash
# Real-client compatibility suite for fanoutd: pusher-js (WebSocket) and pusher-http-node (REST)
# against a fanoutd binary that this script does not build.
#
#   FANOUTD_BIN=/path/to/fanoutd tests/compat/run.sh
#
# FANOUTD_BIN defaults to ../../target/release/fanoutd relative to this script (so run
# `cargo build --release` first). Needs Node 20+ and npm; runs `npm ci` when node_modules is
# missing. Each test file starts its own server(s) on free 127.0.0.1 ports.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${FANOUTD_BIN:-$here/../../target/release/fanoutd}"
# Absolute, so that the test processes find it whatever their working directory.
case "$bin" in
  /*) ;;
  *) bin="$PWD/$bin" ;;
esac
if [ ! -x "$bin" ]; then
  echo "run.sh: fanoutd binary not found or not executable: $bin" >&2
  echo "run.sh: build it with 'cargo build --release' or set FANOUTD_BIN" >&2
  exit 2
fi
export FANOUTD_BIN="$bin"

cd "$here"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi

status=0
node --test --test-concurrency=1 test/ || status=$?
exit "$status"
