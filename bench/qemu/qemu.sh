# shellcheck shell=bash
# bench/qemu/qemu.sh: shell functions shared by count.sh and selfcheck.sh (sourced).
#
#   mcq_machine <m4f|m0>      the QEMU machine: netduinoplus2 (STM32F405, Cortex-M4F) or
#                             microbit (nRF51822, Cortex-M0)
#   mcq_ldscript <m4f|m0>     its linker script in bench/qemu
#   mcq_count_run <m4f|m0> <elf> <parser> <stderr-file> <parser args...>
#                             run the image with every executed instruction logged
#                             (-singlestep -d exec,nochain) and stream the log through the
#                             parser; the parser's line on stdout, the image's semihosting
#                             output (and QEMU's messages) in <stderr-file>. Fails when
#                             QEMU (the image's exit status) or the parser fails.

mcq_machine() {
    case $1 in
        m4f) echo netduinoplus2 ;;
        m0) echo microbit ;;
        *) echo "mcq: unknown target '$1' (m4f or m0)" >&2; return 2 ;;
    esac
}

mcq_ldscript() {
    case $1 in
        m4f) echo netduinoplus2.ld ;;
        m0) echo microbit.ld ;;
        *) echo "mcq: unknown target '$1' (m4f or m0)" >&2; return 2 ;;
    esac
}

mcq_count_run() {
    local target=$1 elf=$2 parser=$3 err=$4 machine syms
    shift 4
    machine=$(mcq_machine "$target") || return 2
    syms=$elf.syms
    "${MC_ARM_TRIPLE:-arm-none-eabi}-nm" -S --defined-only "$elf" >"$syms" || return 1
    # A bound for a hung image (a fault ends it through semihosting); an M0 run of the
    # whole 3P4W bench logs some 20 million lines, well inside it.
    timeout 900 qemu-system-arm -M "$machine" -nographic -monitor none -serial null \
        -semihosting-config enable=on,target=native -kernel "$elf" \
        -singlestep -d exec,nochain -D /dev/stdout </dev/null 2>"$err" |
        "$parser" --syms "$syms" "$@"
    local st=("${PIPESTATUS[@]}")
    if [ "${st[0]}" != 0 ]; then
        echo "mcq: $elf under qemu-system-arm -M $machine exited with ${st[0]}:" >&2
        cat "$err" >&2
        return 1
    fi
    if [ "${st[1]}" != 0 ]; then
        echo "mcq: the parser failed on the trace of $elf" >&2
        return 1
    fi
}
