#!/bin/bash
# DL/T 645-2007 on a running metersim (issue 16 part 2), beside Modbus TCP on the same meter:
# - usage errors of --dlt645, --dlt645-tcp, --dlt645-address: exit 2, the state file untouched;
# - dlt645_client.py (a master written from the standard) reads every implemented identifier and
#   drives every control code over a socat pty pair (--dlt645 PTY:2400:E: the pty cannot carry
#   parity, the banner says so) and over TCP (--dlt645-tcp, raw frames), checking the values
#   against Modbus TCP reads of the same meter; malformed and foreign frames get no reply.
#   test_dlt645.sh METERSIM WORKDIR
set -eu
M=$1 WORK=$2
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK"; mkdir -p "$WORK"
command -v socat >/dev/null 2>&1 || { echo "FAIL: socat not found: install the Debian package socat"; exit 1; }
$PY -c 'import serial' 2>/dev/null || { echo "FAIL: pyserial not found: install the Debian package python3-serial"; exit 1; }
PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for bad in "--dlt645-address 12345" "--dlt645-address 999999999999" "--dlt645-address 12345678901a" \
           "--dlt645 /dev/null:300" "--dlt645 /dev/null:2400:X" "--dlt645 :2400" "--dlt645-tcp nohost" \
           "--dlt645-tcp 127.0.0.1:70000"; do
    set +e
    # shellcheck disable=SC2086
    timeout 20 "$M" run $bad --no-dashboard --state "$WORK/u.nvm" --duration 1 --speed max \
        --modbus-tcp 127.0.0.1:0 >"$WORK/u.txt" 2>&1
    rc=$?
    set -e
    [ $rc -eq 2 ] || fail "metersim run $bad: exit $rc, expected 2: $(cat "$WORK/u.txt")"
    [ ! -e "$WORK/u.nvm" ] || fail "metersim run $bad touched the state file"
done
echo "  usage errors: exit 2, state untouched"

MB=$(free_port)
DL=$(free_port)
socat pty,raw,echo=0,link="$WORK/pty_s" pty,raw,echo=0,link="$WORK/pty_c" 2>/dev/null &
PIDS="$PIDS $!"
for _ in $(seq 50); do [ -e "$WORK/pty_c" ] && break; sleep 0.1; done
"$M" run --load U=230,I=5,PF=0.5L,F=50 --speed 1 --no-dashboard --state "$WORK/a.nvm" \
    --start 2026-03-02T08:00:00 --modbus-tcp 127.0.0.1:$MB --dlt645 "$WORK/pty_s" \
    --dlt645-tcp 127.0.0.1:$DL --dlt645-address 123456789012 >"$WORK/a.txt" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do grep -q "DL/T645 address" "$WORK/a.txt" && break; sleep 0.1; done
grep -q "DL/T645 address 123456789012, on $WORK/pty_s (2400 baud, parity even" "$WORK/a.txt" ||
    fail "banner: $(cat "$WORK/a.txt")"
grep -q "raw frames on TCP 127.0.0.1:$DL" "$WORK/a.txt" || fail "banner TCP: $(cat "$WORK/a.txt")"
sleep 3 # a few windows measured
cd "$HERE"
echo "  serial (socat pty pair, $(grep -o 'parity even[^)]*' "$WORK/a.txt"))"
timeout 120 $PY "$HERE/dlt645_client.py" serial "$WORK/pty_c" "$MB" 123456789012 || fail "the client over the pty"
echo "  TCP (raw frames), the same process: reads"
timeout 120 $PY "$HERE/dlt645_client.py" tcp "127.0.0.1:$DL" "$MB" 123456789012 reads || fail "the client over TCP"
M1=$(echo $PIDS | awk '{print $2}')
kill -TERM "$M1" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$M1" 2>/dev/null || break; sleep 0.1; done
# The audit budget (six metrological changes in a burst, every interface together) was spent
# by the serial run: every control code over TCP on a second meter.
MB=$(free_port)
DL=$(free_port)
"$M" run --load U=230,I=5,PF=0.5L,F=50 --speed 1 --no-dashboard --state "$WORK/b.nvm" \
    --start 2026-03-02T08:00:00 --modbus-tcp 127.0.0.1:$MB --dlt645-tcp 127.0.0.1:$DL >"$WORK/b.txt" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do grep -q "DL/T645 address" "$WORK/b.txt" && break; sleep 0.1; done
grep -q "DL/T645 address 000000000001, raw frames on TCP 127.0.0.1:$DL" "$WORK/b.txt" ||
    fail "banner (default address): $(cat "$WORK/b.txt")"
sleep 3
echo "  TCP (raw frames), every control code"
timeout 120 $PY "$HERE/dlt645_client.py" tcp "127.0.0.1:$DL" "$MB" 000000000001 || fail "the client over TCP"
echo "  TCP: ten wrong passwords, each on a new connection, lock the right one out too"
(cd "$HERE" && timeout 60 $PY - "$DL" <<'PYEOF') || fail "the TCP lockout"
import sys
from dlt645_client import Link, Master, addr_bytes, di, fail
port = sys.argv[1]
A = addr_bytes("000000000001")
def try_pw(pw):
    m = Master(Link("tcp", "127.0.0.1:" + port), A)
    r = m.cmd(0x14, di(0x04000B01) + m.auth(pw) + bytes([0x00, 0x01]))
    m.l.s.close()
    return r[1], r[2]
for k in range(10):
    if try_pw(1111 + k) != (0xD4, b"\x04"):
        fail(f"wrong password {k}")
if try_pw(6666) != (0xD4, b"\x04"):
    fail("the right password was taken during the lockout: reconnecting reset the guard")
print("  locked out across connections")
PYEOF
kill -TERM "$(echo $PIDS | awk '{print $3}')" 2>/dev/null || true
echo "metersim_dlt645: passed"
