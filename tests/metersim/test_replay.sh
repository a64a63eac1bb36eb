#!/bin/sh
# metersim replay on generated WAV files: a known load (230 V, 10 A, 30° lagging,
# 50 Hz, 8000 Hz, 20 s) at 16-bit, 24-bit, 32-bit PCM and float must reproduce the
# core's accuracy: P within 0.2 %, energy within 0.5 % of P × the closed windows;
# the end of stream (a 20 s and a 3 s file against the integral) and --windows.
# Poly-phase wirings (--wiring): wavgen writes the channels and prints the truth, analytic
# from its phasors; replay's totals, elements (within 0.2 %, angles within 0.1 degree) and
# system quantities must match it: 3p4w balanced PF 0.8, ACB, 7 channels with a measured IN
# (and a faulty one: neutral_mismatch), WAVE_FORMAT_EXTENSIBLE (PCM and float), 1p3w, 3p3w,
# multi:4 on one and on three voltages, --netting sum and phase with an exporting phase,
# a channel count that does not fit the wiring (exit 2, one line), text and --windows.
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
# ---- poly-phase wirings ------------------------------------------------------------------
# The checker: replay's JSON against wavgen's truth (--truth: analytic from the phasors).
cat >"$WORK/check_poly.py" <<'PYEOF'
import json, math, sys
name, truth_f, out_f = sys.argv[1:4]
opts = dict(a.split("=", 1) for a in sys.argv[4:])
t = json.load(open(truth_f))
r = json.load(open(out_f))
bad = []
def close(what, got, want, rel=0.002, abs_=0.0):
    if got is None or want is None:
        if got != want:
            bad.append("%s: %r, truth %r" % (what, got, want))
        return
    if not abs(got - want) <= max(rel * abs(want), abs_):
        bad.append("%s: %.6f, truth %.6f (%.4f %%)" % (what, got, want, 100 * (got - want) / want if want else float("inf")))
def angle(what, got, want, tol=0.1):
    d = (got - want + 180.0) % 360.0 - 180.0
    if abs(d) > tol:
        bad.append("%s: %.4f deg, truth %.4f deg" % (what, got, want))
secs = r["windows_s"]
assert r["wiring"] == opts.get("wiring", r["wiring"]), r["wiring"]
assert len(r["phases"]) == len(t["elements"]), (len(r["phases"]), len(t["elements"]))
for k, (g, w) in enumerate(zip(r["phases"], t["elements"])):
    e = "phase %d " % (k + 1)
    close(e + "urms", g["urms"], w["urms"]); close(e + "irms", g["irms"], w["irms"])
    close(e + "p", g["p"], w["p"], abs_=0.002 * w["s"]); close(e + "q", g["q"], w["q"], abs_=0.002 * w["s"])
    close(e + "s", g["s"], w["s"]); close(e + "pf", g["pf"], w["pf"], rel=0, abs_=0.002)
    angle(e + "u_angle_deg", g["u_angle_deg"], w["u_angle_deg"]); angle(e + "i_angle_deg", g["i_angle_deg"], w["i_angle_deg"])
    # the element's own registers over the file: its P by its own sign
    ei, ee = max(w["p"], 0) * secs / 3600, max(-w["p"], 0) * secs / 3600
    close(e + "active_import_wh", g["active_import_wh"], ei, rel=0.005, abs_=1e-6 + 0.002 * w["s"] * secs / 3600 * (ei == 0))
    close(e + "active_export_wh", g["active_export_wh"], ee, rel=0.005, abs_=1e-6 + 0.002 * w["s"] * secs / 3600 * (ee == 0))
close("p", r["p"], t["p"], abs_=0.002 * t["s"]); close("q", r["q"], t["q"], abs_=0.002 * t["s"])
close("q1", r["q1"], t["q"], abs_=0.002 * t["s"]); close("s", r["s"], t["s"])
close("s_vector", r["s_vector"], t["s_vector"], abs_=0.002 * t["s"])
close("pf", r["pf"], t["p"] / t["s"], rel=0, abs_=0.002)
close("freq", r["freq"], float(opts.get("freq", 50)), rel=0.0005)
for k in ("u12", "u23", "u31"):
    if r[k] is not None or t.get(k):
        close(k, r[k], t.get(k))
