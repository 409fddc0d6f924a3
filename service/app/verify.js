// What the patient app checks for itself, without trusting the server that sent it: the
// signed checkpoint (a C2SP signed note, Ed25519), an RFC 9162 inclusion proof against it,
// and the leaf hash of an entry's exact bytes. Written as a plain ES module that runs both in
// the browser and in Node.js (tests/e2e/verify.test.mjs), using only WebCrypto.

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

// base64 (standard, padded) to bytes; throws on anything else.
export function b64decode(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
    throw new Error('not base64');
  }
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

// base64url without padding, as JWS and JWK use it.
export function b64url(bytes) {
  return b64encode(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 ‖ entry).
export function leafHash(entry) {
  return sha256(concat(new Uint8Array([0]), entry));
}

function nodeHash(left, right) {
  return sha256(concat(new Uint8Array([1]), left, right));
}

// parseVerifierKey reads "<name>+<hex key hash>+<base64(0x01 ‖ public key)>" (C2SP signed-note)
// and checks that the key hash is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[0:4].
export async function parseVerifierKey(vkey) {
  // The name holds no '+'; the base64 key may.
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(String(vkey).trim());
  if (m === null) throw new Error('the log key is not a signed-note verifier key');
  const [, name, hex, b64] = m;
  const raw = b64decode(b64);
  if (raw.length !== 33 || raw[0] !== 1) throw new Error('the log key is not an Ed25519 key');
  const hash = await sha256(concat(enc.encode(name + '\n'), raw));
  const want = hash.slice(0, 4);
  const got = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
  if (!bytesEqual(want, got)) throw new Error('the log key hash does not match the key');
  return { name, keyHash: got, publicKey: raw.slice(1) };
}

// verifyNote checks a signed note against a verifier key and returns its text (the signed
// part, ending in a newline). Throws unless a signature line by that key verifies.
export async function verifyNote(note, vkey) {
  const key = await parseVerifierKey(vkey);
  const cut = note.lastIndexOf('\n\n');
  if (cut < 0 || !note.endsWith('\n')) throw new Error('the checkpoint is not a signed note');
  const text = note.slice(0, cut + 1);
  const lines = note.slice(cut + 2, -1).split('\n');
  const pub = await subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
  for (const line of lines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (m === null || m[1] !== key.name) continue;
    let sig;
    try {
      sig = b64decode(m[2]);
    } catch {
      continue;
    }
    if (sig.length !== 68 || !bytesEqual(sig.slice(0, 4), key.keyHash)) continue;
    if (await subtle.verify({ name: 'Ed25519' }, pub, sig.slice(4), enc.encode(text))) {
      return text;
    }
  }
  throw new Error('the checkpoint is not signed by the log key');
}

// parseCheckpoint reads a C2SP tlog-checkpoint body: origin, size, base64 root hash.
export function parseCheckpoint(text) {
  const lines = text.split('\n');
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
    throw new Error('the checkpoint body is malformed');
  }
  const root = b64decode(lines[2]);
  if (root.length !== 32) throw new Error('the checkpoint root is not a SHA-256 hash');
  return { origin: lines[0], size: Number(lines[1]), root };
}

// verifyInclusion is RFC 9162 §2.1.3.2: true if proof (an array of 32-byte hashes) shows that
// leaf is at index in the tree of size whose root is root.
export async function verifyInclusion(index, size, leaf, proof, root) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    return false;
  }
  if (leaf.length !== 32 || root.length !== 32) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(r, root);
}
