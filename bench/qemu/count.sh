#!/usr/bin/env bash
# bench/qemu/count.sh [m4f|m0|all] [1p2w|3p4w|all]
#
# Exact instruction counts of the metering core on Cortex-M under QEMU
# (bench/qemu/README.md). Builds the library from the current source tree as shipped
# (MinSizeRel, cmake/toolchain-arm-none-eabi.cmake, the flags of `make size`) into
# build/qemu/lib-<target>, links the harness against it, runs it under
# qemu-system-arm with every instruction logged and prints, per target and wiring:
#
#   bench qemu m4f 1p2w: X instructions per sample pair (per-sample A, per-cycle B, per-window C)
#   bench qemu m4f 3p4w: X instructions per channel pair (per-sample A, per-cycle B, per-window C)
#
# in the order m4f 1p2w, m0 1p2w, m4f 3p4w, m0 3p4w (defaults: all, all). Runs up to
# JOBS of them at once (default: the number of CPUs). MCQ_BUILD moves the build
# directory (default build/qemu); MCQ_VERBOSE=1 shows the parser's raw counts and the
# harness's reading.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${MCQ_BUILD:-$root/build/qemu}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# shellcheck source=qemu.sh
. "$here/qemu.sh"

usage() { echo "usage: $0 [m4f|m0|all] [1p2w|3p4w|all]" >&2; exit 2; }
case ${1:-all} in m4f | m0) targets=("$1") ;; all) targets=(m4f m0) ;; *) usage ;; esac
case ${2:-all} in 1p2w | 3p4w) wirings=("$2") ;; all) wirings=(1p2w 3p4w) ;; *) usage ;; esac

CC_ARM=${MC_ARM_TRIPLE:-arm-none-eabi}-gcc
HOST_CC=${HOST_CC:-cc}
for tool in "$CC_ARM" qemu-system-arm cmake "$HOST_CC"; do
    command -v "$tool" >/dev/null || { echo "count: $tool not found (tools/deps.sh host-c cross-arm qemu-arm)" >&2; exit 1; }
done
mkdir -p "$build"
log=$build/build.log
: >"$log"
step() { # run a build step quietly; show its output when it fails
    if ! "$@" >>"$log" 2>&1; then
        echo "count: failed: $*" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

# Host tools: the parser and the table generator.
step "$HOST_CC" -std=c11 -O2 -Wall -Wextra -Werror -o "$build/mcq_count" "$here/count.c"
step "$HOST_CC" -std=c11 -O2 -Wall -Wextra -Werror -I"$here" -o "$build/gen_wave" "$here/gen_wave.c" -lm
for wiring in "${wirings[@]}"; do
    step "$build/gen_wave" "$wiring" "$build/wave-$wiring.c"
done

# The library as shipped, and the images.
for target in "${targets[@]}"; do
    case $target in m4f) cpu=cortex-m4f ;; m0) cpu=cortex-m0plus ;; esac
    lib=$build/lib-$target
    step cmake -S "$root" -B "$lib" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-arm-none-eabi.cmake" \
        -DMC_ARM_CPU="$cpu" -DCMAKE_BUILD_TYPE=MinSizeRel -DMC_WERROR=ON \
        -DMC_PORT=none -DMC_BUILD_TESTS=OFF -DMC_BUILD_EXAMPLES=OFF -DMC_BUILD_BENCH=OFF
    step cmake --build "$lib" --target metercore --parallel "$jobs"
    # The harness gets the library's own CPU flags (the toolchain's) and -Os.
    flags=$(sed -n 's/^CMAKE_C_FLAGS:STRING=//p' "$lib/CMakeCache.txt")
    for wiring in "${wirings[@]}"; do
        w=0
        [ "$wiring" = 3p4w ] && w=1
        elf=$build/$target-$wiring.elf
        # shellcheck disable=SC2086
        step "$CC_ARM" $flags -Os -std=c11 -Wall -Wextra -Werror -DMCQ_3P4W=$w -I"$root/include" -I"$here" \
            -nostartfiles --specs=nano.specs -T "$(mcq_ldscript "$target")" -L "$here" -Wl,--gc-sections \
            -Wl,-Map="$elf.map" -o "$elf" "$here/startup.S" "$here/markers.S" "$here/mcq.c" "$here/harness.c" \
            "$build/wave-$wiring.c" "$lib/libmetercore.a" -lm -lc -lgcc
    done
