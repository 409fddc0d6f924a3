#!/usr/bin/env bash
# People and their keys: enrolment codes, enrolment with a proof by the new key, rotation with a
# proof by the old key, recovery by an enroller, linked identifiers used in place of an NHS
# number, and every refusal answered with a precise problem that leaves the log as it was.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

NHS_A=9434765919
NHS_B=9434765870
NHS_C=4010232137
NHS_D=9990548609
MRN=https://hospital.example/mrn
DATA=$E2E_TMP/data
PORT=$(free_port)
# The issuer must be the URL clients use: the token endpoint checks assertions' "aud" by it.
init_data_issuer() {
    local out
    out=$("$CONSENTD" init --data "$1" --issuer "$(URL)") || return 1
    ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
    [ -n "$ADMIN_TOKEN" ]
}
check "init" init_data_issuer "$DATA"
check "server starts" start_server "$DATA"
export CONSENTD_URL
CONSENTD_URL=$(URL)

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# sign_jws KEYFILE PAYLOAD [ALG]: a compact JWS by the key file's Ed25519 key (OpenSSL).
sign_jws() {
    local key=$1 payload=$2 alg=${3:-EdDSA} h p s
    { printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20'; cat "$key"; } |
        openssl pkey -inform DER -out "$E2E_TMP/sign.pem" 2>/dev/null || return 1
    h=$(printf '{"alg":"%s"}' "$alg" | b64url)
    p=$(printf '%s' "$payload" | b64url)
    printf '%s.%s' "$h" "$p" >"$E2E_TMP/sign.in"
    s=$(openssl pkeyutl -sign -rawin -inkey "$E2E_TMP/sign.pem" -in "$E2E_TMP/sign.in" | b64url)
    echo "$h.$p.$s"
}

# newkey NAME: a key file $E2E_TMP/NAME.key and its public JWK in $E2E_TMP/NAME.jwk.
newkey() {
    "$CONSENTCTL" keygen --out "$E2E_TMP/$1.key" | jq -c '{kty,crv,x}' >"$E2E_TMP/$1.jwk"
}
for k in k1 k2 k3 k4 other b1 c1 d1; do newkey $k; done

# want NAME STATUS SLUG METHOD PATH BODY [curl args…]: the answer has this status and problem
# type, and the log did not grow.
want() {
    local name=$1 status=$2 slug=$3 method=$4 path=$5 body=$6
    shift 6
    local before after got
    before=$(checkpoint_size)
    got=$(curl -s -o "$E2E_TMP/p" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
        "$@" --data-binary "$body" "$(URL)$path")
    after=$(checkpoint_size)
    if [ "$got" = "$status" ] && [ "$before" = "$after" ] &&
        jq -e --arg t "https://consentd.example/problems/$slug" \
            '.type == $t and (.detail|length) > 10' "$E2E_TMP/p" >/dev/null; then
        ok "$name → $status $slug"
    else
        fail "$name → wanted $status $slug, got $got $(head -c 300 "$E2E_TMP/p") (size $before→$after)"
    fi
}
ADMIN=(-H "Authorization: Bearer $ADMIN_TOKEN")

# code NHS: issues a code as the admin; prints it.
code() {
    curl -s -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
        -d "{\"nhs\":\"$1\"}" "$(URL)/v1/enrolments" | jq -r .code
}

# enrol_body NHS CODE KEY PROOF_PAYLOAD [SIGNING_KEY]: the body of POST /v1/patients.
enrol_body() {
    local proof
    proof=$(sign_jws "$E2E_TMP/${5:-$3}.key" "$4")
    jq -nc --arg nhs "$1" --arg code "$2" --argjson jwk "$(cat "$E2E_TMP/$3.jwk")" \
        --arg proof "$proof" '{nhs:$nhs,code:$code,jwk:$jwk,proof:$proof}'
}

# --- enrolment codes ---
size0=$(checkpoint_size)
status=$(curl -s -D "$E2E_TMP/h" -o "$E2E_TMP/c" -w '%{http_code}' "${ADMIN[@]}" \
    -H 'Content-Type: application/json' -d "{\"nhs\":\"$NHS_A\"}" "$(URL)/v1/enrolments")
check "admin gets an enrolment code: 201" test "$status" = 201
check "the code is 43 base64url characters with an expiry 24 h ahead" \
    jq -e '(.code|test("^[A-Za-z0-9_-]{43}$")) and ((.expires|fromdateiso8601) - now > 86000)' "$E2E_TMP/c" >/dev/null
check "the code's answer is Cache-Control: no-store" grep -qi '^cache-control: no-store' "$E2E_TMP/h"
check "issuing a code appends nothing to the log" test "$(checkpoint_size)" = "$size0"
CODE_A=$(jq -r .code "$E2E_TMP/c")
check "the code is never in the server's log" bash -c "! grep -q -- '$CODE_A' '$E2E_TMP/server.log'"
check "consentctl patient code prints the code" \
    bash -c "\"$CONSENTCTL\" patient code --token '$ADMIN_TOKEN' --nhs $NHS_B | grep -Eq '^code: [A-Za-z0-9_-]{43}$'"

want "code without a token" 401 unauthorized POST /v1/enrolments "{\"nhs\":\"$NHS_A\"}"
want "code with a wrong token" 401 unauthorized POST /v1/enrolments "{\"nhs\":\"$NHS_A\"}" \
    -H 'Authorization: Bearer nope'
want "code for a bad Modulus 11 number" 400 invalid-nhs POST /v1/enrolments '{"nhs":"9434765918"}' "${ADMIN[@]}"
want "code for a number with spaces" 400 invalid-nhs POST /v1/enrolments '{"nhs":"943 476 5919"}' "${ADMIN[@]}"
want "code for an unlinked system|value" 404 unknown-identifier POST /v1/enrolments \
    "{\"nhs\":\"$MRN|nobody\"}" "${ADMIN[@]}"
want "code request with an unknown member" 400 invalid-field POST /v1/enrolments \
    "{\"nhs\":\"$NHS_A\",\"x\":1}" "${ADMIN[@]}"

# --- enrolment refusals: each leaves the log and the code as they were ---
NOW=$(date +%s)
CODE_B=$(code $NHS_B)
want "enrol with a code issued for another NHS number" 400 invalid-code POST /v1/patients \
    "$(enrol_body $NHS_A "$CODE_B" k1 "{\"sub\":\"$NHS_A\",\"code\":\"$CODE_B\",\"iat\":$NOW}")"
WRONG=$(head -c 32 /dev/urandom | b64url)
want "enrol with a code never issued" 400 invalid-code POST /v1/patients \
    "$(enrol_body $NHS_A "$WRONG" k1 "{\"sub\":\"$NHS_A\",\"code\":\"$WRONG\",\"iat\":$NOW}")"
want "enrol with a malformed code" 400 invalid-code POST /v1/patients \
    "$(enrol_body $NHS_A "1234" k1 "{\"sub\":\"$NHS_A\",\"code\":\"1234\",\"iat\":$NOW}")"
want "enrol a bad Modulus 11 number" 400 invalid-nhs POST /v1/patients \
    "$(enrol_body 9434765918 "$CODE_A" k1 "{\"sub\":\"9434765918\",\"code\":\"$CODE_A\",\"iat\":$NOW}")"
want "enrol with a proof by another key" 403 bad-signature POST /v1/patients \
    "$(enrol_body $NHS_A "$CODE_A" k1 "{\"sub\":\"$NHS_A\",\"code\":\"$CODE_A\",\"iat\":$NOW}" other)"
want "enrol with a proof whose sub is another person" 400 invalid-proof POST /v1/patients \
    "$(enrol_body $NHS_A "$CODE_A" k1 "{\"sub\":\"$NHS_B\",\"code\":\"$CODE_A\",\"iat\":$NOW}")"
want "enrol with a proof over another code" 400 invalid-proof POST /v1/patients \
    "$(enrol_body $NHS_A "$CODE_A" k1 "{\"sub\":\"$NHS_A\",\"code\":\"$CODE_B\",\"iat\":$NOW}")"
want "enrol with a proof made an hour ago" 400 invalid-proof POST /v1/patients \
    "$(enrol_body $NHS_A "$CODE_A" k1 "{\"sub\":\"$NHS_A\",\"code\":\"$CODE_A\",\"iat\":$((NOW - 3600))}")"
want "enrol with a proof signed with alg none" 400 invalid-proof POST /v1/patients \
    "$(enrol_body $NHS_A "$CODE_A" k1 "{\"sub\":\"$NHS_A\",\"code\":\"$CODE_A\",\"iat\":$NOW}" k1 | jq -c '.proof |= (split(".") | .[0] = ("{\"alg\":\"none\"}" | @base64 | gsub("=";"")) | join("."))')"
want "enrol a private key" 400 invalid-jwk POST /v1/patients \
    "$(enrol_body $NHS_A "$CODE_A" k1 "{\"sub\":\"$NHS_A\",\"code\":\"$CODE_A\",\"iat\":$NOW}" | jq -c '.jwk.d = "AAAA"')"
want "enrol without a proof" 400 invalid-field POST /v1/patients \
    "{\"nhs\":\"$NHS_A\",\"code\":\"$CODE_A\",\"jwk\":$(cat "$E2E_TMP/k1.jwk")}"

# --- enrolment ---
before=$(checkpoint_size)
out=$("$CONSENTCTL" patient enrol --nhs $NHS_A --code "$CODE_A" --key "$E2E_TMP/k1.key")
check "consentctl patient enrol: 201 with nhs, kid and log_index" \
    jq -e ".nhs == \"$NHS_A\" and (.kid|length) == 43 and .log_index == $before" <<<"$out" >/dev/null >/dev/null
check "enrolment appends one entry" test "$(checkpoint_size)" = $((before + 1))
want "the same code again" 400 invalid-code POST /v1/patients \
    "$(enrol_body $NHS_A "$CODE_A" k2 "{\"sub\":\"$NHS_A\",\"code\":\"$CODE_A\",\"iat\":$NOW}")"
want "a code for an enrolled person" 409 already-enrolled POST /v1/enrolments "{\"nhs\":\"$NHS_A\"}" "${ADMIN[@]}"
check "the entry names the key and who issued the code, never the code" \
    bash -c "curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' '$(URL)/log/entries?start=$before&end=$((before + 1))' |
        jq -r '.entries[0]' | base64 -d | jq -e '.type == \"patient.enrol\" and .by == \"admin\" and .nhs == \"$NHS_A\" and (.kid|length) == 43 and (has(\"code\")|not) and (has(\"proof\")|not)' >/dev/null"

# --- rotation ---
rotation_body() { # rotation_body SIGNING_KEY NEW_KEY SUB [IAT]
    local proof
    proof=$(sign_jws "$E2E_TMP/$1.key" \
        "{\"sub\":\"$3\",\"jwk\":$(cat "$E2E_TMP/$2.jwk"),\"iat\":${4:-$(date +%s)}}")
    jq -nc --argjson jwk "$(cat "$E2E_TMP/$2.jwk")" --arg proof "$proof" '{jwk:$jwk,proof:$proof}'
}
want "rotation signed by the new key, not the current one" 403 bad-signature POST \
    "/v1/patients/$NHS_A/keys" "$(rotation_body k2 k2 $NHS_A)"
want "rotation signed by a stranger's key" 403 bad-signature POST \
    "/v1/patients/$NHS_A/keys" "$(rotation_body other k2 $NHS_A)"
want "rotation proof naming another person" 400 invalid-proof POST \
    "/v1/patients/$NHS_A/keys" "$(rotation_body k1 k2 $NHS_B)"
want "rotation proof for another new key" 400 invalid-proof POST \
    "/v1/patients/$NHS_A/keys" "$(rotation_body k1 k3 $NHS_A | jq -c --argjson j "$(cat "$E2E_TMP/k2.jwk")" '.jwk = $j')"
want "rotation proof made an hour ago" 400 invalid-proof POST \
    "/v1/patients/$NHS_A/keys" "$(rotation_body k1 k2 $NHS_A $(($(date +%s) - 3600)))"
want "rotation to the current key" 409 key-conflict POST \
    "/v1/patients/$NHS_A/keys" "$(rotation_body k1 k1 $NHS_A)"
want "rotation of someone not enrolled" 404 not-enrolled POST \
    "/v1/patients/$NHS_C/keys" "$(rotation_body k1 k2 $NHS_C)"
want "rotation with both proof and reason" 400 invalid-field POST \
    "/v1/patients/$NHS_A/keys" "$(rotation_body k1 k2 $NHS_A | jq -c '.reason = "x"')"
want "a POST to an unknown patient sub-path" 404 not-found POST "/v1/patients/$NHS_A/colour" '{}'
"$CONSENTCTL" patient rotate --nhs $NHS_A --key "$E2E_TMP/other.key" --new-key "$E2E_TMP/k2.key" 2>"$E2E_TMP/err" >/dev/null
check "consentctl patient rotate with the wrong key exits 77 and says why" \
    bash -c "[ $? = 77 ] && grep -q 'does not verify with the patient.s current key' '$E2E_TMP/err'"
before=$(checkpoint_size)
check "consentctl patient rotate with the old key" \
    bash -c "\"$CONSENTCTL\" patient rotate --nhs $NHS_A --key '$E2E_TMP/k1.key' --new-key '$E2E_TMP/k2.key' | jq -e '.log_index == $before' >/dev/null"
want "the old key cannot rotate again" 403 bad-signature POST \
    "/v1/patients/$NHS_A/keys" "$(rotation_body k1 k3 $NHS_A)"

# --- recovery ---
want "recovery without a token" 401 unauthorized POST "/v1/patients/$NHS_A/keys" \
    "{\"jwk\":$(cat "$E2E_TMP/k3.jwk"),\"reason\":\"lost phone\"}"
want "recovery with an empty reason" 400 invalid-field POST "/v1/patients/$NHS_A/keys" \
    "{\"jwk\":$(cat "$E2E_TMP/k3.jwk"),\"reason\":\"\"}" "${ADMIN[@]}"
want "recovery with a 501-character reason" 400 invalid-field POST "/v1/patients/$NHS_A/keys" \
    "{\"jwk\":$(cat "$E2E_TMP/k3.jwk"),\"reason\":\"$(printf '%0501d' 0)\"}" "${ADMIN[@]}"
# An enroller: a GP practice's system with role enroller, and its access token (scope enrol).
"$CONSENTCTL" keygen --out "$E2E_TMP/gp.key" >/dev/null
ENROLLER=
if curl -s -o /dev/null "${ADMIN[@]}" -H 'Content-Type: application/json' \
    -d '{"ods":"A81001","name":"Example GP","type":"gp-practice"}' "$(URL)/v1/orgs" &&
    "$CONSENTCTL" admin client add --token "$ADMIN_TOKEN" --id gp-a81001 --org A81001 \
        --key "$E2E_TMP/gp.key" --roles enroller >/dev/null 2>"$E2E_TMP/err"; then
    ENROLLER=$("$CONSENTCTL" client token --id gp-a81001 --key "$E2E_TMP/gp.key" --scope enrol 2>>"$E2E_TMP/err")
fi
check "an enroller client gets a token with scope enrol" test -n "$ENROLLER"
before=$(checkpoint_size)
out=$("$CONSENTCTL" patient recover --token "$ENROLLER" --nhs $NHS_A --new-key "$E2E_TMP/k3.key" \
    --reason "lost phone; identity checked at the practice")
check "consentctl patient recover by the enroller: 201" jq -e ".log_index == $before" <<<"$out" >/dev/null >/dev/null
check "the recovery entry records the enroller and the reason" \
    bash -c "curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' '$(URL)/log/entries?start=$before&end=$((before + 1))' |
        jq -r '.entries[0]' | base64 -d | jq -e '.type == \"patient.key\" and .recovery.by == \"gp-a81001\" and (.recovery.reason|startswith(\"lost phone\"))' >/dev/null"
want "after recovery the lost key cannot rotate" 403 bad-signature POST \
    "/v1/patients/$NHS_A/keys" "$(rotation_body k2 k4 $NHS_A)"
check "after recovery the new key rotates" \
    bash -c "\"$CONSENTCTL\" patient rotate --nhs $NHS_A --key '$E2E_TMP/k3.key' --new-key '$E2E_TMP/k4.key' >/dev/null"

# --- linked identifiers ---
before=$(checkpoint_size)
check "link a hospital number (admin)" \
    bash -c "\"$CONSENTCTL\" patient link --token '$ADMIN_TOKEN' --nhs $NHS_B --system $MRN --value 'H/123 4' | jq -e '.nhs == \"$NHS_B\"' >/dev/null"
check "linking appends one entry" test "$(checkpoint_size)" = $((before + 1))
want "the same identifier for another person" 409 already-linked POST \
    "/v1/patients/$NHS_C/identifiers" "{\"system\":\"$MRN\",\"value\":\"H/123 4\"}" "${ADMIN[@]}"
want "the same identifier again" 409 already-linked POST \
    "/v1/patients/$NHS_B/identifiers" "{\"system\":\"$MRN\",\"value\":\"H/123 4\"}" "${ADMIN[@]}"
want "a system with a bar" 400 invalid-field POST \
    "/v1/patients/$NHS_B/identifiers" '{"system":"a|b","value":"1"}' "${ADMIN[@]}"
want "linking the NHS number system" 400 invalid-field POST \
    "/v1/patients/$NHS_B/identifiers" "{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"$NHS_C\"}" "${ADMIN[@]}"
want "linking without a token" 401 unauthorized POST \
    "/v1/patients/$NHS_B/identifiers" '{"system":"https://x.example","value":"1"}'
want "linking to a bad Modulus 11 number" 400 invalid-nhs POST \
    "/v1/patients/9434765918/identifiers" '{"system":"https://x.example","value":"1"}' "${ADMIN[@]}"
check "an enroller links too" \
    bash -c "\"$CONSENTCTL\" patient link --token '$ENROLLER' --nhs $NHS_C --system $MRN --value C1 | jq -e '.nhs == \"$NHS_C\"' >/dev/null"
# The linked identifier in place of the NHS number: a code, an enrolment, a rotation.
out=$("$CONSENTCTL" patient code --token "$ENROLLER" --nhs "$MRN|H/123 4")
CODE_B2=$(sed -n 's/^code: //p' <<<"$out")
check "an enroller gets a code by system|value" test ${#CODE_B2} = 43
check "enrol by system|value, with the proof's sub the system|value" \
    bash -c "\"$CONSENTCTL\" patient enrol --nhs '$MRN|H/123 4' --code '$CODE_B2' --key '$E2E_TMP/b1.key' | jq -e '.nhs == \"$NHS_B\"' >/dev/null"
ENC=$(jq -rn --arg s "$MRN|H/123 4" '$s|@uri')
before=$(checkpoint_size)
status=$(curl -s -o "$E2E_TMP/r" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "$(rotation_body b1 k1 $NHS_B)" "$(URL)/v1/patients/$ENC/keys")
check "rotate by a percent-encoded system|value in the path" test "$status" = 201
check "… and the answer names the NHS number" jq -e ".nhs == \"$NHS_B\" and .log_index == $before" "$E2E_TMP/r" >/dev/null
want "an unlinked system|value in the path" 404 unknown-identifier POST \
    "/v1/patients/$(jq -rn --arg s "$MRN|nobody" '$s|@uri')/keys" "$(rotation_body k1 k2 $NHS_B)"
want "a code issued by an enroller's token for an enrolled person" 409 already-enrolled POST \
    /v1/enrolments "{\"nhs\":\"$MRN|H/123 4\"}" -H "Authorization: Bearer $ENROLLER"
# A client without scope enrol (a custodian, whose token has scope pointers) is refused.
"$CONSENTCTL" keygen --out "$E2E_TMP/req.key" >/dev/null
REQUESTER=
if "$CONSENTCTL" admin client add --token "$ADMIN_TOKEN" --id cust-a81001 --org A81001 \
    --key "$E2E_TMP/req.key" --roles custodian >/dev/null 2>&1; then
    REQUESTER=$("$CONSENTCTL" client token --id cust-a81001 --key "$E2E_TMP/req.key" \
        --scope pointers 2>/dev/null)
fi
if [ -n "$REQUESTER" ]; then
    want "a code for a client without scope enrol" 403 insufficient-scope POST /v1/enrolments \
        "{\"nhs\":\"$NHS_D\"}" -H "Authorization: Bearer $REQUESTER"
    want "a recovery by a client without scope enrol" 403 insufficient-scope POST \
        "/v1/patients/$NHS_A/keys" "{\"jwk\":$(cat "$E2E_TMP/k1.jwk"),\"reason\":\"lost\"}" \
        -H "Authorization: Bearer $REQUESTER"
else
    fail "a custodian client and its token (for the scope checks)"
fi

# --- the patient's own token ---
TOKEN_A=$("$CONSENTCTL" patient token --nhs $NHS_A --key "$E2E_TMP/k4.key" 2>"$E2E_TMP/err")
check "consentctl patient token with the current key" test -n "$TOKEN_A"
"$CONSENTCTL" patient token --nhs $NHS_A --key "$E2E_TMP/k1.key" >/dev/null 2>&1
check "consentctl patient token with a retired key is refused" test $? -ne 0
status=$(curl -s -o "$E2E_TMP/ptr" -w '%{http_code}' -H "Authorization: Bearer $TOKEN_A" \
    "$(URL)/v1/patients/$NHS_A/pointers")
check "the patient's token reads their pointers (200)" test "$status" = 200

# The request log names paths, and /v1/patients/{nhs}/… paths hold NHS numbers (reported);
# bodies, codes and keys are never logged.
check "no enrolment code or key in the server's log" \
    bash -c "! grep -E -q -- '$CODE_B2|$(jq -r .x "$E2E_TMP/k1.jwk")|$(jq -r .x "$E2E_TMP/b1.jwk")' '$E2E_TMP/server.log'"
check "server stops cleanly" stop_server
check "a replay of the log rebuilds the same state" \
    bash -c "\"$CONSENTD\" serve --data '$DATA' --rebuild >'$E2E_TMP/rebuild' 2>&1 && grep -q 'the derived state matches the stored state' '$E2E_TMP/rebuild'"
summary
