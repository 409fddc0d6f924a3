#!/usr/bin/env bash
# The record index: custodians publish pointers (JSON and NRL v3 FHIR DocumentReference),
# supersede and retire their own and nobody else's; a person lists their own pointers and
# nobody else's; every bad pointer is refused with a precise 4xx (OperationOutcome on the FHIR
# endpoint) and appends nothing; a broken policy is reported by serve --check-config.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
NHS_A=9434765919
NHS_B=9434765870
SCT=http://snomed.info/sct

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init" test -n "$ADMIN_TOKEN"

# --- the policy is checked at start-up ---------------------------------------------------
jq '.categories["care-plans"].record_types += [{"code":"736253002","display":"dup"}]' \
    policies/default.json >"$E2E_TMP/dup.json"
"$CONSENTD" serve --data "$DATA" --policy "$E2E_TMP/dup.json" --check-config >"$E2E_TMP/o" 2>&1
check "check-config: a record type in two categories is refused, naming both" \
    bash -c "[ $? != 0 ] && grep -q 'categories.mental-health.record_types: code 736253002 is already covered by category care-plans' '$E2E_TMP/o'"
jq '.categories.imaging.record_types = []' policies/default.json >"$E2E_TMP/empty.json"
"$CONSENTD" serve --data "$DATA" --policy "$E2E_TMP/empty.json" --check-config >"$E2E_TMP/o" 2>&1
check "check-config: an empty record_types list is refused" \
    bash -c "[ $? != 0 ] && grep -q 'categories.imaging.record_types must be a non-empty array' '$E2E_TMP/o'"
jq '.purposes += [{"code":"TREAT","display":"again"}]' policies/default.json >"$E2E_TMP/p.json"
"$CONSENTD" serve --data "$DATA" --policy "$E2E_TMP/p.json" --check-config >"$E2E_TMP/o" 2>&1
check "check-config: a duplicate purpose is refused" \
    bash -c "[ $? != 0 ] && grep -q 'purposes: code TREAT is listed twice' '$E2E_TMP/o'"
jq '.categories.imaging.colour = "blue"' policies/default.json >"$E2E_TMP/u.json"
"$CONSENTD" serve --data "$DATA" --policy "$E2E_TMP/u.json" --check-config >"$E2E_TMP/o" 2>&1
check "check-config: an unknown member is refused" \
    bash -c "[ $? != 0 ] && grep -q 'categories.imaging: unknown member \"colour\"' '$E2E_TMP/o'"
check "check-config: the default policy is OK" \
    bash -c "\"$CONSENTD\" serve --data \"$DATA\" --check-config | grep -qx 'configuration OK'"

check "server starts" start_server "$DATA"
export CONSENTD_URL=$ISS CONSENTD_ADMIN_TOKEN=$ADMIN_TOKEN
CTL=$CONSENTCTL

# --- organisations, clients, people, tokens ----------------------------------------------
"$CTL" admin org add --ods A81001 --name 'Riverside Practice' --type gp-practice >/dev/null
"$CTL" admin org add --ods RX1 --name 'City Hospital' --type hospital >/dev/null
for k in gp hosp aud pa pb; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
"$CTL" admin client add --id gp-1 --org A81001 --key "$E2E_TMP/gp.key" \
    --roles custodian,enroller >/dev/null
"$CTL" admin client add --id hosp-1 --org RX1 --key "$E2E_TMP/hosp.key" --roles custodian \
    >/dev/null
"$CTL" admin client add --id aud-1 --org A81001 --key "$E2E_TMP/aud.key" --roles auditor \
    >/dev/null
GP=$("$CTL" client token --id gp-1 --key "$E2E_TMP/gp.key" --scope pointers)
HOSP=$("$CTL" client token --id hosp-1 --key "$E2E_TMP/hosp.key" --scope pointers)
AUD=$("$CTL" client token --id aud-1 --key "$E2E_TMP/aud.key" --scope audit)
check "client tokens for two custodians and an auditor" \
    bash -c "[ -n '$GP' ] && [ -n '$HOSP' ] && [ -n '$AUD' ]"
for who in a b; do
    nhs=$NHS_A
    [ $who = b ] && nhs=$NHS_B
    code=$("$CTL" patient code --nhs $nhs --token "$ADMIN_TOKEN" | sed -n 's/^code: //p')
    "$CTL" patient enrol --nhs $nhs --code "$code" --key "$E2E_TMP/p$who.key" >/dev/null
