#!/usr/bin/env bash
# tests/test_posix_modbus.sh <modbus_server>
#
# The POSIX Modbus port with real clients (ctest: posix_modbus). Starts
# tests/modbus_server.c (a meter with a known load: 230 V, 5 A, PF 0.5L, 50 Hz)
# serving Modbus TCP on 127.0.0.1 at a free port and Modbus RTU on one end of a
# socat pty pair, then:
#   - mbpoll over TCP: U, I, P, Q, S, PF, F as floats within 0.5 %; address write;
#     exceptions 02 (unmapped register) and 03 (bad value); unit ids 0 and 255.
#   - mbpoll over RTU (other end of the pty pair): the same reads and exceptions;
#     an address write is used for the next request; parity and baud writes
#     reconfigure the line after the reply (checked with stty on the server's end);
#     a broadcast write is executed.
#   - python3-pymodbus (/usr/bin/python3): the whole map in chunks of 125 registers
#     (served addresses from docs/REGISTERS.md), values checked; relay FC05/FC01;
#     DI FC02; malformed and surplus connections dropped without harm; 300 pipelined
#     requests answered in order across polls (4 per client per poll); 4 clients at
#     once, 2000 FC03 reads of 14 registers each, with the request rate printed.
# Every client call has a timeout; the server and socat are killed on exit.
#
# No step depends on how fast this machine runs the server (a loaded 2-core machine
# delays a sanitized process by hundreds of ms): the script waits for what the server
# reports (ready, "line:" after a line change, "rtu frames:" after each RTU frame) up to
# 30 s, client timeouts are seconds where an answer is due, and the latency figures
# (requests/s, the longest poll overshoot) are printed; the overshoot's one bound, 2 s,
# is there to catch a poll that blocks on a client, not to measure it.
set -uo pipefail

SERVER=${1:?usage: $0 <modbus_server>}
HERE=$(cd "$(dirname "$0")" && pwd)
REGMAP_DOC="$HERE/../docs/REGISTERS.md"
PY=/usr/bin/python3

fail() { echo "FAIL: $*" >&2; exit 1; }

# --- tools (Debian packages) -------------------------------------------------
command -v mbpoll >/dev/null 2>&1 || fail "mbpoll not found: install the Debian package mbpoll (make test does: tools/deps.sh)"
command -v socat >/dev/null 2>&1 || fail "socat not found: install the Debian package socat"
command -v stty >/dev/null 2>&1 || fail "stty not found (coreutils)"
[ -x "$PY" ] || fail "$PY not found: install the Debian package python3"
"$PY" -c 'import pymodbus.client' 2>/dev/null ||
    fail "pymodbus not importable by $PY: install the Debian package python3-pymodbus"

TMP=$(mktemp -d /tmp/mc_modbus_test.XXXXXX)
SERVER_PID=""
SOCAT_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [ -n "$SOCAT_PID" ] && kill "$SOCAT_PID" 2>/dev/null && wait "$SOCAT_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- socat pty pair, free port, server ----------------------------------------
PTY_S="$TMP/pty_server"
PTY_C="$TMP/pty_client"
socat -d -d "pty,raw,echo=0,link=$PTY_S" "pty,raw,echo=0,link=$PTY_C" 2>"$TMP/socat.log" &
SOCAT_PID=$!
for _ in $(seq 600); do [ -e "$PTY_S" ] && [ -e "$PTY_C" ] && break; sleep 0.05; done # up to 30 s
[ -e "$PTY_S" ] && [ -e "$PTY_C" ] || fail "socat did not create the pty pair: $(cat "$TMP/socat.log")"

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$SERVER" --tcp "$PORT" --rtu "$PTY_S" --seconds 200 >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
for _ in $(seq 600); do grep -q '^ready' "$TMP/server.out" 2>/dev/null && break; sleep 0.05; done # up to 30 s
grep -q '^ready' "$TMP/server.out" || fail "server did not start: $(cat "$TMP/server.err")"
echo "server: $(head -1 "$TMP/server.out") (pid $SERVER_PID)"

