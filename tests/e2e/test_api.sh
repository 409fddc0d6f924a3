#!/usr/bin/env bash
# The log's HTTP API: init output, appends, proofs, consentctl verification, and every kind of
# bad input answered with a precise problem that appends nothing.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

DATA=$E2E_TMP/data
PORT=$(free_port)
check "init prints admin-token and log-key" init_data "$DATA"
check "init makes the directory 0700 and key files 0600" \
    test "$(stat -c %a "$DATA")" = 700 -a "$(stat -c %a "$DATA/checkpoint.key")" = 600 \
    -a "$(stat -c %a "$DATA/token.key")" = 600
"$CONSENTD" init --data "$DATA" >/dev/null 2>&1
check "init refuses a directory that already holds a service" test $? -ne 0
check "serve --check-config says configuration OK" \
    bash -c "\"$CONSENTD\" serve --data \"$DATA\" --check-config | grep -qx 'configuration OK'"
check "server starts" start_server "$DATA"

check "GET /log/key is the key init printed" test "$(curl -s "$(URL)/log/key")" = "$LOG_KEY"
check "the first checkpoint is the empty tree" test "$(checkpoint_size)" = 0

status=$(post_org A81001)
check "POST /v1/orgs answers 201" test "$status" = 201
check "the answer carries log_index 0 and the ODS code" \
    jq -e '.log_index == 0 and .ods == "A81001" and (.leaf_hash|length) == 44 and .checkpoint_size >= 1' "$E2E_TMP/body" >/dev/null
check "the checkpoint covers the acknowledged write" test "$(checkpoint_size)" -ge 1
for i in 2 3 4 5; do post_org "A8100$i" >/dev/null; done
check "five appends give a checkpoint of five" test "$(checkpoint_size)" = 5

# problem ODS BODY EXPECTED_STATUS EXPECTED_TYPE [curl args...]
problem() {
    local name=$1 body=$2 want=$3 type=$4
    shift 4
    local before after status
    before=$(checkpoint_size)
    status=$(curl -s -o "$E2E_TMP/p" -w '%{http_code}' "$@" --data-binary "$body" "$(URL)/v1/orgs")
    after=$(checkpoint_size)
    if [ "$status" = "$want" ] && [ "$before" = "$after" ] &&
        jq -e --arg t "https://consentd.example/problems/$type" \
            '.type == $t and (.detail|length) > 10 and .status == ('"$want"')' "$E2E_TMP/p" >/dev/null; then
        ok "$name → $want $type"
    else
        fail "$name → wanted $want $type, got $status $(head -c 300 "$E2E_TMP/p") (size $before→$after)"
    fi
}
A=(-H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json')
problem "known ODS code" '{"ods":"A81001","name":"x","type":"gp-practice"}' 409 conflict "${A[@]}"
problem "malformed JSON" '{"ods":"A1","name":' 400 invalid-json "${A[@]}"
problem "truncated JSON" '{"ods":"B81001","name":"x","type":"gp-practice"' 400 invalid-json "${A[@]}"
problem "trailing bytes" '{"ods":"B81001","name":"x","type":"gp-practice"} x' 400 invalid-json "${A[@]}"
problem "duplicate member" '{"ods":"B81001","ods":"B81002","name":"x","type":"gp-practice"}' 400 invalid-json "${A[@]}"
problem "not an object" '["B81001"]' 400 invalid-json "${A[@]}"
problem "empty body" '' 400 invalid-json "${A[@]}"
problem "missing name" '{"ods":"B81001","type":"gp-practice"}' 400 invalid-field "${A[@]}"
problem "unknown member" '{"ods":"B81001","name":"x","type":"gp-practice","colour":"red"}' 400 invalid-field "${A[@]}"
problem "wrong type of value" '{"ods":81001,"name":"x","type":"gp-practice"}' 400 invalid-field "${A[@]}"
problem "lower-case ODS code" '{"ods":"b81001","name":"x","type":"gp-practice"}' 400 invalid-field "${A[@]}"
problem "ODS code too short" '{"ods":"B8","name":"x","type":"gp-practice"}' 400 invalid-field "${A[@]}"
problem "ODS code too long" '{"ods":"B8100100000","name":"x","type":"gp-practice"}' 400 invalid-field "${A[@]}"
problem "unknown organisation type" '{"ods":"B81001","name":"x","type":"spaceship"}' 400 invalid-field "${A[@]}"
problem "endpoint not https" '{"ods":"B81001","name":"x","type":"gp-practice","endpoint":"ftp://x.example/"}' 400 invalid-field "${A[@]}"
problem "control character in name" '{"ods":"B81001","name":"a\u0007b","type":"gp-practice"}' 400 invalid-field "${A[@]}"
problem "invalid UTF-8" $'{"ods":"B81001","name":"\xff","type":"gp-practice"}' 400 invalid-json "${A[@]}"
problem "no admin token" '{"ods":"B81001","name":"x","type":"gp-practice"}' 401 unauthorized -H 'Content-Type: application/json'
problem "wrong admin token" '{"ods":"B81001","name":"x","type":"gp-practice"}' 401 unauthorized -H 'Authorization: Bearer nope' -H 'Content-Type: application/json'
problem "form instead of JSON" 'ods=B81001' 415 unsupported-media-type -H "Authorization: Bearer $ADMIN_TOKEN"
big=$(printf '{"ods":"B81001","name":"%070000d","type":"gp-practice"}' 0)
problem "body over 64 KiB" "$big" 413 body-too-large "${A[@]}"
huge_status=$(head -c 2000000 /dev/zero | tr '\0' 'a' | curl -s -o /dev/null -w '%{http_code}' "${A[@]}" --data-binary @- "$(URL)/v1/orgs")
check "a 2 MB body is refused with 413 before it is read" test "$huge_status" = 413

q() { curl -s -o "$E2E_TMP/q" -w '%{http_code}' "$(URL)$1"; }
check "inclusion proof for a size beyond the tree is 400" test "$(q '/log/proof/inclusion?index=0&size=99')" = 400
check "inclusion proof with index >= size is 400" test "$(q '/log/proof/inclusion?index=5&size=5')" = 400
check "inclusion proof with a non-number is 400" test "$(q '/log/proof/inclusion?index=x&size=5')" = 400
check "inclusion proof with a leading zero is 400" test "$(q '/log/proof/inclusion?index=01&size=5')" = 400
check "inclusion proof with an unknown parameter is 400" test "$(q '/log/proof/inclusion?index=1&size=5&x=1')" = 400
check "inclusion proof with a repeated parameter is 400" test "$(q '/log/proof/inclusion?index=1&index=2&size=5')" = 400
check "consistency from 0 is 400" test "$(q '/log/proof/consistency?from=0&to=5')" = 400
check "consistency beyond the tree is 400" test "$(q '/log/proof/consistency?from=1&to=6')" = 400
check "entries without the admin token is 401" test "$(q '/log/entries?start=0&end=5')" = 401
check "unknown path is 404 problem+json" test "$(q '/nope')" = 404
check "wrong method is 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$(URL)/log/checkpoint")" = 405
check "every response carries X-Request-Id" \
    bash -c "curl -si '$(URL)/nope' | grep -qiE '^x-request-id: [0-9a-f]{32}'"