done
PA=$("$CTL" patient token --nhs $NHS_A --key "$E2E_TMP/pa.key")
PB=$("$CTL" patient token --nhs $NHS_B --key "$E2E_TMP/pb.key")
check "two people enrolled, each with their own token" bash -c "[ -n '$PA' ] && [ -n '$PB' ]"

# req METHOD PATH TOKEN [BODY [CONTENT-TYPE]]: prints the status; body in $E2E_TMP/body,
# headers in $E2E_TMP/h.
req() {
    local args=(-s -o "$E2E_TMP/body" -D "$E2E_TMP/h" -w '%{http_code}' -X "$1")
    [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
    [ $# -ge 4 ] && args+=(-H "Content-Type: ${5:-application/json}" --data-binary "$4")
    curl "${args[@]}" "$ISS$2"
}
# pointer NHS CATEGORY CODE DISPLAY [URL [CONTENT_TYPE [EXTRA]]]: a POST /v1/pointers body.
pointer() {
    printf '{"nhs":"%s","category":"%s","type":{"system":"%s","code":"%s","display":"%s"},"url":"%s","content_type":"%s"%s}' \
        "$1" "$2" "$SCT" "$3" "$4" "${5:-https://gp.example/fhir/Binary/$RANDOM}" \
        "${6:-application/pdf}" "${7:-}"
}
oo_has() { # oo_has CODE TEXT: an OperationOutcome with that issue code and diagnostics text
    grep -qi '^content-type: application/fhir+json' "$E2E_TMP/h" &&
        jq -e --arg c "$1" --arg s "$2" '.resourceType == "OperationOutcome" and
            .issue[0].severity == "error" and .issue[0].code == $c and
            (.issue[0].diagnostics | contains($s))' "$E2E_TMP/body" >/dev/null
}
size() { checkpoint_size; }
jqt() { jq -e "$@" >/dev/null; } # a quiet jq -e

# --- publish, list -----------------------------------------------------------------------
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 736373009 'End of life care plan' \
    https://gp.example/fhir/Binary/eol)")
check "publish: 201 with a 22-character id and a log_index" \
    bash -c "[ $st = 201 ] && jq -e '(.id | test(\"^[A-Za-z0-9-]{22}\$\")) and (.log_index | type) == \"number\"' '$E2E_TMP/body' >/dev/null"
P1=$(jq -r .id "$E2E_TMP/body")
P1_INDEX=$(jq -r .log_index "$E2E_TMP/body")
st=$(req POST /v1/pointers "$HOSP" "$(pointer $NHS_A mental-health 736253002 'Mental health crisis plan' \
    https://rx1.example/docs/crisis.pdf)")
check "a second custodian publishes a sensitive pointer for the same person" test "$st" = 201
P_HOSP=$(jq -r .id "$E2E_TMP/body")
st=$(req POST /v1/pointers "$HOSP" "$(pointer $NHS_B imaging 4201000179104 'Imaging report')")
check "a pointer for another person" test "$st" = 201

st=$(req GET /v1/patients/$NHS_A/pointers "$PA")
check "the person lists their own pointers (200, both, with every field)" \
    bash -c "[ $st = 200 ] && jq -e --arg p1 '$P1' --arg ph '$P_HOSP' --argjson i $P1_INDEX '
        .nhs == \"$NHS_A\" and (.pointers | length) == 2 and
        (.pointers[] | select(.id == \$p1) | .custodian == \"A81001\" and .category == \"care-plans\"
            and .type == {system: \"$SCT\", code: \"736373009\", display: \"End of life care plan\"}
            and .url == \"https://gp.example/fhir/Binary/eol\" and .content_type == \"application/pdf\"
            and (.created | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\$\")) and .log_index == \$i
            and has(\"supersedes\") == false) and
        (.pointers[] | select(.id == \$ph) | .category == \"mental-health\")' '$E2E_TMP/body' >/dev/null"
check "consentctl patient pointers lists them too" \
    bash -c "\"$CTL\" patient pointers --nhs $NHS_A --token '$PA' | grep -qF -- '$P1'"
st=$(req GET /v1/patients/$NHS_A/pointers "$PB")
check "another person's token is refused (403)" \
    bash -c "[ $st = 403 ] && jq -e '.detail | contains(\"another person\")' '$E2E_TMP/body' >/dev/null"
st=$(req GET /v1/patients/$NHS_A/pointers "$AUD")
check "a token with scope audit lists anyone's pointers" \
    bash -c "[ $st = 200 ] && jq -e '(.pointers | length) == 2' '$E2E_TMP/body' >/dev/null"
st=$(req GET /v1/patients/$NHS_A/pointers "$GP")
check "a custodian's token without scope audit cannot list (403)" test "$st" = 403
st=$(req GET /v1/patients/$NHS_A/pointers "")
check "no token: 401" test "$st" = 401
st=$(req GET /v1/patients/9434765918/pointers "$AUD")
check "an NHS number failing Modulus 11 is 400" test "$st" = 400

# --- retire and supersede ----------------------------------------------------------------
n0=$(size)
st=$(req POST /v1/pointers/$P1/retire "$HOSP" '{"reason":"not ours"}')
check "another custodian cannot retire a pointer (403, says why)" \
    bash -c "[ $st = 403 ] && jq -e '.detail | contains(\"published by another custodian\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers "$HOSP" "$(pointer $NHS_A care-plans 736373009 'End of life care plan' '' '' ",\"supersedes\":\"$P1\"")")
check "another custodian cannot supersede a pointer (403)" \
    bash -c "[ $st = 403 ] && jq -e '.detail | contains(\"may supersede it\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_B care-plans 736373009 'End of life care plan' '' '' ",\"supersedes\":\"$P1\"")")
check "a pointer about another person cannot supersede (400)" \
    bash -c "[ $st = 400 ] && jq -e '.detail | contains(\"another person\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 736373009 'End of life care plan' '' '' ",\"supersedes\":\"AAAAAAAAAAAAAAAAAAAAAA\"")")
check "superseding an unknown pointer is 400" test "$st" = 400
check "refused retirements and supersessions append nothing" test "$(size)" = "$n0"

st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 736373009 'End of life care plan' \
    https://gp.example/fhir/Binary/eol-v2 '' ",\"supersedes\":\"$P1\"")")
check "the custodian supersedes its own pointer (201)" test "$st" = 201
P2=$(jq -r .id "$E2E_TMP/body")
req GET /v1/patients/$NHS_A/pointers "$PA" >/dev/null
check "the list shows the new pointer, naming what it superseded, and not the old one" \
    jqt --arg p1 "$P1" --arg p2 "$P2" '([.pointers[].id] | index($p1) == null) and
        (.pointers[] | select(.id == $p2) | .supersedes == $p1 and
         .url == "https://gp.example/fhir/Binary/eol-v2")' "$E2E_TMP/body"
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 736373009 'End of life care plan' '' '' ",\"supersedes\":\"$P1\"")")
check "a superseded pointer cannot be superseded again (409)" \
    bash -c "[ $st = 409 ] && jq -e '.detail | contains(\"already superseded by $P2\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers/$P2/retire "$GP" '{"reason":"plan withdrawn"}')
check "the custodian retires its pointer (200, log_index)" \
    bash -c "[ $st = 200 ] && jq -e '.id == \"$P2\" and .retired == true and (.log_index | type) == \"number\"' '$E2E_TMP/body' >/dev/null"
n1=$(size)
st=$(req POST /v1/pointers/$P2/retire "$GP" '{"reason":"again"}')
check "retiring twice is 409" \
    bash -c "[ $st = 409 ] && jq -e '.detail | contains(\"already retired\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers/AAAAAAAAAAAAAAAAAAAAAA/retire "$GP" '{"reason":"x"}')
check "retiring an unknown pointer is 404" test "$st" = 404
st=$(req POST /v1/pointers/nonsense/retire "$GP" '{"reason":"x"}')
check "retiring a malformed id is 404" test "$st" = 404
st=$(req POST /v1/pointers/$P_HOSP/retire "$GP" '{"reason":"x","extra":1}')
check "an unknown member in a retirement is 400" test "$st" = 400
check "refused retirements append nothing" test "$(size)" = "$n1"
req GET /v1/patients/$NHS_A/pointers "$PA" >/dev/null
check "a retired pointer is no longer listed" \
    jqt --arg p "$P_HOSP" '[.pointers[].id] == [$p]' "$E2E_TMP/body"

# --- bad pointers: a precise 400 and nothing appended -------------------------------------
n2=$(size)
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A dentistry 736373009 'End of life care plan')")
check "unknown category: 400 listing the categories" \
    bash -c "[ $st = 400 ] && jq -e '.detail | contains(\"one of the policy'\"'\"'s categories: gp-record\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 736253002 'Mental health crisis plan')")
check "a type of another category: 400 naming the right one" \
    bash -c "[ $st = 400 ] && jq -e '.detail | contains(\"belongs to category mental-health, not care-plans\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 22298006 'Myocardial infarction')")
check "a code no category covers: 400" \
    bash -c "[ $st = 400 ] && jq -e '.detail | contains(\"is not a record type\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers "$GP" '{"nhs":"'$NHS_A'","category":"care-plans","type":{"system":"http://loinc.org","code":"34109-9","display":"Note"},"url":"https://gp.example/x","content_type":"application/pdf"}')
check "a type outside SNOMED CT: 400" \
    bash -c "[ $st = 400 ] && jq -e '.detail | contains(\"record types are SNOMED CT codes\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 736373009 'End of life care plan' http://gp.example/x)")
