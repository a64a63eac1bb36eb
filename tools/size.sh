#!/usr/bin/env bash
# tools/size.sh [build-root]
#
# Flash and RAM of the library on Cortex-M4F and Cortex-M0+ (-Os, arm-none-eabi).
# Cross-compiles the library (MinSizeRel) into <build-root>/size-<cpu> and prints:
#
#   size <cpu> <module> text=N data=N bss=N     per module (core, tariff, registers, storage, panel)
#   size <cpu> wiring <w> state=N core+tariff+registers ram=N
#                                               per wiring (1p3w, 3p4w, 3p4wn = with IN, 3p3w, multi16 =
#                                               16 circuits on one voltage, multi16x3 = on three): the
#                                               state arrays the wiring adds to mc_meter_t
#   size <cpu> total flash=N ram=N              flash = text + data,
#                                               ram = data + bss + one instance of each caller-allocated
#                                                     type (mc_meter_t, mc_tariff_t, mc_model_t, mc_rtu_t,
#                                                     mc_storage_t, mc_panel_t)
#   size firmware <board> flash=N ram=N library_flash=N library_ram=N
#                                               the STM32 firmware example per board (see below)
#   size firmware <board> linked core=N tariff=N registers=N storage=N panel=N
#                                               the library's flash in that image per module: what
#                                               the product links, not every object
#
# Sizes come from arm-none-eabi-size on the library's object files, grouped by
# their source folder src/<module>/. The size of each caller-allocated type on the
# target is that of its probe symbol in tools/size_probe.c, read with arm-none-eabi-nm -S
# (the RAM each instance needs; the caller owns it).
# Only the library's own objects are counted: run-time routines a firmware link
# adds (libgcc soft-float on the M0+, newlib's sqrtf/lrintf, memcpy) are not.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_root=${1:-$root/build}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
modules=(core tariff registers storage panel)
SIZE=${MC_ARM_TRIPLE:-arm-none-eabi}-size
NM=${MC_ARM_TRIPLE:-arm-none-eabi}-nm

for tool in "$SIZE" "$NM" cmake; do
    command -v "$tool" >/dev/null 2>&1 || { echo "size: $tool not found" >&2; exit 1; }
done

