#!/bin/bash
# setup.sh [BUILD_DIR] - install what Odradek needs (Debian 12), then
# configure and build it out of tree in BUILD_DIR (default _build).
#
#   ODRADEK_CONFIGURE_ARGS  extra ./configure arguments (e.g. --enable-sanitizers)
#   ODRADEK_SETUP_NO_CHECK  set to 1 to build only `all`, not the check programs
#   CC, CFLAGS              passed to configure as usual
#
# Safe to run again and again: apt is skipped when every package is already
# installed, autogen.sh runs only when configure is missing or stale, and
# configure runs again only when its arguments changed (see below).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-_build}
case $build in /*) ;; *) build=$top/$build ;; esac

# Everything needed to build, test and benchmark. librdkafka-dev builds the
# odr command line (cli/; libssl-dev's libcrypto hashes its SCRAM
# credentials) and the benchmark. Test-only entries: kcat and the Python clients (client tests),
# clang (second compiler; libclang-rt for its sanitizers), perl (prove), the
# compression libraries and kafka-python's codec packages (clients may
# compress batches). Node.js (kafkajs test) is checked by command below.
# SASL (doc/security.md): libjansson-dev (OAUTHBEARER's JWTs), sasl2-bin
# (saslpasswd2 for the cyrus backend's test), libsasl2-modules(-gssapi-mit)
# (Cyrus's sasldb and GSSAPI plugins), krb5-kdc/krb5-admin-server/krb5-user
# and python3-gssapi (the GSSAPI test's own KDC and kafka-python's GSSAPI).
packages="build-essential autoconf automake libtool pkg-config python3
  liblua5.4-dev libsodium-dev libssl-dev libpcre2-dev libsasl2-dev
  librdkafka-dev kcat python3-confluent-kafka python3-kafka
  python3-snappy python3-lz4 python3-zstandard
  clang libclang-rt-14-dev
  zlib1g-dev libzstd-dev liblz4-dev libsnappy-dev
  perl procps ca-certificates
  libjansson-dev sasl2-bin libsasl2-modules libsasl2-modules-gssapi-mit
  krb5-kdc krb5-admin-server krb5-user python3-gssapi"

say() { printf 'setup: %s\n' "$*"; }
trap 'say "FAILED (line $LINENO)" >&2' ERR

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for p in $packages; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [ "$st" = "install ok installed" ] || missing="$missing $p"
    done
else
    say "dpkg-query not found: not Debian; assuming the equivalents of these are installed:"
    # shellcheck disable=SC2086 # one word per package
    say "  $(printf "%s " $packages)"
fi

# Node.js for the kafkajs test: any node and npm will do (e.g. NodeSource's
# nodejs, which bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi

if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        say "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        # shellcheck disable=SC2086 # word splitting wanted
        apt-get install -y --no-install-recommends $missing
    else
        say "missing packages:$missing" >&2
        say "run as root:  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
        exit 1
    fi
else
    say "all packages present"
fi

# Test-only JavaScript client for t/1400-kafkajs.t, from the npm registry.
# A failure is not fatal here (that test then skips, saying why).
if [ -f "$top/t/node/package.json" ] && [ ! -d "$top/t/node/node_modules/kafkajs" ]; then
    say "npm install in t/node (kafkajs)"
    (cd "$top/t/node" && npm install --no-audit --no-fund) ||
        say "WARNING: npm install in t/node failed; t/1400-kafkajs.t will skip" >&2
fi

# Regenerate the build system when configure is missing or older than its
# inputs. (Later Makefile.am edits are picked up by make's own rebuild rules.)
cd "$top"
if [ ! -x configure ] || [ ! -f Makefile.in ] || [ configure.ac -nt configure ]; then
    say "running autogen.sh"
    ./autogen.sh
fi

mkdir -p "$build"
cd "$build"
# Configure when the build dir has no Makefile yet, or when the caller set
# CC, CFLAGS or ODRADEK_CONFIGURE_ARGS (even to "") and the build dir was
# configured otherwise (config.status --config tells how). With none of
# them set an existing configuration is kept: run-broker.sh runs whatever
# _build is.
# shellcheck disable=SC2086,SC2046 # word lists, compared word by word
words() { printf '%s\n' $(printf '%s' "$*" | tr -d "'") | sed '/^$/d' | sort | paste -sd' '; }
want=$(words "${ODRADEK_CONFIGURE_ARGS-}" ${CC:+"CC=$CC"} ${CFLAGS:+"CFLAGS=$CFLAGS"})
reconfigure=0
if [ ! -f Makefile ] || [ ! -x config.status ]; then
    reconfigure=1
elif [ -n "${CC+x}${CFLAGS+x}${ODRADEK_CONFIGURE_ARGS+x}" ] &&
     [ "$(words "$(./config.status --config)")" != "$want" ]; then
    reconfigure=2 # an existing build with other flags
fi
if [ "$reconfigure" != 0 ]; then
    say "configuring $build (${want:-no extra arguments})"
    # shellcheck disable=SC2086 # the arguments are a word list
    "$top/configure" ${ODRADEK_CONFIGURE_ARGS-}
    if [ "$reconfigure" = 2 ]; then
        # Objects built with the old flags are newer than their sources and
        # would be linked as they are (e.g. ASan objects without ASan).
        say "flags changed: make clean"
        make clean >/dev/null
    fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
say "building in $build (make -j$jobs)"
make -j"$jobs"
if [ "${ODRADEK_SETUP_NO_CHECK:-0}" != 1 ]; then
    # TESTS is empty: this only builds the unit tests and the benchmark.
    make -j"$jobs" check
fi
say "done: $build"
