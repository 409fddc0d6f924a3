#!/usr/bin/env bash
# Storage faults (docs/RELIABILITY.md A6, A7). I/O errors injected with strace into the
# syscalls that make a write durable — LMDB's data page writes and meta page pwrite64, its
# fdatasync, and the checkpoint record's write and fdatasync — swept over N = 1, 2, 3 … until a
# run passes without the fault firing: the write in flight is answered 500, never 2xx, the
# process stops (exit 74, no retry), and after a restart every acknowledged write is there.
# ENOSPC swept the same way, and into the space reservations, is answered 503 where nothing was
# written. Then a full store: a 1 MiB LMDB map, and a full file system (a 24 MiB tmpfs in a
# mount namespace, or ENOSPC injected with strace where namespaces are unavailable): writes are
# answered 503 with Retry-After, reads, proofs and token verification go on, writes resume when
# space is freed, and nothing acknowledged is lost.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

WRITES=${E2E_STORAGE_WRITES:-2}    # writes per run of a sweep
SWEEP_MAX=${E2E_STORAGE_SWEEP:-12} # longest sweep before it counts as failed
REAL=$CONSENTD
# LeakSanitizer cannot run under ptrace and would fail every exit under strace; the sanitizer
# build's leaks are checked by the runs without strace.
TRACED_ASAN=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
DATA=$E2E_TMP/data
PORT=$(free_port)
out=$("$CONSENTD" init --data "$DATA" --issuer "$(URL)")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
LOG_KEY=$(sed -n 's/^log-key: //p' <<<"$out")
: >"$E2E_TMP/receipts"
seq_no=0

# The server may run under strace, which outlives a SIGKILL of itself: stop consentd first.
traced_stop() { # traced_stop SIGNAL: signal consentd under strace, wait; STATUS = its status
    local child
    child=$(pgrep -P "$SERVER_PID" 2>/dev/null | head -n 1)
    [ -n "$child" ] && kill "-$1" "$child" 2>/dev/null
    STATUS=0
    wait "$SERVER_PID" 2>/dev/null || STATUS=$?
    SERVER_PID=
}
trap '[ -n "$SERVER_PID" ] && traced_stop KILL; e2e_cleanup' EXIT