check "inclusion proof with percent-encoded names works" \
    test "$(q '/log/proof/inclusion?%69ndex=1&size=5')" = 200

check "consentctl audit verify passes" \
    "$CONSENTCTL" audit verify --url "$(URL)" --key "$LOG_KEY" --token "$ADMIN_TOKEN" --save "$E2E_TMP/cp5"
for i in 0 1 2 3 4; do
    check "consentctl audit inclusion of entry $i" \
        "$CONSENTCTL" audit inclusion --url "$(URL)" --key "$LOG_KEY" --token "$ADMIN_TOKEN" --index $i
done
"$CONSENTCTL" audit verify --url "$(URL)" --key "consentd.example/log+00000000+AfLBsFRc6JyMxUZRQ8LPlHXUBLPPnfcbmRmOahrBSwa7" --token "$ADMIN_TOKEN" >/dev/null 2>&1
check "consentctl refuses a malformed or wrong key" test $? -ne 0
other=$E2E_TMP/other
"$CONSENTD" init --data "$other" >"$E2E_TMP/other.out"
OTHER_KEY=$(sed -n 's/^log-key: //p' "$E2E_TMP/other.out")
"$CONSENTCTL" audit verify --url "$(URL)" --key "$OTHER_KEY" --token "$ADMIN_TOKEN" >"$E2E_TMP/o" 2>&1
code=$?
check "consentctl exits 65 for a checkpoint signed by another key" test $code = 65
check "… and says what did not verify" grep -q "does not verify" "$E2E_TMP/o"

check "metrics count the appends" bash -c "curl -s '$(URL)/metrics' | grep -qx 'consentd_log_size 5'"
check "readyz is ready" test "$(q /readyz)" = 200
check "request log lines are JSON without query strings" \
    bash -c "grep '\"path\":\"/log/proof/inclusion\"' '$E2E_TMP/server.log' | head -1 | jq -e '.request_id and .status' >/dev/null && ! grep -q 'index=' '$E2E_TMP/server.log'"
check "the admin token never reaches the server log" bash -c "! grep -qF '$ADMIN_TOKEN' '$E2E_TMP/server.log'"

stop_server
check "SIGTERM stops the server with status 0" test $? = 0
start_server "$DATA"
check "a restart continues the same tree" test "$(checkpoint_size)" = 5
post_org A81099 >/dev/null
check "appends after a restart extend it, consistent with before" \
    "$CONSENTCTL" audit verify --url "$(URL)" --key "$LOG_KEY" --token "$ADMIN_TOKEN" --previous "$E2E_TMP/cp5"
timeout 10 "$CONSENTD" serve --data "$DATA" --listen "127.0.0.1:$(free_port)" >"$E2E_TMP/second" 2>&1
check "a second consentd on the same directory is refused" grep -q "in use by another consentd" "$E2E_TMP/second"
stop_server
check "serve --rebuild derives the same state from the log" \
    bash -c "\"$CONSENTD\" serve --data \"$DATA\" --rebuild 2>/dev/null | grep -q 'replayed 6 entries; the derived state matches'"

summary
