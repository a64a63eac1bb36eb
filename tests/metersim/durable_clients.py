"""Acknowledged means durable, and demand survives (issue 14, points 4 and 5), against metersim.

  durable_clients.py METERSIM WORKDIR

Every case starts metersim (Modbus TCP on a free port), writes over the bus with the
password in the same connection, and kills it with SIGKILL right after the
acknowledgement (0 or 40 ms later, as the issue's attack did); then `metersim dump`
(the registers) and `metersim dump --events` (the log) of the state file must both show
the write, and agree:
- parameters: address, pulse constant, settlement day, a tariff day profile (each one
  acknowledged, logged and saved, none lost: before the fix 10 of 10 were lost);
- the seal: sealed after the cut, the calibration refused (04) even with the password;
  with --cal-switch (the jumper under the seal) it can be changed and unsealed again;
- an energy clear: the energy after the cut is what came after the clear (never the
  energy from before it coming back), and the log says "cleared".
Maximum demand (1032H) and the running demand (1030H), 2300 W of a constant load, read
the same after a clean stop (SIGTERM) and after a SIGKILL.
Nothing waits on time: each step waits (up to 30 s) for what it needs.
"""
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mbclient import (EV_CALIBRATION, EV_ENERGY_CLEAR, EV_PARAM, Client, connect_when_up, refused,  # noqa: E402
                      wait_for)

M, WORK = sys.argv[1], sys.argv[2]
QTY_ADDRESS, QTY_CLEAR, QTY_PULSE, QTY_SETTLE_DAY, QTY_TOU_COUNTS, QTY_TOU_PROFILE, QTY_CAL, QTY_SEAL = \
    20, 24, 25, 26, 39, 40, 44, 45
failures = []


def check(cond, what):
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        failures.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


started = []


@atexit.register
def leave_none_running():  # a failed check or an exception must not leave a metersim behind
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(30)


class Meter:
    """A metersim run on a state file, killed or stopped by the test."""

    def __init__(self, state, *extra, load="U=230,I=10,PF=1,F=50", speed="60"):
        self.port = free_port()
        self.log = open(os.path.join(WORK, "run.log"), "a")
        self.p = subprocess.Popen([M, "run", "--load", load, "--speed", speed, "--no-dashboard", "--state", state,
                                   "--modbus-tcp", f"127.0.0.1:{self.port}", *extra],
                                  stdout=self.log, stderr=self.log)
        started.append(self.p)
        self.c = connect_when_up(self.port)
        self.c.unit = 255  # whatever the address is now

    def kill9(self, after_s):
        if after_s > 0:
            time.sleep(after_s)
        os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(30)
        self.c.close()

    def stop(self):
        self.c.close()
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(60)
        check(rc == 0, f"SIGTERM: exit {rc}")


