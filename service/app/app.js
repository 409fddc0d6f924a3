// The patient app: enrol a key made here (WebCrypto Ed25519, not extractable, kept in this
// browser's IndexedDB), then see where one's records are, make and stop sharing choices, see
// every access with a proof checked here that it is in the public log, appoint a helper, get a
// new key through the GP practice, and download one's own log entries. Every change is a JWS
// signed here by the person's own key; only the public key ever leaves the device.
import {
  b64decode,
  b64encode,
  b64url,
  bytesEqual,
  leafHash,
  parseCheckpoint,
  sha256,
  verifyInclusion,
  verifyNote,
} from './verify.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const SCREENS = ['start', 'records', 'sharing', 'history', 'helpers', 'device', 'download'];
const TITLES = {
  loading: 'Your health records',
  start: 'Set up this device',
  records: 'Where your records are',
  sharing: 'Who can see your records',
  history: 'Who has looked at your records',
  helpers: 'Someone to help you',
  device: 'Lost or new phone',
  download: 'Download your records log',
};
const ASSERTION_SECONDS = 120;
const MAX_PAGES = 100; // of /entries, 1000 entries each

const state = { me: null, token: null, tokenExp: 0, meta: null, policy: null, orgs: null };

// --- words ----------------------------------------------------------------------------------

class Problem extends Error {}

// What to tell the person for each refusal the service can answer (its problem type, or OAuth
// error): what happened, and what to do next.
const SAY = {
  'invalid-code':
    'That set-up code did not work. It may have a typing mistake, be used already, or be more ' +
    'than 24 hours old. Check the code, or ask your GP practice for a new one.',
  'invalid-nhs': 'That NHS number is not right. Check the 10 numbers and try again.',
  'unknown-identifier':
    'We could not find that NHS number. Check it and try again, or ask your GP practice.',
  'already-enrolled':
    'This NHS number is already set up on another device. If you lost that device, choose ' +
    '“Lost or new phone” to get a new key through your GP practice.',
  'not-enrolled':
    'This NHS number is not set up yet. Ask your GP practice for a set-up code, then set up ' +
    'this device.',
  'invalid-jwk':
    'This device could not make a key the service accepts. Reload the page and try again. If it ' +
    'happens again, try another web browser.',
  'invalid-proof':
    'This device could not prove it holds its key. Check the date and time on this device are ' +
    'right, then try again.',
  'bad-signature':
    'The service does not recognise the key on this device. If you set up a newer device, use ' +
    'that one. If you lost your key, choose “Lost or new phone”.',
  'key-conflict': 'This key is already in use. Reload the page and try again.',
  'invalid-jws':
    'The service could not read this change. Reload the page and try again. If it happens ' +
    'again, tell your GP practice.',
  'invalid-field':
    'The service could not understand this request. Reload the page and try again. If it ' +
    'happens again, tell your GP practice.',
  'invalid-query':
    'The service could not understand this request. Reload the page and try again.',
  'unknown-purpose': 'One of your choices is no longer offered. Reload the page and choose again.',
  'unknown-category': 'One of your choices is no longer offered. Reload the page and choose again.',
  'unknown-org-type': 'One of your choices is no longer offered. Reload the page and choose again.',
  'invalid-period': 'The end date must be after today. Choose a later date and try again.',
  'signer-not-enrolled':
    'This device is not set up. Ask your GP practice for a set-up code, then set up this device.',
  'not-delegated':
    'You are not appointed to act for this person. Ask them to appoint you first.',
  'beyond-delegated-rights':
    'You are not allowed to make this change for this person. Ask them to change what you can ' +
    'do.',
  'jti-reused': 'This change was sent twice. Reload the page to see if it was saved.',
  'unknown-grant':
    'We could not find that choice. Reload the page to see your choices as they are now.',
  'not-the-persons-grant': 'That choice belongs to someone else. Reload the page.',
  'already-revoked':
    'You have already stopped this. Reload the page to see your choices as they are now.',
  'grant-mismatch': 'The service could not understand this request. Reload the page and try again.',
  'self-delegation':
    'You cannot appoint yourself. Enter the NHS number of the person who will help you.',
  'delegate-not-enrolled':
    'The person you want to appoint has not set up this app yet. Ask them to get a set-up code ' +
    'from their GP practice and set up their own device first. Then try again.',
  'delegation-loop':
    'That person already has someone acting for them through you. Check who you want to ' +
    'appoint.',
  'patient-not-enrolled':
    'This NHS number is not set up yet. Ask your GP practice for a set-up code.',
  forbidden:
    'You are not allowed to see this. Check you are using your own device and your own NHS ' +
    'number.',
  'insufficient-scope':
    'You are not allowed to see this. Check you are using your own device and your own NHS ' +
    'number.',
  'not-found': 'The service could not find this. Reload the page and try again.',
  'entry-too-large': 'That is too much to save at once. Choose fewer items and try again.',
  'method-not-allowed': 'The service could not understand this request. Reload the page.',
  conflict: 'This has already been done. Reload the page to see how things are now.',
  unavailable: 'The service is busy or closed for a short time. Wait a minute, then try again.',
  internal:
    'Something went wrong on our side. Try again later. If it keeps happening, tell your GP ' +
    'practice.',
  storage:
    'Something went wrong on our side. Try again later. If it keeps happening, tell your GP ' +
    'practice.',
  // OAuth errors (getting a token for one's own records).
  invalid_grant:
    'The service does not accept the key on this device any more. If you set up a newer device, ' +
    'use that one. If you lost your key, choose “Lost or new phone”.',
  invalid_request: 'The service could not understand this request. Reload the page and try again.',
  unauthorized_client: 'The service could not understand this request. Reload the page.',
  invalid_scope: 'The service could not understand this request. Reload the page.',
  unsupported_grant_type: 'The service could not understand this request. Reload the page.',
  server_error:
    'Something went wrong on our side. Try again later. If it keeps happening, tell your GP ' +
    'practice.',
  temporarily_unavailable:
    'The service is busy or closed for a short time. Wait a minute, then try again.',
};

