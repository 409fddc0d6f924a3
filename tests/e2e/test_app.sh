#!/usr/bin/env bash
# The patient app (issue 7): consentd serves the app's files with strict security headers, the
# policy's names (GET /v1/policy) and the registered organisations (GET /v1/orgs) the page
# shows, and every log entry about a person (GET /v1/patients/{nhs}/entries) as exact bytes a
# browser checks against the signed checkpoint. Then Debian's Chromium, driven headless by
# playwright-core (app.mjs), goes through enrolment, a grant, an access by a test client, its
# appearance in the history with a verified proof, and a revocation, with axe-core on every
# screen and the main flow by keyboard alone.
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

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init" test -n "$ADMIN_TOKEN"
check "server starts" start_server "$DATA" --policy policies/default.json
export CONSENTD_URL=$ISS
CTL=$CONSENTCTL
jqt() { jq -e "$@" >/dev/null; }

# --- the app's files and their headers --------------------------------------------------
st=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$ISS/app")
check "/app redirects to /app/" test "$st" = "301 $ISS/app/"
curl -s -D "$E2E_TMP/h" -o "$E2E_TMP/index" "$ISS/app/"
check "/app/ is the page, text/html, with a strict CSP, nosniff, no referrer, no framing" \
    bash -c "grep -q '^HTTP/1.1 200' '$E2E_TMP/h' &&
        grep -qi '^content-type: text/html; charset=utf-8' '$E2E_TMP/h' &&
        grep -qi \"^content-security-policy: default-src 'self'; script-src 'self';.*frame-ancestors 'none'\" '$E2E_TMP/h' &&
        grep -qi '^x-content-type-options: nosniff' '$E2E_TMP/h' &&
        grep -qi '^referrer-policy: no-referrer' '$E2E_TMP/h' &&
        cmp -s '$E2E_TMP/index' service/app/index.html"
check "the page has no inline script and loads nothing from another host" \
    bash -c "! grep -Eiq '<script>|<script [^>]*>[^<]|[[:space:]]on[a-z]+=|https?://' service/app/index.html"
for f in $(cd service/app && ls); do
    curl -s -o "$E2E_TMP/f" -w '%{content_type}' "$ISS/app/$f" >"$E2E_TMP/ct"
    check "/app/$f is served byte for byte ($(cat "$E2E_TMP/ct"))" cmp -s "$E2E_TMP/f" "service/app/$f"
done
check "/app/app.js is text/javascript" \
    bash -c "curl -s -o /dev/null -w '%{content_type}' '$ISS/app/app.js' | grep -q '^text/javascript'"
st=$(curl -s -o "$E2E_TMP/p" -w '%{http_code}' "$ISS/app/nope.js")
check "an unknown file is 404 with a problem" \
    bash -c "[ $st = 404 ] && jq -e '.type | endswith(\"not-found\")' '$E2E_TMP/p' >/dev/null"

# --- the policy's names and the organisations --------------------------------------------
check "GET /v1/policy names the organisation types, categories and purposes" \
    jqt '.org_types[0] == {name: "gp-practice", display: "GP practice"} and
         (.categories | map(select(.sensitive)) | map(.name)) == ["mental-health", "sexual-health"] and
         (.categories[0] | .name == "gp-record" and .display == "GP record") and
         .purposes[0] == {code: "TREAT", display: "Treatment"}' \
    <<<"$(curl -s "$ISS/v1/policy")"
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice --endpoint "$GP_EP" >/dev/null
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods RX1 --name 'City Hospital' --type hospital \
    --endpoint "$RX_EP" >/dev/null
check "GET /v1/orgs lists the organisations by ODS code, with names and types" \
    jqt '.orgs == [{ods: "A81001", name: "Riverside Practice", type: "gp-practice"},
                   {ods: "RX1", name: "City Hospital", type: "hospital"}] and (has("more") | not)' \
    <<<"$(curl -s "$ISS/v1/orgs")"

