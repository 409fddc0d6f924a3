#!/usr/bin/env bash
# Runs every end-to-end test against a real consentd on 127.0.0.1 and prints one total.
# E2E_JOBS tests run at once (default 3, on two cores: most of a test's time is spent waiting
# on sockets, fsync and timers; 1 runs them one after another). Each job slot has a range of
# ports of its own (free_port in lib.sh), so two tests never race for one port. A test's output
# is printed whole when it ends; the longest tests start first.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0
failed=0
E2E_LOGS=$(mktemp -d "${TMPDIR:-/tmp}/consentd-e2e-logs.XXXXXX")
export E2E_LOGS
trap 'rm -rf "$E2E_LOGS"' EXIT
JOBS=${E2E_JOBS:-3}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "e2e: E2E_JOBS must be a positive number"; exit 2; }
export E2E_SLOTS=$JOBS

# The longest first (about 90, 65, 40, 25, 25, 22 and 20 s in the plain build), then the rest.
tests=()
for t in crash abuse storage fhir_consent integrity token_attacks app; do
    [ -f "tests/e2e/test_$t.sh" ] && tests+=("tests/e2e/test_$t.sh")
done
for t in tests/e2e/test_*.sh; do
    [[ " ${tests[*]} " == *" $t "* ]] || tests+=("$t")
done

# tally TEST STATUS: print the test's output and add its summary line to the totals.
tally() {
    local t=$1 status=$2 out line
    out=$(cat "$E2E_LOGS/$(basename "$t").out")
    echo "== $t"
    echo "$out"
    line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "e2e: $t ended (status $status) without a summary"
        failed=$((failed + 1))
        return
    fi
    passed=$((passed + $(sed -E 's/^e2e: ([0-9]+) passed.*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")))
    [ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=$((failed + 1))
}

declare -A test_of slot_of
free_slots=()
for ((s = 0; s < JOBS; s++)); do free_slots+=("$s"); done
next=0
while [ "$next" -lt "${#tests[@]}" ] || [ "${#test_of[@]}" -gt 0 ]; do
    if [ "$next" -lt "${#tests[@]}" ] && [ "${#free_slots[@]}" -gt 0 ]; then
        t=${tests[$next]}
        next=$((next + 1))
        slot=${free_slots[0]}
        free_slots=("${free_slots[@]:1}")
        E2E_SLOT=$slot bash "$t" >"$E2E_LOGS/$(basename "$t").out" 2>&1 &
        test_of[$!]=$t
        slot_of[$!]=$slot
        continue
    fi
    pid=
    wait -n -p pid "${!test_of[@]}"
    status=$?
    tally "${test_of[$pid]}" "$status"
    free_slots+=("${slot_of[$pid]}")
    unset "test_of[$pid]" "slot_of[$pid]"
done

# RELIABILITY G2: no server log of any test holds a secret the test made (the admin token, a
# key), a JWT, or an NHS-number-like run of ten digits (request ids, times and the hashed token
# ids of the request log aside: hex, and hashes by construction).
hits=$(
    cd "$E2E_LOGS" || exit
    cat ./*.secrets 2>/dev/null | grep -v '^$' >all.secrets
    [ -s all.secrets ] && grep -HnFf all.secrets ./*.log
    grep -HnP 'eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.' ./*.log
    for f in ./*.log; do
        grep -v '^{' "$f" | grep -nP '(?<![0-9])[0-9]{10}(?![0-9])' | sed "s|^|$f:|"
        grep '^{' "$f" | jq -c 'del(.time, .request_id, .token)' | grep -nP '(?<![0-9])[0-9]{10}(?![0-9])' |
            sed "s|^|$f (request log):|"
    done
)
logs=$(find "$E2E_LOGS" -name '*.log' | wc -l)
lines=$(cat "$E2E_LOGS"/*.log 2>/dev/null | wc -l)
if [ "$logs" -gt 0 ] && [ -z "$hits" ]; then
    echo "e2e: ok   G2: $logs server logs ($lines lines) hold no secret, token or NHS number"
    passed=$((passed + 1))
else
    echo "e2e: FAIL G2: secrets, tokens or NHS numbers in the server logs ($logs logs):"
    head -n 20 <<<"$hits" | cut -c 1-200
    failed=$((failed + 1))
fi

echo
echo "e2e total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