def dump(state):
    out = subprocess.run([M, "dump", "--state", state, "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def events(state):
    out = subprocess.run([M, "dump", "--state", state, "--events", "--json"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["events"]


def logged(evs, type_, qty, new=None):
    return [e for e in evs if e["type"] == type_ and e["qty"] == qty and (new is None or e["new"] == new)]


os.makedirs(WORK, exist_ok=True)

# --- parameters: acknowledged, then SIGKILL 0 or 40 ms later ---------------------------
print("parameters, SIGKILL right after the acknowledgement:")
st = os.path.join(WORK, "param.nvm")
cases = [
    ("address 17", lambda c: c.write(0x0000, [6666, 17]), 0x0001, 17, QTY_ADDRESS),
    ("pulse constant 3200", lambda c: (c.login(), c.write1(0x1002, 3200)), 0x1002, 3200, QTY_PULSE),
    ("settlement day 15", lambda c: (c.login(), c.write1(0x1003, 15)), 0x1003, 15, QTY_SETTLE_DAY),
    ("address 42", lambda c: c.write(0x0000, [6666, 42]), 0x0001, 42, QTY_ADDRESS),
    # day profile 0: 3 segments 00:00 rate 4, 08:00 rate 1, 20:00 rate 3 (17 registers, one FC 16)
    ("tariff day profile", lambda c: (c.login(), c.write(0x1110, [3, 0x0000, 4, 0x0800, 1, 0x1400, 3] + [0] * 10)),
     0x1111, None, None),
]
for k, (what, write, reg, value, qty) in enumerate(cases):
    m = Meter(st, "--start", "2026-03-02T08:00:00") if k == 0 else Meter(st)
    write(m.c)
    m.kill9(0.04 if k % 2 == 0 else 0)
    d, evs = dump(st), events(st)
    if value is not None:
        check(d[f"0x{reg:04X}"] == value and logged(evs, EV_PARAM, qty, value) != [],
              f"{what}: acknowledged, SIGKILL, restored {d[f'0x{reg:04X}']} and logged")
    else:
        segs = [d[f"0x{a:04X}"] for a in range(0x1110, 0x1117)]
        check(segs == [3, 0x0000, 4, 0x0800, 1, 0x1400, 3] and
              logged(evs, EV_PARAM, QTY_TOU_COUNTS) != [],
              f"{what}: acknowledged, SIGKILL, restored {segs} and logged (one schedule event)")

# --- the seal ------------------------------------------------------------------------------
print("the seal:")
st = os.path.join(WORK, "seal.nvm")
m = Meter(st, "--start", "2026-03-02T08:00:00")
m.c.login()
m.c.write_f32(0x1220, 1.001)  # unsealed: the calibration takes a write (with the password)
m.c.write1(0x122A, 1)
m.kill9(0.04)
d, evs = dump(st), events(st)
sealed = d["0x122A"]
check(sealed == 1 and logged(evs, EV_CALIBRATION, QTY_SEAL, 1) != [],
      f"seal acknowledged, SIGKILL: sealed {sealed}, logged {len(logged(evs, EV_CALIBRATION, QTY_SEAL, 1))}")
m = Meter(st)
m.c.login()
code = refused(m.c.write_f32, 0x1220, 0.5)
check(code == 4, f"sealed after the cut: the calibration refused with the password (exception {code})")
u = m.c.read_f32(0x1220)
check(abs(u - 1.001) < 1e-6, f"voltage gain still {u:.4f}")
m.stop()
m = Meter(st, "--cal-switch")
m.c.login()
code = refused(m.c.write_f32, 0x1220, 1.0)
check(code is None, f"--cal-switch: the sealed calibration takes a write (exception {code})")
code = refused(m.c.write1, 0x122A, 0)
check(code is None, f"--cal-switch: unsealed (exception {code})")
m.kill9(0)
d, evs = dump(st), events(st)
check(d["0x122A"] == 0 and abs(d["0x1220"] - 1.0) < 1e-6 and logged(evs, EV_CALIBRATION, QTY_SEAL, 0) != [],
      f"after SIGKILL: unsealed {d['0x122A'] == 0}, gain {d['0x1220']}, the unseal logged")

# --- energy clear --------------------------------------------------------------------------
print("energy clear:")
st = os.path.join(WORK, "clear.nvm")
m = Meter(st, "--start", "2026-03-02T08:00:00")
before = wait_for(lambda: (lambda e: e if e >= 0.030 else 0)(m.c.read_f32(0x82)), "30 Wh registered", 60)
m.c.login()
t = time.monotonic()
m.c.write1(0x000C, 0x55AA)
m.kill9(0.04)
since = time.monotonic() - t
d, evs = dump(st), events(st)
after = d["0x0082"]
cleared = logged(evs, EV_ENERGY_CLEAR, QTY_CLEAR)
# after the clear the meter counts again: 2300 W at 60x for `since` seconds, plus a window
bound = 2300 * 60 * (since + 1.5) / 3.6e6
check(cleared != [] and after <= bound and after < before,
      f"clear acknowledged, SIGKILL {since * 1000:.0f} ms later: {before * 1000:.1f} Wh before, "
      f"{after * 1000:.3f} Wh restored (at most {bound * 1000:.1f} Wh counted since), logged {len(cleared)}")

# --- maximum demand ------------------------------------------------------------------------
print("maximum demand (1030H, 1032H):")
st = os.path.join(WORK, "demand.nvm")
m = Meter(st, "--start", "2026-03-02T08:00:00", speed="600")
wait_for(lambda: m.c.read_f32(0x1032) > 2290 and m.c.read_f32(0x1030) > 2290, "demand 2300 W", 60)
live = (m.c.read_f32(0x1030), m.c.read_f32(0x1032))
m.stop()
d = dump(st)
check(abs(d["0x1032"] - 2300) < 10 and abs(d["0x1030"] - 2300) < 10,
      f"clean stop: live {live[0]:.1f} / {live[1]:.1f} W, restored {d['0x1030']:.1f} / {d['0x1032']:.1f} W")
m = Meter(st, speed="600")
got = (m.c.read_f32(0x1030), m.c.read_f32(0x1032))
check(abs(got[1] - 2300) < 10, f"restarted: maximum demand {got[1]:.1f} W at once, demand {got[0]:.1f} W")
time.sleep(1.0)
m.kill9(0)
d = dump(st)
check(abs(d["0x1032"] - 2300) < 10 and abs(d["0x1030"] - 2300) < 10,
      f"SIGKILL: restored {d['0x1030']:.1f} / {d['0x1032']:.1f} W")
st = os.path.join(WORK, "demand2.nvm")
m = Meter(st, "--start", "2026-03-02T08:00:00", speed="600")
wait_for(lambda: m.c.read_f32(0x1032) > 2290, "maximum demand 2300 W", 60)
m.kill9(0.5)
d = dump(st)
check(abs(d["0x1032"] - 2300) < 10, f"a first run killed (SIGKILL): maximum demand {d['0x1032']:.1f} W restored")

if failures:
    print("FAIL: " + "; ".join(failures), file=sys.stderr)
    sys.exit(1)
print("  durable: all passed")
