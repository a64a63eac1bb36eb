"""A small Modbus TCP client on plain sockets for the metersim attack tests.

Raw sockets rather than pymodbus: the tests need to see exactly what goes on the wire
(exception codes, transaction ids, pipelining, connections that send one byte a
second), and to keep each connection's session under their control (a pymodbus
client may reconnect by itself, which would start a new session).

Register addresses are 0-based protocol addresses, as in docs/REGISTERS.md.
"""
import socket
import struct
import time

# Event log fields as 1302H..130DH give them (docs/REGISTERS.md).
EV_POWER_UP, EV_PARAM, EV_ENERGY_CLEAR, EV_CALIBRATION, EV_AUTH = 1, 3, 4, 6, 13
AUTH_WRONG, AUTH_LOCKOUT, AUTH_REFUSED = 1, 2, 3
IFACE_RTU, IFACE_TCP = 1, 2
PASSWORD = 6666  # the factory default of a new metersim meter


class ModbusError(Exception):
    """An exception response: .code is the Modbus exception code (4: refused)."""

    def __init__(self, fc, code):
        super().__init__(f"function {fc:#04x}: exception {code:02d}")
        self.fc, self.code = fc, code


class Client:
    def __init__(self, port, unit=1, timeout=10.0, host="127.0.0.1"):
        self.unit = unit
        self.tid = 0
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        self.s.close()

    def _recv(self, n):
        d = b""
        while len(d) < n:
            part = self.s.recv(n - len(d))
            if not part:
                raise ConnectionError("closed by the server")
            d += part
        return d

    def pdu(self, pdu):
        """Send one request PDU, return the response PDU; raise ModbusError on an exception."""
        self.tid = (self.tid + 1) & 0xFFFF
        self.s.sendall(struct.pack(">HHHB", self.tid, 0, len(pdu) + 1, self.unit) + pdu)
        tid, proto, length, unit = struct.unpack(">HHHB", self._recv(7))
        resp = self._recv(length - 1)
        if tid != self.tid or proto != 0:
            raise ConnectionError(f"reply tid {tid} proto {proto} for tid {self.tid}")
        if resp[0] & 0x80:
            raise ModbusError(resp[0] & 0x7F, resp[1])
        return resp

    def read(self, addr, n=1):
        r = self.pdu(struct.pack(">BHH", 3, addr, n))
        return list(struct.unpack(">%dH" % n, r[2:2 + 2 * n]))

    def read_f32(self, addr):
        hi, lo = self.read(addr, 2)
        return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]

    def write1(self, addr, value):
        self.pdu(struct.pack(">BHH", 6, addr, value & 0xFFFF))

    def write(self, addr, values):
        vals = [v & 0xFFFF for v in values]
        self.pdu(struct.pack(">BHHB", 16, addr, len(vals), 2 * len(vals)) + struct.pack(">%dH" % len(vals), *vals))

    def write_f32(self, addr, value):
        hi, lo = struct.unpack(">HH", struct.pack(">f", value))
        self.write(addr, [hi, lo])

    def coil(self, addr, on):
        self.pdu(struct.pack(">BHH", 5, addr, 0xFF00 if on else 0))

    def login(self, password=PASSWORD):
        self.write1(0x0000, password)

    def event(self, index):
        """Event `index` (0 the newest) through the selector 1301H and 1302H..130DH."""
        self.write1(0x1301, index)
        r = self.read(0x1302, 12)
        return {"seq": r[0] << 16 | r[1], "time": r[2] << 16 | r[3], "type": r[4], "source": r[5],
                "qty": r[6], "arg": r[7], "old": r[8] << 16 | r[9], "new": r[10] << 16 | r[11]}

    def events(self, n=40):
        """The newest n events (fewer if the log holds fewer), newest first."""
        count = self.read(0x1300)[0]
        return [self.event(k) for k in range(min(n, count))]


def refused(fn, *args):
    """The exception code fn(*args) raised, or None if it succeeded."""
    try:
        fn(*args)
    except ModbusError as e:
        return e.code
    return None


def wait_for(cond, what, timeout=30.0, step=0.05):
    """Poll cond() until it is true (up to timeout seconds): the value, or raise with `what`."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(step)


def connect_when_up(port, timeout=30.0, unit=255):
    """A client once the server accepts connections and answers (up to timeout seconds).
    Unit 255 by default: served whatever the meter's address is."""
    end = time.monotonic() + timeout
    while True:
        try:
            c = Client(port, unit=unit)
            c.read(0x0001)
            return c
        except (OSError, ConnectionError):
            if time.monotonic() > end:
                raise
            time.sleep(0.1)