# --- a person's own log entries -----------------------------------------------------------
for k in gp gpr rx rxe aud pa pb; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
client() { # client ID ORG KEY ROLES
    "$CTL" admin client add --token "$ADMIN_TOKEN" --id "$1" --org "$2" --key "$E2E_TMP/$3.key" \
        --roles "$4" >/dev/null
}
client gp-en A81001 gp enroller
client gp-cust A81001 gpr custodian
client rx-req RX1 rx requester
client rx-em RX1 rxe emergency
client aud-1 A81001 aud auditor
GP=$("$CTL" client token --id gp-en --key "$E2E_TMP/gp.key" --scope enrol)
GPC=$("$CTL" client token --id gp-cust --key "$E2E_TMP/gpr.key" --scope pointers)
AUD=$("$CTL" client token --id aud-1 --key "$E2E_TMP/aud.key" --scope audit)
enrol() { # enrol NHS KEY
    local code
    code=$("$CTL" patient code --nhs "$1" --token "$GP" | sed -n 's/^code: //p')
    "$CTL" patient enrol --nhs "$1" --code "$code" --key "$E2E_TMP/$2.key" >/dev/null
}
enrol $NHS_A pa
enrol $NHS_B pb
pointer() { # pointer NHS: a GP record pointer for NHS; prints its id
    curl -s -H "Authorization: Bearer $GPC" -H 'Content-Type: application/json' \
        -d "{\"nhs\":\"$1\",\"category\":\"gp-record\",\"type\":{\"system\":\"http://snomed.info/sct\",\"code\":\"824321000000109\",\"display\":\"Summary record\"},\"url\":\"$GP_EP/summary\",\"content_type\":\"application/pdf\"}" \
        "$ISS/v1/pointers" | jq -r .id
}
P1=$(pointer $NHS_A)
pointer $NHS_B >/dev/null
curl -s -H "Authorization: Bearer $GPC" -H 'Content-Type: application/json' \
    -d '{"reason":"entered in error"}' "$ISS/v1/pointers/$P1/retire" >/dev/null
G1=$("$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT \
    --datatypes gp-record --until 2030-01-01 | jq -r .jti)
"$CTL" consent delegate --nhs $NHS_A --key "$E2E_TMP/pa.key" --to $NHS_B --relationship carer \
    --until 2030-01-01 >/dev/null
curl -s -d grant_type=client_credentials -d "client_assertion_type=$CA_TYPE" \
    --data-urlencode "client_assertion=$("$CTL" client assertion --id rx-req \
        --key "$E2E_TMP/rx.key" --aud "$ISS/oauth2/token")" \
    --data-urlencode "authorization_details=[{\"type\":\"care-record-access\",\"identifier\":\"$NHS_A\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"],\"actions\":[\"read\"]}]" \
    "$ISS/oauth2/token" >"$E2E_TMP/t"
check "the requester gets a token for A (an access entry)" jqt '.access_token' "$E2E_TMP/t"
PA=$("$CTL" patient token --nhs $NHS_A --key "$E2E_TMP/pa.key")
PB=$("$CTL" patient token --nhs $NHS_B --key "$E2E_TMP/pb.key")

curl -s -H "Authorization: Bearer $PA" "$ISS/v1/patients/$NHS_A/entries" >"$E2E_TMP/ea"
jq -r '.entries[].entry' "$E2E_TMP/ea" | while read -r e; do base64 -d <<<"$e"; echo; done \
    >"$E2E_TMP/ea.json"
check "A's entries: enrolment, pointer, its retirement, grant, delegation, access, in log order" \
    jqt -s '[.[].type] == ["patient.enrol", "pointer", "pointer.retire", "consent", "delegation", "access"]' \
    "$E2E_TMP/ea.json"
