#!/usr/bin/env bash
# Runs every end-to-end test against a real consentd on 127.0.0.1 and prints one total.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0
failed=0
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
echo
echo "e2e total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
