#!/usr/bin/env bash
# Token, key and authorization attacks against a running consentd (docs/RELIABILITY.md rows
# D2, D3, D8, D9, D11, D13, F1-F3, F5): kid injection traced with strace, key-fetching headers
# aimed at a listener that counts connections, bearer and assertion replays, issuance racing a
# revocation, a cross-product of people, tokens and endpoints, verifier clock skew under
# faketime, a libsodium that fails to start, core dumps, and key files that must be refused.
# tests/e2e/token-attacks.mjs forges, watches, replays and races; figures are printed as
# "e2e: figure ..." lines for docs/RELIABILITY.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

TA=(node tests/e2e/token-attacks.mjs)
command -v node >/dev/null || { fail "node is needed (make e2e installs it)"; summary; exit 1; }
NHS_A=9434765919
NHS_B=9434765870
DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"
GP_EP="http://127.0.0.1:9/gp/fhir"
CA_TYPE=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
CTL=$CONSENTCTL
export CONSENTD_URL=$ISS
# jqt FILTER [jq args] <<<JSON: the JSON on standard input, which must not be empty (jq -e
# passes on no input at all), satisfies FILTER.
jqt() {
    local in
    in=$(cat)
    [ -n "$in" ] && jq -e "$@" >/dev/null <<<"$in"
}
figure() { echo "e2e: figure $1 $2"; }
enc() { jq -rn --arg s "$1" '$s|@uri'; }
claims() { cut -d. -f2 <<<"$1" | tr '_-' '/+' | base64 -d 2>/dev/null; }

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
LOG_KEY=$(sed -n 's/^log-key: //p' <<<"$out")
check "init" test -n "$ADMIN_TOKEN"

# --- F5: the checkpoint key and the token key are two keys --------------------------------
check "F5: init makes two different key files" \
    bash -c "! cmp -s '$DATA/checkpoint.key' '$DATA/token.key'"

# --- F3: key files that are refused --------------------------------------------------------
refuses() { # refuses NAME: serve --check-config must refuse the data directory as it is now
    if "$CONSENTD" serve --data "$DATA" --check-config >"$E2E_TMP/o" 2>&1; then
        fail "F3: $1 is refused"
    elif grep -q "cannot use the" "$E2E_TMP/o"; then
        ok "F3: $1 is refused"
    else
        fail "F3: $1 is refused, saying why: $(cat "$E2E_TMP/o")"
    fi
}
cp -p "$DATA/token.key" "$E2E_TMP/token.key.good"
chmod 0644 "$DATA/token.key" && refuses "a token key of mode 0640 or wider (0644)"
chmod 0600 "$DATA/token.key"
head -c 31 "$E2E_TMP/token.key.good" >"$DATA/token.key" && refuses "a truncated token key (31 bytes)"
{ cat "$E2E_TMP/token.key.good"; printf x; } >"$DATA/token.key" && refuses "a token key of 33 bytes"
: >"$DATA/token.key" && refuses "an empty token key"
rm "$DATA/token.key" && ln -s "$E2E_TMP/token.key.good" "$DATA/token.key" &&
    refuses "a token key behind a symlink"
rm "$DATA/token.key" && mkfifo -m 0600 "$DATA/token.key" && refuses "a FIFO as the token key"
rm "$DATA/token.key" && mkdir -m 0700 "$DATA/token.key" && refuses "a directory as the token key"
rmdir "$DATA/token.key"
if [ "$(id -u)" = 0 ]; then
    cp -p "$E2E_TMP/token.key.good" "$DATA/token.key" && chown 65534 "$DATA/token.key" &&
        refuses "a token key owned by another user"
    rm -f "$DATA/token.key"
fi
cp -p "$E2E_TMP/token.key.good" "$DATA/token.key"
check "F3: the good key is accepted again" \
    bash -c "\"$CONSENTD\" serve --data '$DATA' --check-config | grep -qx 'configuration OK'"

