"""Access control and brute force (issue 14, points 1 and 2) against two running metersims.

  access_clients.py PORT_A PORT_B PTY_B LOCKOUT_MAX_S

A (PORT_A): a meter at its defaults, for the writes without the password. B (PORT_B,
and Modbus RTU on the pty PTY_B): the brute-force target. Both have the factory
password 6666 of a new meter.

1. B, TCP: 10 wrong passwords, each refused with exception 04; the 10th locks the TCP
   interface for 60 s (an MC_EV_AUTH lockout event, arg TCP, new = 60, read through
   1301H/1302H..130DH); then even the right password is refused (04), on this connection
   and on a new one (reconnecting does not help), and the log never holds a tried value.
2. B, RTU: the line has its own guard: 9 wrong passwords there do not lock it (the TCP
   ones do not count), the 10th does (60 s), and then the right one is refused.
3. A: with no password, every write is refused with exception 04 and changes nothing:
   address, baud, parity, clock, the tariff schedule, settlement day, pulse constant,
   relay, energy clear, calibration (a voltage gain of 0.5) and the seal; the
   registers, P and the energy read as before, and no change is logged.
4. A: one connection's login does not open another: the logged-in connection writes,
   another is refused.
5. B, once 60 s have passed since the lockout (the other steps run meanwhile): a
   connection left idle since the start was closed (idle timeout 60 s); the lockout is
   over: one wrong password is checked again and locks the interface for 120 s (the
   doubling), the right password refused at once after it. From the schedule seen
   (10 free tries, 60 s, then doubling, at most LOCKOUT_MAX_S per try) the time a full
   sweep of the 10 000 passwords takes is computed: it must be days at the least.
"""
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mbclient import (AUTH_LOCKOUT, AUTH_WRONG, EV_AUTH, IFACE_RTU, IFACE_TCP, PASSWORD, Client,  # noqa: E402
                      connect_when_up, refused)

PORT_A, PORT_B, PTY_B, LOCKOUT_MAX_S = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
WRONG = [1234, 2345, 3456, 4567, 5678, 7890, 8901, 9012, 1357, 2468, 9753, 8642]
failures = []


def check(cond, what):
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


def lockouts(c, iface):
    return [e for e in c.events(60) if e["type"] == EV_AUTH and e["qty"] == AUTH_LOCKOUT and e["arg"] == iface]


# --- RTU on the pty: FC 06 frames with the CRC, replies read until they are complete ------
def crc16(b):
    c = 0xFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


rtu_fd = os.open(PTY_B, os.O_RDWR | os.O_NOCTTY)


def rtu_write1(addr, value, unit=1):
    """FC 06 over RTU: None if written, else the exception code."""
    adu = struct.pack(">BBHH", unit, 6, addr, value)
    c = crc16(adu)
    os.write(rtu_fd, adu + bytes([c & 0xFF, c >> 8]))
    got = b""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        need = 5 if len(got) >= 2 and got[1] & 0x80 else 8
        if len(got) >= need:
            break
        r, _, _ = select.select([rtu_fd], [], [], 0.2)
        if r:
            got += os.read(rtu_fd, 64)
    if len(got) < 5 or crc16(got[:-2]) != (got[-2] | got[-1] << 8):
        raise AssertionError(f"RTU reply {got.hex()}")
    time.sleep(0.01)  # the line's silence before the next frame
    return got[2] if got[1] & 0x80 else None


# --- 1. B over TCP: brute force -------------------------------------------------------------
t_start = time.monotonic()
idle = socket.create_connection(("127.0.0.1", PORT_B), timeout=10)  # left idle, checked in step 5
b1 = connect_when_up(PORT_B)
codes = []
for k in range(10):
    codes.append(refused(b1.write1, 0x0000, WRONG[k]))
t_lock = time.monotonic()
check(codes == [4] * 10, f"TCP: 10 wrong passwords, each refused with exception 04 ({codes})")
lk = lockouts(b1, IFACE_TCP)
check(len(lk) == 1 and lk[0]["new"] == 60,
      f"TCP: locked out after the 10th: lockout event (arg TCP) for {lk[0]['new'] if lk else '?'} s")
