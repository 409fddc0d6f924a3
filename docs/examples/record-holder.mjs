// A record holder checks an access token before releasing anything: offline against the JWKS,
// then (optionally) up to the second by introspection, authenticated with its own key.
//
// usage: node record-holder.mjs ISSUER MY_ENDPOINT TOKEN [CLIENT_ID PRIVATE_JWK_FILE]
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';

const [issuer, endpoint, token, clientId, keyFile] = process.argv.slice(2);
if (!issuer || !endpoint || !token) {
  console.error('usage: node record-holder.mjs ISSUER MY_ENDPOINT TOKEN [CLIENT_ID PRIVATE_JWK_FILE]');
  process.exit(64);
}
const md = await (await fetch(new URL('/.well-known/oauth-authorization-server', issuer))).json();

// 1. Offline: signature (JWKS, cached by jose), type, issuer, our own endpoint in "aud", expiry.
const jwks = jose.createRemoteJWKSet(new URL(md.jwks_uri));
const { payload } = await jose.jwtVerify(token, jwks, {
  issuer,
  audience: endpoint,
  typ: 'at+jwt',
  algorithms: ['EdDSA'],
});
// Release only these categories of this person, for this purpose.
for (const d of payload.authorization_details) {
  console.log(`may release ${d.datatypes.join(', ')} of ${d.identifier} for ${d.purpose}`);
}

// 2. Up to the second: is it still live (a revoked consent ends it at once)?
if (clientId && keyFile) {
  const key = await jose.importJWK(JSON.parse(readFileSync(keyFile, 'utf8')), 'EdDSA');
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new jose.SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(md.token_endpoint)
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(key);
  const res = await fetch(md.introspection_endpoint, {
    method: 'POST',
    body: new URLSearchParams({
      token,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  const info = await res.json();
  console.log(info.active ? `active, log index ${info.log_index}` : 'not active: release nothing');
}
