// dashboard.test.mjs -- the web dashboard end to end, in a real browser: bin/feedsim serves a
// feed, the real bin/activity-stream pulls it and serves web/, Debian's chromium (driven by
// playwright-core) opens the page. Checks history, live rows, deletes, pause/resume exactly
// once, a finite historical range, the server's 400 message, the URL round trip, one time
// format with the zone, the peak and the live chart scale, the settings folding on a laptop
// screen, a reset (the page drops what it holds and shows the stream again) and the phone
// layout; screenshots go to tests/artifacts/. Everything listens on 127.0.0.1 only.
//
// Run by tests/browser/run (which installs chromium and playwright-core when missing).
// Environment: AS_SERVER, AS_FEEDSIM (binaries), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
const SERVER = path.resolve(ROOT, process.env.AS_SERVER || 'bin/activity-stream');
const FEEDSIM = path.resolve(ROOT, process.env.AS_FEEDSIM || 'bin/feedsim');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];

const HISTORY = 200;                         // feedsim --count: items 0..199, 1 s apart
const SIM_START = Date.parse('2024-01-01T00:00:00Z');
const RANGE = 100;                           // the historical range: items 0..99
const FEED_ID = 'sim';
const SIM_ID = (n) => `urn:feedsim:1:${n}`;

const children = [];
const cleanups = [];
let tmp, simPort, serverPort, serverConf, server, base, ctx;

// ---- processes ------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeout = 15000, interval = 100) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try { last = await fn(); } catch (err) { last = undefined; if (Date.now() - t0 > timeout) throw err; }
    if (last) return last;
    if (Date.now() - t0 > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

function start(name, cmd, args) {
  const log = path.join(ARTIFACTS, `browser-${name}.log`);
  const fd = fs.openSync(log, 'a');
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.name = name;
  child.log = log;
  child.exited = false;
  child.on('exit', () => { child.exited = true; });
  children.push(child);
  return child;
}

async function stop(child) {
  if (child.exited) return;
  child.kill('SIGTERM');
  const t0 = Date.now();
  while (!child.exited && Date.now() - t0 < 5000) await sleep(50);
  if (!child.exited) child.kill('SIGKILL');
}

function killAllNow() {
  for (const c of children) if (!c.exited) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
}
process.on('exit', killAllNow);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { killAllNow(); process.exit(1); });
}

function tail(file, lines = 30) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return ''; }
}

async function json(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method || 'GET'} ${url}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

const control = (what) => json(`http://127.0.0.1:${simPort}/_control/${what}`, { method: 'POST' });

// The ids feedsim holds now (the source of truth for what the page should show).
async function simIds() {
  const st = await json(`http://127.0.0.1:${simPort}/_control/state?ids=1`);
  return st.ids;
}

const simIndex = (id) => Number(id.split(':').pop());

async function feedStatus() {
  const list = await json(`${base}/feeds`);
  return list.find((f) => f.id === FEED_ID);
}

async function startServer() {
  server = start('server', SERVER, ['--config', serverConf]);
  const srv = server;
  await waitFor('the server to listen', () => !srv.exited && canConnect(serverPort), 10000)
    .catch((e) => { throw new Error(`${e.message}\n${tail(srv.log)}`); });
}

// ---- the browser -----------------------------------------------------------------------

async function openPage(query, viewport = { width: 1280, height: 900 }) {
  const page = await ctx.newPage();
  await page.setViewportSize(viewport);
  page.setDefaultTimeout(15000);
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    // A refused EventSource (400) logs a resource error: that one is expected, and so are
    // network errors while the server restarts.
    if (msg.type() !== 'error' || /status of 400/.test(msg.text())) return;
    if (page.serverDown && /net::ERR_/.test(msg.text())) return;
    page.problems.push(`console: ${msg.text()}`);
  });
  await page.goto(`${base}/${query}`);
  return page;
}