function sayFor(status, body) {
  const slug =
    body && typeof body.type === 'string'
      ? body.type.slice(body.type.lastIndexOf('/') + 1)
      : body && typeof body.error === 'string'
        ? body.error
        : '';
  if (Object.hasOwn(SAY, slug)) return SAY[slug];
  if (status === 401) return 'Your session has ended. Reload the page to start again.';
  if (status === 503) return SAY.unavailable;
  if (status >= 500) return SAY.internal;
  return (
    'The service did not accept this. Reload the page and try again. If it happens again, tell ' +
    'your GP practice.'
  );
}

// --- the page -------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

// el makes an element: el('p', {class: 'x'}, 'text', child…).
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) e.append(c);
  }
  return e;
}

// replace puts children (leaving out null ones) in place of what parent holds.
function replace(parent, ...children) {
  parent.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
}

function showProblem(message) {
  const p = $('problem');
  p.replaceChildren(el('h2', {}, 'There is a problem'), el('p', {}, message));
  p.hidden = false;
  p.focus();
}

function clearProblem() {
  $('problem').hidden = true;
  $('problem').replaceChildren();
}

function busy(text) {
  $('busy').textContent = text;
}

// run does one thing the person asked for, showing what went wrong as a sentence.
async function run(what, fn) {
  clearProblem();
  busy(what);
  try {
    await fn();
    busy('');
  } catch (e) {
    busy('');
    showProblem(
      e instanceof Problem
        ? e.message
        : 'Something went wrong on this device. Reload the page and try again.',
    );
    if (!(e instanceof Problem)) console.error(e);
  }
}

