// forge-log.mjs: what a malicious operator holding the log's checkpoint key can do to an
// auditor's copy (docs/auditing.md): rewrite entries and sign a whole new, self-consistent
// checkpoint over them. test_audit.sh uses it to show that the patient-signature rules catch
// what the tree alone cannot.
//
// node forge-log.mjs DIR CKPT_KEY_FILE ORIGIN OP...
//   resign INDEX KEYFILE          re-sign entry INDEX's "jws" payload with KEYFILE (same header)
//   append-copy INDEX KEYFILE JTI append a copy of entry INDEX whose jws has jti JTI, signed
//                                 with KEYFILE
// Rewrites DIR/entries, DIR/leaves and DIR/checkpoint, and leaves in DIR/checkpoints/ only the
// forged checkpoint, as a new auditor's first fetch of the forged log would.
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, unlinkSync } from 'node:fs';

const [dir, ckptKeyFile, origin, ...ops] = process.argv.slice(2);
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const key = (file) =>
    createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, readFileSync(file)]), format: 'der', type: 'pkcs8' });
const sha = (...parts) => createHash('sha256').update(Buffer.concat(parts)).digest();
const b64u = (b) => Buffer.from(b).toString('base64url');

function readEntries(path) {
    const b = readFileSync(path);
    const out = [];
    for (let i = 0; i < b.length; ) {
        const n = b.readUInt16BE(i);
        out.push(b.subarray(i + 2, i + 2 + n));
        i += 2 + n;
    }
    return out;
}

function mth(leaves) { // RFC 9162 §2.1.1
    if (leaves.length === 0) return sha();
    if (leaves.length === 1) return leaves[0];
    let k = 1;
    while (k * 2 < leaves.length) k *= 2;
    return sha(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function resignJws(jws, keyFile, jti) {
    const [h, p] = jws.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    if (jti) payload.jti = jti;
    const input = `${h}.${b64u(JSON.stringify(payload))}`;
    return `${input}.${b64u(sign(null, Buffer.from(input), key(keyFile)))}`;
}

const entries = readEntries(`${dir}/entries`);
for (let i = 0; i < ops.length; ) {
    const op = ops[i];
    const index = Number(ops[i + 1]);
    const e = JSON.parse(entries[index].toString());
    if (op === 'resign') {
        e.jws = resignJws(e.jws, ops[i + 2]);
        entries[index] = Buffer.from(JSON.stringify(e));
        i += 3;
    } else if (op === 'append-copy') {
        e.jws = resignJws(e.jws, ops[i + 2], ops[i + 3]);
        const last = JSON.parse(entries[entries.length - 1].toString());
        e.time = last.time;
        entries.push(Buffer.from(JSON.stringify(e)));
        i += 4;
    } else {
        throw new Error(`unknown operation ${op}`);
    }
}
const leaves = entries.map((e) => sha(Buffer.from([0]), e));
writeFileSync(`${dir}/entries`, Buffer.concat(entries.flatMap((e) => {
    const n = Buffer.alloc(2);
    n.writeUInt16BE(e.length);
    return [n, e];
})));
writeFileSync(`${dir}/leaves`, Buffer.concat(leaves));

// The checkpoint, as C2SP signed-note and tlog-checkpoint define it, signed with the log's key.
const k = key(ckptKeyFile);
const pk = createPublicKey(k).export({ format: 'der', type: 'spki' }).subarray(-32);
const body = `${origin}\n${entries.length}\n${mth(leaves).toString('base64')}\n`;
const keyHash = sha(Buffer.from(`${origin}\n`), Buffer.from([1]), pk).subarray(0, 4);
const sig = sign(null, Buffer.from(body), k);
const note = `${body}\n\u2014 ${origin} ${Buffer.concat([keyHash, sig]).toString('base64')}\n`;
writeFileSync(`${dir}/checkpoint`, note);
for (const f of readdirSync(`${dir}/checkpoints`)) unlinkSync(`${dir}/checkpoints/${f}`);
const root = mth(leaves);
writeFileSync(`${dir}/checkpoints/${String(entries.length).padStart(20, '0')}-${root.subarray(0, 8).toString('hex')}`, note);
