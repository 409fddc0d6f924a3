// mklog.mjs: a synthetic auditor's copy (docs/auditing.md's layout) for the replay benchmark,
// made without a service: every entry is one state_apply accepts, signed by keys made here.
//
// node mklog.mjs DIR PEOPLE signed|unsigned
//   signed:   per person, a patient.enrol and 4 consent grants (each an Ed25519 signature to
//             check on replay)
//   unsigned: per person, a patient.enrol and 4 access entries by the person's GP practice
//             under the implied rule (a consent decision each, no signature)
// Writes DIR/key, entries, leaves, checkpoint and checkpoints/.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';

const [dir, peopleArg, mode] = process.argv.slice(2);
const people = Number(peopleArg);
const T = '2026-11-23T10:00:00Z';
const TS = 1795428000;
const sha = (...parts) => createHash('sha256').update(Buffer.concat(parts)).digest();
const b64u = (b) => Buffer.from(b).toString('base64url');
const raw = (pub) => pub.export({ format: 'der', type: 'spki' }).subarray(-32);
const jwk = (pub) => `{"kty":"OKP","crv":"Ed25519","x":"${b64u(raw(pub))}"}`;
const kid = (pub) => b64u(sha(raw(pub)));

function nhs(i) { // ten digits with a valid Modulus 11 check digit
    for (let n = 100000000 + i * 7; ; n++) {
        const d = String(n).padStart(9, '0');
        let s = 0;
        for (let k = 0; k < 9; k++) s += Number(d[k]) * (10 - k);
        const c = 11 - (s % 11);
        if (c === 10) continue;
        return d + (c === 11 ? '0' : String(c));
    }
}

const entries = [];
const add = (s) => entries.push(Buffer.from(s));
const client = generateKeyPairSync('ed25519');
add(`{"v":1,"type":"org","time":"${T}","ods":"A81001","name":"GP","org_type":"gp-practice"}`);
add(`{"v":1,"type":"org","time":"${T}","ods":"RX1","name":"Hospital","org_type":"hospital"}`);
add(`{"v":1,"type":"client","time":"${T}","client_id":"gp","org":"A81001","jwk":${jwk(client.publicKey)},"roles":["enroller","requester"]}`);
const seen = new Set();
for (let i = 0, made = 0; made < people; i++) {
    const id = nhs(i);
    if (seen.has(id)) continue;
    seen.add(id);
    made++;
    const p = generateKeyPairSync('ed25519');
    add(`{"v":1,"type":"patient.enrol","time":"${T}","nhs":"${id}","jwk":${jwk(p.publicKey)},"kid":"${kid(p.publicKey)}","by":"gp"}`);
    for (let g = 0; g < 4; g++) {
        if (mode === 'signed') {
            const h = b64u(JSON.stringify({ alg: 'EdDSA', typ: 'consent+jwt', kid: kid(p.publicKey) }));
            const payload = b64u(`{"iss":"${id}","sub":"${id}","jti":"g${made}x${g}","iat":${TS},"effect":"permit","grantee":{"org":"RX1"},"purpose":"TREAT","datatypes":["gp-record"],"actions":["read"],"period":{"start":"2026-01-01T00:00:00Z","end":"2030-01-01T00:00:00Z"}}`);
            const jws = `${h}.${payload}.${b64u(sign(null, Buffer.from(`${h}.${payload}`), p.privateKey))}`;
            add(`{"v":1,"type":"consent","time":"${T}","jws":"${jws}"}`);
        } else {
            add(`{"v":1,"type":"access","time":"${T}","jti":"t${made}x${g}","client_id":"gp","org":"A81001","nhs":"${id}","purpose":"TREAT","datatypes":["gp-record"],"grants":[{"rule":"implied"}],"aud":["https://iss.example"],"iat":${TS},"exp":${TS + 300}}`);
        }
    }
}

function mth(leaves, lo, hi) { // RFC 9162 §2.1.1 over leaves[lo, hi)
    if (hi - lo === 1) return leaves[lo];
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    return sha(Buffer.from([1]), mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}
const leaves = entries.map((e) => sha(Buffer.from([0]), e));
const root = mth(leaves, 0, leaves.length);
const origin = 'bench.example/log';
const log = generateKeyPairSync('ed25519');
const keyHash = sha(Buffer.from(`${origin}\n`), Buffer.from([1]), raw(log.publicKey)).subarray(0, 4);
const body = `${origin}\n${entries.length}\n${root.toString('base64')}\n`;
const note = `${body}\n\u2014 ${origin} ${Buffer.concat([keyHash, sign(null, Buffer.from(body), log.privateKey)]).toString('base64')}\n`;
mkdirSync(`${dir}/checkpoints`, { recursive: true, mode: 0o700 });
writeFileSync(`${dir}/key`, `${origin}+${keyHash.toString('hex')}+${Buffer.concat([Buffer.from([1]), raw(log.publicKey)]).toString('base64')}\n`);
writeFileSync(`${dir}/entries`, Buffer.concat(entries.flatMap((e) => {
    const n = Buffer.alloc(2);
    n.writeUInt16BE(e.length);
    return [n, e];
})));
writeFileSync(`${dir}/leaves`, Buffer.concat(leaves));
writeFileSync(`${dir}/checkpoint`, note);
writeFileSync(`${dir}/checkpoints/${String(entries.length).padStart(20, '0')}-${root.subarray(0, 8).toString('hex')}`, note);
console.log(entries.length);
