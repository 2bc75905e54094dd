// harness.mjs -- what the dashboard's end-to-end tests share: child processes (bin/feedsim,
// the real bin/activity-stream) with their logs in tests/artifacts/, waiting, a server config,
// Debian's chromium through playwright-core, pages that collect their own errors, and the
// helpers that read the page. Everything listens on 127.0.0.1 only.
//
// Environment: AS_SERVER, AS_FEEDSIM (binaries), CHROMIUM (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
export const SERVER = path.resolve(ROOT, process.env.AS_SERVER || 'bin/activity-stream');
export const FEEDSIM = path.resolve(ROOT, process.env.AS_FEEDSIM || 'bin/feedsim');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];

// ---- waiting ---------------------------------------------------------------------------

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, fn, timeout = 15000, interval = 100) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try { last = await fn(); } catch (err) { last = undefined; if (Date.now() - t0 > timeout) throw err; }
    if (last) return last;
    if (Date.now() - t0 > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

// ---- processes -------------------------------------------------------------------------

const children = [];

function killAllNow() {
  for (const c of children) if (!c.exited) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
}
process.on('exit', killAllNow);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { killAllNow(); process.exit(1); });
}

export function tail(file, lines = 30) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return ''; }
}

// A child process whose output goes to tests/artifacts/browser-<name>.log (emptied first).
function startProcess(name, cmd, args) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const log = path.join(ARTIFACTS, `browser-${name}.log`);
  const fd = fs.openSync(log, children.some((c) => c.name === name) ? 'a' : 'w');
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.name = name;
  child.log = log;
  child.exited = false;
  child.on('exit', () => { child.exited = true; });
  children.push(child);
  return child;
}

export async function stop(child) {
  if (child.exited) return;
  child.kill('SIGTERM');
  const t0 = Date.now();
  while (!child.exited && Date.now() - t0 < 5000) await sleep(50);
  if (!child.exited) child.kill('SIGKILL');
}

export async function stopAll() {
  for (const c of [...children].reverse()) await stop(c);
}

// What a suite's `after` does: close the browser (ctx may be unset when `before` failed), stop
// every process, then run the suite's cleanups (temporary directories), newest first.
export async function tearDown(ctx, cleanups) {
  if (ctx) await ctx.closeAndClean();
  await stopAll();
  for (const f of cleanups.reverse()) { try { f(); } catch { /* best effort */ } }
}

async function startListening(name, cmd, args, port) {
  const child = startProcess(name, cmd, args);
  await waitFor(`${name} to listen`, () => !child.exited && canConnect(port), 10000)
    .catch((e) => { throw new Error(`${e.message}\n${tail(child.log)}`); });
  return child;
}

// bin/feedsim on a free port with extra `args` (--count, --seed...): { port, child, url }.
export async function startFeedsim(name, args) {
  assert.ok(fs.existsSync(FEEDSIM), `${FEEDSIM} is missing: build it with make`);
  const port = await freePort();
  const child = await startListening(name, FEEDSIM, ['--port', String(port), ...args], port);
  return { port, child, url: `http://127.0.0.1:${port}` };
}

// A server config in `dir`: fast polling and full syncs, the given feeds ({id, url}) and any
// `extra` lines (an auth block). Returns its path.
export function writeServerConfig(dir, port, feeds, extra = []) {
  const conf = path.join(dir, 'server.conf');
  fs.writeFileSync(conf, [
    `listen: 127.0.0.1:${port}`,
    `data_dir: ${JSON.stringify(path.join(dir, 'data'))}`,
    `web_root: ${JSON.stringify(path.join(ROOT, 'web'))}`,
    'threads: 1',
    'poll_interval: 200ms',
    'retry: 500ms',
    ...extra,
    'feeds:',
    ...feeds.flatMap((f) => [
      `  - id: ${f.id}`,
      `    url: ${f.url}`,
      '    poll_interval: 200ms',
      '    full_sync_interval: 2s',
    ]),
    '',
  ].join('\n'));
  return conf;
}