# write_one: one POST /v1/orgs of a new ODS code; sets ST to the status and records a receipt
# for a 201.
write_one() {
    seq_no=$((seq_no + 1))
    ST=$(post_org "$(printf 'ST%06d' "$seq_no")")
    if [ "$ST" = 201 ]; then
        # The body ends without a newline, and so would sed's output.
        echo "$(sed -n 's/.*"log_index":\([0-9]*\),"leaf_hash":"\([^"]*\)".*/\1 \2/p' "$E2E_TMP/body")" \
            >>"$E2E_TMP/receipts"
    fi
}

# verify_all NAME: restarts the plain build and checks every receipt and the checkpoint file.
verify_all() {
    start_server "$DATA" || { fail "$1: restart"; return 1; }
    check "$1: after a restart all $(wc -l <"$E2E_TMP/receipts") acknowledged writes are present" \
        "$CONSENTCTL" audit verify --url "$(URL)" --key "$LOG_KEY" --token "$ADMIN_TOKEN" \
        --receipts "$E2E_TMP/receipts"
    check "$1: ready for writes again" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$(URL)/readyz")" = 200
    stop_server
    check "$1: every checkpoint record verifies against the store" \
        bash -c '"$0" check "$1" >/dev/null' "$PWD/$BUILD/logtool" "$DATA"
}

# sweep SYSCALL FILE ERRNO EXPECT: for N = 1, 2, …, inject ERRNO into the Nth SYSCALL on FILE.
# EXPECT says what the write that meets the fault gets: "stop" (no answer, and the process
# exits 74), "refuse" (503: the store is out of space, and the process stays up) or "either".
sweep() {
    local sc=$1 file=$2 errno=$3 expect=$4 n fired acked_after label first_body
    for n in $(seq 1 "$SWEEP_MAX"); do
        label="$sc on $(basename "$file") → $errno at call $n"
        printf '#!/bin/sh\nASAN_OPTIONS=%s exec strace -f -o /dev/null -P %s -e trace=%s -e inject=%s:error=%s:when=%s %s "$@"\n' \
            "$TRACED_ASAN" "$file" "$sc" "$sc" "$errno" "$n" "$REAL" >"$E2E_TMP/traced"
        chmod +x "$E2E_TMP/traced"
        if ! CONSENTD=$E2E_TMP/traced start_server "$DATA"; then
            fail "$label: start under strace"
            return
        fi
        fired=
        acked_after=0
        first_body=
        for _ in $(seq 1 "$WRITES"); do
            write_one
            if [ -n "$fired" ] && [ "$ST" = 201 ]; then acked_after=$((acked_after + 1)); fi
            if [ "$ST" != 201 ] && [ -z "$fired" ]; then
                fired=$ST
                first_body=$(cat "$E2E_TMP/body" 2>/dev/null)
            fi
        done
        if [ -z "$fired" ]; then
            traced_stop TERM
            check "$label: not reached in $WRITES writes, the sweep ends (N_max = $n)" \
                test "$STATUS" = 0
            SWEEPS="$SWEEPS $sc/$(basename "$file")/$errno:$n"
            verify_all "$label"
            return
        fi
        if [ "$fired" = 503 ]; then
            check "$label: the write was refused, 503: $first_body" \
                bash -c 'test "$0" != stop && grep -q "out of space" <<<"$1"' "$expect" "$first_body"
            check "$label: reads go on and the process stays ready" \
                test "$(curl -s -o /dev/null -w '%{http_code}' "$(URL)/readyz")" = 200
            traced_stop TERM
            check "$label: SIGTERM exits 0" test "$STATUS" = 0
            REFUSED=$((REFUSED + 1))
        else
            for _ in $(seq 1 200); do # up to 10 s for the process to stop
                kill -0 "$(pgrep -P "$SERVER_PID" | head -n 1)" 2>/dev/null || break
                sleep 0.05
            done
            traced_stop KILL
            check "$label: the write in flight was answered $fired (a 5xx, not 2xx), none after ($acked_after)" \
                bash -c '[[ $0 == 5?? ]] && test "$1" = 0 -a "$2" != refuse' "$fired" "$acked_after" "$expect"
            check "$label: the process stopped with exit status 74 (got $STATUS)" test "$STATUS" = 74
            grep -q 'no retry' "$E2E_TMP/server.log" || fail "$label: the log says why it stopped"
            STOPPED=$((STOPPED + 1))
        fi
        verify_all "$label" || return
    done
    fail "$sc on $file: the fault still fired at call $SWEEP_MAX"
}

# --- A6: EIO at every durable step ------------------------------------------------------------
SWEEPS=
STOPPED=0
REFUSED=0
start_server "$DATA" && write_one && stop_server
sweep fdatasync "$DATA/lmdb/data.mdb" EIO stop
sweep pwrite64 "$DATA/lmdb/data.mdb" EIO stop
sweep writev "$DATA/lmdb/data.mdb" EIO stop
sweep write "$DATA/checkpoints" EIO stop
sweep fdatasync "$DATA/checkpoints" EIO stop
# --- A7 (iii): ENOSPC at the same steps, and where space is reserved -------------------------
sweep fallocate "$DATA/lmdb/data.mdb" ENOSPC refuse
sweep fallocate "$DATA/checkpoints" ENOSPC refuse
sweep writev "$DATA/lmdb/data.mdb" ENOSPC refuse
sweep pwrite64 "$DATA/lmdb/data.mdb" ENOSPC either
sweep write "$DATA/checkpoints" ENOSPC stop
echo "e2e: fault sweeps (syscall/file/errno:N_max):$SWEEPS; $STOPPED runs stopped (exit 74), $REFUSED refused with 503 and stayed up"

# --- A7 (i): the LMDB map fills up ------------------------------------------------------------
# A client and a token first, to show token verification still works once the store is full.
start_server "$DATA" || { fail "start"; summary; exit 1; }
"$CONSENTCTL" keygen --out "$E2E_TMP/c.key" >/dev/null
"$CONSENTCTL" admin org add --url "$(URL)" --token "$ADMIN_TOKEN" --ods FULL1 --name 'Full' \
    --type gp-practice >/dev/null
"$CONSENTCTL" admin client add --url "$(URL)" --token "$ADMIN_TOKEN" --id full-1 --org FULL1 \
    --key "$E2E_TMP/c.key" --roles auditor >/dev/null
TOKEN=$("$CONSENTCTL" client token --url "$(URL)" --id full-1 --key "$E2E_TMP/c.key" --scope audit)
check "a token is issued before the store fills" test -n "$TOKEN"
stop_server

# fill LABEL: writes with 64 connections until a write is refused (at most 30 s), then checks
# the refusal and that everything else still works.
fill() {
    local label=$1 st=201 round headers
    for round in $(seq 1 15); do
        CONSENTD_TOKEN=$ADMIN_TOKEN RECEIPTS=$E2E_TMP/r CYCLE=${letters:$round:1} \
            wrk -t2 -c64 -d2s -s tests/e2e/receipts.lua "$(URL)" >/dev/null 2>&1
        seq_no=$((seq_no + 1))
        st=$(curl -s -D "$E2E_TMP/headers" -o "$E2E_TMP/body" -w '%{http_code}' \
            -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
            -d "{\"ods\":\"$(printf 'FL%06d' "$seq_no")\",\"name\":\"n\",\"type\":\"hospital\"}" \
            "$(URL)/v1/orgs")
        [ "$st" = 201 ] || break
    done
    cat "$E2E_TMP"/r.* >>"$E2E_TMP/receipts" 2>/dev/null
    rm -f "$E2E_TMP"/r.*
    headers=$(tr -d '\r' <"$E2E_TMP/headers")
    check "$label: full after $(checkpoint_size) entries: 503 with Retry-After (got $st)" \
        bash -c 'test "$0" = 503 && grep -qi "^retry-after: 1$" <<<"$1" && grep -q "out of space" "$2"' \
        "$st" "$headers" "$E2E_TMP/body"
    check "$label: the next write is refused the same way" test "$(post_org FULLX1)" = 503
    check "$label: the checkpoint is still served" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$(URL)/log/checkpoint")" = 200
    check "$label: an inclusion proof is still served" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$(URL)/log/proof/inclusion?index=0&size=$(checkpoint_size)")" = 200
    check "$label: the log still verifies, with all $(wc -l <"$E2E_TMP/receipts") acknowledged writes" \
        "$CONSENTCTL" audit verify --url "$(URL)" --key "$LOG_KEY" --token "$ADMIN_TOKEN" \
        --receipts "$E2E_TMP/receipts"
    if [ -n "${TOKEN:-}" ]; then
        check "$label: a token issued before still verifies against the JWKS" \
            bash -c '"$0" token verify --url "$1" "$2" | grep -q "^verified: signed by"' \
            "$CONSENTCTL" "$(URL)" "$TOKEN"
    fi
    check "$label: the process is still up and says it is ready" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$(URL)/readyz")" = 200
}

letters=ABCDEFGHIJKLMNOPQRSTUVWXYZ
CONSENTD_MAP_SIZE_MB=1 start_server "$DATA" || { fail "start with a 1 MiB map"; summary; exit 1; }
fill "map full"
check "map full: SIGTERM exits 0" stop_server
t0=$(date +%s%N)
start_server "$DATA" || fail "map full: restart with the default map"
check "map full: with a larger map writes resume" test "$(post_org FULLOK1)" = 201
echo "e2e: recovered from a full map in $((($(date +%s%N) - t0) / 1000000)) ms (restart and one write)"
stop_server
verify_all "map full"

# --- A7 (ii): the file system fills up --------------------------------------------------------
# A new log in a 24 MiB tmpfs in a private mount namespace, held by a sleeping shell; consentd
# runs in it through nsenter (which execs it, so SERVER_PID stays consentd's), and the data
# directory survives restarts. A filler file takes all but 9 MiB, of which consentd keeps
# 8 MiB allocated ahead of the data file (STORE_RESERVE); removing the filler frees space. Where namespaces are unavailable, ENOSPC is injected with strace into every LMDB page
# write from the 200th on instead.
TOKEN=
DATA=$E2E_TMP/data2
init_data "$DATA" || fail "init a second log"
: >"$E2E_TMP/receipts"
MNT=$E2E_TMP/fs
mkdir -p "$MNT"
unshare -m --propagation private sh -c "mount -t tmpfs -o size=24m tmpfs '$MNT' && exec sleep 600" \
    2>/dev/null &
holder=$!
sleep 0.3
if nsenter -t "$holder" -m sh -c "df '$MNT' | grep -q tmpfs" 2>/dev/null; then
    nsenter -t "$holder" -m sh -c "cp -a '$DATA' '$MNT/data' &&
        dd if=/dev/zero of='$MNT/filler' bs=4k count=\$(((\$(df -k '$MNT' | awk 'NR==2{print \$4}') - 9216) / 4)) 2>/dev/null"
    printf '#!/bin/sh\nexec nsenter -t %s -m %s "$@"\n' "$holder" "$REAL" >"$E2E_TMP/in-ns"
    chmod +x "$E2E_TMP/in-ns"
    CONSENTD=$E2E_TMP/in-ns start_server "$MNT/data" || fail "start on the tmpfs"
    fill "disk full (tmpfs)"
    nsenter -t "$holder" -m rm "$MNT/filler"
    check "disk full (tmpfs): once space is freed, writes resume without a restart" \
        test "$(post_org FSOK1)" = 201
    check "disk full (tmpfs): SIGTERM exits 0" stop_server
    CONSENTD=$E2E_TMP/in-ns start_server "$MNT/data" || fail "restart on the tmpfs"
    check "disk full (tmpfs): after a restart all $(wc -l <"$E2E_TMP/receipts") acknowledged writes are present" \
        "$CONSENTCTL" audit verify --url "$(URL)" --key "$LOG_KEY" --token "$ADMIN_TOKEN" \
        --receipts "$E2E_TMP/receipts"
    stop_server
    check "disk full (tmpfs): every checkpoint record verifies against the store" \
        nsenter -t "$holder" -m "$PWD/$BUILD/logtool" check "$MNT/data"
else
    echo "e2e: no mount namespace here; injecting ENOSPC with strace instead"
    printf '#!/bin/sh\nASAN_OPTIONS=%s exec strace -f -o /dev/null -P %s -e trace=pwrite64,writev -e inject=pwrite64,writev:error=ENOSPC:when=200+ %s "$@"\n' \
        "$TRACED_ASAN" "$DATA/lmdb/data.mdb" "$REAL" >"$E2E_TMP/traced"
    chmod +x "$E2E_TMP/traced"
    CONSENTD=$E2E_TMP/traced start_server "$DATA" || fail "start under strace"
    fill "disk full (ENOSPC injected)"
    traced_stop TERM
    check "disk full (ENOSPC injected): SIGTERM exits 0" test "$STATUS" = 0
    verify_all "disk full (ENOSPC injected)"
fi
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

summary
