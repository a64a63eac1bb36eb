#!/usr/bin/env bash
# bench/qemu/selfcheck.sh <mcq_count> <work-dir>
#
# Self-check of the counting method (bench/qemu/README.md): the image of
# selfcheck.c + selfcheck.S, built for each machine, runs under QEMU with every
# instruction logged, and the parser's counts (per class, calls, jumps) must equal
# exactly what the image computes from its loop lengths (selfcheck.h). Registered
# with ctest as qemu_count_selfcheck; a few seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
parser=${1:?usage: selfcheck.sh mcq_count work-dir}
work=${2:?usage: selfcheck.sh mcq_count work-dir}
# shellcheck source=qemu.sh
. "$here/qemu.sh"
CC=${MC_ARM_TRIPLE:-arm-none-eabi}-gcc
for tool in "$CC" qemu-system-arm; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (tools/deps.sh cross-arm qemu-arm)"; exit 1; }
done
mkdir -p "$work"

rc=0
for target in m4f m0; do
    # The CPU flags of cmake/toolchain-arm-none-eabi.cmake (MC_ARM_CPU cortex-m4f and
    # cortex-m0plus; the microbit's Cortex-M0 runs the same ARMv6-M code).
    case $target in
        m4f) cpu="-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard" ;;
        m0) cpu="-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft" ;;
    esac
    elf=$work/selfcheck-$target.elf
    # shellcheck disable=SC2086
    "$CC" $cpu -Os -std=c11 -Wall -Wextra -Werror -ffunction-sections -fdata-sections \
        -nostartfiles -nostdlib -T "$(mcq_ldscript $target)" -L "$here" -Wl,--gc-sections -o "$elf" \
        "$here/startup.S" "$here/markers.S" "$here/selfcheck.S" "$here/selfcheck.c" "$here/mcq.c" -lgcc
    got=$(mcq_count_run $target "$elf" "$parser" "$elf.err" --root mcq_sc_root --cycle mcq_sc_cycle \
        --window mcq_sc_window --on mcq_count_on --off mcq_count_off)
    want=$(sed -n 's/^mcq expect //p' "$elf.err" | xargs)
    # The parser's fields that the image predicts, in its order.
    have=""
    for field in $want; do
        key=${field%%=*}
        have="$have $key=$(printf '%s\n' "$got" | tr ' ' '\n' | sed -n "s/^$key=//p")"
    done
    have=${have# }
    if [ -n "$want" ] && [ "$have" = "$want" ]; then
        echo "qemu_count_selfcheck $target ($(mcq_machine $target)): $have (exact)"
    else
        echo "FAIL: qemu_count_selfcheck $target ($(mcq_machine $target)): counted '$got', expected '$want'"
        cat "$elf.err"
        rc=1
    fi
done
exit $rc
