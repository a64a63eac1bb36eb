#!/usr/bin/env bash
# The STM32 firmware under QEMU, driven over Modbus-RTU by mbpoll.
#
#   tests/stm32/qemu_modbus.sh build/stm32/ports/stm32/metercore-fw-qemu-netduinoplus2.elf
#   tests/stm32/qemu_modbus.sh build/stm32/ports/stm32/metercore-fw-qemu-netduinoplus2-3p4w.elf 3p4w
#
# Boots the qemu-netduinoplus2 image under `qemu-system-arm -M netduinoplus2`
# (USART1 -> log file, USART2 -> a unix-socket chardev bridged by socat to a
# pty), then with mbpoll (RTU, 9600 8N1, slave 1):
#   1. U, I, P, PF, F as floats match the board's synthetic load (230 V, 5 A,
#      PF 0.5 inductive, 50 Hz) within the class 0.2S limits the core meets;
#      3p4w: the totals (U and I the means of the phases, P, Q, S the sums, PF,
#      F) of the board's three-phase load (230/232/228 V at 0/-120/+120 degrees;
#      5 A PF 0.5 inductive, 10 A PF 1, 2 A PF 0.8 capacitive), worked out here
#      from the load's definition; then each phase's U, I, P, Q, PF and angles
#      and the line-to-line voltages, neutral current and unbalance, from the
#      firmware's status lines (mc_meter_phase_reading(), mc_meter_poly_reading())
#      and, when the register map has the poly-phase block (map version 3), from
#      its registers 1400H.. and 1500H.. over Modbus;
#   2. active import energy grows between two reads at least 2 s apart, by whole
#      windows of P x 1 s;
#   3. an unmapped register (0500H) gives exception 02;
#   4. writing 17 to the address register (0001H) is refused without the
#      password (exception 04, the address unchanged); with the password in the
#      same FC 10 (0000H = 6666, 0001H = 17) it takes effect: slave 17 answers,
#      slave 1 no longer does;
#   5. the firmware's log shows it booted, metered, put out pulses, counted the
#      Modbus frames, and that the display showed the panel's U/I/F page;
#   6. the front panel through the board's keys (typed on USART1, debounced like
#      real keys): password 6666, menu item Adr, address 017 -> 018, saved; slave 18
#      then answers over Modbus;
#   7. the event log read over Modbus holds both address changes, the panel's
#      (17 -> 18) newest and the bus's (1 -> 17) before it: hooks, storage and
#      event log work on the target.
# QEMU and socat are always ended (trap), every step has a timeout, and the
# whole test is bounded (ctest TIMEOUT 300). No step assumes how fast the host
# runs the emulation (a loaded 2-core machine runs it several times slower): the
# script waits for what the firmware does (booted, a window booked, a status line
# after the Modbus frames, the address set from the keys), each wait bounded
# generously; the host times it prints are figures. Exit 0 = pass.
set -u
FW=${1:?usage: qemu_modbus.sh firmware.elf [1p2w|3p4w]}
LOAD=${2:-1p2w}
case "$LOAD" in 1p2w|3p4w) ;; *) echo "FAIL: unknown load '$LOAD' (1p2w or 3p4w)"; exit 1 ;; esac
for tool in qemu-system-arm socat mbpoll; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (apt-get install qemu-system-arm socat mbpoll)"; exit 1; }
done
[ -f "$FW" ] || { echo "FAIL: no firmware $FW"; exit 1; }

