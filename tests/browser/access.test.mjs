// access.test.mjs -- the dashboard against a server with access control (README, "Access
// control"), in a real browser: two feedsims, the real server with an `auth` block (static
// tokens with and without `stream`, HS256 JWTs). Without a token the page says the server needs
// one; with a valid token the stream, the feeds, the history chart and the breakdown work, the
// token travels percent-encoded as `access_token` on the EventSource URL and as `Authorization:
// Bearer` on fetch, and it is kept in sessionStorage, never in the page URL; a token without
// `stream` gets the 403 message; a JWT that expires while its stream runs ends it with the
// refusal message, and the page stops reconnecting. The breakdown and the history chart are
// checked against what the two feedsims serve, with and without a filter.
//
// Run by tests/browser/run; harness.mjs starts the processes and the browser.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  sleep, waitFor, freePort, tearDown, json, startFeedsim, writeServerConfig, startServer,
  feedsimActivities, launchBrowser, openPage, rowCount, textOf, eventsCounted, waitRows, waitPhase,
  breakdownCounts, historyChart, shot, assertNoProblems, tally,
} from './harness.mjs';

// '+' and '/' on purpose: an access_token that is not percent-encoded reaches the server with
// a space instead of the '+', and is refused.
const VIEWER_TOKEN = 'viewer+token/0123456789abcdef==';
const NO_STREAM_TOKEN = 'no-stream-token-0123456789abcdef';
const JWT_SECRET = 'browser-jwt-secret-0123456789abcdef01234567';
const STORAGE_KEY = 'activity-stream.token';
const FEEDS = [{ id: 'sim', seed: 1, count: 60 }, { id: 'sim2', seed: 2, count: 40 }];
const HISTORY = FEEDS.reduce((n, f) => n + f.count, 0);
const START = '2023-12-31T00:00:00Z';
const REFUSALS = [400, 401, 403];      // the browser logs each refused request: expected here

const cleanups = [];
let base, ctx;
const sims = {};                       // feed id -> feedsim

// An HS256 JWT, signed here with node's crypto (the server checks it with its own code).
function jwt(claims) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${crypto.createHmac('sha256', JWT_SECRET).update(signed).digest('base64url')}`;
}

// What the feedsims serve now, each activity with its feed id.
async function served() {
  const lists = await Promise.all(FEEDS.map(async (f) =>
    (await feedsimActivities(sims[f.id].url)).map((a) => ({ ...a, feed: f.id }))));
  return lists.flat();
}

const open = (query = `?start=${START}`) => openPage(ctx, base, query, { refusals: REFUSALS });

// Opens the settings when they are folded, types the token and applies.
async function enterToken(page, token) {
  if ((await page.getAttribute('#settings', 'open')) === null) await page.click('#settings > summary');
  await page.fill('#token', token);
  await page.click('#apply');
}

async function waitRefusal(page, status, timeout = 15000) {
  await page.waitForSelector(`#error:not([hidden])[data-status="${status}"]`, { timeout });
  return textOf(page, '#error');
}

// The breakdown and the history chart show exactly `expected` (activities with their feed).
async function assertHistoryPanels(page, expected) {
  await waitFor('the breakdown', async () => (await page.getAttribute('#breakdown-note', 'data-total')) !== null, 10000);
  assert.deepEqual(await breakdownCounts(page, 'per-feed'), tally(expected, (a) => a.feed), 'activities per feed');
  assert.deepEqual(await breakdownCounts(page, 'per-type'), tally(expected, (a) => a.type), 'activities per type');
  assert.equal((await historyChart(page)).total, expected.length, 'the history chart\'s bars add up to the history');
}

before(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'as-browser-auth-'));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  for (const f of FEEDS) {
    sims[f.id] = await startFeedsim(`auth-feedsim-${f.id}`,
      ['--count', String(f.count), '--seed', String(f.seed), '--page-size', '25']);
  }
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const conf = writeServerConfig(tmp, port, FEEDS.map((f) => ({ id: f.id, url: `${sims[f.id].url}/feed` })), [
    'auth:',
    '  clients:',
    '    - id: viewer',
    `      token: ${VIEWER_TOKEN}`,
    '      allow: [stream, search, feeds]',
    '    - id: no-stream',
    `      token: ${NO_STREAM_TOKEN}`,
    '      allow: [search, feeds]',
    '  jwt:',
    `    hs256_secret: ${JWT_SECRET}`,
  ]);
  await startServer('auth-server', conf, port);
  await waitFor('the first full sync of both feeds', async () => {
    const list = await json(`${base}/feeds`, { headers: { Authorization: `Bearer ${VIEWER_TOKEN}` } });
    return list.length === FEEDS.length && list.every((f) => f.last_full_sync &&
      f.activities === FEEDS.find((x) => x.id === f.id).count);
  }, 20000);
  ctx = await launchBrowser();
});

after(() => tearDown(ctx, cleanups));

let page;   // one tab (one sessionStorage), shared by the first tests in order

test('without a token the page says the server needs one', { timeout: 30000 }, async () => {
  page = await open();
  assert.match(await waitRefusal(page, 401), /HTTP 401.*The server needs a token: enter one above/);
  assert.equal(await textOf(page, '#conn'), 'closed');
  assert.equal(await page.getAttribute('#token', 'aria-invalid'), 'true');
  assert.notEqual(await page.getAttribute('#settings', 'open'), null, 'the settings, with the token field, are open');
  await page.waitForSelector('#feeds tbody tr[data-status="401"]');
  await waitFor('the breakdown\'s refusal', async () => /needs a token/.test(await textOf(page, '#breakdown-note')), 5000);
  assert.equal(await rowCount(page), 0);
  await shot(page, 'auth-needed');
  assertNoProblems(page);
});

