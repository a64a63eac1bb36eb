#!/usr/bin/env bash
# make fuzz: build every libFuzzer target (clang, ASan + UBSan) straight from the
# sources, then fuzz them one after the other, each for SECONDS, seeded from its
# committed corpus (tests/fuzz/corpus/<target>/; the storage target also from
# fresh images of gen_storage). New inputs stay in OUT/<target>/corpus, any
# reproducer in OUT/<target>/ (crash-*, leak-*, timeout-*, oom-*; those of an
# earlier run are moved to OUT/<target>/previous/ first). Ends with one line per
# target (seconds, executions, findings) and fails if any target found something.
#
# Usage: tests/fuzz/run.sh OUT SECONDS TARGET...   (CC: the clang to use)
# SPDX-License-Identifier: MIT
set -u

out=$1
seconds=$2
shift 2
targets=("$@")
cc=${CC:-clang}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2

flags=(-std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all
       -fno-omit-frame-pointer -Iinclude -Itests -Iports/posix/metersim)
lib=(src/core/*.c src/tariff/*.c src/registers/*.c src/storage/*.c)
declare -A srcs=(
    [modbus]="tests/fuzz/fuzz_modbus.c"
    [storage]="tests/fuzz/fuzz_storage.c tests/fuzz/fuzz_app.c tests/nvm_emu.c"
    [schedule]="tests/fuzz/fuzz_schedule.c tests/fuzz/fuzz_app.c tests/nvm_emu.c"
    [wav]="tests/fuzz/fuzz_wav.c ports/posix/metersim/wav.c"
)
# Largest input: a storage image of up to 32 sectors of 4 KiB needs 128 KiB, but the
# rest of an image is erased, so 64 KiB (16 sectors of 4 KiB, 32 of 2 KiB) is plenty.
declare -A maxlen=([modbus]=600 [storage]=65536 [schedule]=2048 [wav]=16384)

mkdir -p "$out" || exit 2
for t in "${targets[@]}"; do
    if [ -z "${srcs[$t]+x}" ]; then
        echo "run.sh: unknown target '$t' (modbus storage schedule wav)" >&2
        exit 2
    fi
    mkdir -p "$out/$t/corpus" || exit 2
    echo "fuzz: building fuzz_$t"
    # shellcheck disable=SC2086
    "$cc" "${flags[@]}" -fsanitize=fuzzer "${lib[@]}" ${srcs[$t]} -lm -o "$out/fuzz_$t" || exit 2
done
for t in "${targets[@]}"; do
    if [ "$t" = storage ]; then
        echo "fuzz: storage seed images (gen_storage)"
        "$cc" "${flags[@]}" "${lib[@]}" tests/fuzz/gen_storage.c tests/fuzz/fuzz_app.c tests/nvm_emu.c -lm \
            -o "$out/gen_storage" || exit 2
        mkdir -p "$out/storage/seeds" && "$out/gen_storage" "$out/storage/seeds" || exit 2
    fi
done

summary=()
failed=0
for t in "${targets[@]}"; do
    dir=$out/$t
    shopt -s nullglob
    old=("$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-*)
    if [ ${#old[@]} -gt 0 ]; then
        mkdir -p "$dir/previous" && mv "${old[@]}" "$dir/previous/"
    fi
    cp tests/fuzz/corpus/"$t"/* "$dir/corpus/" 2>/dev/null
    extra=()
    [ -d "$dir/seeds" ] && extra=("$dir/seeds")
    echo "fuzz: fuzz_$t for $seconds s (log: $dir/fuzz.log)"
    start=$(date +%s)
    "$out/fuzz_$t" -max_total_time="$seconds" -max_len="${maxlen[$t]}" -timeout=30 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" "${extra[@]}" >"$dir/fuzz.log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
    if [ -z "$execs" ]; then # not printed after a crash: the last status line's count
        execs=$(grep -a -o '^#[0-9]*' "$dir/fuzz.log" | tail -1 | tr -d '#')
    fi
    found=("$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-*)
    shopt -u nullglob
    corpus=$(find "$dir/corpus" -type f | wc -l)
    if [ $rc -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
        failed=1
        grep -a -m3 -E 'check failed|ERROR:|runtime error|SUMMARY' "$dir/fuzz.log" | sed 's/^/    /'
        line=$(printf '%-9s %5s s  %12s executions  %d findings  corpus %d  %s' "$t" "$took" "${execs:-?}" \
            "$(( ${#found[@]} > 0 ? ${#found[@]} : 1 ))" "$corpus" "${found[*]:-exit $rc, see $dir/fuzz.log}")
    else
        line=$(printf '%-9s %5s s  %12s executions  0 findings  corpus %d' "$t" "$took" "${execs:-?}" "$corpus")
    fi
    echo "fuzz: $line"
    summary+=("$line")
done

echo "make fuzz: summary (FUZZ_SECONDS=$seconds)"
printf '    %s\n' "${summary[@]}"
printf '%s\n' "${summary[@]}" >"$out/summary.txt"
if [ $failed -ne 0 ]; then
    echo "make fuzz: FINDINGS (reproducers above; add each to tests/fuzz/corpus/<target>/ before the fix)"
    exit 1
fi
echo "make fuzz: no finding"
