#!/usr/bin/env bash
# Consent: grants, denials and revocations signed with consentctl; delegations by the person and
# by the admin; a delegate acting within and beyond the rights given; every refusal a precise
# problem that leaves the log as it was; listing by the person, a delegate, another person and an
# auditor; and POST /v1/decisions: the implied rule, sensitive categories, explicit permits,
# deny winning, and a revocation taking effect for the very next decision.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

NHS_A=9434765919
NHS_B=9434765870
NHS_C=4010232137
NHS_D=9990548609
DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init" test -n "$ADMIN_TOKEN"
check "server starts" start_server "$DATA"
export CONSENTD_URL=$ISS
CTL=$CONSENTCTL
ADMIN=(-H "Authorization: Bearer $ADMIN_TOKEN")

# --- organisations, clients, people ------------------------------------------------------
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice >/dev/null
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods RX1 --name 'City Hospital' --type hospital >/dev/null
for k in gp aud pa pb pc pd; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
"$CTL" admin client add --token "$ADMIN_TOKEN" --id gp-1 --org A81001 --key "$E2E_TMP/gp.key" \
    --roles enroller >/dev/null
"$CTL" admin client add --token "$ADMIN_TOKEN" --id aud-1 --org A81001 --key "$E2E_TMP/aud.key" \
    --roles auditor >/dev/null
GP=$("$CTL" client token --id gp-1 --key "$E2E_TMP/gp.key" --scope enrol)
AUD=$("$CTL" client token --id aud-1 --key "$E2E_TMP/aud.key" --scope audit)
check "an enroller (the GP practice) and an auditor, with tokens" bash -c "[ -n '$GP' ] && [ -n '$AUD' ]"
# A is enrolled by the GP practice (so the implied rule applies to A81001); B and C by the admin.
enrol() { # enrol NHS KEY TOKEN
    local code
    code=$("$CTL" patient code --nhs "$1" --token "$3" | sed -n 's/^code: //p')
    "$CTL" patient enrol --nhs "$1" --code "$code" --key "$E2E_TMP/$2.key" >/dev/null
}
enrol $NHS_A pa "$GP"
enrol $NHS_B pb "$ADMIN_TOKEN"
enrol $NHS_C pc "$ADMIN_TOKEN"
PA=$("$CTL" patient token --nhs $NHS_A --key "$E2E_TMP/pa.key")
PB=$("$CTL" patient token --nhs $NHS_B --key "$E2E_TMP/pb.key")
PC=$("$CTL" patient token --nhs $NHS_C --key "$E2E_TMP/pc.key")
check "three people enrolled, each with their own token" bash -c "[ -n '$PA' ] && [ -n '$PB' ] && [ -n '$PC' ]"

# want NAME STATUS SLUG METHOD PATH BODY [curl args…]: this status and problem type, and the
# log did not grow.
want() {
    local name=$1 status=$2 slug=$3 method=$4 path=$5 body=$6
    shift 6
    local before after got
    before=$(checkpoint_size)
    got=$(curl -s -o "$E2E_TMP/p" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
        "$@" --data-binary "$body" "$ISS$path")
    after=$(checkpoint_size)
    if [ "$got" = "$status" ] && [ "$before" = "$after" ] &&
        jq -e --arg t "https://consentd.example/problems/$slug" \
            '.type == $t and (.detail|length) > 10' "$E2E_TMP/p" >/dev/null; then
        ok "$name → $status $slug"
    else
        fail "$name → wanted $status $slug, got $got $(head -c 300 "$E2E_TMP/p") (size $before→$after)"
    fi
}
jws_body() { jq -nc --arg j "$1" '{jws:$j}'; }
# signed ARGS…: a grant JWS consentctl signs but does not send.
signed() { "$CTL" consent grant --print "$@"; }
# decide ORG NHS PURPOSE DATATYPES_JSON: POST /v1/decisions as the admin; answer in $E2E_TMP/d.
decide() {
    curl -s -o "$E2E_TMP/d" -w '%{http_code}' "${ADMIN[@]}" -H 'Content-Type: application/json' \
        -d "{\"org\":\"$1\",\"nhs\":\"$2\",\"purpose\":\"$3\",\"datatypes\":$4}" "$ISS/v1/decisions"
}
jqt() { jq -e "$@" >/dev/null; }

