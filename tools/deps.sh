#!/usr/bin/env bash
# tools/deps.sh <capability>...
#
# Makes sure this machine can do what a make target needs, and proves it.
#
# A capability is a thing the build or the tests do (compile and link a host C
# program, import pymodbus.client, run qemu-system-arm, ...). Each one names the
# Debian packages it needs, installed with --no-install-recommends so that every
# package we rely on is named here and nothing arrives by accident, and a probe
# that exercises it. Package status alone is not trusted: Debian's gcc without
# libc6-dev is "installed" but links nothing, and python3-pymodbus 3.0 is
# "installed" but cannot import pymodbus.client without python3-serial-asyncio
# (only a Recommends). So after installing, every probe runs, and a failing probe
# fails the target with the capability's name and what it tried.
#
# Missing packages are installed with apt-get when running as root; otherwise the
# exact command to run is printed and the script fails. Without dpkg (not Debian
# or Ubuntu) the packages are not checked but the probes still run.
#
#   tools/deps.sh --list             the capabilities, their packages and probes
#   tools/deps.sh host-c modbus      check (and install) these capabilities
set -euo pipefail

# capability -> Debian packages
declare -A PKGS=(
    [host-c]="cmake make gcc libc6-dev pkg-config"
    [host-clang]="clang libc6-dev"
    [cmocka]="libcmocka-dev pkg-config"
    [modbus]="libmodbus-dev pkg-config"
    [modbus-clients]="mbpoll python3 python3-pymodbus python3-serial python3-serial-asyncio socat"
    [tmux]="tmux"
    [cross-arm]="gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi"
    [qemu-arm]="qemu-system-arm socat mbpoll"
    [doxygen]="doxygen"
    [fuzz]="clang libclang-rt-14-dev libc6-dev"
    [fresh]="debootstrap git"
    [plots]="python3 python3-matplotlib"
)

# capability -> one-line description for --list and errors
declare -A WHAT=(
    [host-c]="compile and link a C11 program with the host gcc"
    [host-clang]="compile and link a C11 program with clang"
    [cmocka]="link a cmocka test"
    [modbus]="find and link libmodbus through pkg-config"
    [modbus-clients]="run mbpoll, socat and /usr/bin/python3 with pymodbus.client and serial (the DL/T645 master)"
    [tmux]="start a detached tmux session"
    [cross-arm]="link a Cortex-M4F program against newlib"
    [qemu-arm]="run qemu-system-arm (netduinoplus2)"
    [doxygen]="run doxygen"
    [fuzz]="link a libFuzzer target with ASan and UBSan (clang)"
    [fresh]="bootstrap a minimal Debian (debootstrap) and clone a repository"
    [plots]="draw SVG plots with matplotlib in /usr/bin/python3 (make accuracy-report)"
)

list() {
    for cap in $(printf '%s\n' "${!PKGS[@]}" | sort); do
        printf '%-15s %s\n%-15s   packages: %s\n' "$cap" "${WHAT[$cap]}" "" "${PKGS[$cap]}"
    done
}

if [ "$#" -eq 0 ]; then
    echo "usage: $0 --list | <capability>..." >&2
    exit 2
fi
if [ "$1" = "--list" ]; then
    list
    exit 0
