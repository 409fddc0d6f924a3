#!/usr/bin/env bash
# The soak tier of docs/RELIABILITY.md §A: the crash, storage, integrity and clock tests of
# `make check` with the counts the matrix asks for, for a nightly or manual run.
#
#   tests/soak/run.sh [full|short] [REPORT]
#
# full (the default) takes hours: 10,000 random SIGKILL cycles (A1), 1,001 targeted kills over
# the 7 kill points (A1, A2), ENOSPC sweeps of 12 writes a run (A7), 10 runs per rollback depth
# of 1, 10 and 1,000 and variant (A8) and per fork depth (E1), 100 tampers and 100 raw flips
# (A9), 300 in-memory flips (A10) and 52 clock jumps (A13). short runs the same tests with about
# a tenth of the counts, in a few minutes. Each test's output goes to REPORT (default
# var/soak/<date>-<mode>.log) and its figure lines to standard output; the exit status is 0 only
# if every test passed. Build first (`make`); BUILD=build-san runs the sanitizer build.
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-full}
report=${2:-var/soak/$(date -u +%Y-%m-%dT%H%M%SZ)-$mode.log}
export BUILD=${BUILD:-build}

case $mode in
full)
    export E2E_CRASH_CYCLES=10000 E2E_CRASH_POINT_KILLS=143
    export E2E_STORAGE_WRITES=12 E2E_STORAGE_SWEEP=80
    export E2E_INTEGRITY_RUNS=10 E2E_INTEGRITY_DEPTHS="1 10 1000" E2E_INTEGRITY_TAMPERS=100
    export E2E_INTEGRITY_RAW=100 E2E_INTEGRITY_FLIPS=75
    export E2E_CLOCK_JUMPS=52
    ;;
short)
    export E2E_CRASH_CYCLES=20 E2E_CRASH_POINT_KILLS=10
    export E2E_STORAGE_WRITES=6 E2E_STORAGE_SWEEP=40
    export E2E_INTEGRITY_RUNS=2 E2E_INTEGRITY_DEPTHS="1 10 1000" E2E_INTEGRITY_TAMPERS=20
    export E2E_INTEGRITY_RAW=40 E2E_INTEGRITY_FLIPS=15
    export E2E_CLOCK_JUMPS=20
    ;;
*)
    echo "usage: tests/soak/run.sh [full|short] [REPORT]" >&2
    exit 64
    ;;
esac
for b in consentd consentctl consentd-hooks logtool; do
    [ -x "$BUILD/$b" ] || { echo "soak: $BUILD/$b is missing; run make first" >&2; exit 69; }
done
mkdir -p "$(dirname "$report")"
{
    echo "soak $mode at $(git rev-parse --short HEAD 2>/dev/null) on $(uname -srm), $(nproc) cores,"
    echo "data on $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2{print $2}'), build $BUILD, started $(date -u +%FT%TZ)"
} | tee "$report"
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in test_crash test_storage test_integrity test_clock; do
    start=$(date +%s)
    bash "tests/e2e/$t.sh" >"$out" 2>&1
    status=$?
    cat "$out" >>"$report"
    line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    echo "== $t: ${line#e2e: } (status $status, $(($(date +%s) - start)) s)" | tee -a "$report"
    # The figure lines: what the test says besides each check's ok or FAIL and the total.
    grep '^e2e: ' "$out" | grep -vE '^e2e: (ok |FAIL |[0-9]+ passed, )' | sed 's/^/   /'
    grep '^e2e: FAIL' "$out" | sed 's/^/   /'
    [ "$status" -eq 0 ] || failed=$((failed + 1))
done
echo "soak $mode finished $(date -u +%FT%TZ): $failed of 4 tests failed; the log is $report" |
    tee -a "$report"
[ "$failed" -eq 0 ]
