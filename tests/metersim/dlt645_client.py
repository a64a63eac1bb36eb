"""A DL/T 645-2007 master for the metersim tests, written from the standard's facts alone
(DL/T 645-2007 section 4: 68H, address low byte first, 68H, C, L, data + 33H, sum mod 256,
16H; replies C | 80H, D6 for an error with the ERR byte; BCD low byte first; appendix A for
the identifiers and formats), never from the slave's code. Expected values are read from the
same meter over Modbus TCP (mbclient.py, the native map of docs/REGISTERS.md).

    dlt645_client.py tcp HOST:PORT MODBUS_PORT ADDRESS [reads]
    dlt645_client.py serial DEVICE MODBUS_PORT ADDRESS [reads]

With `reads`, only the reads, the malformed frames and the error replies (nothing that takes
the meter's audit budget, which every interface shares: six metrological changes in a burst).
"""
import socket
import struct
import sys
import time

import mbclient

WILD = bytes([0xAA] * 6)
BCAST = bytes([0x99] * 6)
PASSWORD = 6666


def fail(msg):
    sys.exit("FAIL: " + msg)


def addr_bytes(text):
    """12 digits, most significant first -> 6 BCD bytes, lowest first."""
    return bytes(int(text[i:i + 2], 16) for i in range(10, -1, -2))


def frame(addr, c, data=b""):
    f = bytes([0x68]) + addr + bytes([0x68, c, len(data)]) + bytes((b + 0x33) & 0xFF for b in data)
    return f + bytes([sum(f) & 0xFF, 0x16])


def bcd(b, sign=False):
    """Little-endian BCD to int; with sign, the top bit of the last byte is the sign."""
    v, neg = 0, False
    for i, x in enumerate(reversed(b)):
        if sign and i == 0:
            neg, x = bool(x & 0x80), x & 0x7F
        if (x >> 4) > 9 or (x & 15) > 9:
            raise ValueError(f"not BCD: {b.hex()}")
        v = v * 100 + (x >> 4) * 10 + (x & 15)
    return -v if neg else v