export async function startServer(name, conf, port) {
  assert.ok(fs.existsSync(SERVER), `${SERVER} is missing: build it with make`);
  return startListening(name, SERVER, ['--config', conf], port);
}

// ---- HTTP ------------------------------------------------------------------------------

export async function json(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method || 'GET'} ${url}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

// Every activity feedsim serves now, read from its feed as the server reads it (first page,
// then `next` until there is none): what the dashboard's counts must equal.
export async function feedsimActivities(feedsimUrl) {
  const items = [];
  for (let url = `${feedsimUrl}/feed`; url;) {
    const page = await json(url);
    items.push(...(page.orderedItems ?? page.items ?? []));
    url = page.next;
  }
  return items;
}

// ---- the browser -----------------------------------------------------------------------

// A browser context with its own profile (removed by the returned close()). en-US: its default
// time format is 12-hour, so a time formatted by the locale shows up.
export async function launchBrowser() {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/install-deps browser`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'as-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000, locale: 'en-US',
  });
  ctx.closeAndClean = async () => {
    await ctx.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return ctx;
}

// A new tab at `${base}/${query}`. Errors the page logs are collected in page.problems, but for
// the refusals the test expects (`refusals`: HTTP statuses such as 400 or 401, which the
// browser logs for a refused EventSource or fetch) and, while page.serverDown, network errors.
export async function openPage(ctx, base, query, { viewport = { width: 1280, height: 900 }, refusals = [400] } = {}) {
  const page = await ctx.newPage();
  await page.setViewportSize(viewport);
  page.setDefaultTimeout(15000);
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`uncaught: ${err.message}`));
  const expected = new RegExp(`status of (${refusals.join('|')})\\b`);
  page.on('console', (msg) => {
    if (msg.type() !== 'error' || (refusals.length && expected.test(msg.text()))) return;
    if (page.serverDown && /net::ERR_/.test(msg.text())) return;
    page.problems.push(`console: ${msg.text()}`);
  });
  await page.goto(`${base}/${query}`);
  return page;
}

export const rowIds = (page) => page.$$eval('#activity-list > li', (els) => els.map((e) => e.dataset.id));
export const rowCount = (page) => page.locator('#activity-list > li').count();
export const textOf = async (page, sel) => (await page.textContent(sel)).trim();
export const numberIn = (text) => Number(String(text).replace(/\D/g, ''));
export const eventsCounted = async (page) => numberIn(await textOf(page, '#total-events'));

export async function waitRows(page, n, timeout = 15000) {
  await waitFor(`${n} rows`, async () => (await rowCount(page)) === n, timeout);
}

export async function waitPhase(page, phase, timeout = 15000) {
  await page.waitForSelector(`#phase[data-phase="${phase}"]`, { timeout });
}

// The breakdown panel's table `which` ('per-feed', 'per-type') as { key: count }.
export async function breakdownCounts(page, which) {
  const rows = await page.$$eval(`#${which} tbody tr[data-key]`, (els) =>
    els.map((tr) => [tr.dataset.key, tr.querySelector('.num').textContent]));
  return Object.fromEntries(rows.map(([k, n]) => [k, numberIn(n)]));
}

// The history chart once it has drawn: { total, bars, interval }.
export async function historyChart(page, timeout = 15000) {
  await page.waitForSelector('#history-chart[data-bars]:not([data-bars="0"])', { timeout });
  const d = await page.$eval('#history-chart', (c) => ({ ...c.dataset }));
  return { total: Number(d.total), bars: Number(d.bars), interval: d.interval };
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `browser-${name}.png`) });
}

export function assertNoProblems(page) {
  assert.deepEqual(page.problems, [], 'the page logged errors');
}

// { key: how many } of keyFn over items (a key list counts the item once per distinct key).
export function tally(items, keyFn) {
  const out = {};
  for (const it of items) {
    const keys = [keyFn(it)].flat();
    for (const k of new Set(keys)) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