const dateFmt = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long' });
const timeFmt = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short' });
const showDate = (s) => dateFmt.format(new Date(s));
const showTime = (s) => timeFmt.format(new Date(s));
const showNhs = (n) => `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;

function rfc3339(d) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function dayInput(input, yearsAhead) {
  const d = new Date();
  const min = new Date(d.getTime() + 86400000);
  input.min = min.toISOString().slice(0, 10);
  d.setUTCFullYear(d.getUTCFullYear() + yearsAhead);
  input.value = d.toISOString().slice(0, 10);
}

// nhsValue reads an NHS number as typed (spaces allowed) and checks its Modulus 11 digit.
function nhsValue(text) {
  const n = String(text).replace(/[\s-]/g, '');
  if (!/^[0-9]{10}$/.test(n)) return null;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(n[i]) * (10 - i);
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  return check === 10 || check !== Number(n[9]) ? null : n;
}

// --- the key store (IndexedDB): the CryptoKeyPair is stored as an object, never exported ---

function db() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open('consentd-app', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('keys');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function dbDo(mode, fn) {
  const d = await db();
  try {
    return await new Promise((resolve, reject) => {
      const tx = d.transaction('keys', mode);
      const r = fn(tx.objectStore('keys'));
      tx.oncomplete = () => resolve(r.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    d.close();
  }
}

const dbGet = (name) => dbDo('readonly', (s) => s.get(name));
const dbPut = (name, value) => dbDo('readwrite', (s) => s.put(value, name));
const dbDelete = (name) => dbDo('readwrite', (s) => s.delete(name));

// --- talking to consentd ----------------------------------------------------------------------

// call sends a request and returns the JSON answer; a refusal becomes a Problem.
async function call(method, path, { json, form, auth, text, again = true } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  if (auth) headers.Authorization = `Bearer ${await token()}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-store' });
  } catch {
    throw new Problem(
      'We could not reach the service. Check your internet connection and try again.',
    );
  }
  const raw = await res.text();
  if (res.ok && text) return raw;
  let answer = null;
  try {
    answer = JSON.parse(raw);
  } catch {
    /* not JSON: say what the status means */
  }
  if (res.status === 401 && auth && again) {
    // The token ran out early (its key was rotated, say): get a new one, once.
    state.token = null;
    return call(method, path, { json, form, auth, text, again: false });
  }
  if (!res.ok) throw new Problem(sayFor(res.status, answer));
  return answer;
}

async function metadata() {
  if (state.meta === null) state.meta = await call('GET', '/.well-known/oauth-authorization-server');
  return state.meta;
}

// signJws makes a compact JWS by this device's key (alg Ed25519, as WebCrypto names it).
async function signJws(keys, kid, typ, payload) {
  const header = typ === null ? { alg: 'Ed25519', kid } : { alg: 'Ed25519', typ, kid };
  const input = `${b64url(enc.encode(JSON.stringify(header)))}.${b64url(
    enc.encode(JSON.stringify(payload)),
  )}`;
  const sig = await crypto.subtle.sign({ name: 'Ed25519' }, keys.privateKey, enc.encode(input));
  return `${input}.${b64url(new Uint8Array(sig))}`;
}

function newId() {
  return b64url(crypto.getRandomValues(new Uint8Array(16)));
}

const now = () => Math.floor(Date.now() / 1000);

// makeKey makes this device's key pair: the private key cannot be exported, even by this page.
async function makeKey() {
  const keys = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
  return { keys, x: b64url(raw), kid: b64url(await sha256(raw)) };
}

const jwkOf = (x) => ({ kty: 'OKP', crv: 'Ed25519', x });

// tokenFor gets an access token for one's own records (RFC 7523 JWT-bearer grant).
async function tokenFor(who) {
  const meta = await metadata();
  const iat = now();
  const assertion = await signJws(who.keys, who.kid, 'JWT', {
    iss: who.nhs,
    sub: who.nhs,
    aud: meta.token_endpoint,
    iat,
    exp: iat + ASSERTION_SECONDS,
    jti: newId(),
  });
  const answer = await call('POST', new URL(meta.token_endpoint).pathname, {
    form: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion },
  });
  return answer;
}

async function token() {
  if (state.token !== null && now() < state.tokenExp - 30) return state.token;
  const answer = await tokenFor(state.me);
  state.token = answer.access_token;
  state.tokenExp = now() + (Number(answer.expires_in) || 60);
  return state.token;
}

const mine = (suffix) => `/v1/patients/${state.me.nhs}/${suffix}`;

async function policy() {
  if (state.policy === null) state.policy = await call('GET', '/v1/policy');
  return state.policy;
}

async function orgs() {
  if (state.orgs === null) {
    const answer = await call('GET', '/v1/orgs');
    state.orgs = new Map(answer.orgs.map((o) => [o.ods, o]));
  }
  return state.orgs;
}

