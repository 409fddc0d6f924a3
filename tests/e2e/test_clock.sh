#!/usr/bin/env bash
# Clock jumps on the signer (docs/RELIABILITY.md A13): consentd runs under libfaketime, whose
# offset is read from a file on every clock call (FAKETIME_TIMESTAMP_FILE, FAKETIME_NO_CACHE),
# and the file is edited while it runs: back an hour, forward an hour, forward ten years, and
# back to the real time, over and over. Entry times (the log's only timestamps: a C2SP
# checkpoint has none) must never go backwards, each backward and forward jump must be logged,
# and once the clock is right again tokens must be issued again with lifetimes from the real
# time.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

JUMPS=${E2E_CLOCK_JUMPS:-8}
FAKETIME_LIB=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
    /usr/lib/*/faketime/libfaketimeMT.so.1; do
    [ -f "$f" ] && FAKETIME_LIB=$f && break
done
if [ -z "$FAKETIME_LIB" ]; then
    fail "libfaketime is not installed (Debian package faketime; .ci/deps installs it)"
    summary
    exit 1
fi

DATA=$E2E_TMP/data
PORT=$(free_port)
out=$("$CONSENTD" init --data "$DATA" --issuer "$(URL)")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
LOG_KEY=$(sed -n 's/^log-key: //p' <<<"$out")
echo "+0" >"$E2E_TMP/offset"
# Only the wall clock is faked: the monotonic clock is how consentd tells a jump from idling.
# ASan wants to be first among preloaded libraries; libfaketime does not mind being second.
# ASan's allocator reads the clock when it maps a size class's first memory, holding that
# class's lock; libfaketime's first clock call looks its own symbols up, which allocates, and
# when that allocation falls in the same class the process hangs before main. Without releases
# to the OS (a sanitizer option: the allocator then never reads the clock) it cannot happen.
LD_PRELOAD=$FAKETIME_LIB FAKETIME_TIMESTAMP_FILE=$E2E_TMP/offset FAKETIME_NO_CACHE=1 \
    FAKETIME_DONT_FAKE_MONOTONIC=1 \
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:allocator_release_to_os_interval_ms=-1 \
    start_server "$DATA" || { fail "start under libfaketime"; summary; exit 1; }
export CONSENTD_URL=$(URL)
"$CONSENTCTL" keygen --out "$E2E_TMP/c.key" >/dev/null
"$CONSENTCTL" admin org add --token "$ADMIN_TOKEN" --ods CLK1 --name Clock --type gp-practice \
    >/dev/null
"$CONSENTCTL" admin client add --token "$ADMIN_TOKEN" --id clk-1 --org CLK1 \
    --key "$E2E_TMP/c.key" --roles auditor >/dev/null

# jump OFFSET: set the fake clock's offset from the real time, then append one entry.
n=0
jump() {
    echo "$1" >"$E2E_TMP/offset"
    n=$((n + 1))
    post_org "$(printf 'CK%06d' "$n")" >/dev/null
}
offsets=(-1h +1h +10y +0)
seconds=(-3600 3600 315360000 0) # libfaketime's year is 365 days
want_back=0
want_fwd=0
last=0
for j in $(seq 1 "$JUMPS"); do
    k=$(((j - 1) % 4))
    jump "${offsets[$k]}"
    [ "${seconds[$k]}" -lt "$last" ] && want_back=$((want_back + 1))
    [ "${seconds[$k]}" -gt "$last" ] && want_fwd=$((want_fwd + 1))
    last=${seconds[$k]}
done
echo "+0" >"$E2E_TMP/offset"

# Every entry's time, in log order.
size=$(checkpoint_size)
curl -s -H "Authorization: Bearer $ADMIN_TOKEN" "$(URL)/log/entries?start=0&end=$size" |
    jq -r '.entries[] | @base64d | fromjson | .time' >"$E2E_TMP/times"
check "all $size entries read back ($(wc -l <"$E2E_TMP/times") times)" \
    test "$(wc -l <"$E2E_TMP/times")" = "$size"
check "entry times never go backwards over $JUMPS jumps" \
    bash -c 'sort -c "$0" && test "$(head -n 1 "$0")" \< "$(tail -n 1 "$0")"' "$E2E_TMP/times"
back=$(grep -c 'the clock went back' "$E2E_TMP/server.log")
fwd=$(grep -c 'the clock jumped forward' "$E2E_TMP/server.log")
check "each of the $want_back backward jumps was logged once ($back warnings)" \
    test "$back" = "$want_back"
check "each of the $want_fwd forward jumps was logged once ($fwd warnings)" test "$fwd" = "$want_fwd"

# The clock is right again, but the last entries carry a time ten years ahead: tokens must
# still be issued, and expire by the real clock.
TOKEN=$("$CONSENTCTL" client token --id clk-1 --key "$E2E_TMP/c.key" --scope audit)
check "a token is issued once the clock is right again" test -n "$TOKEN"
payload=$(cut -d. -f2 <<<"$TOKEN" | tr '_-' '/+')
while [ $((${#payload} % 4)) != 0 ]; do payload="$payload="; done
exp=$(base64 -d <<<"$payload" 2>/dev/null | jq -r .exp 2>/dev/null)
check "its expiry is minutes from now, not ten years ($exp, now $(date +%s))" \
    test "${exp:-0}" -gt "$(date +%s)" -a "${exp:-0}" -lt $(($(date +%s) + 3600))
check "the log verifies" "$CONSENTCTL" audit verify --url "$(URL)" --key "$LOG_KEY" \
    --token "$ADMIN_TOKEN" >/dev/null
echo "e2e: $JUMPS clock jumps, $size entries: times non-decreasing, $back backward and $fwd forward jumps logged"
stop_server
check "SIGTERM exits 0" test $? = 0

summary
