#!/usr/bin/env bash
# tools/check-consumers.sh [build-root]
#
# Proves that other projects can use metercore in the three supported ways:
#   1. find_package(metercore) against a staged `cmake --install` prefix,
#   2. add_subdirectory() of the source tree,
#   3. pkg-config (metercore.pc from the same staged prefix),
# and that the POSIX port is a component of the installed package: the example
# examples/posix_meter.c (meter, tariff, model, storage in a file, Modbus TCP), as
# installed in share/doc/metercore/examples, builds against the staged prefix
#   4. with find_package(metercore COMPONENTS posix) and
#   5. with pkg-config metercore-posix,
# and runs for a second on a free port and a state file of its own.
# Each consumer (tests/consumer/main.c) configures and starts a meter and is run.
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
run_example() { # binary, label
    local state port out
    state=$(mktemp -u "$build_root/posix-meter.XXXXXX.nvm")
    port=$(free_port)
    out=$("$1" "$port" "$state" 1.2) || { echo "consumers: FAIL: $2: $out"; rm -f "$state"; exit 1; }
    rm -f "$state"
    echo "$out" | sed 's/^/    /'
    echo "$out" | grep -q "saved: MC_OK" || { echo "consumers: FAIL: $2 did not save"; exit 1; }
}

echo "consumers: find_package(metercore COMPONENTS posix): examples/posix_meter.c"
rm -rf "$build_root/consumer-posix"
cmake -S "$root/tests/consumer/posix" -B "$build_root/consumer-posix" \
    -DCMAKE_PREFIX_PATH="$stage" -DMETERCORE_EXAMPLE="$example" >/dev/null
cmake --build "$build_root/consumer-posix" --parallel "$jobs" >/dev/null
run_example "$build_root/consumer-posix/posix_meter" "find_package posix_meter"

if command -v pkg-config >/dev/null 2>&1; then
    echo "consumers: pkg-config metercore-posix: examples/posix_meter.c"
    flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs metercore-posix)
    mkdir -p "$build_root/consumer-posix-pkg-config"
    # shellcheck disable=SC2086 # the flags are meant to be split
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
PKG_CONFIG_LIBDIR="$nomb/empty-pc" cmake -S "$root" -B "$nomb/build" -DCMAKE_BUILD_TYPE=Release -DMC_WERROR=ON \
    -DMC_BUILD_TESTS=ON -DMC_BUILD_EXAMPLES=ON -DMC_BUILD_BENCH=OFF >"$nomb/configure.log" 2>&1 ||
    { cat "$nomb/configure.log"; echo "consumers: FAIL: configure without libmodbus"; exit 1; }
grep -q "apt-get install libmodbus-dev" "$nomb/configure.log" ||
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
echo "consumers: all passed"
