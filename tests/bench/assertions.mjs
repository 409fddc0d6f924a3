// make bench: writes N distinct RFC 7523 client assertions (private_key_jwt), one compact JWS a
// line, signed with EdDSA by the client's Ed25519 key, for the token-endpoint runs of run.sh.
// A jti is single use at both servers, so a load generator must send each line once; signing
// them beforehand keeps the client's signing cost out of the measured run.
//
// usage: node assertions.mjs KEYFILE CLIENT_ID AUDIENCE N OUTFILE
//   KEYFILE holds the 32-byte Ed25519 seed written by `consentctl keygen`. Every assertion has
//   iss = sub = CLIENT_ID, aud = AUDIENCE, iat = now, exp = now + 240 s (both servers accept
//   at most 300 s ahead; the run must start and end within those 4 minutes) and a random jti.
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { openSync, readFileSync, writeSync, closeSync } from 'node:fs';

const [keyFile, clientId, audience, count, outFile] = process.argv.slice(2);
const n = Number(count);
if (outFile === undefined || !Number.isInteger(n) || n < 1) {
  console.error('usage: node assertions.mjs KEYFILE CLIENT_ID AUDIENCE N OUTFILE');
  process.exit(64);
}
const seed = readFileSync(keyFile);
if (seed.length !== 32) {
  console.error(`${keyFile}: want a 32-byte Ed25519 seed, have ${seed.length} bytes`);
  process.exit(65);
}
// PKCS #8 for an Ed25519 seed (RFC 8410): a fixed 16-byte prefix, then the 32 bytes.
const key = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
  format: 'der',
  type: 'pkcs8',
});

const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' })).toString('base64url');
const iat = Math.floor(Date.now() / 1000);
const fd = openSync(outFile, 'w', 0o600);
let lines = [];
for (let i = 0; i < n; i++) {
  const claims = {
    iss: clientId,
    sub: clientId,
    aud: audience,
    iat,
    exp: iat + 240,
    jti: randomBytes(16).toString('base64url'),
  };
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  lines.push(`${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`);
  if (lines.length === 4096 || i === n - 1) {
    writeSync(fd, `${lines.join('\n')}\n`);
    lines = [];
  }
}
closeSync(fd);
