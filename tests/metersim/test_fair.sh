#!/bin/bash
# A fair Modbus TCP server (issue 14, "one client can stop the meter"): metersim at
# --speed 600 with its default limits, attacked by tests/metersim/fair_clients.py:
# a pipelining flood must not stall the simulated clock (>= 50 % of its rate without
# the flood), 32 idle connections do not lock a new client out (the oldest idle one is
# dropped), a client trickling 1 byte/s is closed after the 5 s request timeout, and
# under connection churn no connect waits for a SYN retransmission. Then the run ends
# with SIGTERM and its final JSON object counts what the server closed and why.
#   test_fair.sh METERSIM WORKDIR
set -eu
M=$1 WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK"
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Not under timeout(1): its pid is the one the clients check and the trap kills; ctest's
# TIMEOUT bounds the script.
"$M" run --load U=230,I=5,PF=1,F=50 --speed 600 --json --state "$WORK/fair.nvm" \
    --start 2026-03-02T08:00:00 --modbus-tcp "127.0.0.1:$PORT" >"$WORK/run.json" 2>"$WORK/run.err" &
PID=$!
for _ in $(seq 300); do grep -q "^metersim: Modbus TCP on" "$WORK/run.err" && break; sleep 0.1; done
grep -q "^metersim: Modbus TCP on" "$WORK/run.err" || fail "metersim did not start: $(cat "$WORK/run.err")"

timeout 400 "$PY" "$HERE/fair_clients.py" "$PORT" "$WORK/run.json" "$PID" || fail "fair server"

kill -TERM "$PID"
wait "$PID" || fail "metersim exit status $? on SIGTERM: $(cat "$WORK/run.err")"
PID=""
$PY - "$WORK/run.json" <<'PYEOF' || exit 1
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
keys = ("tcp_accepted", "tcp_refused", "tcp_evicted", "tcp_idle_timeouts", "tcp_request_timeouts", "tcp_deferred")
print("  final JSON: " + ", ".join(f"{k} {last.get(k)}" for k in keys))
assert last.get("final") is True, "no final object"
assert last["tcp_evicted"] >= 2, "evictions not counted (32 idle, 32 slow connections)"
assert last["tcp_request_timeouts"] >= 1, "slow clients' request timeouts not counted"
assert last["tcp_deferred"] >= 1, "the flood never exceeded its per-poll share?"
PYEOF
echo "metersim fair: all passed"