# --- grants through consentctl -----------------------------------------------------------
before=$(checkpoint_size)
out=$("$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT \
    --datatypes gp-record,medications --until 2030-01-01)
check "consentctl consent grant: 201 with jti and log_index" jqt ".log_index == $before and (.jti|length) > 10" <<<"$out"
G1=$(jq -r .jti <<<"$out")
jws=$("$CTL" patient grant --print --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT \
    --datatypes gp-record --until 2030-01-01)
check "consentctl patient grant is the same command (it signs a consent+jwt)" \
    bash -c "cut -d. -f1 <<<'$jws' | base64 -d 2>/dev/null | grep -q 'consent+jwt'"
check "the grant appends one entry holding the JWS verbatim" \
    bash -c "curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' '$ISS/log/entries?start=$before&end=$((before + 1))' |
        jq -r '.entries[0]' | base64 -d | jq -e '.type == \"consent\" and (.jws|split(\".\")|length) == 3 and (keys == [\"jws\",\"time\",\"type\",\"v\"])' >/dev/null"
out=$("$CTL" consent deny --nhs $NHS_A --key "$E2E_TMP/pa.key" --role research --purpose HRESCH \
    --datatypes gp-record --until 2030-01-01)
check "consentctl consent deny: 201" jqt '.jti' <<<"$out"

# --- refusals: each a precise 4xx, the log unchanged -------------------------------------
want "a grant signed by another person's key" 403 bad-signature POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --key "$E2E_TMP/pb.key" --org RX1 --purpose TREAT --datatypes gp-record --until 2030-01-01)")"
J=$(signed --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT --datatypes gp-record --until 2030-01-01)
FORGED="${J%.*}.$(printf 'A%.0s' $(seq 1 86))"
want "a grant whose signature is not the key's" 403 bad-signature POST /v1/consents "$(jws_body "$FORGED")"
want "iss without a delegation from sub" 403 not-delegated POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --as $NHS_B --key "$E2E_TMP/pb.key" --org RX1 --purpose TREAT --datatypes gp-record --until 2030-01-01)")"
want "an unknown purpose" 400 unknown-purpose POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose SHOPPING --datatypes gp-record --until 2030-01-01)")"
want "an unknown category" 400 unknown-category POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT --datatypes gp-record,horoscope --until 2030-01-01)")"
want "an unknown organisation type" 400 unknown-org-type POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --key "$E2E_TMP/pa.key" --role spaceport --purpose TREAT --datatypes gp-record --until 2030-01-01)")"
want "a period that ends before it starts" 400 invalid-period POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT --datatypes gp-record --from 2030-01-01 --until 2029-01-01)")"
want "a reused jti" 409 jti-reused POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT --datatypes gp-record --until 2030-01-01 --jti "$G1")")"
want "a signer who is not enrolled" 400 signer-not-enrolled POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_D --key "$E2E_TMP/pd.key" --org RX1 --purpose TREAT --datatypes gp-record --until 2030-01-01)")"
want "not a JWS" 400 invalid-jws POST /v1/consents '{"jws":"abc"}'
want "a JWS with alg none" 400 invalid-jws POST /v1/consents \
    "$(jws_body "$(printf '{"alg":"none","typ":"consent+jwt"}' | base64 -w0 | tr '+/' '-_' | tr -d '=').${J#*.}")"
want "a body with another member" 400 invalid-field POST /v1/consents "$(jws_body "$J" | jq -c '.x = 1')"
want "a body that is not JSON" 400 invalid-json POST /v1/consents 'jws='
"$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pb.key" --org RX1 --purpose TREAT \
    --datatypes gp-record --until 2030-01-01 >/dev/null 2>"$E2E_TMP/err"
check "consentctl with the wrong key exits 77 and says why" \
    bash -c "[ $? = 77 ] && grep -q 'current key' '$E2E_TMP/err'"

# --- delegation ---------------------------------------------------------------------------
before=$(checkpoint_size)
out=$("$CTL" consent delegate --nhs $NHS_A --key "$E2E_TMP/pa.key" --to $NHS_B --relationship carer \
    --purposes TREAT --datatypes gp-record,medications --actions grant --until 2030-01-01)
check "the person delegates to a carer (signed by the person): 201" \
    jqt ".log_index == $before and .nhs == \"$NHS_A\" and .delegate == \"$NHS_B\"" <<<"$out"
out=$("$CTL" consent grant --nhs $NHS_A --as $NHS_B --key "$E2E_TMP/pb.key" --org A81001 \
    --purpose TREAT --datatypes medications --until 2029-01-01)
check "the delegate grants within the rights, with their own key: 201" jqt '.jti' <<<"$out"
G_DELEGATE=$(jq -r .jti <<<"$out")
want "the delegate grants a category beyond the rights" 403 beyond-delegated-rights POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --as $NHS_B --key "$E2E_TMP/pb.key" --org A81001 --purpose TREAT --datatypes mental-health --until 2029-01-01)")"
want "the delegate grants for a purpose beyond the rights" 403 beyond-delegated-rights POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --as $NHS_B --key "$E2E_TMP/pb.key" --org A81001 --purpose HRESCH --datatypes medications --until 2029-01-01)")"
want "the delegate denies without the deny right" 403 beyond-delegated-rights POST /v1/consents \
    "$(jws_body "$("$CTL" consent deny --print --nhs $NHS_A --as $NHS_B --key "$E2E_TMP/pb.key" --org A81001 --purpose TREAT --datatypes medications --until 2029-01-01)")"