check "a plain-http URL off loopback: 400" \
    bash -c "[ $st = 400 ] && jq -e '.detail | contains(\"absolute https URL\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 736373009 'End of life care plan' /relative)")
check "a relative URL: 400" test "$st" = 400
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 736373009 'End of life care plan' '' pdf)")
check "a content type that is not a MIME type: 400" \
    bash -c "[ $st = 400 ] && jq -e '.detail | contains(\"content_type\")' '$E2E_TMP/body' >/dev/null"
st=$(req POST /v1/pointers "$GP" "$(pointer 9434765918 care-plans 736373009 'End of life care plan')")
check "an NHS number failing Modulus 11: 400" test "$st" = 400
st=$(req POST /v1/pointers "$GP" "$(pointer $NHS_A care-plans 736373009 'End of life care plan' '' '' ',"colour":1')")
check "an unknown member: 400" test "$st" = 400
st=$(req POST /v1/pointers "$PA" "$(pointer $NHS_A care-plans 736373009 'End of life care plan')")
check "a person's token cannot publish (403)" test "$st" = 403
st=$(req POST /v1/pointers "$AUD" "$(pointer $NHS_A care-plans 736373009 'End of life care plan')")
check "a token without scope pointers cannot publish (403)" test "$st" = 403
check "bad pointers append nothing" test "$(size)" = "$n2"

