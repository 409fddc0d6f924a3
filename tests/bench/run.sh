#!/usr/bin/env bash
# make bench: durable appends/s from 64 concurrent clients (POST /v1/orgs, each answered only
# after its entry is fsynced and in a signed checkpoint), and inclusion proofs/s, with p50/p99
# latency, against a consentd on 127.0.0.1. Load and server share this machine.
# BENCH_SECONDS (default 10) sets each run's length.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-64}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/consentd-bench.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$((10000 + RANDOM % 20000)) # below the ephemeral range, where clients take their ports
out=$("./$BUILD/consentd" init --data "$tmp/data")
token=$(sed -n 's/^admin-token: //p' <<<"$out")
"./$BUILD/consentd" serve --data "$tmp/data" --listen "127.0.0.1:$port" 2>"$tmp/server.log" &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done

report() { # report NAME WRK_OUTPUT
    local rps p50 p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$2")
    p50=$(awk '$1 == "50%" {print $2}' "$2")
    p99=$(awk '$1 == "99%" {print $2}' "$2")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$2")
    printf '| %-34s | %10s | %8s | %8s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

echo "consentd bench: $(nproc) cores, $CONNS connections, ${SECS}s per run, $(date -u +%FT%TZ)"
echo "| what | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
CONSENTD_TOKEN=$token wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s tests/bench/append.lua \
    "http://127.0.0.1:$port" >"$tmp/append.txt"
report "durable appends (POST /v1/orgs)" "$tmp/append.txt"
size=$(curl -sf "http://127.0.0.1:$port/log/checkpoint" | sed -n 2p)
SIZE=$size wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s tests/bench/proof.lua \
    "http://127.0.0.1:$port" >"$tmp/proof.txt"
report "inclusion proofs (log of $size)" "$tmp/proof.txt"
wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$port/log/checkpoint" >"$tmp/ckpt.txt"
report "GET /log/checkpoint" "$tmp/ckpt.txt"
curl -sf "http://127.0.0.1:$port/metrics" | awk '
    /^consentd_log_appends_total/ {a=$2} /^consentd_log_batches_total/ {b=$2}
    /^consentd_log_commit_seconds_total/ {c=$2}
    END { if (b > 0) printf "group commit: %d entries in %d durable commits (%.1f per fsync batch), %.3f ms per commit\n", a, b, a/b, 1000*c/b }'
