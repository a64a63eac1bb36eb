#!/usr/bin/env bash
# Smoke test of the generic-f405 image under QEMU's netduinoplus2 (same STM32F405).
#
#   tests/stm32/qemu_generic_boot.sh build/stm32/ports/stm32/metercore-fw-generic-f405.elf
#
# QEMU emulates no crystal (HSERDY never sets), so the real board's image must:
# start (vector table, reset path, .data/.bss, the 64 KiB flash layout), give up
# waiting for the crystal after its bounded wait, bring the log UART up at the
# 16 MHz internal clock, log "FATAL: clock: HSE or PLL did not start", and reset
# (SYSRESETREQ), over and over: two such lines pass (QEMU stops there, or after 60 s).
set -u
FW=${1:?usage: qemu_generic_boot.sh firmware.elf}
command -v qemu-system-arm >/dev/null || { echo "FAIL: qemu-system-arm not installed"; exit 1; }
LOG=$(mktemp /tmp/mc-generic.XXXXXX)
trap 'rm -f "$LOG"' EXIT
# No wall-clock bound on the boots: QEMU runs until the log shows two of them, or 60 s
# (a loaded machine slows the emulation; an idle one needs about 0.1 s per boot).
qemu-system-arm -M netduinoplus2 -kernel "$FW" -nographic -monitor none \
    -serial file:"$LOG" -serial null >/dev/null 2>&1 &
QEMU=$!
count() { tr -d '\r' <"$LOG" | grep -c '^FATAL: clock: HSE or PLL did not start$'; }
for _ in $(seq 600); do [ "$(count)" -ge 2 ] && break; sleep 0.1; done
kill "$QEMU" 2>/dev/null; wait "$QEMU" 2>/dev/null
n=$(count)
echo "generic-f405 under QEMU: $n boots, each ending in 'FATAL: clock: HSE or PLL did not start' and a reset"
if [ "$n" -lt 2 ]; then
    echo "FAIL: expected at least two boots that log the missing crystal; log:"
    head -c 2000 "$LOG"
    exit 1
fi
echo PASS
