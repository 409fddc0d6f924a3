#!/usr/bin/env bash
# SMART Backend Services clients whose keys are RSA or EC (issue 5): keys made with
# `openssl genpkey`, their public JWKs exported with jose, registered with POST /v1/clients
# (and every unacceptable JWK refused with a precise 400 that appends nothing), then tokens by
# openid-client with ES384 and RS384 assertions, and assertions with an algorithm the
# registered key does not allow refused (smart-keys.mjs).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

DATA=$E2E_TMP/data
PORT=$(free_port)
ISS="http://127.0.0.1:$PORT"

out=$("$CONSENTD" init --data "$DATA" --issuer "$ISS")
ADMIN_TOKEN=$(sed -n 's/^admin-token: //p' <<<"$out")
check "init with --issuer" test -n "$ADMIN_TOKEN"
check "server starts" start_server "$DATA"
check "a GP practice is registered" test "$(post_org A81001)" = 201

if ! command -v node >/dev/null || [ ! -d tests/e2e/node_modules/jose ]; then
    fail "node and tests/e2e/node_modules are needed (make e2e runs npm ci)"
    summary
    exit
fi

K=$E2E_TMP
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$K/ec384.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$K/ec521.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$K/rsa1024.pem" 2>/dev/null
check "openssl genpkey made the keys" test -s "$K/ec384.pem" -a -s "$K/rsa.pem"
jwk() { node tests/e2e/smart-keys.mjs "$@"; }
jqe() { jq -e "$@" >/dev/null; }

# post_client ID JWK: POST /v1/clients; the answer in $K/p, prints the status
post_client() {
    curl -s -o "$K/p" -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"client_id\":\"$1\",\"org\":\"A81001\",\"jwk\":$2,\"roles\":[\"custodian\"]}" \
        "$ISS/v1/clients"
}

# reg NAME JWK PART: the registration is refused with 400 and PART, appending nothing
reg() {
    local before after status
    before=$(checkpoint_size)
    status=$(post_client bad-1 "$2")
    after=$(checkpoint_size)
    if [ "$status" = 400 ] && [ "$before" = "$after" ] && jq -r .detail "$K/p" | grep -qF -- "$3"; then
        ok "$1 → 400"
    else
        fail "$1 → wanted 400 with \"$3\", got $status $(head -c 300 "$K/p") (size $before→$after)"
    fi
}

EC_JWK=$(jwk jwk "$K/ec384.pem")
RSA_JWK=$(jwk jwk "$K/rsa.pem")
check "the EC JWK is a public P-384 key" jqe '.kty == "EC" and .crv == "P-384" and has("d") == false' <<<"$EC_JWK"
check "an EC P-384 client is registered (201)" test "$(post_client smart-ec "$EC_JWK")" = 201
check "an RSA client is registered (201)" test "$(post_client smart-rsa "$RSA_JWK")" = 201
before=$(checkpoint_size)
check "an RSA client with alg RS384, a kid and use sig is registered (201)" \
    test "$(post_client smart-rsa-384 "$(jq -c '. + {alg:"RS384",kid:"k1",use:"sig"}' <<<"$RSA_JWK")")" = 201
curl -s -H "Authorization: Bearer $ADMIN_TOKEN" "$ISS/log/entries?start=$before&end=$((before + 1))" |
    jq -r '.entries[0]' | base64 -d >"$K/entry"
check "the entry keeps the public JWK: kty, n, e, alg, kid" \
    jqe --argjson j "$RSA_JWK" '.type == "client" and (.jwk | keys) == ["alg","e","kid","kty","n"]
        and .jwk.n == $j.n and .jwk.e == $j.e and .jwk.alg == "RS384" and .jwk.kid == "k1"' "$K/entry"

PRIV=$(node -e 'const c=require("node:crypto");console.log(JSON.stringify(c.createPrivateKey(require("node:fs").readFileSync(process.argv[1])).export({format:"jwk"})))' "$K/ec384.pem")
reg "a private EC JWK (with d)" "$PRIV" 'holds "d", a private key member'
reg "an RSA JWK with p" "$(jq -c '. + {p:"AQAB"}' <<<"$RSA_JWK")" 'holds "p", a private key member'
reg "a 1024-bit RSA key" "$(jwk jwk "$K/rsa1024.pem")" 'is 1024 bits; it must be 2048 to 8192 bits'
reg "a P-521 key" "$(jwk jwk "$K/ec521.pem")" '"crv" must be "P-256" (for ES256) or "P-384"'
reg "a point off the curve" "$(jwk offcurve "$K/ec384.pem")" 'is not on the P-384 curve'
reg "an EC key with alg ES256" "$(jq -c '. + {alg:"ES256"}' <<<"$EC_JWK")" 'must be ES384'
reg "an RSA key with alg PS256" "$(jq -c '. + {alg:"PS256"}' <<<"$RSA_JWK")" 'must be RS256 or RS384'
reg "an unknown member" "$(jq -c '. + {x5c:["AAAA"]}' <<<"$RSA_JWK")" 'may hold only kty, n, e'

while IFS= read -r line; do
    case $line in
    ok\ *) ok "node: ${line#ok }" ;;
    *) fail "node: ${line#FAIL }" ;;
    esac
done < <(node tests/e2e/smart-keys.mjs run "$ISS" smart-ec "$K/ec384.pem" smart-rsa "$K/rsa.pem" 2>&1)

# The registered alg decides: RS256 is refused for the client registered with RS384.
A=$(node -e '
const c=require("node:crypto"),fs=require("node:fs");
const [iss,id,pem]=process.argv.slice(1),now=Math.floor(Date.now()/1000);
const b=(o)=>Buffer.from(JSON.stringify(o)).toString("base64url");
const input=b({alg:"RS256",kid:"k1"})+"."+b({iss:id,sub:id,aud:iss+"/oauth2/token",jti:c.randomUUID(),exp:now+60});
console.log(input+"."+c.sign("sha256",Buffer.from(input),c.createPrivateKey(fs.readFileSync(pem))).toString("base64url"));
' "$ISS" smart-rsa-384 "$K/rsa.pem")
status=$(curl -s -o "$K/t" -w '%{http_code}' -X POST "$ISS/oauth2/token" -d grant_type=client_credentials \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    --data-urlencode "client_assertion=$A")
check "an RS256 assertion for the client registered with alg RS384 is refused (401)" \
    bash -c "[ $status = 401 ] && jq -e '.error == \"invalid_client\" and (.error_description | contains(\"must be RS384\"))' '$K/t' >/dev/null"

summary
