#!/usr/bin/env bash
# The auditor (issue 6): consentctl audit fetch copies a real log (built here through the
# running service: organisations, clients, people, a grant, tokens by grant and by the implied
# rule, a key rotation, a retirement) and resumes; audit verify finds nothing in it, and its
# replay derives the same state as the service and `consentd serve --rebuild`; state-at and
# access answer from it. Then the copy is tampered with, each time on a fresh copy: a flipped
# bit, a dropped entry, two entries swapped, a grant re-signed by another key under a whole
# checkpoint forged with the operator's key, a grant signed by a replaced key; and the service
# itself forks (two data directories from one snapshot) and is rolled back (an older data
# directory restored). Each is detected, with a finding naming the entry index.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

NHS_A=9434765919
NHS_B=9434765870
DATA=$E2E_TMP/data
COPY=$E2E_TMP/copy
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
CA_TYPE=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
CTL=$CONSENTCTL
export CONSENTD_URL=$ISS
jqt() { jq -e "$@" >/dev/null; }

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
LOG_KEY=$(sed -n 's/^log-key: //p' <<<"$out")
check "init" test -n "$ADMIN_TOKEN"
check "server starts" start_server "$DATA"

# --- a real log, as test_tokens.sh builds one ------------------------------------------
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice --endpoint "http://127.0.0.1:9/gp/fhir" >/dev/null
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods RX1 --name 'City Hospital' --type hospital \
    --endpoint "http://127.0.0.1:9/rx1/fhir" >/dev/null
for k in gp gpr rx rxe aud pa pa2 pb other; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
client() { # client ID ORG KEY ROLES
    "$CTL" admin client add --token "$ADMIN_TOKEN" --id "$1" --org "$2" --key "$E2E_TMP/$3.key" \
        --roles "$4" >/dev/null
}
client gp-en A81001 gp enroller
client gp-req A81001 gpr requester,custodian
client rx-req RX1 rx requester
client aud-1 A81001 aud auditor
client rx-em RX1 rxe emergency
GP=$("$CTL" client token --id gp-en --key "$E2E_TMP/gp.key" --scope enrol)
AUD=$("$CTL" client token --id aud-1 --key "$E2E_TMP/aud.key" --scope audit)
enrol() { # enrol NHS KEY TOKEN
    local code
    code=$("$CTL" patient code --nhs "$1" --token "$3" | sed -n 's/^code: //p')
    "$CTL" patient enrol --nhs "$1" --code "$code" --key "$E2E_TMP/$2.key" >/dev/null
}
enrol $NHS_A pa "$GP"
enrol $NHS_B pb "$GP"
G1=$("$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT \
    --datatypes gp-record --until 2030-01-01 | jq -r .jti)
token() { # token ID KEY NHS [EXTRA_MEMBERS]: POST /oauth2/token for gp-record, TREAT; prints the status
    curl -s -o "$E2E_TMP/t" -w '%{http_code}' -d grant_type=client_credentials \
        -d "client_assertion_type=$CA_TYPE" \
        --data-urlencode "client_assertion=$("$CTL" client assertion --id "$1" \
            --key "$E2E_TMP/$2.key" --aud "$ISS/oauth2/token")" \
        --data-urlencode "authorization_details=[{\"type\":\"care-record-access\",\"identifier\":\"$3\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"]${4:+,$4}}]" \
        "$ISS/oauth2/token"
}
st1=$(token rx-req rx $NHS_A)
st2=$(token gp-req gpr $NHS_A)
st3=$(token gp-req gpr $NHS_B)
st4=$(token rx-em rxe $NHS_B '"break_glass":{"reason":"found unconscious"}')
check "tokens: by A's grant to RX1, twice by the implied rule, once by break-glass (200 each)" \
    test "$st1 $st2 $st3 $st4" = "200 200 200 200"
"$CTL" patient rotate --nhs $NHS_A --key "$E2E_TMP/pa.key" --new-key "$E2E_TMP/pa2.key" >/dev/null
"$CTL" admin client retire --token "$ADMIN_TOKEN" --id rx-req --reason 'contract ended' >/dev/null
SIZE=$(checkpoint_size)
check "the log holds $SIZE entries" test "$SIZE" -ge 14

