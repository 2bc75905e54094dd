// dashboard.test.mjs -- the web dashboard end to end, in a real browser: bin/feedsim serves a
// feed, the real bin/activity-stream pulls it and serves web/, Debian's chromium (driven by
// playwright-core) opens the page. Checks history, live rows, deletes, pause/resume exactly
// once, a finite historical range, the server's 400 message, the URL round trip, one time
// format with the zone, the history chart (the server's date_histogram) and the breakdown
// panel (its terms aggregations) against what feedsim served, the live chart's scale, the
// settings folding on a laptop screen, a reset (the page drops what it holds and shows the
// stream again) and the phone layout; screenshots go to tests/artifacts/. A server without
// access control: the token field stays empty and nothing asks for one. (access.test.mjs
// runs the dashboard against a server with access control.)
//
// Run by tests/browser/run (which installs chromium and playwright-core when missing);
// harness.mjs starts the processes and the browser.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  sleep, waitFor, freePort, stop, tearDown, json, startFeedsim, writeServerConfig, startServer,
  feedsimActivities, launchBrowser, openPage as openTab, rowIds, rowCount, textOf, numberIn,
  eventsCounted, waitRows, waitPhase, breakdownCounts, historyChart, shot, assertNoProblems, tally,
} from './harness.mjs';

const HISTORY = 200;                         // feedsim --count: items 0..199, 1 s apart
const SIM_START = Date.parse('2024-01-01T00:00:00Z');
const RANGE = 100;                           // the historical range: items 0..99
const FEED_ID = 'sim';
const SIM_ID = (n) => `urn:feedsim:1:${n}`;

const cleanups = [];
let sim, serverPort, serverConf, server, base, ctx;

const control = (what) => json(`${sim.url}/_control/${what}`, { method: 'POST' });

// The ids feedsim holds now (the source of truth for what the page should show).
async function simIds() {
  const st = await json(`${sim.url}/_control/state?ids=1`);
  return st.ids;
}

const simIndex = (id) => Number(id.split(':').pop());

async function feedStatus() {
  const list = await json(`${base}/feeds`);
  return list.find((f) => f.id === FEED_ID);
}

async function restartServer() {
  server = await startServer('server', serverConf, serverPort);
}

const openPage = (query, viewport) => openTab(ctx, base, query, viewport && { viewport });

// ---- setup -----------------------------------------------------------------------------

before(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'as-browser-'));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  sim = await startFeedsim('feedsim', ['--count', String(HISTORY), '--page-size', '50']);
  serverPort = await freePort();
  base = `http://127.0.0.1:${serverPort}`;
  serverConf = writeServerConfig(tmp, serverPort, [{ id: FEED_ID, url: `${sim.url}/feed` }]);
  await restartServer();
  // The whole history is in the store before the page opens (so counts are exact).
  await waitFor('the first full sync', async () => {
    const f = await feedStatus();
    return f && f.last_full_sync && f.activities >= HISTORY;
  }, 20000);
  ctx = await launchBrowser();
});

after(() => tearDown(ctx, cleanups));

// ---- tests -----------------------------------------------------------------------------

const TIME_FORMAT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC([+-]\d{1,2}(:\d\d)?)?$/;
const CLOCK_FORMAT = /\b\d\d:\d\d:\d\d UTC([+-]\d{1,2}(:\d\d)?)?\b/;

// The activities feedsim serves now with start <= published < end (ms; end optional).
async function servedBetween(startMs, endMs = Infinity) {
  const all = await feedsimActivities(sim.url);
  return all.filter((a) => Date.parse(a.published) >= startMs && Date.parse(a.published) < endMs);
}

// The breakdown and the history chart show exactly `expected` (feedsim's activities).
async function assertHistoryPanels(page, expected) {
  await waitFor('the breakdown', async () => (await page.getAttribute('#breakdown-note', 'data-total')) !== null, 10000);
  assert.deepEqual(await breakdownCounts(page, 'per-feed'), { [FEED_ID]: expected.length }, 'activities per feed');
  assert.deepEqual(await breakdownCounts(page, 'per-type'), tally(expected, (a) => a.type), 'activities per type');
  const chart = await historyChart(page);
  assert.equal(chart.total, expected.length, 'the history chart\'s bars add up to the history');
  assert.ok(chart.bars >= 1 && chart.bars <= 68, `a sensible number of bars (${chart.bars})`);
}

let live;   // the page that follows the whole feed, shared by the tests below in order

test('history rows appear, newest on top, then the stream goes live', { timeout: 30000 }, async () => {
  live = await openPage('?start=2023-12-31T00:00:00Z');
  await waitRows(live, HISTORY);
  await waitPhase(live, 'live');
  await waitFor('the counters', async () => (await eventsCounted(live)) === HISTORY, 3000);
  // the history's chart and breakdown come from the server's aggregations, equal to the source
  await assertHistoryPanels(live, await servedBetween(Date.parse('2023-12-31T00:00:00Z')));
  assert.match(await textOf(live, '#history-caption'), new RegExp(`^history: ${HISTORY} activities · 1 bar = \\d+d`));
  // the replay is not live traffic: the live chart has counted nothing yet
  await sleep(1100);
  assert.equal(await live.getAttribute('#rate-chart', 'data-total'), '0', 'replayed events on the live chart');
  assert.equal(await textOf(live, '#rate-peak'), '0');
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
  // the live chart counts the live event, on the scale of live traffic
  await waitFor('the live chart to count the event', async () =>
    Number(await live.getAttribute('#rate-chart', 'data-total')) === 1, 5000);
  assert.equal(Number(await live.getAttribute('#rate-chart', 'data-scale')), 1);
  assert.equal(numberIn(await textOf(live, '#rate-peak')), 1, 'the live peak');
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
  await restartServer();
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
  await assertHistoryPanels(page, await servedBetween(SIM_START, SIM_START + RANGE * 1000));
  assert.equal(await page.getAttribute('#history-chart', 'data-interval'), '2s', '100 s in bars of 2 s');
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
