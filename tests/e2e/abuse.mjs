// Load and abuse clients for test_abuse.sh (docs/RELIABILITY.md rows B2, B3, B5, B6, B8): many
// idle connections, slow ones, oversized requests and JSON bombs, over raw sockets so that
// nothing is tidied on the way. Each scenario watches the server through /proc/PID (open file
// descriptors, VmRSS, VmHWM, CPU ticks) and prints one JSON object of figures; the shell
// script decides what must hold. Every wait is bounded.
//
// usage: node abuse.mjs conns  PORT PID N            (B2: N idle connections against the cap)
//        node abuse.mjs fdlimit PORT PID N           (B8: N connections at the fd limit)
//        node abuse.mjs slow   PORT PID SECONDS LORIS BODY READ   (B3)
//        node abuse.mjs steady PORT PID N BYTES_PER_S   (B3: a slow but steady reader)
//        node abuse.mjs big    PORT PID ROUNDS [NAME]  (B5; NAME: one request only)
//        node abuse.mjs bodies PORT PID N BYTES    (B5: N unfinished bodies of BYTES at once)
//        node abuse.mjs bombs  PORT PID ADMIN_TOKEN CLIENT_TOKEN   (B6)
import fs from 'node:fs';
import net from 'node:net';

const [scenario, portArg, pidArg, ...rest] = process.argv.slice(2);
const port = Number(portArg);
const pid = Number(pidArg);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint() / 1000000n);

// proc reads the server's open descriptors, memory (kB) and CPU ticks.
function proc() {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)[1]);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    fds: fs.readdirSync(`/proc/${pid}/fd`).length,
    rss: kb('VmRSS'),
    hwm: kb('VmHWM'),
    ticks: Number(f[11]) + Number(f[12]),
  };
}

const alive = () => fs.existsSync(`/proc/${pid}/status`);

// serverHolds is true while the server's end of our connection from local port cport is still
// ESTABLISHED (/proc/net/tcp state 01). A client that never reads cannot see the server close:
// the FIN waits behind the unread answers.
function serverHolds(cport) {
  const hex = (n) => n.toString(16).toUpperCase().padStart(4, '0');
  const want = `:${hex(port)} 0100007F:${hex(cport)} `;
  const line = fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').find((l) => l.includes(want));
  return line !== undefined && line.slice(line.indexOf(want) + want.length, line.indexOf(want) + want.length + 2) === '01';
}

// exchange sends a request (a string, a Buffer, or an async function writing to the socket)
// and resolves with the status of the answer (0: none), its body, the milliseconds until the
// server closed the connection or the answer was complete, whichever came first, and how many
// bytes were written. A server that answers before reading the whole request and closes may
// reset the connection, losing the answer: status 0 then, with few bytes written.
function exchange(req, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const start = now();
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    s.answered = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const text = buf.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const at = text.indexOf('\r\n\r\n');
      resolve({
        status: m ? Number(m[1]) : 0, body: at < 0 ? '' : text.slice(at + 4), ms: now() - start,
        written: s.bytesWritten,
      });
    };
    const timer = setTimeout(finish, timeoutMs);
    s.on('error', () => {});
    s.on('close', finish);
    s.on('data', (d) => {
      s.answered = true;
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      const cl = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, at));
      if (at >= 0 && cl && buf.length >= at + 4 + Number(cl[1])) finish();
    });
    s.on('connect', async () => {
      try {
        if (typeof req === 'function') await req(s);
        else s.write(req);
      } catch {
        /* the server closed the connection while we wrote: its answer decides */
      }
    });
  });
}

const probe = (timeoutMs = 2000) =>
  exchange('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', timeoutMs);

// connect opens n idle connections, 200 at a time, and resolves once each is connected or
// failed. Each socket records when the server closed it.
async function connect(n) {
  const socks = [];
  for (let i = 0; i < n; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 200); j++) {
      const s = net.connect(port, '127.0.0.1');
      s.closedAt = 0;
      s.on('error', () => {});
      s.on('close', () => (s.closedAt = now()));
      socks.push(s);
      batch.push(new Promise((r) => { s.once('connect', r); s.once('close', r); setTimeout(r, 3000); }));
    }
    await Promise.all(batch);
  }
  return socks;
}

// settle waits until no connection has been closed for quiet ms (at most max ms).
async function settle(socks, quiet = 500, max = 5000) {
  const start = now();
  for (;;) {
    const last = Math.max(0, ...socks.map((s) => s.closedAt));
    if (now() - Math.max(last, start) >= quiet || now() - start >= max) return;
    await sleep(100);
  }
}