# mbpoll with a timeout around every call; -1 one poll, -o MB_TO s response timeout. An
# answer that is due gets 5 s (a late RTU answer after a timeout would also land in the
# next request's reply); where no answer must come, MB_TO=1 keeps the wait short.
MB_TO=5
mb_tcp() { timeout 20 mbpoll -m tcp -p "$PORT" -1 -o "$MB_TO" "$@" 127.0.0.1 2>&1; }
mb_rtu() { local b=$1 p=$2; shift 2; timeout 20 mbpoll -m rtu -b "$b" -P "$p" -1 -o "$MB_TO" "$@" "$PTY_C" 2>&1; }
# Writes: the value goes after the host or device: mb_tcp_w VALUE <options>, mb_rtu_w BAUD PARITY VALUE <options>.
mb_tcp_w() { local v=$1; shift; timeout 20 mbpoll -m tcp -p "$PORT" -1 -o "$MB_TO" "$@" 127.0.0.1 "$v" 2>&1; }
mb_rtu_w() { local b=$1 p=$2 v=$3; shift 3; timeout 20 mbpoll -m rtu -b "$b" -P "$p" -1 -o "$MB_TO" "$@" "$PTY_C" "$v" 2>&1; }

# wait_out PATTERN WHAT: until the server's stdout has a line matching PATTERN (up to 30 s).
wait_out() {
    for _ in $(seq 600); do grep -q -- "$1" "$TMP/server.out" && { echo "  ok: $2"; return 0; }; sleep 0.05; done
    fail "$2: no '$1' from the server in 30 s: $(cat "$TMP/server.out")"
}
# wait_changes N WHAT: until the server has reported N line changes (up to 30 s).
wait_changes() {
    for _ in $(seq 600); do [ "$(grep -c '^line:' "$TMP/server.out")" -ge "$1" ] && { echo "  ok: $2"; return 0; }; sleep 0.05; done
    fail "$2: $1 line changes expected: $(grep '^line:' "$TMP/server.out")"
}
# RTU frames the server's framer has ended so far (its last "rtu frames:" line; 0 before any).
rtu_frames() { sed -n 's/^rtu frames: \([0-9]*\) .*/\1/p' "$TMP/server.out" | tail -1 | grep . || echo 0; }

# check_floats "<mbpoll output>" "<what>": the 7 floats from 0030H against the load.
check_floats() {
    "$PY" - "$2" <<EOF || exit 1
import re, sys
out = """$1"""
vals = {int(a): float(b) for a, b in re.findall(r'^\[(\d+)\]:\s+(\S+)', out, re.M)}
want = {49: ('U', 230.0), 51: ('I', 5.0), 53: ('P', 575.0), 55: ('Q', 995.929), 57: ('S', 1150.0),
        59: ('PF', 0.5), 61: ('F', 50.0)}
bad = []
for ref, (name, w) in want.items():
    v = vals.get(ref)
    if v is None or abs(v - w) > 0.005 * abs(w):
        bad.append(f"{name}={v} (want {w} +-0.5 %)")
    else:
        print(f"  {sys.argv[1]}: {name} = {v:g} (want {w:g})")
if bad:
    print(f"FAIL: {sys.argv[1]}: " + ", ".join(bad) + "\n" + out, file=sys.stderr)
    sys.exit(1)
EOF
}

expect() { # expect "<output>" "<pattern>" "<what>"
    if grep -q -- "$2" <<<"$1"; then echo "  ok: $3"; else fail "$3: '$2' not in mbpoll output:
$1"; fi
}

# --- mbpoll over TCP ----------------------------------------------------------
echo "mbpoll TCP:"
out=$(mb_tcp -a 1 -r 49 -c 7 -t 4:float -B) || fail "mbpoll TCP read: $out"
check_floats "$out" "TCP"
out=$(mb_tcp -a 255 -r 49 -c 7 -t 4:float -B) || fail "mbpoll TCP unit 255: $out"
check_floats "$out" "TCP unit 255"
out=$(mb_tcp -a 1 -r 3000 -t 4); expect "$out" "Illegal data address" "TCP exception 02 on unmapped 0BB7H"
out=$(mb_tcp_w 0 -a 1 -r 2 -t 4); expect "$out" "Illegal data value" "TCP exception 03 writing address 0"
out=$(mb_tcp_w 248 -a 1 -r 2 -t 4); expect "$out" "Illegal data value" "TCP exception 03 writing address 248"
out=$(mb_tcp_w 17 -a 1 -r 2 -t 4); expect "$out" "Written 1 references" "TCP write address 17"
out=$(mb_tcp -a 17 -r 2 -t 4); expect "$out" "\[2\]:[[:space:]]*17" "TCP read back address 17 as unit 17"
out=$(mb_tcp -a 1 -r 2 -t 4); expect "$out" "Target device failed to respond" "TCP unit 1 no longer ours (exception 0B)"
out=$(mb_tcp_w 1 -a 17 -r 2 -t 4); expect "$out" "Written 1 references" "TCP write address back to 1"

