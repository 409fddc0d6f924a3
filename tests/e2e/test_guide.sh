#!/usr/bin/env bash
# The care-provider integration guide (docs/integration-guide.md), step by step, with its
# example programs exactly as published in docs/examples: a requester and a record holder make
# their keys with jose, are registered, ask, verify offline and introspect.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

NHS=9434765919
DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
GP_EP="http://127.0.0.1:9/gp/fhir"
CTL=$CONSENTCTL
jqt() { jq -e "$@" >/dev/null; }
export CONSENTD_URL=$ISS

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "server starts" start_server "$DATA"
if ! command -v node >/dev/null || [ ! -d tests/e2e/node_modules/jose ]; then
    fail "node and tests/e2e/node_modules are needed (make e2e runs npm ci)"
    summary
    exit 1
fi
# The examples import jose: run copies of them from a directory under tests/e2e, where node
# finds tests/e2e/node_modules.
EX=$(mktemp -d tests/e2e/.guide.XXXXXX)
trap 'rm -rf "$EX"; e2e_cleanup' EXIT
cp docs/examples/*.mjs "$EX/"

# --- step 1: keys and registration ------------------------------------------------------
RX_PUB=$(node "$EX/keygen.mjs" "$E2E_TMP/rx.jwk")
GP_PUB=$(node "$EX/keygen.mjs" "$E2E_TMP/gp.jwk")
check "keygen.mjs writes the private JWK with mode 0600 and prints only the public JWK" \
    bash -c "[ \$(stat -c %a '$E2E_TMP/rx.jwk') = 600 ] && jq -e '.kty == \"OKP\" and .crv == \"Ed25519\" and (has(\"d\") | not)' <<<'$RX_PUB' >/dev/null"
check "keygen.mjs refuses to overwrite a key file" \
    bash -c "! node '$EX/keygen.mjs' '$E2E_TMP/rx.jwk' 2>/dev/null"
"$CTL" admin org add --token "$ADMIN" --ods A81001 --name 'Riverside Practice' --type gp-practice \
    --endpoint "$GP_EP" >/dev/null
"$CTL" admin org add --token "$ADMIN" --ods RX1 --name 'City Hospital' --type hospital >/dev/null
register() { # register ID ORG JWK ROLES_JSON
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
        -H 'Content-Type: application/json' \
        -d "{\"client_id\":\"$1\",\"org\":\"$2\",\"jwk\":$3,\"roles\":$4}" "$ISS/v1/clients"
}
check "the requester's public JWK is registered" test "$(register rx-req RX1 "$RX_PUB" '["requester"]')" = 201
check "the record holder's public JWK is registered" \
    test "$(register gp-sys A81001 "$GP_PUB" '["custodian","enroller"]')" = 201

# A person, a record at the GP practice, and the person's grant to the hospital.
"$CTL" keygen --out "$E2E_TMP/p.key" >/dev/null
"$CTL" keygen --out "$E2E_TMP/gpc.key" >/dev/null
"$CTL" admin client add --token "$ADMIN" --id gp-ctl --org A81001 --key "$E2E_TMP/gpc.key" \
    --roles custodian,enroller >/dev/null
GPT=$("$CTL" client token --id gp-ctl --key "$E2E_TMP/gpc.key" --scope "enrol pointers")
code=$("$CTL" patient code --nhs $NHS --token "$GPT" | sed -n 's/^code: //p')
"$CTL" patient enrol --nhs $NHS --code "$code" --key "$E2E_TMP/p.key" >/dev/null
curl -s -o /dev/null -H "Authorization: Bearer $GPT" -H 'Content-Type: application/json' \
    -d "{\"nhs\":\"$NHS\",\"category\":\"gp-record\",\"type\":{\"system\":\"http://snomed.info/sct\",\"code\":\"824321000000109\",\"display\":\"Summary record\"},\"url\":\"$GP_EP/summary\",\"content_type\":\"application/pdf\"}" \
    "$ISS/v1/pointers"
"$CTL" consent grant --nhs $NHS --key "$E2E_TMP/p.key" --org RX1 --purpose TREAT \
    --datatypes gp-record --until 2030-01-01 >/dev/null

# --- step 2-4: the requester asks -----------------------------------------------------------
node "$EX/requester.mjs" "$ISS" rx-req "$E2E_TMP/rx.jwk" $NHS TREAT gp-record >"$E2E_TMP/t" 2>"$E2E_TMP/te"
check "requester.mjs gets a consent-checked token with the grant and its log index" \
    jqt '.token_type == "Bearer" and (.log_index | type) == "number" and
        (.authorization_details[0].grants | length) == 1' "$E2E_TMP/t"
TOKEN=$(jq -r .access_token "$E2E_TMP/t")
node "$EX/requester.mjs" "$ISS" rx-req "$E2E_TMP/rx.jwk" $NHS TREAT medications >"$E2E_TMP/t2" 2>"$E2E_TMP/te2"
rc=$?
check "requester.mjs reports a refusal as the server gave it (access_denied, exit 1)" \
    bash -c "[ $rc = 1 ] && grep -q '^400 access_denied: ' '$E2E_TMP/te2' && [ ! -s '$E2E_TMP/t2' ]"

# --- step 5: the record holder verifies and introspects --------------------------------------
node "$EX/record-holder.mjs" "$ISS" "$GP_EP" "$TOKEN" gp-sys "$E2E_TMP/gp.jwk" >"$E2E_TMP/v" 2>&1
check "record-holder.mjs verifies offline and introspects: what to release, and active" \
    bash -c "grep -qx 'may release gp-record of $NHS for TREAT' '$E2E_TMP/v' && grep -q '^active, log index ' '$E2E_TMP/v'"
node "$EX/record-holder.mjs" "$ISS" "http://127.0.0.1:9/other/fhir" "$TOKEN" >"$E2E_TMP/v2" 2>&1
rc=$?
check "record-holder.mjs refuses a token that is not for its endpoint" \
    bash -c "[ $rc != 0 ] && grep -q 'aud' '$E2E_TMP/v2' && ! grep -q 'may release' '$E2E_TMP/v2'"

summary
