#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/:
modbus, wav and schedule (storage seeds are real images: tests/fuzz/gen_storage.c).

fuzz_modbus.c: a flags byte, then either a request PDU (flags bit 7 set) or
(timing, byte) pairs for the RTU framer (timing 0x00 = back to back, 0x02 =
just over t1.5, 0x07 = poll when due then a new frame).
fuzz_wav.c: the WAV file itself.
fuzz_schedule.c: a flags byte, then operations (see its header comment).
Run from anywhere; the files are small and committed.
"""
import math
import os
import struct

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

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


# ---------------------------------------------------------------------------
# fuzz_wav.c: WAV files


def chunk(cid, body, size=None):
    size = len(body) if size is None else size
    pad = b"\0" if len(body) % 2 else b""
    return cid + struct.pack("<I", size) + body + pad


def fmt_body(tag, bits, rate=4000, channels=2, align=None, ext_tag=None):
    align = channels * (bits // 8) if align is None else align
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    if ext_tag is not None:  # WAVE_FORMAT_EXTENSIBLE: cbSize, valid bits, mask, GUID
        body += struct.pack("<HHI", 22, bits, 3) + struct.pack("<H", ext_tag) + \
            b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return body


def samples(bits, is_float, n, rate=4000):
    out = bytearray()
    for k in range(n):
        u = math.sin(2 * math.pi * 50 * k / rate)
        i = 0.3 * math.sin(2 * math.pi * 50 * k / rate - 0.5)
        for x in (u, i):
            if is_float:
                out += struct.pack("<f", x)
            elif bits == 16:
                out += struct.pack("<h", int(round(x * 32000)))
            elif bits == 24:
                out += struct.pack("<i", int(round(x * 8000000)))[:3]
            else:
                out += struct.pack("<i", int(round(x * 2000000000)))
    return bytes(out)


def wav(*chunks, riff_size=None):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


WAV_SEEDS = {
    "pcm16": wav(chunk(b"fmt ", fmt_body(1, 16)), chunk(b"data", samples(16, False, 200))),
    "pcm24": wav(chunk(b"fmt ", fmt_body(1, 24)), chunk(b"data", samples(24, False, 120))),
    "pcm32": wav(chunk(b"fmt ", fmt_body(1, 32)), chunk(b"data", samples(32, False, 100))),
    "float32": wav(chunk(b"fmt ", fmt_body(3, 32)), chunk(b"data", samples(32, True, 100)
                                                         + struct.pack("<ff", float("nan"), float("inf"))
                                                         + struct.pack("<ff", -2.0, 0.99999994))),
    "extensible_pcm24": wav(chunk(b"fmt ", fmt_body(0xFFFE, 24, ext_tag=1)),
                            chunk(b"data", samples(24, False, 80))),
    "extensible_float": wav(chunk(b"fmt ", fmt_body(0xFFFE, 32, ext_tag=3)),
                            chunk(b"data", samples(32, True, 80))),
    "list_odd_chunk": wav(chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00abcd\x00"), chunk(b"fmt ", fmt_body(1, 16)),
                          chunk(b"junk", b"x"), chunk(b"data", samples(16, False, 50))),
    "data_truncated": wav(chunk(b"fmt ", fmt_body(1, 16)), chunk(b"data", samples(16, False, 30), size=4000)),
    "data_partial_frame": wav(chunk(b"fmt ", fmt_body(1, 24)), chunk(b"data", samples(24, False, 10) + b"\x01\x02")),
    "data_before_fmt": wav(chunk(b"data", samples(16, False, 4)), chunk(b"fmt ", fmt_body(1, 16))),
    "mono_refused": wav(chunk(b"fmt ", fmt_body(1, 16, channels=1)), chunk(b"data", samples(16, False, 8))),
    "pcm8_refused": wav(chunk(b"fmt ", fmt_body(1, 8)), chunk(b"data", b"\x80" * 16)),
    "rate_500_refused": wav(chunk(b"fmt ", fmt_body(1, 16, rate=500)), chunk(b"data", samples(16, False, 8))),
    "align_refused": wav(chunk(b"fmt ", fmt_body(1, 16, align=6)), chunk(b"data", samples(16, False, 8))),
    "fmt_large": wav(chunk(b"fmt ", fmt_body(1, 16) + bytes(30)), chunk(b"data", samples(16, False, 8))),
    "no_riff": b"RIFX" + bytes(40),
    "empty": b"",
}

# ---------------------------------------------------------------------------
# fuzz_schedule.c: flags, then operations (kind | time << 3 | mode << 5)

LOGIN, NO_COMMIT, RICH, NULL_SESSION, NO_UNLOCK = 0x01, 0x02, 0x04, 0x08, 0x10


def op(kind, time=0, mode=0):
    return bytes([kind | time << 3 | mode << 5])


def fc16_raw(off, words, time=0):
    return op(0, time) + struct.pack(">HB", off, len(words) - 1) + b"".join(struct.pack(">H", w) for w in words)


def fc16_edits(off, count, edits, mode=0, time=0):
    assert len(edits) == 1 + mode % 4
    return op(1, time, mode) + struct.pack(">HB", off, count - 1) + b"".join(
        struct.pack(">BH", i, v) for i, v in edits)


def fc06(off, value, mode=0, time=0):
    return op(2, time, mode) + struct.pack(">HH", off, value)


def malformed(off, count, mode):
    """FC 10 edits (the word 0 of the range set to 2, repeated), broken as mode % 4 says."""
    return op(6, 0, mode) + struct.pack(">HB", off, count - 1) + struct.pack(">BH", 0, 2) * (1 + mode % 4)


def items(kind, pairs, time=0):
    """mc_model_write (kind 3) or mc_model_write_session (kind 4) of (offset, value) pairs."""
    return op(kind, time, len(pairs) - 1) + b"".join(struct.pack(">HH", o, v) for o, v in pairs)


PROFILE0 = [2, 0x0000, 3, 0x0C00, 1]  # 00:00 rate 3, 12:00 rate 1
SPECIAL0 = [(0x03, 1), (0xC0, 0), (0xC1, 0x0C19), (0xC2, 0)]  # one holiday, 25 Dec, profile 0

SCHEDULE_SEEDS = {
    "login_fc16_profile": bytes([LOGIN]) + fc16_raw(0x10, PROFILE0),
    "login_fc16_profile_no_commit_poll": bytes([LOGIN | NO_COMMIT]) + fc16_raw(0x10, PROFILE0) + op(7),
    "login_rich_edits": bytes([LOGIN | RICH]) + fc16_edits(0x30, 17, [(0, 3), (5, 0x0C1E)], mode=1)
    + fc16_edits(0x90, 28, [(3, 0xFFFF), (10, 1), (20, 2)], mode=6),
    "login_fc06_week": bytes([LOGIN | RICH]) + fc06(0x90, 2) + fc06(0x91, 9),
    "login_fc16_gap_refused": bytes([LOGIN]) + fc16_raw(0x02, [1, 1, 1, 0, 0]),
    "login_fc16_whole_range": bytes([LOGIN | RICH]) + fc16_edits(0xC0, 96, [(0, 2024)]),
    "public_refused": bytes([0]) + fc16_raw(0x10, PROFILE0) + fc06(0x90, 0),
    "null_session_refused": bytes([NULL_SESSION | LOGIN]) + fc16_raw(0x10, PROFILE0),
    "no_unlock_public_write": bytes([NO_UNLOCK | NULL_SESSION]) + fc16_raw(0x10, PROFILE0),
    "trusted_special_day": bytes([0]) + items(3, SPECIAL0),
    "session_special_day": bytes([LOGIN]) + items(4, SPECIAL0),
    "login_malformed": bytes([LOGIN]) + b"".join(malformed(0x10, 5, m) for m in range(4)),
    "session_timeout": bytes([LOGIN]) + fc16_raw(0x10, PROFILE0) + fc06(0x12, 2, time=3),
    "relogin_after_timeout": bytes([LOGIN]) + fc06(0x12, 2, time=3) + op(5) + fc06(0x12, 2),
    "wrong_passwords_lockout": bytes([0]) + b"".join(op(5, 0, 1) + struct.pack(">H", k) for k in range(11))
    + op(5) + fc16_raw(0x10, PROFILE0),
    "write_budget": bytes([LOGIN]) + b"".join(fc06(0x12, 1 + k % 4) for k in range(24))
    + fc06(0x12, 2, time=2),
    "password_change": bytes([LOGIN]) + op(5, 0, 1) + struct.pack(">H", 1234) + fc06(0x12, 4),
}


def write(sub, seeds):
    d = os.path.join(CORPUS, sub)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), d))


write("modbus", SEEDS)
write("wav", WAV_SEEDS)
write("schedule", SCHEDULE_SEEDS)