// fdsBack waits (at most 15 s) until the server's descriptors are back to base + 5.
async function fdsBack(base) {
  const start = now();
  let p = proc();
  while (p.fds > base + 5 && now() - start < 15000) {
    await sleep(100);
    p = proc();
  }
  return { fds: p.fds, ms: now() - start };
}

const pct = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] : 0;
};

async function conns(n) {
  const base = proc();
  const t0 = now();
  const socks = await connect(n);
  await settle(socks);
  const openMs = now() - t0;
  const held = socks.filter((s) => !s.closedAt);
  const peak = proc();
  const atCap = await probe();
  // Below the cap again: free ten slots, then health checks answer.
  held.slice(0, 10).forEach((s) => s.destroy());
  await sleep(300);
  const below = [];
  for (let i = 0; i < 20; i++) below.push(await probe());
  socks.forEach((s) => s.destroy());
  const back = await fdsBack(base.fds);
  return {
    opened: n, held: held.length, refused: n - held.length, open_ms: openMs,
    probe_at_cap: atCap.status, probes_below_cap_ok: below.filter((r) => r.status === 200).length,
    probe_below_cap_p99_ms: pct(below.map((r) => r.ms), 99),
    fds_base: base.fds, fds_peak: peak.fds, fds_after: back.fds, fds_back_ms: back.ms,
    rss_base_kb: base.rss, rss_peak_kb: peak.rss, hwm_kb: proc().hwm, alive: alive(),
  };
}

async function fdlimit(n) {
  const base = proc();
  const socks = await connect(n);
  await sleep(500);
  const a = proc();
  await sleep(2000);
  const b = proc();
  const atLimit = await probe(1000);
  socks.forEach((s) => s.destroy());
  const back = await fdsBack(base.fds);
  const after = await probe();
  return {
    opened: n, fds_at_limit: a.fds, cpu_pct_at_limit: Math.round(((b.ticks - a.ticks) / 2) * 10) / 10,
    probe_at_limit: atLimit.status, fds_after: back.fds, probe_after: after.status, alive: alive(),
  };
}

// An attacker loop: start one connection of a kind, note when the server closes it, start
// another, until the attack ends.
function attacker(kind, until, closes) {
  return new Promise((resolve) => {
    const one = () => {
      if (now() >= until) return resolve();
      const s = net.connect(port, '127.0.0.1');
      const start = now();
      let timer = null;
      s.on('error', () => {});
      s.on('close', () => {
        clearInterval(timer);
        if (now() < until) {
          closes.push(now() - start);
          one();
        } else {
          resolve();
        }
      });
      s.on('connect', () => {
        if (kind === 'loris') {
          s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
          timer = setInterval(() => s.write('X-Slow: 1\r\n'), 1000);
        } else if (kind === 'body') {
          s.write('POST /v1/consents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
                  'Content-Length: 60000\r\n\r\n{');
          timer = setInterval(() => s.write(' '), 1000);
        } else {
          // Slow read: pipeline more requests than the socket buffers hold answers for (about
          // 7 MB of answers) and never read one, until the server lets the connection go.
          s.pause();
          s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3000));
          const cport = s.localPort;
          timer = setInterval(() => {
            if (!serverHolds(cport)) s.destroy();
          }, 250);
        }
      });
      const end = setTimeout(() => s.destroy(), until - now() + 10);
      s.on('close', () => clearTimeout(end));
    };
    one();
  });
}

async function slow(seconds, loris, body, read) {
  const base = proc();
  const until = now() + seconds * 1000;
  const closes = { loris: [], body: [], read: [] };
  const attacks = [];
  for (const [kind, n] of [['loris', loris], ['body', body], ['read', read]])
    for (let i = 0; i < n; i++) attacks.push(attacker(kind, until, closes[kind]));
  let sent = 0;
  let ok = 0;
  let peakFds = 0;
  let peakRss = 0;
  const ms = [];
  await sleep(500);
  while (now() < until - 200) {
    // As long as a client would wait: the sanitizer build on a loaded machine is slow.
    const r = await probe(5000);
    sent++;
    if (r.status === 200) ok++;
    ms.push(r.ms);
    const p = proc();
    peakFds = Math.max(peakFds, p.fds);
    peakRss = Math.max(peakRss, p.rss);
    await sleep(100);
  }
  await Promise.all(attacks);
  const back = await fdsBack(base.fds);
  const med = (a) => (a.length ? pct(a, 50) : null);
  return {
    seconds, loris, body, read, probes: sent, probes_ok: ok,
    probe_ok_pct: Math.round((1000 * ok) / Math.max(1, sent)) / 10, probe_p99_ms: pct(ms, 99),
    closed: { loris: closes.loris.length, body: closes.body.length, read: closes.read.length },
    close_median_ms: { loris: med(closes.loris), body: med(closes.body), read: med(closes.read) },
    fds_base: base.fds, fds_peak: peakFds, fds_after: back.fds, rss_base_kb: base.rss,
    rss_peak_kb: peakRss, alive: alive(),
  };
}

