#!/usr/bin/env bash
# Load and abuse (docs/RELIABILITY.md rows B2-B6, B8 and G3): thousands of idle connections
# against the connection cap; slow headers, slow bodies and slow reads; HTTP/2 refused; 10 MB
# bodies, 1 MB headers, 10,000 headers, a chunked body that never ends; JSON bombs at every JSON
# endpoint, also with 1 MiB thread stacks; the file-descriptor limit; forged request-log lines.
# tests/e2e/abuse.mjs does the attacking and prints the figures ("e2e: figure ..." lines), which
# docs/RELIABILITY.md records. ABUSE_CONNS sets the B2 connection count (default 3000).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

ABUSE=(node tests/e2e/abuse.mjs)
command -v node >/dev/null || { fail "node is needed (make e2e installs it)"; summary; exit 1; }
DATA=$E2E_TMP/data
PORT=$(free_port)
out=$("$CONSENTD" init --data "$DATA" --issuer "http://127.0.0.1:$PORT")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
[ -n "$ADMIN_TOKEN" ] || { fail "init"; summary; exit 1; }
# The sanitizer build's allocator keeps freed memory in quarantine: its RSS is not a figure.
SAN_BUILD=false
[ "$BUILD" = build-san ] && SAN_BUILD=true
# jqt FILTER [jq args] <<<JSON: the JSON on standard input, which must not be empty (jq -e
# passes on no input at all), satisfies FILTER.
jqt() {
    local in
    in=$(cat)
    [ -n "$in" ] && jq -e "$@" >/dev/null <<<"$in"
}
figure() { echo "e2e: figure $1 $2"; }

# Both ends hold a descriptor per connection: use what the hard limit allows, up to 3000.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
FDS=$(ulimit -n)
CONNS=${ABUSE_CONNS:-3000}
[ "$FDS" = unlimited ] || [ "$CONNS" -le $((FDS - 256)) ] || CONNS=$((FDS - 256))
CAP=$((CONNS / 3))

# --- B2: idle connections against the cap -----------------------------------------------------
start_server "$DATA" --max-connections "$CAP"
B2=$("${ABUSE[@]}" conns "$PORT" "$SERVER_PID" "$CONNS")
figure B2 "$B2"
check "B2: $CAP of $CONNS idle connections are held, the other $((CONNS - CAP)) closed at once" \
    jqt --argjson cap "$CAP" --argjson n "$CONNS" '.held == $cap and .refused == $n - $cap' <<<"$B2"
check "B2: at the cap a health check is refused like any connection (no separate listener)" \
    jqt '.probe_at_cap == 0' <<<"$B2"
check "B2: below the cap again, 20 of 20 health checks answer" \
    jqt '.probes_below_cap_ok == 20' <<<"$B2"
check "B2: descriptors return to the baseline (within 5) once the clients close" \
    jqt '.fds_after <= .fds_base + 5' <<<"$B2"
$SAN_BUILD || check "B2: RSS at the peak stays within 64 MiB of the baseline" \
    jqt '.rss_peak_kb - .rss_base_kb < 65536' <<<"$B2"
check "B2: metrics count the refused connections" \
    bash -c "curl -s '$(URL)/metrics' | awk '/^consentd_http_connections_refused_total/ {exit !(\$2 >= $((CONNS - CAP)))}'"
check "B2: the server survives and stops cleanly" stop_server

# --- B8: the file-descriptor limit ------------------------------------------------------------
start_server "$DATA"
prlimit --pid "$SERVER_PID" --nofile=64: || fail "prlimit"
B8=$("${ABUSE[@]}" fdlimit "$PORT" "$SERVER_PID" 150)
figure B8 "$B8"
check "B8: at 64 descriptors the server does not spin on accept (under 25 % of a core)" \
    jqt '.fds_at_limit >= 60 and .cpu_pct_at_limit < 25' <<<"$B8"
check "B8: and says so in its log, once" \
    test "$(grep -c 'pausing accepts for 100 ms: Too many open files' "$E2E_TMP/server.log")" -le 2
check "B8: once the clients go, descriptors return and requests are served" \
    jqt '.probe_after == 200 and .alive' <<<"$B8"
check "B8: the server stops cleanly" stop_server

# --- B3: slow headers, slow bodies, slow reads ------------------------------------------------
CONSENTD_REQUEST_TIMEOUT_MS=2000 start_server "$DATA"
B3=$("${ABUSE[@]}" slow "$PORT" "$SERVER_PID" 15 300 300 5)
figure B3 "$B3"
check "B3: slow headers are closed by the request timeout" jqt '.closed.loris >= 300' <<<"$B3"
check "B3: slow bodies are closed by the request timeout" jqt '.closed.body >= 300' <<<"$B3"
check "B3: clients that never read an answer are closed too" jqt '.closed.read >= 5' <<<"$B3"
check "B3: at least 99 % of the health probes during the attack answer" \
    jqt '.probe_ok_pct >= 99' <<<"$B3"
