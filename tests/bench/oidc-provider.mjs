// make bench: the widely used OAuth server consentd's token endpoint is compared with — node's
// oidc-provider (the version pinned in package.json) — set up for the same job: the
// client_credentials grant, private_key_jwt client authentication with the client's Ed25519
// key (EdDSA), RFC 9396 authorization_details of type care-record-access accepted and put
// into the token, and RFC 9068 JWT access tokens (resource indicators, accessTokenFormat
// 'jwt') signed with an Ed25519 key made at start. State (the replay detection of assertion
// jtis) is in oidc-provider's default in-memory adapter. What it does not do, consentd does:
// no consent decision, nothing durable.
//
// usage: node oidc-provider.mjs PORT CLIENT_ID KEYFILE
//   Serves http://127.0.0.1:PORT with the token endpoint at /oauth2/token (consentd's path);
//   KEYFILE is the client's 32-byte seed from `consentctl keygen` (only its public half is
//   used). Prints "listening" once it accepts connections; runs until SIGTERM.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';

const [port, clientId, keyFile] = process.argv.slice(2);
if (keyFile === undefined) {
  console.error('usage: node oidc-provider.mjs PORT CLIENT_ID KEYFILE');
  process.exit(64);
}
const issuer = `http://127.0.0.1:${port}`;
const resource = 'http://127.0.0.1:9/gp/fhir';
// PKCS #8 for an Ed25519 seed (RFC 8410): a fixed 16-byte prefix, then the 32 bytes.
const clientKey = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), readFileSync(keyFile)]),
  format: 'der',
  type: 'pkcs8',
});
const clientJwk = createPublicKey(clientKey).export({ format: 'jwk' });
const signingJwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });

const purposes = new Set(['TREAT', 'ETREAT', 'CAREMGT', 'PATRQT', 'PATADMIN']);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'EdDSA',
      id_token_signed_response_alg: 'EdDSA', // no ID tokens here, but the only key is Ed25519
      jwks: { keys: [{ ...clientJwk, alg: 'EdDSA', use: 'sig' }] },
      authorization_details_types: ['care-record-access'],
    },
  ],
  jwks: { keys: [{ ...signingJwk, alg: 'EdDSA', use: 'sig' }] },
  routes: { token: '/oauth2/token' },
  scopes: ['care-record-access'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'care-record-access',
        audience: resource,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'EdDSA' } },
      }),
    },
    richAuthorizationRequests: {
      enabled: true,
      types: {
        // The same shape consentd checks (fewer rules: no NHS number checksum, no policy).
        'care-record-access': {
          validate(ctx, detail) {
            if (
              !/^[0-9]{10}$/.test(detail.identifier) ||
              !purposes.has(detail.purpose) ||
              !Array.isArray(detail.datatypes) ||
              detail.datatypes.length === 0 ||
              !detail.datatypes.every((d) => typeof d === 'string')
            ) {
              throw new errors.InvalidAuthorizationDetails('a care-record-access detail is malformed');
            }
          },
        },
      },
      authorizationDetailsForAccessToken: (ctx) => JSON.parse(ctx.oidc.params.authorization_details),
    },
  },
});

const server = provider.listen(Number(port), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