# --- mbpoll over RTU ----------------------------------------------------------
line_of() { stty -F "$PTY_S" 2>/dev/null | head -1; } # "speed 9600 baud; ..." of the server's end
echo "mbpoll RTU (socat pty pair):"
out=$(mb_rtu 9600 none -a 1 -r 49 -c 7 -t 4:float -B) || fail "mbpoll RTU read: $out"
check_floats "$out" "RTU"
out=$(mb_rtu 9600 none -a 1 -r 3000 -t 4); expect "$out" "Illegal data address" "RTU exception 02 on unmapped 0BB7H"
out=$(mb_rtu_w 9600 none 3 -a 1 -r 4097 -t 4); expect "$out" "Illegal data value" "RTU exception 03 writing parity 3"
out=$(mb_rtu_w 9600 none 7 -a 1 -r 2 -t 4); expect "$out" "Written 1 references" "RTU write address 7"
out=$(MB_TO=1 mb_rtu 9600 none -a 1 -r 2 -t 4); expect "$out" "timed out\|failed" "RTU address 1 not answered any more"
out=$(mb_rtu 9600 none -a 7 -r 2 -t 4); expect "$out" "\[2\]:[[:space:]]*7" "RTU address 7 answers"
# parity even: the reply goes out first, then the line changes
out=$(mb_rtu_w 9600 none 1 -a 7 -r 4097 -t 4); expect "$out" "Written 1 references" "RTU write parity even"
# The server reports each line change once it is made (after the reply left): wait for that.
wait_out "^line: baud 9600 parity 1" "RTU line reconfigured to even parity (Linux ptys drop PARENB, so the server reports it)"
l=$(line_of); expect "$l" "speed 9600" "RTU line still 9600 baud"
out=$(mb_rtu_w 9600 even 3 -a 7 -r 3 -t 4); expect "$out" "Written 1 references" "RTU write baud code 3 (4800)"
wait_out "^line: baud 4800 parity 1" "RTU line reconfigured to 4800 baud, even"
l=$(line_of); expect "$l" "speed 4800" "RTU line now 4800 baud ($l)"
out=$(mb_rtu 4800 even -a 7 -r 49 -c 7 -t 4:float -B) || fail "mbpoll RTU read at 4800 E: $out"
check_floats "$out" "RTU 4800 E"
# broadcast (address 0): executed, not answered; word order 1 (CDAB), then read as little endian
# (mbpoll refuses address 0: the frame 00 06 1001 0001 CRC is written by hand). RTU frames
# are delimited by silence only and a pty keeps no timing: the next request must not reach
# the server before it has taken the broadcast, so the script waits for the framer's count.
frames=$(rtu_frames)
"$PY" - "$PTY_C" <<'PYEOF' || exit 1
import os, select, sys
def crc16(b):
    c = 0xFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
adu = bytes([0, 6, 0x10, 0x01, 0, 1])
c = crc16(adu)
os.write(fd, adu + bytes([c & 0xFF, c >> 8]))
r, _, _ = select.select([fd], [], [], 0.3)
got = os.read(fd, 64) if r else b""
os.close(fd)
if got:
    print(f"FAIL: broadcast write answered: {got.hex()}", file=sys.stderr)
    sys.exit(1)
