#!/bin/bash
# run-broker.sh [odradekd options...] - build (scripts/setup.sh) and run a
# single-node broker on localhost:9092 with its data in ./data. KRaft is
# embedded: no other service is needed. Extra arguments go to odradekd,
# e.g. `--set num.partitions=3` or `--config etc/odradek.properties`.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/setup.sh _build
mkdir -p "$top/data"
exec "$top/_build/odradekd" \
    --set module.dir="$top/_build/.libs" \
    --set listeners=PLAINTEXT://localhost:9092 \
    --set advertised.listeners=PLAINTEXT://localhost:9092 \
    --set log.dirs="$top/data" \
    "$@"