DIR=$(mktemp -d /tmp/mc-qemu.XXXXXX)
QEMU_PID=
SOCAT_PID=
cleanup() {
    [ -n "$SOCAT_PID" ] && kill $SOCAT_PID 2>/dev/null
    [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
    sleep 0.2
    [ -n "$QEMU_PID" ] && kill -9 "$QEMU_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    echo "--- firmware log (USART1) ---"; cat "$DIR/uart1.log" 2>/dev/null
    echo "--- qemu ---"; cat "$DIR/qemu.out" 2>/dev/null
    exit 1
}
T0=$(date +%s.%N)

# QEMU waits (wait=on) for both serial sockets to be connected before it starts the
# CPU, so no byte is lost. USART1 (log, and the keys typed to the board) and USART2
# (Modbus-RTU) each get a pty from socat; the log pty is drained into uart1.log at once
# (an undrained UART would stall the whole VM).
qemu-system-arm -M netduinoplus2 -kernel "$FW" -nographic -monitor none \
    -semihosting-config enable=on,target=native \
    -chardev socket,id=u1,path="$DIR/u1.sock",server=on,wait=on -serial chardev:u1 \
    -chardev socket,id=u2,path="$DIR/u2.sock",server=on,wait=on -serial chardev:u2 \
    >"$DIR/qemu.out" 2>&1 &
QEMU_PID=$!
for n in 1 2; do
    for _ in $(seq 600); do [ -S "$DIR/u$n.sock" ] && break; sleep 0.05; done # up to 30 s
    [ -S "$DIR/u$n.sock" ] || fail "QEMU did not open its serial socket u$n"
    socat pty,raw,echo=0,link="$DIR/ttyU$n" UNIX-CONNECT:"$DIR/u$n.sock" 2>>"$DIR/socat.out" &
    SOCAT_PID="$SOCAT_PID $!"
    for _ in $(seq 600); do [ -e "$DIR/ttyU$n" ] && break; sleep 0.05; done
    [ -e "$DIR/ttyU$n" ] || fail "socat did not create the pty ttyU$n"
    if [ "$n" = 1 ]; then
        cat "$DIR/ttyU1" >"$DIR/uart1.log" &
        SOCAT_PID="$SOCAT_PID $!"
    fi
done

# Boot (up to 60 s).
for _ in $(seq 1200); do grep -q '^ready' "$DIR/uart1.log" 2>/dev/null && break; sleep 0.05; done
grep -q '^ready' "$DIR/uart1.log" || fail "firmware did not boot"
kill -0 "$QEMU_PID" 2>/dev/null || fail "QEMU exited"
T_BOOT=$(date +%s.%N)

# -o 3: a 3 s response timeout where an answer is due (the emulated firmware answers in
# tens of ms; a late answer after a timeout would land in the next request's reply).
MB=(mbpoll -m rtu -b 9600 -P none -0 -1 -q -o 3)
# mbpoll_values ADDR REF COUNT TYPE: prints the values, one per line
mbpoll_values() {
    timeout 10 "${MB[@]}" -a "$1" -r "$2" -c "$3" -t "$4" $([ "$4" = "4:float" ] && echo -B) "$DIR/ttyU2" 2>&1 |
        sed -n 's/^\[[0-9]*\]:[[:space:]]*//p'
}
# check NAME VALUE EXPECTED TOLERANCE UNIT(% or abs)
STATUS=0
check() {
    local verdict
    verdict=$(awk -v v="$2" -v e="$3" -v tol="$4" -v kind="$5" 'BEGIN {
        if (v == "") { print "missing"; exit }
        err = (kind == "%") ? (v - e) / e * 100 : v - e
        ok = (err <= tol && err >= -tol)
        printf "%s %+.4f%s (limit %s%s)", ok ? "ok" : "OUT", err, kind == "%" ? " %" : "", tol, kind == "%" ? " %" : "" }')
    printf '  %-3s read %-12s expected %-8s error %s\n' "$1" "$2" "$3" "$verdict"
    case "$verdict" in ok*) ;; *) STATUS=1 ;; esac
}

# The first window (after the DC acquisition) is booked when the firmware's emulated time
# gets there: wait for its energy in 0082H (up to 60 s; about 1.5 s on an idle host).
for _ in $(seq 120); do
    E0=$(mbpoll_values 1 0x82 1 4:float)
    awk -v e="${E0:-0}" 'BEGIN { exit !(e > 0) }' && break
    sleep 0.5
done
awk -v e="${E0:-0}" 'BEGIN { exit !(e > 0) }' || fail "no window booked (0082H = ${E0:-no answer})"
echo "first window booked $(awk -v a="$T_BOOT" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s after boot (host time)"

