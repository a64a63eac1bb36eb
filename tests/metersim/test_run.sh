#!/bin/sh
# metersim run, dump and the CLI contract:
# - bad arguments and unreadable files: exit non-zero with exactly one stderr line;
# - a 1-hour run at --speed max of a constant load registers P x 1 h within 0.5 %;
# - a second run on the same state continues (energy grows further, never resets);
# - dump reads the state back (0x0082 import energy) without modifying the file;
# - --json lines parse; SIGTERM is a power-fail warning (state saved, exit 0);
# - the banner on stderr: state file, the real port (asked for 0), the current address (one
#   written over the bus, with the password in the same request, shows at the next start; the
#   write alone is refused with exception 04), that writes need the password, an mbpoll line
#   that works when pasted;
# - --speed max with --duration: progress on stderr ending at 100 %, the summary (energy by
#   rate, settlements, saves, events) in text and as keys of the final JSON object;
# - the end of the run closes the window under way: a 3 s run saves the energy of all of it;
# - --wiring: a balanced --load on every element of 3p4w, 3p3w (Aron), 1p3w and multi:4 (totals
#   the sum, each element's readings, angles and own energy, the system's quantities; a restart
#   continues the totals); the small business on 3p4w (unbalanced, a neutral current, the
#   elements adding up to the totals); --netting; bad --wiring and --netting.
#   test_run.sh METERSIM WORKDIR
set -eu
M=$1 WORK=$2
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
# A free TCP port per test run, so that parallel tests and a running `make run` do not clash.
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TCP="--modbus-tcp 127.0.0.1:$PORT"

bad() {
    desc=$1; shift
    set +e
    timeout 30 "$M" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"
    rc=$?
    set -e
    lines=$(wc -l <"$WORK/err.txt")
    if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ] || [ "$lines" -ne 1 ]; then
        echo "FAIL: $desc: exit $rc, $lines stderr lines"; cat "$WORK/err.txt"; fail=1
    else
        echo "rejected $desc (exit $rc): $(cat "$WORK/err.txt")"
    fi
}
bad "unknown command" frobnicate
bad "unknown option" run --bogus --state "$WORK/x.nvm"
bad "unknown option (default command)" --bogus
bad "bad --load key" run --load X=1 --state "$WORK/x.nvm"
bad "bad --load PF" run --load U=230,I=5,PF=2L --state "$WORK/x.nvm"
bad "bad --load PF without L/C" run --load PF=0.5 --state "$WORK/x.nvm"
bad "bad --load number" run --load U=abc --state "$WORK/x.nvm"
bad "bad --speed" run --speed fast --state "$WORK/x.nvm"
bad "bad --start" run --start 2026-13-01T00:00:00 --state "$WORK/x.nvm"
bad "bad --duration" run --duration -5 --state "$WORK/x.nvm"
bad "bad --modbus-tcp" run --modbus-tcp localhost --state "$WORK/x.nvm"
bad "bad --rtu baud" run --rtu /dev/null:300 --state "$WORK/x.nvm"
bad "missing value" run --state
head -c 1000 /dev/zero >"$WORK/wrong-size.nvm"
bad "state file of another size" run --state "$WORK/wrong-size.nvm" --duration 1 --speed max $TCP
bad "dump: missing file" dump --state "$WORK/nope.nvm"
bad "dump: not a state file" dump --state "$WORK/wrong-size.nvm"
bad "dump: no --state" dump
bad "replay: missing file" replay "$WORK/nope.wav" --v-scale 400 --i-scale 20
[ -f "$WORK/x.nvm" ] && { echo "FAIL: a refused run created its state file"; fail=1; }
for c in run replay dump; do
    timeout 10 "$M" $c --help >"$WORK/help.txt" && grep -q "usage: metersim" "$WORK/help.txt" ||
        { echo "FAIL: $c --help"; fail=1; }
done

