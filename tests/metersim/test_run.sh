#!/bin/sh
# metersim run, dump and the CLI contract:
# - bad arguments and unreadable files: exit non-zero with exactly one stderr line;
# - a 1-hour run at --speed max of a constant load registers P x 1 h within 0.5 %;
# - a second run on the same state continues (energy grows further, never resets);
# - dump reads the state back (0x0082 import energy) without modifying the file;
# - --json lines parse; SIGTERM is a power-fail warning (state saved, exit 0).
#   test_run.sh METERSIM WORKDIR
set -eu
M=$1 WORK=$2
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
# A free TCP port per test run, so that parallel tests and a running `make run` do not clash.
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TCP="--modbus-tcp 127.0.0.1:$PORT"

bad() {
    desc=$1; shift
    set +e
    timeout 30 "$M" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"
    rc=$?
    set -e
    lines=$(wc -l <"$WORK/err.txt")
    if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ] || [ "$lines" -ne 1 ]; then
        echo "FAIL: $desc: exit $rc, $lines stderr lines"; cat "$WORK/err.txt"; fail=1
    else
        echo "rejected $desc (exit $rc): $(cat "$WORK/err.txt")"
    fi
}
bad "unknown command" frobnicate
bad "unknown option" run --bogus --state "$WORK/x.nvm"
bad "unknown option (default command)" --bogus
bad "bad --load key" run --load X=1 --state "$WORK/x.nvm"
bad "bad --load PF" run --load U=230,I=5,PF=2L --state "$WORK/x.nvm"
bad "bad --load PF without L/C" run --load PF=0.5 --state "$WORK/x.nvm"
bad "bad --load number" run --load U=abc --state "$WORK/x.nvm"
bad "bad --speed" run --speed fast --state "$WORK/x.nvm"
bad "bad --start" run --start 2026-13-01T00:00:00 --state "$WORK/x.nvm"
bad "bad --duration" run --duration -5 --state "$WORK/x.nvm"
bad "bad --modbus-tcp" run --modbus-tcp localhost --state "$WORK/x.nvm"
bad "bad --rtu baud" run --rtu /dev/null:300 --state "$WORK/x.nvm"
bad "missing value" run --state
head -c 1000 /dev/zero >"$WORK/wrong-size.nvm"
bad "state file of another size" run --state "$WORK/wrong-size.nvm" --duration 1 --speed max $TCP
bad "dump: missing file" dump --state "$WORK/nope.nvm"
bad "dump: not a state file" dump --state "$WORK/wrong-size.nvm"
bad "dump: no --state" dump
bad "replay: missing file" replay "$WORK/nope.wav" --v-scale 400 --i-scale 20
[ -f "$WORK/x.nvm" ] && { echo "FAIL: a refused run created its state file"; fail=1; }
for c in run replay dump; do
    timeout 10 "$M" $c --help >"$WORK/help.txt" && grep -q "usage: metersim" "$WORK/help.txt" ||
        { echo "FAIL: $c --help"; fail=1; }
done

# 1 h of 230 V, 5 A, PF 0.5L: P = 575 W, 575 Wh.
ST="$WORK/state.nvm"
timeout 120 "$M" run --load U=230,I=5,PF=0.5L,F=50 --speed max --duration 3600 --no-dashboard \
    --state "$ST" --start 2026-03-02T08:00:00 $TCP >"$WORK/run1.txt"
tail -1 "$WORK/run1.txt"
timeout 120 "$M" run --load U=230,I=5,PF=0.5L,F=50 --speed max --duration 3600 --json \
    --state "$ST" $TCP >"$WORK/run2.txt"
timeout 30 "$M" dump --state "$ST" --json >"$WORK/dump.json"
timeout 30 "$M" dump --state "$ST" >"$WORK/dump.txt"
sum1=$(md5sum <"$ST")
timeout 30 "$M" dump --state "$ST" >/dev/null
[ "$sum1" = "$(md5sum <"$ST")" ] || { echo "FAIL: dump modified the state file"; fail=1; }
$PY - "$WORK" <<'PYEOF' || fail=1
import json, re, sys
w = sys.argv[1]
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
line1 = open(w + "/run1.txt").read().strip().splitlines()[-1]
e1 = float(re.search(r"import ([0-9.]+) Wh", line1).group(1))
check(abs(e1 - 575.0) / 575.0 < 0.005, "1 h at 575 W: %.6f Wh (%.3f %%)" % (e1, 100 * (e1 - 575) / 575))
check(line1.startswith("2026-03-02T09:00:00"), "stops at --duration: " + line1[:19])
objs = [json.loads(l) for l in open(w + "/run2.txt") if l.strip()]
last = objs[-1]
for k in ("urms", "irms", "p", "q", "s", "pf", "freq", "active_import_wh", "active_export_wh",
          "reactive_import_varh", "reactive_export_varh"):
    check(k in last, "json key " + k)
e2 = last["active_import_wh"]
check(abs(e2 - 1150.0) / 1150.0 < 0.005, "second run continues: %.6f Wh after 2 h" % e2)
check(last["time"] == "2026-03-02T10:00:00", "second run continues the clock: " + last["time"])
check(abs(last["p"] - 575) < 1 and abs(last["pf"] - 0.5) < 0.001 and abs(last["freq"] - 50) < 0.01,
      "P %.3f PF %.4f F %.4f" % (last["p"], last["pf"], last["freq"]))
d = json.load(open(w + "/dump.json"))
check(abs(d["0x0082"] * 1000 - e2) < 10.5, "dump 0x0082 %.6f kWh vs %.6f Wh (within one save quantum)" % (d["0x0082"], e2))
txt = dict(l.split() for l in open(w + "/dump.txt"))
check(float(txt["0x0082"]) == d["0x0082"] and len(txt) == len(d), "plain dump agrees with JSON (%d registers)" % len(d))
sys.exit(0 if ok else 1)
PYEOF

# SIGTERM: power-fail warning, state saved, exit 0.
ST2="$WORK/sig.nvm"
timeout 60 "$M" run --load U=230,I=10,PF=1,F=50 --speed 600 --no-dashboard --state "$ST2" \
    --start 2026-03-02T12:00:00 $TCP >"$WORK/sig.txt" 2>&1 &
pid=$!
sleep 2
kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
[ "$rc" -eq 0 ] || { echo "FAIL: SIGTERM exit $rc"; cat "$WORK/sig.txt"; fail=1; }
shown=$(tail -1 "$WORK/sig.txt" | sed -n 's/.*import \([0-9.]*\) Wh.*/\1/p')
saved=$(timeout 30 "$M" dump --state "$ST2" | sed -n 's/^0x0082 //p')
$PY -c "import sys; s=float('$shown'); d=float('$saved')*1000; print('SIGTERM: shown %.3f Wh, saved %.3f Wh' % (s, d)); sys.exit(0 if s > 100 and abs(s-d) < 1 else 1)" ||
    { echo "FAIL: SIGTERM state not saved"; fail=1; }
exit $fail
