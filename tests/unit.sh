#!/usr/bin/env bash
# make unit: runs each suite of check_main in a process of its own (see tests/check_main.c) and
# prints one total. CK_RUN_SUITE, when set, still runs that suite alone, in one process.
set -uo pipefail
CHECK=${1:?usage: tests/unit.sh BUILD/check_main}
if [ -n "${CK_RUN_SUITE:-}" ]; then
    exec "$CHECK"
fi
n=$("$CHECK" --count) || exit 1
checks=0
failed=0
for i in $(seq 0 $((n - 1))); do
    out=$("$CHECK" "$i" 2>&1)
    status=$?
    echo "$out"
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+' <<<"$out" | tail -n 1)
    if [ -z "$line" ] || [ "$status" -ne 0 ]; then
        failed=$((failed + 1))
    fi
    checks=$((checks + $(sed -E 's/^[0-9]+%: Checks: ([0-9]+).*/\1/' <<<"${line:-0%: Checks: 0}")))
done
echo "unit total: $checks checks in $n suites, $failed suites failed"
[ "$failed" -eq 0 ]
