// A real OAuth client against consentd: openid-client v6 discovers the server (RFC 8414) and
// gets tokens with client_credentials and private_key_jwt; jose verifies the tokens against
// the JWKS and crafts the assertions an attacker would send. Prints one "ok NAME" or
// "FAIL NAME: why" line per check for test_oauth.sh.
//
// usage: node oauth-client.mjs ISSUER CLIENT_ID KEYFILE X
//   KEYFILE holds the 32-byte Ed25519 seed written by `consentctl keygen`; X is the public
//   key's base64url as keygen printed it.
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import * as jose from 'jose';

const [issuer, clientId, keyFile, x] = process.argv.slice(2);
let failed = 0;

function ok(name) {
  console.log(`ok ${name}`);
}
function fail(name, why) {
  failed++;
  console.log(`FAIL ${name}: ${why}`);
}
async function check(name, fn) {
  try {
    const why = await fn();
    if (why === true || why === undefined) ok(name);
    else fail(name, why);
  } catch (e) {
    fail(name, `${e.name}: ${e.message}${e.error ? ` (${e.error}: ${e.error_description})` : ''}`);
  }
}

const seed = readFileSync(keyFile);
const jwk = { kty: 'OKP', crv: 'Ed25519', d: jose.base64url.encode(seed), x };
const privateKey = await jose.importJWK(jwk, 'EdDSA');

let config;
await check('openid-client discovery with algorithm oauth2', async () => {
  config = await client.discovery(
    new URL(issuer),
    clientId,
    { token_endpoint_auth_method: 'private_key_jwt' },
    client.PrivateKeyJwt(privateKey),
    { algorithm: 'oauth2', execute: [client.allowInsecureRequests] },
  );
  const md = config.serverMetadata();
  if (md.issuer !== issuer) return `issuer ${md.issuer}`;
  if (md.token_endpoint !== `${issuer}/oauth2/token`) return `token_endpoint ${md.token_endpoint}`;
  return true;
});
if (config === undefined) {
  console.log('FAIL no configuration: the remaining checks cannot run');
  process.exit(1);
}
const md = config.serverMetadata();
const jwks = jose.createRemoteJWKSet(new URL(md.jwks_uri));

let first;
await check('clientCredentialsGrant gets a Bearer token', async () => {
  first = await client.clientCredentialsGrant(config);
  if (typeof first.access_token !== 'string') return 'no access_token';
  if (first.token_type !== 'bearer') return `token_type ${first.token_type}`;
  if (first.expires_in !== 300) return `expires_in ${first.expires_in}`;
  return true;
});

await check('the access token verifies with the JWKS as an RFC 9068 at+jwt', async () => {
  const { payload, protectedHeader } = await jose.jwtVerify(first.access_token, jwks, {
    issuer,
    audience: issuer,
    typ: 'at+jwt',
    algorithms: ['EdDSA'],
  });
  if (protectedHeader.alg !== 'EdDSA') return `alg ${protectedHeader.alg}`;
  if (payload.client_id !== clientId || payload.sub !== clientId) return `client_id ${payload.client_id}`;
  if (payload.scope !== first.scope) return `scope ${payload.scope} vs ${first.scope}`;
  if (payload.exp - payload.iat !== 300) return `lifetime ${payload.exp - payload.iat}`;
  return true;
});

await check('a second grant works (each assertion has a fresh jti)', async () => {
  const t = await client.clientCredentialsGrant(config);
  return t.access_token !== first.access_token || 'the same token twice';
});

await check('a grant with scope=audit gets exactly that scope', async () => {
  const t = await client.clientCredentialsGrant(config, { scope: 'audit' });
  return t.scope === 'audit' || `scope ${t.scope}`;
});

await check('a scope the roles do not allow is invalid_scope', async () => {
  try {
    await client.clientCredentialsGrant(config, { scope: 'patient' });
    return 'a token was issued';
  } catch (e) {
    return (e.error === 'invalid_scope' && e.status === 400) || `${e.status} ${e.error}`;
  }
});

// Raw requests with crafted assertions.
async function post(assertion) {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  });
  const r = await fetch(md.token_endpoint, { method: 'POST', body });
  return { status: r.status, body: await r.json() };
}
function claims(extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: clientId,
    sub: clientId,
    aud: md.token_endpoint,
    jti: crypto.randomUUID(),
    iat: now,
    exp: now + 60,
    ...extra,
  };
}
async function sign(payload, header = { alg: 'Ed25519' }, key = privateKey) {
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(key);
}
async function refused(assertion, part) {
  const r = await post(assertion);
  if (r.status !== 401 || r.body.error !== 'invalid_client') return `${r.status} ${r.body.error}`;
  return r.body.error_description.includes(part) || `description: ${r.body.error_description}`;
}

await check('a replayed assertion is refused with 401 invalid_client', async () => {
  const a = await sign(claims());
  const r = await post(a);
  if (r.status !== 200) return `first use: ${r.status} ${r.body.error_description}`;
  return refused(a, 'used already');
});

await check('an expired assertion is refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  return refused(await sign(claims({ iat: now - 600, exp: now - 120 })), 'has expired');
});

await check('an assertion living longer than 5 minutes is refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  return refused(await sign(claims({ exp: now + 3600 })), 'at most 300 s');
});

await check('an assertion for another audience is refused', async () => {
  return refused(await sign(claims({ aud: 'https://elsewhere.example/token' })), '"aud" must be');
});

await check('an assertion signed by another key is refused', async () => {
  const { privateKey: other } = await jose.generateKeyPair('Ed25519');
  return refused(await sign(claims(), { alg: 'Ed25519' }, other), 'signature does not verify');
});

await check('alg none is refused', async () => {
  const enc = (o) => jose.base64url.encode(JSON.stringify(o));
  // Refused before the client's key is looked up: no key allows "none".
  return refused(`${enc({ alg: 'none' })}.${enc(claims())}.`, '"alg" must be EdDSA, Ed25519, RS256');
});

await check('an embedded jwk header is refused', async () => {
  const { publicKey, privateKey: other } = await jose.generateKeyPair('Ed25519');
  const embedded = await jose.exportJWK(publicKey);
  return refused(await sign(claims(), { alg: 'Ed25519', jwk: embedded }, other), 'forbidden member');
});

process.exit(failed > 0 ? 1 : 0);
