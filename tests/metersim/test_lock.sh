#!/bin/sh
# One metersim per state file: a second `metersim run` (and `metersim dump`) on a state
# file that a running metersim holds exits 2 with one line naming the file; the first
# one's state is saved intact when it stops.
#   test_lock.sh METERSIM WORKDIR [MODBUS]   (MODBUS: ON when metersim has its Modbus server)
# No timing assumption: the script waits (up to 30 s) until the first instance holds
# the lock, whatever the machine's load, and every command has a timeout.
set -eu
M=$1 WORK=$2 MODBUS=${3:-ON}
# With a Modbus server metersim listens on 127.0.0.1:1502 unless told otherwise: port 0
# (any free port) keeps this test off ports others use. Without one, no option at all.
TCP=""
case "$MODBUS" in ON|on|1|TRUE|true) TCP="--modbus-tcp 127.0.0.1:0" ;; esac
rm -rf "$WORK"
mkdir -p "$WORK"
ST="$WORK/meter.nvm"
fail() { echo "FAIL: $*"; [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; exit 1; }

# The first instance: real time, no Modbus server of its own (port 0 is not served by
# the second either: it must not get that far).
# (No `timeout` around it: its pid is the one the lock must name; the trap ends it.)
trap '[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null' EXIT
"$M" run --state "$ST" --no-dashboard $TCP --start 2026-06-01T12:00:00 \
    --load U=230,I=10,PF=1,F=50 \
    >"$WORK/first.out" 2>"$WORK/first.err" &
PID=$!
# It holds the lock once its banner is out (printed after the state is locked and
# mounted). Waiting for the banner, not probing the lock: a probing `dump` takes a
# shared lock and could itself win the race against the first run's exclusive one.
held=0
for _ in $(seq 300); do
    if grep -q "^metersim: state $ST" "$WORK/first.err" 2>/dev/null; then
        held=1
        break
    fi
    kill -0 "$PID" 2>/dev/null || fail "the first metersim stopped: $(cat "$WORK/first.err")"
    sleep 0.1
done
[ "$held" -eq 1 ] || fail "the first metersim never started (no banner in 30 s)"

set +e
timeout 30 "$M" run --state "$ST" --no-dashboard --duration 5 --speed max $TCP \
    >"$WORK/second.out" 2>"$WORK/second.err"
rc=$?
set -e
lines=$(wc -l <"$WORK/second.err")
[ "$rc" -eq 2 ] || fail "second metersim on the same state: exit $rc (2 expected): $(cat "$WORK/second.err")"
[ "$lines" -eq 1 ] || fail "second metersim: $lines lines on stderr (1 expected)"
grep -q "state file $ST is in use by another metersim (pid $PID)" "$WORK/second.err" ||
    fail "second metersim's message does not name the file and the holder: $(cat "$WORK/second.err")"
echo "second run refused: $(cat "$WORK/second.err")"
# Whatever else the second run's options would have run into (here an --until before the
# start it would have taken from a state file it cannot read), the lock is what it says.
set +e
timeout 30 "$M" run --state "$ST" --no-dashboard --until 2001-01-01T00:00:00 $TCP >/dev/null 2>"$WORK/third.err"
rc=$?
set -e
[ "$rc" -eq 2 ] && [ "$(wc -l <"$WORK/third.err")" -eq 1 ] &&
    grep -q "state file $ST is in use by another metersim (pid $PID)" "$WORK/third.err" ||
    fail "second metersim with --until: exit $rc: $(cat "$WORK/third.err")"
if timeout 10 "$M" dump --state "$ST" >/dev/null 2>"$WORK/probe.err"; then
    fail "dump read a state file that a running metersim holds"
fi
grep -q "in use by another metersim (pid $PID)" "$WORK/probe.err" || fail "dump's refusal: $(cat "$WORK/probe.err")"

echo "dump refused while running: $(cat "$WORK/probe.err")"

# The first one stops (power-fail warning) and saves; its state is intact and readable.
kill -TERM "$PID"
wait "$PID" || fail "the first metersim did not exit 0 on SIGTERM: $(cat "$WORK/first.err")"
PID=
timeout 30 "$M" dump --state "$ST" --json >"$WORK/dump.json" || fail "dump after the first metersim stopped"
# The first one's last line says what it saved ("import X Wh ... (saved)"): the dump of the
# state file must read the same import energy (0082H, kWh), to its 6 printed decimals.
/usr/bin/python3 - "$WORK/dump.json" "$WORK/first.out" <<'PY' || fail "the saved state is not what the first metersim saved"
import json, re, sys
d = json.load(open(sys.argv[1]))
last = [l for l in open(sys.argv[2]) if "(saved)" in l][-1]
wh = float(re.search(r"import ([0-9.]+) Wh", last).group(1))
print("first metersim saved import %.6f Wh; the state file reads %.6f Wh" % (wh, d["0x0082"] * 1000))
assert wh > 0 and abs(d["0x0082"] * 1000 - wh) < 0.0015, (wh, d["0x0082"])
PY
echo "metersim lock: all passed"