report=()
for target in m4f m0plus; do
    case $target in
        m4f) cpu=cortex-m4f ;;
        m0plus) cpu=cortex-m0plus ;;
    esac
    dir=$build_root/size-$target
    cmake -S "$root" -B "$dir" \
        -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-arm-none-eabi.cmake" \
        -DMC_ARM_CPU=$cpu -DCMAKE_BUILD_TYPE=MinSizeRel -DMC_WERROR=ON \
        -DMC_PORT=none -DMC_BUILD_TESTS=OFF -DMC_BUILD_EXAMPLES=OFF -DMC_BUILD_BENCH=OFF \
        -DMC_SIZE_PROBE=ON >/dev/null
    cmake --build "$dir" --parallel "$jobs" >/dev/null

    manifest=$dir/metercore-size-objects.txt
    [ -f "$manifest" ] || { echo "size: $manifest missing" >&2; exit 1; }
    mapfile -t objects < <(sed -n 's/^library://p' "$manifest")
    probe=$(sed -n 's/^probe://p' "$manifest")

    total_text=0 total_data=0 total_bss=0 goal_flash=0 goal_ram=0
    for module in "${modules[@]}"; do
        text=0 data=0 bss=0
        for obj in "${objects[@]}"; do
            case $obj in
                */src/"$module"/*) ;;
                *) continue ;;
            esac
            read -r t d b < <("$SIZE" -B -d "$obj" | awk 'NR == 2 { print $1, $2, $3 }')
            text=$((text + t)) data=$((data + d)) bss=$((bss + b))
        done
        report+=("size $target $module text=$text data=$data bss=$bss")
        total_text=$((total_text + text)) total_data=$((total_data + data)) total_bss=$((total_bss + bss))
        case $module in core | tariff | registers)
            goal_flash=$((goal_flash + text + data)) goal_ram=$((goal_ram + data + bss)) ;;
        esac
    done

    # One instance of each caller-allocated type (symbols *_size_probe of the probe object).
    instances=$("$NM" -S -t d "$probe" | awk '$NF ~ /_size_probe$/ { sub(/_size_probe$/, "", $NF); printf "%s=%d ", $NF, $2 + 0; total += $2 } END { printf "total=%d", total }')
    inst_total=${instances##*total=}
    if [ -z "$inst_total" ] || [ "$inst_total" -eq 0 ]; then
        echo "size: cannot read instance sizes from $probe" >&2
        exit 1
    fi
    report+=("# $target: instances ${instances% total=*} (bytes, counted in ram)")
    # The size goal of the core issue covers core, tariff and registers with their instances.
    goal_inst=$("$NM" -S -t d "$probe" | awk '$NF ~ /^mc_(meter|tariff|model|rtu)_size_probe$/ { t += $2 } END { print t + 0 }')
    report+=("# $target: core+tariff+registers flash=$goal_flash ram=$((goal_ram + goal_inst)) (goal on m4f: 16384 and 2048)")
    report+=("size $target total flash=$((total_text + total_data)) ram=$((total_data + total_bss + inst_total))")
    # Wirings: the state arrays each adds to a meter (channels, products, elements), and
    # core+tariff+registers RAM for that wiring (the 1P2W figure above plus the arrays).
    while read -r name bytes; do
        report+=("size $target wiring $name state=$bytes core+tariff+registers ram=$((goal_ram + goal_inst + bytes))")
    done < <("$NM" -S -t d "$probe" | awk '$NF ~ /_wiring_probe$/ { n = $NF; sub(/^mc_/, "", n); sub(/_wiring_probe$/, "", n); print n, $2 + 0 }')
done

# Firmware: the STM32 port's example for each board (MinSizeRel), and the share of
# the library (libmetercore.a) in it, from the link map: input sections kept in
# the image at a flash (0x08...) or RAM (0x20...) address. The firmware's RAM
# includes the caller-allocated instances (meter, tariff, model, storage, rtu,
# panel) and, on qemu-netduinoplus2, the 32 KiB RAM that stands in for flash.
fw_dir=$build_root/size-fw
cmake -S "$root" -B "$fw_dir" \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-arm-none-eabi.cmake" \
    -DMC_ARM_CPU=cortex-m4f -DCMAKE_BUILD_TYPE=MinSizeRel -DMC_WERROR=ON -DMC_PORT=stm32 \
    -DMC_STM32_QEMU_TEST=OFF -DMC_BUILD_TESTS=OFF -DMC_BUILD_EXAMPLES=OFF -DMC_BUILD_BENCH=OFF >/dev/null
cmake --build "$fw_dir" --parallel "$jobs" >/dev/null
for elf in "$fw_dir"/ports/stm32/metercore-fw-*.elf; do
    board=$(basename "$elf" .elf)
    board=${board#metercore-fw-}
    read -r t d b < <("$SIZE" -B -d "$elf" | awk 'NR == 2 { print $1, $2, $3 }')
    # One line per input section of the library kept in the image: address, size, object.
    sections=$(awk '
        function hex(h,   i, v) { v = 0; h = tolower(substr(h, 3))
            for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
            return v }
        { line = prev " " $0; prev = $0 }
        line ~ /libmetercore\.a\(/ && match(line, /0x[0-9a-f]+[ \t]+0x[0-9a-f]+[ \t]+[^ \t]*libmetercore\.a\([^)]*\)/) {
            split(substr(line, RSTART, RLENGTH), f, /[ \t]+/)
            obj = f[3]; sub(/.*\(/, "", obj); sub(/\)$/, "", obj)
            print f[1], hex(f[2]), obj
            prev = ""
        }' "${elf%.elf}.map")
    lib=$(awk '$1 ~ /^0x0*80/ { flash += $2 } $1 ~ /^0x0*20/ { ram += $2 } END { printf "%d %d", flash, ram }' <<<"$sections")
    report+=("size firmware $board flash=$((t + d)) ram=$((d + b)) library_flash=${lib% *} library_ram=${lib#* }")
    # Per module: an object belongs to the module of its source folder (the M4F manifest).
    linked=""
    for module in "${modules[@]}"; do
        names=$(sed -n 's/^library://p' "$build_root/size-m4f/metercore-size-objects.txt" |
            awk -v m="/src/$module/" 'index($0, m) { n = $0; sub(/.*\//, "", n); print n }')
        bytes=$(awk -v names="$names" 'BEGIN { k = split(names, a, "\n"); for (j = 1; j <= k; j++) want[a[j]] = 1 }
            $1 ~ /^0x0*80/ && ($3 in want) { s += $2 } END { print s + 0 }' <<<"$sections")
        linked+=" $module=$bytes"
    done
    report+=("size firmware $board linked${linked}")
done

printf '%s\n' "${report[@]}"
