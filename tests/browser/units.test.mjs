// units.test.mjs -- the dashboard's pure modules under node: params.js (the page URL <-> view
// round trip, the /stream URL), format.js (the row texts, one time format), auth.js (where the
// token goes, the refusal messages), aggquery.js (the view as Elasticsearch searches, the bar
// width, the chart's axis), bars.js and histchart.js (scales, rates and units), and the live
// chart's counting (chart.js, without drawing). web/ has no package.json (it is served as is),
// so web/js is copied beside one that makes its .js files ES modules.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let tmp, P, F, C, A, Q, B, H;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'as-web-units-'));
  fs.cpSync(path.join(ROOT, 'web/js'), tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, 'package.json'), '{"type": "module"}\n');
  const load = (name) => import(pathToFileURL(path.join(tmp, name)).href);
  P = await load('params.js');
  F = await load('format.js');
  C = await load('chart.js');
  A = await load('auth.js');
  Q = await load('aggquery.js');
  B = await load('bars.js');
  H = await load('histchart.js');
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
    c.count(30);                           // a burst, all in this second
    assert.equal(c.peak, 30, 'never "peak 0" beside the events of this second');
    advance(1000);
    c.roll();
    assert.equal(c.rate, 30);
    assert.equal(c.peak, 30);
    c.reset();
    assert.equal(c.peak, 0);
  });
});

test('chart_scale_follows_the_busiest_second_in_view', () => {
  withClock((advance) => {
    const c = new C.RateChart(null, { seconds: 10 });
    c.count(3);
    advance(1000);
    c.count(2);
    advance(1000);
    c.roll();
    assert.equal(c.axisMax(), 5, '3 and 2 a second: the axis tops at 5');
    advance(20000);                        // both scroll out of the window
    c.roll();
    assert.equal(c.axisMax(), 1);
    assert.equal(c.peak, 3, 'the peak stays');
  });
});

test('bars_nice_max_and_rate_texts', () => {
  assert.deepEqual([1, 2, 3, 7, 10, 11, 4999, 5000].map(B.niceMax), [1, 2, 5, 10, 10, 20, 5000, 5000]);
  assert.deepEqual([0.0003, 0.02, 0.3, 0.7].map(B.niceMax), [0.0005, 0.02, 0.5, 1]);
  assert.deepEqual([0, 0.04167, 2.75, 12.4, 1234].map(B.rateText), ['0', '0.042', '2.8', '12', '1,234']);
});

test('histchart_rate_unit_is_the_largest_not_wider_than_a_bar', () => {
  const unit = (ms) => H.rateUnit(ms)[0];
  assert.equal(unit(1000), 's');
  assert.equal(unit(30000), 's');
  assert.equal(unit(60000), 'min');
  assert.equal(unit(6 * 3600000), 'h');
  assert.equal(unit(30 * 86400000), 'd');
  assert.equal(unit(500), 's');
});

// A storage as sessionStorage behaves.
function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k), m };
}

test('auth_token_is_stored_and_forgotten', () => {
  const st = memoryStorage();
  assert.equal(A.loadToken(st), '');
  A.saveToken('abc+/=', st);
  assert.equal(A.loadToken(st), 'abc+/=');
  A.saveToken('', st);
  assert.equal(A.loadToken(st), '');
  assert.equal(st.m.size, 0);
  const refusing = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('denied'); } };
  assert.equal(A.loadToken(refusing), '');
  assert.doesNotThrow(() => A.saveToken('x', refusing));
});

test('auth_token_goes_encoded_on_event_source_urls_and_as_bearer_on_fetch', () => {
  const url = A.withAccessToken('stream?start=now', 'a+b/c= d');
  assert.equal(url, 'stream?start=now&access_token=a%2Bb%2Fc%3D%20d');
  assert.equal(new URLSearchParams(url.split('?')[1]).get('access_token'), 'a+b/c= d');
  assert.equal(A.withAccessToken('feeds', 't'), 'feeds?access_token=t');
  assert.equal(A.withAccessToken('stream?start=now', ''), 'stream?start=now', 'no token: the URL as it was');
  assert.deepEqual(A.bearerHeaders('tok'), { Authorization: 'Bearer tok' });
  assert.deepEqual(A.bearerHeaders(''), {});
});

test('auth_refusal_texts', () => {
  assert.match(A.refusalText(401, 'the stream', false), /needs a token: enter one above/);
  assert.match(A.refusalText(401, 'the stream', true), /refused \(missing, invalid or expired\)/);
  assert.match(A.refusalText(403, 'the feeds list', true), /^This token may not use the feeds list/);
  assert.equal(A.isRefusal(401) && A.isRefusal(403), true);
  assert.equal(A.isRefusal(400) || A.isRefusal(500) || A.isRefusal(undefined), false);
});