# --- a linked local identifier is accepted where an NHS number is -------------------------
"$CTL" patient link --nhs $NHS_B --system https://rx1.example/mrn --value H123 \
    --token "$ADMIN_TOKEN" >/dev/null
st=$(req POST /v1/pointers "$HOSP" "$(pointer 'https://rx1.example/mrn|H123' test-results 4241000179101 'Laboratory report')")
check "publish for a linked identifier (system|value)" test "$st" = 201
P_LINK=$(jq -r .id "$E2E_TMP/body")
req GET /v1/patients/$NHS_B/pointers "$PB" >/dev/null
check "the pointer is listed under the NHS number" \
    jqt --arg p "$P_LINK" '[.pointers[].id] | index($p) != null' "$E2E_TMP/body"
st=$(req GET "/v1/patients/https%3A%2F%2Frx1.example%2Fmrn%7CH123/pointers" "$PB")
check "and at the percent-encoded linked identifier" \
    bash -c "[ $st = 200 ] && jq -e '.nhs == \"$NHS_B\" and (.pointers | length) == 2' '$E2E_TMP/body' >/dev/null"

# --- FHIR: an NRL v3 DocumentReference ----------------------------------------------------
docref() { # docref [JQ-FILTER]: an NRL v3 pointer from the GP practice, changed by the filter
    jq -c "${1:-.}" <<EOF
{"resourceType":"DocumentReference","status":"current","docStatus":"final",
 "type":{"coding":[{"system":"$SCT","code":"736253002","display":"Mental health crisis plan"}]},
 "category":[{"coding":[{"system":"$SCT","code":"734163000","display":"Care plan"}]}],
 "subject":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"$NHS_A"}},
 "author":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}}],
 "custodian":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}},
 "content":[{"attachment":{"contentType":"application/pdf","url":"https://gp.example/crisis.pdf"},
   "format":{"system":"https://fhir.nhs.uk/England/CodeSystem/England-NRLFormatCode",
             "code":"urn:nhs-ic:unstructured","display":"Unstructured document"}}]}