print("  ok: RTU broadcast write not answered")
PYEOF
wait_out "^rtu frames: $((frames + 1)) " "RTU broadcast frame taken by the server"
out=$(mb_rtu 4800 even -a 7 -r 4098 -t 4); expect "$out" "\[4098\]:[[:space:]]*1" "RTU broadcast write of word order executed"
out=$(mb_rtu 4800 even -a 7 -r 49 -c 7 -t 4:float) || fail "mbpoll RTU read CDAB: $out"
check_floats "$out" "RTU CDAB"
# back to the defaults: word order, baud, parity, address, one write each
out=$(mb_rtu_w 4800 even 0 -a 7 -r 4098 -t 4); expect "$out" "Written 1 references" "RTU word order back to 0"
out=$(mb_rtu_w 4800 even 4 -a 7 -r 3 -t 4); expect "$out" "Written 1 references" "RTU baud back to 9600"
wait_changes 3 "RTU line back to 9600 baud"
expect "$(grep '^line:' "$TMP/server.out" | tail -1)" "^line: baud 9600 parity 1" "RTU line is 9600 baud, even"
out=$(mb_rtu_w 9600 even 0 -a 7 -r 4097 -t 4); expect "$out" "Written 1 references" "RTU parity back to none"
wait_changes 4 "RTU line back to no parity"
out=$(mb_rtu_w 9600 none 1 -a 7 -r 2 -t 4); expect "$out" "Written 1 references" "RTU address back to 1"
out=$(mb_rtu 9600 none -a 1 -r 49 -c 7 -t 4:float -B) || fail "mbpoll RTU read after restore: $out"
check_floats "$out" "RTU restored"

# --- python3-pymodbus -----------------------------------------------------------
echo "pymodbus (TCP):"
"$PY" - "$PORT" "$REGMAP_DOC" <<'EOF' || exit 1
import multiprocessing, re, socket, struct, sys, time
from pymodbus.client import ModbusTcpClient

PORT = int(sys.argv[1])
DOC = sys.argv[2]

def fail(msg):
    print("FAIL: pymodbus: " + msg, file=sys.stderr)
    sys.exit(1)

def client():
    # 10 s: a loaded machine delays the (sanitized) server by up to hundreds of ms, never seconds.
    c = ModbusTcpClient("127.0.0.1", port=PORT, timeout=10, retries=0)
    if not c.connect():
        fail("cannot connect")
    return c

served = set()
fmt = {}
for line in open(DOC, encoding="utf-8"):
    m = re.match(r"^\| ([0-9A-F]{4})H \| [^|]* \| (u16|float32) \|", line)
    if m:
        a = int(m.group(1), 16)
        fmt[a] = m.group(2)
        served.update([a, a + 1] if m.group(2) == "float32" else [a])
if len(fmt) < 300:
    fail(f"only {len(fmt)} registers parsed from {DOC}")

# The whole map, chunks of at most 125 registers.
c = client()
regs = {}
chunks = ok = 0
for lo, hi in ((0x0000, 0x019F), (0x1000, 0x130D)):
    a = lo
    while a <= hi:
        n = min(125, hi + 1 - a)
        r = c.read_holding_registers(a, n, slave=1)
        chunks += 1
        any_served = any(x in served for x in range(a, a + n))
        if r.isError():
            code = getattr(r, "exception_code", None)
            if any_served or code != 2:
                fail(f"read {a:04X}H+{n}: {r}")
        else:
            if not any_served:
                fail(f"read {a:04X}H+{n} touches no served register but was answered")
            if len(r.registers) != n:
                fail(f"read {a:04X}H+{n}: {len(r.registers)} registers")
            ok += 1
            regs.update({a + k: v for k, v in enumerate(r.registers)})
        a += n
print(f"  map read: {chunks} chunks of <= 125 registers, {ok} answered, {len(served)} served registers in the doc")

def f32(a):
    return struct.unpack(">f", struct.pack(">HH", regs[a], regs[a + 1]))[0]

def near(name, v, want, tol):
    if abs(v - want) > tol:
        fail(f"{name} = {v} (want {want} +- {tol})")
    print(f"  {name} = {v:.6g}")