function display(list, key, value) {
  const item = list.find((x) => x[key] === value);
  return item ? item.display : value;
}

function orgName(map, ods) {
  const o = map.get(ods);
  return o ? o.name : `Organisation ${ods}`;
}

function purposeName(pol, code) {
  return code === 'BTG' ? 'Emergency care' : display(pol.purposes, 'code', code);
}

function categoryNames(pol, names) {
  return names.map((n) => display(pol.categories, 'name', n)).join(', ');
}

// entries reads every log entry about the person: log index → exact bytes.
async function entries() {
  const out = new Map();
  let from = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await call('GET', `${mine('entries')}${from > 0 ? `?from=${from}` : ''}`, {
      auth: true,
    });
    for (const e of answer.entries) out.set(e.log_index, b64decode(e.entry));
    if (answer.next === undefined) break;
    from = answer.next;
  }
  return out;
}

// checkpoint reads the signed checkpoint and verifies it against the log key this device
// pinned when it was set up.
async function checkpoint() {
  const note = await call('GET', '/log/checkpoint', { text: true });
  const text = await verifyNote(note, state.me.logKey);
  return { note, ...parseCheckpoint(text) };
}

// --- screens ----------------------------------------------------------------------------------

async function showRecords() {
  const [pol, map, answer] = await Promise.all([
    policy(),
    orgs(),
    call('GET', mine('pointers'), { auth: true }),
  ]);
  const list = $('records-list');
  if (answer.pointers.length === 0) {
    list.replaceChildren(el('p', {}, 'No organisation has told us about records about you yet.'));
    return;
  }
  list.replaceChildren(
    el(
      'ul',
      { class: 'cards' },
      answer.pointers.map((p) => {
        const o = map.get(p.custodian);
        return el(
          'li',
          { class: 'card' },
          el('h2', {}, p.type.display),
          el(
            'dl',
            {},
            el('dt', {}, 'Who holds it'),
            el(
              'dd',
              {},
              orgName(map, p.custodian),
              o ? ` (${display(pol.org_types, 'name', o.type)})` : '',
            ),
            el('dt', {}, 'What kind of record'),
            el('dd', {}, display(pol.categories, 'name', p.category)),
            el('dt', {}, 'Since'),
            el('dd', {}, showDate(p.created)),
          ),
        );
      }),
    ),
  );
}

function granteeText(pol, map, g) {
  if (g.grantee === '*') return 'Anyone caring for you';
  if (g.grantee.org !== undefined) return orgName(map, g.grantee.org);
  return `Every ${display(pol.org_types, 'name', g.grantee.role).toLowerCase()}`;
}

async function showSharing() {
  const [pol, map, answer] = await Promise.all([
    policy(),
    orgs(),
    call('GET', mine('consents'), { auth: true }),
  ]);
  fillGrantForm(pol, map);
  const current = answer.consents.filter((c) => c.status === 'active' || c.status === 'pending');
  const past = answer.consents.filter((c) => !current.includes(c));
  const card = (c, live) => {
    const allow = c.effect === 'permit';
    return el(
      'li',
      { class: `card ${allow ? 'allow' : 'refuse'}` },
      el('h3', {}, `${granteeText(pol, map, c)}: ${allow ? 'allowed' : 'refused'}`),
      el(
        'dl',
        {},
        el('dt', {}, 'Records'),
        el('dd', {}, categoryNames(pol, c.datatypes)),
        el('dt', {}, 'What for'),
        el('dd', {}, purposeName(pol, c.purpose)),
        el('dt', {}, live ? 'Until' : 'Ended'),
        el(
          'dd',
          {},
          c.revoked ? `Stopped on ${showDate(c.revoked.time)}` : showDate(c.period.end),
        ),
        c.source === 'paper' ? [el('dt', {}, 'Recorded by'), el('dd', {}, 'Your GP practice, from a paper form')] : null,
      ),
      live
        ? el(
            'button',
            { type: 'button', class: 'button warning', 'data-revoke': c.jti },
            allow ? 'Stop sharing' : 'Remove this refusal',
            el('span', { class: 'visually-hidden' }, ` with ${granteeText(pol, map, c)}`),
          )
        : null,
    );
  };
  const list = $('sharing-list');
  replace(
    list,
    current.length === 0
      ? el('p', {}, 'You have not made any choices yet.')
      : el('ul', { class: 'cards' }, current.map((c) => card(c, true))),
    past.length === 0
      ? null
      : el(
          'details',
          {},
          el('summary', {}, `Past choices (${past.length})`),
          el('ul', { class: 'cards' }, past.map((c) => card(c, false))),
        ),
  );
}

