#!/usr/bin/env bash
# Token-key rotation (issue 5): `consentctl admin rotate-token-key` makes a new token key,
# recorded by a key.rotate entry; the JWKS lists the new key, then the retired one; tokens the
# retired key signed still introspect active, open consentd's own endpoints and verify offline
# (consentctl token verify); new tokens carry the new kid; a second rotation at once is 409,
# saying when it can be done; the retired private key file is gone; a restart keeps all of it,
# refuses a missing or wrong current key file, and removes a retired key's leftover file;
# serve --rebuild agrees; anyone but the admin is refused 401.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

NHS_A=9434765919
DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
GP_EP="http://127.0.0.1:9/gp/fhir"
CA_TYPE=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
CTL=$CONSENTCTL
jqt() { jq -e "$@" >/dev/null; }
# b64part N JWT: the JWT's part N (1 header, 2 claims), decoded.
b64part() {
    local p
    p=$(cut -d. -f"$1" <<<"$2" | tr '_-' '/+')
    while [ $((${#p} % 4)) != 0 ]; do p="$p="; done
    base64 -d <<<"$p"
}
kid_of() { b64part 1 "$1" | jq -r .kid; }
jwks_kids() { curl -s "$ISS/.well-known/jwks.json" | jq -c '[.keys[].kid]'; }
key_files() { # the number of token key files in the data directory
    local f n=0
    for f in "$DATA"/token*.key; do [ -e "$f" ] && n=$((n + 1)); done
    echo "$n"
}

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init" test -n "$ADMIN_TOKEN"
check "server starts" start_server "$DATA"
export CONSENTD_URL=$ISS

# --- a practice that enrolled A reads her GP record (the implied rule), as in test_tokens.sh --
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice --endpoint "$GP_EP" >/dev/null
for k in gp gpr pa; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
"$CTL" admin client add --token "$ADMIN_TOKEN" --id gp-en --org A81001 --key "$E2E_TMP/gp.key" \
    --roles enroller >/dev/null
"$CTL" admin client add --token "$ADMIN_TOKEN" --id gp-req --org A81001 \
    --key "$E2E_TMP/gpr.key" --roles requester,custodian >/dev/null
GP=$("$CTL" client token --id gp-en --key "$E2E_TMP/gp.key" --scope enrol)
code=$("$CTL" patient code --nhs $NHS_A --token "$GP" | sed -n 's/^code: //p')
"$CTL" patient enrol --nhs $NHS_A --code "$code" --key "$E2E_TMP/pa.key" >/dev/null
GPC=$("$CTL" client token --id gp-req --key "$E2E_TMP/gpr.key" --scope "pointers introspect")
curl -s -o /dev/null -H "Authorization: Bearer $GPC" -H 'Content-Type: application/json' \
    -d "{\"nhs\":\"$NHS_A\",\"category\":\"gp-record\",\"type\":{\"system\":\"http://snomed.info/sct\",\"code\":\"824321000000109\",\"display\":\"Summary record\"},\"url\":\"$GP_EP/summary\",\"content_type\":\"application/pdf\"}" \
    "$ISS/v1/pointers"

# access_token: a consent-checked token for A's GP record, printed.
access_token() {
    curl -s -d grant_type=client_credentials -d "client_assertion_type=$CA_TYPE" \
        --data-urlencode "client_assertion=$("$CTL" client assertion --id gp-req \
            --key "$E2E_TMP/gpr.key" --aud "$ISS/oauth2/token")" \
        --data-urlencode "authorization_details=[{\"type\":\"care-record-access\",\"identifier\":\"$NHS_A\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"],\"actions\":[\"read\"]}]" \
        "$ISS/oauth2/token" | jq -r .access_token
}
# active TOKEN: introspection with the custodian's bearer token says active.
active() {
    curl -s -H "Authorization: Bearer $GPC" --data-urlencode "token=$1" \
        "$ISS/oauth2/introspect" | jq -e '.active == true' >/dev/null
}
verifies() { # verifies TOKEN KID: consentctl token verify, as a record holder, names KID
    "$CTL" token verify --url "$ISS" --aud "$GP_EP" "$1" 2>&1 | grep -q "key $2,"
}

T1=$(access_token)
KID0=$(kid_of "$T1")
check "before: the JWKS has one key, the one the token names" \
    test "$(jwks_kids)" = "[\"$KID0\"]"
check "before: the token introspects active" active "$T1"

# --- rotate -------------------------------------------------------------------------------
cp -p "$DATA/token.key" "$E2E_TMP/token0.key" # to play a stop before the clean-up, below
before=$(checkpoint_size)
# Two at once: one wins; the other is refused, in log order if not before, and its key file
# is removed.
"$CTL" admin rotate-token-key --token "$ADMIN_TOKEN" >"$E2E_TMP/r1" 2>&1 &
p1=$!
"$CTL" admin rotate-token-key --token "$ADMIN_TOKEN" >"$E2E_TMP/r2" 2>&1 &
p2=$!
wait $p1
rc1=$?
wait $p2
rc2=$?
if [ $rc1 = 0 ]; then out=$(cat "$E2E_TMP/r1") lost=$E2E_TMP/r2; else out=$(cat "$E2E_TMP/r2") lost=$E2E_TMP/r1; fi
KID1=$(jq -r .kid <<<"$out" 2>/dev/null)
check "two rotations at once: one succeeds, the other exits 65 (409)" \
    bash -c "[ \$(( $rc1 + $rc2 )) = 65 ] && grep -q 'answered 409' '$lost'"
check "consentctl admin rotate-token-key: a new kid, the old one retired, at the next index" \
    jqt --arg k0 "$KID0" --argjson b "$before" \
    '.retired == $k0 and (.kid | length) == 43 and .kid != $k0 and .log_index == $b and
     (keys | sort) == ["kid","log_index","retired"]' <<<"$out"
check "one entry was appended" test "$(checkpoint_size)" = $((before + 1))
check "the JWKS lists the new key, then the retired one" \
    test "$(jwks_kids)" = "[\"$KID1\",\"$KID0\"]"
curl -s "$ISS/.well-known/jwks.json" >"$E2E_TMP/jwks"
check "both are OKP Ed25519 keys for EdDSA" \
    jqt '[.keys[] | .kty == "OKP" and .crv == "Ed25519" and .alg == "EdDSA" and .use == "sig"] == [true, true]' \
    "$E2E_TMP/jwks"
curl -s -H "Authorization: Bearer $ADMIN_TOKEN" "$ISS/log/entries?start=$before&end=$((before + 1))" |
    jq -r '.entries[0]' | base64 -d >"$E2E_TMP/entry"
check "the key.rotate entry holds exactly the added and retired public keys" \
    jqt --arg k0 "$KID0" --arg k1 "$KID1" --slurpfile j "$E2E_TMP/jwks" \
    '(keys | sort) == ["added","retired","time","type","v"] and .type == "key.rotate" and
     .added == {kty:"OKP",crv:"Ed25519",x:$j[0].keys[0].x,kid:$k1} and
     .retired == {kty:"OKP",crv:"Ed25519",x:$j[0].keys[1].x,kid:$k0}' "$E2E_TMP/entry"
check "the new key's file is token-<kid>.key, mode 0600; the retired private key is gone" \
    bash -c "[ \"\$(stat -c %a '$DATA/token-$KID1.key')\" = 600 ] && [ ! -e '$DATA/token.key' ]"
check "… and it is the only token key file: the refused rotation's was removed" \
    test "$(key_files)" = 1

check "a token issued before still introspects active" active "$T1"
check "… and verifies offline with the retired key from the JWKS" verifies "$T1" "$KID0"
check "a client token signed by the retired key still opens consentd's endpoints" \
    bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $GPC' \
        --data-urlencode token=x '$ISS/oauth2/introspect')\" = 200 ]"
T2=$(access_token)
check "a new token carries the new kid" test "$(kid_of "$T2")" = "$KID1"
check "… introspects active" active "$T2"
check "… and verifies offline with the new key" verifies "$T2" "$KID1"

# --- refusals -------------------------------------------------------------------------------
before=$(checkpoint_size)
"$CTL" admin rotate-token-key --token "$ADMIN_TOKEN" >"$E2E_TMP/o" 2>&1
rc=$?
check "a second rotation at once: consentctl exits 65, saying until when the old key is published" \
    bash -c "[ $rc = 65 ] && grep -q 'answered 409: token key $KID0, retired at .*, is published until .*; rotate again' '$E2E_TMP/o'"
st=$(curl -s -o "$E2E_TMP/b" -D "$E2E_TMP/h" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $ADMIN_TOKEN" "$ISS/v1/keys/rotate")
check "… and POST /v1/keys/rotate (no body) is 409 problem+json; the log and key files unchanged" \
    bash -c "[ $st = 409 ] && grep -qi '^content-type: application/problem+json' '$E2E_TMP/h' &&
        jq -e '.status == 409 and (.detail | contains(\"published until\"))' '$E2E_TMP/b' >/dev/null &&
        [ $(checkpoint_size) = $before ] && [ $(key_files) = 1 ]"
st=$(curl -s -o "$E2E_TMP/b" -w '%{http_code}' -X POST "$ISS/v1/keys/rotate")
check "without the admin token: 401" test "$st" = 401
st=$(curl -s -o "$E2E_TMP/b" -w '%{http_code}' -X POST -H "Authorization: Bearer $GPC" \
    "$ISS/v1/keys/rotate")
check "with a client's token: 401" test "$st" = 401
st=$(curl -s -o "$E2E_TMP/b" -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d '{"kid":"mine"}' "$ISS/v1/keys/rotate")
check "a body with members: 400" \
    bash -c "[ $st = 400 ] && jq -e '.detail | contains(\"\\\"kid\\\"\")' '$E2E_TMP/b' >/dev/null"
check "nothing was appended by the refusals" test "$(checkpoint_size)" = "$before"

# --- restart --------------------------------------------------------------------------------
check "server stops cleanly" stop_server
check "server restarts" start_server "$DATA"
check "after a restart the JWKS still lists both keys, new first" \
    test "$(jwks_kids)" = "[\"$KID1\",\"$KID0\"]"
check "the token of the retired key still introspects active" active "$T1"
check "… and verifies offline" verifies "$T1" "$KID0"
T3=$(access_token)
check "a token issued after the restart carries the new kid" test "$(kid_of "$T3")" = "$KID1"
check "server stops" stop_server
"$CONSENTD" serve --data "$DATA" --rebuild >"$E2E_TMP/rebuild" 2>&1
check "serve --rebuild replays the key.rotate entry into the same state" \
    bash -c "[ $? = 0 ] && grep -q 'matches the stored state' '$E2E_TMP/rebuild'"

# --- start-up refuses a current key it cannot use; a retired key's leftover file is removed -
mv "$DATA/token-$KID1.key" "$E2E_TMP/k1"
"$CONSENTD" serve --data "$DATA" --check-config >"$E2E_TMP/o" 2>&1
rc=$?
check "without the current key's file serve refuses to start (78), naming the file" \
    bash -c "[ $rc = 78 ] && grep -q 'name $KID1 as the current token key; restore its key file token-$KID1.key' '$E2E_TMP/o'"
"$CTL" keygen --out "$DATA/token-$KID1.key" >/dev/null
"$CONSENTD" serve --data "$DATA" --check-config >"$E2E_TMP/o" 2>&1
rc=$?
check "with another key in that file serve refuses to start (78), naming both kids" \
    bash -c "[ $rc = 78 ] && grep -q 'token-$KID1.key holds key .*, not the current key $KID1' '$E2E_TMP/o'"
rm -f "$DATA/token-$KID1.key"
mv "$E2E_TMP/k1" "$DATA/token-$KID1.key"
# A stop between the rotation's commit and its clean-up leaves the retired key's file.
cp -p "$E2E_TMP/token0.key" "$DATA/token.key"
check "check-config accepts the restored key and changes no file" \
    bash -c "\"$CONSENTD\" serve --data '$DATA' --check-config | grep -qx 'configuration OK' &&
        [ -e '$DATA/token.key' ]"
check "the server starts again" start_server "$DATA"
check "… and removes the retired key's private key file that was left behind" \
    bash -c "[ ! -e '$DATA/token.key' ] && grep -q 'removed .*/token.key, the private key of retired token key $KID0' '$E2E_TMP/server.log'"
check "… while the retired key still verifies" verifies "$T1" "$KID0"
check "the server log never holds a token" \
    bash -c "! grep -q -e '${T1:0:40}' -e '${T2:0:40}' '$E2E_TMP/server.log'"
check "server stops cleanly" stop_server

summary