# The three-phase load of the qemu-netduinoplus2 board built for 3P4W (board.c, QEMU_3P_*):
# phase k's rms voltage, its angle to U1, rms current and the current's lag behind its
# voltage (degrees). Everything expected is worked out from these, as sinusoids.
LOAD3P='230 232 228 | 0 -120 120 | 5 10 2 | 60 0 -36.8698976'
declare -A X
if [ "$LOAD" = 3p4w ]; then
    while read -r name value; do X[$name]=$value; done < <(awk -v load="$LOAD3P" 'BEGIN {
        split(load, part, "|"); split(part[1], U, " "); split(part[2], UA, " ")
        split(part[3], I, " "); split(part[4], PHI, " ")
        d = atan2(0, -1) / 180; ar = -0.5; ai = sqrt(3) / 2   # a = 1 at 120 degrees
        for (k = 1; k <= 3; k++) {
            p = U[k] * I[k] * cos(PHI[k] * d); q = U[k] * I[k] * sin(PHI[k] * d)
            ia = UA[k] - PHI[k]; if (ia <= -180) ia += 360; if (ia > 180) ia -= 360
            printf "U%d %.6f\nI%d %.6f\nP%d %.6f\nQ%d %.6f\nS%d %.6f\nPF%d %.6f\nUa%d %.6f\nIa%d %.6f\n",
                k, U[k], k, I[k], k, p, k, q, k, U[k] * I[k], k, cos(PHI[k] * d), k, UA[k], k, ia
            P += p; Q += q; S += U[k] * I[k]; Um += U[k] / 3; Im += I[k] / 3
            ur[k] = U[k] * cos(UA[k] * d); ui[k] = U[k] * sin(UA[k] * d)
            ir[k] = I[k] * cos(ia * d); ii[k] = I[k] * sin(ia * d)
        }
        printf "U %.6f\nI %.6f\nP %.6f\nQ %.6f\nS %.6f\nPF %.6f\nSV %.6f\n", Um, Im, P, Q, S, P / S, sqrt(P * P + Q * Q)
        for (k = 1; k <= 3; k++) {   # line-to-line: |Uk - Uk+1|
            j = k % 3 + 1
            printf "U%d%d %.6f\n", k, j, sqrt((ur[k] - ur[j]) ^ 2 + (ui[k] - ui[j]) ^ 2)
        }
        printf "IN %.6f\n", sqrt((ir[1] + ir[2] + ir[3]) ^ 2 + (ii[1] + ii[2] + ii[3]) ^ 2)
        # symmetrical components: positive X1 + a X2 + a^2 X3, negative X1 + a^2 X2 + a X3
        for (w = 0; w < 2; w++) {
            if (w == 0) { r1 = ur[1]; i1 = ui[1]; r2 = ur[2]; i2 = ui[2]; r3 = ur[3]; i3 = ui[3] }
            else        { r1 = ir[1]; i1 = ii[1]; r2 = ir[2]; i2 = ii[2]; r3 = ir[3]; i3 = ii[3] }
            pr = r1 + (ar * r2 - ai * i2) + (ar * r3 + ai * i3); pi_ = i1 + (ar * i2 + ai * r2) + (ar * i3 - ai * r3)
            nr = r1 + (ar * r2 + ai * i2) + (ar * r3 - ai * i3); ni = i1 + (ar * i2 - ai * r2) + (ar * i3 + ai * r3)
            printf "%s %.6f\n", w == 0 ? "Uunb" : "Iunb", 100 * sqrt(nr * nr + ni * ni) / sqrt(pr * pr + pi_ * pi_)
        }
    }')
fi

echo "1. measurement registers 0030H..003DH (floats, ABCD):"
mapfile -t M < <(mbpoll_values 1 0x30 7 4:float)
[ "${#M[@]}" -eq 7 ] || fail "read of 0030H gave ${#M[@]} values: ${M[*]:-none}"
if [ "$LOAD" = 1p2w ]; then
    check U "${M[0]}" 230 0.2 %
    check I "${M[1]}" 5 0.2 %
    check P "${M[2]}" 575 0.3 %
    check PF "${M[5]}" 0.5 0.003 abs
    check F "${M[6]}" 50 0.01 abs
    P_WINDOW=575
else
    echo "  totals of the three-phase load (U, I: means of the phases; P, Q, S: sums):"
    check U "${M[0]}" "${X[U]}" 0.2 %
    check I "${M[1]}" "${X[I]}" 0.2 %
    check P "${M[2]}" "${X[P]}" 0.3 %
    check Q "${M[3]}" "${X[Q]}" 0.5 %
    check S "${M[4]}" "${X[S]}" 0.3 %
    check PF "${M[5]}" "${X[PF]}" 0.003 abs
    check F "${M[6]}" 50 0.01 abs
    P_WINDOW=${X[P]}
fi
[ "$STATUS" -eq 0 ] || fail "measurements outside their limits"

