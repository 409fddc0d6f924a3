#!/usr/bin/env bash
# Durability under SIGKILL: many concurrent writers append while consentd is killed at random
# moments, several times. After each restart every acknowledged write must be in the log at its
# index with its leaf hash, and every checkpoint served before the kill must be consistent with
# the log (consentctl audit verify --receipts --previous).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

CYCLES=${E2E_CRASH_CYCLES:-5}
CONNS=${E2E_CRASH_CONNECTIONS:-64}
DATA=$E2E_TMP/data
PORT=$(free_port)
init_data "$DATA" || { fail "init"; summary; exit 1; }
start_server "$DATA" || { fail "first start"; summary; exit 1; }

letters=ABCDEFGHIJKLMNOPQRSTUVWXYZ

# sampler CYCLE: saves the checkpoints the server publishes while it runs.
sampler() {
    local k=0
    while :; do
        k=$((k + 1))
        curl -sf -m 2 -o "$E2E_TMP/cp.$1.$k" "$(URL)/log/checkpoint" || { rm -f "$E2E_TMP/cp.$1.$k"; break; }
        sleep 0.1
    done
}

: >"$E2E_TMP/receipts"
for cycle in $(seq 1 "$CYCLES"); do
    # Writers: wrk with CONNS connections, recording a receipt per acknowledged write.
    CONSENTD_TOKEN=$ADMIN_TOKEN RECEIPTS=$E2E_TMP/r CYCLE=${letters:$cycle:1} \
        wrk -t2 -c"$CONNS" -d60s -s tests/e2e/receipts.lua "$(URL)" >"$E2E_TMP/wrk.$cycle" 2>&1 &
    wrk_pid=$!
    sampler "$cycle" &
    sampler_pid=$!
    # Kill at a random moment 0.5 to 2.5 s into the load.
    sleep "$((RANDOM % 3)).$((RANDOM % 10))"
    sleep 0.5
    kill_server
    kill -INT "$wrk_pid" 2>/dev/null
    wait "$wrk_pid" "$sampler_pid" 2>/dev/null
    cat "$E2E_TMP"/r.* >"$E2E_TMP/receipts"
    acked=$(wc -l <"$E2E_TMP/receipts")
    check "cycle $cycle: writes were acknowledged before the kill ($acked in all so far)" \
        test "$acked" -gt 0
    if ! start_server "$DATA"; then
        fail "cycle $cycle: restart after SIGKILL"
        break
    fi
    ok "cycle $cycle: restarted after SIGKILL"
    prev=()
    for f in $(ls "$E2E_TMP"/cp.* 2>/dev/null | shuf -n 12 --random-source=<(yes)); do
        prev+=(--previous "$f")
    done
    check "cycle $cycle: all $acked acknowledged writes present, $((${#prev[@]} / 2)) served checkpoints consistent" \
        "$CONSENTCTL" audit verify --url "$(URL)" --key "$LOG_KEY" --token "$ADMIN_TOKEN" \
        --receipts "$E2E_TMP/receipts" "${prev[@]}"
    check "cycle $cycle: ready for writes again" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$(URL)/readyz")" = 200
done
echo "e2e: $(wc -l <"$E2E_TMP/receipts") acknowledged writes over $CYCLES SIGKILL cycles, $(checkpoint_size) entries in the log"
stop_server
check "final SIGTERM exits 0" test $? = 0

summary
