#!/usr/bin/env bash
# Runs libFuzzer targets: each first replays its committed corpus (tests/fuzz/corpus/<name>/,
# every file once: a regression seed that crashes fails the run), then fuzzes for SECONDS with
# the corpus as a read-only seed directory and a fresh temporary directory as the one libFuzzer
# adds to, so the committed corpus never grows. A crash, sanitizer report, leak, timeout
# (> 1 s for one input, that recurs when the input runs alone) or RSS over 2 GiB fails the
# target; its input is saved under build-fuzz/artifacts/ and the log under build-fuzz/logs/.
#
# usage: tests/fuzz/run.sh SECONDS build-fuzz/fuzz_<name>...
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=$1
shift
mkdir -p build-fuzz/artifacts build-fuzz/logs
work=$(mktemp -d "${TMPDIR:-/tmp}/consentd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

stat_of() { # stat_of LOG NAME: libFuzzer's final "stat::NAME: value"
    sed -n "s/^stat::$2: *//p" "$1" | tail -n 1
}

failed=0
targets=0
seeds=0
for bin in "$@"; do
    name=$(basename "$bin")
    name=${name#fuzz_}
    corpus=tests/fuzz/corpus/$name
    log=build-fuzz/logs/$name.log
    targets=$((targets + 1))
    mapfile -t files < <(find "$corpus" -type f 2>/dev/null | sort)
    if [ ${#files[@]} -eq 0 ]; then
        echo "fuzz: $name: no seed corpus in $corpus"
        failed=$((failed + 1))
        continue
    fi
    seeds=$((seeds + ${#files[@]}))
    # Replaying is a regression check for crashes and hangs, so its timeout is generous.
    if ! "$bin" -timeout=10 -rss_limit_mb=2048 "${files[@]}" >"$log" 2>&1; then
        echo "fuzz: $name: FAILED replaying its corpus; the end of $log:"
        tail -n 30 "$log"
        failed=$((failed + 1))
        continue
    fi
    rm -rf "${work:?}/$name"
    mkdir -p "$work/$name"
    if ! "$bin" -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="build-fuzz/artifacts/$name-" "$work/$name" "$corpus" >"$log" 2>&1; then
        # A timeout is wall-clock time: on a loaded machine a quick input can be descheduled
        # past it. One that runs within the limit on its own is reported, not counted.
        slow=$(sed -n "s/.*Test unit written to \(build-fuzz\/artifacts\/$name-timeout-.*\)/\1/p" "$log")
        if [ -n "$slow" ] && "$bin" -timeout=1 "$slow" >"$log.replay" 2>&1; then
            echo "fuzz: $name: a timeout did not recur when its input ran alone ($slow); the" \
                "machine was loaded: $(cut -d' ' -f1-3 /proc/loadavg)"
        else
            echo "fuzz: $name: FAILED after fuzzing; the end of $log:"
            tail -n 40 "$log"
            failed=$((failed + 1))
            continue
        fi
    fi
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE ' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$done_line")
    printf 'fuzz: %-12s %3d seeds ok; %s s: %9s execs (%6s/s), cov %4s, corpus %4s, rss %4s MB, 0 crashes\n' \
        "$name" "${#files[@]}" "$seconds" "$(stat_of "$log" number_of_executed_units)" \
        "$(stat_of "$log" average_exec_per_sec)" "${cov:-?}" "${corp:-?}" \
        "$(stat_of "$log" peak_rss_mb)"
done
echo "fuzz: $targets targets, $seeds seed files replayed, $failed failed"
[ "$failed" -eq 0 ]
