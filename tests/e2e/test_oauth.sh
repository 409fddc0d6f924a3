#!/usr/bin/env bash
# Clients and OAuth: registering organisations and clients with consentctl, the RFC 8414
# metadata and the JWKS, tokens by client_credentials and private_key_jwt, single-use
# assertions (also across a restart), retired and unknown clients, scopes, every bad
# registration refused with a precise 4xx that appends nothing, and a real client library
# (openid-client and jose, in oauth-client.mjs).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
TE="$ISS/oauth2/token"
CA_TYPE=urn:ietf:params:oauth:client-assertion-type:jwt-bearer

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init with --issuer" test -n "$ADMIN_TOKEN"
check "server starts" start_server "$DATA"
export CONSENTD_URL=$ISS CONSENTD_ADMIN_TOKEN=$ADMIN_TOKEN
CTL=$CONSENTCTL
jqe() { jq -e "$@" >/dev/null; }

# --- metadata and JWKS -------------------------------------------------------------------
curl -s -D "$E2E_TMP/h" -o "$E2E_TMP/meta" "$ISS/.well-known/oauth-authorization-server"
check "metadata: issuer, endpoints, grants, private_key_jwt, EdDSA, Ed25519, RS256/384, ES256/384" \
    jqe --arg iss "$ISS" '.issuer == $iss and .token_endpoint == ($iss + "/oauth2/token")
        and .jwks_uri == ($iss + "/.well-known/jwks.json")
        and .grant_types_supported == ["client_credentials","urn:ietf:params:oauth:grant-type:jwt-bearer"]
        and .token_endpoint_auth_methods_supported == ["private_key_jwt"]
        and .token_endpoint_auth_signing_alg_values_supported == ["EdDSA","Ed25519","RS256","RS384","ES256","ES384"]
        and (.scopes_supported | index("pointers") != null)' "$E2E_TMP/meta"
check "metadata is application/json" grep -qi '^content-type: application/json' "$E2E_TMP/h"
curl -s -o "$E2E_TMP/jwks" "$ISS/.well-known/jwks.json"
check "JWKS: one OKP Ed25519 key with kid, alg EdDSA, use sig, and no private part" \
    jqe '(.keys | length) == 1 and (.keys[0] | .kty == "OKP" and .crv == "Ed25519"
        and .alg == "EdDSA" and .use == "sig" and (.x | length) == 43 and (.kid | length) == 43
        and has("d") == false)' "$E2E_TMP/jwks"

# --- registering organisations and clients -----------------------------------------------
check "admin org add registers a GP practice" \
    bash -c "\"$CTL\" admin org add --ods A81001 --name 'Riverside Practice' --type gp-practice \
        --endpoint https://gp.example/fhir | jq -e '.ods == \"A81001\"' >/dev/null"
check "admin org add registers a pharmacy" \
    bash -c "\"$CTL\" admin org add --ods FA123 --name 'Corner Pharmacy' --type pharmacy >/dev/null"
"$CTL" keygen --out "$E2E_TMP/gp.key" >"$E2E_TMP/gp.jwk"
"$CTL" keygen --out "$E2E_TMP/other.key" >"$E2E_TMP/other.jwk"
"$CTL" keygen --out "$E2E_TMP/ph.key" >/dev/null
X=$(jq -r .x "$E2E_TMP/gp.jwk")
"$CTL" admin client add --id gp-1 --org A81001 --key "$E2E_TMP/gp.key" \
    --roles custodian,enroller,auditor >"$E2E_TMP/c1"
check "admin client add registers a client (client_id and log_index)" \
    jqe '.client_id == "gp-1" and (.log_index | type) == "number"' "$E2E_TMP/c1"
"$CTL" admin client add --id gp-1 --org A81001 --key "$E2E_TMP/other.key" --roles custodian \
    >/dev/null 2>"$E2E_TMP/err"
rc=$?
check "a known client id is refused (409, exit 65)" \
    bash -c "[ $rc = 65 ] && grep -q '409' '$E2E_TMP/err' && grep -q 'already registered' '$E2E_TMP/err'"
"$CTL" admin client add --id ph-1 --org FA123 --key "$E2E_TMP/ph.key" --roles custodian,enroller \
    >/dev/null 2>"$E2E_TMP/err"