if "sequence" in t:
    if r["sequence"] != t["sequence"]:
        bad.append("sequence %r, truth %r" % (r["sequence"], t["sequence"]))
for k in ("u_unbalance_pct", "i_unbalance_pct"):
    if t.get(k) is not None and r.get(k) is not None:
        close(k, r[k], t[k], rel=0.005, abs_=0.1)
imax = max(w["irms"] for w in t["elements"])
for k in ("i_neutral", "i_neutral_calc", "i_residual"):
    if k in t and r.get(k) is not None:
        close(k, r[k], t[k], rel=0.005, abs_=0.002 * imax)
if r["missing_phases"] != json.loads(opts.get("missing", "[]")):
    bad.append("missing_phases %r" % r["missing_phases"])
if r["neutral_mismatch"] != (opts.get("mismatch", "false") == "true"):
    bad.append("neutral_mismatch %r" % r["neutral_mismatch"])
# the totals' energy, booked by the netting
pp = [w["p"] for w in t["elements"]]
if r["netting"] == "sum":
    ti, te = max(sum(pp), 0) * secs / 3600, max(-sum(pp), 0) * secs / 3600
else:
    ti, te = sum(max(x, 0) for x in pp) * secs / 3600, sum(max(-x, 0) for x in pp) * secs / 3600
close("active_import_wh", r["active_import_wh"], ti, rel=0.005, abs_=1e-6)
close("active_export_wh", r["active_export_wh"], te, rel=0.005, abs_=1e-6)
assert r["complete_window"] and r["windows"] >= 3, r
print("replay %-22s P %10.3f W (truth %10.3f), %d elements, %s, import %.6f Wh export %.6f Wh%s" %
      (name, r["p"], t["p"], len(r["phases"]), r["sequence"], r["active_import_wh"], r["active_export_wh"],
       "" if not bad else ": " + "; ".join(bad)))
