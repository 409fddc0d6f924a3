// The patient app in a real browser: Debian's Chromium, headless, driven by playwright-core,
// with axe-core checking WCAG 2.2 AA on every screen. Prints one "ok NAME" or "FAIL NAME: why"
// line per check for test_app.sh.
//
// usage: node app.mjs   with the environment:
//   APP_URL       consentd's base URL (http://127.0.0.1:PORT)
//   APP_NHS       the person who enrols in the browser; APP_CODE their enrolment code
//   APP_HELPER    an enrolled person's NHS number (appointed as carer); APP_STRANGER one who
//                 is not enrolled
//   APP_ACCESS    a command that asks for a token for APP_NHS as a requester (City Hospital,
//                 TREAT, GP record) and prints the HTTP status and the OAuth error ("200 -")
//   APP_RECOVER   a command that, given the new key's x as its argument, records it as the
//                 person's key through their GP practice (an enroller), printing the status
//   APP_TMP       a directory for the browser profiles and downloads
//   APP_SHOTS     where to write the screenshots (docs/img to refresh the guide's pictures)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const env = process.env;
const BASE = env.APP_URL;
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const STEP_MS = 15000;
let failed = 0;

function ok(name) {
  console.log(`ok ${name}`);
}
function fail(name, why) {
  failed++;
  console.log(`FAIL ${name}: ${String(why).split('\n')[0]}`);
}
async function check(name, fn) {
  try {
    const why = await fn();
    if (why === true || why === undefined) ok(name);
    else fail(name, why);
  } catch (e) {
    fail(name, `${e.name}: ${e.message}`);
  }
}

