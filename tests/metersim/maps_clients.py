"""Real clients on the register maps metersim serves (issue 16): pymodbus reads the Eastron
SDM maps with FC 04 and the native map with FC 03 and compares them; a SunSpec walker,
written from the SunSpec model definitions (not from metersim's tables), discovers the meter
from 40000 and checks every model's ID, length and points.

    maps_clients.py PORT WIRING UNITS

UNITS: comma-separated NAME=UNIT of the maps to check (kpm31 is the native map on which the
others are checked), e.g. kpm31=1,sdm120=2,sunspec=3,sdm630=4.
Run with /usr/bin/python3 (Debian's python3-pymodbus).
"""
import math
import struct
import sys

from pymodbus.client import ModbusTcpClient

PORT, WIRING = int(sys.argv[1]), sys.argv[2]
UNITS = {k: int(v) for k, v in (x.split("=") for x in sys.argv[3].split(","))}
client = ModbusTcpClient("127.0.0.1", port=PORT, timeout=5)
assert client.connect(), "FAIL: pymodbus cannot connect"
failures = []


def call(fn, *a, unit):
    try:
        r = fn(*a, slave=unit)
    except TypeError:  # older pymodbus
        r = fn(*a, unit=unit)
    return r


def regs(fc, unit, addr, n):
    fn = client.read_input_registers if fc == 4 else client.read_holding_registers
    r = call(fn, addr, n, unit=unit)
    if r.isError():
        raise RuntimeError(f"FC {fc:02d} unit {unit} {addr:04X}H x {n}: {r}")
    return r.registers


def f32(words):  # float32, high word first (Eastron, SunSpec)
    return struct.unpack(">f", struct.pack(">HH", words[0], words[1]))[0]


def f32_at(fc, unit, addr):
    return f32(regs(fc, unit, addr, 2))


def near(what, got, want, rel):
    if not (abs(got - want) <= rel * max(abs(want), 1e-9)):
        failures.append(f"{what}: {got:.7g}, expected {want:.7g} (rel {rel})")
    return got


NATIVE = UNITS["kpm31"]
# The native map (docs/REGISTERS.md): U I P Q S PF F at 0030H.., energies at 0080H..
native = {name: f32_at(3, NATIVE, a) for name, a in
          [("U", 0x30), ("I", 0x32), ("P", 0x34), ("Q", 0x36), ("S", 0x38), ("PF", 0x3A), ("F", 0x3C),
           ("Ecomb", 0x80), ("Eimp", 0x82), ("Eexp", 0x84), ("Rcomb", 0x86), ("Rimp", 0x88), ("Rexp", 0x8A)]}
# Values of a live meter move between windows: measurements within 0.2 %, energies within 0.5 Wh.
MEAS = 2e-3


def energy_near(what, got, want):
    if not (abs(got - want) <= 0.0005 + 1e-6 * abs(want)):
        failures.append(f"{what}: {got:.7g} kWh, native {want:.7g} kWh")


if "sdm120" in UNITS:
    u = UNITS["sdm120"]
    # Eastron SDM120 input registers (FC 04): 30001 V, 30007 A, 30013 W, 30019 VA, 30025 var, 30031 PF,
    # 30071 Hz, 30073 import kWh, 30075 export kWh, 30077 import kvarh, 30079 export kvarh, 30343 total kWh.
    for name, a in [("U", 0x00), ("I", 0x06), ("P", 0x0C), ("S", 0x12), ("Q", 0x18), ("PF", 0x1E), ("F", 0x46)]:
        near(f"sdm120 {name} ({a:04X}H)", f32_at(4, u, a), native[name], MEAS)
    for name, a in [("Eimp", 0x48), ("Eexp", 0x4A), ("Rimp", 0x4C), ("Rexp", 0x4E), ("Ecomb", 0x156), ("Rcomb", 0x158)]:
        energy_near(f"sdm120 {name} ({a:04X}H)", f32_at(4, u, a), native[name])
    # A block over gaps (ESPHome reads blocks): zeros between the points.
    block = regs(4, u, 0x00, 0x50)
    if any(block[2:6]) or any(block[0x26:0x46]):
        failures.append("sdm120: a block read has non-zero gaps")
    # FC 03 on the measurements: not there (exception 02); the slave address is (holding 0014H).
    r = call(client.read_holding_registers, 0x00, 2, unit=u)
    if not r.isError() or getattr(r, "exception_code", None) != 2:
        failures.append(f"sdm120: FC 03 0000H should give exception 02, got {r}")
    near("sdm120 slave address (holding 0014H)", f32_at(3, u, 0x14), float(regs(3, NATIVE, 0x01, 1)[0]), 0)
    print(f"  sdm120 at unit {u}: U {f32_at(4, u, 0):.3f} V, P {f32_at(4, u, 0x0C):.2f} W, "
          f"import {f32_at(4, u, 0x48):.6f} kWh (native {native['Eimp']:.6f})")

