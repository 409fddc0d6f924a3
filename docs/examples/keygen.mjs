// Makes a client key pair for a care provider's system: the private JWK goes to a file only
// this user can read, the public JWK is printed, to be registered with consentd.
//
// usage: node keygen.mjs PRIVATE_JWK_FILE
import { writeFileSync } from 'node:fs';
import * as jose from 'jose';

const [file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node keygen.mjs PRIVATE_JWK_FILE');
  process.exit(64);
}
const { publicKey, privateKey } = await jose.generateKeyPair('EdDSA', {
  crv: 'Ed25519',
  extractable: true,
});
writeFileSync(file, JSON.stringify(await jose.exportJWK(privateKey)), { mode: 0o600, flag: 'wx' });
console.log(JSON.stringify(await jose.exportJWK(publicKey)));