near("U", f32(0x30), 230.0, 1.15)
near("I", f32(0x32), 5.0, 0.025)
near("P", f32(0x34), 575.0, 2.9)
near("PF", f32(0x3A), 0.5, 0.0025)
near("F", f32(0x3C), 50.0, 0.25)
# Energy: 2 or 3 one-second windows of 575 W booked at 12:00 (rate 1 of the default schedule).
imp = f32(0x82)
if not (0.5 * 575 / 3.6e6 <= imp <= 4 * 575 / 3.6e6):
    fail(f"active import {imp} kWh not 1..4 windows of 575 W")
near("combined active = import", f32(0x80), imp, 1e-9)
near("rate 1 (sharp) = total", f32(0x8C), imp, 1e-9)
for k, a in enumerate((0x8E, 0x90, 0x92)):
    near(f"rate {k + 2} combined", f32(a), 0.0, 0.0)
near("import rate 1 (1040H)", f32(0x1040), imp, 1e-9)
near("export (0084H)", f32(0x84), 0.0, 0.0)
near("rate in force (1024H)", regs[0x1024], 1, 0)
near("map version (101AH)", regs[0x101A], 3, 0)
near("address (0001H)", regs[0x0001], 1, 0)
near("baud code (0002H)", regs[0x0002], 4, 0)
near("clock hour (100BH)", regs[0x100B], 12, 0)

# Relay: FC05 close, FC01 reads 1 (and 1022H); open again. DI: FC02.
for state in (True, False, True):
    r = c.write_coil(1, state, slave=1)
    if r.isError():
        fail(f"FC05 {state}: {r}")
    r = c.read_coils(1, 1, slave=1)
    if r.isError() or bool(r.bits[0]) != state:
        fail(f"FC01 after FC05 {state}: {r}")
    h = c.read_holding_registers(0x1022, 1, slave=1)
    if h.isError() or h.registers[0] != int(state):
        fail(f"1022H after FC05 {state}: {h}")
print("  relay: FC05 close/open/close read back with FC01 and 1022H")
r = c.read_discrete_inputs(1, 1, slave=1)
if r.isError() or not r.bits[0]:
    fail(f"FC02 DI: {r}")
r = c.read_coils(2, 1, slave=1)
if not r.isError() or r.exception_code != 2:
    fail(f"FC01 coil 2 should give exception 02: {r}")
r = c.read_input_registers(0x30, 2, slave=1)
if not r.isError() or r.exception_code != 1:
    fail(f"FC04 should give exception 01: {r}")
print("  DI = 1 (FC02); coil 2 -> exception 02; FC04 -> exception 01")

# Bad clients are dropped without harm to the others.
def raw(data, expect_close=True):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    try:
        s.sendall(data)
        got = s.recv(300)
    except socket.timeout:
        got = None
    except (ConnectionResetError, BrokenPipeError):
        got = b""  # closed with our bytes unread: a reset
    s.close()
    if expect_close and got != b"":
        fail(f"garbage {data[:16].hex()} not dropped: got {got!r}")
    return got
raw(bytes([0, 1, 0, 5, 0, 6, 1, 3, 0, 0x30, 0, 2]))          # protocol id 5
raw(bytes([0, 1, 0, 0, 0, 0, 1]))                            # length 0
raw(bytes([0, 1, 0, 0, 0x01, 0x00, 1]) + bytes(300))         # length 256
got = raw(bytes([0x12, 0x34, 0, 0, 0, 2, 1, 0x03]), expect_close=False)  # FC03 without its fields
if got is None or got[:2] != b"\x12\x34" or got[7:9] != b"\x83\x03":
    fail(f"short FC03 should give exception 03 with transaction id 1234: {got!r}")
# Pipelined requests on one connection, each answered with its own transaction id.
s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
s.sendall(b"".join(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, 0x30, 2) for tid in (7, 8, 9)))
buf = b""
while len(buf) < 3 * 13:
    d = s.recv(100)
    if not d:
        break
    buf += d
s.close()
tids = [struct.unpack(">H", buf[k:k + 2])[0] for k in range(0, len(buf), 13)]
if tids != [7, 8, 9]:
    fail(f"pipelined transaction ids {tids}")
# 300 pipelined in one send: the server serves 4 of a client per poll, the rest wait in its
# buffer and socket for the next polls (which then do not wait): all answered, in order.
s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
t0 = time.monotonic()
s.sendall(b"".join(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, 0x30, 2) for tid in range(1000, 1300)))
buf = b""
while len(buf) < 300 * 13:
    d = s.recv(4096)
    if not d:
        break
    buf += d
