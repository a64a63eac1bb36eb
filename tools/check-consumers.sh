#!/usr/bin/env bash
# tools/check-consumers.sh [build-root]
#
# Proves that other projects can use metercore in the three supported ways:
#   1. find_package(metercore) against a staged `cmake --install` prefix,
#   2. add_subdirectory() of the source tree,
#   3. pkg-config (metercore.pc from the same staged prefix),
# and that the POSIX port is a component of the installed package: the consumer
# tests/consumer/posix_main.c (the port's NVM and Modbus TCP server, headers included
# as "metercore/posix/...") and the example examples/posix_meter.c (meter, tariff,
# model, storage in a file, Modbus TCP), as installed in share/doc/metercore/examples,
# build against the staged prefix
#   4. with find_package(metercore COMPONENTS posix) and
#   5. with pkg-config metercore-posix,
# and run (the example for a second on a free port and a state file of its own).
# Each consumer of the library alone (tests/consumer/main.c) starts a meter and is run.
# Last, the configuration without libmodbus and without pkg-config: it succeeds, says
# what is left out and what to install, its suites pass, and its install still gives
# metercore::posix (the NVM) to consumers.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_root=${1:-$root/build}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
lib_build=$build_root/install-build
stage=$build_root/stage

echo "consumers: building and staging an install in $stage"
rm -rf "$stage"
cmake -S "$root" -B "$lib_build" -DCMAKE_BUILD_TYPE=Release -DMC_WERROR=ON -DMC_PORT=posix \
    -DMC_BUILD_TESTS=OFF -DMC_BUILD_EXAMPLES=OFF -DMC_BUILD_BENCH=OFF >/dev/null
cmake --build "$lib_build" --parallel "$jobs" >/dev/null
cmake --install "$lib_build" --prefix "$stage" >/dev/null

echo "consumers: find_package(metercore)"
rm -rf "$build_root/consumer-find-package"
cmake -S "$root/tests/consumer/find_package" -B "$build_root/consumer-find-package" \
    -DCMAKE_PREFIX_PATH="$stage" >/dev/null
cmake --build "$build_root/consumer-find-package" --parallel "$jobs" >/dev/null
"$build_root/consumer-find-package/consumer"

echo "consumers: add_subdirectory(metercore)"
rm -rf "$build_root/consumer-add-subdirectory"
cmake -S "$root/tests/consumer/add_subdirectory" -B "$build_root/consumer-add-subdirectory" \
    -DMETERCORE_DIR="$root" >/dev/null
cmake --build "$build_root/consumer-add-subdirectory" --parallel "$jobs" >/dev/null
"$build_root/consumer-add-subdirectory/consumer"

echo "consumers: pkg-config metercore"
if command -v pkg-config >/dev/null 2>&1; then
    pcdir=$(dirname "$(find "$stage" -name metercore.pc -print -quit)")
    flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs metercore)
    mkdir -p "$build_root/consumer-pkg-config"
    # shellcheck disable=SC2086 # the flags are meant to be split
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror "$root/tests/consumer/main.c" $flags \
        -o "$build_root/consumer-pkg-config/consumer"
    "$build_root/consumer-pkg-config/consumer"
else
    echo "consumers: pkg-config not installed, skipping the pkg-config consumer"
fi

example=$stage/share/doc/metercore/examples/posix_meter.c
[ -f "$example" ] || { echo "consumers: FAIL: $example not installed"; exit 1; }
[ -x "$stage/bin/metersim" ] || { echo "consumers: FAIL: metersim not installed in $stage/bin"; exit 1; }
# A free TCP port for the example (the kernel picks one).
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
run_posix_consumer() { # binary, label
    local out
    out=$("$1" "$build_root/posix-consumer.$$.nvm") || { echo "consumers: FAIL: $2: $out"; exit 1; }
    echo "$out" | sed 's/^/    /'
}
run_example() { # binary, label
    local state port out
    state=$(mktemp -u "$build_root/posix-meter.XXXXXX.nvm")
    port=$(free_port)
    out=$("$1" "$port" "$state" 1.2) || { echo "consumers: FAIL: $2: $out"; rm -f "$state"; exit 1; }
    rm -f "$state"
    echo "$out" | sed 's/^/    /'
    echo "$out" | grep -q "saved: MC_OK" || { echo "consumers: FAIL: $2 did not save"; exit 1; }
}

