// units.test.mjs -- the dashboard's pure modules (web/js/params.js, web/js/format.js) and the
// rate chart's counting (web/js/chart.js, without drawing) under node: the page URL <-> view
// round trip, the /stream URL, the row texts, one time format, the peak and the live scale.
// web/ has no package.json (it is served as is), so the modules are copied to .mjs files first.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let tmp, P, F, C;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'as-web-units-'));
  const load = async (name) => {
    const dst = path.join(tmp, name.replace(/\.js$/, '.mjs'));
    fs.copyFileSync(path.join(ROOT, 'web/js', name), dst);
    return import(pathToFileURL(dst).href);
  };
  P = await load('params.js');
  F = await load('format.js');
  C = await load('chart.js');
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('params_defaults_when_the_url_is_empty', () => {
  const v = P.readView('');
  assert.deepEqual(v, { start: '1h', end: '', feed: '', type: '', actor: '', q: '', rows: 500 });
  assert.equal(P.pageQuery(v), '?start=1h');
});

test('params_page_url_round_trip', () => {
  const v = {
    start: '2023-12-31T00:00:00Z', end: '2024-01-01T00:01:40Z', feed: 'a,b', type: 'Create',
    actor: 'https://x.example/u/1', q: '{"term": {"type": "Create"}}', rows: 50,
  };
  assert.deepEqual(P.readView(P.pageQuery(v)), v);
});

test('params_lists_are_normalised_and_rows_clamped', () => {
  const v = P.readView('?feed= a, ,b,&type=Create,,Like&rows=5');
  assert.equal(v.feed, 'a,b');
  assert.equal(v.type, 'Create,Like');
  assert.equal(v.rows, P.MIN_ROWS);
  assert.equal(P.readView('?rows=999999').rows, P.MAX_ROWS);
  assert.equal(P.readView('?rows=many').rows, P.DEFAULT_ROWS);
});

test('params_relative_start_becomes_unix_ms_in_the_stream_url', () => {
  const now = Date.parse('2024-06-01T12:00:00Z');
  const url = P.streamPath({ ...P.readView('?start=1d&type=Create'), q: '{"a":1}' }, now);
  const q = new URLSearchParams(url.split('?')[1]);
  assert.ok(url.startsWith('stream?'));
  assert.equal(q.get('start'), String(now - 86400000));
  assert.equal(q.get('type'), 'Create');
  assert.equal(q.get('q'), '{"a":1}');
  assert.equal(q.has('end'), false);
  assert.equal(P.streamStart('now', now), 'now');
  assert.equal(P.streamStart('1h', now), String(now - 3600000));
  assert.equal(P.streamStart('2024-01-01T00:00:00Z', now), '2024-01-01T00:00:00Z');
});

test('params_last_event_id_is_replaced_not_repeated', () => {
  const u1 = P.withLastEventId('stream?start=now&type=Create', 'abc');
  const u2 = P.withLastEventId(u1, 'def');
  const q = new URLSearchParams(u2.split('?')[1]);
  assert.deepEqual(q.getAll('last_event_id'), ['def']);
  assert.equal(q.get('type'), 'Create');
});

test('params_local_input_round_trip', () => {
  const iso = '2023-12-31T00:00:00Z';
  assert.equal(P.fromLocalInput(P.toLocalInput(new Date(iso))), iso);
  assert.equal(P.fromLocalInput(''), '');
  assert.equal(P.fromLocalInput('garbage'), '');
  assert.equal(P.parseTime('1704067200000').toISOString(), '2024-01-01T00:00:00.000Z');
  assert.equal(P.parseTime('not a time'), null);
});

test('params_range_problem_when_end_is_not_after_start', () => {
  assert.match(P.rangeProblem({ start: '2024-01-02T00:00:00Z', end: '2024-01-01T00:00:00Z' }), /after/);
  assert.equal(P.rangeProblem({ start: '2024-01-01T00:00:00Z', end: '2024-01-02T00:00:00Z' }), null);
  assert.equal(P.rangeProblem({ start: '1h', end: '2024-01-02T00:00:00Z' }), null);
  assert.equal(P.rangeProblem({ start: 'now', end: '' }), null);
});