s.close()
tids = [struct.unpack(">H", buf[k:k + 2])[0] for k in range(0, len(buf), 13)]
if tids != list(range(1000, 1300)):
    fail(f"300 pipelined requests: {len(tids)} answered, in order: {tids == sorted(tids)}")
print(f"  300 pipelined requests on one connection answered in order in {1000 * (time.monotonic() - t0):.0f} ms "
      "(4 per poll)")
# More connections than slots (32): the surplus is closed at once, the others keep working.
# "At once" is when the server next runs: counted until 8 are seen closed (up to 30 s), not
# after a fixed sleep that a loaded machine can outlast.
socks = [socket.create_connection(("127.0.0.1", PORT), timeout=10) for _ in range(40)]
for s in socks:
    s.setblocking(False)
open_socks, closed = list(socks), 0
deadline = time.monotonic() + 30
while closed < 8 and time.monotonic() < deadline:
    time.sleep(0.05)
    still = []
    for s in open_socks:
        try:
            if s.recv(10) == b"":
                closed += 1
                continue
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
            continue
        still.append(s)
    open_socks = still
for s in socks:
    s.close()
if closed < 8:
    fail(f"only {closed} of 40 connections closed (32 slots)")
r = c.read_holding_registers(0x30, 2, slave=1)
if r.isError():
    fail(f"read after garbage and surplus clients: {r}")
print(f"  garbage clients dropped; pipelining keeps transaction ids; {closed} of 40 surplus connections refused")
c.close()

# Several clients at once: 4 processes x 2000 FC03 reads of 14 registers.
N_CLIENTS, N_READS = 4, 2000
expected = [regs[0x30 + k] for k in range(14)]

def worker(q):
    try:
        cl = client()
        bad = 0
        for _ in range(N_READS):
            r = cl.read_holding_registers(0x30, 14, slave=1)
            if r.isError() or r.registers != expected:
                bad += 1
        cl.close()
        q.put(bad)
    except BaseException as e:  # noqa
        q.put(f"{e!r}")

q = multiprocessing.Queue()
procs = [multiprocessing.Process(target=worker, args=(q,)) for _ in range(N_CLIENTS)]
t0 = time.monotonic()
for p in procs:
    p.start()
res = [q.get(timeout=120) for _ in procs]
dt = time.monotonic() - t0
for p in procs:
    p.join(10)
if any(x != 0 for x in res):
    fail(f"concurrent clients: {res}")
print(f"  {N_CLIENTS} concurrent pymodbus clients x {N_READS} FC03 reads of 14 registers: all correct, "
      f"{N_CLIENTS * N_READS / dt:.0f} requests/s ({dt:.2f} s)")

# The same with raw sockets (one request in flight per client), closer to the server's own rate.
def raw_worker(q):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    bad = 0
    for tid in range(N_READS * 5):
        s.sendall(struct.pack(">HHHBBHH", tid & 0xFFFF, 0, 6, 1, 3, 0x30, 14))
        d = b""
        while len(d) < 9 + 28:
            part = s.recv(64)
            if not part:
                break
            d += part
        if struct.unpack(">H", d[:2])[0] != tid & 0xFFFF or len(d) != 37:
            bad += 1
    s.close()
    q.put(bad)

procs = [multiprocessing.Process(target=raw_worker, args=(q,)) for _ in range(N_CLIENTS)]
t0 = time.monotonic()
for p in procs:
    p.start()
res = [q.get(timeout=120) for _ in procs]
dt = time.monotonic() - t0
for p in procs:
    p.join(10)
if any(x != 0 for x in res):
    fail(f"concurrent raw clients: {res}")
print(f"  {N_CLIENTS} concurrent raw-socket clients x {N_READS * 5} FC03 reads of 14 registers: all correct, "
      f"{N_CLIENTS * N_READS * 5 / dt:.0f} requests/s ({dt:.2f} s)")
EOF