# --- F1: libsodium that fails to initialise ------------------------------------------------
printf 'int sodium_init(void) { return -1; }\n' >"$E2E_TMP/stub.c"
if cc -shared -fPIC -o "$E2E_TMP/stub.so" "$E2E_TMP/stub.c"; then
    LD_PRELOAD=$E2E_TMP/stub.so timeout 20 "$CONSENTD" serve --data "$DATA" \
        --listen "127.0.0.1:$PORT" >"$E2E_TMP/o" 2>&1
    rc=$?
    check "F1: with sodium_init failing, serve refuses to start (exit $rc, says why)" \
        bash -c "[ $rc = 70 ] && grep -q 'libsodium failed to initialise' '$E2E_TMP/o' &&
            ! curl -s -m 1 '$ISS/healthz' >/dev/null"
else
    fail "F1: cc cannot build the sodium_init stub"
fi

# --- F2: no core dumps; keys in locked memory ----------------------------------------------
mkdir "$E2E_TMP/cwd"
(cd "$E2E_TMP/cwd" && exec "$CONSENTD" serve --data "$DATA" --listen "127.0.0.1:$PORT" \
    >>"$E2E_TMP/server.log" 2>&1) &
SERVER_PID=$!
for _ in $(seq 1 600); do curl -sf "$ISS/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
check "F2: the core file size limit is 0, soft and hard" \
    grep -Eq '^Max core file size +0 +0 ' "/proc/$SERVER_PID/limits"
# AddressSanitizer replaces mlock(2) with a no-op: the sanitizer build locks nothing.
[ "$BUILD" = build-san ] || check "F2: the keys are in locked memory (VmLck > 0)" \
    awk '/^VmLck:/ {exit !($2 > 0)}' "/proc/$SERVER_PID/status"
kill -SEGV "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
check "F2: a SIGSEGV leaves no core file" bash -c "! ls '$E2E_TMP/cwd' | grep -q core"

# --- the people, organisations, clients, pointers and grants the attacks use ---------------
check "server starts" start_server "$DATA"
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods A81001 --name 'Riverside Practice' \
    --type gp-practice --endpoint "$GP_EP" >/dev/null
"$CTL" admin org add --token "$ADMIN_TOKEN" --ods RX1 --name 'City Hospital' --type hospital \
    --endpoint "http://127.0.0.1:9/rx1/fhir" >/dev/null
for k in gp rx rxc aud pa pb; do "$CTL" keygen --out "$E2E_TMP/$k.key" >/dev/null; done
client() { # client ID ORG KEY ROLES
    "$CTL" admin client add --token "$ADMIN_TOKEN" --id "$1" --org "$2" --key "$E2E_TMP/$3.key" \
        --roles "$4" >/dev/null
}
client gp A81001 gp requester,custodian,enroller
client rx-req RX1 rx requester
client rx-cust RX1 rxc custodian
client aud-1 A81001 aud auditor
GPC=$("$CTL" client token --id gp --key "$E2E_TMP/gp.key" --scope "pointers enrol")
RXC=$("$CTL" client token --id rx-cust --key "$E2E_TMP/rxc.key" --scope pointers)
AUD=$("$CTL" client token --id aud-1 --key "$E2E_TMP/aud.key" --scope audit)
for p in "$NHS_A pa" "$NHS_B pb"; do
    set -- $p
    code=$("$CTL" patient code --nhs "$1" --token "$GPC" | sed -n 's/^code: //p')
    "$CTL" patient enrol --nhs "$1" --code "$code" --key "$E2E_TMP/$2.key" >/dev/null