# 1 h of 230 V, 5 A, PF 0.5L: P = 575 W, 575 Wh.
ST="$WORK/state.nvm"
timeout 120 "$M" run --load U=230,I=5,PF=0.5L,F=50 --speed max --duration 3600 --no-dashboard \
    --state "$ST" --start 2026-03-02T08:00:00 $TCP >"$WORK/run1.txt" 2>"$WORK/run1.err"
tail -1 "$WORK/run1.txt"
timeout 120 "$M" run --load U=230,I=5,PF=0.5L,F=50 --speed max --duration 3600 --json \
    --state "$ST" $TCP >"$WORK/run2.txt"
timeout 30 "$M" dump --state "$ST" --json >"$WORK/dump.json"
timeout 30 "$M" dump --state "$ST" >"$WORK/dump.txt"
sum1=$(md5sum <"$ST")
timeout 30 "$M" dump --state "$ST" >/dev/null
[ "$sum1" = "$(md5sum <"$ST")" ] || { echo "FAIL: dump modified the state file"; fail=1; }
$PY - "$WORK" "$PORT" <<'PYEOF' || fail=1
import json, re, sys
w = sys.argv[1]
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
line1 = open(w + "/run1.txt").read().strip().splitlines()[-1]
e1 = float(re.search(r"import ([0-9.]+) Wh", line1).group(1))
check(abs(e1 - 575.0) / 575.0 < 0.005, "1 h at 575 W: %.6f Wh (%.3f %%)" % (e1, 100 * (e1 - 575) / 575))
check(line1.startswith("2026-03-02T09:00:00"), "stops at --duration: " + line1[:19])
# stderr: the banner (the port asked for, address 1, the state file, an mbpoll line), then the
# progress: percentages that never go back, the last one 100.0 % (how many come before it
# depends on the machine's speed: none is fine)
err = open(w + "/run1.err").read()
check("metersim: state " + w + "/state.nvm, meter address 1\n" in err, "banner: state file and address 1")
check("    mbpoll -m tcp -p %s -a 1 -r 49 -c 7 -t 4:float -B 127.0.0.1\n" % sys.argv[2] in err,
      "banner: mbpoll line with port " + sys.argv[2])
pct = [float(x) for x in re.findall(r"^metersim: +([0-9.]+) % done", err, re.M)]
check(len(pct) >= 1 and pct[-1] == 100.0 and pct == sorted(pct), "progress %s" % pct)
check("metersim: writes need the password (0000H); factory default 6666\n" in err, "banner: writes need the password")
check(len(err.splitlines()) == 5 + len(pct), "stderr: the banner (5 lines) and the progress only")
# stdout: the summary before the last status line; the rates add up to the total, all of it
# this run's (a new state file), no settlement, saves (10 Wh each at least once), events
lines = open(w + "/run1.txt").read().splitlines()
summ = [l for l in lines if l.startswith("summary: ")]
check(len(summ) == 6 and lines[-7:-1] == summ, "summary: 6 lines before the last status line")
m = re.match(r"summary: 3600 s simulated in [0-9.]+ s: 0 settlements, (\d+) energy saves, (\d+) events logged$",
             summ[0]) if summ else None
check(m is not None and int(m.group(1)) >= 1 and int(m.group(2)) >= 1, "summary: " + (summ[0] if summ else "none"))
rates = [l.split()[-4:] for l in summ[2:]]
imp = sum(float(r[0]) for r in rates) * 1000 if len(rates) == 4 else -1
run = sum(float(r[1]) for r in rates) * 1000 if len(rates) == 4 else -1
check(abs(imp - e1) < 0.01 and abs(run - e1) < 0.01, "summary: rates add up to %.3f Wh (this run %.3f Wh)" % (imp, run))
objs = [json.loads(l) for l in open(w + "/run2.txt") if l.strip()]
last = objs[-1]
for k in ("urms", "irms", "p", "q", "s", "pf", "freq", "active_import_wh", "active_export_wh",
          "reactive_import_varh", "reactive_export_varh"):
    check(k in last, "json key " + k)
