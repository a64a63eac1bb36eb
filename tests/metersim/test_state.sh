#!/bin/bash
# Only our own state (issue 14, point 6), through metersim run and dump:
# - a missing state file is a first start: created whole (no temporary file left);
# - an existing file that is empty (0 bytes), of another size, foreign (random bytes or
#   zeros of exactly the state's size), with blank energy/history/config areas but an
#   intact event log, or of another storage format is refused by run AND dump: exit 2,
#   one stderr line naming the file and the reason, the file byte-identical;
# - run --new-state makes a new meter over each of them (exit 0, the banner says so,
#   the energy starts again from zero);
# - a creation that fails (a file size limit, ulimit -f; a 64 KiB tmpfs when this runs
#   as root and may mount) leaves no file and no temporary file, and the next run
#   creates it; --new-state over a good state that fails leaves the good state whole.
#   test_state.sh METERSIM WORKDIR [MODBUS]   (MODBUS: ON when metersim has its Modbus server)
set -u
M=$1 WORK=$2 MODBUS=${3:-ON}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
TCP="" # with a Modbus server, port 0 keeps the runs off ports others use
case "$MODBUS" in ON|on|1|TRUE|true) TCP="--modbus-tcp 127.0.0.1:0" ;; esac
MNT=""
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; true; }
trap cleanup EXIT
bad() { echo "FAIL: $*"; fail=1; }
SIZE=262144
RUN="--load U=230,I=10,PF=1,F=50 --speed max --no-dashboard $TCP"
temps() { ls -a "$1" | grep -c '\.tmp\.' ; }

# refused WHAT FILE REASON: run and dump both exit 2 with one line naming FILE and REASON,
# and leave FILE byte-identical.
refused() {
    local what=$1 f=$2 reason=$3 sum rc lines
    sum=$(md5sum <"$f")
    for cmd in run dump; do
        if [ $cmd = run ]; then
            timeout 60 "$M" run $RUN --duration 5 --state "$f" >"$WORK/out.txt" 2>"$WORK/err.txt"
        else
            timeout 60 "$M" dump --state "$f" >"$WORK/out.txt" 2>"$WORK/err.txt"
        fi
        rc=$?
        lines=$(wc -l <"$WORK/err.txt")
        if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qF "state file $f $reason" "$WORK/err.txt"; then
            bad "$what: $cmd exit $rc, $lines stderr lines (2 and 1 expected, naming the file and '$reason'):"
            cat "$WORK/err.txt"
        else
            echo "  $what: $cmd refused (exit 2): $(cat "$WORK/err.txt")"
        fi
        [ "$sum" = "$(md5sum <"$f")" ] || bad "$what: $cmd changed the file"
    done
    [ "$(temps "$WORK")" -eq 0 ] || bad "$what: a temporary file was left: $(ls -a "$WORK")"
}

# new_state WHAT FILE: --new-state makes a new meter over FILE: exit 0, the banner says so,
# the energy is this run's alone (60 s at 2300 W = 38.3 Wh, none of what was there).
new_state() {
    local what=$1 f=$2 rc e
    timeout 60 "$M" run $RUN --duration 60 --new-state --state "$f" --start 2026-05-01T10:00:00 \
        >"$WORK/out.txt" 2>"$WORK/err.txt"
    rc=$?
    e=$(timeout 30 "$M" dump --state "$f" | sed -n 's/^0x0082 //p')
    if [ "$rc" -eq 0 ] && grep -q "^metersim: --new-state: a new meter" "$WORK/err.txt" &&
        [ "$(stat -c %s "$f")" -eq $SIZE ] &&
        $PY -c "import sys; e=float('${e:-0}')*1000; sys.exit(0 if abs(e - 2300/60) < 0.5 else 1)"; then
        echo "  $what: --new-state made a new meter ($e kWh after 60 s of 2300 W)"
    else
        bad "$what: --new-state: exit $rc, energy ${e:-?} kWh"; cat "$WORK/err.txt"
    fi
}

echo "first start and a good state:"
GOOD="$WORK/good.nvm"
timeout 60 "$M" run $RUN --duration 3600 --state "$GOOD" --start 2026-03-02T08:00:00 >/dev/null 2>"$WORK/err.txt" ||
    bad "first start: $(cat "$WORK/err.txt")"
[ "$(stat -c %s "$GOOD" 2>/dev/null)" = $SIZE ] || bad "first start: no state file of $SIZE bytes"
[ "$(temps "$WORK")" -eq 0 ] || bad "first start left a temporary file: $(ls -a "$WORK")"
e=$(timeout 30 "$M" dump --state "$GOOD" | sed -n 's/^0x0082 //p')
echo "  missing file: a first start, created ($SIZE bytes), 1 h of 2300 W: $e kWh"
$PY -c "import sys; sys.exit(0 if abs(float('${e:-0}') - 2.3) < 0.02 else 1)" || bad "good state: energy $e kWh"
# A second run continues it (the file is ours)
timeout 60 "$M" run $RUN --duration 60 --state "$GOOD" >/dev/null 2>"$WORK/err.txt" || bad "second run: $(cat "$WORK/err.txt")"

