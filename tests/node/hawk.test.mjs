// hawk.test.mjs -- Hawk as the reference implementation speaks it, against the real server:
// every Authorization header here comes from @hapi/hawk's client (the original Hawk library),
// none from this project's code. bin/feedsim serves 20 activities, bin/activity-stream reads
// them with an auth block holding one Hawk client scoped to that feed. Checks: valid requests
// pass (GET and POST with a payload hash, a finite stream), a replayed nonce is refused, a
// skewed clock gets a ts/tsm challenge that @hapi/hawk verifies and then succeeds, a tampered
// payload or content type and a body without a hash are refused, so are a wrong key and an
// unknown id; every refusal is the same 401. Everything listens on 127.0.0.1 only.
//
// Run by tests/node/run. Environment: AS_SERVER, AS_FEEDSIM (binaries).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Hawk from '@hapi/hawk';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER = path.resolve(ROOT, process.env.AS_SERVER || 'bin/activity-stream');
const FEEDSIM = path.resolve(ROOT, process.env.AS_FEEDSIM || 'bin/feedsim');
const COUNT = 20;
const CLIENT = { id: 'node-hawk', key: 'node-hawk-key-4f1c0e9a7b2d', algorithm: 'sha256' };
const UNAUTHORIZED = '{"error": "unauthorized"}';   // the body exactly as issue 11 writes it

const procs = [];
let dir;
let base;

