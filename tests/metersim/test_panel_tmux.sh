#!/bin/bash
# metersim's front panel driven through its terminal dashboard in tmux (send-keys,
# capture-pane): the U/I/F page, a long press of K1 (`!`) to the password screen,
# 6666 entered digit by digit (`2` increments the flashing digit, `1` selects the
# next), a long press into the menu, K1 to the address item (Adr), a long press to
# edit, 001 -> 002, a long press to save; then the address is read back over Modbus
# TCP as unit 2 (register 0001H = 2).
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

T -f /dev/null new-session -d -s "$SESSION" -x 100 -y 40 \
    "exec '$M' run --load U=230,I=5,PF=0.5L,F=50 --state '$WORK/p.nvm' --start 2026-03-02T08:00:00 \
     --modbus-tcp 127.0.0.1:$PORT 2>'$WORK/stderr.txt'"

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
keys '3'
expect "U: 230" "both keys: back to U/I/F"
echo "PASS"
