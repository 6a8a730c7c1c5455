#!/usr/bin/env bash
# `make bench`: a synthetic catalog (100,000 entities by default) in a scratch tenant of a
# private PostgreSQL; prints ingestion rate and query latencies of an optimised build.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
bash scripts/services.sh start bench
source "$STATE_DIR/bench/env"
trap 'bash scripts/services.sh stop bench' EXIT
cargo build --release -p server
# Warnings only: the request log of the in-process router rows would bury the table.
RUST_LOG="${RUST_LOG:-warn}" "$CARGO_TARGET_DIR/release/server" bench "$@"