const rowIds = (page) => page.$$eval('#activity-list > li', (els) => els.map((e) => e.dataset.id));
const rowCount = (page) => page.locator('#activity-list > li').count();
const textOf = async (page, sel) => (await page.textContent(sel)).trim();
const eventsCounted = async (page) => Number((await textOf(page, '#total-events')).replace(/\D/g, ''));

async function waitRows(page, n, timeout = 15000) {
  await waitFor(`${n} rows`, async () => (await rowCount(page)) === n, timeout);
}

async function waitPhase(page, phase, timeout = 15000) {
  await page.waitForSelector(`#phase[data-phase="${phase}"]`, { timeout });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `browser-${name}.png`) });
}

function assertNoProblems(page) {
  assert.deepEqual(page.problems, [], 'the page logged errors');
}

// ---- setup -----------------------------------------------------------------------------

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const name of ['feedsim', 'server']) fs.rmSync(path.join(ARTIFACTS, `browser-${name}.log`), { force: true });
  for (const bin of [SERVER, FEEDSIM]) {
    assert.ok(fs.existsSync(bin), `${bin} is missing: build it with make`);
  }
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/install-deps browser`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'as-browser-'));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));

  simPort = await freePort();
  const sim = start('feedsim', FEEDSIM, ['--port', String(simPort), '--count', String(HISTORY), '--page-size', '50']);
  await waitFor('feedsim to listen', () => !sim.exited && canConnect(simPort), 10000)
    .catch((e) => { throw new Error(`${e.message}\n${tail(sim.log)}`); });

  serverPort = await freePort();
  base = `http://127.0.0.1:${serverPort}`;
  const conf = path.join(tmp, 'server.conf');
  fs.writeFileSync(conf, [
    `listen: 127.0.0.1:${serverPort}`,
    `data_dir: ${JSON.stringify(path.join(tmp, 'data'))}`,
    `web_root: ${JSON.stringify(path.join(ROOT, 'web'))}`,
    'threads: 1',
    'poll_interval: 200ms',
    'retry: 500ms',
    'feeds:',
    `  - id: ${FEED_ID}`,
    `    url: http://127.0.0.1:${simPort}/feed`,
    '    poll_interval: 200ms',
    '    full_sync_interval: 2s',
    '',
  ].join('\n'));
  serverConf = conf;
  await startServer();
  // The whole history is in the store before the page opens (so counts are exact).
  await waitFor('the first full sync', async () => {
    const f = await feedStatus();
    return f && f.last_full_sync && f.activities >= HISTORY;
  }, 20000).catch((e) => { throw new Error(`${e.message}\n${tail(srv.log)}`); });

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'as-chromium-'));
  cleanups.push(() => fs.rmSync(profile, { recursive: true, force: true }));
  // en-US: its default time format is 12-hour, so a time formatted by the locale shows up.
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000, locale: 'en-US',
  });
});

after(async () => {
  if (ctx) await ctx.close().catch(() => {});
  for (const c of [...children].reverse()) await stop(c);
  for (const f of cleanups.reverse()) { try { f(); } catch { /* best effort */ } }
});

// ---- tests -----------------------------------------------------------------------------

const TIME_FORMAT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC([+-]\d{1,2}(:\d\d)?)?$/;
const CLOCK_FORMAT = /\b\d\d:\d\d:\d\d UTC([+-]\d{1,2}(:\d\d)?)?\b/;

// Samples (events counted, peak shown) every 25 ms until `until` resolves.
async function samplePeak(page, until) {
  const samples = [];
  let done = false;
  until.then(() => { done = true; }, () => { done = true; });
  while (!done) {
    samples.push(await page.evaluate(() => [document.getElementById('total-events').textContent,
      document.getElementById('rate-peak').textContent]));
    await sleep(25);
  }
  return samples.map(([e, p]) => [Number(e.replace(/\D/g, '')), Number(p.replace(/\D/g, ''))]);
}

let live;   // the page that follows the whole feed, shared by the tests below in order

