#!/bin/bash
# metersim's front panel driven through its terminal dashboard in tmux (send-keys,
# capture-pane): the U/I/F page, a long press of K1 (`!`) to the password screen,
# 6666 entered digit by digit (`2` increments the flashing digit, `1` selects the
# next), a long press into the menu, K1 to the address item (Adr), a long press to
# edit, 001 -> 002, a long press to save; then the address is read back over Modbus
# TCP as unit 2 (register 0001H = 2), and the screen's mbpoll line shows address 2.
# The screen itself, in an 80x24 terminal with the tallest dashboard (panel and progress
# line): drawn in the alternate screen (ESC[?1049h once, left with ESC[?1049l at the
# end), by cursor-home and overwrite (never ESC[2J or ESC[3J), no line wrapped or
# scrolled off; after Ctrl-C the terminal shows the banner, the summary and the saved line.
#   test_panel_tmux.sh METERSIM WORKDIR
set -eu
M=$1 WORK=$2
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK"
for tool in tmux mbpoll; do
    command -v $tool >/dev/null 2>&1 || { echo "FAIL: $tool not found: install the Debian package $tool"; exit 1; }
done
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SOCK="$WORK/tmux.sock"
SESSION=metersim_panel
T() { tmux -S "$SOCK" "$@"; }
cleanup() { T kill-server 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- screen:"; T capture-pane -p -t "$SESSION" 2>/dev/null || true; exit 1; }

# remain-on-exit keeps the pane (and what metersim left on it) after it exits; pipe-pane
# records every byte it writes. --duration: the progress line too (the tallest screen).
T -f /dev/null new-session -d -s "$SESSION" -x 80 -y 24 \
    "exec '$M' run --load U=230,I=5,PF=0.5L,F=50 --state '$WORK/p.nvm' --start 2026-03-02T08:00:00 \
     --modbus-tcp 127.0.0.1:$PORT --duration 1000000" \; \
    set-option -t "$SESSION" remain-on-exit on \; \
    pipe-pane -t "$SESSION" -o "cat >>'$WORK/raw.out'"

# expect TEXT [WHAT]: wait (up to 10 s) until the pane shows TEXT
expect() {
    for _ in $(seq 100); do
        if T capture-pane -p -t "$SESSION" 2>/dev/null | grep -qF -- "$1"; then
            echo "  ${2:-$1}: ok"
            return 0
        fi
        sleep 0.1
    done
    fail "expected '$1' on the screen (${2:-})"
}
keys() { T send-keys -t "$SESSION" -l "$1"; sleep 0.3; }

expect "U: 230" "U/I/F page"
expect "% done" "progress line"

# The screen fits 80x24: its first line is the header (nothing scrolled off), its last the
# Ctrl-C line, and joining wrapped lines (-J) gives the same 24 lines (nothing wrapped).
[ "$(T display-message -p -t "$SESSION" '#{window_width}x#{window_height} #{alternate_on}')" = "80x24 1" ] ||
    fail "not an 80x24 pane in the alternate screen: $(T display-message -p -t "$SESSION" '#{window_width}x#{window_height} #{alternate_on}')"
screen=$(T capture-pane -p -t "$SESSION")
[ "$(printf '%s\n' "$screen" | head -1 | cut -c1-10)" = "metersim  " ] || fail "the header line is not at the top"
printf '%s\n' "$screen" | grep -q "^  Ctrl-C: power-fail warning" || fail "the last line of the screen is not there"
[ "$(T capture-pane -p -J -t "$SESSION" | wc -l)" -eq 24 ] || fail "a line of the screen wraps"
echo "  the screen fits 80x24: ok"
expect "I: 005.0A" "U/I/F page, current"
keys '!'
expect "| PASS" "password screen"
expect "| 0000" "password 0000"
keys '222222'; keys '1222222'; keys '1222222'; keys '1222222'
expect "| 6666" "password 6666 entered"
keys '!'
expect "| ----" "menu, first item (PASS, masked)"
keys '1'
expect "| Adr" "menu, address item"
expect "| 001" "address 001"
keys '!'
keys '112'
expect "| 002" "address edited to 002"
keys '!'
sleep 0.5
out=$(timeout 10 mbpoll -m tcp -p "$PORT" -a 2 -r 2 -t 4 -1 -o 1 127.0.0.1 2>&1) || fail "mbpoll unit 2: $out"
v=$(sed -n 's/^\[2\]:[[:space:]]*//p' <<<"$out")
[ "$v" = 2 ] || fail "address register 0001H read '$v', want 2: $out"
echo "  Modbus TCP unit 2 reads address 2: ok"
expect "mbpoll -m tcp -p $PORT -a 2 -r 49 -c 7 -t 4:float -B 127.0.0.1" "the screen's mbpoll line: address 2"
keys '3'
expect "U: 230" "both keys: back to U/I/F"

# Ctrl-C: the power-fail warning; the terminal is back from the alternate screen and shows
# what was on it before (the banner) and after (the summary and the saved state).
T send-keys -t "$SESSION" C-c
for _ in $(seq 300); do
    [ "$(T display-message -p -t "$SESSION" '#{pane_dead}')" = 1 ] && break
    sleep 0.1
done
# (not its exit status: tmux on a loaded machine may not have it yet; the "(saved)" line below
# is the normal end, and metersim_run checks the exit status of the power-fail path)
[ "$(T display-message -p -t "$SESSION" '#{pane_dead} #{alternate_on}')" = "1 0" ] ||
    fail "after Ctrl-C (dead, alternate screen): $(T display-message -p -t "$SESSION" '#{pane_dead} #{alternate_on}')"
expect "    mbpoll -m tcp -p $PORT -a 1 -r 49 -c 7 -t 4:float -B 127.0.0.1" "the banner, back on the terminal"
expect "summary: T4 valley" "the summary"
expect "(saved)" "the saved state"
$PY - "$WORK/raw.out" <<'PYEOF' || fail "the terminal output"
import sys
d = open(sys.argv[1], "rb").read()
n = {k: d.count(k) for k in (b"\x1b[?1049h", b"\x1b[?1049l", b"\x1b[2J", b"\x1b[3J", b"\x1b[H")}
print("  terminal output: %d bytes, %s" % (len(d), ", ".join("%r %d" % (k.decode()[1:], v) for k, v in n.items())))
assert n[b"\x1b[?1049h"] == 1 and n[b"\x1b[?1049l"] == 1, "the alternate screen entered and left once"
assert d.index(b"\x1b[?1049h") < d.index(b"\x1b[H") and d.rindex(b"\x1b[H") < d.index(b"\x1b[?1049l")
assert n[b"\x1b[2J"] == 0 and n[b"\x1b[3J"] == 0, "a screen or the scrollback cleared"
assert n[b"\x1b[H"] >= 2, "frames drawn from the cursor home"
PYEOF
echo "PASS"
