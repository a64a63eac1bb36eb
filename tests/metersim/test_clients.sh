#!/bin/bash
# metersim served to real clients, and a cut from nowhere:
# - mbpoll over Modbus TCP reads U, I, P, Q, S, PF, F of the running load (230 V, 5 A,
#   PF 0.5L, 50 Hz) within 0.5 %, and active import energy grows between two reads;
# - mbpoll over RTU through a socat pty pair reads the same, and exception 02 on an
#   unmapped register;
# - python3-pymodbus writes a parameter (pulse constant 1002H): refused (04) without the
#   password, written after the password (0000H = 6666) on the same connection, read back;
# - kill -9 in the middle of a run, restart on the same state file: the restored active
#   import energy is within one save quantum (10 Wh) plus one second of display lag of the
#   last value shown, and never above what the meter had counted.
#   test_clients.sh METERSIM WORKDIR
set -eu
M=$1 WORK=$2
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK"
for tool in mbpoll socat; do
    command -v $tool >/dev/null 2>&1 || { echo "FAIL: $tool not found: install the Debian package $tool"; exit 1; }
done
$PY -c 'import pymodbus' 2>/dev/null || { echo "FAIL: pymodbus not found: install the Debian package python3-pymodbus"; exit 1; }
PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fail() { echo "FAIL: $*"; exit 1; }

# --- a running meter, TCP and RTU ---------------------------------------------
# Background processes are started directly (not under timeout(1)), so that their PIDs are
# theirs: the trap kills them, and ctest's TIMEOUT bounds the whole script.
socat pty,raw,echo=0,link="$WORK/pty_s" pty,raw,echo=0,link="$WORK/pty_c" 2>/dev/null &
PIDS="$PIDS $!"
for _ in $(seq 50); do [ -e "$WORK/pty_c" ] && break; sleep 0.1; done
"$M" run --load U=230,I=5,PF=0.5L,F=50 --speed 1 --no-dashboard --state "$WORK/c.nvm" \
    --start 2026-03-02T08:00:00 --modbus-tcp 127.0.0.1:$PORT --rtu "$WORK/pty_s:9600:N" >"$WORK/run.txt" 2>&1 &
PIDS="$PIDS $!"
sleep 3.5 # the first windows close

check_floats() { # check_floats "<mbpoll output>" "<what>"
    "$PY" - "$2" "$1" <<'PYEOF'
import re, sys
what, out = sys.argv[1], sys.argv[2]
vals = {int(a): float(b) for a, b in re.findall(r'^\[(\d+)\]:\s+(\S+)', out, re.M)}
want = {49: ('U', 230.0), 51: ('I', 5.0), 53: ('P', 575.0), 55: ('Q', 995.929), 57: ('S', 1150.0),
        59: ('PF', 0.5), 61: ('F', 50.0)}
bad = [f"{n}={vals.get(r)} (want {w})" for r, (n, w) in want.items()
       if vals.get(r) is None or abs(vals[r] - w) > 0.005 * abs(w)]
if bad:
    sys.exit(f"FAIL: {what}: " + ", ".join(bad) + "\n" + out)
print(f"  {what}: " + ", ".join(f"{n} {vals[r]:g}" for r, (n, w) in want.items()))
PYEOF
}
# Response timeouts of 5 s (mbpoll -o, pymodbus timeout): an answer is due, and a loaded
# machine (CI, a parallel build) can delay metersim's poll by a second (1 s timed out once).
out=$(timeout 20 mbpoll -m tcp -p "$PORT" -1 -o 5 -a 1 -r 49 -c 7 -t 4:float -B 127.0.0.1 2>&1) ||
    fail "mbpoll TCP: $out"
check_floats "$out" "mbpoll TCP"
e1=$(timeout 20 mbpoll -m tcp -p "$PORT" -1 -o 5 -a 1 -r 131 -c 1 -t 4:float -B 127.0.0.1 2>&1 |
    sed -n 's/^\[131\]:[[:space:]]*//p')
sleep 2
e2=$(timeout 20 mbpoll -m tcp -p "$PORT" -1 -o 5 -a 1 -r 131 -c 1 -t 4:float -B 127.0.0.1 2>&1 |
    sed -n 's/^\[131\]:[[:space:]]*//p')
