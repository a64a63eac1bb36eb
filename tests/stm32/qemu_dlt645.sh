#!/usr/bin/env bash
# The STM32 firmware built with DL/T645-2007 on its RS485 line (MC_STM32_PROTOCOL=dlt645),
# under QEMU, driven by a DL/T645 master written here from the standard's facts (frame 68H
# A0..A5 68H C L DATA+33H CS 16H, BCD low byte first, replies C | 80H, errors C | C0H):
#   1. 13H to AA..AA returns the configured address;
#   2. 02010100 (voltage A, XXX.X V), 02020100 (current A, XXX.XXX A), 02030000 (total P,
#      XX.XXXX kW), 02060000 (PF, X.XXX) and 02800002 (frequency, XX.XX Hz) match the
#      board's synthetic load (230 V, 5 A, PF 0.5 inductive, 50 Hz);
#   3. 00010000 (forward active energy, 0.01 kWh) is the firmware's own count, truncated;
#   4. a 14H time write with a wrong password gets the error reply with the password bit,
#      and a frame with a bad checksum gets no reply.
#   tests/stm32/qemu_dlt645.sh build/stm32/ports/stm32/metercore-fw-qemu-netduinoplus2-dlt645.elf ADDRESS
set -u
FW=${1:?usage: qemu_dlt645.sh firmware.elf ADDRESS}
ADDR=${2:-000000000001}
for tool in qemu-system-arm socat; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed"; exit 1; }
done
[ -f "$FW" ] || { echo "FAIL: no firmware $FW"; exit 1; }
DIR=$(mktemp -d /tmp/mc-qemu-dlt.XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    echo "--- firmware log (USART1) ---"; cat "$DIR/uart1.log" 2>/dev/null
    exit 1
}
qemu-system-arm -M netduinoplus2 -kernel "$FW" -nographic -monitor none \
    -semihosting-config enable=on,target=native \
    -chardev socket,id=u1,path="$DIR/u1.sock",server=on,wait=on -serial chardev:u1 \
    -chardev socket,id=u2,path="$DIR/u2.sock",server=on,wait=on -serial chardev:u2 \
    >"$DIR/qemu.out" 2>&1 &
PIDS="$PIDS $!"
for n in 1 2; do
    for _ in $(seq 600); do [ -S "$DIR/u$n.sock" ] && break; sleep 0.05; done
    [ -S "$DIR/u$n.sock" ] || fail "QEMU did not open its serial socket u$n"
    socat pty,raw,echo=0,link="$DIR/ttyU$n" UNIX-CONNECT:"$DIR/u$n.sock" 2>>"$DIR/socat.out" &
    PIDS="$PIDS $!"
    for _ in $(seq 600); do [ -e "$DIR/ttyU$n" ] && break; sleep 0.05; done
    [ -e "$DIR/ttyU$n" ] || fail "socat did not create the pty ttyU$n"
    if [ "$n" = 1 ]; then
        cat "$DIR/ttyU1" >"$DIR/uart1.log" &
        PIDS="$PIDS $!"
    fi
