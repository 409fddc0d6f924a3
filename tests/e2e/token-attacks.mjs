// Token attacks for test_token_attacks.sh (docs/RELIABILITY.md rows D2, D3, D8, D9): forging
// JWS with a key file of the data directory, a listener that counts who connects to it, bearer
// replays, and concurrent token issuance racing a consent's revocation, checked against the
// signed log. Key files are what `consentd init` and `consentctl keygen` write: a 32-byte
// Ed25519 seed.
//
// usage: node token-attacks.mjs sign KEYFILE HEADER_JSON PAYLOAD_JSON
//        node token-attacks.mjs assertion KEYFILE CLIENT_ID AUDIENCE [HEADER_JSON]
//        node token-attacks.mjs watch PORT SECONDS OUTFILE
//        node token-attacks.mjs replay URL TOKEN N
//        node token-attacks.mjs race ISSUER ADMIN_TOKEN CONSENTCTL NHS PATIENT_KEY CLIENT_ID
//                                    CLIENT_KEY ORG ROUNDS WORKERS
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';

const [cmd, ...args] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms, monotonic
const b64u = (b) => Buffer.from(b).toString('base64url');
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const CA_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function keyOf(file) {
  const seed = fs.readFileSync(file);
  if (seed.length !== 32) throw new Error(`${file}: not a 32-byte seed`);
  return crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
}

// sign makes a compact JWS of the raw header and payload texts, signed with Ed25519.
function sign(key, header, payload) {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${b64u(crypto.sign(null, Buffer.from(input), key))}`;
}

function assertion(key, clientId, aud, header = '{"alg":"EdDSA"}') {
  const t = Math.floor(Date.now() / 1000);
  return sign(key, header, JSON.stringify({
    iss: clientId, sub: clientId, aud, jti: crypto.randomUUID(), iat: t, exp: t + 60,
  }));
}

function watch(port, seconds, outfile) {
  let n = 0;
  const server = net.createServer((s) => {
    n++;
    s.destroy();
  });
  server.listen(port, '127.0.0.1', () => fs.writeFileSync(`${outfile}.ready`, 'listening\n'));
  setTimeout(() => {
    fs.writeFileSync(outfile, `${n}\n`);
    process.exit(0);
  }, seconds * 1000);
}

async function replay(url, token, n) {
  const statuses = {};
  for (let i = 0; i < n; i++) {
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    statuses[r.status] = (statuses[r.status] || 0) + 1;
  }
  console.log(JSON.stringify({ requests: n, statuses }));
}

const run = (file, argv) => new Promise((resolve, reject) => {
  execFile(file, argv, (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout)));
});

// race: rounds of [grant; workers asking for tokens that rely on it; the grant revoked while
// they ask], then the oracle: no request sent after the revocation was acknowledged got a
// token, and in the signed log no access entry relying on the grant comes after its revocation.
async function race(issuer, admin, ctl, nhs, pkeyFile, clientId, ckeyFile, org, rounds, workers) {
  const ckey = keyOf(ckeyFile);
  const ad = JSON.stringify([{ type: 'care-record-access', identifier: nhs, purpose: 'TREAT',
    datatypes: ['gp-record'], actions: ['read'] }]);
  const tokenRequest = async () => {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: CA_TYPE,
      client_assertion: assertion(ckey, clientId, `${issuer}/oauth2/token`), authorization_details: ad });
    const sent = now();
    const r = await fetch(`${issuer}/oauth2/token`, { method: 'POST', body });
    const j = await r.json();
    return { sent, answered: now(), status: r.status, grants: j.authorization_details?.[0]?.grants ?? [] };
  };
  const result = { rounds, workers, requests: 0, issued: 0, refused: 0, in_flight: 0,
    issued_after_ack: 0, log_violations: 0, access_entries_checked: 0, worst_ack_to_last_issue_ms: null };
  const revokes = [];
  for (let round = 0; round < rounds; round++) {
    const grant = JSON.parse(await run(ctl, ['consent', 'grant', '--url', issuer, '--nhs', nhs,
      '--key', pkeyFile, '--org', org, '--purpose', 'TREAT', '--datatypes', 'gp-record', '--until', '2030-01-01']));
    const revokeJws = (await run(ctl, ['consent', 'revoke', '--url', issuer, '--nhs', nhs,
      '--key', pkeyFile, '--jti', grant.jti, '--print'])).trim();
    let stop = false;
    const seen = [];
    const loops = Array.from({ length: workers }, async () => {
      while (!stop) seen.push(await tokenRequest());
    });
    await sleep(100 + Math.floor(Math.random() * 400));
    const r = await fetch(`${issuer}/v1/consents/${encodeURIComponent(grant.jti)}/revoke`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jws: revokeJws }),
    });
    const ack = now();
    const rev = await r.json();
    if (r.status !== 201 && r.status !== 200) throw new Error(`revoke: ${r.status} ${JSON.stringify(rev)}`);
    revokes.push({ jti: grant.jti, index: rev.log_index });
    await sleep(300);
    stop = true;
    await Promise.all(loops);
    let lastIssue = null;
    for (const s of seen) {
      result.requests++;
      const relies = s.grants.some((g) => g.jti === grant.jti);
      if (s.status === 200 && relies) {
        result.issued++;
        if (s.sent > ack) result.issued_after_ack++;
        lastIssue = Math.max(lastIssue ?? -Infinity, s.answered - ack);
      } else if (s.status === 200) {
        throw new Error(`a token relied on something else: ${JSON.stringify(s.grants)}`);
      } else {
        result.refused++;
      }
      if (s.sent < ack && s.answered > ack) result.in_flight++;
    }
    if (lastIssue !== null)
      result.worst_ack_to_last_issue_ms = Math.max(result.worst_ack_to_last_issue_ms ?? -Infinity, Math.round(lastIssue));
  }
  // The log: every access entry relying on a revoked grant precedes that grant's revocation.
  const size = Number((await (await fetch(`${issuer}/log/checkpoint`)).text()).split('\n')[1]);
  for (let start = 0; start < size; start += 1000) {
    const end = Math.min(size, start + 1000);
    const page = await (await fetch(`${issuer}/log/entries?start=${start}&end=${end}`,
      { headers: { authorization: `Bearer ${admin}` } })).json();
    page.entries.forEach((b, i) => {
      const e = JSON.parse(Buffer.from(b, 'base64').toString());
      if (e.type !== 'access') return;
      result.access_entries_checked++;
      for (const g of e.grants ?? [])
        for (const rv of revokes)
          if (g.jti === rv.jti && start + i > rv.index) result.log_violations++;
    });
  }
  console.log(JSON.stringify(result));
}

switch (cmd) {
  case 'sign':
    console.log(sign(keyOf(args[0]), args[1], args[2]));
    break;
  case 'assertion':
    console.log(assertion(keyOf(args[0]), args[1], args[2], args[3]));
    break;
  case 'watch':
    watch(Number(args[0]), Number(args[1]), args[2]);
    break;
  case 'replay':
    await replay(args[0], args[1], Number(args[2]));
    break;
  case 'race':
    await race(...args.slice(0, 8), Number(args[8]), Number(args[9]));
    break;
  default:
    console.error('usage: node token-attacks.mjs sign|assertion|watch|replay|race ...');
    process.exit(64);
}