test('with a valid token the stream, the feeds and the history work; the token stays out of the URL', { timeout: 30000 }, async () => {
  assert.ok(page, 'needs the first test');
  const streamRequest = page.waitForRequest((r) => r.url().includes('/stream?'));
  const feedsRequest = page.waitForRequest((r) => new URL(r.url()).pathname === '/feeds');
  const searchRequest = page.waitForRequest((r) => new URL(r.url()).pathname === '/_search');
  await enterToken(page, VIEWER_TOKEN);
  const es = new URL((await streamRequest).url());
  assert.equal(es.searchParams.get('access_token'), VIEWER_TOKEN);
  assert.ok(es.search.includes(`access_token=${encodeURIComponent(VIEWER_TOKEN)}`), 'percent-encoded');
  assert.equal((await feedsRequest).headers().authorization, `Bearer ${VIEWER_TOKEN}`);
  assert.equal((await searchRequest).headers().authorization, `Bearer ${VIEWER_TOKEN}`);

  await waitRows(page, HISTORY);
  await waitPhase(page, 'live');
  assert.equal(await page.isHidden('#error'), true, 'the refusal is gone');
  assert.equal(await textOf(page, '#conn'), 'open');
  for (const f of FEEDS) await page.waitForSelector(`#feeds tr[data-feed="${f.id}"] .state[data-state="ok"]`);
  await assertHistoryPanels(page, await served());
  assert.equal(await eventsCounted(page), HISTORY);

  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), STORAGE_KEY), VIEWER_TOKEN);
  assert.equal(await page.evaluate((k) => localStorage.getItem(k), STORAGE_KEY), null, 'not in localStorage');
  const href = await page.evaluate(() => location.href);
  const share = await page.getAttribute('#share', 'href');
  for (const s of [href, share]) {
    for (const form of [VIEWER_TOKEN, encodeURIComponent(VIEWER_TOKEN), 'access_token']) {
      assert.ok(!s.includes(form), `${s} holds the token`);
    }
  }
  await shot(page, 'auth-token');
  assertNoProblems(page);
});

test('the token outlives a reload of the tab, and the breakdown follows the filters', { timeout: 30000 }, async () => {
  assert.ok(page, 'needs the first test');
  await page.goto(`${base}/?start=${START}&type=Create,Like`);
  assert.equal(await page.inputValue('#token'), VIEWER_TOKEN, 'the token field is filled from sessionStorage');
  const expected = (await served()).filter((a) => ['Create', 'Like'].includes(a.type));
  assert.ok(expected.length > 0 && expected.length < HISTORY, 'the filter leaves some activities out');
  await waitRows(page, expected.length);
  await waitPhase(page, 'live');
  await assertHistoryPanels(page, expected);
  assertNoProblems(page);
  await page.close();
});

test('a token without `stream` gets the 403 message; the feeds and the history still work', { timeout: 30000 }, async () => {
  const tab = await open();
  await waitRefusal(tab, 401);
  await enterToken(tab, NO_STREAM_TOKEN);
  assert.match(await waitRefusal(tab, 403), /HTTP 403.*This token may not use the stream/);
  assert.equal(await textOf(tab, '#conn'), 'closed');
  for (const f of FEEDS) await tab.waitForSelector(`#feeds tr[data-feed="${f.id}"]`);
  await assertHistoryPanels(tab, await served());
  assert.equal(await rowCount(tab), 0);
  await shot(tab, 'auth-forbidden');
  assertNoProblems(tab);
  await tab.close();
});

test('a JWT that expires ends the stream with the refusal message, and the page stops reconnecting', { timeout: 40000 }, async () => {
  const tab = await open();
  await waitRefusal(tab, 401);
  // exp 8 s from now (no leeway configured): the token is accepted until then.
  const token = jwt({ sub: 'browser', feeds: ['*'], allow: ['stream', 'search', 'feeds'],
    exp: Math.floor(Date.now() / 1000) + 8 });
  const streamRequests = [];
  tab.on('request', (r) => { if (r.url().includes('/stream?')) streamRequests.push(r.url()); });
  const refusedReconnect = tab.waitForResponse((r) => r.url().includes('/stream?') && r.status() === 401, { timeout: 20000 });
  await enterToken(tab, token);
  await waitRows(tab, HISTORY);
  await waitPhase(tab, 'live');
  assert.equal(await textOf(tab, '#conn'), 'open', 'the stream runs while the token is valid');

  assert.match(await waitRefusal(tab, 401, 20000), /This token was refused \(missing, invalid or expired\)/);
  await refusedReconnect;
  assert.equal(await textOf(tab, '#conn'), 'closed');
  assert.equal(await rowCount(tab), HISTORY, 'what came before the expiry stays');
  const requests = streamRequests.length;
  await sleep(3000);                      // six times the server's `retry: 500ms`
  assert.equal(streamRequests.length, requests, 'no more /stream requests after the refusal');
  assert.equal(await textOf(tab, '#conn'), 'closed');
  await shot(tab, 'auth-expired');
  assertNoProblems(tab);
  await tab.close();
});
