#!/usr/bin/env bash
# Makes the seeds of tests/fuzz/corpus/*/live-* from a real consentd: it serves a fresh data
# directory on a free loopback port, walks through every kind of write (organisations, clients,
# enrolment, key rotation and recovery, identifier links, pointers, signed and paper grants, a
# denial, a revocation, delegations, consent-checked, break-glass and plain tokens, a token-key
# rotation, a retirement), then writes what the targets read: the whole log for fuzz_state,
# fuzz_records and fuzz_audit, and the JWSs, claims, checkpoint, Consent resources, forms and
# JWKs it saw. Other seeds in the corpus are written by hand. Run it from anywhere after
# `make`; it replaces the live-* files only.
#
# Signed payloads are re-dated to the targets' fixed time (FZ_NOW, tests/fuzz/fuzzutil.h), and
# header "kid"s are those of the targets' fixed keys, so that the targets reach what lies behind
# each check.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

FZ_NOW=1764000000
NHS_A=9434765919
NHS_B=9434765870
NHS_C=4010232137
C=tests/fuzz/corpus
DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
TE="$ISS/oauth2/token"
CA_TYPE=urn:ietf:params:oauth:client-assertion-type:jwt-bearer

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
LOG_KEY=$(sed -n 's/^log-key: //p' <<<"$out")
start_server "$DATA"
export CONSENTD_URL=$ISS
CTL=$CONSENTCTL
AUTH=(-H "Authorization: Bearer $ADMIN_TOKEN")

