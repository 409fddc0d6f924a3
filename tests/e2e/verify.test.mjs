// Unit tests of the patient app's own verification (service/app/verify.js), the same file the
// browser loads, against the shared test vectors: the C2SP signed note of the Go reference
// implementation, and the RFC 9162 inclusion proofs of transparency-dev/merkle, every one of
// which must pass or fail as the vector says. Run with `node --test` from the repository root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as v from '../../service/app/verify.js';

const VECTORS = '../shared/vectors';

test('the reference signed note verifies, and every changed byte makes it fail', async () => {
  const vec = JSON.parse(readFileSync(join(VECTORS, 'signed-note.json'), 'utf8'));
  assert.equal(await v.verifyNote(vec.note, vec.verifier_key), vec.text);
  const bad = [
    vec.note.replace('cryptography', 'Cryptography'),
    vec.note.replace('PeterNeumann x08', 'PeterNeumanm x08'),
    vec.note.replace('x08go', 'x09go'),
    vec.note.replace('\n\n', '\n'),
    vec.note.slice(0, -1),
  ];
  for (const note of bad) await assert.rejects(v.verifyNote(note, vec.verifier_key));
  await assert.rejects(v.verifyNote(vec.note, vec.verifier_key.replace('c74f20a3', 'c74f20a4')));
  await assert.rejects(v.verifyNote(vec.note, 'PeterNeumann+c74f20a3'));
});

test('a verifier key whose base64 holds "+" is read whole', async () => {
  // Keys are random: about one in two has a '+' in its base64 (this one is made like consentd's).
  const k = await v.parseVerifierKey(
    'consentd.example/log+3794c52f+AZYBNCy54GEOPvR+9yn9CGHA6+vgPK1x23arqHZ00DIV',
  );
  assert.equal(k.name, 'consentd.example/log');
  assert.equal(k.publicKey.length, 32);
});

test('a checkpoint body parses into origin, size and root', () => {
  const root = Buffer.alloc(32, 7).toString('base64');
  const cp = v.parseCheckpoint(`consentd.example/log\n42\n${root}\n`);
  assert.equal(cp.origin, 'consentd.example/log');
  assert.equal(cp.size, 42);
  assert.equal(cp.root.length, 32);
  assert.throws(() => v.parseCheckpoint(`o\n042\n${root}\n`));
  assert.throws(() => v.parseCheckpoint('o\n1\nAAAA\n'));
});

test('the leaf hash is SHA-256(0x00 ‖ entry)', async () => {
  // RFC 6962's test tree: the empty leaf's hash.
  assert.equal(
    Buffer.from(await v.leafHash(new Uint8Array(0))).toString('hex'),
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  );
});

function inclusionVectors(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...inclusionVectors(path));
    else if (name.endsWith('.json')) out.push(path);
  }
  return out;
}

test('every inclusion proof vector passes or fails as it should', async () => {
  const files = inclusionVectors(join(VECTORS, 'merkle/inclusion'));
  assert.ok(files.length > 50, `only ${files.length} vectors found`);
  for (const f of files) {
    const vec = JSON.parse(readFileSync(f, 'utf8'));
    let ok;
    try {
      ok = await v.verifyInclusion(
        vec.leafIdx,
        vec.treeSize,
        v.b64decode(vec.leafHash ?? ''),
        (vec.proof ?? []).map(v.b64decode),
        v.b64decode(vec.root ?? ''),
      );
    } catch {
      ok = false;
    }
    assert.equal(ok, !vec.wantErr, `${f}: ${vec.desc}`);
  }
});

test('base64url has no padding and the URL-safe alphabet', () => {
  assert.equal(v.b64url(new Uint8Array([0xfb, 0xff])), '-_8');
  assert.equal(v.b64encode(new Uint8Array([0xfb, 0xff])), '+/8=');
  assert.throws(() => v.b64decode('-_8'));
});