check "B3: descriptors return to the baseline (within 5) afterwards" \
    jqt '.fds_after <= .fds_base + 5 and .alive' <<<"$B3"
STEADY=$("${ABUSE[@]}" steady "$PORT" "$SERVER_PID" 3000 1000000)
figure "B3 (steady reader)" "$STEADY"
check "B3: a slow but steady reader of 3000 pipelined answers (about 7 MB at 1 MB/s) gets them all" \
    jqt '.answers == 3000 and .cut_off == false' <<<"$STEADY"
check "B3: the server stops cleanly" stop_server

# --- B4: no HTTP/2, neither by upgrade nor by ALPN --------------------------------------------
start_server "$DATA"
check "B4: an h2c upgrade is answered in HTTP/1.1" \
    test "$(curl -s -o /dev/null --http2 -w '%{http_version} %{http_code}' "$(URL)/healthz")" = "1.1 200"
check "B4: HTTP/2 with prior knowledge is not served" \
    bash -c "! curl -s -m 2 --http2-prior-knowledge -o /dev/null '$(URL)/healthz'"
stop_server
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
        -keyout "$E2E_TMP/tls.key" -out "$E2E_TMP/tls.crt" 2>/dev/null
    "$CONSENTD" serve --data "$DATA" --listen "127.0.0.1:$PORT" --tls-cert "$E2E_TMP/tls.crt" \
        --tls-key "$E2E_TMP/tls.key" >>"$E2E_TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        curl -skf "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
        sleep 0.05
    done
    check "B4: over TLS, ALPN offers no h2: curl --http2 gets HTTP/1.1" \
        test "$(curl -sk -o /dev/null --http2 -w '%{http_version} %{http_code}' "https://127.0.0.1:$PORT/healthz")" = "1.1 200"
    stop_server
fi

# --- B5: oversized requests -------------------------------------------------------------------
CONSENTD_REQUEST_TIMEOUT_MS=2000 start_server "$DATA"
"${ABUSE[@]}" big "$PORT" "$SERVER_PID" 10 >/dev/null # the allocator's first growth
B5=$("${ABUSE[@]}" big "$PORT" "$SERVER_PID" 10)
figure B5 "$B5"
check "B5: a 10 MB body with Content-Length is refused 413 after its head alone" \
    jqt '.results.post_10MB_content_length | .statuses == {"413": 10} and .max_bytes_written < 1024' <<<"$B5"
# h2o answers these before it has read the whole request, and closes: the unread rest makes the
# kernel reset the connection, and the client may lose the answer (status 0 here).
check "B5: a 10 MB chunked body is refused (413, or reset after it), never accepted" \
    jqt '.results.post_10MB_chunked.statuses | keys - ["413", "0"] == []' <<<"$B5"
check "B5: a 1 MB header is refused (400, or reset after it), never accepted" \
    jqt '.results.header_1MB.statuses | keys - ["400", "0"] == []' <<<"$B5"
check "B5: 10,000 headers are refused 400" jqt '.results.headers_10000.statuses == {"400": 10}' <<<"$B5"
check "B5: a chunked body that never ends is closed by the request timeout, not by the client" \
    jqt '.results.chunked_never_ends | .statuses == {"0": 10} and .max_ms < 30000' <<<"$B5"
# The allocator settles after a few rounds; the peak stays bounded however much is sent.
$SAN_BUILD || check "B5: the peak RSS stays under 64 MiB after 100 such requests (about 550 MB)" \
    jqt '.hwm_kb < 65536' <<<"$B5"
check "B5: the server still answers" jqt '.probe_after == 200 and .alive' <<<"$B5"
stop_server
# h2o buffers a body up to four times max_body (256 KiB) before consentd sees it, in a buffer
# that doubles as it fills: 200 such bodies held at once cost at most twice that each.
start_server "$DATA" --max-connections 200
B5B=$("${ABUSE[@]}" bodies "$PORT" "$SERVER_PID" 200 262144)
figure "B5 (bodies held at once)" "$B5B"
$SAN_BUILD || check "B5: 200 bodies of 256 KiB held at once cost at most 512 KiB each" \
    jqt '.growth_per_connection_kb <= 512 and .fds_during >= 200' <<<"$B5B"
check "B5: and the server answers once they go" jqt '.probe_after == 200 and .alive' <<<"$B5B"
stop_server

