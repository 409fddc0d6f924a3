#!/usr/bin/env bash
# TLS: consentd serves HTTPS with a self-signed certificate made by `openssl req`; curl with
# --cacert reaches /healthz, the OAuth metadata and the token endpoint; TLS 1.1, weak ciphers
# and HTTP/2 are refused (HTTP/2 is never negotiated); plain HTTP to the TLS port fails cleanly;
# the certificate and key come from the file, the environment or flags in that order; and a
# key others may read, a missing certificate or a mismatched key stop the start with a
# sentence saying what to fix.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="https://127.0.0.1:$PORT"
CERT=$E2E_TMP/cert.pem
KEY=$E2E_TMP/key.pem
CA_TYPE=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
CTL=$CONSENTCTL
out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init with an https issuer" test -n "$ADMIN_TOKEN"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    -keyout "$KEY" -out "$CERT" >/dev/null 2>&1
chmod 600 "$KEY"
check "openssl req makes a self-signed certificate and its key" test -s "$CERT" -a -s "$KEY"

# An auditor client, registered over plain HTTP (consentctl trusts only the system's CAs).
check "plain HTTP server starts" start_server "$DATA"
export CONSENTD_URL="http://127.0.0.1:$PORT"
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice >/dev/null
"$CTL" keygen --out "$E2E_TMP/aud.key" >/dev/null
"$CTL" admin client add --token "$ADMIN_TOKEN" --id aud-1 --org A81001 --key "$E2E_TMP/aud.key" \
    --roles auditor >/dev/null
check "an auditor client is registered" test "$(checkpoint_size)" = 2
stop_server

# start_tls [flags…]: serve DATA on PORT with these flags; waits until HTTPS answers.
start_tls() {
    "$CONSENTD" serve --data "$DATA" --listen "127.0.0.1:$PORT" "$@" >>"$E2E_TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        if curl -sf --cacert "$CERT" "$ISS/healthz" >/dev/null 2>&1; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    tail -n 5 "$E2E_TMP/server.log" >&2
    return 1
}
TLS=(--tls-cert "$CERT" --tls-key "$KEY")
jqt() { jq -e "$@" >/dev/null; }
# refused NAME EXIT SENTENCE [flags…]: serve refuses to start with this exit code and sentence
refused() {
    local name=$1 want=$2 says=$3 code
    shift 3
    timeout 20 "$CONSENTD" serve --data "$DATA" --listen "127.0.0.1:$(free_port)" "$@" \
        >"$E2E_TMP/r" 2>&1 </dev/null
    code=$?
    if [ "$code" = "$want" ] && grep -qF -- "$says" "$E2E_TMP/r"; then
        ok "$name → exit $want"
    else
        fail "$name → wanted exit $want and \"$says\", got $code: $(head -c 300 "$E2E_TMP/r")"
    fi
}

check "serve --check-config loads the certificate and key" \
    bash -c "\"$CONSENTD\" serve --data \"$DATA\" ${TLS[*]} --check-config | grep -qx 'configuration OK'"
check "HTTPS server starts" start_tls "${TLS[@]}"
check "… and says it serves HTTPS" grep -q "serving HTTPS on 127.0.0.1:$PORT" "$E2E_TMP/server.log"

check "GET /healthz over HTTPS, certificate verified" \
    test "$(curl -s --cacert "$CERT" -o /dev/null -w '%{http_code} %{ssl_verify_result} %{scheme}' "$ISS/healthz")" = "200 0 HTTPS"
curl -s --cacert "$CERT" -o "$E2E_TMP/meta" "$ISS/.well-known/oauth-authorization-server"
check "OAuth metadata over HTTPS names the https issuer and endpoints" \
    jqt --arg i "$ISS" '.issuer == $i and .token_endpoint == $i + "/oauth2/token" and
        .jwks_uri == $i + "/.well-known/jwks.json" and
        .introspection_endpoint == $i + "/oauth2/introspect"' "$E2E_TMP/meta"
JWKS=$(jq -r .jwks_uri "$E2E_TMP/meta")
check "the JWKS it names is served over HTTPS" \
    bash -c "curl -sf --cacert '$CERT' '$JWKS' | jq -e '.keys[0].kty == \"OKP\"' >/dev/null"
TE=$(jq -r .token_endpoint "$E2E_TMP/meta")
A=$("$CTL" client assertion --id aud-1 --key "$E2E_TMP/aud.key" --aud "$TE")
curl -s --cacert "$CERT" -o "$E2E_TMP/tok" -X POST -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$A" -d scope=audit "$TE"
check "a client_credentials token over HTTPS (private_key_jwt, aud the https endpoint)" \
    jqt '.token_type == "Bearer" and .scope == "audit" and (.access_token|length) > 100' "$E2E_TMP/tok"
AUD=$(jq -r .access_token "$E2E_TMP/tok")
check "… which reads the log's entry bundle over HTTPS" \
    test "$(curl -s --cacert "$CERT" -H "Authorization: Bearer $AUD" -o /dev/null -w '%{http_code}' "$ISS/log/tile/entries/000.p/2")" = 200

check "TLS 1.3 is chosen when the client offers it" \
    bash -c "openssl s_client -connect 127.0.0.1:$PORT -CAfile '$CERT' -brief </dev/null 2>&1 | grep -q 'Protocol version: TLSv1.3'"
check "TLS 1.2 is served" \
    test "$(curl -s --cacert "$CERT" --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' "$ISS/healthz")" = 200
