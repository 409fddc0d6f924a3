#!/usr/bin/env bash
# Runs every end-to-end test against a real consentd on 127.0.0.1 and prints one total.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0
failed=0
E2E_LOGS=$(mktemp -d "${TMPDIR:-/tmp}/consentd-e2e-logs.XXXXXX")
export E2E_LOGS
trap 'rm -rf "$E2E_LOGS"' EXIT
for t in tests/e2e/test_*.sh; do
    echo "== $t"
    out=$(bash "$t" 2>&1)
    status=$?
    echo "$out"
    line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "e2e: $t ended (status $status) without a summary"
        failed=$((failed + 1))
        continue
    fi
    passed=$((passed + $(sed -E 's/^e2e: ([0-9]+) passed.*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")))
    [ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=$((failed + 1))
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