let grantFormFilled = false;

function fillGrantForm(pol, map) {
  if (grantFormFilled) return;
  grantFormFilled = true;
  $('grant-org').replaceChildren(
    ...[...map.values()].map((o) =>
      el('option', { value: o.ods }, `${o.name} (${display(pol.org_types, 'name', o.type)})`),
    ),
  );
  $('grant-role').replaceChildren(
    ...pol.org_types.map((t) => el('option', { value: t.name }, t.display)),
  );
  $('grant-datatypes').append(
    ...pol.categories.map((c, i) =>
      el(
        'div',
        { class: 'checkbox' },
        el('input', { type: 'checkbox', id: `grant-dt-${i}`, name: 'datatypes', value: c.name }),
        el(
          'label',
          { for: `grant-dt-${i}` },
          c.display,
          c.sensitive ? ' (private: only shared if you allow it)' : '',
        ),
      ),
    ),
  );
  $('grant-purposes').append(
    ...pol.purposes.map((p, i) =>
      el(
        'div',
        { class: 'radio' },
        el('input', {
          type: 'radio',
          id: `grant-p-${i}`,
          name: 'purpose',
          value: p.code,
          checked: i === 0,
        }),
        el('label', { for: `grant-p-${i}` }, p.display),
      ),
    ),
  );
  dayInput($('grant-until'), 1);
}

async function grant(form) {
  const f = new FormData(form);
  const datatypes = f.getAll('datatypes');
  const who = f.get('who');
  const target = who === 'org' ? f.get('org') : f.get('role');
  const until = f.get('until');
  if (!target) throw new Problem('Choose who this choice is for.');
  if (datatypes.length === 0) throw new Problem('Choose at least one kind of record.');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(until ?? '') || new Date(`${until}T00:00:00Z`) <= new Date()) {
    throw new Problem('Enter an end date after today.');
  }
  const jws = await signJws(state.me.keys, state.me.kid, 'consent+jwt', {
    iss: state.me.nhs,
    sub: state.me.nhs,
    jti: newId(),
    iat: now(),
    effect: f.get('effect'),
    grantee: who === 'org' ? { org: target } : { role: target },
    purpose: f.get('purpose'),
    datatypes,
    actions: ['read'],
    period: { start: rfc3339(new Date()), end: `${until}T00:00:00Z` },
  });
  await call('POST', '/v1/consents', { json: { jws } });
  await showSharing();
  form.reset();
  dayInput($('grant-until'), 1);
  showPanel('grant-saved', 'Your choice is saved.', $('sharing-list'));
}

async function revoke(jti) {
  const jws = await signJws(state.me.keys, state.me.kid, 'consent-revoke+jwt', {
    iss: state.me.nhs,
    sub: state.me.nhs,
    jti: newId(),
    grant: jti,
    iat: now(),
  });
  await call('POST', `/v1/consents/${encodeURIComponent(jti)}/revoke`, { json: { jws } });
  await showSharing();
  showPanel('grant-saved', 'You have stopped sharing. This takes effect now.', $('sharing-list'));
}

// showPanel puts a confirmation before where, and moves focus to it.
function showPanel(id, text, where) {
  const old = $(id);
  if (old) old.remove();
  const p = el('div', { id, class: 'panel', tabindex: '-1' }, el('p', {}, text));
  where.before(p);
  p.focus();
}