def to_bcd(v, n):
    return bytes(((v // 10 ** (2 * k + 1)) % 10) << 4 | (v // 10 ** (2 * k)) % 10 for k in range(n))


def di(v):
    return struct.pack("<I", v)


class Link:
    def __init__(self, mode, where):
        self.mode = mode
        if mode == "tcp":
            host, port = where.rsplit(":", 1)
            self.s = socket.create_connection((host, int(port)), timeout=5)
        else:
            import serial  # python3-serial
            try:
                self.s = serial.Serial(where, 2400, parity=serial.PARITY_EVEN, timeout=0.05)
            except (serial.SerialException, OSError, ValueError):
                # a pty cannot carry parity: the speed alone (the meter's side does the same)
                self.s = serial.Serial(where, 2400, timeout=0.05)

    def send(self, b):
        if self.mode == "tcp":
            self.s.sendall(b)
        else:
            self.s.write(b)
            self.s.flush()

    def recv_some(self, deadline):
        if self.mode == "tcp":
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                return self.s.recv(512)
            except socket.timeout:
                return b""
        return self.s.read(512)

    def reply(self, timeout=3.0):
        """One reply frame (preamble FEH skipped), or None if nothing came."""
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            buf += self.recv_some(deadline)
            while buf[:1] == b"\xfe":
                buf = buf[1:]
            if len(buf) >= 10 and len(buf) >= 12 + buf[9]:
                f = buf[:12 + buf[9]]
                if f[0] != 0x68 or f[7] != 0x68 or f[-1] != 0x16 or sum(f[:-2]) & 0xFF != f[-2]:
                    fail(f"malformed reply {buf.hex()}")
                if len(buf) > len(f):
                    fail(f"bytes after the reply: {buf.hex()}")
                return f[1:7], f[8], bytes((x - 0x33) & 0xFF for x in f[10:-2])
        if buf:
            fail(f"incomplete reply {buf.hex()}")
        return None

    def request(self, addr, c, data=b"", timeout=3.0, preamble=True):
        self.send((b"\xfe\xfe\xfe\xfe" if preamble else b"") + frame(addr, c, data))
        return self.reply(timeout)


class Master:
    def __init__(self, link, address):
        self.l = link
        self.a = address

    def read(self, v):
        r = self.l.request(self.a, 0x11, di(v))
        if r is None:
            fail(f"no reply to a read of {v:08X}")
        a, c, d = r
        if a != self.a:
            fail(f"reply from {a.hex()} to {v:08X}")
        if c == 0xD1:
            return None, d
        if c not in (0x91, 0xB1) or d[:4] != di(v):
            fail(f"read {v:08X}: C {c:02X} data {d.hex()}")
        return c, d[4:]

    def value(self, v, n, scale, sign=False):
        c, d = self.read(v)
        if c is None or len(d) != n:
            fail(f"{v:08X}: {d.hex() if d else d} (expected {n} bytes)")
        return bcd(d, sign) / scale

    def auth(self, pw=PASSWORD, level=2):
        return bytes([level]) + to_bcd(pw, 3) + bytes([0x78, 0x56, 0x34, 0x12])

    def cmd(self, c, data, addr=None):
        r = self.l.request(addr or self.a, c, data)
        if r is None:
            fail(f"no reply to {c:02X}")
        return r


def close(a, b, tol, what):
    if abs(a - b) > tol:
        fail(f"{what}: {a} against {b} (tolerance {tol})")


def main():
    mode, where, mb_port, address = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    A = addr_bytes(address)
    link = Link(mode, where)
    m = Master(link, A)
    mb = mbclient.Client(mb_port)

    # 13H with AA..AA gives the address; replies come from it
    a, c, d = m.cmd(0x13, b"", addr=WILD)
    if c != 0x93 or d != A or a != A:
        fail(f"read address: C {c:02X} {d.hex()}")

    # every implemented identifier, against the same meter over Modbus TCP
    u = m.value(0x02010100, 2, 10)
    close(u, mb.read_f32(0x30), 0.15, "U phase A")
    close(m.value(0x02020100, 3, 1000, True), mb.read_f32(0x32), 0.01, "I phase A")
    close(m.value(0x02030000, 3, 10000, True), mb.read_f32(0x34) / 1000, 0.002, "P total")
    close(m.value(0x02030100, 3, 10000, True), mb.read_f32(0x34) / 1000, 0.002, "P phase A")
    close(m.value(0x02040000, 3, 10000, True), mb.read_f32(0x36) / 1000, 0.002, "Q total")
    close(m.value(0x02050000, 3, 10000, True), mb.read_f32(0x38) / 1000, 0.002, "S total")
    close(m.value(0x02060000, 2, 1000, True), mb.read_f32(0x3A), 0.002, "PF total")
    close(m.value(0x02800002, 2, 100), mb.read_f32(0x3C), 0.02, "frequency")
    close(u, 230.0, 1.0, "U against the load")
    for phase in (2, 3):
        if m.value(0x02010000 | phase << 8, 2, 10) != 0:
            fail(f"voltage of phase {phase} on a single-phase meter")
    for v, n in ((0x0201FF00, 6), (0x0202FF00, 9), (0x0203FF00, 12), (0x0204FF00, 12), (0x0205FF00, 12),
                 (0x0206FF00, 8)):
        c, d = m.read(v)
        if c != 0x91 or len(d) != n:
            fail(f"block {v:08X}: {len(d)} bytes")
    m.value(0x02800001, 3, 1000, True)
    m.value(0x02800004, 3, 10000, True)
    m.value(0x02800006, 3, 10000, True)
    for kind, reg, sign in ((0, 0x80, True), (1, 0x82, False), (2, 0x84, False), (3, 0x88, True), (4, 0x8A, True)):
        for rate in range(5):
            e = m.value(kind << 16 | rate << 8, 4, 100, sign)
            if rate == 0:
                close(e, mb.read_f32(reg), 0.02, f"energy kind {kind}")
        c, d = m.read(kind << 16 | 0xFF00)
        if c != 0x91 or len(d) != 20:
            fail(f"energy block {kind}")
    for q in range(4):
        m.value(0x00050000 + (q << 16), 4, 100)
    for month in range(1, 13):
        m.value(month, 4, 100, True)
    # the whole combined energy table (13 x 5 x 4 = 260 bytes) in a read and its follow-ups
    c, d = m.read(0x0000FFFF)
    total = len(d)
    seq = 1
    while c in (0xB1, 0xB2):
        a, c, d = m.cmd(0x12, di(0x0000FFFF) + bytes([seq]))
        if c not in (0x92, 0xB2) or d[:4] != di(0x0000FFFF) or d[-1] != seq:
            fail(f"follow-up {seq}: C {c:02X}")
        total += len(d) - 5
        seq += 1
    if total != 260 or seq < 2:
        fail(f"combined energy table: {total} bytes in {seq} frames")
    c, d = m.read(0x01010000)
    if c != 0x91 or len(d) != 8:
        fail("maximum demand")
    close(bcd(d[:3]) / 10000, mb.read_f32(0x1032) / 1000, 0.001, "maximum demand")
    c, d = m.read(0x010100FF)
    if len(d) != 104:
        fail("maximum demand block")
    c, d = m.read(0x04000101)
    y, mo, day = mb.read(0x1008, 3)
    if (bcd(d[3:4]) + 2000, bcd(d[2:3]), bcd(d[1:2])) != (y, mo, day):
        fail(f"date {d.hex()} against {y}-{mo}-{day}")
    c, d = m.read(0x04000102)
    hh, mi, ss = mb.read(0x100B, 3)
    close(bcd(d[2:3]) * 3600 + bcd(d[1:2]) * 60 + bcd(d[0:1]), hh * 3600 + mi * 60 + ss, 3, "time")
    c, d = m.read(0x04000401)
    if d != A:
        fail("address 04000401")
    for v, n in ((0x04000703, 1), (0x04000B01, 2), (0x03300000, 3), (0x03300001, 50), (0x03300100, 3),
                 (0x03300101, 106), (0x03300200, 3),
                 (0x03300300, 3), (0x03300301, 14), (0x03300400, 3), (0x03300401, 16)):
        c, d = m.read(v)
        if c != 0x91 or len(d) != n:
            fail(f"{v:08X}: {len(d)} bytes")
    print("  read every identifier: values agree with Modbus")

    # malformed frames and frames for others: no reply, no change
    f = frame(A, 0x11, di(0x02010100))
    bad = [f[:-2] + bytes([f[-2] ^ 1, 0x16]),             # checksum
           f[:9] + bytes([f[9] + 1]) + f[10:],            # length
           f[:-3],                                        # truncated
           f[:-1] + b"\x17",                              # end byte
           frame(bytes([A[0] ^ 1]) + A[1:], 0x11, di(0x02010100)),  # another meter
           frame(BCAST, 0x11, di(0x02010100))]            # a read broadcast
    for b in bad:
        link.send(b)
        r = link.reply(timeout=1.2)
        if r is not None:
            fail(f"reply to a frame that must get none: {b.hex()}")
    clock0 = mb.read(0x1008, 6)
    w = frame(A, 0x14, di(0x04000102) + m.auth() + bytes([0x00, 0x00, 0x00]))
    link.send(w[:-2] + bytes([w[-2] ^ 0x55, 0x16]))  # a write with a bad checksum
    if link.reply(timeout=1.2) is not None:
        fail("reply to a write with a bad checksum")
    clock1 = mb.read(0x1008, 6)
    if clock1[3] == 0 and clock1[4] == 0 and clock0[3:5] != [0, 0]:
        fail("the bad write set the clock")
    # garbage between frames, then a frame: answered
    link.send(b"\x00\x55\x68\x16\x33" + b"\xfe\xfe" + frame(A, 0x11, di(0x02800002)))
    r = link.reply()
    if r is None or r[1] != 0x91:
        fail("no answer after garbage")
    print("  malformed frames, foreign and broadcast reads: no reply, nothing changed")

    # a valid frame that cannot be served: the standard's error reply
    c, d = m.read(0x05FFFFFF)
    if c is not None or d != b"\x02":
        fail(f"unknown identifier: {c} {d.hex()}")
    a, c, d = m.cmd(0x14, di(0x04000B01) + m.auth(1111) + bytes([0x00, 0x01]))
    if c != 0xD4 or d != b"\x04":
        fail(f"wrong password: C {c:02X} {d.hex()}")
    a, c, d = m.cmd(0x17, bytes([0x40]))
    if c != 0xD7 or d not in (b"\x04", b"\x08"):
        fail(f"19200 baud: C {c:02X} {d.hex()}")
    print("  errors: D1H 02 no data, D4H 04 wrong password, D7H for a rate not offered")
    if len(sys.argv) > 5 and sys.argv[5] == "reads":
        mb.close()
        return

    # every control code
    a, c, d = m.cmd(0x14, di(0x04000B01) + m.auth() + bytes([0x00, 0x01]))  # settlement day 1, 00 h
    if c != 0x94:
        fail(f"14H: C {c:02X} {d.hex()}")
    a, c, d = m.cmd(0x16, bytes([0x00, 0x03, 0x02, 0x99]))  # monthly freeze: day 2, 03:00
    if c != 0x96:
        fail(f"16H: C {c:02X} {d.hex()}")
    c, d = m.read(0x04000B01)
    if d != bytes([0x03, 0x02]):
        fail(f"settlement after 16H: {d.hex()}")
    a, c, d = m.cmd(0x17, bytes([0x08]))  # 2400 (the rate in force)
    if c != 0x97 or d != b"\x08":
        fail(f"17H: C {c:02X} {d.hex()}")
    time.sleep(0.2)
    new = addr_bytes("000000000042")
    a, c, d = m.cmd(0x15, new, addr=WILD)
    if c != 0x95 or a != new:
        fail(f"15H: C {c:02X}")
    if m.l.request(A, 0x11, di(0x02800002), timeout=1.2) is not None:
        fail("the old address still answers")
    a, c, d = m.cmd(0x13, b"", addr=WILD)
    if d != new:
        fail("13H after 15H")
    a, c, d = m.cmd(0x15, A, addr=WILD)
    if c != 0x95:
        fail("15H back")
    pw = di(0x04000C03) + m.auth()[:4] + bytes([0x02]) + to_bcd(1234, 3)
    a, c, d = m.cmd(0x18, pw)
    if c != 0x98 or d != bytes([0x02]) + to_bcd(1234, 3):
        fail(f"18H: C {c:02X} {d.hex()}")
    mb.login(1234)  # the new password works on Modbus too: one password for the meter
    a, c, d = m.cmd(0x18, di(0x04000C03) + m.auth(1234)[:4] + bytes([0x02]) + to_bcd(PASSWORD, 3))
    if c != 0x98:
        fail("18H back")
    ev0 = mb.read(0x1300, 1)[0]
    a, c, d = m.cmd(0x19, m.auth())
    if c != 0x99:
        fail(f"19H: C {c:02X} {d.hex()}")
    if mb.read_f32(0x1032) != 0.0:
        fail("maximum demand after 19H")
    a, c, d = m.cmd(0x1A, m.auth(1))
    if c != 0xDA or d != b"\x04":
        fail("1AH without the password")
    before = mb.read_f32(0x80)
    a, c, d = m.cmd(0x1A, m.auth())
    if c != 0x9A:
        fail(f"1AH: C {c:02X} {d.hex()}")
    after = mb.read_f32(0x80)
    if not after < before or after > 0.01:
        fail(f"energy after 1AH: {before} -> {after}")
    if bcd(m.read(0x03300100)[1]) < 1:
        fail("meter clear count")
    a, c, d = m.cmd(0x1B, m.auth() + di(0xFFFFFFFF))
    if c != 0x9B:
        fail(f"1BH: C {c:02X} {d.hex()}")
    ev1 = mb.read(0x1300, 1)[0]
    if ev1 < ev0 + 2:
        fail(f"the clears are not in the event log: {ev0} -> {ev1}")
    # 08H: a small correction, no reply, logged as a clock set
    c, d = m.read(0x04000102)
    t = bcd(d[2:3]) * 3600 + bcd(d[1:2]) * 60 + bcd(d[0:1])
    c, dd = m.read(0x04000101)
    t2 = t + 40
    if t2 < 86400 - 60 and t > 60:
        b = to_bcd(t2 % 60, 1) + to_bcd(t2 // 60 % 60, 1) + to_bcd(t2 // 3600, 1) + dd[1:4]
        if link.request(BCAST, 0x08, b, timeout=1.0) is not None:
            fail("a reply to 08H")
        c, d = m.read(0x04000102)
        now = bcd(d[2:3]) * 3600 + bcd(d[1:2]) * 60 + bcd(d[0:1])
        close(now, t2, 3, "clock after 08H")
    print("  control codes 08H 11H 12H 13H 14H 15H 16H 17H 18H 19H 1AH 1BH: served, logged")
    mb.close()


if __name__ == "__main__":
    main()