test('history rows appear, newest on top, then the stream goes live', { timeout: 30000 }, async () => {
  live = await openPage('?start=2023-12-31T00:00:00Z');
  const samples = await samplePeak(live, waitRows(live, HISTORY));
  await waitPhase(live, 'live');
  await waitFor('the counters', async () => (await eventsCounted(live)) === HISTORY, 3000);
  samples.push(...await samplePeak(live, sleep(300)));
  const contradicting = samples.filter(([events, peak]) => events > 0 && peak === 0);
  assert.deepEqual(contradicting, [], 'a peak of 0 was shown beside events');
  assert.ok(Number((await textOf(live, '#rate-peak')).replace(/\D/g, '')) >= 1);
  const ids = await rowIds(live);
  assert.equal(ids[0], SIM_ID(HISTORY - 1), 'the newest activity is the first row');
  assert.equal(ids[ids.length - 1], SIM_ID(0), 'the oldest activity is the last row');
  assert.equal(new Set(ids).size, HISTORY, 'every row is a different activity');
  assert.equal(await textOf(live, '#conn'), 'open');
  assert.equal(await textOf(live, '#phase'), 'live');
  assert.equal(await textOf(live, '#row-count'), String(HISTORY));
  // a row shows actor, type, object text, published time and feed
  const first = live.locator('#activity-list > li').first();
  assert.equal(await first.locator('.c-feed').textContent(), FEED_ID);
  assert.match(await first.locator('.c-time').getAttribute('datetime'), /^2024-01-01T00:03:19/);
  assert.ok((await first.locator('.c-actor').textContent()).length > 0, 'actor shown');
  assert.ok((await first.locator('.c-type').textContent()).length > 0, 'type shown');
  assert.ok((await first.locator('.c-object').textContent()).length > 0, 'object shown');
  // the feeds panel shows the feed's state and count
  await live.waitForSelector(`#feeds tr[data-feed="${FEED_ID}"] .state[data-state="ok"]`);
  // every time shown has one format: 24-hour, with the zone
  const times = await live.$$eval('#activity-list > li .c-time', (els) => els.map((e) => e.textContent));
  assert.ok(times.every((t) => TIME_FORMAT.test(t)), `row times: ${times.slice(0, 3).join(' | ')}`);
  assert.match(await textOf(live, '#view-summary'), /^from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  await waitFor('the feeds panel time', async () => CLOCK_FORMAT.test(await textOf(live, '#feeds-updated')), 8000);
  const page = await live.textContent('main');
  assert.doesNotMatch(page, /\d{1,2}:\d\d(:\d\d)? ?[AP]M/, 'no 12-hour times');
  // the settings fold once the stream runs
  assert.equal(await live.getAttribute('#settings', 'open'), null, 'settings folded while streaming');
  await shot(live, 'history');
  assertNoProblems(live);
});

test('an activity added at the source appears as a live row on top', { timeout: 30000 }, async () => {
  assert.ok(live, 'needs the first test');
  const before = await rowCount(live);
  await control('add?n=1');
  const newId = SIM_ID(HISTORY);
  await live.waitForSelector(`#activity-list > li[data-id="${newId}"]`);
  assert.equal((await rowIds(live))[0], newId, 'the live row is on top');
  assert.equal(await rowCount(live), before + 1);
  const published = Date.parse(await live.locator('#activity-list > li').first().locator('.c-time').getAttribute('datetime'));
  assert.ok(Math.abs(Date.now() - published) < 60000, 'the live row was published just now');
  // the chart: the replay burst of HISTORY events does not set the scale once live events show
  await waitFor('the chart to scale to live traffic', async () =>
    Number(await live.getAttribute('#rate-chart', 'data-scale')) <= 2, 5000);
  assert.ok(Number(await live.getAttribute('#rate-chart', 'data-clipped')) >= HISTORY / 2, 'the burst is cut, not the scale');
  await sleep(300);   // let the highlight show in the screenshot
  await shot(live, 'live');
  assertNoProblems(live);
});

test('a row deleted at the source disappears after the next full sync', { timeout: 30000 }, async () => {
  assert.ok(live, 'needs the first test');
  const victim = SIM_ID(150);
  assert.ok((await rowIds(live)).includes(victim));
  const before = await rowCount(live);
  await control(`delete?id=${encodeURIComponent(victim)}`);
  await live.waitForSelector(`#activity-list > li[data-id="${victim}"]`, { state: 'detached', timeout: 20000 });
  assert.equal(await rowCount(live), before - 1);
  await waitFor('the delete to be counted', async () => Number((await textOf(live, '#total-deletes')).replace(/\D/g, '')) >= 1, 3000);
  assertNoProblems(live);
});

test('an activity updated at the source replaces its row', { timeout: 30000 }, async () => {
  assert.ok(live, 'needs the first test');
  const target = SIM_ID(120);
  const row = `#activity-list > li[data-id="${target}"]`;
  const before = await rowCount(live);
  const oldText = await live.locator(`${row} .c-object`).textContent();
  assert.match(oldText, /v1\b/);
  await control(`update?id=${encodeURIComponent(target)}`);
  await waitFor('the updated row', async () => /v2\b/.test(await live.locator(`${row} .c-object`).textContent()), 20000);
  assert.equal(await live.locator(row).count(), 1, 'one row per activity');
  assert.equal(await rowCount(live), before);
  assertNoProblems(live);
});

test('pause, then resume, delivers what arrived meanwhile exactly once', { timeout: 30000 }, async () => {
  assert.ok(live, 'needs the first test');
  // the events counter is updated once a second: let it settle
  let settled = -1;
  await waitFor('the event counter to settle', async () => {
    const n = await eventsCounted(live);
    const same = n === settled;
    settled = n;
    return same;
  }, 10000, 1200);
  await live.click('#pause');
  await live.waitForSelector('#conn[data-state="paused"]');
  assert.equal(await live.getAttribute('#pause', 'aria-pressed'), 'true');
  const before = await rowCount(live);
  const added = [SIM_ID(HISTORY + 1), SIM_ID(HISTORY + 2)];
  await control('add?n=2');
  await waitFor('the server to store the new activities', async () => (await feedStatus()).activities >= HISTORY + 2, 10000);
  await sleep(500);
  assert.equal(await rowCount(live), before, 'nothing is rendered while paused');
  const resumed = live.waitForRequest((r) => r.url().includes('/stream?') && r.url().includes('last_event_id='));
  await live.focus('#pause');
  await live.keyboard.press('Enter');                     // resume from the keyboard
  await resumed;
  for (const id of added) await live.waitForSelector(`#activity-list > li[data-id="${id}"]`);
  await waitPhase(live, 'live');
  assert.equal(await textOf(live, '#conn'), 'open');
  await waitFor('the counter to show both events', async () => (await eventsCounted(live)) >= settled + 2, 5000);
  await sleep(2500);                                      // a full sync passes: still nothing more
  assert.equal(await eventsCounted(live), settled + 2, 'each new activity arrived exactly once');
  assert.equal(await rowCount(live), before + 2);
  const ids = await rowIds(live);
  assert.equal(new Set(ids).size, ids.length);
  assertNoProblems(live);
});

test('after a server restart the page reconnects by itself and misses nothing', { timeout: 40000 }, async () => {
  assert.ok(live, 'needs the first test');
  const before = await rowCount(live);
  const counted = await eventsCounted(live);
  live.serverDown = true;
  await stop(server);
  await live.waitForSelector('#conn[data-state="reconnecting"]');
  await control('add?n=1');                              // arrives while the server is down
  await startServer();
  await live.waitForSelector('#conn[data-state="open"]', { timeout: 20000 });
  const newId = SIM_ID(HISTORY + 3);
  await live.waitForSelector(`#activity-list > li[data-id="${newId}"]`, { timeout: 20000 });
  await sleep(2500);                                      // a full sync passes: nothing repeated
  assert.equal(await eventsCounted(live), counted + 1, 'the new activity arrived exactly once');
  assert.equal(await rowCount(live), before + 1);
  assert.equal(await textOf(live, '#phase'), 'live');
  live.serverDown = false;
  assertNoProblems(live);
});

test('a historical range replays, ends, and shows exactly the range', { timeout: 30000 }, async () => {
  const end = new Date(SIM_START + RANGE * 1000).toISOString().replace('.000Z', 'Z');
  const page = await openPage(`?start=2024-01-01T00:00:00Z&end=${end}`);
  await waitPhase(page, 'ended');
  assert.equal(await textOf(page, '#phase'), 'ended');
  await page.waitForSelector('#conn[data-state="closed"]');
  const expected = (await simIds()).filter((id) => simIndex(id) < RANGE && simIndex(id) < HISTORY);
  await waitRows(page, expected.length, 5000);
  const ids = await rowIds(page);
  assert.deepEqual([...ids].sort(), [...expected].sort(), 'the rows are the activities of the range');
  assert.equal(ids[0], SIM_ID(RANGE - 1));
  assert.ok(await page.isDisabled('#pause'), 'an ended stream cannot be paused');
  assert.equal(await page.inputValue('#end-on'), 'custom');
  await shot(page, 'range');
  assertNoProblems(page);
  await page.close();
});

test('the server\'s 400 message is shown for a bad start and a bad query', { timeout: 30000 }, async () => {
  const page = await openPage('?start=not-a-time');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await textOf(page, '#error'), /HTTP 400/);
  assert.equal(await page.getAttribute('#error', 'data-parameter'), 'start');
  assert.equal(await textOf(page, '#conn'), 'closed');
  assert.equal(await page.getAttribute('#start', 'aria-invalid'), 'true');
  await shot(page, 'error');

  // the query box: send malformed JSON through the form
  await page.selectOption('#start', 'now');
  await page.fill('#q', '{"term": ');
  await page.click('#apply');
  await waitFor('the q error', async () => (await page.getAttribute('#error', 'data-parameter')) === 'q', 10000);
  assert.equal(await page.getAttribute('#q', 'aria-invalid'), 'true');
  assert.equal(await page.isHidden('#error'), false);
  assert.ok(page.url().includes('q=%7B%22term%22'), 'the query is in the page URL');
  await page.close();
});