# check_phases SOURCE GET: GET NAME K prints phase K's NAME (U I P Q PF Ua Ia), or nothing.
check_phases() {
    local k s
    for k in 1 2 3; do
        echo "  $1, L$k:"
        s=${X[S$k]}
        check U "$($2 U $k)" "${X[U$k]}" 0.2 %
        check I "$($2 I $k)" "${X[I$k]}" 0.2 %
        check P "$($2 P $k)" "${X[P$k]}" "$(awk -v s="$s" 'BEGIN { print 0.003 * s }')" abs
        check Q "$($2 Q $k)" "${X[Q$k]}" "$(awk -v s="$s" 'BEGIN { print 0.005 * s }')" abs
        check PF "$($2 PF $k)" "${X[PF$k]}" 0.003 abs
        check Ua "$($2 Ua $k)" "${X[Ua$k]}" 0.1 abs
        check Ia "$($2 Ia $k)" "${X[Ia$k]}" 0.1 abs
    done
}
if [ "$LOAD" = 3p4w ]; then
    echo "1b. per phase and poly-phase values, from the firmware's status lines:"
    # A status line every 5 s of emulated time, the phases' lines after it: wait (up to 120 s)
    # for a complete set written after the first window.
    for _ in $(seq 240); do
        tr -d '\r' <"$DIR/uart1.log" | grep -q '^poly: ' && break
        sleep 0.5
    done
    tr -d '\r' <"$DIR/uart1.log" | grep -q '^poly: ' || fail "no poly-phase status line in the log"
    # log_value LINE-START NAME: NAME= from the last line that starts with LINE-START
    log_value() {
        tr -d '\r' <"$DIR/uart1.log" | grep "^$1" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
    }
    log_phase() { log_value "L$2: " "$1"; }
    for k in 1 2 3; do echo "  $(tr -d '\r' <"$DIR/uart1.log" | grep "^L$k: " | tail -1)"; done
    echo "  $(tr -d '\r' <"$DIR/uart1.log" | grep '^poly: ' | tail -1)"
    check_phases "log" log_phase
    echo "  log, poly-phase:"
    check U12 "$(log_value 'poly: ' U12)" "${X[U12]}" 0.2 %
    check U23 "$(log_value 'poly: ' U23)" "${X[U23]}" 0.2 %
    check U31 "$(log_value 'poly: ' U31)" "${X[U31]}" 0.2 %
    check IN "$(log_value 'poly: ' IN)" "${X[IN]}" 0.5 %
    check Ir "$(log_value 'poly: ' Ir)" 0 0.02 abs
    check Uu "$(log_value 'poly: ' Uu)" "${X[Uunb]}" 0.05 abs
    check Iu "$(log_value 'poly: ' Iu)" "${X[Iunb]}" 0.2 abs
    [ "$(log_value 'poly: ' seq)" = 1 ] || { echo "  seq is not 1 (ABC)"; STATUS=1; }
    [ "$(log_value 'poly: ' flags)" = 0 ] || { echo "  poly-phase flags set"; STATUS=1; }
    [ "$STATUS" -eq 0 ] || fail "per-phase values in the log outside their limits"

    MAPV=$(mbpoll_values 1 0x101A 1 4)
    if [ "${MAPV:-0}" -ge 3 ] 2>/dev/null; then
        echo "1c. register map version $MAPV: the poly-phase registers 1400H.. and per-element 1500H..:"
        mapfile -t W < <(mbpoll_values 1 0x1400 6 4)
        echo "  1400H..1405H (wiring, elements, sequence, missing, flags, reference) = ${W[*]:-none}"
        [ "${W[*]:-}" = "2 3 1 0 0 0" ] || fail "poly-phase status registers are not 3P4W, 3 elements, ABC, none missing"
        mapfile -t PV < <(mbpoll_values 1 0x1410 9 4:float)
        [ "${#PV[@]}" -eq 9 ] || fail "read of 1410H gave ${#PV[@]} values"
        check SV "${PV[0]}" "${X[SV]}" 0.3 %
        check U12 "${PV[1]}" "${X[U12]}" 0.2 %
        check U23 "${PV[2]}" "${X[U23]}" 0.2 %
        check U31 "${PV[3]}" "${X[U31]}" 0.2 %
        check Uu "${PV[4]}" "${X[Uunb]}" 0.05 abs
        check Iu "${PV[5]}" "${X[Iunb]}" 0.2 abs
        check IN "${PV[6]}" "${X[IN]}" 0.5 %
        check INc "${PV[7]}" "${X[IN]}" 0.5 %
        check Ir "${PV[8]}" 0 0.02 abs
        # one request per quantity: elements 0..2 of the block (1500H + 20H per quantity)
        declare -A R
        base=$((0x1500))
        for name in U I P Q S PF Ua Ia; do
            mapfile -t V < <(mbpoll_values 1 "$base" 3 4:float)
            [ "${#V[@]}" -eq 3 ] || fail "read of $(printf '%04XH' "$base") gave ${#V[@]} values"
            for k in 1 2 3; do R[$name$k]=${V[$((k - 1))]}; done
            base=$((base + 0x20))
        done
        reg_phase() { echo "${R[$1$2]}"; }
        check_phases "registers" reg_phase
        [ "$STATUS" -eq 0 ] || fail "per-phase registers outside their limits"
    else
        echo "1c. register map version ${MAPV:-?}: no poly-phase block, per-phase registers not read"
    fi