// checkAccess proves to the person, here, that access entry a is in the public log: its exact
// bytes say what the listing shows, their leaf hash is in the tree of the signed checkpoint.
async function checkAccess(a, bytes, cp) {
  if (bytes === undefined) return { ok: false, why: 'its entry was not sent' };
  let e;
  try {
    e = JSON.parse(dec.decode(bytes));
  } catch {
    return { ok: false, why: 'its entry is not readable' };
  }
  const same = ['jti', 'client_id', 'org', 'purpose', 'time'].every((k) => e[k] === a[k]);
  if (e.type !== 'access' || e.nhs !== state.me.nhs || !same ||
      JSON.stringify(e.datatypes) !== JSON.stringify(a.datatypes)) {
    return { ok: false, why: 'the log entry does not say what this page shows' };
  }
  if (a.log_index >= cp.size) return { ok: null };
  const proof = await call('GET', `/log/proof/inclusion?index=${a.log_index}&size=${cp.size}`);
  const leaf = await leafHash(bytes);
  if (!bytesEqual(b64decode(proof.leaf_hash), leaf)) {
    return { ok: false, why: 'the log holds a different entry there' };
  }
  const ok = await verifyInclusion(
    a.log_index,
    cp.size,
    leaf,
    proof.proof.map(b64decode),
    cp.root,
  );
  return ok ? { ok: true } : { ok: false, why: 'the proof does not match the signed log' };
}

async function showHistory() {
  const [pol, map, answer] = await Promise.all([
    policy(),
    orgs(),
    call('GET', mine('access'), { auth: true }),
  ]);
  const list = $('history-list');
  if (answer.access.length === 0) {
    list.replaceChildren(el('p', {}, 'Nobody has asked to see your records yet.'));
    return;
  }
  const items = answer.access.map((a) => {
    const urgent = a.break_glass !== undefined;
    const status = el('p', { class: 'proof', 'data-log-index': String(a.log_index) },
      'Checking that this is in the public log…');
    const li = el(
      'li',
      { class: `card access${urgent ? ' break-glass' : ''}` },
      el(
        'h2',
        {},
        urgent ? 'Emergency access by ' : '',
        orgName(map, a.org),
        urgent ? '' : ' looked at your records',
      ),
      el(
        'dl',
        {},
        el('dt', {}, 'When'),
        el('dd', {}, showTime(a.time)),
        el('dt', {}, 'Records'),
        el('dd', {}, categoryNames(pol, a.datatypes)),
        el('dt', {}, 'What for'),
        el('dd', {}, purposeName(pol, a.purpose)),
        urgent ? [el('dt', {}, 'Reason given'), el('dd', { class: 'reason' }, a.break_glass.reason)] : null,
        el('dt', {}, 'Their system'),
        el('dd', {}, a.client_id),
      ),
      status,
    );
    return { a, li, status };
  });
  list.replaceChildren(el('ol', { class: 'cards' }, items.map((i) => i.li)));
  let cp;
  let all;
  try {
    [cp, all] = await Promise.all([checkpoint(), entries()]);
  } catch (e) {
    if (!(e instanceof Problem)) console.error(e);
    for (const i of items) {
      i.status.className = 'proof bad';
      i.status.textContent =
        e instanceof Problem
          ? `Could not check this: ${e.message}`
          : 'Warning: the public log could not be checked. Its signature is not the one this ' +
            'device knows. Tell your GP practice.';
    }
    return;
  }
  for (const i of items) {
    const r = await checkAccess(i.a, all.get(i.a.log_index), cp);
    if (r.ok === true) {
      i.status.className = 'proof good';
      i.status.textContent = `Checked by this device: this access is in the public log (entry ${i.a.log_index}).`;
    } else if (r.ok === null) {
      i.status.className = 'proof';
      i.status.textContent = 'This is too new to check. Reload the page in a minute.';
    } else {
      i.status.className = 'proof bad';
      i.status.textContent = `Warning: this could not be proved to be in the public log (${r.why}). Tell your GP practice.`;
    }
  }
  busy('All accesses are checked.');
}

function decodePayload(jws) {
  try {
    return JSON.parse(dec.decode(b64decode(toStd(jws.split('.')[1]))));
  } catch {
    return null;
  }
}

function toStd(s) {
  const t = s.replace(/-/g, '+').replace(/_/g, '/');
  return t + '='.repeat((4 - (t.length % 4)) % 4);
}

