#!/usr/bin/env bash
# Consent-checked access tokens (issue 5): POST /oauth2/token with RFC 9396
# authorization_details, permitted by an explicit grant and by the implied GP rule, refused
# (access_denied, revealing nothing) without consent; the access entry durable at the token's
# log_index; precise invalid_authorization_details that leave the log as it was; introspection
# (RFC 7662) and revocation (RFC 7009); a grant's revocation refusing the next token and making
# the earlier one inactive; the person's access history, newest first; the FHIR
# DocumentReference search limited to the token's categories; and a record holder verifying
# the token offline with jose.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

NHS_A=9434765919
NHS_B=9434765870
DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
GP_EP="http://127.0.0.1:9/gp/fhir"
RX_EP="http://127.0.0.1:9/rx1/fhir"
CA_TYPE=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
DENIED="access to these records is not permitted for this request"

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init" test -n "$ADMIN_TOKEN"
check "server starts" start_server "$DATA"
export CONSENTD_URL=$ISS
CTL=$CONSENTCTL
jqt() { jq -e "$@" >/dev/null; }

# --- organisations, clients, a person, pointers, a grant ----------------------------------
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice --endpoint "$GP_EP" >/dev/null
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods RX1 --name 'City Hospital' --type hospital \
    --endpoint "$RX_EP" >/dev/null
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods FA001 --name 'High St Pharmacy' \
    --type pharmacy >/dev/null
for k in gp gpr rx rxc rxe aud pa pb; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
client() { # client ID ORG KEY ROLES
    "$CTL" admin client add --token "$ADMIN_TOKEN" --id "$1" --org "$2" --key "$E2E_TMP/$3.key" \
        --roles "$4" >/dev/null
}
client gp-en A81001 gp enroller
client gp-req A81001 gpr requester,custodian
client rx-req RX1 rx requester
client rx-cust RX1 rxc custodian
client rx-em RX1 rxe emergency
client aud-1 A81001 aud auditor
GP=$("$CTL" client token --id gp-en --key "$E2E_TMP/gp.key" --scope enrol)
AUD=$("$CTL" client token --id aud-1 --key "$E2E_TMP/aud.key" --scope audit)
GPC=$("$CTL" client token --id gp-req --key "$E2E_TMP/gpr.key" --scope pointers)
RXC=$("$CTL" client token --id rx-cust --key "$E2E_TMP/rxc.key" --scope "pointers introspect")
enrol() { # enrol NHS KEY TOKEN
    local code
    code=$("$CTL" patient code --nhs "$1" --token "$3" | sed -n 's/^code: //p')
    "$CTL" patient enrol --nhs "$1" --code "$code" --key "$E2E_TMP/$2.key" >/dev/null
}
enrol $NHS_A pa "$GP"
enrol $NHS_B pb "$ADMIN_TOKEN"
PA=$("$CTL" patient token --nhs $NHS_A --key "$E2E_TMP/pa.key")
PB=$("$CTL" patient token --nhs $NHS_B --key "$E2E_TMP/pb.key")
pointer() { # pointer TOKEN NHS CATEGORY CODE DISPLAY URL
    curl -s -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d "{\"nhs\":\"$2\",\"category\":\"$3\",\"type\":{\"system\":\"http://snomed.info/sct\",\"code\":\"$4\",\"display\":\"$5\"},\"url\":\"$6\",\"content_type\":\"application/pdf\"}" \
        "$ISS/v1/pointers" | jq -r .id
}
P_GP=$(pointer "$GPC" $NHS_A gp-record 824321000000109 'Summary record' "$GP_EP/summary")
P_MED=$(pointer "$RXC" $NHS_A medications 721912009 'Medication summary document' "$RX_EP/meds")
check "two custodians publish pointers for A (gp-record, medications)" \
    bash -c "[ ${#P_GP} = 22 ] && [ ${#P_MED} = 22 ]"