wrong_logged = [e for e in b1.events(60) if e["type"] == EV_AUTH and e["qty"] == AUTH_WRONG]
tried = set(WRONG) | {PASSWORD}
leaked = [e for e in b1.events(60) if e["old"] in tried or e["new"] in tried]
check(len(wrong_logged) >= 1 and not leaked,
      f"TCP: wrong passwords logged ({len(wrong_logged)} events), no event holds a tried value")
code = refused(b1.login, PASSWORD)
check(code == 4, f"TCP: during the lockout the right password is refused too (exception {code})")
b2 = Client(PORT_B, unit=255)
code = refused(b2.login, PASSWORD)
code2 = refused(b2.write1, 0x0001, 9)
check(code == 4 and code2 == 4, f"TCP: reconnecting does not help: password {code}, address write {code2}")
b1.close()
b2.close()

# --- 2. B over RTU: its own guard, then its own lockout --------------------------------------
# (no right password here: on a logged-in session a write of 0000H is a password change)
c = Client(PORT_B, unit=255)
codes = [rtu_write1(0x0000, WRONG[k]) for k in range(9)]
none_yet = lockouts(c, IFACE_RTU)
codes.append(rtu_write1(0x0000, WRONG[9]))
lk = lockouts(c, IFACE_RTU)
check(codes == [4] * 10 and not none_yet and len(lk) == 1 and lk[0]["new"] == 60,
      f"RTU: its own count (the TCP lockout does not lock the line): 9 wrong passwords, no lockout; the 10th "
      f"locks it for {lk[0]['new'] if lk else '?'} s; each refused with exception 04 ({codes})")
code = rtu_write1(0x0000, PASSWORD)
check(code == 4, f"RTU: locked out, the right password refused (exception {code})")
c.close()

# --- 3. A: no write without the password ------------------------------------------------------
a = connect_when_up(PORT_A)
a.unit = 1


def state(c):
    regs = {}
    for lo, n in ((0x0000, 3), (0x1000, 5), (0x1008, 6), (0x1100, 4), (0x1110, 17), (0x1220, 10), (0x122A, 1),
                  (0x1022, 1)):
        for k, v in enumerate(c.read(lo, n)):
            regs[lo + k] = v
    return regs


# wait for energy, so that a clear would show
t = time.monotonic()
while a.read_f32(0x82) <= 0 and time.monotonic() - t < 30:
    time.sleep(0.2)
before = state(a)
e0, p0 = a.read_f32(0x82), a.read_f32(0x34)
n_events0 = a.read(0x1300)[0]
seq0 = a.event(0)["seq"]
attacks = [
    ("address (0001H)", lambda: a.write1(0x0001, 9)),
    ("baud (0002H)", lambda: a.write1(0x0002, 1)),
    ("parity (1000H)", lambda: a.write1(0x1000, 1)),
    ("clock (1008H..100DH)", lambda: a.write(0x1008, [2030, 1, 1, 0, 0, 0])),
    ("tariff schedule (1110H..)", lambda: a.write(0x1110, [1, 0, 2] + [0] * 14)),
    ("settlement day (1003H)", lambda: a.write1(0x1003, 20)),
    ("pulse constant (1002H)", lambda: a.write1(0x1002, 1)),
    ("relay (coil 0001H)", lambda: a.coil(0x0001, False)),
    ("energy clear (000CH = 55AAH)", lambda: a.write1(0x000C, 0x55AA)),
    ("calibration: voltage gain 0.5 (1220H)", lambda: a.write_f32(0x1220, 0.5)),
    ("seal (122AH)", lambda: a.write1(0x122A, 1)),
    ("password change (0000H..0001H, a wrong password first)", lambda: a.write(0x0000, [1111, 1])),
]
for what, fn in attacks:
    code = refused(fn)
    check(code == 4, f"no password: {what} refused with exception {code}")
