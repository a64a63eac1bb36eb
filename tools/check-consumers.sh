#!/usr/bin/env bash
# tools/check-consumers.sh [build-root]
#
# Proves that other projects can use metercore in the three supported ways:
#   1. find_package(metercore) against a staged `cmake --install` prefix,
#   2. add_subdirectory() of the source tree,
#   3. pkg-config (metercore.pc from the same staged prefix).
# Each consumer (tests/consumer/main.c) configures and starts a meter and is run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_root=${1:-$root/build}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
lib_build=$build_root/install-build
stage=$build_root/stage

echo "consumers: building and staging an install in $stage"
rm -rf "$stage"
cmake -S "$root" -B "$lib_build" -DCMAKE_BUILD_TYPE=Release -DMC_WERROR=ON -DMC_PORT=none \
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
echo "consumers: all passed"