// steady pipelines n requests for /metrics and reads the answers at about rate bytes a second:
// a slow reader that keeps taking answers, which the rule against slow reads must not cut off.
function steady(n, rate) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const start = now();
    let answers = 0;
    let tail = '';
    let bytes = 0;
    const done = (cut) => {
      clearInterval(timer);
      clearTimeout(limit);
      s.destroy();
      resolve({ requests: n, answers, bytes, ms: now() - start, cut_off: cut, alive: alive() });
    };
    s.on('error', () => {});
    s.on('end', () => done(true));
    s.pause();
    s.on('connect', () => s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(n)));
    // Every 100 ms, take about a tenth of rate from what the socket has buffered (16 KiB at
    // most a read; each read lets it take more from the kernel).
    const timer = setInterval(() => {
      let chunk;
      for (let taken = 0; taken < rate / 10 && (chunk = s.read()) !== null; taken += chunk.length) {
        const text = tail + chunk.toString('latin1');
        answers += text.split('HTTP/1.1 200').length - 1;
        tail = text.slice(-12);
        bytes += chunk.length;
      }
      if (answers >= n) done(false);
    }, 100);
    const limit = setTimeout(() => done(true), 60000);
  });
}

// stream writes total bytes in piece-sized writes, respecting back-pressure, until done, the
// socket closes or the server answers.
async function stream(s, total, piece) {
  for (let sent = 0; sent < total && !s.destroyed && !s.answered; sent += piece.length) {
    if (!s.write(piece)) await new Promise((r) => { s.once('drain', r); s.once('close', r); });
  }
}

// head writes a request's head, then gives the server a moment to refuse it before the body.
async function head(s, text) {
  s.write(text);
  await sleep(50);
}

const bigRequests = {
  'post_10MB_content_length': async (s) => {
    await head(s, 'POST /v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
                  'Content-Length: 10485760\r\n\r\n');
    await stream(s, 10485760, Buffer.alloc(65536, 0x20));
  },
  'post_10MB_chunked': async (s) => {
    await head(s, 'POST /v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
                  'Transfer-Encoding: chunked\r\n\r\n');
    const data = Buffer.alloc(65536, 0x20);
    await stream(s, 10485760, Buffer.concat([Buffer.from('10000\r\n'), data, Buffer.from('\r\n')]));
  },
  'header_1MB': async (s) => {
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ');
    await stream(s, 1048576, Buffer.alloc(16384, 0x61));
    if (!s.destroyed) s.write('\r\n\r\n');
  },
  'headers_10000': async (s) => {
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    let h = '';
    for (let i = 0; i < 10000; i++) h += `X-H${i}: v\r\n`;
    await stream(s, 1, Buffer.from(h + '\r\n'));
  },
  'chunked_never_ends': (s) => {
    s.write('POST /v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n');
  },
};

async function big(rounds, only) {
  const results = {};
  const reqs = Object.entries(bigRequests).filter(([name]) => only === undefined || name === only);
  // One round first so that the allocator's first growth is not counted as per-request growth.
  for (const [, req] of reqs) await exchange(req, 30000);
  const before = proc();
  for (const [name, req] of reqs) {
    const statuses = {};
    const ms = [];
    let written = 0;
    const note = (r) => {
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      ms.push(r.ms);
      written = Math.max(written, r.written);
    };
    // Requests that only wait for the timeout wait together.
    if (name === 'chunked_never_ends')
      (await Promise.all(Array.from({ length: rounds }, () => exchange(req, 30000)))).forEach(note);
    else
      for (let i = 0; i < rounds; i++) note(await exchange(req, 30000));
    results[name] = { statuses, max_ms: Math.max(...ms), max_bytes_written: written };
  }
  const after = proc();
  const requests = rounds * reqs.length;
  return {
    rounds, requests, results, rss_before_kb: before.rss, rss_after_kb: after.rss,
    rss_growth_per_request_kb: Math.round((10 * Math.max(0, after.rss - before.rss)) / requests) / 10,
    hwm_kb: after.hwm, probe_after: (await probe()).status, alive: alive(),
  };
}

