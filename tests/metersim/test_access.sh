#!/bin/bash
# Access control and brute force against metersim at its defaults (issue 14, points 1
# and 2; see access_clients.py): no write without the password (exception 04, nothing
# changed, nothing logged as a change), also the energy clear exactly as the issue's
# mbpoll did it; one connection's login does not open another; 10 wrong passwords lock
# TCP out (the right one refused, reconnecting does not help), the line (RTU) has its own
# guard and lockout; the lockout ends after 60 s and the next wrong password doubles it;
# a full sweep takes years; an idle connection is closed after 60 s. The lockouts and
# wrong passwords are in the saved event log (dump --events), never a tried value.
# About 70 s: the lockout's end is waited for while the other checks run.
#   test_access.sh METERSIM WORKDIR
set -eu
M=$1 WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK"
for tool in mbpoll socat; do
    command -v $tool >/dev/null 2>&1 || { echo "FAIL: $tool not found: install the Debian package $tool"; exit 1; }
done
PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT_A=$(port) PORT_B=$(port)
MAX=$(sed -n 's/^#define MC_AUTH_LOCKOUT_MAX_S \([0-9]*\)u.*/\1/p' "$HERE/../../include/metercore/mc_registers.h")
[ -n "$MAX" ] || fail "MC_AUTH_LOCKOUT_MAX_S not found in mc_registers.h"

socat pty,raw,echo=0,link="$WORK/pty_s" pty,raw,echo=0,link="$WORK/pty_c" 2>/dev/null &
PIDS="$PIDS $!"
for _ in $(seq 300); do [ -e "$WORK/pty_c" ] && [ -e "$WORK/pty_s" ] && break; sleep 0.1; done
[ -e "$WORK/pty_c" ] || fail "socat did not make the pty pair"
# Not under timeout(1), so that the pids are theirs; ctest's TIMEOUT bounds the script.
"$M" run --load U=230,I=5,PF=1,F=50 --no-dashboard --state "$WORK/a.nvm" --start 2026-03-02T08:00:00 \
    --modbus-tcp "127.0.0.1:$PORT_A" >"$WORK/a.out" 2>"$WORK/a.err" &
A=$!
"$M" run --load U=230,I=5,PF=1,F=50 --no-dashboard --state "$WORK/b.nvm" --start 2026-03-02T08:00:00 \
    --modbus-tcp "127.0.0.1:$PORT_B" --rtu "$WORK/pty_s:9600:N" >"$WORK/b.out" 2>"$WORK/b.err" &
B=$!
PIDS="$PIDS $A $B"
for f in a b; do
    for _ in $(seq 300); do grep -q "^metersim: Modbus TCP on" "$WORK/$f.err" && break; sleep 0.1; done
    grep -q "^metersim: Modbus TCP on" "$WORK/$f.err" || fail "metersim $f did not start: $(cat "$WORK/$f.err")"
done

# The issue's energy clear, as it was done: mbpoll writing 55AAH (21930) to 000CH (-r 13).
out=$(timeout 20 mbpoll -m tcp -p "$PORT_A" -a 1 -r 13 -t 4 -1 -o 5 127.0.0.1 21930 2>&1) &&
    fail "energy cleared without the password: $out"
grep -q "Slave device or server failure" <<<"$out" || fail "mbpoll energy clear: not exception 04: $out"
echo "  ok   mbpoll -r 13 ... 21930 (energy clear) without the password: exception 04"
# The calibration attack of the issue with mbpoll: a voltage gain of 0.5 (1220H, -r 4641).
out=$(timeout 20 mbpoll -m tcp -p "$PORT_A" -a 1 -r 4641 -t 4:float -B -1 -o 5 127.0.0.1 0.5 2>&1) &&
    fail "calibration written without the password: $out"
echo "  ok   mbpoll -r 4641 -t 4:float ... 0.5 (voltage gain) without the password: refused"

timeout 300 "$PY" "$HERE/access_clients.py" "$PORT_A" "$PORT_B" "$WORK/pty_c" "$MAX" || fail "see above"

for p in $A $B; do kill -TERM "$p"; done
wait "$A" || fail "metersim A: exit $? on SIGTERM"
wait "$B" || fail "metersim B: exit $? on SIGTERM"
PIDS="${PIDS% $A $B}"
# The lockouts and wrong passwords are in B's saved log.
timeout 30 "$M" dump --state "$WORK/b.nvm" --events --json >"$WORK/b-events.json"
$PY - "$WORK/b-events.json" <<'PYEOF' || exit 1
import json, sys
evs = json.load(open(sys.argv[1]))["events"]
auth = [e for e in evs if e["type"] == 13]
lock = sorted((e["arg"], e["new"]) for e in auth if e["qty"] == 2)
wrong = [e for e in auth if e["qty"] == 1]
print(f"  saved log: {len(auth)} password events, lockouts (interface, s) {lock}, {len(wrong)} wrong-password events")
assert lock == [(1, 60), (2, 60), (2, 120)], "lockouts: RTU 60 s, TCP 60 s then 120 s expected"
tried = {1234, 2345, 3456, 4567, 5678, 7890, 8901, 9012, 1357, 2468, 9753, 8642, 6666}
assert not [e for e in evs if e["old"] in tried or e["new"] in tried], "a tried password is in the log"
PYEOF
# A restart gives no fresh tries: B's TCP count (11 wrong) comes back from its log, and with
# it a lockout (120 s) that refuses even the right password.
"$M" run --load U=230,I=5,PF=1,F=50 --no-dashboard --state "$WORK/b.nvm" \
    --modbus-tcp "127.0.0.1:$PORT_B" >"$WORK/b2.out" 2>"$WORK/b2.err" &
B=$!
PIDS="$PIDS $B"
for _ in $(seq 300); do grep -q "^metersim: Modbus TCP on" "$WORK/b2.err" && break; sleep 0.1; done
grep -q "^metersim: Modbus TCP on" "$WORK/b2.err" || fail "metersim b did not restart: $(cat "$WORK/b2.err")"
out=$(timeout 20 mbpoll -m tcp -p "$PORT_B" -a 1 -r 1 -t 4 -1 -o 5 127.0.0.1 6666 9 2>&1) &&
    fail "the right password was taken right after a restart of a locked-out meter: $out"
grep -q "Slave device or server failure" <<<"$out" || fail "login after the restart: not exception 04: $out"
echo "  ok   after a restart the TCP lockout is back: the right password refused (04)"
kill -TERM "$B"
wait "$B" || fail "metersim b (restarted): exit $? on SIGTERM"
PIDS="${PIDS% $B}"
echo "metersim access: all passed"
