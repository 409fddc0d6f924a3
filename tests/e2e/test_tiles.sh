#!/usr/bin/env bash
# The log as C2SP tlog-tiles: a client written from the spec (tiles.mjs) rebuilds the signed
# checkpoint's root from hash tiles and checks entry bundles against GET /log/entries; full and
# partial tiles, tiles beyond the tree (404), malformed paths (400), caching headers, and entry
# bundles only for auditors (401 without a token, 403 without scope audit).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

NHS=9434765919
DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init" test -n "$ADMIN_TOKEN"
check "server starts" start_server "$DATA"
export CONSENTD_URL=$ISS
CTL=$CONSENTCTL

# An auditor, an enroller (whose token lacks scope audit), and a person, whose enrolment puts
# an NHS number in the log: entry bundles name people.
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice >/dev/null
for k in gp aud pa; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
"$CTL" admin client add --token "$ADMIN_TOKEN" --id gp-1 --org A81001 --key "$E2E_TMP/gp.key" \
    --roles enroller >/dev/null
"$CTL" admin client add --token "$ADMIN_TOKEN" --id aud-1 --org A81001 --key "$E2E_TMP/aud.key" \
    --roles auditor >/dev/null
GP=$("$CTL" client token --id gp-1 --key "$E2E_TMP/gp.key" --scope enrol)
AUD=$("$CTL" client token --id aud-1 --key "$E2E_TMP/aud.key" --scope audit)
code=$("$CTL" patient code --nhs $NHS --token "$GP" | sed -n 's/^code: //p')
"$CTL" patient enrol --nhs $NHS --code "$code" --key "$E2E_TMP/pa.key" >/dev/null
check "an auditor, an enroller and a person enrolled" bash -c "[ -n '$GP' ] && [ -n '$AUD' ] && [ -n '$code' ]"

# add_orgs FROM TO: one org entry each, four requests at a time (they share group commits).
add_orgs() {
    seq "$1" "$2" | xargs -P 4 -I{} curl -s -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' \
        -d '{"ods":"T{}","name":"Org {}","type":"gp-practice"}' "$(URL)/v1/orgs"
}
add_orgs 1000 1299
SIZE1=$(checkpoint_size)
check "300 organisations appended" test "$SIZE1" -ge 300

# tile PATH [curl args]: prints the status; the body is in $E2E_TMP/t, headers in $E2E_TMP/h.
tile() {
    local p=$1
    shift
    curl -s -D "$E2E_TMP/h" -o "$E2E_TMP/t" -w '%{http_code}' "$@" "$(URL)/log/tile/$p"
}
header() { sed -n "s/^$1: //Ip" "$E2E_TMP/h" | tr -d '\r'; }
bytes() { stat -c %s "$E2E_TMP/t"; }
jqt() { jq -e "$@" >/dev/null; }
same_bytes() { # same_bytes PATH FILE N: tile PATH is the first N bytes of FILE
    cmp -s <(curl -s "$(URL)/log/tile/$1") <(head -c "$3" "$2")
}
problem_is() { # problem_is STATUS TYPE: the last answer is this problem+json
    jq -e --arg t "https://consentd.example/problems/$2" \
        '.type == $t and .status == '"$1"' and (.detail|length) > 20' "$E2E_TMP/t" >/dev/null &&
        [ "$(header content-type)" = application/problem+json ]
}
W1=$((SIZE1 % 256))
P1=$(printf '0/001.p/%d' "$W1")

check "a full level-0 tile is 256 hashes" test "$(tile 0/000)" = 200 -a "$(bytes)" = 8192
check "… served as application/octet-stream" test "$(header content-type)" = application/octet-stream
check "… cacheable by anyone, for good" \
    test "$(header cache-control)" = "public, max-age=31536000, immutable"
cp "$E2E_TMP/t" "$E2E_TMP/tile0"
check "the rightmost level-0 tile is served partial (.p/$W1)" \
    test "$(tile "$P1")" = 200 -a "$(bytes)" = $((W1 * 32))
cp "$E2E_TMP/t" "$E2E_TMP/partial1"
check "a narrower partial tile (an older checkpoint's) is its prefix" \
    same_bytes 0/001.p/7 "$E2E_TMP/partial1" 224
check "a partial tile of a full tile is its prefix" same_bytes 0/000.p/9 "$E2E_TMP/tile0" 288
check "the level-1 tile is partial, of width 1" test "$(tile 1/000.p/1)" = 200 -a "$(bytes)" = 32
check "the full form of a partial tile is 404" test "$(tile 0/001)" = 404
check "… a problem saying which width to ask for" \
    jqt --arg w "ask for .p/$W1" '.detail | contains($w)' "$E2E_TMP/t"