fi
for cap in "$@"; do
    if [ -z "${PKGS[$cap]+x}" ]; then
        echo "deps: unknown capability '$cap'; known:" >&2
        list >&2
        exit 2
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mc-deps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# probe_<capability>: exit 0 when the capability works; output goes to $tmp/log.
probe_host-c() {
    printf '#include <math.h>\n#include <stdio.h>\nint main(void){volatile float x=2.0f;printf("%%d\\n",(int)sqrtf(x));return 0;}\n' >"$tmp/p.c"
    cc -std=c11 -Wall -Werror "$tmp/p.c" -lm -o "$tmp/p" && "$tmp/p" >/dev/null && cmake --version >/dev/null &&
        pkg-config --version >/dev/null
}
probe_host-clang() {
    printf 'int main(void){return 0;}\n' >"$tmp/q.c"
    clang -std=c11 -Wall -Werror "$tmp/q.c" -o "$tmp/q" && "$tmp/q"
}
probe_cmocka() {
    printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n#include <cmocka.h>\nstatic void t(void **s){(void)s;assert_int_equal(1,1);}\nint main(void){const struct CMUnitTest ts[]={cmocka_unit_test(t)};return cmocka_run_group_tests(ts,NULL,NULL);}\n' >"$tmp/c.c"
    # shellcheck disable=SC2046 # the flags are meant to be split
    cc "$tmp/c.c" $(pkg-config --cflags --libs cmocka) -o "$tmp/c" && "$tmp/c"
}
probe_modbus() {
    printf '#include <modbus.h>\nint main(void){modbus_t *c=modbus_new_tcp("127.0.0.1",1502);modbus_free(c);return 0;}\n' >"$tmp/m.c"
    # shellcheck disable=SC2046
    cc "$tmp/m.c" $(pkg-config --cflags --libs libmodbus) -o "$tmp/m" && "$tmp/m"
}
probe_modbus-clients() {
    command -v mbpoll && command -v socat &&
        /usr/bin/python3 -c 'import pymodbus, pymodbus.client, serial; from pymodbus.client import ModbusTcpClient, ModbusSerialClient'
}
probe_tmux() {
    tmux -S "$tmp/tmux.sock" new-session -d -s deps 'sleep 5' && tmux -S "$tmp/tmux.sock" kill-server
}
probe_cross-arm() {
    printf 'int main(void){return 0;}\n' >"$tmp/a.c"
    arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 --specs=nosys.specs \
        "$tmp/a.c" -lm -o "$tmp/a.elf" && arm-none-eabi-size "$tmp/a.elf"
}
probe_qemu-arm() {
    qemu-system-arm -machine help | grep -q netduinoplus2 && command -v socat && command -v mbpoll
}
probe_doxygen() {
    doxygen --version
}
probe_fuzz() {
    printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n){(void)d;(void)n;return 0;}\n' >"$tmp/f.c"
    clang -fsanitize=fuzzer,address,undefined "$tmp/f.c" -o "$tmp/f" && "$tmp/f" -runs=1
}
probe_plots() {
    /usr/bin/python3 -c 'import matplotlib; matplotlib.use("svg"); import matplotlib.pyplot'
}
probe_fresh() {
    command -v debootstrap && git --version
}

pkgs=()
for cap in "$@"; do
    # shellcheck disable=SC2206 # split the package list
    pkgs+=(${PKGS[$cap]})
done
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)

if command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for pkg in "${pkgs[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        if [ "$status" != "installed" ]; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "deps: missing Debian packages: ${missing[*]}" >&2
        if [ "$(id -u)" -eq 0 ]; then
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq </dev/null
            apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >"$tmp/apt.log" 2>&1 ||
                { cat "$tmp/apt.log" >&2; echo "deps: apt-get install failed" >&2; exit 1; }
        else
            echo "deps: install them with:" >&2
            echo "    sudo apt-get install --no-install-recommends ${missing[*]}" >&2
            exit 1
        fi
    fi
else
    echo "deps: no dpkg-query (not Debian/Ubuntu); not checking packages, only probing: $*" >&2
fi

failed=0
for cap in "$@"; do
    if ! (cd "$tmp" && "probe_$cap") >"$tmp/log" 2>&1; then
        echo "deps: capability '$cap' (${WHAT[$cap]}) does not work although its packages" >&2
        echo "deps: (${PKGS[$cap]}) are there; what the probe printed:" >&2
        sed 's/^/    /' "$tmp/log" >&2
        failed=1
    fi
done
exit "$failed"