fi

echo "2. active import energy 0082H grows:"
E1=$(mbpoll_values 1 0x82 1 4:float); T1=$(date +%s.%N)
sleep 2
# At least 2 s later, and until a window has been booked since (up to 60 s more).
for _ in $(seq 120); do
    E2=$(mbpoll_values 1 0x82 1 4:float); T2=$(date +%s.%N)
    awk -v a="${E1:-0}" -v b="${E2:-0}" 'BEGIN { exit !(b > a) }' && break
    sleep 0.5
done
echo "  E1=$E1 kWh, E2=$E2 kWh after $(awk -v a="$T1" -v b="$T2" 'BEGIN{printf "%.2f", b-a}') s"
# Energy is booked per closed window of the firmware's own (emulated) time, 1 s of
# P (575 W: 575 J; 3p4w the three phases' sum) each; how many windows pass in a host
# second depends on how fast a loaded host runs QEMU, so the check counts windows, not
# seconds: the growth is a whole number (>= 1) of P x 1 s windows to 0.2 %, and no more
# than the host time allows (the emulation never runs ahead of the host clock; +2 for
# the reads' own duration). The float register's resolution (24 bits of kWh) is far
# below 0.2 % of a window at these energies.
awk -v a="$E1" -v b="$E2" -v t1="$T1" -v t2="$T2" -v pw="$P_WINDOW" 'BEGIN {
    if (a == "" || b == "") exit 1
    d = (b - a) * 3.6e6; w = d / pw; k = int(w + 0.5)  # J, windows
    printf "  grew by %.1f J = %.4f windows of %.1f J (host time %.2f s)\n", d, w, pw, t2 - t1
    exit !(k >= 1 && (w - k < 0.002 * k && k - w < 0.002 * k) && k <= t2 - t1 + 2) }' ||
    fail "energy did not grow by whole $P_WINDOW J windows"

echo "3. unmapped register 0500H:"
OUT=$(timeout 10 "${MB[@]}" -a 1 -r 0x500 -c 1 -t 4 "$DIR/ttyU2" 2>&1)
echo "  $(echo "$OUT" | grep -i 'failed' || echo "$OUT" | tail -1)"
echo "$OUT" | grep -q "Illegal data address" || fail "no exception 02 for 0500H"

echo "4. slave address 0001H := 17: without the password, then with it in the same request:"
OUT=$(timeout 10 "${MB[@]}" -a 1 -r 1 -t 4 "$DIR/ttyU2" 17 2>&1)
echo "  without: $(echo "$OUT" | grep -i 'fail' | head -1)"
echo "$OUT" | grep -qi "server failure" || fail "a write without the password was not refused with 04: $OUT"
[ "$(mbpoll_values 1 1 1 4)" = "1" ] || fail "the address changed without the password"
OUT=$(timeout 10 "${MB[@]}" -a 1 -r 0 -t 4 "$DIR/ttyU2" 6666 17 2>&1)
echo "$OUT" | grep -q "Written 2 references" || fail "write of password and address refused: $OUT"
A=$(mbpoll_values 17 1 1 4)
echo "  slave 17 reads 0001H = ${A:-no answer}"
[ "$A" = "17" ] || fail "slave 17 does not answer with its address"
if timeout 10 "${MB[@]}" -a 1 -r 1 -c 1 -t 4 -o 0.5 "$DIR/ttyU2" 2>&1 | grep -q '^\[1\]'; then
    fail "slave 1 still answers"
fi
echo "  slave 1 no longer answers"

echo "5. firmware log:"
# A status line every 5 s of emulated time: wait (up to 120 s) for one written after the
# Modbus frames above (frames counted).
LAST=
for _ in $(seq 240); do
    LAST=$(grep '^status: U=2' "$DIR/uart1.log" | tail -1)
    echo "$LAST" | grep -q 'frames=[1-9]' && break
    sleep 0.5