if "sdm630" in UNITS:
    u = UNITS["sdm630"]
    ph = {"1p2w": 1, "1p3w": 2, "3p4w": 3, "3p3w": 2}.get(WIRING, 3)
    # The per-phase points against the native per-element block (1500H + 20H per quantity, + 2 per element).
    for q, (name, base) in enumerate([("U", 0x00), ("I", 0x06), ("P", 0x0C)]):
        for k in range(3):
            got = f32_at(4, u, base + 2 * k)
            want = f32_at(3, NATIVE, 0x1500 + 0x20 * q + 2 * k)
            near(f"sdm630 L{k + 1} {name} ({base + 2 * k:04X}H)", got, want, MEAS)
            if k >= ph and got != 0.0:
                failures.append(f"sdm630 L{k + 1} {name}: the meter has no such phase, reads {got}")
    near("sdm630 total P (0034H)", f32_at(4, u, 0x34), native["P"], MEAS)
    near("sdm630 total VA (0038H)", f32_at(4, u, 0x38), native["S"], MEAS)
    near("sdm630 Hz (0046H)", f32_at(4, u, 0x46), native["F"], MEAS)
    energy_near("sdm630 import (0048H)", f32_at(4, u, 0x48), native["Eimp"])
    print(f"  sdm630 at unit {u}: L1 {f32_at(4, u, 0):.3f} V, L2 {f32_at(4, u, 2):.3f} V, "
          f"L3 {f32_at(4, u, 4):.3f} V, total P {f32_at(4, u, 0x34):.2f} W")

if "sunspec" in UNITS:
    u = UNITS["sunspec"]
    # SunSpec: "SunS" (0x53756e53) at 40000, then models (ID, L, L registers of points) until ID 0xFFFF, L 0.
    # Common model 1: L 66: Mn 16, Md 16, Opt 8, Vr 8, SN 16 registers of strings, DA, Pad.
    # Meter models 211 (single phase), 212 (split phase), 213 (wye), 214 (delta), float: L 124:
    # A AphA AphB AphC, PhV PhVphA..C, PPV PPVphAB..CA, Hz, W WphA..C, VA .., VAR .., PF .., then
    # TotWhExp (+A..C), TotWhImp, TotVAhExp, TotVAhImp, TotVArhImpQ1, Q2, TotVArhExpQ3, Q4 (4 each), Evt u32.
    # Float models carry no scale factors (the integer models 201..204 do: none is served here).
    mark = regs(3, u, 40000, 2)
    if mark != [0x5375, 0x6E53]:
        raise SystemExit(f"FAIL: no SunS marker at 40000 ({mark})")
    want_meter = {"1p2w": 211, "1p3w": 212, "3p4w": 213, "3p3w": 214}[WIRING]
    at, models = 40002, []
    while True:
        mid, length = regs(3, u, at, 2)
        if mid == 0xFFFF:
            if length != 0:
                failures.append(f"sunspec: end model length {length}")
            break
        models.append((mid, length, at + 2))
        at += 2 + length
        if len(models) > 10 or at > 0xFFF0:
            raise SystemExit(f"FAIL: sunspec walk does not end: {models}")
    ids = [m[0] for m in models]
    if ids != [1, want_meter]:
        failures.append(f"sunspec: models {ids}, expected [1, {want_meter}]")
    for mid, length, base in models:
        if mid == 1:
            if length != 66:
                failures.append(f"sunspec: common model length {length}")
            c = regs(3, u, base, 66)
            text = lambda w: b"".join(struct.pack(">H", x) for x in w).rstrip(b"\0").decode()
            mn, sn = text(c[0:16]), text(c[48:64])
            if not mn:
                failures.append("sunspec: no manufacturer (Mn)")
            address = regs(3, NATIVE, 0x0001, 1)[0]  # the native map's slave address (0001H)
            if c[64] != address:  # DA: the device's Modbus address
                failures.append(f"sunspec: DA {c[64]}, the meter's address is {address}")
            print(f"  sunspec common: Mn '{mn}', Md '{text(c[16:32])}', Vr '{text(c[40:48])}', SN '{sn}'")
        else:
            if length != 124:
                failures.append(f"sunspec: meter model {mid} length {length}, expected 124")
            m = regs(3, u, base, 124)
            pts = [f32(m[2 * k:2 * k + 2]) for k in range(61)]
            nph = {211: 1, 212: 2, 213: 3, 214: 2}[mid]
            near("sunspec W", pts[13], native["P"], MEAS)
            near("sunspec Hz", pts[12], native["F"], MEAS)
            near("sunspec PhV (mean of the phases)", pts[4], native["U"], MEAS)
            near("sunspec PF", pts[25], native["PF"], MEAS)
            # energies in Wh: the native kWh x 1000
            if abs(pts[33] - 1000.0 * native["Eimp"]) > 0.5 + 1e-6 * pts[33]:
                failures.append(f"sunspec TotWhImp {pts[33]} Wh, native {native['Eimp']} kWh")
            for k in range(nph, 3):  # phases the meter does not have: not implemented (NaN)
                for p in (1, 5, 14, 18, 22, 26):
                    if not math.isnan(pts[p + k]):
                        failures.append(f"sunspec point {p + k} (phase {'ABC'[k]}): {pts[p + k]}, expected NaN")
            print(f"  sunspec meter model {mid}: W {pts[13]:.2f}, PhV {pts[4]:.3f} V, TotWhImp {pts[33]:.3f} Wh")

client.close()
if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("  maps: all points as the native map")