e2 = last["active_import_wh"]
check(abs(e2 - 1150.0) / 1150.0 < 0.005, "second run continues: %.6f Wh after 2 h" % e2)
check(last["time"] == "2026-03-02T10:00:00", "second run continues the clock: " + last["time"])
check(last.get("final") is True and last.get("settlements") == 0 and last.get("saves", 0) >= 1 and
      last.get("events", 0) >= 1 and all("final" not in o for o in objs[:-1]),
      "final JSON object: final, settlements 0, saves %s, events %s" % (last.get("saves"), last.get("events")))
check(abs(last["p"] - 575) < 1 and abs(last["pf"] - 0.5) < 0.001 and abs(last["freq"] - 50) < 0.01,
      "P %.3f PF %.4f F %.4f" % (last["p"], last["pf"], last["freq"]))
d = json.load(open(w + "/dump.json"))
check(abs(d["0x0082"] * 1000 - e2) < 10.5, "dump 0x0082 %.6f kWh vs %.6f Wh (within one save quantum)" % (d["0x0082"], e2))
txt = dict(l.split() for l in open(w + "/dump.txt"))
check(float(txt["0x0082"]) == d["0x0082"] and len(txt) == len(d), "plain dump agrees with JSON (%d registers)" % len(d))
sys.exit(0 if ok else 1)
PYEOF

# SIGTERM: power-fail warning, state saved, exit 0.
ST2="$WORK/sig.nvm"
timeout 60 "$M" run --load U=230,I=10,PF=1,F=50 --speed 600 --no-dashboard --state "$ST2" \
    --start 2026-03-02T12:00:00 $TCP >"$WORK/sig.txt" 2>&1 &
pid=$!
# No wall-clock assumption about how far it got: wait (up to 30 s) for its first status
# line with energy in it, whatever the machine's load, then send the warning.
for _ in $(seq 300); do
    grep -q 'import [0-9.]*[1-9][0-9.]* Wh' "$WORK/sig.txt" 2>/dev/null && break
    sleep 0.1
done
kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
[ "$rc" -eq 0 ] || { echo "FAIL: SIGTERM exit $rc"; cat "$WORK/sig.txt"; fail=1; }
shown=$(tail -1 "$WORK/sig.txt" | sed -n 's/.*import \([0-9.]*\) Wh.*/\1/p')
saved=$(timeout 30 "$M" dump --state "$ST2" | sed -n 's/^0x0082 //p')
$PY -c "import sys; s=float('$shown'); d=float('$saved')*1000; print('SIGTERM: shown %.3f Wh, saved %.3f Wh' % (s, d)); sys.exit(0 if s > 0 and abs(s-d) < 1 else 1)" ||
    { echo "FAIL: SIGTERM state not saved"; fail=1; }
# SIGHUP (the terminal closed) is a power-fail warning too: exit 0, the state saved.
"$M" run --load U=230,I=10,PF=1,F=50 --speed 600 --no-dashboard --state "$WORK/hup.nvm" \
    --start 2026-03-02T12:00:00 $TCP >"$WORK/hup.txt" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q " U 230" "$WORK/hup.txt" && break; sleep 0.1; done # running (30 s at most)
kill -HUP $pid
set +e
wait $pid
rc=$?
set -e
if [ "$rc" -eq 0 ] && tail -1 "$WORK/hup.txt" | grep -q "(saved)$"; then
    echo "SIGHUP: $(tail -1 "$WORK/hup.txt" | sed 's/.*| import/import/')"
else
    echo "FAIL: SIGHUP exit $rc"; tail -3 "$WORK/hup.txt"; fail=1
fi