test('the page URL reflects the controls and restores them', { timeout: 30000 }, async () => {
  const page = await openPage('');
  await waitFor('the default start in the URL', () => new URL(page.url()).searchParams.get('start') === '1h', 5000);

  // the settings fold once the stream runs: open them again to change the view
  await page.waitForSelector('#settings:not([open])');
  await page.click('#settings > summary');
  await page.selectOption('#start', 'custom');
  // The browser runs on this machine, in its time zone; the input's value is normalised
  // (no seconds when they are zero).
  const local = (ms) => {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  };
  await page.fill('#start-custom', local(Date.parse('2023-12-31T00:00:00Z')));
  await page.fill('#type', 'Follow');
  await page.fill('#feed', FEED_ID);
  await page.fill('#rows', '50');
  const streamed = page.waitForRequest((r) => r.url().includes('/stream?') && r.url().includes('type=Follow'));
  await page.click('#apply');
  const req = new URL((await streamed).url());
  assert.equal(req.searchParams.get('start'), '2023-12-31T00:00:00Z');
  assert.equal(req.searchParams.get('feed'), FEED_ID);

  const url = new URL(page.url());
  assert.equal(url.searchParams.get('start'), '2023-12-31T00:00:00Z');
  assert.equal(url.searchParams.get('type'), 'Follow');
  assert.equal(url.searchParams.get('feed'), FEED_ID);
  assert.equal(url.searchParams.get('rows'), '50');
  await waitPhase(page, 'live');
  const types = await page.$$eval('#activity-list > li .c-type', (els) => els.map((e) => e.textContent));
  assert.ok(types.length > 0 && types.length <= 50, `rows capped at 50, got ${types.length}`);
  assert.ok(types.every((t) => t.split(', ').includes('Follow')), 'only Follow activities');

  // the link opens the same view
  const shared = await openPage(url.search);
  assert.equal(await shared.inputValue('#start'), 'custom');
  assert.equal(await shared.inputValue('#start-custom'), local(Date.parse('2023-12-31T00:00:00Z')));
  assert.equal(await shared.inputValue('#type'), 'Follow');
  assert.equal(await shared.inputValue('#feed'), FEED_ID);
  assert.equal(await shared.inputValue('#rows'), '50');
  assert.equal(await shared.getAttribute('#share', 'href'), url.pathname + url.search);
  await waitPhase(shared, 'live');
  assert.equal(await rowCount(shared), types.length);
  assertNoProblems(page);
  assertNoProblems(shared);
  await page.close();
  await shared.close();
});