# --- random input: TCP (valid headers with random PDUs, and pure noise) and the RTU line ---
echo "random input:"
"$PY" - "$PORT" "$PTY_C" "$PTY_S" "$TMP/server.out" <<'PYEOF' || exit 1
import fcntl, os, random, socket, struct, sys, termios, time
port, pty, pty_server, server_out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rnd = random.Random(20240306)
answered = 0
for k in range(300):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    if k % 3 == 0:
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400)))
    else:  # a well-formed MBAP header around a random PDU; no write function codes (5, 6, 15, 16)
        fc = rnd.choice([1, 2, 3, 4, 7, 0x2B, 0x80, rnd.randrange(256)])
        fc = 3 if fc in (5, 6, 15, 16) else fc
        pdu = bytes([fc]) + \
              bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 252)))
        data = struct.pack(">HHHB", k, 0, len(pdu) + 1, 1) + pdu
    try:
        s.sendall(data)
        s.settimeout(0.2)
        if s.recv(300):
            answered += 1
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    s.close()
fd = os.open(pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
for k in range(100):
    os.write(fd, bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))))
    time.sleep(0.01)

def drain():  # whatever the server answered to the noise
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass

# A pty keeps no timing, so noise still queued when the next request arrives would run into
# it: wait (up to 30 s, for a loaded machine) until the server has read every byte (its end
# of the pty holds nothing) and its framer has reported nothing new for 0.5 s.
srv = os.open(pty_server, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
def queued():
    return struct.unpack("i", fcntl.ioctl(srv, termios.TIOCINQ, b"\0" * 4))[0]
deadline = time.monotonic() + 30
last, quiet_since = None, time.monotonic()
while True:
    drain()
    now, size = time.monotonic(), os.path.getsize(server_out)
    if queued() != 0 or size != last:
        last, quiet_since = size, now
    elif now - quiet_since >= 0.5:
        break
    if now > deadline:
        print(f"FAIL: the server did not take the RTU noise in 30 s ({queued()} bytes queued)", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
drain()
os.close(srv)
os.close(fd)
print(f"  300 random TCP connections ({answered} answered), 100 random RTU bursts: sent")
PYEOF
kill -0 "$SERVER_PID" 2>/dev/null || fail "server died on random input: $(cat "$TMP/server.err")"
out=$(mb_rtu 9600 none -a 1 -r 49 -c 7 -t 4:float -B) || fail "mbpoll RTU read after random input: $out"
check_floats "$out" "RTU after random input"

# --- server still healthy, stats ------------------------------------------------
kill -0 "$SERVER_PID" 2>/dev/null || fail "server died: $(cat "$TMP/server.err")"
out=$(mb_tcp -a 1 -r 49 -c 7 -t 4:float -B) || fail "mbpoll TCP read at the end: $out"
check_floats "$out" "TCP at the end"
kill "$SERVER_PID"; wait "$SERVER_PID"; rc=$?; SERVER_PID=""
grep -v "^rtu frames:" "$TMP/server.out" # (one "rtu frames:" line per RTU frame left out)
[ "$rc" -eq 0 ] || fail "server exit status $rc: $(cat "$TMP/server.err")"
# The overshoot is a latency figure and belongs to a benchmark; here it only proves that
# a poll never blocks on a client (a blocking read would hang it for the client's whole
# timeout, seconds). A loaded 2-core machine delays a sanitized process by hundreds of ms
# (102, 116 and 346 ms were seen with a 100 ms bound), so the bound is 2 s: wide of any
# scheduling delay, far below a blocked read.
over=$(sed -n 's/^poll: longest overshoot of the timeout \([0-9.]*\) ms$/\1/p' "$TMP/server.out")
echo "posix_modbus: longest poll overshoot ${over:-?} ms (a figure, not a limit; bound 2000 ms)"
[ -n "$over" ] && awk -v o="$over" 'BEGIN { exit !(o < 2000) }' ||
    fail "a poll overran its timeout by ${over:-?} ms: it blocked (bound 2000 ms)"
grep -q "line changes 4 " "$TMP/server.out" || fail "RTU line changes: 4 expected (even, 4800, 9600, none)"
expect "$(cat "$TMP/server.out")" "^line: baud 9600 parity 0" "RTU line back to 9600 baud, no parity"
echo "posix_modbus: all passed"