test('aggquery_history_query_is_the_stream_history', () => {
  const now = Date.parse('2024-06-01T12:00:00Z');
  const view = P.readView('?start=1h&end=2024-06-01T12:30:00Z&feed=a,b&type=Create&actor=urn:x:1' +
    '&q=' + encodeURIComponent('{"match":{"object.content":"hi"}}'));
  assert.deepEqual(Q.historyQuery(view, now), { bool: { filter: [
    { range: { published: { gte: now - 3600000, lt: '2024-06-01T12:30:00Z' } } },
    { terms: { feed: ['a', 'b'] } },
    { terms: { type: ['Create'] } },
    { terms: { 'actor.id': ['urn:x:1'] } },
    { match: { 'object.content': 'hi' } },
  ] } });
  assert.deepEqual(Q.historyQuery(P.readView('?start=now-6h'), now), { bool: { filter: [
    { range: { published: { gte: 'now-6h' } } }] } }, 'date math goes as /stream takes it');
  assert.deepEqual(Q.historyQuery(P.readView('?start=1704067200000'), now).bool.filter[0].range.published,
    { gte: 1704067200000 });
  assert.throws(() => Q.historyQuery(P.readView('?q=%7B'), now), SyntaxError);
  assert.equal(Q.hasHistory(P.readView('?start=now')), false);
  assert.equal(Q.hasHistory(P.readView('?start=1d')), true);
});

test('aggquery_searches_ask_for_the_aggregations_drawn', () => {
  const query = { match_all: {} };
  const s = Q.summarySearch(query);
  assert.equal(s.size, 0);
  assert.equal(s.track_total_hits, true);
  assert.deepEqual(s.aggs.per_feed, { terms: { field: 'feed', size: Q.TERMS_SIZE } });
  assert.deepEqual(s.aggs.per_type, { terms: { field: 'type', size: Q.TERMS_SIZE } });
  const axis = { startMs: 1000, endMs: 61999, width: { text: '1s', ms: 1000 } };
  assert.deepEqual(Q.histogramSearch(query, axis).aggs.rate.date_histogram, {
    field: 'published', fixed_interval: '1s', min_doc_count: 0, extended_bounds: { min: 1000, max: 61999 },
  });
});

test('aggquery_bar_width_gives_a_sensible_number_of_bars', () => {
  const H1 = 3600000;
  const D1 = 24 * H1;
  for (const [span, text] of [[100000, '2s'], [60000, '1s'], [1, '1s'], [H1, '1m'], [D1, '30m'],
    [7 * D1, '3h'], [365 * D1, '7d'], [3 * 365 * D1, '30d'], [100 * 365 * D1, '730d']]) {
    const w = Q.barWidth(span);
    assert.equal(w.text, text, `span ${span}`);
    assert.ok(span / w.ms <= Q.MAX_BARS, `at most ${Q.MAX_BARS} bars for ${span}`);
  }
});

test('aggquery_axis_spans_the_view_and_everything_found', () => {
  const now = Date.parse('2024-06-01T12:00:00Z');
  const first = now - 1800000;
  const a = Q.historyAxis(P.readView('?start=1h'), now, now + 5000, first, now - 1000);
  assert.deepEqual(a, { startMs: now - 3600000, endMs: now + 5000, width: { text: '1m', ms: 60000 } },
    'the last hour, seconds after connecting: still bars of a minute');
  const r = Q.historyAxis(P.readView('?start=2024-01-01T00:00:00Z&end=2024-01-01T00:01:40Z'), now, now,
    Date.parse('2024-01-01T00:00:10Z'), Date.parse('2024-01-01T00:01:00Z'));
  assert.equal(r.startMs, Date.parse('2024-01-01T00:00:00Z'));
  assert.equal(r.endMs, Date.parse('2024-01-01T00:01:40Z') - 1, 'the end is exclusive');
  assert.equal(r.width.text, '2s');
  // ends the browser cannot read: what the server found
  const m = Q.historyAxis(P.readView('?start=now-6h&end=now-1h'), now, now, first, now - 1000);
  assert.deepEqual([m.startMs, m.endMs], [first, now - 1000]);
  // activities published after now stay on the axis
  assert.equal(Q.historyAxis(P.readView('?start=1h'), now, now, first, now + 7200000).endMs, now + 7200000);
  assert.equal(Q.historyAxis(P.readView('?start=1h'), now, now, null, null), null, 'nothing found: no axis');
});