test('on a laptop screen the activities are above the fold once streaming', { timeout: 30000 }, async () => {
  const page = await openPage('?start=2023-12-31T00:00:00Z&rows=50', { width: 1366, height: 768 });
  await waitRows(page, 50);
  await page.waitForSelector('#settings:not([open])');
  const box = await page.locator('#activity-list > li').first().boundingBox();
  assert.ok(box && box.y + box.height <= 768, `the first activity is below the fold (y ${box && box.y})`);
  await shot(page, 'laptop');
  assertNoProblems(page);
  await page.close();
});

test('a reset drops the rows and counters, says so, and shows the stream again', { timeout: 40000 }, async () => {
  const page = await openPage('?start=2023-12-31T00:00:00Z');
  const ids = await simIds();
  await waitRows(page, ids.length);
  await waitPhase(page, 'live');
  await page.click('#pause');
  await page.waitForSelector('#conn[data-state="paused"]');
  // The resume asks for a point beyond the server's head (as after a restore or a new store):
  // the server answers `event: reset`, then the whole history again.
  let rewritten = '';
  await page.route('**/stream?*', (route) => {
    const u = new URL(route.request().url());
    if (rewritten || !u.searchParams.has('last_event_id')) return route.continue();
    u.searchParams.set('last_event_id', 'l99999999');
    rewritten = u.toString();
    return route.continue({ url: rewritten });
  });
  await page.click('#pause');
  await page.waitForSelector('#notice:not([hidden])');
  await page.unroute('**/stream?*');
  assert.ok(rewritten, 'the resume went through the rewrite');
  assert.equal(await page.getAttribute('#notice', 'data-reason'), 'unknown');
  assert.match(await textOf(page, '#notice'), /started over/);
  await waitPhase(page, 'live');
  const now = await simIds();
  await waitRows(page, now.length);
  const rows = await rowIds(page);
  assert.deepEqual([...rows].sort(), [...now].sort(), 'the rows are the source\'s, once each');
  await waitFor('the counters of the new snapshot', async () => (await eventsCounted(page)) === now.length, 3000);
  await sleep(1200);
  assert.equal(await eventsCounted(page), now.length, 'the counters started over with the stream');
  await shot(page, 'reset');
  assertNoProblems(page);
  await page.close();
});

test('on a phone the page fits the screen and lists the activities', { timeout: 30000 }, async () => {
  const page = await openPage('?start=2023-12-31T00:00:00Z&rows=20', { width: 390, height: 844 });
  await waitRows(page, 20);
  await waitPhase(page, 'live');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
  assert.equal(await page.getAttribute('#settings', 'open'), null, 'settings start folded on a phone');
  await page.locator('#activity-list > li').first().scrollIntoViewIfNeeded();
  await shot(page, 'phone');
  assertNoProblems(page);
  await page.close();
});