# The end of the run closes the window under way (mc_meter_flush) before the final save: a
# 3 s run of 13.8 kW registers and saves the energy of everything after the meter's start-up
# acquisition (under 0.5 s), not only of the windows (about 1 s each) that closed by
# themselves, which would miss about a third. Bounds by sample counts, not by time.
ST3="$WORK/short.nvm"
timeout 60 "$M" run --load U=230,I=60,PF=1,F=50 --speed max --duration 3 --json --state "$ST3" \
    --start 2026-03-02T12:00:00 $TCP >"$WORK/short.json" 2>"$WORK/short.err"
timeout 30 "$M" dump --state "$ST3" --json >"$WORK/short-dump.json"
$PY - "$WORK/short.json" "$WORK/short-dump.json" <<'PYEOF' || fail=1
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
saved = json.load(open(sys.argv[2]))["0x0082"] * 1000
e, p = last["active_import_wh"], 230.0 * 60.0
lo, hi = p * (3 - 0.5) / 3600, p * 3 / 3600 * 1.002
print("3 s at 13.8 kW: %.4f Wh registered (%.3f s of energy), %.4f Wh saved; between %.4f and %.4f Wh expected"
      % (e, e * 3600 / p, saved, lo, hi))
sys.exit(0 if lo <= e <= hi and abs(saved - e) < 0.0015 else "FAIL: the window under way at the end is missing")
PYEOF

# A month's end during the run: one settlement, counted in the final JSON object.
timeout 60 "$M" run --load U=230,I=5,PF=1,F=50 --speed max --duration 120 --json --state "$WORK/month.nvm" \
    --start 2026-03-31T23:59:00 $TCP >"$WORK/month.json" 2>/dev/null
$PY - "$WORK/month.json" <<'PYEOF' || fail=1
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
print("month end: settlements %s, saves %s, events %s" % (last["settlements"], last["saves"], last["events"]))
sys.exit(0 if last["final"] and last["settlements"] == 1 and last["saves"] >= 2 else "FAIL: settlement not counted")
PYEOF

# The banner's mbpoll line, pasted (plus -1 -o 2: once, 2 s timeout), reads the meter on the
# port the system chose (0 was asked for); an address written over the bus (0001H = -r 2)
# is the one the next start's banner shows.
command -v mbpoll >/dev/null 2>&1 || { echo "FAIL: mbpoll not found: install the Debian package mbpoll"; exit 1; }
ST4="$WORK/addr.nvm"
"$M" run --load U=230,I=5,PF=1,F=50 --no-dashboard --state "$ST4" --start 2026-03-02T08:00:00 \
    --modbus-tcp 127.0.0.1:0 >"$WORK/addr.out" 2>"$WORK/addr.err" &
apid=$!
line=""
for _ in $(seq 300); do # the banner is out once the server listens (up to 30 s on a loaded machine)
    line=$(sed -n 's/^    \(mbpoll -m tcp .*\)$/\1/p' "$WORK/addr.err")
    [ -n "$line" ] && break
    sleep 0.1
done
echo "banner: $line"
case "$line" in
"mbpoll -m tcp -p "[1-9]*" -a 1 -r 49 -c 7 -t 4:float -B 127.0.0.1") ;;
*) echo "FAIL: no mbpoll line with a real port in the banner"; cat "$WORK/addr.err"; fail=1 ;;
esac
aport=$(echo "$line" | sed -n 's/.* -p \([0-9]*\) .*/\1/p')
for _ in $(seq 300); do # and the first window has closed once a status line shows U
    grep -q " U 230" "$WORK/addr.out" && break
    sleep 0.1