# SECLEVEL=0 makes curl's OpenSSL willing to speak TLS 1.1, so the refusal is the server's.
# Two things refuse it there: consentd's TLS 1.2 minimum and OpenSSL 3's security level 1;
# check_tls tests the first alone.
curl -s --cacert "$CERT" --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' -o /dev/null "$ISS/healthz"
check "TLS 1.1 is refused (curl exit 35, handshake failed)" test $? = 35
curl -s --cacert "$CERT" --tlsv1.2 --tls-max 1.2 --ciphers AES128-SHA -o /dev/null "$ISS/healthz"
check "a TLS 1.2 cipher without forward secrecy or AEAD is refused" test $? = 35
curl -s --cacert "$CERT" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA -o /dev/null "$ISS/healthz"
check "an ECDHE cipher without AEAD (CBC) is refused" test $? = 35
check "curl --http2 gets HTTP/1.1" \
    test "$(curl -s --cacert "$CERT" --http2 -o /dev/null -w '%{http_version}' "$ISS/healthz")" = 1.1
check "ALPN h2,http/1.1 selects http/1.1" \
    bash -c "openssl s_client -connect 127.0.0.1:$PORT -CAfile '$CERT' -alpn h2,http/1.1 </dev/null 2>&1 | grep -q '^ALPN protocol: http/1.1'"
openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CERT" -alpn h2 </dev/null >"$E2E_TMP/h2" 2>&1
check "a client offering only h2 gets no connection" \
    bash -c "! grep -q 'ALPN protocol: h2' '$E2E_TMP/h2' && grep -q 'Cipher is (NONE)' '$E2E_TMP/h2'"
curl -s -m 10 -o /dev/null "http://127.0.0.1:$PORT/healthz"
code=$?
check "plain HTTP to the TLS port fails at once (curl exit $code: no HTTP answer)" \
    test "$code" = 52 -o "$code" = 56
check "… and the server still serves HTTPS" curl -sf --cacert "$CERT" -o /dev/null "$ISS/healthz"
check "SIGTERM stops the HTTPS server with status 0" stop_server

# Where the certificate and key come from: consentd.conf < CONSENTD_TLS_* < flags.
sed -i "/^policy = /a tls_cert = $CERT\ntls_key = $KEY" "$DATA/consentd.conf"
check "from consentd.conf alone, HTTPS starts" start_tls
check "SIGTERM stops it" stop_server
sed -i "s|^tls_cert = .*|tls_cert = $E2E_TMP/nope.pem|" "$DATA/consentd.conf"
refused "a certificate in consentd.conf that is missing" 78 "cannot open the TLS certificate $E2E_TMP/nope.pem"
check "CONSENTD_TLS_CERT overrides consentd.conf" \
    bash -c "CONSENTD_TLS_CERT='$CERT' '$CONSENTD' serve --data '$DATA' --check-config >/dev/null"
export CONSENTD_TLS_CERT=$E2E_TMP/env.pem
refused "… also when it names a missing file" 78 "cannot open the TLS certificate $E2E_TMP/env.pem"
check "a flag overrides the environment" start_tls --tls-cert "$CERT"
check "SIGTERM stops it" stop_server
export CONSENTD_TLS_CERT="" CONSENTD_TLS_KEY=""
check "empty CONSENTD_TLS_* turn TLS off whatever the file says" start_server "$DATA"
check "… serving plain HTTP" curl -sf -o /dev/null "$(URL)/healthz"
check "SIGTERM stops it" stop_server
unset CONSENTD_TLS_CERT CONSENTD_TLS_KEY
sed -i '/^tls_cert = /d; /^tls_key = /d' "$DATA/consentd.conf"

# Startup refusals, each a sentence naming the file (exit 78, EX_CONFIG).
chmod 644 "$KEY"
refused "a key file others may read" 78 "must be owned by the user consentd runs as" "${TLS[@]}"
refused "… also in --check-config" 78 "(chmod 0600); it has mode 0644" "${TLS[@]}" --check-config
chmod 600 "$KEY"
refused "a missing certificate" 78 "cannot open the TLS certificate $E2E_TMP/nope.pem: No such file" \
    --tls-cert "$E2E_TMP/nope.pem" --tls-key "$KEY"
refused "a missing key" 78 "cannot open the TLS key $E2E_TMP/nope.pem: No such file" \
    --tls-cert "$CERT" --tls-key "$E2E_TMP/nope.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$E2E_TMP/other.pem" 2>/dev/null
chmod 600 "$E2E_TMP/other.pem"
refused "a key that does not match the certificate" 78 "does not match the certificate" \
    --tls-cert "$CERT" --tls-key "$E2E_TMP/other.pem"
refused "the key given as the certificate" 78 "is not a PEM certificate chain" \
    --tls-cert "$KEY" --tls-key "$KEY"
openssl pkey -in "$KEY" -aes256 -passout pass:secret -out "$E2E_TMP/enc.pem" 2>/dev/null
chmod 600 "$E2E_TMP/enc.pem"
refused "a key with a passphrase (no prompt)" 78 "is not an unencrypted PEM private key" \
    --tls-cert "$CERT" --tls-key "$E2E_TMP/enc.pem"
refused "a certificate without its key" 78 "TLS needs both tls_cert and tls_key" --tls-cert "$CERT"
check "no refusal left a server running on the port" \
    bash -c "! curl -s -o /dev/null '$(URL)/healthz' && ! curl -s --cacert '$CERT' -o /dev/null '$ISS/healthz'"
check "the key's bytes never reach the server log" \
    bash -c "! grep -q 'PRIVATE KEY' '$E2E_TMP/server.log' '$E2E_TMP/r'"

summary