done
[ -n "$LAST" ] || fail "no status line in the log"
echo "  $LAST"
echo "$LAST" | grep -q 'pulses=[1-9]' || fail "no pulse put out"
echo "$LAST" | grep -q 'pulses_lost=0 ' || fail "pulses lost to a full edge queue"
echo "$LAST" | grep -q 'frames=[1-9]' || fail "no Modbus frame counted"
# The board's microsecond clock (Modbus t1.5/t3.5, pulse edges) never went backwards.
grep '^status:' "$DIR/uart1.log" | grep -qv 'clock_back=0' && fail "the microsecond clock went backwards"
# The front panel's first page as the display binding received it (board: one log line per screen).
if [ "$LOAD" = 1p2w ]; then
    UIF='LCD |U: 230.0V|I: 005.0A|F: 50 Hz|'
else
    UIF="LCD |U: $(printf '%05.1f' "${X[U]}")V|I: $(printf '%05.1f' "${X[I]}")A|F: 50 Hz|" # the means
fi
grep -q "^$UIF" "$DIR/uart1.log" || fail "display did not show the U/I/F page ($UIF)"
echo "  display: $(grep '^LCD |U: 230' "$DIR/uart1.log" | tail -1)"
kill -0 "$QEMU_PID" 2>/dev/null || fail "QEMU exited during the test"

echo "6. front panel, keys typed on USART1: password 6666, menu Adr, 017 -> 018, save:"
# K1 long: password screen; each digit 0 -> 6 by six K2, K1 to the next; K1 long: menu (PASS);
# K1: Adr; K1 long: edit 017; K1 K1: last digit; K2: 8; K1 long: save.
KEYS='!''222222''1''222222''1''222222''1''222222''!''1''!''11''2''!'
printf '%s' "$KEYS" >"$DIR/ttyU1"
# The keys take about 20 s of emulated time (five 3 s long presses): up to 240 tries (at
# least 120 s of host time) for a loaded host that runs the emulation slowly.
A=
for _ in $(seq 240); do
    sleep 0.5
    A=$(mbpoll_values 18 1 1 4)
    [ "$A" = "18" ] && break
done
[ "$A" = "18" ] || fail "address not changed to 18 from the keys"
echo "  slave 18 reads 0001H = $A (set from the front panel)"
for screen in 'LCD |PASS' 'LCD |Adr'; do
    grep -q "^$screen" "$DIR/uart1.log" || fail "display never showed '$screen'"
done
grep '^LCD |' "$DIR/uart1.log" | tr -d '\r' | awk '!seen[$0]++' | grep -v '^LCD |PASS|[0-9]' | sed -n '3,$p' | sed 's/^/  /'

echo "7. event log (1300H..130DH): both address changes saved and logged, with their sources:"
# event K: select it (1301H, not logged), then read type, source, quantity, arg, old, new.
event() {
    timeout 10 "${MB[@]}" -a 18 -r 0x1301 -t 4 "$DIR/ttyU2" "$1" >/dev/null 2>&1 || return 1
    mbpoll_values 18 0x1306 8 4 | tr '\n' ' '
}
N=$(mbpoll_values 18 0x1300 1 4)
E0=$(event 0); E1=$(event 1)
echo "  events: ${N:-?}; newest: type source qty arg old(hi lo) new(hi lo) = $E0"
echo "  before it:                                           $E1"
# type 3 (parameter), source 1 (front panel) then 0 (bus), old/new address in the low words
read -r t0 s0 q0 a0 oh0 ol0 nh0 nl0 <<<"$E0"
read -r t1 s1 q1 a1 oh1 ol1 nh1 nl1 <<<"$E1"
[ "${t0:-}" = 3 ] && [ "${s0:-}" = 1 ] && [ "${ol0:-}" = 17 ] && [ "${nl0:-}" = 18 ] ||
    fail "newest event is not the front panel's address change 17 -> 18"
[ "${t1:-}" = 3 ] && [ "${s1:-}" = 0 ] && [ "${ol1:-}" = 1 ] && [ "${nl1:-}" = 17 ] && [ "${q1:-}" = "$q0" ] ||
    fail "the event before it is not the bus's address change 1 -> 17"

T3=$(date +%s.%N)
awk -v a="$T0" -v b="$T_BOOT" -v c="$T3" 'BEGIN { printf "PASS: boot %.2f s, test %.1f s\n", b - a, c - a }'
