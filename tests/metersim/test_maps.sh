#!/bin/bash
# The register maps of issue 16 on a running metersim, read by real clients:
# - metersim --map and --map-unit: errors are usage errors (exit 2) before anything is touched;
# - a single-phase meter with the KPM31 map at its address and the SDM120, SunSpec and SDM630 maps
#   at units 2, 3, 4: mbpoll reads the SDM120 points with FC 04 over TCP and over RTU (a socat pty
#   pair) and gets the native map's values; pymodbus reads every SDM point and walks SunSpec;
# - a 3P4W meter with --map sdm630 at its address and SunSpec at unit 2: the phases, model 213.
#   test_maps.sh METERSIM WORKDIR
set -eu
M=$1 WORK=$2
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK"; mkdir -p "$WORK"
for tool in mbpoll socat; do
    command -v $tool >/dev/null 2>&1 || { echo "FAIL: $tool not found: install the Debian package $tool"; exit 1; }
done
$PY -c 'import pymodbus' 2>/dev/null || { echo "FAIL: pymodbus not found: install the Debian package python3-pymodbus"; exit 1; }
PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- usage errors ----------------------------------------------------------------
for bad in "--map sdm999" "--map" "--map-unit 2" "--map-unit 0:sdm120" "--map-unit 248:sdm120" \
           "--map-unit 2:nope" "--map-unit 2:sdm120 --map-unit 2:sdm630" \
           "--map-unit 2:sdm120 --map-unit 3:sdm120 --map-unit 4:sdm120 --map-unit 5:sdm120"; do
    set +e
    # shellcheck disable=SC2086
    timeout 20 "$M" run $bad --no-dashboard --state "$WORK/u.nvm" --duration 1 --speed max >"$WORK/u.txt" 2>&1
    rc=$?
    set -e
    [ $rc -eq 2 ] || fail "metersim run $bad: exit $rc, expected 2: $(cat "$WORK/u.txt")"
    [ ! -e "$WORK/u.nvm" ] || fail "metersim run $bad touched the state file"
done
set +e
timeout 20 "$M" run --map-unit 1:sdm120 --no-dashboard --state "$WORK/u.nvm" --duration 1 --speed max \
    --modbus-tcp 127.0.0.1:0 >"$WORK/u.txt" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "--map-unit at the meter's own address: exit $rc, expected 2: $(cat "$WORK/u.txt")"
grep -q "own address" "$WORK/u.txt" || fail "--map-unit 1: no reason given: $(cat "$WORK/u.txt")"
echo "  usage errors: exit 2, state untouched"

# --- single phase: KPM31 at 1, SDM120 at 2, SunSpec at 3, SDM630 at 4 -------------------------
PORT=$(free_port)
socat pty,raw,echo=0,link="$WORK/pty_s" pty,raw,echo=0,link="$WORK/pty_c" 2>/dev/null &
PIDS="$PIDS $!"
for _ in $(seq 50); do [ -e "$WORK/pty_c" ] && break; sleep 0.1; done
"$M" run --load U=230,I=5,PF=0.5L,F=50 --speed 1 --no-dashboard --state "$WORK/a.nvm" \
    --start 2026-03-02T08:00:00 --modbus-tcp 127.0.0.1:$PORT --rtu "$WORK/pty_s:9600:N" \
    --map-unit 2:sdm120 --map-unit 3:sunspec --map-unit 4:sdm630 >"$WORK/a.txt" 2>&1 &
PIDS="$PIDS $!"
sleep 3.5
grep -q ", register map kpm31 at address 1, sdm120 at unit 2, sunspec at unit 3, sdm630 at unit 4" "$WORK/a.txt" ||
    fail "banner does not name the maps: $(cat "$WORK/a.txt")"

# mbpoll: SDM120 with FC 04 (-t 3:float, -B high word first) against the native FC 03 (-t 4:float).
sdm_vs_native() { # sdm_vs_native "<sdm mbpoll output>" "<native mbpoll output>" "<what>"
    "$PY" - "$1" "$2" "$3" <<'PYEOF'
import re, sys
sdm, nat, what = sys.argv[1], sys.argv[2], sys.argv[3]
s = {int(a): float(b) for a, b in re.findall(r'^\[(\d+)\]:\s+(\S+)', sdm, re.M)}
n = {int(a): float(b) for a, b in re.findall(r'^\[(\d+)\]:\s+(\S+)', nat, re.M)}
# SDM120 30001 V, 30007 A, 30013 W; native 0030H U (-r 49), 0032H I, 0034H P
pairs = [("U", 1, 49, 230.0), ("I", 7, 51, 5.0), ("P", 13, 53, 575.0)]
bad = [f"{q}: sdm {s.get(a)} native {n.get(b)} truth {t}" for q, a, b, t in pairs
       if s.get(a) is None or n.get(b) is None or abs(s[a] - n[b]) > 2e-3 * t or abs(s[a] - t) > 5e-3 * t]
if bad:
    sys.exit(f"FAIL: {what}: " + "; ".join(bad) + "\n" + sdm + nat)
print(f"  {what}: " + ", ".join(f"{q} {s[a]:g} (native {n[b]:g})" for q, a, b, t in pairs))
PYEOF
}
sdm=$(timeout 20 mbpoll -m tcp -p "$PORT" -1 -o 5 -a 2 -r 1 -c 8 -t 3:float -B 127.0.0.1 2>&1) ||
    fail "mbpoll TCP FC 04 unit 2: $sdm"