done
out=$(timeout 10 mbpoll -1 -o 2 ${line#mbpoll } 2>&1) || { echo "FAIL: the banner's mbpoll: $out"; fail=1; }
u=$(printf '%s\n' "$out" | sed -n 's/^\[49\]:[[:space:]]*//p')
$PY -c "import sys; u=float('${u:-0}'); print('pasted mbpoll line: U %g V' % u); sys.exit(0 if abs(u-230) < 1 else 1)" ||
    { echo "FAIL: the banner's mbpoll line does not read U: $out"; fail=1; }
# A write needs the password: alone it is refused (exception 04), with the password in the
# same FC 16 request (0000H = 6666, 0001H = 7: mbpoll -r 1 with two values) it is done.
out=$(timeout 10 mbpoll -m tcp -p "$aport" -a 1 -r 2 -t 4 -1 -o 2 127.0.0.1 7 2>&1) &&
    { echo "FAIL: address written without the password"; fail=1; }
printf '%s\n' "$out" | grep -q "Slave device or server failure" ||
    { echo "FAIL: a write without the password is not exception 04: $out"; fail=1; }
timeout 10 mbpoll -m tcp -p "$aport" -a 1 -r 1 -t 4 -1 -o 2 127.0.0.1 6666 7 >/dev/null 2>&1 ||
    { echo "FAIL: writing the password and address 7 over Modbus TCP"; fail=1; }
kill -TERM $apid
wait $apid || { echo "FAIL: SIGTERM exit"; fail=1; }
timeout 60 "$M" run --load U=230,I=5,PF=1,F=50 --no-dashboard --speed max --duration 1 --state "$ST4" \
    $TCP >/dev/null 2>"$WORK/addr2.err"
if grep -q "^metersim: state $ST4, meter address 7\$" "$WORK/addr2.err" &&
    grep -q "^    mbpoll -m tcp -p $PORT -a 7 -r 49 " "$WORK/addr2.err"; then
    echo "banner after the address was written: $(grep '^    mbpoll' "$WORK/addr2.err")"
else
    echo "FAIL: the banner does not show the address written over the bus (7)"; cat "$WORK/addr2.err"; fail=1
fi
# ---- poly-phase wirings ------------------------------------------------------------------
bad "bad --wiring" run --wiring 2p5w --state "$WORK/x.nvm"
bad "bad --wiring multi" run --wiring multi:0 --state "$WORK/x.nvm"
bad "bad --netting" run --netting both --state "$WORK/x.nvm"
# A balanced --load on every element, 10 simulated minutes each: 230 V, 5 A, PF 0.5L per
# element (575 W, 995.9 var). Truth: 3p4w and 3p3w 1725 W (3p3w's Aron elements: sqrt(3) U I
# cos(phi + 30) = 0 W and sqrt(3) U I cos(phi - 30) = 1725 W, U12 = U32 = 398.37 V), 1p3w 1150 W,
# multi:4 2300 W (circuit k on voltage k mod 3).
for wr in 3p4w 3p3w 1p3w multi:4; do
    f=$(echo "$wr" | tr ':' '-')
    timeout 120 "$M" run --wiring "$wr" --load U=230,I=5,PF=0.5L,F=50 --speed max --duration 600 --json \
        --state "$WORK/$f.nvm" --start 2026-03-02T08:00:00 $TCP >"$WORK/$f.json" 2>"$WORK/$f.err" ||
        { echo "FAIL: run --wiring $wr"; cat "$WORK/$f.err"; fail=1; }
    timeout 30 "$M" dump --state "$WORK/$f.nvm" --json >"$WORK/$f-dump.json"
done
# a restart on the same state continues the totals (the elements' registers start again)
timeout 120 "$M" run --wiring 3p4w --load U=230,I=5,PF=0.5L,F=50 --speed max --duration 600 --json \
    --state "$WORK/3p4w.nvm" $TCP >"$WORK/3p4w-2.json" 2>/dev/null || { echo "FAIL: run --wiring 3p4w restart"; fail=1; }
$PY - "$WORK" <<'PYEOF' || fail=1
import json, math, sys
w = sys.argv[1]
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
def last(name):
    return [json.loads(l) for l in open("%s/%s.json" % (w, name)) if l.strip()][-1]
def adiff(a, b):
    return abs((a - b + 180.0) % 360.0 - 180.0)
U, I, phi = 230.0, 5.0, math.radians(60)
p1, q1 = U * I * math.cos(phi), U * I * math.sin(phi)
for name, n, elems in (("3p4w", 3, None), ("1p3w", 2, None), ("multi-4", 4, None),
                       ("3p3w", 2, [0.0, 3 * p1])):
    r = last(name)
    ph = r["phases"]
    P = p1 * (3 if name == "3p3w" else n)
    e = P * 600 / 3600
    check(r["wiring"] == name.replace("-", ":") and len(ph) == n, "%s: %d elements" % (name, len(ph)))
    check(abs(r["active_import_wh"] - e) / e < 0.005 and r["active_export_wh"] == 0,
          "%s: 10 min at %.0f W: %.4f Wh (%.3f %%)" % (name, P, r["active_import_wh"], 100 * (r["active_import_wh"] - e) / e))
    d = json.load(open("%s/%s-dump.json" % (w, name)))
    check(abs(d["0x0082"] * 1000 - r["active_import_wh"]) < 10.5, "%s: dump 0x0082 %.6f kWh" % (name, d["0x0082"]))
    pe = elems if elems is not None else [p1] * n
    # each element's own energy: its P over the run
    check(all(abs(x["active_import_wh"] - pk * 600 / 3600) < 0.005 * p1 * 600 / 3600 for x, pk in zip(ph, pe)),
          "%s: element energies %s Wh" % (name, [round(x["active_import_wh"], 3) for x in ph]))
    check(abs(sum(x["active_import_wh"] for x in ph) - r["active_import_wh"]) < 0.01,
          "%s: the elements add up to the total" % name)
    if name == "3p3w":
        check(abs(r["u12"] - U * math.sqrt(3)) < 0.5 and r["sequence"] == "ABC", "3p3w: U12 %.2f V, %s" % (r["u12"], r["sequence"]))
        continue  # the final window (flushed) ends inside a cycle of U12: its readings are partial
    check(abs(r["p"] - P) < 0.002 * P and abs(r["q1"] - r["q"]) < 0.001 and abs(r["q"] - q1 * n) < 0.002 * P,
          "%s: P %.3f W Q %.3f var" % (name, r["p"], r["q"]))
    ua = [0.0, -120.0, 120.0]
    for k, x in enumerate(ph):
        u_ang = 180.0 * k if name == "1p3w" else ua[k % 3]
        check(abs(x["urms"] - U) < 0.2 and abs(x["irms"] - I) < 0.005 and abs(x["p"] - p1) < 0.002 * p1 * 2 and
              adiff(x["u_angle_deg"], u_ang) < 0.1 and adiff(x["i_angle_deg"], u_ang - 60) < 0.1,
              "%s element %d: U %.3f V at %.2f, I %.4f A at %.2f, P %.3f W" %
              (name, k + 1, x["urms"], x["u_angle_deg"], x["irms"], x["i_angle_deg"], x["p"]))
    if name == "3p4w":
        check(r["sequence"] == "ABC" and r["u_unbalance_pct"] < 0.1 and r["i_unbalance_pct"] < 0.1 and
              r["i_neutral_calc"] < 0.05 and abs(r["u12"] - U * math.sqrt(3)) < 0.5,
              "3p4w: ABC, unbalance %.4f/%.4f %%, neutral %.4f A, U12 %.2f V" %
              (r["u_unbalance_pct"], r["i_unbalance_pct"], r["i_neutral_calc"], r["u12"]))
    if name == "1p3w":
        check(abs(r["u12"] - 2 * U) < 0.5 and r["sequence"] is None and r["i_neutral_calc"] < 0.05,
              "1p3w: U12 %.2f V, neutral %.4f A" % (r["u12"], r["i_neutral_calc"]))
r2 = last("3p4w-2")
check(abs(r2["active_import_wh"] - 2 * 1725 * 600 / 3600) < 0.005 * 575 and r2["time"] == "2026-03-02T08:20:00",
      "3p4w restart continues: %.4f Wh at %s, this run's elements %s Wh" %
      (r2["active_import_wh"], r2["time"], [round(x["active_import_wh"], 3) for x in r2["phases"]]))
sys.exit(0 if ok else 1)
PYEOF
# The small business on 3p4w: Monday 10:00..11:00 (the motor cycling, lights, PCs, the oven
# not yet), then the same hour with --netting phase (nothing exports: the same energy).
for net in sum phase; do
    timeout 120 "$M" run --wiring 3p4w --netting $net --speed max --duration 3600 --json \
        --state "$WORK/biz-$net.nvm" --start 2026-03-02T10:00:00 $TCP >"$WORK/biz-$net.json" 2>/dev/null ||
        { echo "FAIL: run the business ($net)"; fail=1; }
done
timeout 30 "$M" run --wiring 3p4w --speed max --duration 60 --no-dashboard --state "$WORK/biz-text.nvm" \
    --start 2026-03-02T10:00:00 $TCP >"$WORK/biz.txt" 2>/dev/null || { echo "FAIL: run the business (text)"; fail=1; }
$PY - "$WORK" <<'PYEOF' || fail=1
import json, re, sys
w = sys.argv[1]
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
objs = [json.loads(l) for l in open(w + "/biz-sum.json") if l.strip()]
r = objs[-1]
ph = r["phases"]
check(r["time"] == "2026-03-02T11:00:00" and len(ph) == 3 and r["netting"] == "sum", "business: an hour, 3 phases")
for o in objs:
    s = sum(x["p"] for x in o["phases"])
    check(abs(s - o["p"]) <= 1e-4 * abs(o["p"]) + 0.01, "business %s: P %.1f W = the phases' %.1f W" % (o["time"], o["p"], s))
imp = [x["active_import_wh"] for x in ph]
check(abs(sum(imp) - r["active_import_wh"]) < 0.01 and r["active_export_wh"] == 0,
      "business: the phases' %s Wh add up to %.3f Wh" % ([round(x) for x in imp], r["active_import_wh"]))
check(max(imp) > 1.2 * min(imp), "business: unevenly spread (%.0f..%.0f Wh)" % (min(imp), max(imp)))
check(r["sequence"] == "ABC" and r["i_unbalance_pct"] > 2 and r["i_neutral_calc"] > 1 and r["u_unbalance_pct"] < 2,
      "business: unbalance U %.2f %% I %.2f %%, neutral %.2f A" % (r["u_unbalance_pct"], r["i_unbalance_pct"], r["i_neutral_calc"]))
check(all(0.3 < x["pf"] <= 1 for x in ph), "business: PF %s" % [round(x["pf"], 3) for x in ph])
p = [json.loads(l) for l in open(w + "/biz-phase.json") if l.strip()][-1]
# (the same but for the float arithmetic of a window's energy: one sum, or one per phase)
check(p["netting"] == "phase" and abs(p["active_import_wh"] - r["active_import_wh"]) < 1e-6 * r["active_import_wh"] and
      p["active_export_wh"] == 0 and [x["active_import_wh"] for x in p["phases"]] == imp,
      "business, --netting phase: %.6f Wh (sum: %.6f Wh)" % (p["active_import_wh"], r["active_import_wh"]))
line = open(w + "/biz.txt").read().splitlines()[-1]
check(re.search(r"PF [0-9.]+ \| L1 [0-9.]+ L2 [0-9.]+ L3 [0-9.]+ W \| import [0-9.]+ Wh export", line) is not None and
      line.endswith("(saved)"), "business, text: " + line)
sys.exit(0 if ok else 1)
PYEOF
exit $fail