EOF
}
FJ=application/fhir+json
st=$(req POST /fhir/DocumentReference "$GP" "$(docref)" $FJ)
check "FHIR: 201 with the resource, its id and the category the policy gives the type" \
    bash -c "[ $st = 201 ] && grep -qi '^content-type: application/fhir+json' '$E2E_TMP/h' &&
        jq -e '.resourceType == \"DocumentReference\" and (.id | length) == 22 and .status == \"current\"
            and .category[0].coding[0].code == \"mental-health\"
            and .subject.identifier.value == \"$NHS_A\"
            and .custodian.identifier.value == \"A81001\"
            and .content[0].attachment.url == \"https://gp.example/crisis.pdf\"
            and (.date | test(\"Z\$\"))' '$E2E_TMP/body' >/dev/null"
F1=$(jq -r .id "$E2E_TMP/body")
check "FHIR: a Location header names the new resource" \
    grep -qi "^location: $ISS/fhir/DocumentReference/$F1" "$E2E_TMP/h"
req GET /v1/patients/$NHS_A/pointers "$PA" >/dev/null
check "FHIR: the pointer is in the person's list" \
    jqt --arg p "$F1" '.pointers[] | select(.id == $p) | .category == "mental-health" and
        .type.code == "736253002" and .custodian == "A81001"' "$E2E_TMP/body"
st=$(req POST /fhir/DocumentReference "$GP" \
    "$(docref ".relatesTo = [{code: \"replaces\", target: {type: \"DocumentReference\", identifier: {value: \"$F1\"}}}]
        | .content[0].attachment.url = \"https://gp.example/crisis-v2.pdf\"")" $FJ)
check "FHIR: relatesTo replaces supersedes a pointer (NRL's identifier form)" \
    bash -c "[ $st = 201 ] && jq -e '.relatesTo[0].target.reference == \"DocumentReference/$F1\"' '$E2E_TMP/body' >/dev/null"

n3=$(size)
st=$(req POST /fhir/DocumentReference "$HOSP" "$(docref)" $FJ)
check "FHIR: a custodian other than the token's organisation is 403 OperationOutcome" \
    bash -c "[ $st = 403 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has forbidden 'belongs to RX1'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref '.status = "superseded"')" $FJ)
check "FHIR: status other than current is 400" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has value 'must be \"current\"'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref '.type.coding[0].code = "22298006"')" $FJ)
check "FHIR: a type code no category covers is 400 code-invalid" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has code-invalid 'is not a record type'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref 'del(.subject)')" $FJ)
check "FHIR: no subject is 400 required" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has required 'subject.identifier'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref '.subject.identifier.value = "9434765918"')" $FJ)
check "FHIR: an NHS number failing Modulus 11 is 400" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has value ''"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref '.content[0].attachment.url = "http://gp.example/x"')" $FJ)
check "FHIR: a plain-http URL is 400" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has value 'absolute https URL'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref '.content[0].attachment.data = "SGVsbG8="')" $FJ)
check "FHIR: attached data is refused (pointers only)" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has not-supported 'never the records themselves'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref '.modifierExtension = [{"url":"x"}]')" $FJ)
check "FHIR: a modifierExtension is refused" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has not-supported 'modifierExtension'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref '.colour = "blue"')" $FJ)
check "FHIR: an element DocumentReference does not have is refused" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has structure 'not an element'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref '.resourceType = "Patient"')" $FJ)
check "FHIR: another resource type is refused" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has invalid 'DocumentReference'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref ".relatesTo = [{code: \"replaces\", target: {reference: \"DocumentReference/$F1\"}}]")" $FJ)
check "FHIR: superseding a superseded pointer is 409 OperationOutcome" \
    bash -c "[ $st = 409 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has conflict 'already superseded'"
st=$(req POST /fhir/DocumentReference "$GP" '{"resourceType":' $FJ)
check "FHIR: malformed JSON is 400 OperationOutcome" \
    bash -c "[ $st = 400 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has structure 'not acceptable JSON'"
st=$(req POST /fhir/DocumentReference "$GP" "$(docref)" text/plain)
check "FHIR: another content type is 415 OperationOutcome" \
    bash -c "[ $st = 415 ] && $(declare -f oo_has); E2E_TMP='$E2E_TMP' oo_has not-supported 'application/fhir+json'"
check "FHIR: refused resources append nothing" test "$(size)" = "$n3"

# --- the state rebuilds from the log -------------------------------------------------------
check "server stops cleanly" stop_server
rc=0
"$CONSENTD" serve --data "$DATA" --rebuild >"$E2E_TMP/o" 2>&1 || rc=$?
check "serve --rebuild gives the same pointers" test "$rc" = 0
[ "$rc" = 0 ] || cat "$E2E_TMP/o"

summary
