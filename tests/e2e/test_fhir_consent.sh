#!/usr/bin/env bash
# FHIR Consent resources checked by tools that are not ours: the unit tests write sample
# resources (FHIR_CONSENT_DUMP), and fhir-validate.mjs checks them against HL7's R4 JSON Schema
# and the R4 invariants in FHIRPath. Broken copies must fail, so the validator is known to bite.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

VALIDATE="node tests/e2e/fhir-validate.mjs"

FHIR_CONSENT_DUMP=$E2E_TMP CK_RUN_SUITE=fhir_consent "$PWD/$BUILD/check_main" >"$E2E_TMP/unit.log" 2>&1
check "the unit tests write a Consent bundle and a paper Consent" \
    test -s "$E2E_TMP/consent-bundle.json" -a -s "$E2E_TMP/paper-consent.json"

# validate NAME FILE...: every check of the validator passes; its lines are shown.
validate() {
    local name=$1 out
    shift
    out=$($VALIDATE "$@" 2>&1)
    local status=$?
    grep -v -E '^e2e: [0-9]+ passed' <<<"$out" | sed 's/^e2e: /    /'
    check "$name" test "$status" -eq 0
}
validate "the Consent bundle is valid R4" "$E2E_TMP/consent-bundle.json"
validate "the paper Consent of the unit tests is valid R4" "$E2E_TMP/paper-consent.json"

# refused NAME JS: the bundle changed by JS (a function of b, the bundle) must fail validation.
refused() {
    local name=$1 js=$2
    node -e "const fs=require('fs');const b=JSON.parse(fs.readFileSync(process.argv[1]));
(b=>{$js})(b);fs.writeFileSync(process.argv[2],JSON.stringify(b));" \
        "$E2E_TMP/consent-bundle.json" "$E2E_TMP/broken.json"
    $VALIDATE "$E2E_TMP/broken.json" >"$E2E_TMP/broken.log" 2>&1
    check "the validator refuses $name" test $? -ne 0
}
refused "a Consent without policy or policyRule (ppc-1)" "delete b.entry[0].resource.policyRule"
refused "an element R4 does not define" "b.entry[1].resource.colour='blue'"
refused "an id with '_'" "b.entry[0].resource.id='a_b'"
refused "an empty string" "b.entry[2].resource.dateTime=''"
refused "an empty object (ele-1)" "b.entry[2].resource.meta={}"
refused "a period that ends before it starts (per-1)" \
    "b.entry[0].resource.provision.period.end='2020-01-01T00:00:00Z'"
refused "a repeated fullUrl (bdl-7)" "b.entry[1].fullUrl=b.entry[0].fullUrl"
refused "a status outside ConsentState" "b.entry[0].resource.status='revoked'"
refused "a wrong total" "b.total=7"
summary
