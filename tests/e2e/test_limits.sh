#!/usr/bin/env bash
# Limits and key hygiene: the connection cap, the request timeout, key files with unsafe modes,
# and consentctl keygen.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

DATA=$E2E_TMP/data
PORT=$(free_port)
init_data "$DATA" || { fail "init"; summary; exit 1; }

# A key file anyone else can read is refused, and so is one behind a symlink.
chmod 0644 "$DATA/checkpoint.key"
"$CONSENTD" serve --data "$DATA" --check-config >"$E2E_TMP/o" 2>&1
check "serve refuses a checkpoint key of mode 0644" test $? -ne 0
check "… and says it must be mode 0600" grep -q "mode 0600" "$E2E_TMP/o"
chmod 0600 "$DATA/checkpoint.key"
mv "$DATA/checkpoint.key" "$E2E_TMP/real.key"
ln -s "$E2E_TMP/real.key" "$DATA/checkpoint.key"
"$CONSENTD" serve --data "$DATA" --check-config >"$E2E_TMP/o" 2>&1
check "serve refuses a checkpoint key behind a symlink" test $? -ne 0
rm "$DATA/checkpoint.key"
mv "$E2E_TMP/real.key" "$DATA/checkpoint.key"
check "serve accepts it again at mode 0600" \
    bash -c "\"$CONSENTD\" serve --data \"$DATA\" --check-config | grep -qx 'configuration OK'"

# The connection cap: with 4 idle connections open, a fifth is closed at once.
start_server "$DATA" --max-connections 4
# Wait until the readiness probe's connection is gone, so the four below are all counted.
for _ in $(seq 1 50); do
    curl -s "$(URL)/metrics" | grep -qx 'consentd_http_connections 1' && break
    sleep 0.1
done
for fd in 5 6 7 8; do
    eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"
done
sleep 0.2
status=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$(URL)/healthz")
check "a connection over the cap is refused (got status $status)" test "$status" = 000
for fd in 5 6 7 8; do
    eval "exec $fd>&-"
done
sleep 0.3
check "after the idle connections close, requests are served again" \
    test "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$(URL)/healthz")" = 200
check "metrics count the refused connections" \
    bash -c "curl -s '$(URL)/metrics' | grep -qE '^consentd_http_connections_refused_total [1-9]'"

stop_server

# The request timeout closes a connection that sends nothing, and one that stalls mid-header.
CONSENTD_REQUEST_TIMEOUT_MS=1500 start_server "$DATA"
exec 5<>/dev/tcp/127.0.0.1/$PORT
start=$(date +%s%N)
timeout 5 cat <&5 >/dev/null
elapsed=$((($(date +%s%N) - start) / 1000000))
exec 5>&-
check "an idle connection is closed by the request timeout (after ${elapsed} ms)" \
    test "$elapsed" -ge 1000 -a "$elapsed" -lt 4500
exec 5<>/dev/tcp/127.0.0.1/$PORT
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&5
start=$(date +%s%N)
timeout 5 cat <&5 >/dev/null
elapsed=$((($(date +%s%N) - start) / 1000000))
exec 5>&-
check "a connection stalled mid-header is closed too (after ${elapsed} ms)" \
    test "$elapsed" -ge 1000 -a "$elapsed" -lt 4500
stop_server

# SIGTERM with a keep-alive connection still open stops cleanly.
start_server "$DATA"
exec 5<>/dev/tcp/127.0.0.1/$PORT
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&5
sleep 0.2
stop_server
check "SIGTERM with an idle keep-alive connection open exits 0" test $? = 0
exec 5>&-

# Another consentd (another data directory) cannot take the same port.
start_server "$DATA"
"$CONSENTD" init --data "$E2E_TMP/other" >/dev/null
timeout 10 "$CONSENTD" serve --data "$E2E_TMP/other" --listen "127.0.0.1:$PORT" >"$E2E_TMP/o" 2>&1
check "a second service on the same port is refused" grep -q "another program listens there" "$E2E_TMP/o"

# The request log cannot be forged or made to name a person.
curl -s -o /dev/null -X 'GE"T' "$(URL)/healthz"
curl -s -o /dev/null "$(URL)/v1/patient/9434765919"
check "every request-log line is valid JSON" \
    bash -c "grep '^{' '$E2E_TMP/server.log' | jq -e . >/dev/null"
check "a path that is no route is not logged as sent" \
    bash -c "! grep -q 9434765919 '$E2E_TMP/server.log' && grep -q '{unrouted}' '$E2E_TMP/server.log'"
stop_server

# HTTP/2 is not offered.
start_server "$DATA"
check "HTTP/2 with prior knowledge is not served" \
    bash -c "! curl -s -m 2 --http2-prior-knowledge -o /dev/null '$(URL)/healthz'"
stop_server

# consentctl keygen
"$CONSENTCTL" keygen --out "$E2E_TMP/client.key" >"$E2E_TMP/jwk"
check "keygen writes a 32-byte key of mode 0600" \
    test "$(stat -c %a "$E2E_TMP/client.key")" = 600 -a "$(stat -c %s "$E2E_TMP/client.key")" = 32
check "keygen prints an Ed25519 public JWK with its kid" \
    jq -e '.kty == "OKP" and .crv == "Ed25519" and (.x|length) == 43 and (.kid|length) == 43' "$E2E_TMP/jwk" >/dev/null
"$CONSENTCTL" keygen --out "$E2E_TMP/client.key" >/dev/null 2>&1
check "keygen never overwrites a key (exit 73)" test $? = 73

summary
