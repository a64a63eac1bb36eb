#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz_modbus.c into tests/fuzz/corpus/.

Input format (see fuzz_modbus.c): a flags byte, then either a request PDU
(flags bit 7 set) or (timing, byte) pairs for the RTU framer (timing 0x00 =
back to back, 0x02 = just over t1.5, 0x07 = poll when due then a new frame).
Run from anywhere; the files are small and committed.
"""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

BAUD9600 = 0x03  # flags bits 0-1: baud code - 1
PDU = 0x80


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def adu(addr, pdu):
    body = bytes([addr]) + bytes(pdu)
    return body + struct.pack("<H", crc16(body))


def framed(*adus, timing=0x00, flags=BAUD9600, gap_at=None):
    """Frames back to back; frames after the first start with a 'poll, new frame' timing."""
    out = bytearray([flags])
    for n, a in enumerate(adus):
        for i, b in enumerate(a):
            t = timing
            if i == 0 and n > 0:
                t = 0x07
            if gap_at is not None and i == gap_at:
                t = 0x02
            out += bytes([t, b])
    return bytes(out)


def rd(addr, qty, fc=0x03):
    return struct.pack(">BHH", fc, addr, qty)


def wr1(addr, value):
    return struct.pack(">BHH", 0x06, addr, value)


def wrn(addr, values):
    return struct.pack(">BHHB", 0x10, addr, len(values), 2 * len(values)) + b"".join(
        struct.pack(">H", v) for v in values)


SEEDS = {
    # framer mode, one request each, every function code
    "fc03_read_address": framed(adu(1, rd(0x0001, 1))),
    "fc03_read_voltage": framed(adu(1, rd(0x0030, 2))),
    "fc03_read_energy_months": framed(adu(1, rd(0x009C, 26))),
    "fc03_unmapped_ex02": framed(adu(1, rd(0x0500, 1))),
    "fc03_qty0_ex03": framed(adu(1, rd(0x0001, 0))),
    "fc01_read_relay": framed(adu(1, rd(0x0001, 1, fc=0x01))),
    "fc02_read_di": framed(adu(1, rd(0x0001, 1, fc=0x02))),
    "fc05_relay_close": framed(adu(1, struct.pack(">BHH", 0x05, 0x0001, 0xFF00))),
    "fc05_bad_value_ex03": framed(adu(1, struct.pack(">BHH", 0x05, 0x0001, 0x1234))),
    "fc06_write_address": framed(adu(1, wr1(0x0001, 5)), adu(5, rd(0x0001, 1))),
    "fc06_write_baud": framed(adu(1, wr1(0x0002, 3)), adu(1, rd(0x0002, 1))),
    "fc10_address_baud": framed(adu(1, wrn(0x0001, [17, 2]))),
    "fc10_parity_word_order": framed(adu(1, wrn(0x1000, [1, 1])), adu(1, rd(0x0030, 2))),
    "fc10_clock": framed(adu(1, wrn(0x1008, [2024, 6, 30, 23, 59, 58]))),
    "fc07_unsupported_ex01": framed(adu(1, bytes([0x07]))),
    "broadcast_write": framed(adu(0, wr1(0x0001, 9)), adu(9, rd(0x0001, 1))),
    "foreign_address": framed(adu(2, rd(0x0001, 1)), adu(1, rd(0x0001, 1))),
    "gap_in_frame": framed(adu(1, rd(0x0001, 1)), gap_at=4),
    "wrap_clock": framed(adu(1, rd(0x0030, 2)), flags=BAUD9600 | 0x10),
    # PDU mode
    "pdu_fc03_max": bytes([PDU | BAUD9600]) + rd(0x0000, 125),
    "pdu_fc10_unlock_and_write": bytes([PDU | BAUD9600 | 0x04]) + wrn(0x0000, [6666, 3]),
    "pdu_fc10_tou_profile": bytes([PDU | BAUD9600]) + wrn(0x1110, [3, 0x0000, 1, 0x0800, 2, 0x1200, 3]),
    "pdu_no_tariff_read_months": bytes([PDU | 0x10 | BAUD9600]) + rd(0x009C, 26),
    "pdu_fc10_calibration": bytes([PDU | BAUD9600]) + wrn(0x1220, [0x3F80, 0x0000, 0x3F80, 0x0000]),
}

os.makedirs(HERE, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(SEEDS), HERE))