done

# One run: the parser's counts and the harness's result -> the bench line.
run_one() {
    local target=$1 wiring=$2 elf=$build/$1-$2.elf counts
    counts=$(mcq_count_run "$target" "$elf" "$build/mcq_count" "$elf.err" \
        --root mc_meter_process,mc_meter_process_frames \
        --cycle close_cycle,mc_meter_close_cycle --window close_window,mc_meter_close_window \
        --on mcq_count_on --off mcq_count_off) || return 1
    local result
    result=$(sed -n 's/^mcq result //p' "$elf.err")
    [ -n "$result" ] || { echo "count: no result from $elf:" >&2; cat "$elf.err" >&2; return 1; }
    if [ "${MCQ_VERBOSE:-0}" != 0 ]; then
        echo "count: $target $wiring: $counts" >&2
        sed -n 's/^mcq reading/count: '"$target $wiring"' reading:/p' "$elf.err" >&2
    fi
    echo "$counts $result" | awk -v t="$target" -v w="$wiring" '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
        END {
            unit = w == "1p2w" ? "sample pair" : "channel pair"
            n = w == "1p2w" ? v["pairs"] : v["channel_pairs"]
            a = v["sample"] / n; b = v["cycle"] / n; c = v["window"] / n
            pb = v["cycle_syms"] > 0 ? sprintf("per-cycle %.1f", b) : "per-cycle n/a"
            pc = v["window_syms"] > 0 ? sprintf("per-window %.1f", c) : "per-window n/a"
            printf "bench qemu %s %s: %.1f instructions per %s (per-sample %.1f, %s, %s)\n", \
                t, w, a + b + c, unit, a, pb, pc
        }'
    # The parser must have seen every call the harness made, and no jump into a body.
    local parsed_calls made_calls jumps
    parsed_calls=$(printf '%s\n' "$counts" | tr ' ' '\n' | sed -n 's/^calls=//p')
    made_calls=$(printf '%s\n' "$result" | tr ' ' '\n' | sed -n 's/^calls=//p')
    jumps=$(printf '%s\n' "$counts" | tr ' ' '\n' | sed -n 's/^jumps=//p')
    if [ "$parsed_calls" != "$made_calls" ]; then
        echo "count: $target $wiring: the parser saw $parsed_calls calls, the harness made $made_calls" >&2
        return 1
    fi
    if [ "$jumps" != 0 ]; then
        echo "count: $target $wiring: $jumps jumps into function bodies (counted where they came from)" >&2
    fi
}

# Runs in the background, at most $jobs at a time; lines printed in order.
order=()
for wiring in "${wirings[@]}"; do
    for target in "${targets[@]}"; do
        order+=("$target-$wiring")
    done
done
for name in "${order[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        sleep 0.2
    done
    rm -f "$build/$name.rc"
    (
        if run_one "${name%-*}" "${name#*-}" >"$build/$name.line" 2>"$build/$name.msg"; then
            echo 0 >"$build/$name.rc"
        else
            echo 1 >"$build/$name.rc"
        fi
    ) &
done
wait
rc=0
for name in "${order[@]}"; do
    cat "$build/$name.msg" >&2
    cat "$build/$name.line"
    [ "$(cat "$build/$name.rc" 2>/dev/null)" = 0 ] || rc=1
done
if [ "$rc" != 0 ]; then
    echo "count: FAILED" >&2
fi
exit $rc
