// A requesting system asks consentd for a consent-checked access token (private_key_jwt,
// RFC 7523; authorization_details, RFC 9396) and prints the token response.
//
// usage: node requester.mjs ISSUER CLIENT_ID PRIVATE_JWK_FILE NHS_NUMBER PURPOSE CATEGORY...
// e.g.   node requester.mjs https://consentd.example rx-req rx.jwk 9434765919 TREAT gp-record
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';

const [issuer, clientId, keyFile, nhs, purpose, ...datatypes] = process.argv.slice(2);
if (!issuer || !clientId || !keyFile || !nhs || !purpose || datatypes.length === 0) {
  console.error('usage: node requester.mjs ISSUER CLIENT_ID PRIVATE_JWK_FILE NHS PURPOSE CATEGORY...');
  process.exit(64);
}

// 1. Where to ask: the server's metadata (RFC 8414).
const md = await (await fetch(new URL('/.well-known/oauth-authorization-server', issuer))).json();

// 2. Who is asking: a fresh client assertion, signed with the registered key, single use.
const key = await jose.importJWK(JSON.parse(readFileSync(keyFile, 'utf8')), 'EdDSA');
const now = Math.floor(Date.now() / 1000);
const assertion = await new jose.SignJWT({ jti: randomUUID() })
  .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
  .setIssuer(clientId)
  .setSubject(clientId)
  .setAudience(md.token_endpoint)
  .setIssuedAt(now)
  .setExpirationTime(now + 60)
  .sign(key);

// 3. What for: one person, one purpose, the data categories needed.
const details = [{ type: 'care-record-access', identifier: nhs, purpose, datatypes, actions: ['read'] }];
const res = await fetch(md.token_endpoint, {
  method: 'POST',
  body: new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
    authorization_details: JSON.stringify(details),
  }),
});
const answer = await res.json();
if (!res.ok) {
  // access_denied never says why; the other errors say what to fix.
  console.error(`${res.status} ${answer.error}: ${answer.error_description}`);
  process.exit(1);
}
// answer.access_token goes to the record holders named in its "aud"; log_index is the access
// entry the person will see.
console.log(JSON.stringify(answer));
