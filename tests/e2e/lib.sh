# Shared helpers for the end-to-end tests: a consentd on a free loopback port in a temporary
# data directory, stopped (and the directory removed) when the test exits.
# shellcheck shell=bash

BUILD=${BUILD:-build}
CONSENTD=${CONSENTD:-$PWD/$BUILD/consentd}
CONSENTCTL=${CONSENTCTL:-$PWD/$BUILD/consentctl}
# The sanitizer build reports leaks at exit; h2o's own per-thread buffers are suppressed.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/consentd-e2e.XXXXXX")
SERVER_PID=
PASSED=0
FAILED=0

e2e_cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    jobs -p | xargs -r kill -KILL 2>/dev/null || true
    # For run.sh's scan of every server log (RELIABILITY G2): the log, and what it must not
    # hold: the admin token and each key file the test made (base64, base64url and hex).
    if [ -n "${E2E_LOGS:-}" ] && [ -f "$E2E_TMP/server.log" ]; then
        cp "$E2E_TMP/server.log" "$E2E_LOGS/$(basename "$0" .sh).log"
        {
            [ -z "${ADMIN_TOKEN:-}" ] || echo "$ADMIN_TOKEN"
            find "$E2E_TMP" -type f -name '*.key' -size 32c | while read -r f; do
                base64 -w0 <"$f" | tr -d =
                echo
                base64 -w0 <"$f" | tr +/ -_ | tr -d =
                echo
                od -An -tx1 -v <"$f" | tr -d ' \n'
                echo
            done
        } >"$E2E_LOGS/$(basename "$0" .sh).secrets"
    fi
    rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT

# jq -e exits 0 when it reads no input at all (jq 1.6), so a check on a file a failed request
# left empty would pass. With -e, this jq also fails when it printed nothing.
jq() {
    local a e=0 out rc
    for a in "$@"; do
        [[ $a =~ ^-[a-zA-Z]*e[a-zA-Z]*$ || $a == --exit-status ]] && e=1
    done
    if [ "$e" = 0 ]; then
        command jq "$@"
        return
    fi
    out=$(command jq "$@")
    rc=$?
    [ -n "$out" ] || return 1
    printf '%s\n' "$out"
    return "$rc"
}

export -f jq

ok() { PASSED=$((PASSED + 1)); echo "e2e: ok   $*"; }
fail() { FAILED=$((FAILED + 1)); echo "e2e: FAIL $*"; }
check() { # check NAME COMMAND...: pass if the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now, below the kernel's
# ephemeral range: consentd refuses a port any socket is bound to (even a client's own end of
# a connection), and clients take their ports from that range. When run.sh runs tests side by
# side, each of its E2E_SLOTS job slots picks from its own share of the range (E2E_SLOT), so a
# test that restarts its server on one port never finds another test's server there.
free_port() {
    local p low slots=${E2E_SLOTS:-1} slot=${E2E_SLOT:-0} span
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    [ -n "$low" ] && [ "$low" -gt 11000 ] || low=32768
    span=$(((low - 10000) / slots))
    for _ in $(seq 1 50); do
        p=$((10000 + slot * span + RANDOM % span))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# init_data DIR: consentd init; sets ADMIN_TOKEN and LOG_KEY.
init_data() {
    local out
    out=$("$CONSENTD" init --data "$1") || return 1
    ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
    LOG_KEY=$(sed -n 's/^log-key: //p' <<<"$out")
    [ -n "$ADMIN_TOKEN" ] && [ -n "$LOG_KEY" ]
}

# start_server DIR [flags...]: serve DIR on PORT (set by the caller); waits until it answers.
start_server() {
    local dir=$1
    shift
    "$CONSENTD" serve --data "$dir" --listen "127.0.0.1:$PORT" "$@" >>"$E2E_TMP/server.log" 2>&1 &
    SERVER_PID=$!
    # Up to 30 s: the sanitizer build on a loaded 2-core machine can be slow to start.
    for _ in $(seq 1 600); do
        if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "e2e: consentd did not start on port $PORT; the end of its log:" >&2
    tail -n 5 "$E2E_TMP/server.log" >&2
    return 1
}

stop_server() { # SIGTERM and wait; returns the exit status
    local rc=0
    kill -TERM "$SERVER_PID" 2>/dev/null || return 1
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    return $rc
}

kill_server() { # SIGKILL, no goodbye
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

URL() { echo "http://127.0.0.1:$PORT"; }

# post_org ODS: prints "STATUS BODY"
post_org() {
    curl -s -o "$E2E_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' \
        -d "{\"ods\":\"$1\",\"name\":\"Org $1\",\"type\":\"gp-practice\"}" "$(URL)/v1/orgs"
}

checkpoint_size() { curl -sf "$(URL)/log/checkpoint" | sed -n 2p; }

summary() {
    echo
    echo "e2e: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