// bodies holds n connections at once, each with a body of bytes sent but for its last byte, so
// that the server buffers them all; it measures RSS then, and after they go.
async function bodies(n, bytes) {
  const before = proc();
  const socks = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('connect', () => {
      s.write('POST /v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
              `Content-Length: ${bytes}\r\n\r\n`);
      s.write(Buffer.alloc(bytes - 1, 0x20));
    });
    socks.push(s);
  }
  await sleep(2000);
  const during = proc();
  socks.forEach((s) => s.destroy());
  await sleep(1000);
  return {
    connections: n, bytes, rss_before_kb: before.rss, rss_during_kb: during.rss,
    growth_per_connection_kb: Math.round((during.rss - before.rss) / n), fds_during: during.fds,
    rss_after_kb: proc().rss, probe_after: (await probe()).status, alive: alive(),
  };
}

// The JSON bombs: each is a body, within or beyond the 64 KiB body limit.
function bombs() {
  const deep = (n) => '['.repeat(n) + ']'.repeat(n);
  const arr = (n) => '[' + Array(n).fill('0').join(',') + ']';
  return {
    nest_1001: `{"a":${deep(1001)}}`,
    nest_100000: `{"a":${deep(100000)}}`,
    nest_objects_20000: '{"a":'.repeat(20000) + '1' + '}'.repeat(20000),
    array_30000: `{"a":${arr(30000)}}`,
    array_1000000: `{"a":${arr(1000000)}}`,
    number_60000_digits: `{"a":1${'0'.repeat(60000)}}`,
    number_100000_digits: `{"a":1${'0'.repeat(100000)}}`,
    exponent_huge: '{"a":1e999999999999999999}',
    string_60KB: `{"a":"${'x'.repeat(60000)}"}`,
    string_10MB: `{"a":"${'x'.repeat(10485760)}"}`,
    escapes_10000: `{"a":"${'\\u00e9'.repeat(10000)}"}`,
    keys_5000: '{' + Array.from({ length: 5000 }, (_, i) => `"k${i}":0`).join(',') + '}',
    duplicate_keys_5000: '{' + Array(5000).fill('"k":0').join(',') + '}',
  };
}

// bombAll posts every bomb to every JSON endpoint, with the admin token or, where the
// endpoint wants a client's (pointers enrol), that one, so that each body reaches the parser.
async function bombAll(admin, client) {
  const endpoints = ['/v1/orgs', '/v1/clients', '/v1/enrolments', '/v1/patients', '/v1/consents',
    '/v1/delegations', '/v1/decisions', '/v1/pointers', '/fhir/Consent', '/fhir/DocumentReference'];
  const clientOnly = ['/v1/pointers', '/fhir/Consent', '/fhir/DocumentReference'];
  const byBomb = {};
  const bad = [];
  let sent = 0;
  let maxMs = 0;
  let parsedRefusals = 0;
  const before = proc();
  for (const [name, body] of Object.entries(bombs())) {
    byBomb[name] = { bytes: body.length };
    for (const path of endpoints) {
      const b = Buffer.from(body);
      const token = clientOnly.includes(path) ? client : admin;
      const r = await exchange(async (s) => {
        await head(s, `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
                      `Content-Type: application/json\r\nContent-Length: ${b.length}\r\n` +
                      'Connection: close\r\n\r\n');
        await stream(s, b.length, b);
      }, 30000);
      sent++;
      maxMs = Math.max(maxMs, r.ms);
      byBomb[name][r.status] = (byBomb[name][r.status] || 0) + 1;
      if (![400, 413].includes(r.status)) bad.push(`${name} ${path} ${r.status}`);
      if (r.status === 400 && /not acceptable JSON/.test(r.body)) parsedRefusals++;
    }
  }
  const after = proc();
  return {
    requests: sent, by_bomb: byBomb, unexpected: bad, refused_by_the_json_parser: parsedRefusals,
    max_ms: maxMs, rss_before_kb: before.rss, rss_after_kb: after.rss, hwm_kb: after.hwm,
    probe_after: (await probe()).status, alive: alive(),
  };
}

const run = {
  conns: () => conns(Number(rest[0])),
  fdlimit: () => fdlimit(Number(rest[0])),
  slow: () => slow(...rest.map(Number)),
  steady: () => steady(Number(rest[0]), Number(rest[1])),
  big: () => big(Number(rest[0]), rest[1]),
  bodies: () => bodies(Number(rest[0]), Number(rest[1])),
  bombs: () => bombAll(rest[0], rest[1]),
}[scenario];
if (!run) {
  console.error('usage: node abuse.mjs conns|fdlimit|slow|steady|big|bodies|bombs PORT PID ...');
  process.exit(64);
}
console.log(JSON.stringify(await run()));
process.exit(0);