const RELATIONSHIPS = {
  carer: 'Carer',
  attorney: 'Attorney',
  guardian: 'Guardian',
  family: 'Family member',
};

async function showHelpers() {
  const all = await entries();
  const helpers = [];
  for (const bytes of all.values()) {
    let e;
    try {
      e = JSON.parse(dec.decode(bytes));
    } catch {
      continue;
    }
    if (e.type !== 'delegation') continue;
    const d = e.jws !== undefined ? decodePayload(e.jws) : e;
    if (d === null || d.delegate === undefined) continue;
    if (d.period !== undefined && new Date(d.period.end) <= new Date()) continue;
    helpers.push(d);
  }
  const list = $('helpers-list');
  list.replaceChildren(
    helpers.length === 0
      ? el('p', {}, 'Nobody can act for you.')
      : el(
          'ul',
          { class: 'cards' },
          helpers.map((d) =>
            el(
              'li',
              { class: 'card' },
              el('h3', {}, `NHS number ${showNhs(d.delegate)}`),
              el(
                'dl',
                {},
                el('dt', {}, 'Who they are'),
                el('dd', {}, RELATIONSHIPS[d.relationship] ?? d.relationship),
                el('dt', {}, 'Until'),
                el('dd', {}, d.period !== undefined ? showDate(d.period.end) : 'No end date'),
              ),
            ),
          ),
        ),
  );
}

async function appoint(form) {
  const f = new FormData(form);
  const delegate = nhsValue(f.get('delegate'));
  const actions = f.getAll('actions');
  const until = f.get('until');
  if (delegate === null) {
    throw new Problem('Enter their NHS number: 10 numbers, for example 943 476 5870.');
  }
  if (actions.length === 0) throw new Problem('Choose at least one thing they can do for you.');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(until ?? '') || new Date(`${until}T00:00:00Z`) <= new Date()) {
    throw new Problem('Enter an end date after today.');
  }
  const jws = await signJws(state.me.keys, state.me.kid, 'delegation+jwt', {
    iss: state.me.nhs,
    sub: state.me.nhs,
    jti: newId(),
    iat: now(),
    delegate,
    rights: { purposes: '*', datatypes: '*', actions },
    relationship: f.get('relationship'),
    period: { start: rfc3339(new Date()), end: `${until}T00:00:00Z` },
  });
  await call('POST', '/v1/delegations', { json: { jws } });
  form.reset();
  dayInput($('helper-until'), 1);
  await showHelpers();
  showPanel('helper-saved', 'This person can now act for you.', $('helpers-list'));
}

