// SMART Backend Services clients whose keys are RSA or EC: openid-client gets tokens with
// private_key_jwt assertions signed RS384 and ES384, jose signs RS256 and ES256 ones, and an
// assertion signed with an algorithm the registered key does not allow is refused. Prints one
// "ok NAME" or "FAIL NAME: why" line per check for test_smart_keys.sh.
//
// usage: node smart-keys.mjs jwk PEM [ALG]      the public JWK of a PKCS#8 private key
//        node smart-keys.mjs offcurve PEM       the same with y changed: a point off the curve
//        node smart-keys.mjs run ISSUER EC_ID EC_PEM RSA_ID RSA_PEM
import { createPrivateKey, createPublicKey, sign as nodeSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import * as jose from 'jose';

const [cmd, ...args] = process.argv.slice(2);

async function publicJwk(pem, alg) {
  const jwk = await jose.exportJWK(createPublicKey(readFileSync(pem)));
  if (alg) jwk.alg = alg;
  return jwk;
}

if (cmd === 'jwk') {
  console.log(JSON.stringify(await publicJwk(args[0], args[1])));
  process.exit(0);
}
if (cmd === 'offcurve') {
  const jwk = await publicJwk(args[0]);
  const y = Buffer.from(jwk.y, 'base64url');
  y[y.length - 1] ^= 1;
  jwk.y = y.toString('base64url');
  console.log(JSON.stringify(jwk));
  process.exit(0);
}

const [issuer, ecId, ecPem, rsaId, rsaPem] = args;
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
    console.log(`FAIL ${name}: ${e.name}: ${e.message}${e.error ? ` (${e.error}: ${e.error_description})` : ''}`);
  }
}

const tokenEndpoint = `${issuer}/oauth2/token`;
const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));

// grant gets a token with openid-client for clientId, whose key signs with alg.
async function grant(clientId, pem, alg) {
  const key = await jose.importPKCS8(readFileSync(pem, 'utf8'), alg);
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: alg },
    client.PrivateKeyJwt(key),
    { algorithm: 'oauth2', execute: [client.allowInsecureRequests] },
  );
  const md = config.serverMetadata();
  if (!md.token_endpoint_auth_signing_alg_values_supported.includes(alg))
    return `metadata does not list ${alg}`;
  const t = await client.clientCredentialsGrant(config);
  const { payload } = await jose.jwtVerify(t.access_token, jwks, {
    issuer,
    audience: issuer,
    typ: 'at+jwt',
    algorithms: ['EdDSA'],
  });
  return payload.client_id === clientId || `client_id ${payload.client_id}`;
}

function claims(clientId) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: clientId, sub: clientId, aud: tokenEndpoint, jti: crypto.randomUUID(), iat: now, exp: now + 60 };
}
async function post(assertion) {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  });
  const r = await fetch(tokenEndpoint, { method: 'POST', body });
  return { status: r.status, body: await r.json() };
}
async function accepted(assertion) {
  const r = await post(assertion);
  return (r.status === 200 && typeof r.body.access_token === 'string') || `${r.status} ${r.body.error_description}`;
}
async function refused(assertion, part) {
  const r = await post(assertion);
  if (r.status !== 401 || r.body.error !== 'invalid_client') return `${r.status} ${r.body.error}`;
  return r.body.error_description.includes(part) || `description: ${r.body.error_description}`;
}
// What no key allows is refused before the client is even looked up.
const ANY_ALG = '"alg" must be EdDSA, Ed25519, RS256, RS384, ES256 or ES384';

// rawSign signs header.payload with node's crypto (any hash, any key), as an attacker could.
function rawSign(header, payload, pem, hash, ieee) {
  const input = `${jose.base64url.encode(JSON.stringify(header))}.${jose.base64url.encode(JSON.stringify(payload))}`;
  const key = createPrivateKey(readFileSync(pem));
  const sig = nodeSign(hash, Buffer.from(input), ieee ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${sig.toString('base64url')}`;
}

await check('openid-client gets a token for the P-384 client with an ES384 assertion', () =>
  grant(ecId, ecPem, 'ES384'));
await check('openid-client gets a token for the RSA client with an RS384 assertion', () =>
  grant(rsaId, rsaPem, 'RS384'));
await check('openid-client gets a token for the RSA client with an RS256 assertion', () =>
  grant(rsaId, rsaPem, 'RS256'));
await check("jose's SignJWT: an ES384 assertion with typ JWT is accepted", async () => {
  const key = await jose.importPKCS8(readFileSync(ecPem, 'utf8'), 'ES384');
  return accepted(await new jose.SignJWT(claims(ecId)).setProtectedHeader({ alg: 'ES384', typ: 'JWT' }).sign(key));
});
await check('an ES256 assertion by the P-384 key itself is refused (the key allows ES384 only)', () =>
  refused(rawSign({ alg: 'ES256' }, claims(ecId), ecPem, 'sha256', true), 'must be ES384'));
await check('an ES384 assertion in DER (not r ‖ s) is refused', () =>
  refused(rawSign({ alg: 'ES384' }, claims(ecId), ecPem, 'sha384', false), 'not DER'));
await check('an RS384 header on the P-384 client is refused', () =>
  refused(rawSign({ alg: 'RS384' }, claims(ecId), rsaPem, 'sha384', false), 'must be ES384'));
await check('an ES384 header on the RSA client is refused', () =>
  refused(rawSign({ alg: 'ES384' }, claims(rsaId), ecPem, 'sha384', true), 'must be RS256 or RS384'));
await check('a PS384 assertion by the RSA key is refused', async () => {
  const key = await jose.importPKCS8(readFileSync(rsaPem, 'utf8'), 'PS384');
  return refused(await new jose.SignJWT(claims(rsaId)).setProtectedHeader({ alg: 'PS384' }).sign(key), ANY_ALG);
});
await check('HS256 keyed with the public JWK is refused', async () => {
  const secret = new TextEncoder().encode(JSON.stringify(await publicJwk(rsaPem)));
  return refused(await new jose.SignJWT(claims(rsaId)).setProtectedHeader({ alg: 'HS256' }).sign(secret), ANY_ALG);
});
await check('alg none is refused', () =>
  refused(`${jose.base64url.encode('{"alg":"none"}')}.${jose.base64url.encode(JSON.stringify(claims(rsaId)))}.`, ANY_ALG));
await check("the RSA client's assertion signed by the EC client's key is refused", async () => {
  const key = await jose.importPKCS8(readFileSync(ecPem, 'utf8'), 'ES384');
  return refused(await new jose.SignJWT(claims(rsaId)).setProtectedHeader({ alg: 'ES384' }).sign(key), 'must be RS256 or RS384');
});

process.exit(failed === 0 ? 0 : 1);