done
PA=$("$CTL" patient token --nhs $NHS_A --key "$E2E_TMP/pa.key")
PB=$("$CTL" patient token --nhs $NHS_B --key "$E2E_TMP/pb.key")
pointer() { # pointer TOKEN NHS URL
    curl -s -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d "{\"nhs\":\"$2\",\"category\":\"gp-record\",\"type\":{\"system\":\"http://snomed.info/sct\",\"code\":\"824321000000109\",\"display\":\"Summary record\"},\"url\":\"$3\",\"content_type\":\"application/pdf\"}" \
        "$ISS/v1/pointers" | jq -r .id
}
PTR_A=$(pointer "$GPC" $NHS_A "$GP_EP/a")
PTR_B=$(pointer "$GPC" $NHS_B "$GP_EP/b")
G_A=$("$CTL" consent grant --nhs $NHS_A --key "$E2E_TMP/pa.key" --org RX1 --purpose TREAT \
    --datatypes gp-record --until 2030-01-01 | jq -r .jti)
ad() { echo "[{\"type\":\"care-record-access\",\"identifier\":\"$1\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"],\"actions\":[\"read\"]}]"; }
access_token() { # access_token CLIENT KEY NHS: a consent-checked token
    curl -s -d grant_type=client_credentials -d "client_assertion_type=$CA_TYPE" \
        --data-urlencode "client_assertion=$("$CTL" client assertion --id "$1" \
            --key "$E2E_TMP/$2.key" --aud "$ISS/oauth2/token")" \
        --data-urlencode "authorization_details=$(ad "$3")" "$ISS/oauth2/token" | jq -r .access_token
}
AT_A=$(access_token rx-req rx $NHS_A)
AT_B=$(access_token gp gp $NHS_B)
check "setup: pointers, a grant, patient tokens and access tokens for A and B" \
    bash -c "[ ${#PTR_A} = 22 ] && [ ${#PTR_B} = 22 ] && [ -n '$G_A' ] && [ ${#PA} -gt 100 ] &&
        [ ${#PB} -gt 100 ] && [ ${#AT_A} -gt 100 ] && [ ${#AT_B} -gt 100 ]"
check "F5: the JWKS key is not the checkpoint key" \
    bash -c "[ \"\$(curl -s '$ISS/.well-known/jwks.json' | jq -r '.keys[0].x' | tr '_-' '/+')\" != \
        \"\$(cut -d+ -f3 <<<'$LOG_KEY' | base64 -d | tail -c 32 | base64 | tr -d '=')\" ]"

# --- D11: a cross-product of people, tokens and endpoints ----------------------------------
# Each (caller, person, endpoint) is allowed exactly when the caller is that person (their own
# pointers, consents and accesses), holds an access token for that person (the FHIR
# DocumentReference search, which nothing else opens), or is the auditor (the histories).
ident() { enc "https://fhir.nhs.uk/Id/nhs-number|$1"; }
declare -A CALLER=([patient-A]=$PA [patient-B]=$PB [access-A]=$AT_A [access-B]=$AT_B
    [custodian-rx]=$RXC [custodian-gp]=$GPC [auditor]=$AUD)
declare -A OWNER=([patient-A]=$NHS_A [patient-B]=$NHS_B [access-A]=$NHS_A [access-B]=$NHS_B)
allowed=0 refused=0 wrong=0
for who in "${!CALLER[@]}"; do
    for nhs in $NHS_A $NHS_B; do
        for ep in pointers consents access fhir-consent fhir-docref; do
            case $ep in
            fhir-consent) path="/fhir/Consent?patient%3Aidentifier=$(ident $nhs)" ;;
            fhir-docref) path="/fhir/DocumentReference?subject%3Aidentifier=$(ident $nhs)" ;;
            *) path="/v1/patients/$nhs/$ep" ;;
            esac
            want=deny
            case "$who:$ep" in
            access-*:fhir-docref) [ "${OWNER[$who]}" = $nhs ] && want=allow ;;
            patient-*:fhir-docref) ;;
            patient-*:*) [ "${OWNER[$who]}" = $nhs ] && want=allow ;;
            auditor:pointers | auditor:consents | auditor:access | auditor:fhir-consent) want=allow ;;
            esac
            st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${CALLER[$who]}" "$ISS$path")
            got=deny
            [ "$st" = 200 ] && got=allow
            [ $got = allow ] && allowed=$((allowed + 1)) || refused=$((refused + 1))
            if [ $got != $want ]; then
                wrong=$((wrong + 1))
                echo "e2e: D11 $who $nhs $ep: wanted $want, got $st"
            fi
        done
    done