test('format_actor_type_object_texts', () => {
  assert.deepEqual(F.actorLabel('https://x.example/u/1'), { text: 'https://x.example/u/1', title: 'https://x.example/u/1' });
  assert.deepEqual(F.actorLabel({ id: 'urn:a:1', name: 'Ann' }), { text: 'Ann', title: 'Ann <urn:a:1>' });
  assert.equal(F.actorLabel([{ id: 'urn:a:1' }, 'urn:a:2']).text, 'urn:a:1 +1');
  assert.equal(F.actorLabel(undefined).text, '');
  assert.equal(F.typeLabel(['Create', 'dit:Thing']), 'Create, dit:Thing');
  assert.equal(F.typeLabel(42), '');
  assert.equal(F.objectLabel({ name: 'N', summary: 'S' }).text, 'N');
  assert.equal(F.objectLabel({ summary: 'S', content: 'C' }).text, 'S');
  assert.equal(F.objectLabel({ content: '<p>Hi <b>there</b> &amp; <script>x</script></p>' }).text, 'Hi there & x');
  assert.equal(F.objectLabel({ nameMap: {}, name: { en: 'English' } }).text, 'English');
  assert.equal(F.objectLabel({ id: 'urn:o:1', type: 'Note' }).text, 'urn:o:1');
  assert.equal(F.objectLabel('https://x.example/o/1').text, 'https://x.example/o/1');
  assert.equal(F.objectLabel({ content: 'x'.repeat(1000) }).text.length, 240);
});

test('format_times', () => {
  const t = F.timeLabel('2024-01-01T00:00:00Z');
  assert.equal(t.iso, '2024-01-01T00:00:00.000Z');
  // one format everywhere: 24-hour, with the zone
  assert.match(t.text, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC([+-]\d{1,2}(:\d\d)?)?$/);
  assert.match(F.clockText(new Date()), /^\d\d:\d\d:\d\d UTC/);
  const zone = (minutesEast) => F.zoneLabel({ getTimezoneOffset: () => -minutesEast });
  assert.equal(zone(0), 'UTC');
  assert.equal(zone(120), 'UTC+2');
  assert.equal(zone(-300), 'UTC-5');
  assert.equal(zone(330), 'UTC+5:30');
  assert.deepEqual(F.timeLabel('yesterday'), { text: 'yesterday', iso: '' });
  const now = Date.parse('2024-01-01T01:00:00Z');
  assert.equal(F.ago('2024-01-01T00:59:55Z', now), '5 s ago');
  assert.equal(F.ago('2024-01-01T00:30:00Z', now), '30 min ago');
  assert.equal(F.ago('2024-01-01T01:00:10Z', now), 'in 10 s');
  assert.equal(F.ago(null, now), '');
});

// Date.now under the test's control, for the chart's seconds.
function withClock(fn) {
  const real = Date.now;
  let now = Date.parse('2024-01-01T00:00:00Z');
  Date.now = () => now;
  try { fn((ms) => { now += ms; }); } finally { Date.now = real; }
}

test('chart_peak_counts_the_running_second', () => {
  withClock((advance) => {
    const c = new C.RateChart(null, { seconds: 10 });
    assert.equal(c.peak, 0);
    c.count(3000);                         // a replay burst, all in this second
    assert.equal(c.peak, 3000, 'never "peak 0" beside thousands of events');
    advance(1000);
    c.roll();
    assert.equal(c.rate, 3000);
    assert.equal(c.peak, 3000);
    c.reset();
    assert.equal(c.peak, 0);
  });
});

test('chart_scale_follows_live_traffic_not_the_replay_burst', () => {
  withClock((advance) => {
    const c = new C.RateChart(null, { seconds: 10 });
    c.count(5000);                         // history replay
    advance(1000);
    c.roll();
    assert.equal(c.axisMax(), 5000, 'only a replay in view: its scale');
    c.count(3, true);                      // then a few live events a second
    advance(1000);
    c.count(2, true);
    advance(1000);
    c.roll();
    assert.equal(c.axisMax(), 5, 'live in view: scaled on its own');
    assert.equal(c.peak, 5000);
    advance(20000);                        // the burst scrolls out of the window
    c.roll();
    assert.equal(c.axisMax(), 1);
  });
});