rc=$?
check "roles the org type does not allow are refused (400)" \
    bash -c "[ $rc = 65 ] && grep -q 'role \"enroller\" is not allowed for an organisation of type pharmacy' '$E2E_TMP/err'"
"$CTL" admin client add --id ph-1 --org FA123 --key "$E2E_TMP/ph.key" --roles custodian --token nope \
    >/dev/null 2>"$E2E_TMP/err"
rc=$?
check "a wrong admin token is refused (exit 77)" test $rc = 77
check "admin client add --help" bash -c "\"$CTL\" admin client add --help | grep -q '^usage'"

# reg NAME BODY STATUS PART: POST /v1/clients refused with STATUS and PART, appending nothing
reg() {
    local name=$1 body=$2 want=$3 part=$4 before after status
    before=$(checkpoint_size)
    status=$(curl -s -o "$E2E_TMP/p" -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' --data-binary "$body" "$ISS/v1/clients")
    after=$(checkpoint_size)
    if [ "$status" = "$want" ] && [ "$before" = "$after" ] &&
        jq -r .detail "$E2E_TMP/p" | grep -qF -- "$part"; then
        ok "$name → $want"
    else
        fail "$name → wanted $want with \"$part\", got $status $(head -c 300 "$E2E_TMP/p") (size $before→$after)"
    fi
}
J="\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"$X\""
reg "private JWK (with d)" "{\"client_id\":\"c2\",\"org\":\"A81001\",\"jwk\":{$J,\"d\":\"$X\"},\"roles\":[\"custodian\"]}" 400 'a private key'
reg "RSA key" "{\"client_id\":\"c2\",\"org\":\"A81001\",\"jwk\":{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"},\"roles\":[\"custodian\"]}" 400 'jwk'
reg "X25519 curve" "{\"client_id\":\"c2\",\"org\":\"A81001\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"$X\"},\"roles\":[\"custodian\"]}" 400 '"crv" must be "Ed25519"'
reg "short x" "{\"client_id\":\"c2\",\"org\":\"A81001\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"},\"roles\":[\"custodian\"]}" 400 '32-byte public key'
reg "unknown organisation" "{\"client_id\":\"c2\",\"org\":\"Z99999\",\"jwk\":{$J},\"roles\":[\"custodian\"]}" 400 'is not registered'
reg "no roles" "{\"client_id\":\"c2\",\"org\":\"A81001\",\"jwk\":{$J},\"roles\":[]}" 400 'non-empty array'
reg "unknown role" "{\"client_id\":\"c2\",\"org\":\"A81001\",\"jwk\":{$J},\"roles\":[\"king\"]}" 400 'each role must be'
reg "repeated role" "{\"client_id\":\"c2\",\"org\":\"A81001\",\"jwk\":{$J},\"roles\":[\"custodian\",\"custodian\"]}" 400 'more than once'
reg "bad client id" "{\"client_id\":\"a b\",\"org\":\"A81001\",\"jwk\":{$J},\"roles\":[\"custodian\"]}" 400 'client_id'
reg "unknown member" "{\"client_id\":\"c2\",\"org\":\"A81001\",\"jwk\":{$J},\"roles\":[\"custodian\"],\"x\":1}" 400 'x'
reg "duplicate member" "{\"client_id\":\"c2\",\"client_id\":\"c3\",\"org\":\"A81001\",\"jwk\":{$J},\"roles\":[\"custodian\"]}" 400 'duplicate'
reg "emergency at a GP practice" "{\"client_id\":\"c2\",\"org\":\"A81001\",\"jwk\":{$J},\"roles\":[\"emergency\"]}" 400 'not allowed'

# --- tokens ------------------------------------------------------------------------------
TOKEN=$("$CTL" client token --id gp-1 --key "$E2E_TMP/gp.key")
check "client token prints an access token" test -n "$TOKEN"
check "consentctl token verify verifies it offline against the JWKS" \
    bash -c "\"$CTL\" token verify --url '$(URL)' '$TOKEN' | grep -q '^verified: signed by'"
