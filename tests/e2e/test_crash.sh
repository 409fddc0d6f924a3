#!/usr/bin/env bash
# Durability under SIGKILL (docs/RELIABILITY.md A1, A2): many concurrent writers append while
# consentd is killed, first at random moments, then at chosen points of the write path through
# the test build's CONSENTD_CRASH_AT hook (consentd-hooks). After each restart every
# acknowledged write must be in the log at its index with its leaf hash, and every checkpoint
# served before the kill must be consistent with the log (consentctl audit verify --receipts
# --previous); after each targeted kill, every record of the checkpoint file must also verify
# against the store, none larger than it or conflicting with it (logtool check).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

CYCLES=${E2E_CRASH_CYCLES:-10}
CONNS=${E2E_CRASH_CONNECTIONS:-64}
POINT_KILLS=${E2E_CRASH_POINT_KILLS:-8} # per kill point
POINTS="commit committed signed ckpt-torn ckpt-written ckpt-synced published"
HOOKS=$PWD/$BUILD/consentd-hooks
LOGTOOL=$PWD/$BUILD/logtool
DATA=$E2E_TMP/data
PORT=$(free_port)
init_data "$DATA" || { fail "init"; summary; exit 1; }
start_server "$DATA" || { fail "first start"; summary; exit 1; }

letters=ABCDEFGHIJKLMNOPQRSTUVWXYZ
# tag N: three letters naming cycle N in the ODS codes wrk writes, so codes never repeat.
tag() { echo "${letters:$(($1 / 676 % 26)):1}${letters:$(($1 / 26 % 26)):1}${letters:$(($1 % 26)):1}"; }

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
    CONSENTD_TOKEN=$ADMIN_TOKEN RECEIPTS=$E2E_TMP/r CYCLE=$(tag "$cycle") \
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
check "SIGTERM after the random kills exits 0" test $? = 0

# Targeted kills: for each point, POINT_KILLS runs of consentd-hooks armed to kill itself the
# Nth time (N random in 1..20) the sequencer passes the point, under the same load. A new log,
# so that each verification reads only what this phase wrote.
DATA=$E2E_TMP/data2
init_data "$DATA" || { fail "init a second log"; summary; exit 1; }
rm -f "$E2E_TMP"/r.* "$E2E_TMP"/cp.*
: >"$E2E_TMP/receipts"
kills=0
restart_ms=()
cycle=0
for point in $POINTS; do
    for k in $(seq 1 "$POINT_KILLS"); do
        cycle=$((cycle + 1))
        n=$((1 + RANDOM % 20))
        name="$point:$n"
        if ! CONSENTD=$HOOKS CONSENTD_CRASH_AT=$name start_server "$DATA"; then
            fail "$name: start the hooks build"
            break 2
        fi
        CONSENTD_TOKEN=$ADMIN_TOKEN RECEIPTS=$E2E_TMP/r CYCLE=$(tag "$cycle") \
            wrk -t2 -c"$CONNS" -d30s -s tests/e2e/receipts.lua "$(URL)" >"$E2E_TMP/wrk.p$cycle" 2>&1 &
        wrk_pid=$!
        sampler "p$cycle" &
        sampler_pid=$!
        # The point is reached within a few batches; give it up to 20 s on a loaded machine.
        for _ in $(seq 1 400); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.05
        done
        status=0
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            kill_server
            status=timeout
        else
            wait "$SERVER_PID" 2>/dev/null || status=$?
            SERVER_PID=
        fi
        kill -INT "$wrk_pid" 2>/dev/null
        wait "$wrk_pid" "$sampler_pid" 2>/dev/null
        if [ "$status" != 137 ]; then
            fail "$name: killed itself with SIGKILL (status $status)"
            continue
        fi
        kills=$((kills + 1))
        # Straight after the kill, before a restart repairs anything: no record may be larger
        # than the store or disagree with it; only ckpt-torn leaves half a record at the end.
        torn=0
        [ "$point" = ckpt-torn ] && torn=512
        check "$name: after the kill, mdb_stat opens the store; no checkpoint future or conflicting, torn tail $torn bytes" \
            bash -c 'mdb_stat -e "$1/lmdb" >/dev/null && "$0" check "$1" >"$2" &&
                grep -q "torn tail $3 bytes" "$2"' "$LOGTOOL" "$DATA" "$E2E_TMP/logtool.out" "$torn"
        cat "$E2E_TMP"/r.* >"$E2E_TMP/receipts"
        acked=$(wc -l <"$E2E_TMP/receipts")
        t0=$(date +%s%N)
        if ! start_server "$DATA"; then
            fail "$name: restart after the kill"
            break 2
        fi
        restart_ms+=($((($(date +%s%N) - t0) / 1000000)))
        prev=()
        for f in $(ls "$E2E_TMP"/cp.p"$cycle".* 2>/dev/null | shuf -n 12 --random-source=<(yes)); do
            prev+=(--previous "$f")
        done
        check "$name: all $acked acknowledged writes present, $((${#prev[@]} / 2)) served checkpoints consistent" \
            "$CONSENTCTL" audit verify --url "$(URL)" --key "$LOG_KEY" --token "$ADMIN_TOKEN" \
            --receipts "$E2E_TMP/receipts" "${prev[@]}"
        check "$name: ready for writes again" \
            test "$(curl -s -o /dev/null -w '%{http_code}' "$(URL)/readyz")" = 200
        stop_server
        check "$name: every checkpoint record verifies; none future, conflicting or torn" \
            bash -c '"$0" check "$1" | tee "$2" && grep -q "torn tail 0 bytes" "$2"' \
            "$LOGTOOL" "$DATA" "$E2E_TMP/logtool.out"
    done
done
size=$(sed -n 's/.*store \([0-9]*\) entries.*/\1/p' "$E2E_TMP/logtool.out" 2>/dev/null)
slowest=$(printf '%s\n' "${restart_ms[@]:-0}" | sort -n | tail -n 1)
acked=$(wc -l <"$E2E_TMP/receipts")
echo "e2e: $kills targeted SIGKILLs over $(wc -w <<<"$POINTS") points: $acked acknowledged writes, all present; ${size:-?} entries, so $((${size:-0} - acked)) present though never acknowledged (indeterminate); slowest restart ${slowest} ms"

summary
