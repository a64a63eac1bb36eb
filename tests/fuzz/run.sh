#!/usr/bin/env bash
# make fuzz: build every libFuzzer target (clang, ASan + UBSan) straight from the
# sources, then fuzz them one after the other, each for SECONDS, seeded from its
# committed corpus (tests/fuzz/corpus/<target>/; the storage target also from
# fresh images of gen_storage). New inputs stay in OUT/<target>/corpus, any
# reproducer in OUT/<target>/ (crash-*, leak-*, timeout-*, oom-*; those of an
# earlier run are moved to OUT/<target>/previous/ first). libFuzzer runs in fork
# mode with one job, so that fuzzing goes on after a finding. Ends with one line per
# target (seconds, executions, crashes) and fails if any target found something.
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
    [dlt645]="tests/fuzz/fuzz_dlt645.c"
)
# Largest input: a storage image of up to 32 sectors of 4 KiB needs 128 KiB, but the
# rest of an image is erased, so 64 KiB (16 sectors of 4 KiB, 32 of 2 KiB) is plenty.
declare -A maxlen=([modbus]=600 [storage]=65536 [schedule]=2048 [wav]=16384 [dlt645]=600)

mkdir -p "$out" || exit 2
for t in "${targets[@]}"; do
    if [ -z "${srcs[$t]+x}" ]; then
        echo "run.sh: unknown target '$t' (modbus storage schedule wav dlt645)" >&2
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
    # Fork mode, one job at a time (one core): a crash, leak, timeout or OOM is kept as a
    # reproducer and the fuzzing goes on, so that the summary counts every finding.
    "$out/fuzz_$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$seconds" -max_len="${maxlen[$t]}" -timeout=30 -rss_limit_mb=2048 \
        -artifact_prefix="$dir/" "$dir/corpus" "${extra[@]}" >"$dir/fuzz.log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    # Status lines of fork mode: "#<executions>: cov: ... oom/timeout/crash: 0/0/0 time: ...".
    last=$(grep -a -E '^#[0-9]+: cov:' "$dir/fuzz.log" | tail -1)
    execs=$(printf '%s' "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
    otc=$(printf '%s' "$last" | sed -n 's/.*oom\/timeout\/crash: \([0-9]*\/[0-9]*\/[0-9]*\).*/\1/p')
    found=("$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-*)
    shopt -u nullglob
    corpus=$(find "$dir/corpus" -type f | wc -l)
    line=$(printf '%-9s %5s s  %12s executions  %3d crashes (oom/timeout/crash %s)  corpus %d' "$t" "$took" \
        "${execs:-?}" "${#found[@]}" "${otc:-?}" "$corpus")
    if [ $rc -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
        failed=1
        [ ${#found[@]} -gt 0 ] || line="$line  (exit $rc, see $dir/fuzz.log)"
        # What they are (fork mode logs no cause): each reproducer run again, each distinct
        # cause once with the number of reproducers and one of them.
        for f in "${found[@]:0:200}"; do
            cause=$(timeout 60 "$out/fuzz_$t" "$f" 2>&1 | grep -a -m1 -o -E \
                'check failed: .*|runtime error: .*|ERROR: (AddressSanitizer|LeakSanitizer): [a-z-]+( on [a-z]+)?|ERROR: libFuzzer: [a-z -]+' \
                | sed 's/0x[0-9a-f]*/0x.../g')
            printf '%s\t%s\n' "${cause:-no cause printed (slow input?)}" "$f"
        done | sort | awk -F'\t' '{n[$1]++; if (!($1 in f)) f[$1] = $2} END {for (c in n) printf "    %4d x %s\n           e.g. %s\n", n[c], c, f[c]}' 
    fi
    echo "fuzz: $line"
    summary+=("$line")
done

echo "make fuzz: summary (FUZZ_SECONDS=$seconds)"
printf '    %s\n' "${summary[@]}"
printf '%s\n' "${summary[@]}" >"$out/summary.txt"
if [ $failed -ne 0 ]; then
    echo "make fuzz: FINDINGS (reproducers above: run one with OUT/fuzz_<target> FILE; see tests/fuzz/README.md)"
    exit 1
fi
echo "make fuzz: no finding"