echo "consumers: find_package(metercore COMPONENTS posix): tests/consumer/posix_main.c, examples/posix_meter.c"
rm -rf "$build_root/consumer-posix"
cmake -S "$root/tests/consumer/posix" -B "$build_root/consumer-posix" \
    -DCMAKE_PREFIX_PATH="$stage" -DMETERCORE_EXAMPLE="$example" >/dev/null
cmake --build "$build_root/consumer-posix" --parallel "$jobs" >/dev/null
run_posix_consumer "$build_root/consumer-posix/posix_consumer" "find_package posix consumer"
run_example "$build_root/consumer-posix/posix_meter" "find_package posix_meter"

if command -v pkg-config >/dev/null 2>&1; then
    echo "consumers: pkg-config metercore-posix: tests/consumer/posix_main.c, examples/posix_meter.c"
    PKG_CONFIG_PATH="$pcdir" pkg-config --print-requires metercore-posix | grep -q '^libmodbus' ||
        { echo "consumers: FAIL: metercore-posix.pc does not require libmodbus"; exit 1; }
    flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs metercore-posix)
    mkdir -p "$build_root/consumer-posix-pkg-config"
    # shellcheck disable=SC2086 # the flags are meant to be split
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror -DMC_CONSUMER_MODBUS=1 "$root/tests/consumer/posix_main.c" $flags \
        -o "$build_root/consumer-posix-pkg-config/posix_consumer"
    run_posix_consumer "$build_root/consumer-posix-pkg-config/posix_consumer" "pkg-config posix consumer"
    # shellcheck disable=SC2086
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror "$example" $flags -lm \
        -o "$build_root/consumer-posix-pkg-config/posix_meter"
    run_example "$build_root/consumer-posix-pkg-config/posix_meter" "pkg-config posix_meter"
fi

# Without libmodbus (pkg-config finds nothing) the POSIX port builds what it can, says
# what is left out and how to get it, and the suites that remain pass.
echo "consumers: configuring without libmodbus (PKG_CONFIG_LIBDIR empty)"
nomb=$build_root/no-libmodbus
rm -rf "$nomb"
mkdir -p "$nomb/empty-pc"
[ -n "$(find "$stage" -path '*/metercore/posix/mc_posix_modbus.h')" ] ||
    { echo "consumers: FAIL: mc_posix_modbus.h not installed in include/metercore/posix"; exit 1; }
PKG_CONFIG_LIBDIR="$nomb/empty-pc" cmake -S "$root" -B "$nomb/build" -DCMAKE_BUILD_TYPE=Release -DMC_WERROR=ON \
    -DMC_BUILD_TESTS=ON -DMC_BUILD_EXAMPLES=ON -DMC_BUILD_BENCH=OFF >"$nomb/configure.log" 2>&1 ||
    { cat "$nomb/configure.log"; echo "consumers: FAIL: configure without libmodbus"; exit 1; }
# (CMake wraps a warning's lines: joined before the search)
said() { tr -s ' \n' '  ' <"$1" | grep -q -- "$2"; }
said "$nomb/configure.log" "apt-get install libmodbus-dev" ||
    { echo "consumers: FAIL: no hint on what to install without libmodbus"; exit 1; }
cmake --build "$nomb/build" --parallel "$jobs" >/dev/null
ctest --test-dir "$nomb/build" --parallel "$jobs" --output-on-failure >"$nomb/ctest.log" 2>&1 ||
    { cat "$nomb/ctest.log"; echo "consumers: FAIL: tests without libmodbus"; exit 1; }
grep 'tests passed' "$nomb/ctest.log" | sed 's/^/    /'
if "$nomb/build/ports/posix/metersim/metersim" run --modbus-tcp 127.0.0.1:1 --duration 1 --no-dashboard \
    --state "$nomb/x.nvm" 2>"$nomb/metersim.err"; then
    echo "consumers: FAIL: metersim without libmodbus accepted --modbus-tcp"; exit 1