c=${TOKEN:40:1}
[ "$c" = a ] && c=b || c=a
"$CTL" token verify --url "$(URL)" "${TOKEN:0:40}$c${TOKEN:41}" >/dev/null 2>&1
check "… and refuses it with one character changed (exit 65)" test $? = 65
"$CTL" token verify --url "$(URL)" --aud https://records.example "$TOKEN" >/dev/null 2>&1
check "… and for an audience it was not issued for (exit 65)" test $? = 65
# claims JWT: the decoded payload of a JWT
claims() {
    local s
    s=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
    while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
    base64 -d <<<"$s"
}
payload=$(claims "$TOKEN")
check "token claims: iss, sub = client_id = gp-1, scope enrol pointers audit introspect" \
    jqe --arg iss "$ISS" '.iss == $iss and .sub == "gp-1" and .client_id == "gp-1"
        and .scope == "enrol pointers audit introspect" and .exp - .iat == 300' <<<"$payload"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "$ISS/log/entries?start=0&end=1")
check "the token is accepted where scope audit is needed" test "$status" = 200
T2=$("$CTL" client token --id gp-1 --key "$E2E_TMP/gp.key" --scope pointers --json)
check "--scope pointers gives exactly that scope" jqe '.scope == "pointers" and .token_type == "Bearer" and .expires_in == 300' <<<"$T2"
curl -s -D "$E2E_TMP/th" -o /dev/null -X POST "$TE" -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" \
    --data-urlencode "client_assertion=$("$CTL" client assertion --id gp-1 --key "$E2E_TMP/gp.key" --aud "$TE")"
check "the token answer carries Cache-Control: no-store" grep -qi '^cache-control: no-store' "$E2E_TMP/th"