check "their log indexes rise and each entry's bytes are the log's (auditor's /log/entries)" \
    bash -c "
        prev=-1
        for i in \$(jq -r '.entries[].log_index' '$E2E_TMP/ea'); do
            [ \$i -gt \$prev ] || exit 1; prev=\$i
            a=\$(jq -r --argjson i \$i '.entries[] | select(.log_index == \$i) | .entry' '$E2E_TMP/ea')
            b=\$(curl -s -H 'Authorization: Bearer $AUD' '$ISS/log/entries?start='\$i'&end='\$((i + 1)) | jq -r '.entries[0]')
            [ \"\$a\" = \"\$b\" ] || exit 1
        done"
check "no other person's entry is in A's" \
    bash -c "! grep -q '$NHS_B\"' <(jq -c 'select(.type != \"delegation\")' '$E2E_TMP/ea.json')"
IDX=$(jq -r '.entries[-1].log_index' "$E2E_TMP/ea")
SIZE=$(checkpoint_size)
leafhash() { jq -r '.entries[-1].entry' "$E2E_TMP/ea" | base64 -d | { printf '\0'; cat; } |
    openssl dgst -sha256 -binary | base64 -w0; }
check "the last entry's leaf hash is the one the inclusion proof names" \
    bash -c "[ \"\$(curl -s '$ISS/log/proof/inclusion?index=$IDX&size=$SIZE' | jq -r .leaf_hash)\" = '$(leafhash)' ]"
curl -s -H "Authorization: Bearer $PA" "$ISS/v1/patients/$NHS_A/entries?from=$IDX" >"$E2E_TMP/e2"
check "?from= starts the listing at a log index" \
    jqt --argjson i "$IDX" '.entries | length == 1 and .[0].log_index == $i' "$E2E_TMP/e2"
check "the delegate B reads A's entries with their own token; an auditor too" \
    bash -c "cmp -s <(curl -s -H 'Authorization: Bearer $PB' '$ISS/v1/patients/$NHS_A/entries') '$E2E_TMP/ea' &&
        cmp -s <(curl -s -H 'Authorization: Bearer $AUD' '$ISS/v1/patients/$NHS_A/entries') '$E2E_TMP/ea'"
st=$(curl -s -o "$E2E_TMP/p" -w '%{http_code}' -H "Authorization: Bearer $PA" \
    "$ISS/v1/patients/$NHS_B/entries")
check "A may not read B's entries (403)" \
    bash -c "[ $st = 403 ] && jq -e '.type | endswith(\"forbidden\")' '$E2E_TMP/p' >/dev/null"
st=$(curl -s -o /dev/null -w '%{http_code}' "$ISS/v1/patients/$NHS_A/entries")
check "without a token: 401" test "$st" = 401
st=$(curl -s -o "$E2E_TMP/p" -w '%{http_code}' -H "Authorization: Bearer $PA" \
    "$ISS/v1/patients/$NHS_A/entries?from=01")
check "a malformed from is 400 invalid-query" \
    bash -c "[ $st = 400 ] && jq -e '.type | endswith(\"invalid-query\")' '$E2E_TMP/p' >/dev/null"
check "the request log never names the person" bash -c "! grep -q '$NHS_A' '$E2E_TMP/server.log'"

# --- the page's own checks, in Node.js (the same module the browser loads) ---------------
node --test tests/e2e/verify.test.mjs >"$E2E_TMP/verify.out" 2>&1
check "verify.js passes its node tests (signed note, inclusion proof vectors, leaf hash)" \
    bash -c "grep -q '^# pass [1-9]' '$E2E_TMP/verify.out' && grep -q '^# fail 0$' '$E2E_TMP/verify.out'"

# --- the page in a real browser ------------------------------------------------------------
NHS_C=4010232137
NHS_D=9990548609
pointer $NHS_C >/dev/null
CODE_C=$("$CTL" patient code --nhs $NHS_C --token "$GP" | sed -n 's/^code: //p')
# What the browser test asks of the world outside the page: the hospital's system asking for a
# token for C (prints the status and the OAuth error), and the practice recording C's new key.
export ISS CA_TYPE CTL E2E_TMP NHS_C GP
cat >"$E2E_TMP/access.sh" <<'EOF'
# access.sh [btg]: as rx-req with consent, or as rx-em breaking the glass.
id=rx-req key=rx bg=
[ "${1:-}" = btg ] && id=rx-em key=rxe bg=',"break_glass":{"reason":"Unconscious in A&E, no next of kin"}'
ad='[{"type":"care-record-access","identifier":"'$NHS_C'","purpose":"TREAT","datatypes":["gp-record"],"actions":["read"]'$bg'}]'
st=$(curl -s -o "$E2E_TMP/acc" -w '%{http_code}' -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" --data-urlencode "authorization_details=$ad" \
    --data-urlencode "client_assertion=$("$CTL" client assertion --id $id \
        --key "$E2E_TMP/$key.key" --aud "$ISS/oauth2/token")" "$ISS/oauth2/token")
echo "$st $(jq -r '.error // "-"' "$E2E_TMP/acc")"
EOF
cat >"$E2E_TMP/recover.sh" <<'EOF'
curl -s -o "$E2E_TMP/rec" -w '%{http_code}' -H "Authorization: Bearer $GP" \
    -H 'Content-Type: application/json' "$ISS/v1/patients/$NHS_C/keys" \
    -d '{"jwk":{"kty":"OKP","crv":"Ed25519","x":"'"$1"'"},"reason":"phone lost; identity checked in person"}'
EOF
if [ -x /usr/bin/chromium ] && [ -d tests/e2e/node_modules/playwright-core ]; then
    mkdir -p "$E2E_TMP/shots"
    while IFS= read -r line; do
        case $line in
        ok\ *) ok "browser: ${line#ok }" ;;
        FAIL\ *) fail "browser: ${line#FAIL }" ;;
        *) echo "$line" ;;
        esac
    done < <(cd tests/e2e && APP_URL=$ISS APP_NHS=$NHS_C APP_CODE=$CODE_C APP_HELPER=$NHS_B \
        APP_STRANGER=$NHS_D APP_ACCESS=$E2E_TMP/access.sh APP_RECOVER=$E2E_TMP/recover.sh \
        APP_TMP=$E2E_TMP APP_SHOTS=${APP_SHOTS:-$E2E_TMP/shots} timeout 300 node app.mjs 2>&1)
else
    fail "Debian's chromium (/usr/bin/chromium) and tests/e2e/node_modules are needed (make e2e)"
fi
check "the request log still never names a person" \
    bash -c "! grep -q '$NHS_C' '$E2E_TMP/server.log'"

# --- the end: the state derived afresh from the log is the stored one ---------------------
check "the server stops cleanly" stop_server
check "a replay of the log rebuilds the same state, entries by person included" \
    bash -c "\"$CONSENTD\" serve --data '$DATA' --rebuild >'$E2E_TMP/rebuild' 2>&1 &&
        grep -q 'the derived state matches the stored state' '$E2E_TMP/rebuild'"

summary
