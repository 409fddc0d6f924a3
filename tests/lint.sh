#!/usr/bin/env bash
# The source lints of docs/RELIABILITY.md rows C5, D14 and F6: JSON members are read only by
# exact name; secrets are compared only in constant time and only where the design says; no
# known-bad libsodium call, no libc randomness; the pinned libraries carry the security fixes the
# design relies on. Each pattern is first shown to match a bad line, so a broken pattern cannot
# pass silently. Run by `make lint` and `make check`.
set -uo pipefail
cd "$(dirname "$0")/.."

SRC=(crypto service policies include)
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "lint: ok   $*"; }
bad() { failed=$((failed + 1)); echo "lint: FAIL $*"; }

# none NAME REGEX SAMPLE [PATHS...]: no line of the C sources matches REGEX (grep -P), which
# must match SAMPLE.
none() {
    local name=$1 re=$2 sample=$3 hits
    shift 3
    if ! grep -qP -- "$re" <<<"$sample"; then
        bad "$name: the pattern does not even match \"$sample\""
        return
    fi
    hits=$(grep -rnP --include='*.c' --include='*.h' -- "$re" "${@:-${SRC[@]}}")
    if [ -z "$hits" ]; then ok "$name"; else bad "$name:"$'\n'"$hits"; fi
}

# D14: secrets. The only secrets consentd compares are the admin token (crypto/secret.c: an
# Argon2id hash once, then a keyed BLAKE2b MAC with sodium_memcmp) and hashes it checks for
# integrity (hash_equal: sodium_memcmp). Signatures go through libsodium's or OpenSSL's verify.
# Enrolment codes are looked up by their SHA-256, never compared.
CMP='\b(memcmp|bcmp|strn?cmp|strn?casecmp|strcoll|timingsafe_bcmp)\s*\('
none "D14: no memcmp/strcmp family call on a MAC, seed, secret key, password or admin token" \
    "$CMP"'[^;]*\b(mac|macs|sk|seed|secret\w*|passw\w*|hmac|admin_token|code_hash|key_bytes)\b' \
    'if (memcmp(mac, c->mac, sizeof(mac)) == 0)'
none "D14: no memcmp/strcmp family call at all in the files that hold keys or MACs" \
    "$CMP"'(?!s, "\$argon2id\$", 10\))' 'return memcmp(a, b, HASH_BYTES) == 0;' \
    crypto/keys.c crypto/sig.c crypto/hash.c crypto/secret.c
none "D14: only crypto/keys.c and crypto/sig.c reach a secret key" \
    '\bkeys_secret\s*\(' 'crypto_sign_detached(sig, NULL, m, n, keys_secret(k));' \
    service policies crypto/b64.c crypto/jstrict.c crypto/jws.c crypto/merkle.c crypto/note.c \
    crypto/pkey.c crypto/secret.c crypto/hash.c
none "D14: only crypto/ includes <sodium.h>" '#\s*include\s*<sodium\.h>' '#include <sodium.h>' \
    service policies include
for f in crypto/hash.c crypto/secret.c; do
    if grep -q 'sodium_memcmp' "$f"; then
        ok "D14: $f compares with sodium_memcmp"
    else
        bad "D14: $f no longer compares with sodium_memcmp"
    fi
done

# C5: cJSON's getters without CaseSensitive in their name match member names case-insensitively,
# so they would read {"AUD":"evil","aud":"me"} as "evil".
none "C5: only cJSON's CaseSensitive getters read members" \
    '\bcJSON_(GetObjectItem|HasObjectItem|DetachItemFromObject|DeleteItemFromObject|ReplaceItemInObject)\s*\(' \
    'a = cJSON_GetObjectItem(o, "aud");'

# F6: known-bad or weak primitives.
none "F6: no crypto_core_ed25519_is_valid_point (CVE-2025-69277)" \
    '\bcrypto_core_ed25519_is_valid_point\b' 'if (crypto_core_ed25519_is_valid_point(p))'
none "F6: no randombytes_buf_deterministic outside tests" '\brandombytes_buf_deterministic\b' \
    'randombytes_buf_deterministic(buf, n, seed);'
none "F6: no rand, random, drand48 or their seeds from libc" \
    '(?<![\w.>])(s?rand|s?random|rand_r|[dejlmn]rand48|s?random_r)\s*\(' 'x = rand() % 6;'

# F6: the libraries' versions, where dpkg can tell.
if command -v dpkg-query >/dev/null; then
    for want in "libsodium23 1.0.18-1+deb12u1" "libcjson1 1.7.15-1+deb12u4"; do
        set -- $want
        have=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null)
        if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$2"; then
            ok "F6: $1 $have >= $2"
        else
            bad "F6: $1 ${have:-is not installed}; the design needs >= $2"
        fi
    done
fi

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
