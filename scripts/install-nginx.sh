#!/usr/bin/env bash
# Install nginx from Debian's packages for the reverse-proxy tests
# (tests/interop/test_nginx.py), unless an nginx is already on the PATH.
# Needs root and apt-get, as CI has; elsewhere those tests skip and say so.
# Services are kept from starting during the install: the tests run nginx
# themselves, as the current user, with a prefix of their own.
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin"
if command -v nginx >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install-nginx.sh: nginx is missing; install it as root (apt-get install nginx)" >&2
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
apt-get install -y -qq --no-install-recommends nginx >/dev/null
nginx -v