check "… with beyond-tree as its type" problem_is 404 beyond-tree
check "… and not cached" test "$(header cache-control)" = no-store
check "a partial tile wider than the tree is 404" test "$(tile "0/001.p/$((W1 + 1))")" = 404
check "the tile after the rightmost is 404" test "$(tile 0/002.p/1)" = 404
check "a level-2 tile of a tree under 65,536 entries is 404" test "$(tile 2/000.p/1)" = 404
check "a level-63 tile is 404" test "$(tile 63/000)" = 404
check "an index of 2^64 − 1 is 404" test "$(tile 0/x018/x446/x744/x073/x709/x551/615)" = 404
for p in 0/x000/001 00/000 64/000 0/1 0/0001 0/000.p/0 0/000.p/256 0/000.p/01 0/000/001 \
    0/x001 0/000.q/1 entries/ entries 0/x018/x446/x744/x073/x709/x551/616 'a/000'; do
    st=$(tile "$p")
    if [ "$st" = 400 ] && problem_is 400 invalid-tile-path; then
        ok "malformed path $p → 400 invalid-tile-path"
    else
        fail "malformed path $p → $st $(head -c 200 "$E2E_TMP/t")"
    fi
done
check "a query string on a tile is 400" test "$(tile '0/000?x=1')" = 400
check "POST to a tile is 405" test "$(tile 0/000 -X POST)" = 405

check "an entry bundle without a token is 401" test "$(tile entries/000)" = 401
check "… a problem with a WWW-Authenticate challenge" \
    bash -c "jq -e '.status == 401' '$E2E_TMP/t' >/dev/null && grep -qi '^www-authenticate: Bearer' '$E2E_TMP/h'"
check "an entry bundle with a token without scope audit is 403" \
    test "$(tile entries/000 -H "Authorization: Bearer $GP")" = 403
check "an entry bundle with a wrong token is 401" \
    test "$(tile entries/000 -H 'Authorization: Bearer nope')" = 401
check "the auditor gets a full entry bundle" \
    test "$(tile entries/000 -H "Authorization: Bearer $AUD")" = 200
check "… cacheable only privately" \
    test "$(header cache-control)" = "private, max-age=31536000, immutable"
check "… holding the person's enrolment" grep -q "$NHS" "$E2E_TMP/t"
check "the admin gets the partial entry bundle" \
    test "$(tile "entries/001.p/$W1" -H "Authorization: Bearer $ADMIN_TOKEN")" = 200
check "an entry bundle beyond the tree is 404" \
    test "$(tile entries/002.p/1 -H "Authorization: Bearer $AUD")" = 404

# node_checks [TOKEN]: the spec client's checks, one e2e line each.
node_checks() {
    local line
    while IFS= read -r line; do
        case $line in
        ok\ *) ok "tiles.mjs: ${line#ok }" ;;
        \#*) echo "e2e: $line" ;;
        *) fail "tiles.mjs: ${line#FAIL }" ;;
        esac
    done < <(node tests/e2e/tiles.mjs "$(URL)" "$@" 2>&1)
}
node_checks "$AUD"

# The tree grows past two full level-0 tiles: what was partial is now full, and the older
# partial tile is still served, byte for byte, for clients of the older checkpoint.
add_orgs 1300 1519
SIZE2=$(checkpoint_size)
check "the log grew past 512 entries" test "$SIZE2" -ge 512
check "the formerly partial tile is now full" test "$(tile 0/001)" = 200 -a "$(bytes)" = 8192
check "the older partial tile is still served, byte for byte" \
    same_bytes "$P1" "$E2E_TMP/partial1" $((W1 * 32))
check "the level-1 tile now has width 2" test "$(tile 1/000.p/2)" = 200 -a "$(bytes)" = 64
node_checks "$AUD"

check "the request log has the tile requests" grep -q '"path":"/log/tile/' "$E2E_TMP/server.log"
check "the request log never names the person" bash -c "! grep -q '$NHS' '$E2E_TMP/server.log'"
check "tokens never reach the server log" \
    bash -c "! grep -qF '$ADMIN_TOKEN' '$E2E_TMP/server.log' && ! grep -qF '$AUD' '$E2E_TMP/server.log'"
stop_server
check "SIGTERM stops the server with status 0" test $? = 0

summary
