#!/usr/bin/env bash
# FHIR Consent over HTTP: an enroller posts a Consent a patient gave on paper (201, Location, the
# stored resource), GET /fhir/Consent shows it to the person and to an auditor as a searchset
# Bundle (validated against HL7's R4 schema and invariants by fhir-validate.mjs), another
# person's token is refused, every malformed request is an OperationOutcome naming what is at
# fault and appends nothing, a decision permits per the paper consent, and the person's own
# signed revocation ends it.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

NHS_A=9434765919
NHS_B=9434765870
NHS_D=9990548609
NHS_SYS=https://fhir.nhs.uk/Id/nhs-number
DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
VALIDATE="node tests/e2e/fhir-validate.mjs"

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init" test -n "$ADMIN_TOKEN"
check "server starts" start_server "$DATA"
export CONSENTD_URL=$ISS
CTL=$CONSENTCTL
ADMIN=(-H "Authorization: Bearer $ADMIN_TOKEN")

"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice >/dev/null
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods RX1 --name 'City Hospital' --type hospital >/dev/null
for k in gp aud pa pb; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
"$CTL" admin client add --token "$ADMIN_TOKEN" --id gp-1 --org A81001 --key "$E2E_TMP/gp.key" \
    --roles enroller >/dev/null
"$CTL" admin client add --token "$ADMIN_TOKEN" --id aud-1 --org A81001 --key "$E2E_TMP/aud.key" \
    --roles auditor >/dev/null
GP=$("$CTL" client token --id gp-1 --key "$E2E_TMP/gp.key" --scope enrol)
AUD=$("$CTL" client token --id aud-1 --key "$E2E_TMP/aud.key" --scope audit)
enrol() { # enrol NHS KEY TOKEN
    local code
    code=$("$CTL" patient code --nhs "$1" --token "$3" | sed -n 's/^code: //p')
    "$CTL" patient enrol --nhs "$1" --code "$code" --key "$E2E_TMP/$2.key" >/dev/null
}
enrol $NHS_A pa "$GP"
enrol $NHS_B pb "$ADMIN_TOKEN"
PA=$("$CTL" patient token --nhs $NHS_A --key "$E2E_TMP/pa.key")
PB=$("$CTL" patient token --nhs $NHS_B --key "$E2E_TMP/pb.key")
check "an enroller, an auditor and two people, with tokens" \
    bash -c "[ -n '$GP' ] && [ -n '$AUD' ] && [ -n '$PA' ] && [ -n '$PB' ]"
jqt() { jq -e "$@" >/dev/null; }

# A Consent as an enroller takes it on paper: A lets City Hospital read test results to treat.
consent() { # consent NHS: the paper Consent for NHS
    jq -nc --arg nhs "$1" --arg sys "$NHS_SYS" '{resourceType:"Consent",status:"active",
  scope:{coding:[{system:"http://terminology.hl7.org/CodeSystem/consentscope",code:"patient-privacy"}]},
  category:[{coding:[{system:"http://loinc.org",code:"59284-0"}]}],
  patient:{identifier:{system:$sys,value:$nhs}},
  dateTime:"2026-01-20T14:05:00+00:00",
  policyRule:{coding:[{system:"http://terminology.hl7.org/CodeSystem/v3-ActCode",code:"OPTIN"}]},
  provision:{type:"permit",period:{start:"2026-01-01T00:00:00Z",end:"2030-01-01T00:00:00Z"},
    actor:[{role:{coding:[{system:"http://terminology.hl7.org/CodeSystem/v3-ParticipationType",code:"IRCP"}]},
      reference:{identifier:{system:"https://fhir.nhs.uk/Id/ods-organization-code",value:"RX1"}}}],
    action:[{coding:[{system:"http://terminology.hl7.org/CodeSystem/consentaction",code:"access"}]}],
    purpose:[{system:"http://terminology.hl7.org/CodeSystem/v3-ActReason",code:"TREAT"}],
    class:[{system:"https://consentd.example/fhir/CodeSystem/data-category",code:"test-results"}]}}'
}
# post TOKEN BODY [CONTENT_TYPE]: POST /fhir/Consent; status printed, body in $E2E_TMP/r,
# headers in $E2E_TMP/h.
post() {
    curl -s -o "$E2E_TMP/r" -D "$E2E_TMP/h" -w '%{http_code}' -H "Authorization: Bearer $1" \
        -H "Content-Type: ${3:-application/fhir+json}" --data-binary "$2" "$ISS/fhir/Consent"
}
# search TOKEN QUERY: GET /fhir/Consent?QUERY; status printed, body in $E2E_TMP/s.
search() {
    curl -s -o "$E2E_TMP/s" -D "$E2E_TMP/sh" -w '%{http_code}' -H "Authorization: Bearer $1" \
        "$ISS/fhir/Consent?$2"
}
fhir_json() { grep -qi '^content-type: application/fhir+json' "$1"; }
# oo NAME STATUS CODE EXPR GOT FILE: an OperationOutcome of this status, issue code and expression.
oo() {
    local name=$1 status=$2 code=$3 expr=$4 got=$5 file=$6
    if [ "$got" = "$status" ] && jq -e --arg c "$code" --arg e "$expr" \
        '.resourceType == "OperationOutcome" and .issue[0].severity == "error" and
         .issue[0].code == $c and (.issue[0].diagnostics|length) > 10 and
         (if $e == "" then .issue[0].expression == null else .issue[0].expression == [$e] end)' \
        "$file" >/dev/null; then
        ok "$name → $status $code${expr:+ at $expr}"
    else
        fail "$name → wanted $status $code $expr, got $got $(head -c 300 "$file")"
    fi
}
Q_A="patient%3Aidentifier=${NHS_SYS}%7C$NHS_A"