entry_index() { # entry_index JQ_FILTER: the index of the first entry of the copy matching it
    python3 - "$COPY/entries" "$1" <<'EOF'
import json, subprocess, sys
b = open(sys.argv[1], 'rb').read()
i = n = 0
while i < len(b):
    ln = b[i] << 8 | b[i + 1]
    e = b[i + 2:i + 2 + ln]
    if subprocess.run(['jq', '-e', sys.argv[2]], input=e, capture_output=True).returncode == 0:
        print(n)
        break
    i += 2 + ln
    n += 1
EOF
}

# --- fetch, resume, verify --------------------------------------------------------------
"$CTL" audit fetch --url "$ISS" --dir "$COPY" --token "$AUD" >"$E2E_TMP/o" 2>&1
st=$?
check "audit fetch needs --key the first time (64)" test "$st" = 64
check "audit fetch copies the log with an auditor's token" \
    "$CTL" audit fetch --url "$ISS" --dir "$COPY" --key "$LOG_KEY" --token "$AUD"
check "the copy: key, entries as tile bundles, leaves, checkpoint, checkpoints/" \
    bash -c "[ \"\$(cat '$COPY/key')\" = '$LOG_KEY' ] && [ \$(stat -c %s '$COPY/leaves') = \$(($SIZE * 32)) ] &&
        [ \"\$(sed -n 2p '$COPY/checkpoint')\" = $SIZE ] && [ \$(ls '$COPY/checkpoints' | wc -l) = 1 ]"
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods B82002 --name 'Hillside Practice' \
    --type gp-practice >/dev/null
"$CTL" audit fetch --url "$ISS" --dir "$COPY" --token "$AUD" >"$E2E_TMP/o" 2>&1
check "a second fetch fetches only what is new, from its leaf cache" \
    grep -q "^fetched 1 new entries ($SIZE to $((SIZE + 1)));.*signed by consentd.example/log\$" "$E2E_TMP/o"
SIZE=$((SIZE + 1))
"$CTL" audit verify --dir "$COPY" >"$E2E_TMP/o" 2>&1
st=$?
check "audit verify: 0 findings, exit 0 (signatures, accesses checked)" \
    bash -c "[ $st = 0 ] && grep -q '^verified: $SIZE entries.*2 kept checkpoints checked; replayed: [1-9][0-9]* patient signatures, 4 accesses (1 break-glass).*; 0 findings\$' '$E2E_TMP/o'"
"$CTL" audit verify --dir "$COPY" --json >"$E2E_TMP/v.json"
check "audit verify --json" jqt '.ok and .finding_count == 0 and .accesses == 4 and .break_glass == 1 and .findings == []' "$E2E_TMP/v.json"
G1_INDEX=$(entry_index "select(.type == \"consent\")")
"$CTL" audit access $NHS_A --dir "$COPY" --json >"$E2E_TMP/a.json"
check "audit access: A's two accesses, newest first, each with its grant or the implied rule" \
    jqt --arg g "$G1" --argjson gi "$G1_INDEX" '(.accesses | length) == 2 and
        .accesses[0].client_id == "gp-req" and .accesses[0].grants == [{rule: "implied"}] and
        .accesses[1].client_id == "rx-req" and .accesses[1].grants[0].jti == $g and
        .accesses[1].grants[0].log_index == $gi and .accesses[1].grants[0].signed_by == "'$NHS_A'" and
        .accesses[1].grants[0].grantee == "RX1" and .accesses[1].findings == []' "$E2E_TMP/a.json"
"$CTL" audit access $NHS_B --dir "$COPY" --json >"$E2E_TMP/b.json"
check "audit access: B's break-glass access with its reason, first, and no finding" \
    jqt '(.accesses | length) == 2 and .accesses[0].client_id == "rx-em" and
        .accesses[0].break_glass.reason == "found unconscious" and .accesses[0].purpose == "BTG" and
        .accesses[0].findings == []' "$E2E_TMP/b.json"
"$CTL" audit access $NHS_A --dir "$COPY" >"$E2E_TMP/o"
check "audit access prints the grant behind the hospital's access" \
    grep -q "because: grant $G1 (entry $G1_INDEX), permit by $NHS_A to RX1 for TREAT" "$E2E_TMP/o"
check "... under the line naming its entry, time, client and data" \
    grep -q "^entry $(jq .accesses[1].index "$E2E_TMP/a.json"), .*Z: rx-req of RX1 read gp-record for TREAT\$" "$E2E_TMP/o"
NOW=$(date -u +%FT%TZ)
"$CTL" audit state-at "$NOW" --dir "$COPY" --json >"$E2E_TMP/s.json"
check "audit state-at now: A readable by RX1 (grant) and A81001 (implied); B by A81001 only" \
    jqt --arg g "$G1" '(.people | map({(.nhs): .may_read}) | add) as $p |
        ($p["'$NHS_A'"] | map(select(.org == "RX1"))[0].because == [{datatype: "gp-record", grant: $g, log_index: '"$G1_INDEX"'}]) and
        ($p["'$NHS_A'"] | map(select(.org == "A81001"))[0].because[0].rule == "implied") and
        ($p["'$NHS_B'"] | map(.org)) == ["A81001"]' "$E2E_TMP/s.json"
"$CTL" audit state-at 2000-01-01 --dir "$COPY" --json >"$E2E_TMP/s0.json"
"$CTL" audit state-at "$NOW" --dir "$COPY" >"$E2E_TMP/o"
check "audit state-at prints the grant behind RX1's access to A" \
    grep -q "^  RX1 (hospital) may read for TREAT: gp-record (grant $G1, entry $G1_INDEX)\$" "$E2E_TMP/o"
check "audit state-at before the log began: nobody, no entries" \
    jqt '.entries == 0 and .people == []' "$E2E_TMP/s0.json"

# --- the auditor's replay and the service's rebuild derive the same state ---------------
stop_server
check "consentd serve --rebuild: the derived state matches the stored state" \
    bash -c "'$CONSENTD' serve --data '$DATA' --rebuild | grep -q 'matches the stored state'"
check "audit verify --state: the auditor's replay derives the data directory's very tables" \
    bash -c "'$CTL' audit verify --dir '$COPY' --state '$DATA' | grep -q 'the state in .* is the state the log derives; 0 findings'"
cp -a "$DATA" "$E2E_TMP/snap" # the data directory at SIZE entries, for the fork and rollback

# --- tampering with the copy -------------------------------------------------------------
tamper() { # tamper OP INDEX [BYTE]: a fresh copy of the copy in $T, changed
    rm -rf "$E2E_TMP/t-copy"
    cp -a "$COPY" "$E2E_TMP/t-copy"
    T=$E2E_TMP/t-copy
    python3 - "$T/entries" "$@" <<'EOF'
import sys
p, op, i = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = open(p, 'rb').read()
es, k = [], 0
while k < len(b):
    n = b[k] << 8 | b[k + 1]
    es.append(b[k + 2:k + 2 + n])
    k += 2 + n
if op == 'flip':
    e = bytearray(es[i]); e[int(sys.argv[4])] ^= 0x01; es[i] = bytes(e)
elif op == 'drop':
    del es[i]
elif op == 'swap':
    es[i], es[i + 1] = es[i + 1], es[i]
open(p, 'wb').write(b''.join(len(e).to_bytes(2, 'big') + e for e in es))
EOF
}
finding() { # finding DIR INDEX RULE: verify exits 65 with that finding
    local st
    "$CTL" audit verify --dir "$1" --json >"$E2E_TMP/f.json"
    st=$?
    [ $st = 65 ] && jq -e --argjson i "$2" --arg r "$3" \
        'any(.findings[]; .index == $i and .rule == $r)' "$E2E_TMP/f.json" >/dev/null
}
tamper flip "$G1_INDEX" 60
check "a flipped bit in entry $G1_INDEX: entry-changed at $G1_INDEX" finding "$T" "$G1_INDEX" entry-changed
tamper drop 5
check "a dropped entry 5: entry-missing at 5" finding "$T" 5 entry-missing
tamper swap 7
check "entries 7 and 8 swapped: entries-swapped at 7" finding "$T" 7 entries-swapped
check "the tampered copies never touched the real one" "$CTL" audit verify --dir "$COPY" --no-replay

# A malicious operator has the checkpoint key: it re-signs A's grant with another key and
# signs a whole new checkpoint over the forged log. The tree is consistent; the signature
# rule is what catches it.
rm -rf "$E2E_TMP/forged" && cp -a "$COPY" "$E2E_TMP/forged"
node tests/e2e/forge-log.mjs "$E2E_TMP/forged" "$DATA/checkpoint.key" consentd.example/log \
    resign "$G1_INDEX" "$E2E_TMP/other.key"
check "the forged copy's tree verifies (the operator signed it)" \
    "$CTL" audit verify --dir "$E2E_TMP/forged" --no-replay
check "a grant re-signed by another key: patient-signature at $G1_INDEX" \
    finding "$E2E_TMP/forged" "$G1_INDEX" patient-signature
rm -rf "$E2E_TMP/forged" && cp -a "$COPY" "$E2E_TMP/forged"
node tests/e2e/forge-log.mjs "$E2E_TMP/forged" "$DATA/checkpoint.key" consentd.example/log \
    append-copy "$G1_INDEX" "$E2E_TMP/pa.key" forged-after-rotation
check "a grant signed with A's key after A replaced it: key-replaced at $SIZE" \
    finding "$E2E_TMP/forged" "$SIZE" key-replaced

# --- a fork signed with the same key ----------------------------------------------------
check "the service serves its data again" start_server "$DATA"
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods C83003 --name 'Fork One' --type gp-practice >/dev/null
check "fetch the log at $((SIZE + 1))" "$CTL" audit fetch --url "$ISS" --dir "$COPY" --token "$ADMIN_TOKEN"
stop_server
cp -a "$E2E_TMP/snap" "$E2E_TMP/data2"
check "a second service from the same snapshot, same key" start_server "$E2E_TMP/data2"
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods D84004 --name 'Fork Two' --type gp-practice >/dev/null
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods D84005 --name 'Fork Two b' --type gp-practice >/dev/null
cp -a "$COPY" "$E2E_TMP/fork-copy"
"$CTL" audit fetch --url "$ISS" --dir "$E2E_TMP/fork-copy" --token "$ADMIN_TOKEN" >"$E2E_TMP/o" 2>&1
st=$?
check "fetch from the fork: exit 65, 'fork at entry $SIZE', both checkpoints named" \
    bash -c "[ $st = 65 ] && grep -q 'fork at entry $SIZE: the log signed in .*/checkpoint ($((SIZE + 1)) entries) and the log signed in .*checkpoints/.*\\.refused ($((SIZE + 2)) entries)' '$E2E_TMP/o'"
check "the fork left the copy as it was" \
    cmp "$COPY/entries" "$E2E_TMP/fork-copy/entries"
"$CTL" audit verify --dir "$E2E_TMP/fork-copy" --json >"$E2E_TMP/f.json"
check "audit verify reports the fork from the kept evidence" \
    jqt 'any(.findings[]; .rule == "fork" and (.text | test("refused")))' "$E2E_TMP/f.json"
stop_server

# --- a rolled-back data directory -------------------------------------------------------
rm -rf "$DATA" && cp -a "$E2E_TMP/snap" "$DATA"
check "the service starts on the restored, older data directory" start_server "$DATA"
cp -a "$COPY" "$E2E_TMP/rb-copy"
"$CTL" audit fetch --url "$ISS" --dir "$E2E_TMP/rb-copy" --token "$ADMIN_TOKEN" >"$E2E_TMP/o" 2>&1
st=$?
check "fetch after the rollback: exit 65, 'rollback at entry $SIZE'" \
    bash -c "[ $st = 65 ] && grep -q 'rollback at entry $SIZE: the log signed .*checkpoint ($((SIZE + 1)) entries) and now serves .*\\.refused ($SIZE entries)' '$E2E_TMP/o'"
"$CTL" audit verify --dir "$E2E_TMP/rb-copy" --json >"$E2E_TMP/f.json"
check "audit verify reports the rollback from the kept evidence" \
    jqt 'any(.findings[]; .rule == "rollback")' "$E2E_TMP/f.json"
"$CTL" audit consistency "$COPY/checkpoint" "$(ls "$E2E_TMP"/rb-copy/checkpoints/*.refused)" \
    --dir "$E2E_TMP/rb-copy" >"$E2E_TMP/o" 2>&1
st=$?
check "audit consistency OLD NEW: the rolled-back checkpoint is not consistent (65)" \
    bash -c "[ $st = 65 ] && grep -q 'NOT consistent' '$E2E_TMP/o'"
check "audit consistency of a checkpoint with a later one (--url proof): consistent" \
    "$CTL" audit consistency "$E2E_TMP/copy/checkpoints/$(ls "$COPY/checkpoints" | head -n 1)" \
    "$(ls "$COPY"/checkpoints/* | sed -n 2p)" --key "$LOG_KEY" --url "$ISS"
stop_server

summary
