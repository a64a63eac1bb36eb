#!/bin/sh
# metersim replay on generated WAV files: a known load (230 V, 10 A, 30° lagging,
# 50 Hz, 8000 Hz, 20 s) at 16-bit, 24-bit, 32-bit PCM and float must reproduce the
# core's accuracy: P within 0.2 %, energy within 0.5 % of P × the closed windows;
# the end of stream (a 20 s and a 3 s file against the integral) and --windows.
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
# ... and says where the energy starts (startup_s of the JSON output).
grep -Eq '^energy +from 0\.[0-9]{6} s \(start-up acquisition\) to the end of the file$' "$WORK/plain.txt" ||
    { echo "FAIL: plain output: no start of the energy"; cat "$WORK/plain.txt"; fail=1; }

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

# End of stream: the energy is the integral over every sample from startup_s to the end
# of the file (the open window is closed at the end), for a 20 s and a 3 s file at a
# frequency the sampling is not locked to. The truth is the integral of the continuous
# waveform, computed here: v i = U I (cos(phi) - cos(2 theta - phi)) with theta = 2 pi f t,
# so E = U I [cos(phi) T - (sin(2 theta1 - phi) - sin(2 theta0 - phi)) / (2 w)] / 3600 Wh,
# over [startup_s, N/fs) (each sample stands for the 1/fs after it). Limit: 0.02 %, a tenth
# of class 0.2S: the error measured is about 0.001 % (24-bit samples, energy quanta), so this
# still leaves 20 times that, and it catches a lost end of stream (-5 % and -32 % here
# without the final flush) or a window counted twice by far.
for secs in 20 3; do
    wav="$WORK/stream-$secs.wav"
    "$WAVGEN" "$wav" pcm24 4000 "$secs" 230 5 37 49.87 400 20
    out=$(timeout 60 "$METERSIM" replay "$wav" --v-scale 400 --i-scale 20 --json)
    if ! printf '%s\n' "$out" | "$PY" -c '
import json, math, sys
secs = float(sys.argv[1])
r = json.loads(sys.stdin.read())
U, I, phi, f = 230.0, 5.0, math.radians(37), 49.87
t0, t1 = r["startup_s"], r["samples"] / r["sample_rate"]
w = 2 * math.pi * f
e = U * I * (math.cos(phi) * (t1 - t0) - (math.sin(2 * w * t1 - phi) - math.sin(2 * w * t0 - phi)) / (2 * w)) / 3600
err = (r["active_import_wh"] - e) / e
print("replay %2.0f s: startup_s %.4f, energy %.6f Wh against the integral %.6f Wh: %+.4f %%" %
      (secs, t0, r["active_import_wh"], e, 100 * err))
assert 0 <= t0 < 0.5, "startup_s %s" % t0
assert abs(err) <= 0.0002, "energy %+.4f %% of the whole-file integral" % (100 * err)
assert abs(r["windows_s"] - (t1 - t0)) < 1e-4, "windows cover %s s of %s" % (r["windows_s"], t1 - t0)  # float sums of durations
' "$secs"; then
        echo "FAIL: replay end of stream, $secs s: $out"
        fail=1
    fi
done

# --windows: one CSV line per closed window; the windows tile the file from startup_s,
# and their energies add up to the JSON total.
timeout 60 "$METERSIM" replay "$WORK/stream-3.wav" --v-scale 400 --i-scale 20 --windows >"$WORK/windows.csv"
timeout 60 "$METERSIM" replay "$WORK/stream-3.wav" --v-scale 400 --i-scale 20 --json >"$WORK/stream-3.json"
if ! "$PY" - "$WORK/windows.csv" "$WORK/stream-3.json" <<'PYEOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
r = json.load(open(sys.argv[2]))
assert len(rows) == r["windows"] and len(rows) >= 3, (len(rows), r["windows"])
assert abs(float(rows[0]["start_s"]) - r["startup_s"]) < 1e-6
for a, b in zip(rows, rows[1:]):
    assert abs(float(a["start_s"]) + float(a["duration_s"]) - float(b["start_s"])) < 1e-5, (a, b)
assert "SETTLING" in rows[0]["flags"] and rows[-1]["flags"].split("|").count("PARTIAL") == 1
assert all("PARTIAL" not in x["flags"] for x in rows[:-1])
tot = sum(float(x["active_import_wh"]) for x in rows)
assert abs(tot - r["active_import_wh"]) < 1e-6, (tot, r["active_import_wh"])
for x in rows[:-1]:
    assert abs(float(x["urms_v"]) - 230) < 0.2 and abs(float(x["freq_hz"]) - 49.87) < 0.01, x
print("replay --windows: %d windows, energies add up to %.6f Wh" % (len(rows), tot))
PYEOF
then
    echo "FAIL: replay --windows"; head -5 "$WORK/windows.csv"; fail=1
fi
exit $fail