# --- before: a decision refuses, and the person has one signed grant ----------------------
decide() { # decide ORG NHS PURPOSE DATATYPES_JSON: answer in $E2E_TMP/d
    curl -s -o "$E2E_TMP/d" -w '%{http_code}' "${ADMIN[@]}" -H 'Content-Type: application/json' \
        -d "{\"org\":\"$1\",\"nhs\":\"$2\",\"purpose\":\"$3\",\"datatypes\":$4}" "$ISS/v1/decisions"
}
decide RX1 $NHS_A TREAT '["test-results"]' >/dev/null
check "without consent City Hospital may not read A's test results" jqt '.decision == "deny"' "$E2E_TMP/d"
out=$("$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT \
    --datatypes gp-record --until 2030-01-01)
G_SIGNED=$(jq -r .jti <<<"$out")
check "A signs a grant of their own" test -n "$G_SIGNED"

# --- POST /fhir/Consent -------------------------------------------------------------------
before=$(checkpoint_size)
st=$(post "$GP" "$(consent $NHS_A)")
check "the enroller posts A's paper Consent: 201 as application/fhir+json" \
    bash -c "[ $st = 201 ] && grep -qi '^content-type: application/fhir+json' '$E2E_TMP/h'"
cp "$E2E_TMP/r" "$E2E_TMP/created.json"
G_PAPER=$(jq -r '.identifier[0].value' "$E2E_TMP/created.json")
ID=$(jq -r .id "$E2E_TMP/created.json")
check "the answer is the stored Consent: a server-made id, source paper, the enroller, the log index" \
    jqt --arg cid gp-1 --argjson i "$before" '.resourceType == "Consent" and .status == "active" and
        (.identifier[0].value|length) == 22 and
        .patient.identifier.value == "'$NHS_A'" and .provision.actor[0].reference.identifier.value == "RX1" and
        ([.extension[0].extension[] | {(.url): (.valueCode // .valueIdentifier.value // .valueDecimal)}] | add) ==
            {source: "paper", signer: $cid, logIndex: $i}' "$E2E_TMP/created.json"
check "Location names the new resource" \
    grep -qi "^location: $ISS/fhir/Consent/$ID"$'\r'"\?$" "$E2E_TMP/h"
check "the log grew by one paper consent entry (no signature, by the enroller)" \
    bash -c "[ \$(curl -sf '$ISS/log/checkpoint' | sed -n 2p) = $((before + 1)) ] &&
        curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' '$ISS/log/entries?start=$before&end=$((before + 1))' |
        jq -r '.entries[0]' | base64 -d | jq -e '.type == \"consent\" and .by == \"gp-1\" and
            (keys == [\"by\",\"paper\",\"time\",\"type\",\"v\"]) and .paper.sub == \"$NHS_A\" and
            .paper.grantee == {org: \"RX1\"} and .paper.datatypes == [\"test-results\"]' >/dev/null"
$VALIDATE "$E2E_TMP/created.json" >"$E2E_TMP/v0" 2>&1
check "the created Consent is valid R4 (fhir-validate.mjs)" test $? -eq 0

# --- refusals: OperationOutcomes, nothing appended ----------------------------------------
before=$(checkpoint_size)
st=$(post "$GP" "$(consent $NHS_A | jq -c '.provision.purpose[0].code = "HMARKT"')")
oo "a purpose the policy does not know" 400 invalid "Consent.provision.purpose[0]" "$st" "$E2E_TMP/r"
st=$(post "$GP" "$(consent $NHS_A | jq -c '.colour = "blue"')")
oo "an element R4 Consent does not have" 400 invalid "Consent.colour" "$st" "$E2E_TMP/r"
st=$(post "$GP" "$(consent $NHS_A | jq -c '.provision.provision = [{type:"deny"}]')")
oo "a nested provision" 400 invalid "Consent.provision.provision" "$st" "$E2E_TMP/r"
st=$(post "$GP" "$(consent $NHS_D)")
oo "a patient who is not enrolled" 422 business-rule "Consent.patient.identifier" "$st" "$E2E_TMP/r"
st=$(post "$GP" '{"resourceType":')
oo "a body that is not JSON" 400 structure "" "$st" "$E2E_TMP/r"
st=$(post "$GP" "$(consent $NHS_A)" text/plain)
oo "a body that is not FHIR JSON" 415 not-supported "" "$st" "$E2E_TMP/r"
st=$(post "$PA" "$(consent $NHS_A)")
oo "a person's own token" 403 forbidden "" "$st" "$E2E_TMP/r"
st=$(post "$AUD" "$(consent $NHS_A)")
oo "an auditor's token" 403 forbidden "" "$st" "$E2E_TMP/r"
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/fhir+json' \
    --data-binary "$(consent $NHS_A)" "$ISS/fhir/Consent")
check "no token: 401" test "$st" = 401
check "nothing was appended by any refusal" test "$(checkpoint_size)" = "$before"

# --- GET /fhir/Consent --------------------------------------------------------------------
st=$(search "$PA" "$Q_A")
check "A searches their own grants: 200 as application/fhir+json" \
    bash -c "[ $st = 200 ] && grep -qi '^content-type: application/fhir+json' '$E2E_TMP/sh'"
check "a searchset Bundle of both grants, newest (the paper one) first" \
    jqt --arg p "$G_PAPER" --arg s "$G_SIGNED" '.resourceType == "Bundle" and .type == "searchset" and
        .total == 2 and (.entry|length) == 2 and .entry[0].resource.identifier[0].value == $p and
        .entry[1].resource.identifier[0].value == $s and
        .entry[0].resource.extension[0].extension[0].valueCode == "paper" and
        .entry[1].resource.extension[0].extension[0].valueCode == "patient" and
        ([.entry[].search.mode] | unique) == ["match"] and
        (.link[0].url | endswith("/fhir/Consent?patient:identifier='$NHS_SYS'|'$NHS_A'"))' "$E2E_TMP/s"
check "the Bundle's paper Consent is the one POST answered" \
    bash -c "jq -S '.entry[0].resource' '$E2E_TMP/s' | cmp -s - <(jq -S . '$E2E_TMP/created.json')"
cp "$E2E_TMP/s" "$E2E_TMP/bundle-person.json"
st=$(search "$AUD" "patient:identifier=${NHS_SYS}|$NHS_A")
check "an auditor sees the same, with the parameter and '|' unencoded (200, total 2)" \
    bash -c "[ $st = 200 ] && jq -e '.total == 2' '$E2E_TMP/s' >/dev/null"
st=$(search "$AUD" "patient%3Aidentifier=$NHS_B")
check "an NHS number alone (any system) works too; B has none (200, total 0, no entry)" \
    bash -c "[ $st = 200 ] && jq -e '.total == 0 and .entry == null' '$E2E_TMP/s' >/dev/null"
cp "$E2E_TMP/s" "$E2E_TMP/bundle-empty.json"
st=$(search "$PB" "$Q_A")
oo "another person's token" 403 forbidden "" "$st" "$E2E_TMP/s"
st=$(search "$GP" "$Q_A")
oo "a client token without scope audit" 403 forbidden "" "$st" "$E2E_TMP/s"
st=$(search "$AUD" "")
oo "no search parameter" 400 required "patient:identifier" "$st" "$E2E_TMP/s"
st=$(search "$AUD" "$Q_A&_count=10")
oo "an unknown parameter" 400 not-supported "_count" "$st" "$E2E_TMP/s"
st=$(search "$AUD" "$Q_A&$Q_A")
oo "a repeated parameter" 400 not-supported "patient:identifier" "$st" "$E2E_TMP/s"
st=$(search "$AUD" "patient%3Aidentifier=${NHS_SYS}%7C9434765918")
oo "an NHS number with a wrong check digit" 400 value "Consent.patient.identifier.value" "$st" "$E2E_TMP/s"
st=$(search "$AUD" "patient%3Aidentifier=https%3A%2F%2Fexample.org%2Fmrn%7C$NHS_A")
oo "another identifier system, never linked" 404 not-found "Consent.patient.identifier" "$st" "$E2E_TMP/s"
st=$(search "$AUD" "patient%3Aidentifier=${NHS_SYS}%7C")
oo "a system without a value" 400 value "Consent.patient.identifier" "$st" "$E2E_TMP/s"
st=$(curl -s -o /dev/null -w '%{http_code}' "$ISS/fhir/Consent?$Q_A")
check "no token: 401" test "$st" = 401

# --- the paper consent decides; the person revokes it --------------------------------------
decide RX1 $NHS_A TREAT '["test-results"]' >/dev/null
check "City Hospital may now read A's test results, per the paper consent" \
    jqt --arg p "$G_PAPER" '.decision == "permit" and .reasons[0].basis == "permit" and .reasons[0].grant.jti == $p' "$E2E_TMP/d"
st=$(curl -s -o "$E2E_TMP/l" -w '%{http_code}' -H "Authorization: Bearer $PA" "$ISS/v1/patients/$NHS_A/consents")
check "GET /v1/patients/{nhs}/consents lists it as source paper, by the enroller" \
    bash -c "[ $st = 200 ] && jq -e '.consents[0].source == \"paper\" and .consents[0].by == \"gp-1\" and
        .consents[1].source == \"patient\" and (.consents[1].by == null)' '$E2E_TMP/l' >/dev/null"
out=$("$CTL" consent revoke --nhs $NHS_B --key "$E2E_TMP/pb.key" --jti "$G_PAPER" 2>&1)
check "another person cannot revoke it" bash -c "! jq -e .log_index <<<'$out' >/dev/null 2>&1"
out=$("$CTL" consent revoke --nhs $NHS_A --key "$E2E_TMP/pa.key" --jti "$G_PAPER")
check "A revokes it with their own signed revocation: 201" jqt '.log_index' <<<"$out"
decide RX1 $NHS_A TREAT '["test-results"]' >/dev/null
check "the next decision refuses again" jqt '.decision == "deny"' "$E2E_TMP/d"
st=$(search "$PA" "$Q_A")
check "GET shows it inactive, with its revocation's log index" \
    bash -c "[ $st = 200 ] && jq -e --arg p '$G_PAPER' '.total == 2 and
        (.entry[] | select(.resource.identifier[0].value == \$p) | .resource.status == \"inactive\" and
         ([.resource.extension[0].extension[].url] | index(\"revocationLogIndex\")) != null) and
        (.entry[] | select(.resource.identifier[0].value != \$p) | .resource.status == \"active\")' '$E2E_TMP/s' >/dev/null"
cp "$E2E_TMP/s" "$E2E_TMP/bundle-revoked.json"
st=$(post "$GP" "$(consent $NHS_B)" application/json)
check "Content-Type application/json is accepted too (201)" test "$st" = 201

# --- the server's real output, checked by HL7's R4 schema and invariants ------------------
out=$($VALIDATE "$E2E_TMP/bundle-person.json" "$E2E_TMP/bundle-revoked.json" \
    "$E2E_TMP/bundle-empty.json" 2>&1)
status=$?
grep -v -E '^e2e: [0-9]+ passed' <<<"$out" | sed 's/^e2e: /    /'
check "GET /fhir/Consent's Bundles are valid R4 (fhir-validate.mjs)" test "$status" -eq 0

check "no NHS number or token is in the server's log" \
    bash -c "! grep -q -- '$NHS_A\|eyJ' '$E2E_TMP/server.log'"
check "server stops cleanly" stop_server
check "a replay of the log rebuilds the same state, the paper consent included" \
    bash -c "\"$CONSENTD\" serve --data '$DATA' --rebuild >'$E2E_TMP/rebuild' 2>&1 && grep -q 'the derived state matches the stored state' '$E2E_TMP/rebuild'"
summary
