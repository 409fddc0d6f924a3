#!/usr/bin/env bash
# Log integrity faults (docs/RELIABILITY.md A8, A9, A10, E1): a rolled-back store, a forked
# one, a tampered entry, raw bit flips in data.mdb, and bits flipped in memory between hashing
# and signing (through the test build's CONSENTD_CRASH_AT=flip-… hooks). The service must never
# sign a checkpoint inconsistent with one it signed before, must say what it found, and must
# keep serving reads; what the signer cannot see on its own disk, the auditor must
# (consentctl audit verify --previous).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

RUNS=${E2E_INTEGRITY_RUNS:-1}        # rollback and fork runs per depth and variant
TAMPERS=${E2E_INTEGRITY_TAMPERS:-4} # logical tampers
RAW=${E2E_INTEGRITY_RAW:-8}         # raw bit flips in data.mdb
FLIPS=${E2E_INTEGRITY_FLIPS:-2}     # in-memory flips per site
DEPTHS=${E2E_INTEGRITY_DEPTHS:-"1 10 100"}
HOOKS=$PWD/$BUILD/consentd-hooks
LOGTOOL=$PWD/$BUILD/logtool
PORT=$(free_port)
n_org=0

records() { echo $(($(stat -c %s "$1/checkpoints") / 1024)); }
status_of() { curl -s -o "$E2E_TMP/out" -w '%{http_code}' "$(URL)$1"; }
append() { # append N: N new organisations, one request each; fails on any non-201
    local i
    for i in $(seq 1 "$1"); do
        n_org=$((n_org + 1))
        [ "$(post_org "$(printf 'IG%07d' "$n_org")")" = 201 ] || return 1
    done
}
# fresh DIR: a copy in DIR of one log of 5 entries, made once (all copies share its key).
fresh() {
    if [ ! -d "$E2E_TMP/base" ]; then
        init_data "$E2E_TMP/base" && start_server "$E2E_TMP/base" && append 5 && stop_server ||
            return 1
    fi
    rm -rf "$1" && cp -a "$E2E_TMP/base" "$1"
}
# read_only_because TEXT: /readyz is 503 and its reason holds TEXT; a write is refused.
read_only_because() {
    [ "$(status_of /readyz)" = 503 ] && grep -q "$1" "$E2E_TMP/out" &&
        [ "$(post_org IGLATE1)" = 503 ] && [ "$(status_of /log/checkpoint)" = 200 ]
}

# --- A8: a rolled-back store ------------------------------------------------------------------
# Snapshot, append DEPTH entries (signed), stop, restore. Variant "data": only lmdb/ is
# restored and the newer checkpoint file kept: the signer must refuse. Variant "both": the
# checkpoint file is rolled back too, which no local check can see: the auditor holding the
# newer checkpoint must.
detected=0
total=0
for depth in $DEPTHS; do
    for variant in data both; do
        for run in $(seq 1 "$RUNS"); do
            name="rollback of $depth ($variant, run $run)"
            total=$((total + 1))
            D=$E2E_TMP/rb
            fresh "$D" || { fail "$name: set up"; continue; }
            rm -rf "$E2E_TMP/snap" && cp -a "$D" "$E2E_TMP/snap"
            start_server "$D" && append "$depth" || { fail "$name: append"; continue; }
            curl -sf -o "$E2E_TMP/newer" "$(URL)/log/checkpoint"
            stop_server
            rm -rf "$D/lmdb" && cp -a "$E2E_TMP/snap/lmdb" "$D/lmdb"
            [ "$variant" = both ] && cp -a "$E2E_TMP/snap/checkpoints" "$D/checkpoints"
            before=$(records "$D")
            start_server "$D" || { fail "$name: start"; continue; }
            if [ "$variant" = data ]; then
                check "$name: read-only, \"rolled back\", writes refused, reads served" \
                    read_only_because "rolled back" && detected=$((detected + 1))
                check "$name: the newer checkpoint is still the one served" \
                    cmp -s "$E2E_TMP/newer" <(curl -s "$(URL)/log/checkpoint")
            else
                append 1 >/dev/null # the rolled-back service signs a different history
                check "$name: the auditor holding the newer checkpoint flags it" \
                    bash -c '! "$0" audit verify --url "$1" --key "$2" --token "$3" --previous "$4" 2>"$5" &&
                        grep -q "rolled back or forked\|rewritten" "$5"' "$CONSENTCTL" "$(URL)" \
                    "$LOG_KEY" "$ADMIN_TOKEN" "$E2E_TMP/newer" "$E2E_TMP/err" &&
                    detected=$((detected + 1))
            fi
            stop_server
            if [ "$variant" = data ]; then
                check "$name: no checkpoint signed after the rollback" test "$(records "$D")" = "$before"
            fi
        done
    done
done
echo "e2e: A8 rollbacks detected: $detected/$total"

