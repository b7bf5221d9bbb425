#!/usr/bin/env bash
# Install the programs the interop tests run as peers, from Debian's packages,
# each only when it is missing: nginx (tests/interop/test_nginx.py) and
# Node.js with npm (tests/interop/test_node_ws.py, which then installs the
# pinned ws package with npm). Python peers (websockets, uvicorn, hypercorn)
# come with the test extra instead. Needs root and apt-get, as CI has;
# elsewhere the tests that need a missing program skip and say so.
# Services are kept from starting during the install: the tests run nginx
# themselves, as the current user, with a prefix of their own.
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin"
packages=()
command -v nginx >/dev/null || packages+=(nginx)
command -v node >/dev/null || packages+=(nodejs npm)
if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install-test-peers.sh: missing ${packages[*]}; install them as root" >&2
    exit 1
fi

guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Debian's hook for "may this package start its service?": answer no.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
fi
trap '[ -z "$guard" ] || rm -f "$guard"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-test-peers.sh: installed ${packages[*]}"