function launch(dir) {
  // The machine has no network: these flags keep Chromium from waiting on connections.
  return chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1000, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// axe runs axe-core on the page as it is and names the violations, if any.
async function axe(page, screen) {
  await check(`the ${screen} screen shows no "undefined", "null" or "NaN"`, async () => {
    const t = await page.locator('body').innerText();
    return !/\b(undefined|null|NaN)\b/.test(t) || t.match(/.{0,40}\b(undefined|null|NaN)\b.{0,20}/)[0];
  });
  await check(`axe-core finds no WCAG 2.2 AA violation on the ${screen} screen`, async () => {
    const r = await new AxeBuilder({ page }).withTags(TAGS).analyze();
    if (r.violations.length === 0) return true;
    return r.violations
      .map((v) => `${v.id} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`)
      .join(', ');
  });
}

async function shot(page, name) {
  await page.screenshot({ path: join(env.APP_SHOTS, `app-${name}.png`), fullPage: true });
}

// tabTo presses Tab until the element matching selector has the focus (at most 60 times).
async function tabTo(page, selector) {
  for (let i = 0; i < 60; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) === true, selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

async function text(page, selector) {
  return (await page.locator(selector).innerText({ timeout: STEP_MS })).replace(/\s+/g, ' ');
}

async function problem(page) {
  await page.locator('#problem:not([hidden])').waitFor({ timeout: STEP_MS });
  return text(page, '#problem');
}

const run = (cmd, ...args) => execFileSync('bash', [cmd, ...args], { encoding: 'utf8' }).trim();

const browser = await launch(mkdtempSync(join(env.APP_TMP, 'profile-')));
const page = browser.pages()[0] ?? (await browser.newPage());
page.setDefaultTimeout(STEP_MS);
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
page.on('console', (m) => {
  // Chromium reports every 4xx answer as a console error; the refusals are tested on purpose.
  if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
    errors.push(m.text());
  }
});

try {
  // --- setting up -------------------------------------------------------------------------
  await page.goto(`${BASE}/app`);
  await check('/app opens the set-up screen', async () => {
    await page.locator('#screen-start:not([hidden])').waitFor();
    return page.url() === `${BASE}/app/` || page.url();
  });
  await axe(page, 'set-up');
  await shot(page, 'start');

  await page.fill('#enrol-nhs', env.APP_NHS);
  await page.fill('#enrol-code', 'not-the-code');
  await page.click('#enrol-form button[type=submit]');
  await check('a wrong code is refused with a sentence saying what to do', async () => {
    const t = await problem(page);
    return t.includes('That set-up code did not work') && t.includes('ask your GP practice') || t;
  });
  await check('the problem has the focus, for screen readers and keyboards', () =>
    page.evaluate(() => document.activeElement?.id === 'problem'),
  );
  await axe(page, 'set-up (with a problem)');
  await shot(page, 'problem');

  // Keyboard only from here: Tab, typing, Enter.
  await page.reload();
  await page.locator('#screen-start:not([hidden])').waitFor();
  await tabTo(page, '#enrol-nhs');
  await page.keyboard.type(`${env.APP_NHS.slice(0, 3)} ${env.APP_NHS.slice(3, 6)} ${env.APP_NHS.slice(6)}`);
  await page.keyboard.press('Tab');
  await page.keyboard.type(env.APP_CODE);
  await page.keyboard.press('Enter');
  await check('enrolment by keyboard alone opens "Where your records are"', async () => {
    await page.locator('#screen-records:not([hidden])').waitFor();
    await page.locator('#records-list .card').first().waitFor();
    return true;
  });
  await check('the key is in IndexedDB as a CryptoKey: Ed25519, private key not extractable', () =>
    page.evaluate(
      () =>
        new Promise((resolve) => {
          const r = indexedDB.open('consentd-app', 1);
          r.onsuccess = () => {
            const g = r.result.transaction('keys').objectStore('keys').get('me');
            g.onsuccess = () => {
              const k = g.result.keys;
              resolve(
                k.privateKey instanceof CryptoKey &&
                  k.privateKey.algorithm.name === 'Ed25519' &&
                  k.privateKey.extractable === false &&
                  !('d' in g.result),
              );
            };
          };
        }),
    ),
  );
  await check('the records screen says who holds the record, what kind, and since when', async () => {
    const t = await text(page, '#records-list');
    return (t.includes('Riverside Practice (GP practice)') && t.includes('Summary record') &&
      t.includes('GP record') && /Since \d{1,2} \w+ \d{4}/.test(t)) || t;
  });
  await axe(page, 'records');
  await shot(page, 'records');

  // --- a grant, by keyboard -------------------------------------------------------------
  await tabTo(page, 'nav a[href="#sharing"]');
  await page.keyboard.press('Enter');
  await page.locator('#screen-sharing:not([hidden])').waitFor();
  await page.locator('#grant-org option').first().waitFor({ state: 'attached' });
  await tabTo(page, '#grant-org');
  await page.keyboard.type('City');
  await tabTo(page, '#grant-dt-0');
  await page.keyboard.press('Space');
  await check('the form holds the keyboard\'s choices: City Hospital, GP record, Treatment', () =>
    page.evaluate(
      () =>
        document.getElementById('grant-org').value === 'RX1' &&
        document.getElementById('grant-dt-0').checked &&
        document.querySelector('input[name=purpose]:checked').value === 'TREAT',
    ),
  );
  await tabTo(page, '#grant-form button[type=submit]');
  await page.keyboard.press('Enter');
  await check('the grant is signed here and saved: "City Hospital: allowed"', async () => {
    await page.locator('#grant-saved').waitFor();
    const t = await text(page, '#sharing-list');
    return (t.includes('City Hospital: allowed') && t.includes('GP record') &&
      t.includes('Treatment')) || t;
  });
  await axe(page, 'sharing');
  await shot(page, 'sharing');

  // --- an access by the test client, in the history with a verified proof ---------------
  await check('the hospital\'s system now gets a token for the person (200)', () =>
    run(env.APP_ACCESS) === '200 -' || 'refused',
  );
  await tabTo(page, 'nav a[href="#history"]');
  await page.keyboard.press('Enter');
  await check('the history shows the access, verified in the log by the browser', async () => {
    await page.locator('#history-list .proof.good').first().waitFor();
    const t = await text(page, '#history-list');
    return (t.includes('City Hospital looked at your records') && t.includes('rx-req') &&
      t.includes('Checked by this device: this access is in the public log')) || t;
  });
  await axe(page, 'history');
  await shot(page, 'history');

  // --- a break-glass access by the hospital's emergency system: first, highlighted ---------
  await check('the hospital\'s emergency system breaks the glass for the person (200)', () =>
    run(env.APP_ACCESS, 'btg') === '200 -' || 'refused',
  );
  await page.reload();
  await check('the break-glass access is first, highlighted, with the reason, verified in the log', async () => {
    await page.locator('#history-list .proof.good').nth(1).waitFor();
    const first = page.locator('#history-list .card').first();
    const cls = await first.getAttribute('class');
    const t = (await first.innerText()).replace(/\s+/g, ' ');
    return (cls.includes('break-glass') && t.includes('Emergency access by City Hospital') &&
      t.includes('Reason given Unconscious in A&E, no next of kin') &&
      t.includes('Checked by this device: this access is in the public log')) || `${cls}: ${t}`;
  });
  await axe(page, 'history (emergency access)');
  await shot(page, 'history-emergency');

  // A listing that says something the log does not: a real access with its organisation
  // changed, and one that is in no log entry at all.
  await page.route('**/v1/patients/*/access', async (route) => {
    const res = await route.fetch();
    const j = await res.json();
    const real = j.access[1];
    j.access = [{ ...real, jti: 'forged' }, { ...real, org: 'A81001' }];
    await route.fulfill({ response: res, json: j });
  });
  await page.reload();
  await check('what the log does not hold is flagged, never shown as verified', async () => {
    await page.locator('#history-list .proof.bad').nth(1).waitFor();
    const n = await page.locator('#history-list .proof.good').count();
    return n === 0 || `${n} verified`;
  });
  await page.unroute('**/v1/patients/*/access');

  // --- stop sharing, by keyboard ---------------------------------------------------------
  await page.goto(`${BASE}/app/#sharing`);
  await page.locator('#sharing-list button[data-revoke]').waitFor();
  await tabTo(page, '#sharing-list button[data-revoke]');
  await page.keyboard.press('Enter');
  await check('"Stop sharing" signs a revocation; the choice moves to the past', async () => {
    await page.locator('#grant-saved').waitFor();
    const t = await text(page, '#sharing-list');
    return (t.includes('You have not made any choices yet') && t.includes('Past choices (1)')) || t;
  });
  await check('the hospital\'s system is refused a new token at once (access_denied)', () =>
    run(env.APP_ACCESS) === '400 access_denied' || 'not refused',
  );

  // --- someone to help -------------------------------------------------------------------
  await page.goto(`${BASE}/app/#helpers`);
  await page.locator('#screen-helpers:not([hidden])').waitFor();
  await page.fill('#helper-nhs', env.APP_STRANGER);
  await page.click('#helper-form button[type=submit]');
  await check('appointing someone not set up says they must set up first', async () => {
    const t = await problem(page);
    return t.includes('has not set up this app yet') || t;
  });
  await page.fill('#helper-nhs', env.APP_HELPER);
  await page.click('#helper-form button[type=submit]');
  await check('a carer is appointed, signed by the person, and listed', async () => {
    await page.locator('#helper-saved').waitFor();
    const t = await text(page, '#helpers-list');
    const h = env.APP_HELPER;
    return t.includes(`NHS number ${h.slice(0, 3)} ${h.slice(3, 6)} ${h.slice(6)}`) &&
      t.includes('Carer') || t;
  });
  await axe(page, 'helpers');
  await shot(page, 'helpers');

  // --- download ----------------------------------------------------------------------------
  await page.goto(`${BASE}/app/#download`);
  await page.locator('#screen-download:not([hidden])').waitFor();
  await axe(page, 'download');
  await shot(page, 'download');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-button')]);
  await check('the download holds the person\'s own entries, bytes and text, and the checkpoint', async () => {
    const path = join(env.APP_TMP, 'download.json');
    await dl.saveAs(path);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    const types = doc.entries.map((e) => JSON.parse(e.text).type);
    const same = doc.entries.every((e) => Buffer.from(e.entry, 'base64').toString() === e.text);
    return (doc.nhs === env.APP_NHS && same && doc.checkpoint.includes('\n\n\u2014 ') &&
      ['patient.enrol', 'pointer', 'consent', 'access', 'consent.revoke', 'delegation']
        .every((t) => types.includes(t))) || types.join(',');
  });

  // --- a lost device: a new key through the GP practice ----------------------------------
  const other = await launch(mkdtempSync(join(env.APP_TMP, 'profile-')));
  const p2 = other.pages()[0] ?? (await other.newPage());
  p2.setDefaultTimeout(STEP_MS);
  await p2.goto(`${BASE}/app/#device`);
  await p2.locator('#screen-device:not([hidden])').waitFor();
  await axe(p2, 'lost or new phone');
  await p2.fill('#recover-nhs', env.APP_NHS);
  await p2.click('#recover-form button[type=submit]');
  await p2.locator('#device-pending:not([hidden])').waitFor();
  await axe(p2, 'new key code');
  await shot(p2, 'device');
  await p2.click('#pending-check-button');
  await check('before the practice acts, the new device is told to show its code', async () => {
    const t = await problem(p2);
    return t.includes('Your new key is not added yet') || t;
  });
  const code = (await p2.locator('#pending-key').innerText()).replace(/\s+/g, '');
  await check('the GP practice records the key code read off the screen (201)', () =>
    run(env.APP_RECOVER, code) === '201' || 'refused',
  );
  await p2.click('#pending-check-button');
  await check('the new device now works: its records screen opens', async () => {
    await p2.locator('#screen-records:not([hidden]) #records-list .card').first().waitFor();
    return true;
  });
  await other.close();
  await page.goto(`${BASE}/app/#records`);
  await page.reload(); // a new page: no token from before the new key
  await check('the old device\'s key is refused, with a sentence saying what to do', async () => {
    const t = await problem(page);
    return t.includes('does not accept the key on this device') || t;
  });

  await check('the page raised no script error and logged none', () =>
    errors.length === 0 || errors.join(' | '),
  );
} catch (e) {
  fail('the browser run', `${e.name}: ${e.message}`);
} finally {
  await browser.close();
}
process.exit(failed === 0 ? 0 : 1);
