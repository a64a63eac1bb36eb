#!/bin/sh
# metersim replay on generated WAV files: a known load (230 V, 10 A, 30° lagging,
# 50 Hz, 8000 Hz, 20 s) at 16-bit, 24-bit, 32-bit PCM and float must reproduce the
# core's accuracy: P within 0.2 %, energy within 0.5 % of P × the closed windows.
#   test_replay.sh METERSIM WAVGEN WORKDIR
set -eu
METERSIM=$1 WAVGEN=$2 WORK=$3
PY=/usr/bin/python3
mkdir -p "$WORK"
fail=0
for fmt in pcm16 pcm24 pcm32 float; do
    wav="$WORK/load-$fmt.wav"
    "$WAVGEN" "$wav" "$fmt" 8000 20 230 10 30 50 400 20
    out=$(timeout 60 "$METERSIM" replay "$wav" --v-scale 400 --i-scale 20 --json)
    if ! printf '%s\n' "$out" | "$PY" -c '
import json, math, sys
fmt = sys.argv[1]
r = json.loads(sys.stdin.read())
for k in ("urms","irms","p","q","s","pf","freq","active_import_wh","active_export_wh",
          "reactive_import_varh","reactive_export_varh"):
    assert k in r, k
p = 230 * 10 * math.cos(math.radians(30)); q = 230 * 10 * math.sin(math.radians(30))
e = p * r["windows_s"] / 3600.0; eq = q * r["windows_s"] / 3600.0
def rel(a, b): return abs(a - b) / abs(b)
checks = [("urms", rel(r["urms"], 230), 0.001), ("irms", rel(r["irms"], 10), 0.001),
          ("p", rel(r["p"], p), 0.002), ("q", rel(r["q"], q), 0.005), ("freq", rel(r["freq"], 50), 0.0005),
          ("active_import_wh", rel(r["active_import_wh"], e), 0.005),
          ("reactive_import_varh", rel(r["reactive_import_varh"], eq), 0.01)]
bad = [c for c in checks if not c[1] <= c[2]]
assert r["sample_rate"] == 8000 and r["windows"] >= 18, r
assert r["active_export_wh"] == 0 and r["reactive_export_varh"] == 0, r
print("replay %-5s: P %.3f W (%.4f %%), energy %.6f Wh (%.4f %%) over %.3f s" %
      (fmt, r["p"], 100 * checks[2][1], r["active_import_wh"], 100 * checks[5][1], r["windows_s"]))
if bad:
    print("replay %s: out of tolerance: %s" % (fmt, bad)); sys.exit(1)
' "$fmt"; then
        echo "FAIL: replay $fmt: $out"
        fail=1
    fi
done

# Plain text output has the energies with 6 decimals.
timeout 60 "$METERSIM" replay "$WORK/load-pcm24.wav" --v-scale 400 --i-scale 20 >"$WORK/plain.txt"
grep -Eq '^active +import [0-9]+\.[0-9]{6} Wh' "$WORK/plain.txt" || { echo "FAIL: plain output"; cat "$WORK/plain.txt"; fail=1; }

# Rejected inputs: one line on stderr, exit code 2.
reject() {
    desc=$1; shift
    set +e
    timeout 30 "$METERSIM" replay "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"
    rc=$?
    set -e
    lines=$(wc -l <"$WORK/err.txt")
    if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ]; then
        echo "FAIL: $desc: exit $rc, $lines stderr lines"; cat "$WORK/err.txt"; fail=1
    else
        echo "rejected $desc: $(cat "$WORK/err.txt")"
    fi
}
printf 'this is not a wav file at all\n' >"$WORK/text.wav"
reject "not a WAV" "$WORK/text.wav" --v-scale 400 --i-scale 20
reject "missing file" "$WORK/does-not-exist.wav" --v-scale 400 --i-scale 20
head -c 30 "$WORK/load-pcm16.wav" >"$WORK/short.wav"
reject "truncated header" "$WORK/short.wav" --v-scale 400 --i-scale 20
"$WAVGEN" "$WORK/slow.wav" pcm16 800 1 230 10 0 50 400 20
reject "sample rate 800" "$WORK/slow.wav" --v-scale 400 --i-scale 20
reject "no scales" "$WORK/load-pcm16.wav"
reject "bad scale" "$WORK/load-pcm16.wav" --v-scale abc --i-scale 20
reject "unknown option" "$WORK/load-pcm16.wav" --v-scale 400 --i-scale 20 --bogus
# 8-bit PCM and mono: change the fmt bytes of a valid file (bits at 34, channels at 22 + 20 for LIST).
cp "$WORK/load-pcm16.wav" "$WORK/mono.wav"
printf '\001' | dd of="$WORK/mono.wav" bs=1 seek=42 conv=notrunc 2>/dev/null
reject "one channel" "$WORK/mono.wav" --v-scale 400 --i-scale 20
cp "$WORK/load-pcm16.wav" "$WORK/bits8.wav"
printf '\010' | dd of="$WORK/bits8.wav" bs=1 seek=54 conv=notrunc 2>/dev/null
reject "8-bit PCM" "$WORK/bits8.wav" --v-scale 400 --i-scale 20
timeout 10 "$METERSIM" replay --help | grep -q -- '--v-scale' || { echo "FAIL: replay --help"; fail=1; }
exit $fail