# tok NAME WANT_STATUS WANT_ERROR PART curl-args...: POST /oauth2/token
tok() {
    local name=$1 want=$2 err=$3 part=$4 status
    shift 4
    status=$(curl -s -o "$E2E_TMP/t" -w '%{http_code}' -X POST "$@" "$TE")
    if [ "$status" = "$want" ] && jq -e --arg e "$err" '.error == $e' "$E2E_TMP/t" >/dev/null &&
        jq -r .error_description "$E2E_TMP/t" | grep -qF -- "$part"; then
        ok "$name → $want $err"
    else
        fail "$name → wanted $want $err \"$part\", got $status $(head -c 300 "$E2E_TMP/t")"
    fi
}
assertion() { "$CTL" client assertion --id "$1" --key "$2" --aud "${3:-$TE}"; }
A=$(assertion gp-1 "$E2E_TMP/gp.key")
status=$(curl -s -o "$E2E_TMP/t" -w '%{http_code}' -X POST -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$A" "$TE")
check "consentctl client assertion is accepted at the token endpoint" test "$status" = 200
tok "a replayed assertion" 401 invalid_client "used already" -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$A"
B=$(assertion gp-1 "$E2E_TMP/gp.key" "$ISS")
status=$(curl -s -o "$E2E_TMP/t" -w '%{http_code}' -X POST -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$B" "$TE")
check "an assertion with aud = the issuer is accepted" test "$status" = 200
check "server stops on SIGTERM" stop_server
check "server restarts" start_server "$DATA"
tok "a replay after a restart" 401 invalid_client "used already" -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$B"
C=$(assertion gp-1 "$E2E_TMP/other.key")
tok "an assertion signed by another key" 401 invalid_client "signature does not verify" \
    -d grant_type=client_credentials -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$C"
C=$(assertion nobody "$E2E_TMP/other.key")
tok "an unknown client" 401 invalid_client '"nobody"' -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$C"
C=$(assertion gp-1 "$E2E_TMP/gp.key" https://elsewhere.example/token)
tok "a wrong audience" 401 invalid_client '"aud" must be' -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$C"
C=$(assertion gp-1 "$E2E_TMP/gp.key")
tok "client_id that is not the assertion's iss" 401 invalid_client "does not match" \
    -d grant_type=client_credentials -d client_id=gp-2 -d "client_assertion_type=$CA_TYPE" \
    -d "client_assertion=$C"
tok "no client assertion" 401 invalid_client "private_key_jwt" -d grant_type=client_credentials
tok "a client secret instead" 400 invalid_request '"client_secret" is unknown' \
    -d grant_type=client_credentials -d client_id=gp-1 -d client_secret=hunter2
tok "another assertion type" 401 invalid_client "client_assertion_type must be" \
    -d grant_type=client_credentials -d client_assertion_type=saml -d "client_assertion=$C"
tok "an unknown scope" 400 invalid_scope '"bogus" is unknown' -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$C" -d scope=bogus
C=$(assertion gp-1 "$E2E_TMP/gp.key")
tok "a scope the roles do not allow" 400 invalid_scope "may not have scope patient" \
    -d grant_type=client_credentials -d "client_assertion_type=$CA_TYPE" \
    -d "client_assertion=$C" -d "scope=pointers patient"
tok "no grant_type" 400 invalid_request "grant_type is missing" -d "client_assertion=$C"
tok "an unsupported grant_type" 400 unsupported_grant_type "grant_type must be" \
    -d grant_type=authorization_code
tok "JSON instead of a form" 400 invalid_request "form" -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials"}'
tok "a jwt-bearer grant without an assertion" 400 invalid_request '"assertion"' \
    -d grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
tok "a jwt-bearer grant from a client" 400 invalid_grant "NHS number" \
    -d grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer -d "assertion=$C"

# --- a real client: openid-client and jose -----------------------------------------------
if command -v node >/dev/null && [ -d tests/e2e/node_modules/openid-client ]; then
    while IFS= read -r line; do
        case $line in
        ok\ *) ok "node: ${line#ok }" ;;
        *) fail "node: ${line#FAIL }" ;;
        esac
    done < <(node tests/e2e/oauth-client.mjs "$ISS" gp-1 "$E2E_TMP/gp.key" "$X" 2>&1)
else
    fail "node and tests/e2e/node_modules are needed (make e2e runs npm ci)"
fi

# --- retiring ----------------------------------------------------------------------------
"$CTL" admin client retire --id gp-1 --reason "system decommissioned" >"$E2E_TMP/r"
check "admin client retire answers client_id and log_index" \
    jqe '.client_id == "gp-1" and (.log_index | type) == "number"' "$E2E_TMP/r"
"$CTL" admin client retire --id gp-1 --reason "again" >/dev/null 2>"$E2E_TMP/err"
rc=$?
check "retiring twice is refused (409)" \
    bash -c "[ $rc = 65 ] && grep -q '409' '$E2E_TMP/err' && grep -q 'already retired' '$E2E_TMP/err'"
"$CTL" admin client retire --id ghost --reason "x" >/dev/null 2>"$E2E_TMP/err"
rc=$?
check "retiring an unknown client is 404" bash -c "[ $rc = 65 ] && grep -q '404' '$E2E_TMP/err'"
before=$(checkpoint_size)
status=$(curl -s -o "$E2E_TMP/p" -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d '{"reason":""}' "$ISS/v1/clients/gp-1/retire")
check "an empty reason is 400 and appends nothing" test "$status" = 400 -a "$before" = "$(checkpoint_size)"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d '{"reason":"x"}' "$ISS/v1/clients/gp-1/other")
check "POST /v1/clients/{id}/other is 404" test "$status" = 404
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"reason":"x"}' "$ISS/v1/clients/gp-1/retire")
check "retiring without the admin token is 401" test "$status" = 401
C=$(assertion gp-1 "$E2E_TMP/gp.key")
tok "a retired client" 401 invalid_client "retired" -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" -d "client_assertion=$C"
status=$(curl -s -o "$E2E_TMP/t" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "$ISS/log/entries?start=0&end=1")
check "a retired client's token is refused (401)" \
    bash -c "[ $status = 401 ] && grep -q 'retired' '$E2E_TMP/t'"
"$CTL" client token --id gp-1 --key "$E2E_TMP/gp.key" >/dev/null 2>"$E2E_TMP/err"
rc=$?
check "client token for a retired client exits 77 with the reason" \
    bash -c "[ $rc = 77 ] && grep -q 'invalid_client' '$E2E_TMP/err'"

check "no secret reaches the server log" \
    bash -c "! grep -qF -e '$TOKEN' -e '$ADMIN_TOKEN' -e 'client_assertion' '$E2E_TMP/server.log'"
check "server stops cleanly" stop_server
summary