fi
grep -q "built without libmodbus" "$nomb/metersim.err" ||
    { cat "$nomb/metersim.err"; echo "consumers: FAIL: metersim did not say why"; exit 1; }
echo "    metersim without libmodbus: $(cat "$nomb/metersim.err")"
# run (no Modbus asked for) and dump work without it: 60 simulated seconds of 1150 W.
"$nomb/build/ports/posix/metersim/metersim" run --load U=230,I=5,PF=1,F=50 --speed max --duration 60 --no-dashboard \
    --state "$nomb/y.nvm" >"$nomb/run.out" 2>&1 ||
    { cat "$nomb/run.out"; echo "consumers: FAIL: metersim run without libmodbus"; exit 1; }
"$nomb/build/ports/posix/metersim/metersim" dump --state "$nomb/y.nvm" >"$nomb/dump.out" 2>&1 &&
    awk '$1 == "0x0082" && $2 > 0 { ok = 1 } END { exit !ok }' "$nomb/dump.out" ||
    { cat "$nomb/dump.out"; echo "consumers: FAIL: metersim dump without libmodbus: no import energy"; exit 1; }
echo "    metersim without libmodbus: run (60 s simulated at 1150 W), dump: import $(awk '$1 == "0x0082" { print $2 }' "$nomb/dump.out") kWh"

# Its install: the component posix is the NVM alone (no mc_posix_modbus.h, .pc without
# libmodbus), and a consumer of it builds and runs with find_package and with pkg-config.
echo "consumers: the install without libmodbus: tests/consumer/posix_main.c (NVM only)"
cmake --install "$nomb/build" --prefix "$nomb/stage" >/dev/null
[ -z "$(find "$nomb/stage" -name mc_posix_modbus.h)" ] ||
    { echo "consumers: FAIL: mc_posix_modbus.h installed without the Modbus servers"; exit 1; }
cmake -S "$root/tests/consumer/posix" -B "$nomb/consumer" -DCMAKE_PREFIX_PATH="$nomb/stage" >/dev/null
cmake --build "$nomb/consumer" --parallel "$jobs" >/dev/null
run_posix_consumer "$nomb/consumer/posix_consumer" "find_package posix consumer without libmodbus"
if command -v pkg-config >/dev/null 2>&1; then
    nomb_pc=$(dirname "$(find "$nomb/stage" -name metercore-posix.pc -print -quit)")
    flags=$(PKG_CONFIG_LIBDIR="$nomb/empty-pc" PKG_CONFIG_PATH="$nomb_pc" pkg-config --cflags --libs metercore-posix) ||
        { echo "consumers: FAIL: pkg-config metercore-posix without libmodbus"; exit 1; }
    # shellcheck disable=SC2086 # the flags are meant to be split
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror "$root/tests/consumer/posix_main.c" $flags -o "$nomb/posix_consumer"
    run_posix_consumer "$nomb/posix_consumer" "pkg-config posix consumer without libmodbus"
fi

# Without pkg-config at all (configure only: the build is the one above).
echo "consumers: configuring without pkg-config"
cmake -S "$root" -B "$nomb/no-pkg-config" -DPKG_CONFIG_EXECUTABLE="$nomb/no/such/pkg-config" -DMC_WERROR=ON \
    -DMC_BUILD_TESTS=ON -DMC_BUILD_EXAMPLES=ON -DMC_BUILD_BENCH=OFF >"$nomb/no-pkg-config.log" 2>&1 ||
    { cat "$nomb/no-pkg-config.log"; echo "consumers: FAIL: configure without pkg-config"; exit 1; }
said "$nomb/no-pkg-config.log" "apt-get install pkg-config libmodbus-dev" ||
    { cat "$nomb/no-pkg-config.log"; echo "consumers: FAIL: no hint on what to install without pkg-config"; exit 1; }
echo "    configured; CMake says: $(tr -s ' \n' '  ' <"$nomb/no-pkg-config.log" | grep -o 'metercore: pkg-config not found[^;]*;')"
echo "consumers: all passed"
