// A record holder checking a consent-checked access token offline, as any resource server
// would: jose's jwtVerify against consentd's JWKS (createRemoteJWKSet), typ at+jwt, EdDSA,
// consentd as issuer and the record holder's own endpoint as audience. Prints one "ok NAME"
// or "FAIL NAME: why" line per check for test_tokens.sh.
//
// usage: node resource-server.mjs ISSUER TOKEN ENDPOINT OTHER_ENDPOINT
//   ENDPOINT is a custodian the token covers; OTHER_ENDPOINT one it does not.
import * as jose from 'jose';

const [issuer, token, endpoint, other] = process.argv.slice(2);
const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
const opts = (audience) => ({ issuer, audience, typ: 'at+jwt', algorithms: ['EdDSA'] });
let failed = 0;

async function check(name, fn) {
  try {
    const why = await fn();
    if (why === true || why === undefined) console.log(`ok ${name}`);
    else {
      failed++;
      console.log(`FAIL ${name}: ${why}`);
    }
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.name}: ${e.message}`);
  }
}

await check('jwtVerify accepts the token with the record holder as audience', async () => {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, opts(endpoint));
  if (protectedHeader.typ !== 'at+jwt') return `typ ${protectedHeader.typ}`;
  const ad = payload.authorization_details;
  if (!Array.isArray(ad) || ad[0].type !== 'care-record-access') return 'authorization_details';
  if (typeof payload.log_index !== 'number') return 'log_index';
  if (payload.extensions?.ihe_iua?.purpose_of_use?.code !== ad[0].purpose) return 'purpose_of_use';
  if (!Array.isArray(payload.extensions?.ihe_pcf?.doc_id)) return 'ihe_pcf.doc_id';
  return true;
});

await check('jwtVerify refuses it for a record holder it does not name', async () => {
  try {
    await jose.jwtVerify(token, jwks, opts(other));
  } catch (e) {
    return e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' ? true : `${e.code}`;
  }
  return 'accepted';
});

await check('jwtVerify refuses a tampered token', async () => {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  claims.authorization_details[0].datatypes.push('mental-health');
  const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  try {
    await jose.jwtVerify(forged, jwks, opts(endpoint));
  } catch (e) {
    return e.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ? true : `${e.code}`;
  }
  return 'accepted';
});

process.exit(failed === 0 ? 0 : 1);