want "the delegate signing with the person's key" 403 bad-signature POST /v1/consents \
    "$(jws_body "$(signed --nhs $NHS_A --as $NHS_B --key "$E2E_TMP/pa.key" --org A81001 --purpose TREAT --datatypes medications --until 2029-01-01)")"
want "a delegation loop (B to A while A to B holds)" 409 delegation-loop POST /v1/delegations \
    "$(jws_body "$("$CTL" consent delegate --print --nhs $NHS_B --key "$E2E_TMP/pb.key" --to $NHS_A --relationship carer --until 2030-01-01)")"
want "a delegation to oneself" 400 self-delegation POST /v1/delegations \
    "$(jws_body "$("$CTL" consent delegate --print --nhs $NHS_A --key "$E2E_TMP/pa.key" --to $NHS_A --relationship carer --until 2030-01-01)")"
want "a delegation to someone not enrolled" 400 delegate-not-enrolled POST /v1/delegations \
    "$(jws_body "$("$CTL" consent delegate --print --nhs $NHS_A --key "$E2E_TMP/pa.key" --to $NHS_D --relationship carer --until 2030-01-01)")"
want "a delegation signed by the delegate" 403 bad-signature POST /v1/delegations \
    "$(jws_body "$("$CTL" consent delegate --print --nhs $NHS_C --key "$E2E_TMP/pb.key" --to $NHS_B --relationship carer --until 2030-01-01)")"
want "a delegation with an unknown category" 400 unknown-category POST /v1/delegations \
    "$(jws_body "$("$CTL" consent delegate --print --nhs $NHS_C --key "$E2E_TMP/pc.key" --to $NHS_B --relationship carer --datatypes horoscope --until 2030-01-01)")"
