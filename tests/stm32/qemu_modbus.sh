#!/usr/bin/env bash
# The STM32 firmware under QEMU, driven over Modbus-RTU by mbpoll.
#
#   tests/stm32/qemu_modbus.sh build/stm32/ports/stm32/metercore-fw-qemu-netduinoplus2.elf
#
# Boots the qemu-netduinoplus2 image under `qemu-system-arm -M netduinoplus2`
# (USART1 -> log file, USART2 -> a unix-socket chardev bridged by socat to a
# pty), then with mbpoll (RTU, 9600 8N1, slave 1):
#   1. U, I, P, PF, F as floats match the board's synthetic load (230 V, 5 A,
#      PF 0.5 inductive, 50 Hz) within the class 0.2S limits the core meets;
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
FW=${1:?usage: qemu_modbus.sh firmware.elf}
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

echo "1. measurement registers 0030H..003DH (floats, ABCD):"
mapfile -t M < <(mbpoll_values 1 0x30 7 4:float)
[ "${#M[@]}" -eq 7 ] || fail "read of 0030H gave ${#M[@]} values: ${M[*]:-none}"
check U "${M[0]}" 230 0.2 %
check I "${M[1]}" 5 0.2 %
check P "${M[2]}" 575 0.3 %
check PF "${M[5]}" 0.5 0.003 abs
check F "${M[6]}" 50 0.01 abs
[ "$STATUS" -eq 0 ] || fail "measurements outside their limits"

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
# 575 W = 575 J each; how many windows pass in a host second depends on how fast a
# loaded host runs QEMU, so the check counts windows, not seconds: the growth is a whole
# number (>= 1) of 575 J windows to 0.2 %, and no more than the host time allows (the
# emulation never runs ahead of the host clock; +2 for the reads' own duration).
awk -v a="$E1" -v b="$E2" -v t1="$T1" -v t2="$T2" 'BEGIN {
    if (a == "" || b == "") exit 1
    d = (b - a) * 3.6e6; w = d / 575; k = int(w + 0.5)  # J, windows
    printf "  grew by %.1f J = %.4f windows of 575 J (host time %.2f s)\n", d, w, t2 - t1
    exit !(k >= 1 && (w - k < 0.002 * k && k - w < 0.002 * k) && k <= t2 - t1 + 2) }' ||
    fail "energy did not grow by whole 575 J windows"

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
grep -q '^LCD |U: 230.0V|I: 005.0A|F: 50 Hz|' "$DIR/uart1.log" || fail "display did not show the U/I/F page"
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