done
for _ in $(seq 1200); do grep -q '^ready' "$DIR/uart1.log" 2>/dev/null && break; sleep 0.05; done
grep -q '^ready: DL/T645' "$DIR/uart1.log" || fail "firmware did not boot with DL/T645"
# the first windows (1 s each) have closed once the status line says so
for _ in $(seq 1200); do grep -q 'E+=' "$DIR/uart1.log" 2>/dev/null && break; sleep 0.05; done
sleep 3
timeout 120 /usr/bin/python3 - "$DIR/ttyU2" "$ADDR" "$DIR/uart1.log" <<'PYEOF' || fail "DL/T645 master"
import os, select, sys, termios, time
dev, text = sys.argv[1], sys.argv[2]
addr = bytes(int(text[10 - 2 * k:12 - 2 * k], 16) for k in range(6))
fd = os.open(dev, os.O_RDWR | os.O_NOCTTY)
a = termios.tcgetattr(fd)
a[0] = a[1] = a[3] = 0
a[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
termios.tcsetattr(fd, termios.TCSANOW, a)
bad = []

def frame(ad, c, data=b""):
    body = b"\x68" + ad + b"\x68" + bytes([c, len(data)]) + bytes((x + 0x33) & 0xFF for x in data)
    return b"\xFE\xFE\xFE\xFE" + body + bytes([sum(body) & 0xFF, 0x16])

def reply(timeout=10.0):
    buf, end = b"", time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            buf += os.read(fd, 512)
        i = buf.find(b"\x68")
        if i >= 0 and len(buf) >= i + 10 and len(buf) >= i + 12 + buf[i + 9]:
            f = buf[i:i + 12 + buf[i + 9]]
            assert f[7] == 0x68 and f[-1] == 0x16 and f[-2] == sum(f[:-2]) & 0xFF, f.hex()
            assert f[1:7] == addr, f"reply from {f[1:7].hex()}"
            return f[8], bytes((x - 0x33) & 0xFF for x in f[10:-2])
    return None

def ask(ad, c, data=b"", timeout=10.0):
    os.write(fd, frame(ad, c, data))
    return reply(timeout)

def bcd(b, dec, signed=False):
    b = bytearray(b)
    neg = signed and bool(b[-1] & 0x80)
    if signed:
        b[-1] &= 0x7F
    v = 0
    for x in reversed(b):
        v = v * 100 + (x >> 4) * 10 + (x & 15)
    return (-v if neg else v) / 10 ** dec

def read(di, n):
    d = di.to_bytes(4, "little")
    r = ask(addr, 0x11, d)
    if r is None or r[0] != 0x91 or r[1][:4] != d or len(r[1]) != 4 + n:
        bad.append(f"read {di:08X}: {r}")
        return b"\x00" * n
    return r[1][4:]

r = ask(b"\xAA" * 6, 0x13)
if r is None or r[0] != 0x93 or r[1] != addr:
    bad.append(f"13H read address: {r}")
checks = [("voltage A", 0x02010100, 2, 1, False, 230.0, 0.5), ("current A", 0x02020100, 3, 3, True, 5.0, 0.01),
          ("total P kW", 0x02030000, 3, 4, True, 0.575, 0.002), ("PF", 0x02060000, 2, 3, True, 0.5, 0.003),
          ("frequency", 0x02800002, 2, 2, False, 50.0, 0.02)]
for name, di, n, dec, sg, want, tol in checks:
    v = bcd(read(di, n), dec, sg)
    print(f"  {di:08X} {name}: {v:g} (load {want:g})")
    if abs(v - want) > tol:
        bad.append(f"{name}: {v}, expected {want} +- {tol}")
# forward active energy, 0.01 kWh: the firmware's own count (its status line, E+ in kWh) truncated
import re
log = open(sys.argv[3]).read()
e_fw = [float(x) for x in re.findall(r"E\+=([0-9.]+) kWh", log)]
e = bcd(read(0x00010000, 4), 2)
print(f"  00010000 forward active: {e} kWh (firmware log {e_fw[-1] if e_fw else None} kWh)")
if not e_fw or not (int(e_fw[0] * 100) / 100 - 1e-9 <= e <= int(e_fw[-1] * 100 + 1) / 100 + 1e-9):
    bad.append(f"forward active energy {e} kWh against the firmware's {e_fw}")
r = ask(addr, 0x14, (0x04000102).to_bytes(4, "little") + b"\x02\x34\x12\x00" + b"\x01\x02\x03\x04" + b"\x00\x00\x12")
if r is None or r[0] != 0xD4 or len(r[1]) != 1 or not (r[1][0] & 0x04):
    bad.append(f"14H with a wrong password: {r}")
else:
    print(f"  14H wrong password: error reply D4 {r[1][0]:02X}")
f = bytearray(frame(addr, 0x11, (0x02010100).to_bytes(4, "little")))
f[-2] ^= 0x01
os.write(fd, bytes(f))
if reply(3.0) is not None:
    bad.append("a frame with a bad checksum was answered")
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
print("  DL/T645 under QEMU: all checks passed")
PYEOF
grep -q "frames=" "$DIR/uart1.log" || fail "no status line"
echo "PASS"