# --- E1: a forked store -------------------------------------------------------------------------
# Two copies of one log, different entries appended to each (the same key signs both): equal
# sizes, different roots. The auditor holding one side's checkpoint flags the other; one
# side's store under the other's checkpoint file makes the signer refuse.
detected=0
total=0
for depth in $DEPTHS; do
    for run in $(seq 1 "$RUNS"); do
        name="fork of $depth (run $run)"
        total=$((total + 1))
        A=$E2E_TMP/fa
        B=$E2E_TMP/fb
        fresh "$A" || { fail "$name: set up"; continue; }
        rm -rf "$B" && cp -a "$A" "$B"
        start_server "$A" && append "$depth" && curl -sf -o "$E2E_TMP/cpa" "$(URL)/log/checkpoint"
        stop_server
        start_server "$B" && append "$depth" && curl -sf -o "$E2E_TMP/cpb" "$(URL)/log/checkpoint"
        check "$name: both sides signed the same size with different roots" \
            bash -c 'test "$(sed -n 2p "$0")" = "$(sed -n 2p "$1")" &&
                test "$(sed -n 3p "$0")" != "$(sed -n 3p "$1")"' "$E2E_TMP/cpa" "$E2E_TMP/cpb"
        check "$name: the auditor holding side A's checkpoint flags side B" \
            bash -c '! "$0" audit verify --url "$1" --key "$2" --token "$3" --previous "$4" 2>"$5" &&
                grep -q "rewritten\|rolled back or forked" "$5"' "$CONSENTCTL" "$(URL)" "$LOG_KEY" \
            "$ADMIN_TOKEN" "$E2E_TMP/cpa" "$E2E_TMP/err" && a=1 || a=0
        stop_server
        rm -rf "$A/lmdb" && cp -a "$B/lmdb" "$A/lmdb"
        before=$(records "$A")
        start_server "$A"
        check "$name: side B's store under side A's checkpoints is read-only, \"forked\"" \
            read_only_because "forked" && [ "$a" = 1 ] && detected=$((detected + 1))
        stop_server
        check "$name: nothing signed over the fork" test "$(records "$A")" = "$before"
    done
done
echo "e2e: E1 forks detected: $detected/$total"

# --- A9 (a): a tampered entry -------------------------------------------------------------------
D=$E2E_TMP/tamper
fresh "$D" && start_server "$D" && append 45 && curl -sf -o "$E2E_TMP/cp" "$(URL)/log/checkpoint"
stop_server
size=$(sed -n 2p "$E2E_TMP/cp")
detected=0
for t in $(seq 1 "$TAMPERS"); do
    index=$((RANDOM % size))
    bit=$((RANDOM % 800))
    "$LOGTOOL" tamper "$D" "$index" "$bit" >/dev/null || { fail "tamper $index"; continue; }
    start_server "$D" || { fail "start after tampering with entry $index"; continue; }
    check "tamper $t: entry $index, bit $bit: read-only, the finding names index $index" \
        read_only_because "at index $index:" && d1=1 || d1=0
    check "tamper $t: the auditor's replay fails too" \
        bash -c '! "$0" audit verify --url "$1" --key "$2" --token "$3" >/dev/null 2>&1' \
        "$CONSENTCTL" "$(URL)" "$LOG_KEY" "$ADMIN_TOKEN" && [ "$d1" = 1 ] && detected=$((detected + 1))
    stop_server
    "$LOGTOOL" tamper "$D" "$index" "$bit" >/dev/null # flip it back
done
start_server "$D"
check "after the tampers are undone the log is writable and verifies" \
    bash -c 'test "$(curl -s -o /dev/null -w "%{http_code}" "$0/readyz")" = 200 &&
        "$1" audit verify --url "$0" --key "$2" --token "$3" --previous "$4" >/dev/null' \
    "$(URL)" "$CONSENTCTL" "$LOG_KEY" "$ADMIN_TOKEN" "$E2E_TMP/cp"
stop_server
echo "e2e: A9 logical tampers detected: $detected/$TAMPERS"

