#!/usr/bin/env bash
# Checks docs/deploy/fanoutd.service with `systemd-analyze verify` (no running systemd needed;
# nothing is started). verify insists that ExecStart's binary exists, so a copy of the unit
# whose ExecStart names the built binary is checked; everything else is the shipped file.
# Any complaint about the unit fails the check: verify itself exits 0 on unknown keys and
# unparsable values ("ignoring"), so its output is read too.
# Needs: systemd-analyze (Debian's `systemd` package), target/release/fanoutd.
set -euo pipefail
cd "$(dirname "$0")/../.."

UNIT=docs/deploy/fanoutd.service
BIN=$(realpath "${FANOUTD_BIN:-target/release/fanoutd}")
[ -x "$BIN" ] || { echo "no fanoutd binary at $BIN (cargo build --release)"; exit 1; }
grep -qx 'ExecStart=/usr/local/bin/fanoutd' "$UNIT" || { echo "$UNIT: ExecStart is not /usr/local/bin/fanoutd"; exit 1; }
# The promises the README makes about the unit.
for line in 'Restart=on-failure' 'KillSignal=SIGTERM' 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
  'EnvironmentFile=-/etc/fanoutd/env'; do
  grep -qx "$line" "$UNIT" || { echo "$UNIT: missing $line"; exit 1; }
done
nofile=$(sed -n 's/^LimitNOFILE=//p' "$UNIT")
[ "${nofile:-0}" -ge 100000 ] || { echo "$UNIT: LimitNOFILE=$nofile is below 100000"; exit 1; }
# TimeoutStopSec must exceed the default shutdown grace period (3000 ms).
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$UNIT")
[ "${stop:-0}" -gt 3 ] || { echo "$UNIT: TimeoutStopSec must be above the 3 s grace period"; exit 1; }

DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
sed "s#^ExecStart=/usr/local/bin/fanoutd#ExecStart=$BIN#" "$UNIT" >"$DIR/fanoutd.service"
set +e
systemd-analyze verify "$DIR/fanoutd.service" >"$DIR/out" 2>&1
rc=$?
set -e
cat "$DIR/out"
if [ $rc -ne 0 ] || grep -q 'fanoutd.service' "$DIR/out"; then
  echo "systemd-analyze verify: $UNIT has problems (rc=$rc)"
  exit 1
fi
echo "systemd-analyze verify: $UNIT is clean"