sys.exit(1 if bad else 0)
PYEOF
# poly NAME FORMAT SECONDS WAVGEN-ARGS... -- REPLAY-ARGS... [-- CHECK-OPTS...]
poly() {
    name=$1 fmt=$2 secs=$3; shift 3
    gen=""; while [ "$1" != "--" ]; do gen="$gen $1"; shift; done; shift
    rep=""; while [ $# -gt 0 ] && [ "$1" != "--" ]; do rep="$rep $1"; shift; done
    [ $# -gt 0 ] && shift
    wav="$WORK/poly-$name.wav"
    # shellcheck disable=SC2086
    if ! "$WAVGEN" "$wav" "$fmt" 8000 "$secs" $gen --truth >"$WORK/poly-$name.truth" ||
        ! timeout 60 "$METERSIM" replay "$wav" $rep --json >"$WORK/poly-$name.json" ||
        ! "$PY" "$WORK/check_poly.py" "$name" "$WORK/poly-$name.truth" "$WORK/poly-$name.json" "$@"; then
        echo "FAIL: replay $name"; cat "$WORK/poly-$name.json"; fail=1
    fi
}
S="--v-scale 400 --i-scale 40"
# 3p4w, balanced, PF 0.8 lagging: U 230 V, I 10 A per phase, ABC, neutral ~0
poly 3p4w-balanced pcm24 5 --wiring 3p4w 230 10 36.8699 50 400 40 -- --wiring 3p4w $S -- wiring=3p4w
"$PY" - "$WORK/poly-3p4w-balanced.json" <<'PYEOF' || { echo "FAIL: replay 3p4w balanced"; fail=1; }
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["sequence"] == "ABC" and r["u_unbalance_pct"] < 0.1 and r["i_unbalance_pct"] < 0.1 and \
    r["i_neutral_calc"] < 0.02 and r["i_neutral"] < 0.02 and r["missing_phases"] == [] and \
    abs(sum(p["active_import_wh"] for p in r["phases"]) - r["active_import_wh"]) < 1e-5
print("replay 3p4w balanced: sequence %s, unbalance U %.4f %% I %.4f %%, neutral %.5f A, phases add up: %s" %
      (r["sequence"], r["u_unbalance_pct"], r["i_unbalance_pct"], r["i_neutral_calc"], ok))
sys.exit(0 if ok else 1)
PYEOF
# reversed sequence, unbalanced voltages and currents
poly 3p4w-acb pcm24 5 --wiring 3p4w 230 10 20 50 400 40 --acb --u 2:225 --i 3:14:-25 -- --wiring 3p4w $S
# 7 channels: a measured neutral (unbalanced currents); then a neutral CT that reads half
poly 3p4w-neutral pcm24 5 --wiring 3p4w 230 10 20 50 400 60 --neutral --i 2:5:0 --i 3:15:-30 -- --wiring 3p4w --v-scale 400 --i-scale 60
poly 3p4w-neutral-bad pcm24 5 --wiring 3p4w 230 10 20 50 400 60 --in-gain 0.5 --i 2:5:0 --i 3:15:-30 -- --wiring 3p4w --v-scale 400 --i-scale 60 -- mismatch=true
# WAVE_FORMAT_EXTENSIBLE, float and 24-bit PCM (and 1p2w, today's output)
poly 3p4w-ext-float float 5 --wiring 3p4w 230 10 36.8699 50 400 40 --extensible -- --wiring 3p4w $S
poly 3p4w-ext-pcm24 pcm24 5 --wiring 3p4w 230 8 -30 60 400 40 --extensible -- --wiring 3p4w $S -- freq=60
"$WAVGEN" "$WORK/ext-1p2w.wav" pcm24 8000 5 --wiring 1p2w 230 10 30 50 400 20 --extensible >/dev/null
"$WAVGEN" "$WORK/plain-1p2w.wav" pcm24 8000 5 230 10 30 50 400 20
a=$(timeout 60 "$METERSIM" replay "$WORK/ext-1p2w.wav" --v-scale 400 --i-scale 20 --json | sed 's/"file":"[^"]*"//')
b=$(timeout 60 "$METERSIM" replay "$WORK/plain-1p2w.wav" --v-scale 400 --i-scale 20 --json | sed 's/"file":"[^"]*"//')
[ -n "$a" ] && [ "$a" = "$b" ] && echo "replay 1p2w extensible: the same output as the plain file" ||
    { echo "FAIL: replay 1p2w extensible: $a / $b"; fail=1; }
# split phase 120/240 V, 60 Hz, the legs loaded differently
poly 1p3w pcm24 5 --wiring 1p3w 120 20 25 60 400 60 --i 2:10:-10 -- --wiring 1p3w --v-scale 400 --i-scale 60 -- freq=60
# delta, two elements (Aron): the line voltages of a 230 V wye, PF 0.866 lagging
poly 3p3w pcm24 5 --wiring 3p3w 230 10 30 50 800 40 -- --wiring 3p3w --v-scale 800 --i-scale 40
poly 3p3w-unbalanced pcm24 5 --wiring 3p3w 230 10 30 50 800 40 --i 3:6:-10 --u 3:220 -- --wiring 3p3w --v-scale 800 --i-scale 40
# multi-circuit: 4 circuits on one voltage (5 channels), one exporting; and on three (7 channels)
poly multi4 pcm24 5 --wiring multi:4 230 10 30 50 400 40 --i 2:5:-20 --i 3:8:180 --i 4:2:0 -- --wiring multi:4 $S
poly multi4-3u pcm24 5 --wiring multi:4 230 10 30 50 400 40 --voltages 3 --i 2:5:-20 --i 3:8:180 --i 4:2:0 -- --wiring multi:4 $S
# netting: phase 2 exports 2300 W, phases 1 and 3 import 2300 W each (PF 1): the sum books
# 2300 W of import, phase netting 4600 W of import and 2300 W of export
poly net-sum pcm24 5 --wiring 3p4w 230 10 0 50 400 40 --i 2:10:180 -- --wiring 3p4w --netting sum $S
poly net-phase pcm24 5 --wiring 3p4w 230 10 0 50 400 40 --i 2:10:180 -- --wiring 3p4w --netting phase $S
"$PY" - "$WORK/poly-net-sum.json" "$WORK/poly-net-phase.json" <<'PYEOF' || { echo "FAIL: replay netting"; fail=1; }
import json, sys
s, p = (json.load(open(f)) for f in sys.argv[1:3])
e = 2300 * s["windows_s"] / 3600
ok = abs(s["active_import_wh"] - e) < 0.005 * e and s["active_export_wh"] == 0 and \
    abs(p["active_import_wh"] - 2 * e) < 0.01 * e and abs(p["active_export_wh"] - e) < 0.005 * e and \
    [x["active_export_wh"] > 0 for x in s["phases"]] == [False, True, False] and \
    all(abs(a["active_export_wh"] - b["active_export_wh"]) < 1e-9 for a, b in zip(s["phases"], p["phases"]))
print("replay netting: sum import %.6f export %.6f Wh; phase import %.6f export %.6f Wh (%.6f Wh per phase)" %
      (s["active_import_wh"], s["active_export_wh"], p["active_import_wh"], p["active_export_wh"], e))
sys.exit(0 if ok else 1)
PYEOF
# the text output has a block per element and the system's; --windows stays totals-only
timeout 60 "$METERSIM" replay "$WORK/poly-3p4w-neutral.wav" --wiring 3p4w --v-scale 400 --i-scale 60 >"$WORK/poly.txt"
if grep -q '^wiring    3p4w (U1 U2 U3 I1 I2 I3 IN), netting sum$' "$WORK/poly.txt" &&
    [ "$(grep -Ec '^L[123] +U [0-9.]+ V  I [0-9.]+ A  P ' "$WORK/poly.txt")" -eq 3 ] &&
    grep -Eq '^system +S vector [0-9.]+ VA  U12 [0-9.]+ V  U23 [0-9.]+ V  U31 [0-9.]+ V  sequence ABC$' "$WORK/poly.txt" &&
    grep -Eq '^neutral +IN [0-9.]+ A \(measured\)' "$WORK/poly.txt" &&
    grep -Eq '^active +import [0-9]+\.[0-9]{6} Wh' "$WORK/poly.txt"; then
    echo "replay 3p4w text: $(grep -c . "$WORK/poly.txt") lines, a block per phase"
else
    echo "FAIL: replay 3p4w text output"; cat "$WORK/poly.txt"; fail=1
fi
timeout 60 "$METERSIM" replay "$WORK/poly-3p4w-neutral.wav" --wiring 3p4w --v-scale 400 --i-scale 60 --windows >"$WORK/poly.csv"
"$PY" - "$WORK/poly.csv" "$WORK/poly-3p4w-neutral.json" <<'PYEOF' || { echo "FAIL: replay 3p4w --windows"; fail=1; }
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
r = json.load(open(sys.argv[2]))
tot = sum(float(x["active_import_wh"]) for x in rows)
ok = len(rows) == r["windows"] and abs(tot - r["active_import_wh"]) < 1e-6
print("replay 3p4w --windows: %d windows, %.6f Wh" % (len(rows), tot))
sys.exit(0 if ok else 1)
PYEOF
# a channel count that does not fit the wiring: one line naming both, exit 2
reject "6 channels as 1p3w" "$WORK/poly-3p4w-balanced.wav" --wiring 1p3w $S
reject "6 channels as 1p2w" "$WORK/poly-3p4w-balanced.wav" $S
reject "2 channels as 3p4w" "$WORK/load-pcm16.wav" --wiring 3p4w $S
reject "5 channels as multi:3" "$WORK/poly-multi4.wav" --wiring multi:3 $S
reject "bad wiring" "$WORK/poly-3p4w-balanced.wav" --wiring 2p5w $S
reject "bad multi" "$WORK/poly-3p4w-balanced.wav" --wiring multi:17 $S
reject "bad netting" "$WORK/poly-3p4w-balanced.wav" --wiring 3p4w --netting both $S
timeout 60 "$METERSIM" replay "$WORK/poly-3p4w-balanced.wav" --wiring 1p3w $S 2>"$WORK/err.txt" >/dev/null || true
grep -q "6 channels, but --wiring 1p3w needs 4 (U1 U2 I1 I2)" "$WORK/err.txt" ||
    { echo "FAIL: the channel count error does not say what the wiring needs"; cat "$WORK/err.txt"; fail=1; }
timeout 10 "$METERSIM" replay --help | grep -q -- 'U1 U2 U3 I1 I2 I3 \[IN\]' || { echo "FAIL: replay --help: channel order"; fail=1; }
exit $fail