// An unused loopback port (the kernel's choice, released for the child to take).
const portFree = () => new Promise((resolve, reject) => {
  const srv = net.createServer().once('error', reject);
  srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
});

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// Run `bin args`, its output appended to dir/<name>.log; killed when this process exits.
function launch(name, bin, args) {
  const out = fs.openSync(path.join(dir, `${name}.log`), 'a');
  const child = spawn(bin, args, { cwd: ROOT, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  procs.push(child);
  return child;
}

// Poll until `probe` resolves truthy, for at most `ms`.
async function until(what, probe, ms = 15000) {
  for (const end = Date.now() + ms; Date.now() < end; await pause(100)) {
    if (await probe().catch(() => false)) return;
  }
  const log = fs.readFileSync(path.join(dir, 'server.log'), 'utf8');
  throw new Error(`gave up waiting for ${what}\n${log.split('\n').slice(-20).join('\n')}`);
}

// A request signed by @hapi/hawk; `opts` are its client options (payload, nonce, offset...).
function signed(method, route, opts = {}, credentials = CLIENT) {
  const url = base + route;
  const { header, artifacts } = Hawk.client.header(url, method, { credentials, ...opts });
  return { url, header, artifacts };
}

async function send(method, { url, header }, body, contentType) {
  const headers = { authorization: header };
  if (body !== undefined) headers['content-type'] = contentType || 'application/json';
  const res = await fetch(url, { method, headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function get(route, opts) {
  return send('GET', signed('GET', route, opts));
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hawk-node-'));
  const [simPort, port] = [await portFree(), await portFree()];
  launch('feedsim', FEEDSIM, ['--port', String(simPort), '--count', String(COUNT), '--page-size', '50']);
  fs.writeFileSync(path.join(dir, 'server.conf'), [
    `listen: 127.0.0.1:${port}`, `data_dir: ${dir}/data`, 'threads: 2', 'web_root: web',
    'feeds:', '  - id: sim', `    url: http://127.0.0.1:${simPort}/feed`, '    poll_interval: 100ms',
    'auth:', '  clients:', `    - id: ${CLIENT.id}`, `      hawk_key: ${CLIENT.key}`,
    '      scope: {"term": {"feed": "sim"}}', '      allow: [stream, search, feeds]', '',
  ].join('\n'));
  launch('server', SERVER, ['--config', path.join(dir, 'server.conf')]);
  base = `http://127.0.0.1:${port}`;
  await until('the server to store the feed', async () => {
    const r = await get('/activities/_count');
    return r.status === 200 && JSON.parse(r.text).count === COUNT;
  });
});

after(async () => {
  for (const p of procs) p.kill('SIGTERM');
  await pause(300);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('valid requests pass: GET, POST with a payload hash, a finite stream', async () => {
  const count = await get('/activities/_count');
  assert.equal(count.status, 200, count.text);
  assert.equal(JSON.parse(count.text).count, COUNT);

  const body = JSON.stringify({ size: 100, query: { match_all: {} } });
  const search = await send('POST', signed('POST', '/activities/_search',
    { payload: body, contentType: 'application/json' }), body);
  assert.equal(search.status, 200, search.text);
  assert.equal(JSON.parse(search.text).hits.hits.length, COUNT);

  const stream = await get('/stream?start=0&end=now');
  assert.equal(stream.status, 200, stream.text);
  assert.equal(stream.text.split('\nevent: activity\n').length - 1, COUNT);
  assert.match(stream.text, /event: end\n/);

  const feeds = await get('/feeds');
  assert.equal(feeds.status, 200);
  assert.deepEqual(JSON.parse(feeds.text).map((f) => f.id), ['sim']);
});

test('a replayed nonce is refused', async () => {
  const req = signed('GET', '/activities/_count', { nonce: 'replay-me' });
  assert.equal((await send('GET', req)).status, 200);
  const again = await send('GET', req);
  assert.equal(again.status, 401);
  assert.equal(again.text, UNAUTHORIZED);
});

test('a skewed clock gets a ts/tsm challenge that @hapi/hawk verifies, then succeeds', async () => {
  for (const skew of [-5 * 60 * 1000, 5 * 60 * 1000]) {
    const req = signed('GET', '/activities/_count', { localtimeOffsetMsec: skew });
    const res = await send('GET', req);
    assert.equal(res.status, 401);
    assert.equal(res.text, UNAUTHORIZED);
    const challenge = { headers: { 'www-authenticate': res.headers.get('www-authenticate') } };
    // authenticate() throws unless tsm is the server's MAC of ts under our key
    const { headers } = Hawk.client.authenticate(challenge, CLIENT, req.artifacts);
    const ts = Number(headers['www-authenticate'].ts);
    assert.ok(Math.abs(ts * 1000 - Date.now()) < 5000, 'ts is the server time');
    assert.equal(headers['www-authenticate'].error, 'Stale timestamp');
    assert.throws(() => Hawk.client.authenticate(challenge, { ...CLIENT, key: 'another key' }, req.artifacts),
      /Invalid server timestamp hash/);
    const retry = await get('/activities/_count', { localtimeOffsetMsec: ts * 1000 - Date.now() });
    assert.equal(retry.status, 200, 'with the offset learnt from the challenge');
  }
});

test('a tampered payload, a changed content type and a body without a hash are refused', async () => {
  const body = JSON.stringify({ query: { match_all: {} } });
  const other = JSON.stringify({ query: { match_none: {} } });
  const hashed = { payload: body, contentType: 'application/json' };
  const tampered = await send('POST', signed('POST', '/activities/_count', hashed), other);
  assert.equal(tampered.status, 401);
  const retyped = await send('POST', signed('POST', '/activities/_count', hashed), body, 'text/plain');
  assert.equal(retyped.status, 401);
  const unhashed = await send('POST', signed('POST', '/activities/_count'), body);
  assert.equal(unhashed.status, 401);
  assert.equal(unhashed.text, UNAUTHORIZED);
  const good = await send('POST', signed('POST', '/activities/_count', hashed), body);
  assert.equal(good.status, 200, good.text);
});

test('a wrong key, an unknown id and another path are refused', async () => {
  for (const credentials of [{ ...CLIENT, key: 'not-the-key' }, { ...CLIENT, id: 'nobody' }]) {
    const res = await send('GET', signed('GET', '/activities/_count', {}, credentials));
    assert.equal(res.status, 401);
    assert.equal(res.text, UNAUTHORIZED);
    assert.match(res.headers.get('www-authenticate'), /^Hawk/);
  }
  const req = signed('GET', '/activities/_count');
  const moved = await send('GET', { ...req, url: `${base}/activities/_count?x=1` });
  assert.equal(moved.status, 401, 'the MAC covers the query string');
});