echo "states that are not ours:"
: >"$WORK/empty.nvm"
refused "0-byte file" "$WORK/empty.nvm" "is empty (0 bytes)"
head -c 1000 /dev/urandom >"$WORK/short.nvm"
refused "wrong size" "$WORK/short.nvm" "has 1000 bytes, not $SIZE"
head -c $((SIZE + 4096)) /dev/zero >"$WORK/long.nvm"
refused "larger file" "$WORK/long.nvm" "has $((SIZE + 4096)) bytes, not $SIZE"
$PY "$HERE/statefile.py" foreign "$WORK/foreign.nvm"
refused "foreign file of the state's size" "$WORK/foreign.nvm" "holds no metersim meter"
$PY "$HERE/statefile.py" zeros "$WORK/zeros.nvm"
refused "zeros of the state's size" "$WORK/zeros.nvm" "holds no metersim meter"
$PY "$HERE/statefile.py" blank-core "$GOOD" "$WORK/blankcore.nvm" || bad "blank-core file"
refused "blank core, intact event log" "$WORK/blankcore.nvm" "holds no metersim meter"
$PY "$HERE/statefile.py" other-format "$GOOD" "$WORK/format.nvm" || bad "other-format file"
refused "another storage format" "$WORK/format.nvm" "was written in another storage format"

echo "--new-state:"
for f in empty short foreign zeros blankcore format; do
    new_state "$f" "$WORK/$f.nvm"
done
[ "$(temps "$WORK")" -eq 0 ] || bad "--new-state left a temporary file: $(ls -a "$WORK")"

echo "a creation that fails:"
# A file size limit of 100 KiB (ulimit -f counts KiB in bash): the state (256 KiB) cannot be
# written. metersim ignores SIGXFSZ, so the write fails with EFBIG.
(ulimit -f 100; exec timeout 60 "$M" run $RUN --duration 5 --state "$WORK/full.nvm") >/dev/null 2>"$WORK/err.txt"
rc=$?
if [ "$rc" -ne 0 ] && [ "$(wc -l <"$WORK/err.txt")" -eq 1 ] && grep -q "cannot be created" "$WORK/err.txt" &&
    [ ! -e "$WORK/full.nvm" ] && [ "$(temps "$WORK")" -eq 0 ]; then
    echo "  file size limit: exit $rc, nothing left: $(cat "$WORK/err.txt")"
else
    bad "file size limit: exit $rc, $(ls -a "$WORK" | tr '\n' ' '): $(cat "$WORK/err.txt")"
fi
timeout 60 "$M" run $RUN --duration 5 --state "$WORK/full.nvm" >/dev/null 2>"$WORK/err.txt" ||
    bad "the run after a failed creation: $(cat "$WORK/err.txt")"
[ "$(stat -c %s "$WORK/full.nvm" 2>/dev/null)" = $SIZE ] && echo "  the next run created it" ||
    bad "the next run did not create the state"
# --new-state over a good state under the same limit: refused, the good state whole.
sum=$(md5sum <"$GOOD")
(ulimit -f 100; exec timeout 60 "$M" run $RUN --duration 5 --new-state --state "$GOOD") >/dev/null 2>"$WORK/err.txt"
rc=$?
if [ "$rc" -ne 0 ] && [ "$sum" = "$(md5sum <"$GOOD")" ] && [ "$(temps "$WORK")" -eq 0 ]; then
    echo "  --new-state that cannot be written: exit $rc, the old state whole: $(cat "$WORK/err.txt")"
else
    bad "--new-state under a file size limit: exit $rc, old state changed or temporary file left"
fi
# A full filesystem: a 64 KiB tmpfs, when this runs as root and may mount (else skipped).
if [ "$(id -u)" -eq 0 ] && mkdir -p "$WORK/tiny" && mount -t tmpfs -o size=64k tmpfs "$WORK/tiny" 2>/dev/null; then
    MNT="$WORK/tiny"
    timeout 60 "$M" run $RUN --duration 5 --state "$MNT/x.nvm" >/dev/null 2>"$WORK/err.txt"
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q "cannot be created: No space left on device" "$WORK/err.txt" &&
        [ -z "$(ls -A "$MNT")" ]; then
        echo "  full filesystem (64 KiB tmpfs): exit $rc, nothing left: $(cat "$WORK/err.txt")"
    else
        bad "full filesystem: exit $rc, left: $(ls -A "$MNT"): $(cat "$WORK/err.txt")"
    fi
    umount "$MNT" && MNT=""
else
    echo "  (full filesystem: skipped, a tmpfs cannot be mounted here)"
fi
[ "$fail" -eq 0 ] && echo "metersim state: all passed"
exit $fail
