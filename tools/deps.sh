#!/usr/bin/env bash
# tools/deps.sh <debian-package>...
#
# Makes sure the Debian packages a make target needs are installed. Missing
# packages are installed with apt-get when running as root; otherwise the exact
# command to run is printed and the script fails. On a system without dpkg the
# check is skipped with a note (the build then reports what is missing).
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 <debian-package>..." >&2
    exit 2
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: no dpkg-query (not Debian/Ubuntu); not checking for: $*" >&2
    exit 0
fi

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

echo "deps: missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update </dev/null
    apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
else
    echo "deps: install them with:" >&2
    echo "    sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
