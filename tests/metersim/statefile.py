"""Make damaged or foreign metersim state files out of a good one (test_state.sh).

  statefile.py blank-core SRC DST     the energy, history and config records erased (0xFF),
                                      the event log left as it is
  statefile.py other-format SRC DST   every record rewritten as format major + 1, CRCs valid
  statefile.py foreign DST            random bytes, exactly the size of a state file
  statefile.py zeros DST              zero bytes, exactly the size of a state file

Records are found by their documented header (src/storage/mc_storage.c): magic 'MC'
(43 4D), kind (1 energy, 2 history, 3 config), format major, minor, 0, payload length
(u16), sequence (u32), CRC-32 over those 12 bytes and the payload. Only headers whose CRC
checks are taken, so nothing else in the file can be mistaken for one.
"""
import os
import random
import struct
import sys
import zlib

SECTOR = 4096
SIZE = 64 * SECTOR


def records(mem):
    """(offset, kind, length) of every record with a valid CRC, at 4-byte aligned offsets."""
    out = []
    off = mem.find(b"CM")
    while off >= 0:
        if off % 4 == 0 and off + 16 <= len(mem):
            kind, major, minor, zero, length, seq, crc = struct.unpack_from("<BBBBHII", mem, off + 2)
            end = off + 16 + length
            if kind in (1, 2, 3, 4, 5, 6) and zero == 0 and end <= len(mem) and \
                    zlib.crc32(mem[off + 16:end], zlib.crc32(mem[off:off + 12])) == crc:
                out.append((off, kind, length))
        off = mem.find(b"CM", off + 1)
    return out


def main():
    cmd = sys.argv[1]
    if cmd in ("foreign", "zeros"):
        data = bytes(random.Random(14).randrange(256) for _ in range(SIZE)) if cmd == "foreign" else bytes(SIZE)
        open(sys.argv[2], "wb").write(data)
        return
    mem = bytearray(open(sys.argv[2], "rb").read())
    assert len(mem) == SIZE, f"{sys.argv[2]}: {len(mem)} bytes"
    recs = records(mem)
    core = [r for r in recs if r[1] in (1, 2, 3)]
    kinds = sorted({r[1] for r in core})
    assert kinds == [1, 2, 3], f"records of kinds {kinds} found (energy 1, history 2, config 3 expected)"
    if cmd == "blank-core":
        sectors = sorted({off // SECTOR for off, kind, _ in core})
        for s in sectors:
            mem[s * SECTOR:(s + 1) * SECTOR] = b"\xff" * SECTOR
        left = [r for r in records(mem) if r[1] in (1, 2, 3)]
        assert not left, f"{len(left)} core records left"
        print(f"  blank core: {len(core)} energy/history/config records in sectors {sectors} erased, "
              f"{sum(1 for r in recs if r[1] not in (1, 2, 3))} other records and the event log kept")
    elif cmd == "other-format":
        for off, kind, length in recs:
            mem[off + 3] += 1  # major
            crc = zlib.crc32(bytes(mem[off + 16:off + 16 + length]), zlib.crc32(bytes(mem[off:off + 12])))
            struct.pack_into("<I", mem, off + 12, crc)
        print(f"  other format: {len(recs)} records rewritten as format major {mem[recs[0][0] + 3]}")
    else:
        raise SystemExit(f"unknown command {cmd}")
    open(sys.argv[3], "wb").write(mem)


main()
