// A tlog-tiles client written from the C2SP spec, independent of consentd's C: it rebuilds the
// latest checkpoint's root from hash tiles alone, checks that each level-1 hash is the Merkle
// tree hash of its level-0 tile, and (given an auditor's token) that the entry bundles hold
// the same bytes as GET /log/entries, each hashing to its level-0 tile hash. Prints one
// "ok NAME" or "FAIL NAME: why" line per check for test_tiles.sh.
//
// usage: node tiles.mjs URL [TOKEN]
import { createHash } from 'node:crypto';

const [base, token] = process.argv.slice(2);
const WIDTH = 256;
let failed = 0;
let fetched = 0;

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
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

const sha256 = (...parts) => createHash('sha256').update(Buffer.concat(parts)).digest();
const leafHash = (entry) => sha256(Buffer.from([0]), entry);
const nodeHash = (l, r) => sha256(Buffer.from([1]), l, r);

// mth is RFC 9162 §2.1.1's MTH over a list of leaf hashes.
function mth(hashes) {
  if (hashes.length === 1) return hashes[0];
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return nodeHash(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
}

// tileIndex encodes N as the spec says: 3-digit groups, all but the last prefixed with x.
function tileIndex(n) {
  let s = String(n % 1000n).padStart(3, '0');
  for (n /= 1000n; n > 0n; n /= 1000n) s = `x${String(n % 1000n).padStart(3, '0')}/${s}`;
  return s;
}

// width is how many hashes tile n at level l has in a tree of size leaves (0: none).
function width(size, l, n) {
  const hashes = size >> BigInt(8 * l);
  if (n < hashes / 256n) return WIDTH;
  if (n === hashes / 256n) return Number(hashes % 256n);
  return 0;
}

async function get(path, headers = {}) {
  const res = await fetch(`${base}${path}`, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${body.toString().slice(0, 200)}`);
  return { res, body };
}

// tile fetches tile n of level l (or the entry bundle, for l === 'entries') at width w.
async function tile(l, n, w, headers) {
  const path = `/log/tile/${l}/${tileIndex(n)}${w < WIDTH ? `.p/${w}` : ''}`;
  const { res, body } = await get(path, headers);
  fetched++;
  if (res.headers.get('content-type') !== 'application/octet-stream')
    throw new Error(`${path}: content-type ${res.headers.get('content-type')}`);
  if (l !== 'entries' && body.length !== w * 32)
    throw new Error(`${path}: ${body.length} bytes for ${w} hashes`);
  return body;
}

const { body: note } = await get('/log/checkpoint');
const [, sizeLine, rootLine] = note.toString().split('\n');
const size = BigInt(sizeLine);
const root = Buffer.from(rootLine, 'base64');

// The client's view of the tree: a hash at a level that is a multiple of 8 comes from a tile
// (fetched once, at the width the checkpoint's tree has); any other is made from its halves.
const tiles = new Map();
async function tileHash(l, i) {
  const n = i / 256n;
  const key = `${l}/${n}`;
  if (!tiles.has(key)) tiles.set(key, await tile(l, n, width(size, l, n)));
  const t = tiles.get(key);
  const at = Number(i % 256n) * 32;
  if (at + 32 > t.length) throw new Error(`tile ${key} lacks hash ${i % 256n}`);
  return t.subarray(at, at + 32);
}
async function subtree(level, i) {
  if (level % 8 === 0) return tileHash(level / 8, i);
  return nodeHash(await subtree(level - 1, 2n * i), await subtree(level - 1, 2n * i + 1n));
}
// treeHash is MTH(D[start : start + n]) for an aligned start, split as RFC 9162 splits it.
async function treeHash(start, n) {
  if ((n & (n - 1n)) === 0n) {
    const level = n.toString(2).length - 1;
    return subtree(level, start >> BigInt(level));
  }
  let k = 1n;
  while (k * 2n < n) k *= 2n;
  return nodeHash(await treeHash(start, k), await treeHash(start + k, n - k));
}

await check(`the root rebuilt from hash tiles is the checkpoint's (size ${size})`, async () => {
  if (size === 0n) return 'the log is empty';
  const got = await treeHash(0n, size);
  return got.equals(root) || `rebuilt ${got.toString('base64')}, checkpoint ${rootLine}`;
});

await check('each level-1 hash is the Merkle tree hash of its full level-0 tile', async () => {
  const full = size / 256n;
  if (full === 0n) return 'no full level-0 tile';
  for (let j = 0n; j < full; j++) {
    const t = await tile(0, j, WIDTH);
    const hashes = [];
    for (let i = 0; i < WIDTH; i++) hashes.push(t.subarray(i * 32, i * 32 + 32));
    const want = await tileHash(1, j);
    if (!mth(hashes).equals(want)) return `level-1 hash ${j} differs`;
  }
  return true;
});

if (token) {
  const auth = { authorization: `Bearer ${token}` };
  const fromBundles = [];
  await check('entry bundles hold entries that hash to their level-0 tile hashes', async () => {
    for (let n = 0n; width(size, 0, n) > 0; n++) {
      const w = width(size, 0, n);
      const b = await tile('entries', n, w, auth);
      const t = await tile(0, n, w);
      let at = 0;
      for (let i = 0; i < w; i++) {
        if (at + 2 > b.length) return `bundle ${n} ends inside entry ${i}'s length`;
        const len = b.readUInt16BE(at);
        const e = b.subarray(at + 2, at + 2 + len);
        if (e.length !== len) return `bundle ${n} ends inside entry ${i}`;
        if (!leafHash(e).equals(t.subarray(i * 32, i * 32 + 32)))
          return `entry ${n * 256n + BigInt(i)} does not hash to its tile hash`;
        fromBundles.push(e);
        at += 2 + len;
      }
      if (at !== b.length) return `bundle ${n} has ${b.length - at} bytes after its ${w} entries`;
    }
    return BigInt(fromBundles.length) === size || `${fromBundles.length} entries for size ${size}`;
  });
  await check('entry bundles hold the bytes GET /log/entries serves', async () => {
    let start = 0;
    while (BigInt(start) < size) {
      const end = Math.min(start + 1000, Number(size));
      const { body } = await get(`/log/entries?start=${start}&end=${end}`, auth);
      const entries = JSON.parse(body).entries;
      for (let i = 0; i < entries.length; i++)
        if (!Buffer.from(entries[i], 'base64').equals(fromBundles[start + i] ?? Buffer.alloc(0)))
          return `entry ${start + i} differs`;
      start += entries.length;
    }
    return true;
  });
}
console.log(`# ${fetched} tiles fetched`);
process.exit(failed === 0 ? 0 : 1);