# --- A9 (b): raw bit flips in data.mdb ----------------------------------------------------------
# Each flip hits a pristine copy. Outcomes: the service refuses to start, starts read-only,
# crashes (counted apart), or starts ready — then the auditor's replay with the last checkpoint
# must pass, or the flip was accepted silently: the log is checked at start, so a flip that
# starts ready must not have changed it. The state derived from the log is not checked at
# start (docs/RELIABILITY.md, A9): `consentd serve --rebuild` must then pass or report the
# difference, and a flip it reports is counted apart ("state only") — found by the rebuild, not
# by the service.
cp "$D/lmdb/data.mdb" "$E2E_TMP/pristine.mdb"
bits=$(($(stat -c %s "$E2E_TMP/pristine.mdb") * 8))
refused=0 readonly=0 crashed=0 harmless=0 silent=0 state=0
for f in $(seq 1 "$RAW"); do
    cp "$E2E_TMP/pristine.mdb" "$D/lmdb/data.mdb"
    bit=$(($(od -An -N4 -tu4 /dev/urandom) % bits))
    "$LOGTOOL" flip "$D/lmdb/data.mdb" "$bit"
    : >"$E2E_TMP/server.log"
    if ! start_server "$D" 2>/dev/null; then
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" # hung: counted as a crash
        wait "$SERVER_PID" 2>/dev/null
        st=$?
        SERVER_PID=
        if [ "$st" -gt 128 ] || grep -q "Sanitizer" "$E2E_TMP/server.log"; then
            crashed=$((crashed + 1))
            echo "e2e: raw flip of bit $bit: consentd crashed at start (status $st)"
        else
            refused=$((refused + 1))
        fi
        continue
    fi
    if [ "$(status_of /readyz)" = 503 ]; then
        readonly=$((readonly + 1))
        kill_server
        continue
    fi
    if "$CONSENTCTL" audit verify --url "$(URL)" --key "$LOG_KEY" --token "$ADMIN_TOKEN" \
        --previous "$E2E_TMP/cp" >/dev/null 2>&1 && stop_server; then
        # Exit status 65 (EX_DATAERR): the rebuilt state differs; 74: a table cannot be read.
        "$CONSENTD" serve --data "$D" --rebuild >"$E2E_TMP/rebuild.out" 2>&1
        st=$?
        if [ "$st" = 0 ]; then
            harmless=$((harmless + 1))
        elif [ "$st" = 65 ] || [ "$st" = 74 ]; then
            state=$((state + 1))
            echo "e2e: raw flip of bit $bit (byte $((bit / 8))) changed only derived state;" \
                "the rebuild says: $(grep -m1 -E 'differ|failed' "$E2E_TMP/rebuild.out" | cut -c 1-160)"
        else
            crashed=$((crashed + 1))
            echo "e2e: raw flip of bit $bit: consentd serve --rebuild crashed (status $st)"
        fi
    elif [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
        crashed=$((crashed + 1))
        SERVER_PID=
        echo "e2e: raw flip of bit $bit: consentd crashed while serving"
    else
        silent=$((silent + 1))
        echo "e2e: raw flip of bit $bit (byte $((bit / 8))) was accepted silently"
    fi
    [ -n "$SERVER_PID" ] && kill_server
    rm -rf "$D/rebuild.tmp"
done
cp "$E2E_TMP/pristine.mdb" "$D/lmdb/data.mdb"
check "A9 raw flips: $RAW flips, $silent accepted silently" test "$silent" = 0
echo "e2e: A9 raw flips: $RAW: refused to start $refused, read-only $readonly, harmless $harmless (log and state verified), state only $state (found by --rebuild), crashed $crashed, silent $silent"

# --- A10: a bit flipped between hashing and signing ---------------------------------------------
# consentd-hooks flips one bit at the Nth batch: of an entry's bytes after they are stored and
# before they are hashed (flip-entry), of a leaf hash kept for the guard (flip-leaf), of a
# subtree hash of the in-memory tree (flip-node), or of the root between the guard and signing
# (flip-root). The write must not be acknowledged, nothing signed, and the log read-only.
refused_flips=0
total=0
for site in flip-entry flip-leaf flip-node flip-root; do
    for k in $(seq 1 "$FLIPS"); do
        total=$((total + 1))
        n=$((1 + RANDOM % 3))
        spec="$site:$n:$((RANDOM % 4096))"
        rm -rf "$E2E_TMP/fl" && cp -a "$D" "$E2E_TMP/fl"
        size0=$(records "$E2E_TMP/fl")
        if ! CONSENTD=$HOOKS CONSENTD_CRASH_AT=$spec start_server "$E2E_TMP/fl"; then
            fail "$spec: start the hooks build"
            continue
        fi
        ok_writes=0
        for _ in $(seq 1 "$n"); do
            n_org=$((n_org + 1))
            st=$(post_org "$(printf 'IG%07d' "$n_org")")
            [ "$st" = 201 ] || break
            ok_writes=$((ok_writes + 1))
        done
        signed=$(checkpoint_size)
        check "$spec: the write at the flip is refused ($st) after $ok_writes acknowledged" \
            test "$st" = 503 -a "$ok_writes" = $((n - 1))
        check "$spec: the log is read-only and says why" \
            read_only_because "does not\|read back"
        stop_server
        check "$spec: no checkpoint signed over the flip" \
            test "$(records "$E2E_TMP/fl")" = $((size0 + n - 1)) -a "$signed" = $((size + n - 1))
        if [ "$st" = 503 ] && [ "$(records "$E2E_TMP/fl")" = $((size0 + n - 1)) ]; then
            refused_flips=$((refused_flips + 1))
        fi
        start_server "$E2E_TMP/fl"
        if [ "$site" = flip-entry ]; then
            # The entry went to disk unflipped, under the flipped copy's leaf hash.
            check "$spec: after a restart the stored entry fails the replay" \
                read_only_because "rewritten or corrupted"
        else
            check "$spec: after a restart the committed entry is checked and signed" \
                test "$(status_of /readyz)" = 200 -a "$(checkpoint_size)" = $((size + n))
        fi
        kill_server
    done
done
echo "e2e: A10 in-memory flips refused before signing: $refused_flips/$total"

summary