after = state(a)
changed = {f"{k:04X}H": (before[k], after[k]) for k in before if before[k] != after[k] and not 0x1008 <= k <= 0x100D}
e1, p1 = a.read_f32(0x82), a.read_f32(0x34)
check(not changed and e1 >= e0 and abs(p1 - p0) < 0.01 * abs(p0) + 1,
      f"nothing changed: registers {changed or 'same'}, P {p0:.1f} -> {p1:.1f} W, energy {e0 * 1000:.3f} -> "
      f"{e1 * 1000:.3f} Wh (not cleared)")
clock = after[0x1008]
check(clock != 2030, f"clock still {clock}-{after[0x1009]:02d}-{after[0x100A]:02d}")
new_events = []
for k in range(a.read(0x1300)[0]):
    e = a.event(k)
    if e["seq"] <= seq0:
        break
    new_events.append(e)
changes = [e for e in new_events if e["type"] in (3, 4, 5, 6, 7)]
check(not changes, f"no change logged ({len(new_events)} new events: {[e['type'] for e in new_events]})")

# --- 4. A: one connection's login does not open another ---------------------------------------
other = Client(PORT_A, unit=255)
a.login()
code_other = refused(other.write1, 0x1003, 20)
code_a = refused(a.write1, 0x1003, 20)
check(code_other == 4 and code_a is None,
      f"one connection's login does not open another: other connection {code_other}, logged-in one {code_a}")
check(a.read(0x1003)[0] == 20, "settlement day 20 written by the logged-in connection")
a.write1(0x1003, before[0x1003])
other.close()
a.close()

# --- 5. B after the lockout: idle timeout, doubling, the sweep --------------------------------
# The idle connection is still open well before its 60 s (nothing closes it early)...
if t_start + 45 > time.monotonic():
    time.sleep(t_start + 45 - time.monotonic())
idle.settimeout(0.2)
try:
    early = idle.recv(10) == b""
except ConnectionResetError:
    early = True
except socket.timeout:
    early = False
check(not early, f"a connection idle for {time.monotonic() - t_start:.0f} s is still open")
wait = t_lock + 62 - time.monotonic()
print(f"  (waiting {max(wait, 0):.0f} s for the 60 s lockout to end)")
if wait > 0:
    time.sleep(wait)
idle.settimeout(5)
try:
    gone = idle.recv(10) == b""
except ConnectionResetError:
    gone = True
except socket.timeout:
    gone = False
check(gone, f"...and closed when idle for {time.monotonic() - t_start:.0f} s (idle timeout 60 s)")
b3 = Client(PORT_B, unit=255)
code = refused(b3.write1, 0x0000, WRONG[10])
lk = lockouts(b3, IFACE_TCP)
code2 = refused(b3.login, PASSWORD)
check(code == 4 and len(lk) == 2 and lk[0]["new"] == 120 and code2 == 4,
      f"TCP: after 60 s the lockout is over; one more wrong password locks it for "
      f"{lk[0]['new'] if lk else '?'} s (was {lk[1]['new'] if len(lk) > 1 else '?'} s), the right one refused ({code2})")
b3.close()
# The sweep, from the schedule seen: 10 free tries, then each try after a lockout that
# starts at the first one seen and doubles (the ratio seen), at most LOCKOUT_MAX_S.
first = lk[1]["new"] if len(lk) > 1 else 60
ratio = lk[0]["new"] / first if len(lk) > 1 else 2
total, lock = 0.0, float(first)
for k in range(10_000 - 10):
    total += lock
    lock = min(lock * ratio, LOCKOUT_MAX_S)
days = total / 86400
check(days > 3, f"a sweep of all 10 000 passwords over TCP takes {days:.0f} days ({days / 365.25:.1f} years): "
      f"10 free tries, lockouts of {first:.0f} s x {ratio:g} per try up to {LOCKOUT_MAX_S} s")

if failures:
    print("FAIL: " + "; ".join(failures), file=sys.stderr)
    sys.exit(1)
print("  access: all passed")