want "an admin delegation without the admin token" 401 unauthorized POST /v1/delegations \
    "{\"nhs\":\"$NHS_C\",\"delegate\":\"$NHS_B\",\"rights\":{\"purposes\":\"*\",\"datatypes\":\"*\",\"actions\":[\"grant\"]},\"relationship\":\"guardian\",\"reason\":\"court order\"}"
want "an admin delegation without a reason" 400 invalid-field POST /v1/delegations \
    "{\"nhs\":\"$NHS_C\",\"delegate\":\"$NHS_B\",\"rights\":{\"purposes\":\"*\",\"datatypes\":\"*\",\"actions\":[\"grant\"]},\"relationship\":\"guardian\"}" "${ADMIN[@]}"
before=$(checkpoint_size)
out=$("$CTL" consent delegate --token "$ADMIN_TOKEN" --nhs $NHS_C --to $NHS_B --relationship guardian \
    --actions grant,deny,revoke --reason "court order 2026/123")
check "the admin records a guardian with a reason: 201" jqt ".log_index == $before and .delegate == \"$NHS_B\"" <<<"$out"
check "the recorded delegation names the admin and the reason" \
    bash -c "curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' '$ISS/log/entries?start=$before&end=$((before + 1))' |
        jq -r '.entries[0]' | base64 -d | jq -e '.type == \"delegation\" and .by == \"admin\" and .reason == \"court order 2026/123\"' >/dev/null"
out=$("$CTL" consent deny --nhs $NHS_C --as $NHS_B --key "$E2E_TMP/pb.key" --anyone --purpose HRESCH \
    --datatypes gp-record --until 2030-01-01)
check "the guardian denies for the person: 201" jqt '.jti' <<<"$out"

# --- revocation ---------------------------------------------------------------------------
out=$("$CTL" consent grant --nhs $NHS_B --key "$E2E_TMP/pb.key" --org RX1 --purpose TREAT \
    --datatypes imaging --until 2030-01-01)
G_B=$(jq -r .jti <<<"$out")
revocation() { # revocation KEY NHS GRANT [AS]
    "$CTL" consent revoke --print --key "$E2E_TMP/$1.key" --nhs "$2" --jti "$3" ${4:+--as $4}
}
want "revoking another person's grant" 403 not-the-persons-grant POST "/v1/consents/$G_B/revoke" \
    "$(jws_body "$(revocation pa $NHS_A "$G_B")")"
want "revoking a grant that does not exist" 404 unknown-grant POST "/v1/consents/nothing/revoke" \
    "$(jws_body "$(revocation pa $NHS_A nothing)")"
want "a revocation for another grant than the path's" 400 grant-mismatch POST "/v1/consents/$G_B/revoke" \
    "$(jws_body "$(revocation pa $NHS_A "$G1")")"
want "a revocation signed by another key" 403 bad-signature POST "/v1/consents/$G1/revoke" \
    "$(jws_body "$(revocation pb $NHS_A "$G1")")"
want "a delegate revoking without the revoke right" 403 beyond-delegated-rights POST \
    "/v1/consents/$G_DELEGATE/revoke" "$(jws_body "$(revocation pb $NHS_A "$G_DELEGATE" $NHS_B)")"
before=$(checkpoint_size)
out=$("$CTL" consent revoke --nhs $NHS_B --key "$E2E_TMP/pb.key" --jti "$G_B")
check "consentctl consent revoke: 201" jqt ".log_index == $before" <<<"$out"
want "revoking it again" 409 already-revoked POST "/v1/consents/$G_B/revoke" \
    "$(jws_body "$(revocation pb $NHS_B "$G_B")")"