done
figure D11 "{\"requests\":$((allowed + refused)),\"allowed\":$allowed,\"refused\":$refused,\"unexpected\":$wrong}"
check "D11: $((allowed + refused)) reads across 7 callers x 2 people x 5 endpoints: each as the rules say" \
    test "$wrong" = 0
tamper() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PA" "$ISS$1"; }
bad=0
for path in "/v1/patients/%39434765870/pointers" "/v1/patients/$NHS_A/../$NHS_B/pointers" \
    "/v1/patients/$NHS_B%00/pointers" "/v1/patients/$NHS_A%2f..%2f$NHS_B/pointers" \
    "/v1/patients/$NHS_B/pointers?nhs=$NHS_A" "/v1/patients/0$NHS_B/pointers" \
    "/fhir/DocumentReference?subject%3Aidentifier=$(ident $NHS_A)&subject%3Aidentifier=$(ident $NHS_B)"; do
    st=$(tamper "$path")
    [ "$st" = 200 ] && { bad=$((bad + 1)); echo "e2e: D11 tampered $path answered 200"; }
done
check "D11: 7 tampered paths and queries with A's token never read B" test "$bad" = 0
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $RXC" \
    -H 'Content-Type: application/json' -d '{"reason":"not mine"}' "$ISS/v1/pointers/$PTR_A/retire")
check "D11: a custodian cannot retire another custodian's pointer ($st)" test "$st" = 403 -o "$st" = 404
JWS=$("$CTL" consent revoke --nhs $NHS_B --key "$E2E_TMP/pb.key" --jti "$G_A" --print 2>/dev/null)
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"jws\":\"$JWS\"}" "$ISS/v1/consents/$(enc "$G_A")/revoke")
check "D11: B cannot revoke A's grant with B's own signature ($st)" bash -c "[ $st -ge 400 ] && [ $st -lt 500 ]"

