#!/usr/bin/env bash
# make bench, replay part: how fast `consentctl audit verify` checks a copy of a log, in
# entries per second: the tree alone (--no-replay: every leaf hashed, the root compared), and
# the full replay (state_apply into a scratch LMDB store, every rule) of a log whose entries
# carry no signature (enrolments and access entries, each access a consent decision) and of
# one where 4 entries in 5 are patient-signed grants (an Ed25519 verification each).
# BENCH_PEOPLE (default 5000) sets the size: 5 entries a person, plus 3.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
PEOPLE=${BENCH_PEOPLE:-5000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/consentd-replay.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

node tests/bench/mklog.mjs "$tmp/unsigned" "$PEOPLE" unsigned >/dev/null
node tests/bench/mklog.mjs "$tmp/signed" "$PEOPLE" signed >/dev/null
measure() { # measure NAME DIR [FLAGS]: the best of three runs
    local name=$1 dir=$2 best= n t
    shift 2
    n=$(sed -n 2p "$dir/checkpoint")
    for _ in 1 2 3; do
        t=$( { /usr/bin/time -f '%e %U %S' "./$BUILD/consentctl" audit verify --dir "$dir" "$@" \
            >/dev/null; } 2>&1 | tail -n 1)
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { split(a, x); split(b, y); exit !(x[2] + x[3] < y[2] + y[3]) }'; then
            best=$t
        fi
    done
    awk -v name="$name" -v n="$n" -v t="$best" 'BEGIN {
        split(t, x); cpu = x[2] + x[3]; if (cpu < 0.01) cpu = 0.01; if (x[1] < 0.01) x[1] = 0.01
        printf "| %-52s | %7d | %9.0f | %9.0f |\n", name, n, n / cpu, n / x[1] }'
}
echo "consentctl audit verify: $(nproc) cores, $(date -u +%FT%TZ)"
echo "| what | entries | entries/s (CPU) | entries/s (wall) |"
echo "|---|---|---|---|"
measure "tree only (--no-replay)" "$tmp/signed" --no-replay
measure "replay, no signatures (enrolments, accesses)" "$tmp/unsigned"
measure "replay, 4 in 5 entries patient-signed grants" "$tmp/signed"