# --- listing ------------------------------------------------------------------------------
st=$(curl -s -o "$E2E_TMP/l" -w '%{http_code}' -H "Authorization: Bearer $PA" "$ISS/v1/patients/$NHS_A/consents")
check "the person lists their grants, newest first, with status (200)" \
    bash -c "[ $st = 200 ] && jq -e '.nhs == \"$NHS_A\" and (.consents|length) == 3 and
        (.consents[0].jti == \"$G_DELEGATE\") and (.consents[0].iss == \"$NHS_B\") and
        (.consents[2].jti == \"$G1\") and (.consents[2].status == \"active\") and
        (.consents[2].grantee == {org: \"RX1\"}) and (.consents[1].effect == \"deny\") and
        ([.consents[].log_index] | . == (sort | reverse))' '$E2E_TMP/l' >/dev/null"
st=$(curl -s -o "$E2E_TMP/l" -w '%{http_code}' -H "Authorization: Bearer $PB" "$ISS/v1/patients/$NHS_A/consents")
check "the delegate's own token lists the person's grants while the delegation is active (200)" test "$st" = 200
st=$(curl -s -o "$E2E_TMP/l" -w '%{http_code}' -H "Authorization: Bearer $PC" "$ISS/v1/patients/$NHS_A/consents")
check "another person's token is refused (403)" \
    bash -c "[ $st = 403 ] && jq -e '.type == \"https://consentd.example/problems/forbidden\"' '$E2E_TMP/l' >/dev/null"
st=$(curl -s -o "$E2E_TMP/l" -w '%{http_code}' -H "Authorization: Bearer $AUD" "$ISS/v1/patients/$NHS_B/consents")
check "an auditor lists anyone's grants, a revoked one with its revocation (200)" \
    bash -c "[ $st = 200 ] && jq -e '.consents[0].status == \"revoked\" and (.consents[0].revoked.log_index|type) == \"number\" and (.consents[0].revoked.time|test(\"Z\$\"))' '$E2E_TMP/l' >/dev/null"
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $GP" "$ISS/v1/patients/$NHS_A/consents")
check "a client token without scope audit is refused (403)" test "$st" = 403
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PA" "$ISS/v1/patients/$NHS_A/pointers")
check "the pointers listing still answers on the shared route (200)" test "$st" = 200
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PA" "$ISS/v1/patients/$NHS_A/colour")
check "an unknown sub-path of a person is 404" test "$st" = 404
check "consentctl consent list with the person's key" \
    bash -c "\"$CTL\" consent list --nhs $NHS_A --key '$E2E_TMP/pa.key' | jq -e '(.consents|length) == 3' >/dev/null"

# --- decisions ----------------------------------------------------------------------------
st=$(decide A81001 $NHS_A TREAT '["gp-record"]')
check "implied: the GP practice that enrolled the person reads for TREAT" \
    bash -c "[ $st = 200 ] && jq -e '.decision == \"permit\" and .permitted == [\"gp-record\"] and .reasons[0].basis == \"implied\" and (.reasons[0].rule|length) > 0' '$E2E_TMP/d' >/dev/null"
st=$(decide A81001 $NHS_A TREAT '["mental-health"]')
check "a sensitive category is refused by default, even to the enrolling practice" \
    bash -c "[ $st = 200 ] && jq -e '.decision == \"deny\" and .permitted == [] and .reasons[0].basis == \"none\"' '$E2E_TMP/d' >/dev/null"
st=$(decide A81001 $NHS_A CAREMGT '["gp-record"]')
check "the implied rule is for TREAT only" jqt '.decision == "deny"' "$E2E_TMP/d"
st=$(decide RX1 $NHS_A TREAT '["gp-record","medications"]')
check "an explicit permit names its grant" \
    bash -c "[ $st = 200 ] && jq -e '.decision == \"permit\" and .reasons[0].grant.jti == \"$G1\" and .reasons[0].basis == \"permit\"' '$E2E_TMP/d' >/dev/null"
out=$("$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT \
    --datatypes mental-health --until 2030-01-01)
G_MH=$(jq -r .jti <<<"$out")
decide RX1 $NHS_A TREAT '["mental-health"]' >/dev/null
check "an explicit permit opens a sensitive category" \
    jqt ".decision == \"permit\" and .reasons[0].grant.jti == \"$G_MH\"" "$E2E_TMP/d"
out=$("$CTL" consent deny --nhs $NHS_A --key "$E2E_TMP/pa.key" --role hospital --purpose TREAT \
    --datatypes mental-health --until 2030-01-01)
D_MH=$(jq -r .jti <<<"$out")
decide RX1 $NHS_A TREAT '["mental-health","gp-record"]' >/dev/null
check "deny wins over permit, and the request is refused as a whole" \
    jqt ".decision == \"deny\" and .permitted == [\"gp-record\"] and (.reasons[] | select(.datatype == \"mental-health\") | .basis == \"deny\" and .grant.jti == \"$D_MH\")" "$E2E_TMP/d"
out=$("$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT \
    --datatypes test-results --until 2030-01-01)
G_TR=$(jq -r .jti <<<"$out")
decide RX1 $NHS_A TREAT '["test-results"]' >/dev/null
check "a new permit for test results" jqt '.decision == "permit"' "$E2E_TMP/d"
"$CTL" consent revoke --nhs $NHS_A --key "$E2E_TMP/pa.key" --jti "$G_TR" >/dev/null
decide RX1 $NHS_A TREAT '["test-results"]' >/dev/null
check "a revocation takes effect for the very next decision" \
    jqt '.decision == "deny" and .reasons[0].basis == "none"' "$E2E_TMP/d"
check "consentctl decide prints the decision and its reasons" \
    bash -c "\"$CTL\" decide --token '$ADMIN_TOKEN' --org RX1 --nhs $NHS_A --purpose TREAT --datatypes gp-record,test-results |
        grep -qx 'decision: deny' && \"$CTL\" decide --token '$ADMIN_TOKEN' --org RX1 --nhs $NHS_A --purpose TREAT --datatypes gp-record | grep -q '  gp-record: permit, grant $G1'"
st=$(curl -s -o "$E2E_TMP/d" -w '%{http_code}' -H "Authorization: Bearer $AUD" -H 'Content-Type: application/json' \
    -d "{\"org\":\"RX1\",\"nhs\":\"$NHS_A\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"],\"actions\":[\"read\"]}" "$ISS/v1/decisions")
check "an auditor's token may ask for a decision" test "$st" = 200
want "a decision for a person's token" 403 insufficient-scope POST /v1/decisions \
    "{\"org\":\"RX1\",\"nhs\":\"$NHS_A\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"]}" -H "Authorization: Bearer $PA"
want "a decision for an unknown organisation" 404 unknown-org POST /v1/decisions \
    "{\"org\":\"ZZZ9\",\"nhs\":\"$NHS_A\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"]}" "${ADMIN[@]}"
want "a decision for an unknown category" 400 unknown-category POST /v1/decisions \
    "{\"org\":\"RX1\",\"nhs\":\"$NHS_A\",\"purpose\":\"TREAT\",\"datatypes\":[\"horoscope\"]}" "${ADMIN[@]}"
want "a decision for an unknown purpose" 400 unknown-purpose POST /v1/decisions \
    "{\"org\":\"RX1\",\"nhs\":\"$NHS_A\",\"purpose\":\"NOPE\",\"datatypes\":[\"gp-record\"]}" "${ADMIN[@]}"
want "a decision for a write" 400 invalid-field POST /v1/decisions \
    "{\"org\":\"RX1\",\"nhs\":\"$NHS_A\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"],\"actions\":[\"write\"]}" "${ADMIN[@]}"

check "no JWS is in the server's log" bash -c "! grep -q -- '${G1}\|eyJ' '$E2E_TMP/server.log'"
check "server stops cleanly" stop_server
check "a replay of the log rebuilds the same state, consents included" \
    bash -c "\"$CONSENTD\" serve --data '$DATA' --rebuild >'$E2E_TMP/rebuild' 2>&1 && grep -q 'the derived state matches the stored state' '$E2E_TMP/rebuild'"
summary