nat=$(timeout 20 mbpoll -m tcp -p "$PORT" -1 -o 5 -a 1 -r 49 -c 3 -t 4:float -B 127.0.0.1 2>&1) ||
    fail "mbpoll TCP native: $nat"
sdm_vs_native "$sdm" "$nat" "mbpoll TCP, SDM120 FC 04 at unit 2"
sdm=$(timeout 20 mbpoll -m rtu -b 9600 -P none -1 -o 5 -a 2 -r 1 -c 8 -t 3:float -B "$WORK/pty_c" 2>&1) ||
    fail "mbpoll RTU FC 04 unit 2: $sdm"
nat=$(timeout 20 mbpoll -m rtu -b 9600 -P none -1 -o 5 -a 1 -r 49 -c 3 -t 4:float -B "$WORK/pty_c" 2>&1) ||
    fail "mbpoll RTU native: $nat"
sdm_vs_native "$sdm" "$nat" "mbpoll RTU, SDM120 FC 04 at unit 2"
out=$(timeout 20 mbpoll -m tcp -p "$PORT" -1 -o 5 -a 1 -r 1 -c 2 -t 3:float -B 127.0.0.1 2>&1 || true)
grep -q "Illegal function" <<<"$out" || fail "FC 04 on the KPM31 map: exception 01 expected: $out"
out=$(timeout 20 mbpoll -m tcp -p "$PORT" -1 -o 5 -a 9 -r 1 -c 2 -t 3:float -B 127.0.0.1 2>&1 || true)
grep -qiE "gateway|target device failed to respond" <<<"$out" || fail "unit 9 (no map): exception 0B expected: $out"
echo "  FC 04 on the KPM31 map: exception 01; a unit without a map: exception 0B"
timeout 60 "$PY" "$HERE/maps_clients.py" "$PORT" 1p2w kpm31=1,sdm120=2,sunspec=3,sdm630=4 || fail "pymodbus, 1p2w"
kill -TERM %2 2>/dev/null || true

# --- three phase: SDM630 at the meter's address, SunSpec at unit 2 ---------------------------
PORT=$(free_port)
"$M" run --wiring 3p4w --load U=230,I=5,PF=0.8L,F=50 --speed 1 --no-dashboard --state "$WORK/b.nvm" \
    --start 2026-03-02T08:00:00 --modbus-tcp 127.0.0.1:$PORT --map sdm630 --map-unit 2:sunspec \
    --map-unit 3:kpm31 >"$WORK/b.txt" 2>&1 &
PIDS="$PIDS $!"
sleep 3.5
# The banner names the maps and gives the mbpoll line for the map at the address; run it.
grep -q "register map sdm630 at address 1, sunspec at unit 2, kpm31 at unit 3" "$WORK/b.txt" ||
    fail "banner does not name the maps: $(cat "$WORK/b.txt")"
cmd=$(grep -A1 "read the sdm630 map with" "$WORK/b.txt" | tail -1 | sed 's/^ *//')
case "$cmd" in "mbpoll -m tcp -p $PORT -a 1 -r 1 -c 3 -t 3:float -B 127.0.0.1") ;;
    *) fail "banner's mbpoll line for the SDM630 map: '$cmd'" ;; esac
out=$(timeout 20 mbpoll -m tcp -p "$PORT" -1 -o 5 -a 1 -r 1 -c 3 -t 3:float -B 127.0.0.1 2>&1) ||
    fail "mbpoll SDM630 phases: $out"
"$PY" - "$out" <<'PYEOF' || exit 1
import re, sys
v = {int(a): float(b) for a, b in re.findall(r'^\[(\d+)\]:\s+(\S+)', sys.argv[1], re.M)}
bad = [f"L{k + 1} {v.get(r)}" for k, r in enumerate((1, 3, 5)) if v.get(r) is None or abs(v[r] - 230.0) > 1.15]
if bad:
    sys.exit("FAIL: SDM630 phase voltages: " + ", ".join(bad) + "\n" + sys.argv[1])
print("  mbpoll SDM630 at the meter's address: L1 L2 L3 " + " ".join(f"{v[r]:g}" for r in (1, 3, 5)) + " V")
PYEOF
timeout 60 "$PY" "$HERE/maps_clients.py" "$PORT" 3p4w kpm31=3,sdm630=1,sunspec=2 || fail "pymodbus, 3p4w"
echo "PASS"
