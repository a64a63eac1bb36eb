#!/bin/bash
# Acknowledged means durable, demand survives (issue 14, points 4 and 5): writes killed
# with SIGKILL right after their acknowledgement (parameters, a tariff profile, the seal,
# an energy clear) are in the state file and in its event log after the restart, agreeing;
# the seal holds (calibration refused) until --cal-switch; maximum demand (1032H) and the
# running demand (1030H) survive a clean stop and a SIGKILL. See durable_clients.py.
#   test_durable.sh METERSIM WORKDIR
set -eu
M=$1 WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK"; mkdir -p "$WORK"
timeout 600 /usr/bin/python3 "$HERE/durable_clients.py" "$M" "$WORK" || { echo "FAIL: see above"; tail -20 "$WORK/run.log"; exit 1; }
echo "metersim durable: all passed"