# --- D2: kid injection drives no file access (strace) --------------------------------------
stop_server
cat >"$E2E_TMP/straced" <<EOF
#!/bin/sh
exec strace -f -qq -e trace=%file -o "$E2E_TMP/strace.out" "$CONSENTD" "\$@"
EOF
chmod +x "$E2E_TMP/straced"
CONSENTD=$E2E_TMP/straced start_server "$DATA"
STRACE_PID=$SERVER_PID
SERVER_PID=$(pgrep -P "$STRACE_PID" | head -n 1)
sleep 0.5
before=$(wc -l <"$E2E_TMP/strace.out")
TKID=$(curl -s "$ISS/.well-known/jwks.json" | jq -r '.keys[0].kid')
# The checkpoint key's kid, as keys_kid would make it: base64url(SHA-256(public key)).
CKID=$(node -e 'const c = require("crypto"); const pk = Buffer.from(process.argv[1].split("+")[2], "base64").subarray(1);
    console.log(c.createHash("sha256").update(pk).digest("base64url"))' "$LOG_KEY")
now=$(date +%s)
kid_refused=0 kid_sent=0
for kid in "../../../../tmp/kidprobe1" "/etc/kidprobe2" "file:///kidprobe3" "kidprobe4' OR 1=1--" \
    "\\\\kidprobe5\\\\x" "kidprobe6%00" "$CKID" "$TKID " "$(head -c 4096 /dev/zero | tr '\0' k)"; do
    T=$("${TA[@]}" sign "$DATA/token.key" "$(jq -nc --arg k "$kid" '{alg:"EdDSA",typ:"at+jwt",kid:$k}')" \
        "{\"iss\":\"$ISS\",\"sub\":\"gp\",\"client_id\":\"gp\",\"aud\":\"$ISS\",\"iat\":$now,\"exp\":$((now + 300)),\"jti\":\"k-1\",\"scope\":\"audit\"}")
    for path in "/v1/patients/$NHS_A/access" "/fhir/DocumentReference?subject%3Aidentifier=$(ident $NHS_A)"; do
        kid_sent=$((kid_sent + 1))
        st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" "$ISS$path")
        [ "$st" = 401 ] && kid_refused=$((kid_refused + 1))
    done
done
# The same forging with our own kid works: only the kid stands in the way above.
T=$("${TA[@]}" sign "$DATA/token.key" "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"$TKID\"}" \
    "{\"iss\":\"$ISS\",\"sub\":\"aud-1\",\"client_id\":\"aud-1\",\"aud\":\"$ISS\",\"iat\":$now,\"exp\":$((now + 300)),\"jti\":\"k-2\",\"scope\":\"audit\"}")
check "D2: control: a token forged with the token key and its own kid is accepted" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" "$ISS/v1/patients/$NHS_A/access")" = 200
sleep 0.3
after=$(wc -l <"$E2E_TMP/strace.out")
figure D2 "{\"requests\":$kid_sent,\"refused\":$kid_refused,\"file_syscalls_during\":$((after - before))}"
check "D2: $kid_sent tokens with injected kids (paths, SQL, the checkpoint key's, 4 KiB) refused 401" \
    test "$kid_refused" = "$kid_sent"
check "D2: strace traced the server ($before file system calls while it started)" test "$before" -gt 10
check "D2: strace saw no file system call naming a kid" bash -c "! grep -q kidprobe '$E2E_TMP/strace.out'"
check "D2: and no file system call at all while they were handled ($((after - before)))" \
    test "$((after - before))" = 0
kill -TERM "$SERVER_PID"
wait "$STRACE_PID"
SERVER_PID=

# --- D3: headers that would fetch a key: the watched port sees nothing ---------------------
start_server "$DATA"
WPORT=$(free_port)
"${TA[@]}" watch "$WPORT" 8 "$E2E_TMP/watch" &
WATCH_PID=$!
for _ in $(seq 1 100); do [ -e "$E2E_TMP/watch.ready" ] && break; sleep 0.05; done
W="http://127.0.0.1:$WPORT"
d3_sent=0 d3_refused=0
for extra in "\"jku\":\"$W/jwks.json\"" "\"x5u\":\"$W/cert.pem\"" \
    "\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"x5u\":\"$W/x\"}" \
    "\"x5c\":[\"MIIB\"],\"x5u\":\"$W/c\""; do
    T=$("${TA[@]}" sign "$DATA/token.key" "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"$TKID\",$extra}" \
        "{\"iss\":\"$ISS\",\"sub\":\"aud-1\",\"client_id\":\"aud-1\",\"aud\":\"$ISS\",\"iat\":$now,\"exp\":$((now + 300)),\"jti\":\"k-3\",\"scope\":\"audit\"}")
    st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" "$ISS/v1/patients/$NHS_A/access")
    d3_sent=$((d3_sent + 1))
    [ "$st" = 401 ] && d3_refused=$((d3_refused + 1))
    A=$("${TA[@]}" assertion "$E2E_TMP/rx.key" rx-req "$ISS/oauth2/token" "{\"alg\":\"EdDSA\",$extra}")
    st=$(curl -s -o /dev/null -w '%{http_code}' -d grant_type=client_credentials -d "client_assertion_type=$CA_TYPE" \
        --data-urlencode "client_assertion=$A" --data-urlencode "authorization_details=$(ad $NHS_A)" "$ISS/oauth2/token")
    d3_sent=$((d3_sent + 1))
    [ "$st" = 401 ] && d3_refused=$((d3_refused + 1))
done
curl -s -m 1 "$W/control" >/dev/null # one connection the watcher must count
wait "$WATCH_PID"
figure D3 "{\"requests\":$d3_sent,\"refused\":$d3_refused,\"connections_seen\":$(cat "$E2E_TMP/watch")}"
check "D3: $d3_sent tokens and assertions carrying jku, x5u, jwk or x5c are refused 401" \
    test "$d3_refused" = "$d3_sent"
check "D3: the watched port saw only the test's own control connection" \
    test "$(cat "$E2E_TMP/watch")" = 1

# --- D8: replays ------------------------------------------------------------------------------
D8=$("${TA[@]}" replay "$ISS/fhir/DocumentReference?subject%3Aidentifier=$(ident $NHS_A)" "$AT_A" 1000)
figure "D8 (access token)" "$D8"
check "D8: an access token is a bearer token for its lifetime: 1000 uses, 1000 answers 200" \
    jqt '.statuses == {"200": 1000}' <<<"$D8"
A=$("$CTL" client assertion --id rx-req --key "$E2E_TMP/rx.key" --aud "$ISS/oauth2/token")
ok200=0
for i in $(seq 1 10); do
    st=$(curl -s -o /dev/null -w '%{http_code}' -d grant_type=client_credentials \
        -d "client_assertion_type=$CA_TYPE" --data-urlencode "client_assertion=$A" \
        --data-urlencode "authorization_details=$(ad $NHS_A)" "$ISS/oauth2/token")
    [ "$st" = 200 ] && ok200=$((ok200 + 1))
done
figure "D8 (client assertion)" "{\"uses\":10,\"accepted\":$ok200}"
check "D8: a client assertion presented 10 times is accepted once" test "$ok200" = 1
stop_server
start_server "$DATA"
st=$(curl -s -o /dev/null -w '%{http_code}' -d grant_type=client_credentials \
    -d "client_assertion_type=$CA_TYPE" --data-urlencode "client_assertion=$A" \
    --data-urlencode "authorization_details=$(ad $NHS_A)" "$ISS/oauth2/token")
check "D8: and is still refused after a restart ($st)" test "$st" = 401

# --- D9: issuance racing a revocation ---------------------------------------------------------
# B has granted the hospital nothing, and did not enrol there: only the racing grants count.
D9=$("${TA[@]}" race "$ISS" "$ADMIN_TOKEN" "$CTL" $NHS_B "$E2E_TMP/pb.key" rx-req "$E2E_TMP/rx.key" RX1 10 4)
figure D9 "$D9"
check "D9: no token relying on a grant was issued for a request sent after its revocation's answer" \
    jqt '.issued_after_ack == 0' <<<"$D9"
check "D9: in the signed log no access entry relying on a grant follows its revocation" \
    jqt '.log_violations == 0 and .access_entries_checked > 0' <<<"$D9"
check "D9: the race was real: tokens were both issued and refused" \
    jqt '.issued > 0 and .refused > 0' <<<"$D9"

# --- D13: the verifier's clock off by 30 s, 5 min, 1 h (faketime) ------------------------------
if command -v faketime >/dev/null; then
    T=$("$CTL" client token --id aud-1 --key "$E2E_TMP/aud.key" --scope audit)
    matrix=""
    bad=0
    for skew in -3600 -300 -30 +30 +300 +3600; do
        # Issued now for 300 s: accepted while iat <= now' + 60 and now' < exp + 60.
        want=refused
        [ "${skew#+}" -ge -60 ] && [ "${skew#+}" -lt 360 ] && want=accepted
        got=refused
        FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "${skew}s" "$CTL" token verify --url "$ISS" "$T" \
            >/dev/null 2>&1 && got=accepted
        matrix="$matrix\"$skew\":\"$got\","
        [ $got = $want ] || bad=$((bad + 1))
    done
    figure D13 "{${matrix%,}}"
    check "D13: consentctl token verify under faketime: accepted at -30 s, +30 s, +5 min only" \
        test "$bad" = 0
else
    fail "D13: faketime is needed (.ci/deps installs it)"
fi

check "server stops cleanly" stop_server
summary