$PY -c "import sys; a,b=float('$e1'),float('$e2'); sys.exit(0 if b > a else 'FAIL: energy did not grow: %g -> %g kWh' % (a,b))"
echo "  active import grew over 2 s: $e1 -> $e2 kWh"
out=$(timeout 20 mbpoll -m rtu -b 9600 -P none -1 -o 5 -a 1 -r 49 -c 7 -t 4:float -B "$WORK/pty_c" 2>&1) ||
    fail "mbpoll RTU: $out"
check_floats "$out" "mbpoll RTU"
out=$(timeout 20 mbpoll -m rtu -b 9600 -P none -1 -o 5 -a 1 -r 3000 -t 4 "$WORK/pty_c" 2>&1 || true)
grep -q "Illegal data address" <<<"$out" || fail "RTU exception 02 expected: $out"
echo "  RTU exception 02 on an unmapped register"
timeout 20 "$PY" - "$PORT" <<'PYEOF' || exit 1
import sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]), timeout=5)
assert c.connect(), "FAIL: pymodbus cannot connect"
def call(fn, *a, **k):
    try:
        return fn(*a, slave=1, **k)
    except TypeError:
        return fn(*a, unit=1, **k)
w = call(c.write_register, 0x1002, 3200)
assert w.isError() and w.exception_code == 4, f"FAIL: pulse constant written without the password: {w}"
w = call(c.write_register, 0x0000, 6666)  # the password: this connection's session logs in
assert not w.isError(), f"FAIL: password: {w}"
w = call(c.write_register, 0x1002, 3200)
assert not w.isError(), f"FAIL: write pulse constant: {w}"
r = call(c.read_holding_registers, 0x1002, 1)
assert not r.isError() and r.registers[0] == 3200, f"FAIL: pulse constant read back: {r}"
print("  pymodbus: pulse constant refused without the password (04), written after it and read back (3200)")
c.close()
PYEOF
cleanup; PIDS=""
sleep 0.5

# --- kill -9 and restart --------------------------------------------------------
ST="$WORK/k.nvm"
"$M" run --load U=230,I=5,PF=1,F=50 --speed 60 --json --no-dashboard --state "$ST" \
    --start 2026-03-02T08:00:00 --modbus-tcp 127.0.0.1:$PORT >"$WORK/k.json" 2>&1 &
KPID=$!
PIDS="$KPID"
sleep 8
kill -9 "$KPID"; wait "$KPID" 2>/dev/null || true
PIDS=""
shown=$(tail -1 "$WORK/k.json" | $PY -c 'import json,sys; print(json.load(sys.stdin)["active_import_wh"])')
restored=$(timeout 30 "$M" dump --state "$ST" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["0x0082"] * 1000)')
# One save quantum (10 Wh) plus one real second at 60 x 1150 W (19.2 Wh) of display lag.
$PY - "$shown" "$restored" <<'PYEOF'
import sys
shown, restored = float(sys.argv[1]), float(sys.argv[2])
ok = restored > 0 and abs(restored - shown) <= 10.0 + 19.2 + 0.01
print(f"  kill -9: last shown {shown:.3f} Wh, restored {restored:.3f} Wh, difference {restored - shown:+.3f} Wh")
sys.exit(0 if ok else "FAIL: restored energy not within one save quantum (+ display lag) of the last shown")
PYEOF
# The restart continues: a second run on the same state only adds energy.
timeout 60 "$M" run --speed max --duration 600 --no-dashboard --state "$ST" --modbus-tcp 127.0.0.1:$PORT \
    --load U=230,I=5,PF=1,F=50 >"$WORK/k2.txt" 2>&1
after=$(timeout 30 "$M" dump --state "$ST" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["0x0082"] * 1000)')
$PY -c "import sys; a,b=float('$restored'),float('$after'); print('  restart continued: %.3f -> %.3f Wh' % (a,b)); sys.exit(0 if b >= a + 190 else 'FAIL: restart did not continue')"
echo "metersim clients: all passed"