b64url_decode() { local p; p=$(tr '_-' '/+' <<<"$1"); while [ $((${#p} % 4)) != 0 ]; do p="$p="; done; base64 -d <<<"$p"; }
part() { b64url_decode "$(cut -d. -f"$2" <<<"$1")"; }
# kid_of SEED_HEX: the key id (keys_kid) of the Ed25519 key whose seed is SEED_HEX.
kid_of() {
    printf '302e020100300506032b657004220420%s' "$1" | xxd -r -p |
        openssl pkey -inform DER -pubout -outform DER | tail -c 32 |
        openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '='
}
seed() { # seed TARGET NAME MODE_BYTE_OR_- : standard input to corpus/TARGET/live-NAME
    mkdir -p "$C/$1"
    if [ "$3" = - ]; then cat >"$C/$1/live-$2"; else { printf "\\x$3"; cat; } >"$C/$1/live-$2"; fi
}
redate() { jq -c --argjson now $FZ_NOW "$@"; }

# --- a walk through every kind of write ----------------------------------------------------
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice --endpoint https://gp.example/fhir >/dev/null
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods RX1 --name 'City Hospital' --type hospital \
    --endpoint https://hospital.example/fhir >/dev/null
for k in gp rx rxc aud old pa pb pc pa2 pa3; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
client() { "$CTL" admin client add --token "$ADMIN_TOKEN" --id "$1" --org "$2" --key "$E2E_TMP/$3.key" --roles "$4" >/dev/null; }
client gp-1 A81001 gp enroller,custodian,requester
client rx-req RX1 rx requester
client rx-cust RX1 rxc custodian
client aud-1 A81001 aud auditor
client old-1 RX1 old custodian
"$CTL" admin client retire --token "$ADMIN_TOKEN" --id old-1 --reason 'system decommissioned' >/dev/null
GP=$("$CTL" client token --id gp-1 --key "$E2E_TMP/gp.key" --scope "enrol pointers")
RXC=$("$CTL" client token --id rx-cust --key "$E2E_TMP/rxc.key" --scope pointers)
enrol() {
    local code
    code=$("$CTL" patient code --nhs "$1" --token "$3" | sed -n 's/^code: //p')
    "$CTL" patient enrol --nhs "$1" --code "$code" --key "$E2E_TMP/$2.key" >/dev/null
}
enrol $NHS_A pa "$GP"
enrol $NHS_B pb "$ADMIN_TOKEN"
enrol $NHS_C pc "$ADMIN_TOKEN"
"$CTL" patient rotate --nhs $NHS_A --key "$E2E_TMP/pa.key" --new-key "$E2E_TMP/pa2.key" >/dev/null
"$CTL" patient recover --token "$GP" --nhs $NHS_A --new-key "$E2E_TMP/pa3.key" \
    --reason 'lost phone; identity checked at the practice' >/dev/null
"$CTL" patient link --token "$GP" --nhs $NHS_B --system https://hospital.example/mrn --value H123 >/dev/null
pointer() { # pointer TOKEN CATEGORY CODE DISPLAY URL [EXTRA]
    curl -sf -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d "{\"nhs\":\"$NHS_A\",\"category\":\"$2\",\"type\":{\"system\":\"http://snomed.info/sct\",\"code\":\"$3\",\"display\":\"$4\"},\"url\":\"$5\",\"content_type\":\"application/pdf\"${6:-}}" \
        "$ISS/v1/pointers" | jq -r .id
}
P1=$(pointer "$GP" gp-record 824321000000109 'Summary record' https://gp.example/fhir/summary)
pointer "$RXC" medications 721912009 'Medication summary document' https://hospital.example/fhir/meds >/dev/null
P3=$(pointer "$GP" gp-record 824321000000109 'Summary record' https://gp.example/fhir/summary-v2 ",\"supersedes\":\"$P1\"")
curl -sf -H "Authorization: Bearer $GP" -H 'Content-Type: application/json' -d '{"reason":"entered in error"}' \
    "$ISS/v1/pointers/$P3/retire" >/dev/null
G1=$("$CTL" consent grant --print --nhs $NHS_A --key "$E2E_TMP/pa3.key" --org RX1 --purpose TREAT \
    --datatypes gp-record,medications --until 2030-01-01)
curl -sf -H 'Content-Type: application/json' -d "$(jq -nc --arg j "$G1" '{jws:$j}')" "$ISS/v1/consents" >/dev/null
"$CTL" consent deny --nhs $NHS_A --key "$E2E_TMP/pa3.key" --role research --purpose HRESCH \
    --datatypes gp-record --until 2030-01-01 >/dev/null
G3=$("$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pa3.key" --anyone --purpose CAREMGT \
    --datatypes medications --until 2030-01-01 | jq -r .jti)
"$CTL" consent revoke --nhs $NHS_A --key "$E2E_TMP/pa3.key" --jti "$G3" >/dev/null
"$CTL" consent delegate --nhs $NHS_A --key "$E2E_TMP/pa3.key" --to $NHS_B --relationship carer \
    --purposes TREAT --datatypes gp-record,medications --actions grant --until 2030-01-01 >/dev/null
"$CTL" consent delegate --token "$ADMIN_TOKEN" --nhs $NHS_B --to $NHS_C --relationship attorney \
    --reason 'lasting power of attorney registered' >/dev/null
PAPER=$(jq -nc --arg nhs $NHS_B '{resourceType:"Consent",status:"active",
  scope:{coding:[{system:"http://terminology.hl7.org/CodeSystem/consentscope",code:"patient-privacy"}]},
  category:[{coding:[{system:"http://loinc.org",code:"59284-0"}]}],
  patient:{identifier:{system:"https://fhir.nhs.uk/Id/nhs-number",value:$nhs}},
  dateTime:"2026-01-20T14:05:00+00:00",
  policyRule:{coding:[{system:"http://terminology.hl7.org/CodeSystem/v3-ActCode",code:"OPTIN"}]},
  provision:{type:"permit",period:{start:"2026-01-01T00:00:00Z",end:"2030-01-01T00:00:00Z"},
    actor:[{role:{coding:[{system:"http://terminology.hl7.org/CodeSystem/v3-ParticipationType",code:"IRCP"}]},
      reference:{identifier:{system:"https://fhir.nhs.uk/Id/ods-organization-code",value:"RX1"}}}],
    action:[{coding:[{system:"http://terminology.hl7.org/CodeSystem/consentaction",code:"access"}]}],
    purpose:[{system:"http://terminology.hl7.org/CodeSystem/v3-ActReason",code:"TREAT"}],
    class:[{system:"https://consentd.example/fhir/CodeSystem/data-category",code:"test-results"}]}}')
curl -sf -H "Authorization: Bearer $GP" -H 'Content-Type: application/fhir+json' --data-binary "$PAPER" \
    "$ISS/fhir/Consent" >/dev/null
AD="[{\"type\":\"care-record-access\",\"identifier\":\"$NHS_A\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"],\"actions\":[\"read\"],\"locations\":[\"https://gp.example/fhir\"]}]"
ASSERTION=$("$CTL" client assertion --id rx-req --key "$E2E_TMP/rx.key" --aud "$TE")
FORM="grant_type=client_credentials&client_assertion_type=$(jq -rn --arg s "$CA_TYPE" '$s|@uri')&client_assertion=$ASSERTION&authorization_details=$(jq -rn --arg s "$AD" '$s|@uri')"
ACCESS=$(curl -sf -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$FORM" "$TE" | jq -r .access_token)
PLAIN=$("$CTL" client token --id gp-1 --key "$E2E_TMP/gp.key" --scope "enrol pointers")
PATIENT=$("$CTL" patient token --nhs $NHS_A --key "$E2E_TMP/pa3.key")

# --- what the targets read -----------------------------------------------------------------
n=$(curl -sf "$ISS/log/checkpoint" | sed -n 2p)
curl -sf "${AUTH[@]}" "$ISS/log/entries?start=0&end=$n" | jq -r '.entries[] | @base64d' | seed state log -
[ "$(wc -l <"$C/state/live-log")" = "$n" ] || { echo "seeds: the log has entries with newlines" >&2; exit 1; }
seed audit log - <"$C/state/live-log"
for t in $(jq -r .type "$C/state/live-log" | sort -u); do
    jq -c "select(.type == \"$t\")" "$C/state/live-log" | head -n 1 | tr -d '\n' | seed jstrict "entry-$t" -
done
curl -sf "$ISS/log/checkpoint" | seed note checkpoint 00
curl -sf "$ISS/log/checkpoint" | sed '/^$/,$d' | seed note checkpoint-body 01
printf '%s' "$LOG_KEY" | seed note log-key 02
printf '%s' "$G1" | seed consents grant 00
printf '%s' "$G1" | seed jws grant 00
part "$G1" 2 | redate '.iat = $now' | seed consents grant-payload 01
printf '%s' "$ASSERTION" | seed assertion raw 00
printf '%s' "$ASSERTION" | seed jws assertion 00
part "$ASSERTION" 2 | redate '.iss = "client-1" | .sub = "client-1" | .aud = "http://127.0.0.1:8080/oauth2/token" | .iat = $now | .exp = $now + 120' |
    seed assertion payload 01
{ part "$ASSERTION" 1; echo; part "$ASSERTION" 2 | redate '.iss = "client-1" | .sub = "client-1" | .aud = "http://127.0.0.1:8080" | .iat = $now | .exp = $now + 120' | tr -d '\n'; } |
    seed assertion header-payload 02
TOKEN_KID=$(kid_of 0300000000000000000000000000000000000000000000000000000000000000)
for t in ACCESS PLAIN PATIENT; do
    name=$(tr 'A-Z' 'a-z' <<<"$t")
    printf '%s' "${!t}" | seed token "$name" 00
    printf '%s' "${!t}" | seed jws "token-$name" 00
    part "${!t}" 2 | redate '.iss = "http://127.0.0.1:8080" | if (.aud|type) == "array" then .aud[0] = "http://127.0.0.1:8080" else .aud = "http://127.0.0.1:8080" end | .iat = $now | .exp = $now + 300' |
        seed token "$name-payload" 01
    { part "${!t}" 1 | jq -c --arg kid "$TOKEN_KID" '.kid = $kid'; part "${!t}" 2 |
        redate '.iss = "http://127.0.0.1:8080" | if (.aud|type) == "array" then .aud[0] = "http://127.0.0.1:8080" else .aud = "http://127.0.0.1:8080" end | .iat = $now | .exp = $now + 300' | tr -d '\n'; } |
        seed token "$name-header-payload" 02
done
printf '%s' "$AD" | seed authz request -
printf '%s' "$FORM" | seed form token-request -
curl -sf -H "Authorization: Bearer $PATIENT" "$ISS/fhir/Consent?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C$NHS_A" |
    jq -c '.entry[0].resource' | tr -d '\n' | seed fhir_consent signed-grant -
printf '%s' "$PAPER" | seed fhir_consent paper -
node -e '
const c = require("crypto");
const out = (k) => JSON.stringify(k.publicKey.export({format: "jwk"}));
console.log(out(c.generateKeyPairSync("rsa", {modulusLength: 2048})));
console.log(out(c.generateKeyPairSync("ec", {namedCurve: "P-256"})));
console.log(out(c.generateKeyPairSync("ec", {namedCurve: "P-384"})));
console.log(out(c.generateKeyPairSync("ed25519")));' >"$E2E_TMP/jwks"
i=0
for name in rsa2048 p256 p384 okp; do
    i=$((i + 1))
    sed -n "${i}p" "$E2E_TMP/jwks" | tr -d '\n' | seed pkey "$name" -
done
stop_server
echo "seeds: $n log entries and $(find "$C" -name 'live-*' | wc -l) live seeds written under $C"
