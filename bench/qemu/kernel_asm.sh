#!/usr/bin/env bash
# bench/qemu/kernel_asm.sh <work-dir> <m0|m4f>
#
# The core's assembly loops on a Cortex-M under QEMU: the ARMv6-M ones
# (src/core/mc_kernel_armv6m.c) on the Cortex-M0 machine (-M microbit), the ARMv7-M ones
# (src/core/mc_kernel_armv7m.c) on the Cortex-M4 machine (-M netduinoplus2), two ways:
#  1. kernel_asm.c: each loop's sums exact against int64 arithmetic on random and extreme
#     codes, callee-saved registers restored;
#  2. the counting harness (harness.c, 1P2W and 3P4W tables of gen_wave.c) with the core
#     built with the assembly loops and with the C loops (MC_KERNEL_ARMV6M_ASM=0 or
#     MC_KERNEL_ARMV7M_ASM=0): the meter's whole state after some 20 000 frames and a flush
#     must hash the same.
# Registered with ctest as qemu_kernel_m0 and qemu_kernel_m4f; about half a minute each.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:?usage: kernel_asm.sh work-dir m0|m4f}
target=${2:?usage: kernel_asm.sh work-dir m0|m4f}
# shellcheck source=qemu.sh
. "$here/qemu.sh"
# The CPU flags of cmake/toolchain-arm-none-eabi.cmake for the target, and the macro that
# chooses its assembly loops.
case $target in
    m0) cpu=(-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft) asm_macro=MC_KERNEL_ARMV6M_ASM ;;
    m4f) cpu=(-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard) asm_macro=MC_KERNEL_ARMV7M_ASM ;;
    *) echo "usage: kernel_asm.sh work-dir m0|m4f" >&2; exit 2 ;;
esac
name=qemu_kernel_$target
CC=${MC_ARM_TRIPLE:-arm-none-eabi}-gcc
HOST_CC=${HOST_CC:-cc}
for tool in "$CC" qemu-system-arm; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (tools/deps.sh cross-arm qemu-arm)"; exit 1; }
done
mkdir -p "$work"
elf=$work/kernel-$target.elf
flags=("${cpu[@]}" -Os -std=c11 -Wall -Wextra -Werror
    -ffunction-sections -fdata-sections -I"$root/include" -I"$root/src/core" -I"$here"
    -nostartfiles -T "$(mcq_ldscript "$target")" -L "$here" -Wl,--gc-sections)
run() { # image -> its semihosting output; fails on a non-zero exit
    timeout 120 qemu-system-arm -M "$(mcq_machine "$target")" -nographic -monitor none -serial null \
        -semihosting-config enable=on,target=native -kernel "$1" </dev/null 2>&1
}

"$CC" "${flags[@]}" -o "$elf" "$here/startup.S" "$here/mcq.c" "$here/kernel_asm_call.S" \
    "$here/kernel_asm.c" "$root/src/core/mc_kernel_armv6m.c" "$root/src/core/mc_kernel_armv7m.c" -lgcc
rc=0
out=$(run "$elf") || rc=$?
[ "$rc" = 0 ] || { echo "$out"; echo "FAIL: $name: the loops (exit $rc)"; exit 1; }
echo "$out"
grep -q "all exact" <<<"$out" || { echo "FAIL: $name: the loops"; exit 1; }

core=("$root/src/core/mc_common.c" "$root/src/core/mc_calibration.c" "$root/src/core/mc_meter.c"
    "$root/src/core/mc_meter_kernel.c" "$root/src/core/mc_kernel_armv6m.c" "$root/src/core/mc_kernel_armv7m.c")
"$HOST_CC" -std=c11 -O2 -Wall -Wextra -Werror -I"$here" -o "$work/gen_wave" "$here/gen_wave.c" -lm
for wiring in 1p2w 3p4w; do
    w=0
    [ "$wiring" = 3p4w ] && w=1
    "$work/gen_wave" "$wiring" "$work/wave-$wiring.c"
    states=()
    for asm in 1 0; do
        img=$work/harness-$wiring-asm$asm.elf
        "$CC" "${flags[@]}" -D$asm_macro=$asm -DMCQ_3P4W=$w --specs=nano.specs -o "$img" \
            "$here/startup.S" "$here/markers.S" "$here/mcq.c" "$here/harness.c" "$work/wave-$wiring.c" \
            "${core[@]}" -lm -lc -lgcc
        rc=0
        out=$(run "$img") || rc=$?
        [ "$rc" = 0 ] || { echo "$out"; echo "FAIL: $name: $wiring harness (exit $rc)"; exit 1; }
        states+=("$(sed -n 's/^mcq reading .*state=\([0-9]*\).*/\1/p' <<<"$out")")
    done
    if [ -z "${states[0]}" ] || [ "${states[0]}" != "${states[1]}" ]; then
        echo "FAIL: $name: $wiring meter state, assembly loops ${states[0]:-none}, C loops ${states[1]:-none}"
        exit 1
    fi
    echo "$name: $wiring meter state after the harness's frames: ${states[0]} with the assembly loops and with the C loops"
done