# --- B6: JSON bombs, with 1 MiB stacks --------------------------------------------------------
# Within the 64 KiB body limit, a bomb is read and refused 400: by the strict parser (1,001 deep,
# duplicate members) or, being valid JSON, by the endpoint's own checks. Beyond it, 413.
bombs() { # bombs NAME: every bomb at every JSON endpoint of the running server
    local b6
    b6=$("${ABUSE[@]}" bombs "$PORT" "$SERVER_PID" "$ADMIN_TOKEN" "$CLIENT_TOKEN")
    figure "B6 ($1)" "$b6"
    check "B6 ($1): 130 bombs at 10 endpoints: each answered 400 or 413, the server up" \
        jqt '.requests == 130 and .unexpected == [] and .alive and .probe_after == 200' <<<"$b6"
    check "B6 ($1): each bomb within the body limit is refused 400 at all 10, each beyond it 413" \
        jqt '.by_bomb | all(.[]; if .bytes <= 65536 then .["400"] == 10 else .["413"] == 10 end)' <<<"$b6"
    check "B6 ($1): the strict parser refuses nesting 1,001 deep and duplicate members (20 of 20)" \
        jqt '.refused_by_the_json_parser == 20' <<<"$b6"
}
start_server "$DATA"
export CONSENTD_URL=$(URL)
"$CONSENTCTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice >/dev/null
"$CONSENTCTL" keygen --out "$E2E_TMP/c.key" >/dev/null
"$CONSENTCTL" admin client add --token "$ADMIN_TOKEN" --id abuse-1 --org A81001 \
    --key "$E2E_TMP/c.key" --roles custodian,enroller >/dev/null
CLIENT_TOKEN=$("$CONSENTCTL" client token --id abuse-1 --key "$E2E_TMP/c.key" --scope "pointers enrol")
check "a custodian and enroller client has a token" test -n "$CLIENT_TOKEN"
bombs "default stacks"
stop_server
stack=$(ulimit -Ss)
ulimit -Ss 1024
start_server "$DATA"
ulimit -Ss "$stack"
check "B6: the server runs with 1 MiB stacks" grep -q '^Max stack size *1048576 ' "/proc/$SERVER_PID/limits"
bombs "1 MiB stacks"

# --- G3: the request log cannot be forged -----------------------------------------------------
lines_before=$(grep -c '^{' "$E2E_TMP/server.log")
raw() { printf '%b' "$1" | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat >&3; cat <&3" >/dev/null 2>&1; }
long=$(head -c 65536 /dev/zero | tr '\0' a)
curl -s -o /dev/null "$(URL)/x%0d%0a%7b%22forged%22:1%7d"
curl -s -o /dev/null "$(URL)/v1/patients/%0a%7b%22forged%22%3a1%7d/pointers"
curl -s -o /dev/null "$(URL)/%1b%5b31mred%1b%5b0m"
curl -s -o /dev/null -X 'G"E\T}' "$(URL)/healthz"
curl -s -o /dev/null "$(URL)/$long"
curl -s -o /dev/null -X "$long" "$(URL)/healthz"
curl -s -o /dev/null -H "Authorization: Bearer $long" "$(URL)/log/entries?start=0&end=1"
raw 'GET /\x1b[2J\x1b[H HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forged: a\r\n{"forged":1}\r\nConnection: close\r\n\r\n'
curl -s -o /dev/null -d grant_type=client_credentials --data-urlencode "client_id=a\"}
{\"forged\":1,\"x\":\"" "$(URL)/oauth2/token"
lines_after=$(grep -c '^{' "$E2E_TMP/server.log")
check "G3: each routed request left one line ($((lines_after - lines_before)) for 8)" \
    test $((lines_after - lines_before)) -eq 8
check "G3: every request-log line is one JSON object with the nine fields, and no other" \
    bash -c "grep '^{' '$E2E_TMP/server.log' | jq -se 'all(keys == [\"decision\",\"method\",\"path\",\"reason\",\"request_id\",\"status\",\"time\",\"token\",\"who\"])' >/dev/null"
check "G3: no line holds a forged member, a control character or a long string" \
    bash -c "! grep -q 'forged\":1' '$E2E_TMP/server.log' && ! grep -qP '[\x00-\x08\x0b-\x1f\x7f]' '$E2E_TMP/server.log' &&
        grep '^{' '$E2E_TMP/server.log' | jq -se 'all(.[]; tostring | length < 512)' >/dev/null"
check "G3: every other line is a diagnostics line (a timestamp or consentd:)" \
    bash -c "! grep -vE '^(\{|[0-9]{4}-[0-9]{2}-[0-9]{2}T|consentd: )' '$E2E_TMP/server.log'"
check "the server stops cleanly" stop_server

summary