async function download() {
  const [all, cp] = await Promise.all([entries(), checkpoint()]);
  const doc = {
    nhs: state.me.nhs,
    downloaded: rfc3339(new Date()),
    log_key: state.me.logKey,
    checkpoint: cp.note,
    entries: [...all.entries()].map(([index, bytes]) => ({
      log_index: index,
      entry: b64encode(bytes),
      text: dec.decode(bytes),
    })),
  };
  const blob = new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: `health-records-log-${state.me.nhs}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  busy(`Downloaded ${doc.entries.length} entries.`);
}

// --- setting up: enrolment, and a new key through the GP practice ---------------------------

async function enrol(form) {
  const f = new FormData(form);
  const nhs = nhsValue(f.get('nhs'));
  const code = String(f.get('code') ?? '').trim();
  if (nhs === null) {
    throw new Problem(
      'Enter your NHS number: 10 numbers, for example 943 476 5919. Check it on a letter from ' +
        'the NHS.',
    );
  }
  if (code === '') throw new Problem('Enter the set-up code your GP practice gave you.');
  const logKey = (await call('GET', '/log/key', { text: true })).trim();
  const k = await makeKey();
  const proof = await signJws(k.keys, k.kid, null, { sub: nhs, code, iat: now() });
  await call('POST', '/v1/patients', { json: { nhs, code, jwk: jwkOf(k.x), proof } });
  const me = { nhs, keys: k.keys, x: k.x, kid: k.kid, logKey };
  await dbPut('me', me);
  state.me = me;
  form.reset();
  location.hash = '#records';
}

async function startRecovery(form) {
  const nhs = nhsValue(new FormData(form).get('nhs'));
  if (nhs === null) {
    throw new Problem('Enter your NHS number: 10 numbers, for example 943 476 5919.');
  }
  const logKey = (await call('GET', '/log/key', { text: true })).trim();
  const k = await makeKey();
  await dbPut('pending', { nhs, keys: k.keys, x: k.x, kid: k.kid, logKey });
  form.reset();
  await showDevice();
  $('pending-key').focus();
}

async function checkRecovery() {
  const p = await dbGet('pending');
  if (p === undefined) return;
  try {
    await tokenFor(p);
  } catch (e) {
    if (e instanceof Problem) {
      throw new Problem(
        'Your new key is not added yet. Show the key code to your GP practice. When they have ' +
          'added it, try again.',
      );
    }
    throw e;
  }
  await dbPut('me', p);
  await dbDelete('pending');
  state.me = p;
  state.token = null;
  location.hash = '#records';
}

async function showDevice() {
  const p = await dbGet('pending');
  $('device-enrolled').hidden = state.me === null;
  $('device-new').hidden = p !== undefined;
  $('device-pending').hidden = p === undefined;
  if (p !== undefined) {
    $('pending-nhs').textContent = showNhs(p.nhs);
    $('pending-key').textContent = p.x.match(/.{1,4}/g).join(' ');
    $('pending-key').setAttribute('tabindex', '-1');
    $('pending-check').textContent = p.kid.slice(0, 8).match(/.{4}/g).join(' ');
  }
}

// --- routing --------------------------------------------------------------------------------

const LOADERS = {
  records: showRecords,
  sharing: showSharing,
  history: showHistory,
  helpers: showHelpers,
  device: showDevice,
  download: async () => {},
  start: async () => {},
};

async function route() {
  let name = location.hash.replace(/^#/, '');
  if (!SCREENS.includes(name)) name = state.me === null ? 'start' : 'records';
  if (state.me === null && name !== 'start' && name !== 'device') name = 'start';
  if (state.me !== null && name === 'start') name = 'records';
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== `screen-${name}`;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $('nav').hidden = state.me === null;
  $('who').hidden = state.me === null;
  if (state.me !== null) $('who').textContent = `NHS number ${showNhs(state.me.nhs)}`;
  document.title = `${TITLES[name]} – Your health records`;
  clearProblem();
  const h1 = document.querySelector(`#screen-${name} h1`);
  if (h1 !== null && document.activeElement !== h1) h1.focus();
  await run('Loading…', LOADERS[name]);
}

function onSubmit(id, what, fn) {
  $(id).addEventListener('submit', (ev) => {
    ev.preventDefault();
    run(what, () => fn(ev.target));
  });
}

async function main() {
  if (globalThis.crypto?.subtle === undefined || typeof indexedDB === 'undefined') {
    $('screen-loading').hidden = false;
    showProblem(
      'This web browser cannot keep a key safely. Open this page in an up-to-date browser such ' +
        'as Chrome, Edge, Firefox or Safari.',
    );
    return;
  }
  const me = await dbGet('me');
  state.me = me ?? null;
  onSubmit('enrol-form', 'Setting up this device…', enrol);
  onSubmit('grant-form', 'Saving your choice…', grant);
  onSubmit('helper-form', 'Appointing…', appoint);
  onSubmit('recover-form', 'Making a new key…', startRecovery);
  $('pending-check-button').addEventListener('click', () =>
    run('Checking…', checkRecovery),
  );
  $('pending-cancel').addEventListener('click', () =>
    run('', async () => {
      await dbDelete('pending');
      await showDevice();
      $('recover-nhs').focus();
    }),
  );
  $('download-button').addEventListener('click', () => run('Preparing your download…', download));
  $('sharing-list').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-revoke]');
    if (b !== null) run('Stopping…', () => revoke(b.dataset.revoke));
  });
  for (const r of document.querySelectorAll('input[name="who"]')) {
    r.addEventListener('change', () => {
      const org = $('grant-who-org').checked;
      $('grant-org-field').hidden = !org;
      $('grant-role-field').hidden = org;
    });
  }
  dayInput($('helper-until'), 1);
  window.addEventListener('hashchange', route);
  await route();
}

main();