G1=$("$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT \
    --datatypes gp-record --until 2030-01-01 | jq -r .jti)
check "A grants the hospital RX1 her GP record for TREAT" test -n "$G1"

# token ID KEY AD [curl args…]: POST /oauth2/token with authorization_details; status printed,
# body in $E2E_TMP/t.
token() {
    local id=$1 key=$2 ad=$3
    shift 3
    curl -s -o "$E2E_TMP/t" -w '%{http_code}' -d grant_type=client_credentials \
        -d "client_assertion_type=$CA_TYPE" \
        --data-urlencode "client_assertion=$("$CTL" client assertion --id "$id" \
            --key "$E2E_TMP/$key.key" --aud "$ISS/oauth2/token")" \
        --data-urlencode "authorization_details=$ad" -D "$E2E_TMP/th" "$@" "$ISS/oauth2/token"
}
ad() { # ad NHS PURPOSE DATATYPES_JSON [EXTRA_MEMBERS]
    echo "[{\"type\":\"care-record-access\",\"identifier\":\"$1\",\"purpose\":\"$2\",\"datatypes\":$3,\"actions\":[\"read\"]${4:+,$4}}]"
}
claims() { cut -d. -f2 <<<"$1" | tr '_-' '/+' | base64 -d 2>/dev/null; }
padclaims() { local p; p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+'); while [ $((${#p} % 4)) != 0 ]; do p="$p="; done; base64 -d <<<"$p"; }

# --- permitted by an explicit grant ---------------------------------------------------
before=$(checkpoint_size)
st=$(token rx-req rx "$(ad $NHS_A TREAT '["gp-record"]')")
T1=$(jq -r .access_token "$E2E_TMP/t")
C1=$(padclaims "$T1")
check "explicit grant: 200 with an at+jwt, Cache-Control no-store, details echoed with the grant" \
    bash -c "[ $st = 200 ] && grep -qi '^cache-control: no-store' '$E2E_TMP/th' &&
        jq -e '.token_type == \"Bearer\" and .expires_in == 300 and .authorization_details[0].grants == [{jti: \"$G1\", log_index: .authorization_details[0].grants[0].log_index}]' '$E2E_TMP/t' >/dev/null"
check "the token's claims: log_index of a new entry, aud = issuer + the GP record's custodian, IHE claims" \
    jqt --arg iss "$ISS" --arg gp "$GP_EP" --arg g "$G1" --argjson b "$before" \
    '.log_index == $b and .aud == [$iss, $gp] and .sub == "rx-req" and .client_id == "rx-req" and
     .scope == "care-record-access" and .exp - .iat == 300 and
     .extensions.ihe_iua.purpose_of_use.code == "TREAT" and .extensions.ihe_pcf.doc_id == [$g] and
     .authorization_details[0].identifier == "'$NHS_A'"' <<<"$C1"
IDX1=$(jq -r .log_index <<<"$C1")
JTI1=$(jq -r .jti <<<"$C1")
curl -s -H "Authorization: Bearer $AUD" "$ISS/log/entries?start=$IDX1&end=$((IDX1 + 1))" |
    jq -r '.entries[0]' | base64 -d >"$E2E_TMP/e1"
check "the access entry is durable at the token's log_index, with its jti, grants and aud" \
    jqt --arg jti "$JTI1" --arg g "$G1" --arg gp "$GP_EP" \
    '.type == "access" and .jti == $jti and .client_id == "rx-req" and .org == "RX1" and
     .nhs == "'$NHS_A'" and .purpose == "TREAT" and .datatypes == ["gp-record"] and
     .grants[0].jti == $g and .aud[1] == $gp and .exp - .iat == 300' "$E2E_TMP/e1"
check "the checkpoint covers it" bash -c "[ $(checkpoint_size) -gt $IDX1 ]"

# --- the implied rule --------------------------------------------------------------------
st=$(token gp-req gpr "$(ad $NHS_A TREAT '["gp-record"]')")
T2=$(jq -r .access_token "$E2E_TMP/t")
check "implied: the practice that enrolled A reads her GP record for TREAT (rule named)" \
    bash -c "[ $st = 200 ] && jq -e '.authorization_details[0].grants == [{rule: \"implied\"}]' '$E2E_TMP/t' >/dev/null"

# --- refusals ------------------------------------------------------------------------------
# refused NAME STATUS ERROR DESC_PART ID KEY AD [curl args]: the error, and the log unchanged.
refused() {
    local name=$1 status=$2 error=$3 part=$4 id=$5 key=$6 a=$7 before after st
    shift 7
    before=$(checkpoint_size)
    st=$(token "$id" "$key" "$a" "$@")
    after=$(checkpoint_size)
    if [ "$st" = "$status" ] && [ "$before" = "$after" ] &&
        jq -e --arg e "$error" --arg p "$part" '.error == $e and (.error_description | contains($p))' \
            "$E2E_TMP/t" >/dev/null; then
        ok "$name → $status $error"
    else
        fail "$name → wanted $status $error ($part), got $st $(head -c 300 "$E2E_TMP/t") (size $before→$after)"
    fi
}
refused "no consent for medications" 400 access_denied "$DENIED" rx-req rx "$(ad $NHS_A TREAT '["medications"]')"
check "the refusal says nothing of what the person decided" \
    jqt --arg d "$DENIED" '.error_description == $d' "$E2E_TMP/t"
refused "a sensitive category, even for the enrolling practice" 400 access_denied "$DENIED" \
    gp-req gpr "$(ad $NHS_A TREAT '["mental-health"]')"
refused "another purpose than the grant's" 400 access_denied "$DENIED" rx-req rx "$(ad $NHS_A CAREMGT '["gp-record"]')"
refused "a person not enrolled" 400 access_denied "$DENIED" rx-req rx "$(ad 4010232137 TREAT '["gp-record"]')"
refused "an unknown type" 400 invalid_authorization_details '"care-record-access"' rx-req rx \
    '[{"type":"payment","identifier":"'$NHS_A'","purpose":"TREAT","datatypes":["gp-record"]}]'
refused "an unknown purpose" 400 invalid_authorization_details 'purpose' rx-req rx "$(ad $NHS_A SHOPPING '["gp-record"]')"
refused "an unknown category" 400 invalid_authorization_details 'datatypes[0]' rx-req rx "$(ad $NHS_A TREAT '["horoscope"]')"
refused "a category twice" 400 invalid_authorization_details 'twice' rx-req rx "$(ad $NHS_A TREAT '["gp-record","gp-record"]')"
refused "a bad NHS number" 400 invalid_authorization_details 'Modulus 11' rx-req rx "$(ad 9434765918 TREAT '["gp-record"]')"
refused "an unknown member" 400 invalid_authorization_details '"colour"' rx-req rx "$(ad $NHS_A TREAT '["gp-record"]' '"colour":"red"')"
refused "a duplicate member" 400 invalid_authorization_details 'duplicate' rx-req rx \
    '[{"type":"care-record-access","type":"care-record-access","identifier":"'$NHS_A'","purpose":"TREAT","datatypes":["gp-record"]}]'
refused "not an array" 400 invalid_authorization_details 'JSON array' rx-req rx '{"type":"care-record-access"}'
refused "an array smuggling a member" 400 invalid_authorization_details 'JSON array' rx-req rx '[],"x":[]'
refused "an empty array" 400 invalid_authorization_details '1 to 8' rx-req rx '[]'
nine=$(jq -nc --arg n $NHS_A '[range(9) | {type:"care-record-access",identifier:$n,purpose:"TREAT",datatypes:["gp-record"]}]')
refused "nine objects" 400 invalid_authorization_details '1 to 8' rx-req rx "$nine"
refused "actions other than read" 400 invalid_authorization_details 'actions' rx-req rx \
    '[{"type":"care-record-access","identifier":"'$NHS_A'","purpose":"TREAT","datatypes":["gp-record"],"actions":["write"]}]'
refused "two people in one request" 400 invalid_authorization_details 'one person' rx-req rx \
    "[$(ad $NHS_A TREAT '["gp-record"]' | jq -c '.[0]'),$(ad $NHS_B TREAT '["gp-record"]' | jq -c '.[0]')]"
refused "a location that is no custodian's endpoint" 400 invalid_authorization_details 'locations' \
    rx-req rx "$(ad $NHS_A TREAT '["gp-record"]' '"locations":["https://evil.example/fhir"]')"
refused "break-glass by a client without the emergency role" 400 unauthorized_client 'emergency' \
    rx-req rx "$(ad $NHS_A TREAT '["medications"]' '"break_glass":{"reason":"collapsed"}')"
refused "an emergency client asking without break_glass" 400 unauthorized_client 'requester' \
    rx-em rxe "$(ad $NHS_A TREAT '["medications"]')"
refused "break-glass without a reason" 400 invalid_authorization_details 'reason' rx-em rxe \
    "$(ad $NHS_A TREAT '["medications"]' '"break_glass":{}')"
refused "a client without the requester role" 400 unauthorized_client 'requester' rx-cust rxc \
    "$(ad $NHS_A TREAT '["gp-record"]')"
refused "scope with authorization_details" 400 invalid_request 'either scope' rx-req rx \
    "$(ad $NHS_A TREAT '["gp-record"]')" -d scope=pointers

st=$(token rx-req rx "$(ad $NHS_A TREAT '["gp-record"]' "\"locations\":[\"$GP_EP\"]")")
check "locations naming a registered custodian's endpoint: aud is exactly that" \
    bash -c "[ $st = 200 ] && jq -r .access_token '$E2E_TMP/t' | cut -d. -f2 | tr '_-' '/+' |
        { read -r p; while [ \$((\${#p} % 4)) != 0 ]; do p=\"\$p=\"; done; base64 -d <<<\"\$p\"; } |
        jq -e '.aud == [\"$ISS\", \"$GP_EP\"] and .authorization_details[0].locations == [\"$GP_EP\"]' >/dev/null"

# --- break-glass: no consent for medications, an emergency client with a reason ------------
before=$(checkpoint_size)
st=$(token rx-em rxe "$(ad $NHS_A ETREAT '["medications"]' '"break_glass":{"reason":"unconscious in A&E, no carer present"}')")
TBG=$(jq -r .access_token "$E2E_TMP/t")
CBG=$(padclaims "$TBG")
check "break-glass: 200, a 120 s token, purpose BTG, the reason echoed, no grants" \
    bash -c "[ $st = 200 ] && jq -e '.expires_in == 120 and .authorization_details[0].purpose == \"BTG\" and
        .authorization_details[0].break_glass.reason == \"unconscious in A&E, no carer present\" and
        (.authorization_details[0] | has(\"grants\") | not)' '$E2E_TMP/t' >/dev/null"
check "the break-glass token's claims: IHE purpose of use BTG, no consents named, its entry" \
    jqt --argjson b "$before" '.log_index == $b and .exp - .iat == 120 and
        .extensions.ihe_iua.purpose_of_use.code == "BTG" and .extensions.ihe_pcf.doc_id == []' <<<"$CBG"
curl -s -H "Authorization: Bearer $AUD" "$ISS/log/entries?start=$before&end=$((before + 1))" |
    jq -r '.entries[0]' | base64 -d >"$E2E_TMP/ebg"
check "the access entry is flagged break-glass, with the reason and purpose BTG" \
    jqt '.type == "access" and .purpose == "BTG" and .client_id == "rx-em" and
        .break_glass == {reason: "unconscious in A&E, no carer present"} and (has("grants") | not)' \
    "$E2E_TMP/ebg"

# --- the record holder verifies offline (jose) ---------------------------------------------
if command -v node >/dev/null && [ -d tests/e2e/node_modules/jose ]; then
    while IFS= read -r line; do
        case $line in
        ok\ *) ok "node: ${line#ok }" ;;
        *) fail "node: ${line#FAIL }" ;;
        esac
    done < <(node tests/e2e/resource-server.mjs "$ISS" "$T1" "$GP_EP" "$RX_EP" 2>&1)
else
    fail "node and tests/e2e/node_modules are needed (make e2e runs npm ci)"
fi

# --- introspection -----------------------------------------------------------------------
introspect() { # introspect TOKEN [curl args]: as rx-cust with a client assertion
    curl -s -o "$E2E_TMP/i" -w '%{http_code}' -d "client_assertion_type=$CA_TYPE" \
        --data-urlencode "client_assertion=$("$CTL" client assertion --id rx-cust \
            --key "$E2E_TMP/rxc.key" --aud "$ISS/oauth2/token")" \
        --data-urlencode "token=$1" "$ISS/oauth2/introspect"
}
st=$(introspect "$T1")
check "introspection of a live token: active with its claims and the patient" \
    bash -c "[ $st = 200 ] && jq -e '.active == true and .client_id == \"rx-req\" and .patient == \"$NHS_A\" and .log_index == $IDX1 and .scope == \"care-record-access\" and (.exp|type) == \"number\"' '$E2E_TMP/i' >/dev/null"
st=$(curl -s -o "$E2E_TMP/i" -w '%{http_code}' -H "Authorization: Bearer $RXC" \
    --data-urlencode "token=$T1" "$ISS/oauth2/introspect")
check "introspection with a custodian's bearer token (scope introspect) too" \
    bash -c "[ $st = 200 ] && jq -e '.active == true' '$E2E_TMP/i' >/dev/null"
st=$(introspect "$TBG")
check "the break-glass token introspects as active, purpose BTG" \
    bash -c "[ $st = 200 ] && jq -e '.active == true and .authorization_details[0].purpose == \"BTG\"' '$E2E_TMP/i' >/dev/null"
TAMPERED="${T1%.*}.$(cut -d. -f3 <<<"$T1" | tr 'A-Za-z' 'B-ZAb-za')"
st=$(introspect "$TAMPERED")
check "a tampered token is inactive" bash -c "[ $st = 200 ] && jq -e '. == {active:false}' '$E2E_TMP/i' >/dev/null"
st=$(introspect "not-a-token")
check "garbage is inactive" bash -c "[ $st = 200 ] && jq -e '. == {active:false}' '$E2E_TMP/i' >/dev/null"
st=$(introspect "$RXC")
check "consentd's own client token is not a records token: inactive" \
    bash -c "[ $st = 200 ] && jq -e '.active == false' '$E2E_TMP/i' >/dev/null"
st=$(curl -s -o "$E2E_TMP/i" -w '%{http_code}' -d "client_assertion_type=$CA_TYPE" \
    --data-urlencode "client_assertion=$("$CTL" client assertion --id rx-req --key "$E2E_TMP/rx.key" --aud "$ISS/oauth2/token")" \
    --data-urlencode "token=$T1" "$ISS/oauth2/introspect")
check "a requester (not a custodian) may not introspect" \
    bash -c "[ $st = 400 ] && jq -e '.error == \"unauthorized_client\"' '$E2E_TMP/i' >/dev/null"
A=$("$CTL" client assertion --id rx-cust --key "$E2E_TMP/rxc.key" --aud "$ISS/oauth2/token")
curl -s -o /dev/null -d "client_assertion_type=$CA_TYPE" --data-urlencode "client_assertion=$A" \
    --data-urlencode "token=$T1" "$ISS/oauth2/introspect"
st=$(curl -s -o "$E2E_TMP/i" -w '%{http_code}' -d "client_assertion_type=$CA_TYPE" \
    --data-urlencode "client_assertion=$A" --data-urlencode "token=$T1" "$ISS/oauth2/introspect")
check "a replayed client assertion is refused at introspection (401 invalid_client)" \
    bash -c "[ $st = 401 ] && jq -e '.error == \"invalid_client\"' '$E2E_TMP/i' >/dev/null"

# --- the FHIR search ------------------------------------------------------------------------
search() { # search TOKEN NHS
    curl -s -o "$E2E_TMP/s" -w '%{http_code}' -H "Authorization: Bearer $1" \
        "$ISS/fhir/DocumentReference?subject%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C$2"
}
st=$(search "$T1" $NHS_A)
check "DocumentReference search: the gp-record pointer only, total 1 (medications not hinted)" \
    bash -c "[ $st = 200 ] && jq -e '.resourceType == \"Bundle\" and .type == \"searchset\" and .total == 1 and (.entry|length) == 1 and .entry[0].resource.id == \"$P_GP\" and .entry[0].resource.custodian.identifier.value == \"A81001\" and .entry[0].search.mode == \"match\"' '$E2E_TMP/s' >/dev/null"
st=$(search "$T1" $NHS_B)
check "searching another person with it: 403 OperationOutcome" \
    bash -c "[ $st = 403 ] && jq -e '.resourceType == \"OperationOutcome\"' '$E2E_TMP/s' >/dev/null"
st=$(search "$RXC" $NHS_A)
check "consentd's own client token does not open the search: 401" test "$st" = 401
st=$(search "$TAMPERED" $NHS_A)
check "a tampered token does not open the search: 401" test "$st" = 401
st=$(search "$TBG" $NHS_A)
check "the break-glass token finds the medications pointer only" \
    bash -c "[ $st = 200 ] && jq -e '(.entry|length) == 1 and .entry[0].resource.id == \"$P_MED\"' '$E2E_TMP/s' >/dev/null"

# --- a grant revoked: the next token refused, the earlier one inactive ----------------------
"$CTL" consent revoke --nhs $NHS_A --key "$E2E_TMP/pa.key" --jti "$G1" >/dev/null
refused "after the grant's revocation, the next request" 400 access_denied "$DENIED" \
    rx-req rx "$(ad $NHS_A TREAT '["gp-record"]')"
st=$(introspect "$T1")
check "the earlier token now introspects as inactive" \
    bash -c "[ $st = 200 ] && jq -e '. == {active:false}' '$E2E_TMP/i' >/dev/null"
st=$(search "$T1" $NHS_A)
check "and no longer opens the search (401)" test "$st" = 401

# --- RFC 7009 revocation --------------------------------------------------------------------
revoke() { # revoke ID KEY TOKEN
    curl -s -o "$E2E_TMP/r" -w '%{http_code}' -d "client_assertion_type=$CA_TYPE" \
        --data-urlencode "client_assertion=$("$CTL" client assertion --id "$1" \
            --key "$E2E_TMP/$2.key" --aud "$ISS/oauth2/token")" \
        --data-urlencode "token=$3" "$ISS/oauth2/revoke"
}
st=$(introspect "$T2")
check "the implied-rule token is active before it is revoked" jqt '.active == true' "$E2E_TMP/i"
st=$(revoke rx-req rx "$T2")
check "a client may not revoke another client's token (400 unauthorized_client)" \
    bash -c "[ $st = 400 ] && jq -e '.error == \"unauthorized_client\"' '$E2E_TMP/r' >/dev/null"
before=$(checkpoint_size)
st=$(revoke gp-req gpr "$T2")
check "the client revokes its own token: 200, and the log does not grow" \
    bash -c "[ $st = 200 ] && [ $before = $(checkpoint_size) ]"
st=$(introspect "$T2")
check "the revoked token introspects as inactive" jqt '. == {active:false}' "$E2E_TMP/i"
st=$(search "$T2" $NHS_A)
check "and no longer opens the search (401)" test "$st" = 401
st=$(revoke gp-req gpr "not-a-token")
check "revoking an unknown token is 200 too" test "$st" = 200

# --- the person's access history ------------------------------------------------------------
st=$(curl -s -o "$E2E_TMP/h" -w '%{http_code}' -H "Authorization: Bearer $PA" "$ISS/v1/patients/$NHS_A/access")
check "A sees the break-glass access first, then every other access, newest first" \
    bash -c "[ $st = 200 ] && jq -e '(.access|length) == 4 and .access[0].break_glass.reason == \"unconscious in A&E, no carer present\" and .access[0].purpose == \"BTG\" and ([.access[1:][].log_index] | . == (sort|reverse)) and .access[0].log_index > .access[1].log_index and .access[3].log_index == $IDX1 and .access[3].jti == \"$JTI1\" and .access[3].client_id == \"rx-req\" and .access[2].grants == [{rule:\"implied\"}]' '$E2E_TMP/h' >/dev/null"
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PB" "$ISS/v1/patients/$NHS_A/access")
check "another person may not read A's accesses (403)" test "$st" = 403
st=$(curl -s -o "$E2E_TMP/h" -w '%{http_code}' -H "Authorization: Bearer $AUD" "$ISS/v1/patients/$NHS_A/access")
check "an auditor may (200)" bash -c "[ $st = 200 ] && jq -e '(.access|length) == 4' '$E2E_TMP/h' >/dev/null"
st=$(curl -s -o "$E2E_TMP/h" -w '%{http_code}' -H "Authorization: Bearer $PB" "$ISS/v1/patients/$NHS_B/access")
check "a person with no accesses gets an empty list" \
    bash -c "[ $st = 200 ] && jq -e '.access == []' '$E2E_TMP/h' >/dev/null"

# --- metadata, the request log, and a replay ----------------------------------------------
curl -s "$ISS/.well-known/oauth-authorization-server" >"$E2E_TMP/md"
check "metadata names the introspection and revocation endpoints and the details type" \
    jqt --arg iss "$ISS" '.introspection_endpoint == "\($iss)/oauth2/introspect" and
        .revocation_endpoint == "\($iss)/oauth2/revoke" and
        .authorization_details_types_supported == ["care-record-access"]' "$E2E_TMP/md"
# Token ids sort by issue (the access table's inserts land on its last page): the two above and
# five more in a row, most of them within one second.
jtis=("$JTI1" "$(padclaims "$T2" | jq -r .jti)")
for _ in 1 2 3 4 5; do
    token gp-req gpr "$(ad $NHS_A TREAT '["gp-record"]')" >/dev/null
    jtis+=("$(padclaims "$(jq -r .access_token "$E2E_TMP/t")" | jq -r .jti)")
done
check "token ids are 32 hex digits that sort in the order the tokens were issued" \
    bash -c "printf '%s\n' ${jtis[*]} | grep -cE '^[0-9a-f]{32}$' | grep -qx 7 &&
        [ \"\$(printf '%s\n' ${jtis[*]})\" = \"\$(printf '%s\n' ${jtis[*]} | LC_ALL=C sort)\" ]"
check "the server log never holds a token or an NHS number" \
    bash -c "! grep -q -e '$NHS_A' -e '${T1:0:40}' -e '${T2:0:40}' '$E2E_TMP/server.log'"
H1=$(printf %s "$JTI1" | sha256sum | cut -c1-16)
check "every request-log line carries the decision, who, the hashed token id and the reason" \
    bash -c "grep '^{\"time' '$E2E_TMP/server.log' | jq -se 'length > 50 and all(has(\"decision\") and has(\"who\") and has(\"token\") and has(\"reason\"))' >/dev/null"
check "the token's issuance is logged as allow, naming the client and the token's hashed id" \
    grep -q "\"decision\":\"allow\",\"who\":\"rx-req\",\"token\":\"$H1\"" "$E2E_TMP/server.log"
check "each refusal is logged as deny with its error code" \
    bash -c "grep '\"path\":\"/oauth2/token\"' '$E2E_TMP/server.log' | jq -se '(map(select(.decision == \"deny\" and .reason == \"access_denied\" and .who == \"rx-req\")) | length) >= 4 and (map(select(.reason == \"invalid_authorization_details\")) | length) >= 15' >/dev/null"
check "server stops cleanly" stop_server
"$CONSENTD" serve --data "$DATA" --rebuild >"$E2E_TMP/rebuild" 2>&1
rc=$?
check "serve --rebuild replays the access entries into the same state" test "$rc" = 0

summary
