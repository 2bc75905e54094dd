// es_client.test.mjs -- the official Elasticsearch JavaScript client (@elastic/elasticsearch 8.x,
// unchanged, with its defaults) against the server's Elasticsearch API: info, count, search (query,
// size, sort, _source, track_total_hits, the URL forms), aggregations against a hand-checked
// table, msearch, get, points in time and helpers.scrollSearch while feedsim adds, updates and
// deletes (each activity of the frozen view exactly once), mappings, cat indices and
// helpers.search. Expected values come from feedsim itself: its pages (the activities as the
// source serves them) and /_control/ids, never from the server.
//
// Run by tests/clients/run, which starts feedsim ("crm": 1,500 activities 1 s apart from
// 2024-01-01T00:00:00Z, never changed; "events": 10,000 from 2024-03-01) and the server, and
// passes ES_URL, SIM_CRM and SIM_EVENTS.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Client, errors } from '@elastic/elasticsearch';

const ES = process.env.ES_URL;
const SIM = { crm: process.env.SIM_CRM, events: process.env.SIM_EVENTS };
const T0 = Date.parse('2024-01-01T00:00:00Z');
const client = new Client({ node: ES, requestTimeout: 60000 });

// crm's activity types, counted by hand from feedsim's seed 1 (and checked against its pages).
const CRM_TYPES = { Follow: 315, Announce: 314, Update: 296, Like: 295, Create: 280 };

// ---- what feedsim holds ----------------------------------------------------------------

async function getJson(url, init) {
  const res = await fetch(url, init);
  assert.ok(res.ok, `${url}: HTTP ${res.status}`);
  return res.json();
}

// Every activity of a feed, walking its pages as a client of the source would.
async function walk(sim) {
  const items = [];
  for (let url = `${sim}/feed`; url;) {
    const page = await getJson(url);
    items.push(...page.orderedItems);
    url = page.next;
  }
  return items;
}

// {id: version} of everything the source holds now.
async function sourceState(sim) {
  const res = await fetch(`${sim}/_control/ids`);
  const state = {};
  for (const line of (await res.text()).split('\n')) {
    if (!line) continue;
    const { id, version } = JSON.parse(line);
    state[id] = version;
  }
  return state;
}

const control = (sim, what) => getJson(`${sim}/_control/${what}`, { method: 'POST' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const countBy = (items, key) => items.reduce((m, x) => ({ ...m, [key(x)]: (m[key(x)] || 0) + 1 }), {});
const keysOf = (state) => Object.entries(state).map(([id, v]) => `${id}@${v}`).sort();

// Wait until the server holds what the source holds (same count, same sum of versions); returns
// the source's state.
async function converge(index) {
  for (let i = 0; i < 300; i++) {
    const state = await sourceState(SIM[index]);
    const versions = Object.values(state);
    const r = await client.search({ index, size: 0, track_total_hits: true,
      aggs: { v: { sum: { field: 'feedsim:version' } } } });
    if (r.hits.total.value === versions.length && r.aggregations.v.value === versions.reduce((a, b) => a + b, 0)) {
      return state;
    }
    await sleep(200);
  }
  throw new Error(`the server did not converge on ${index}`);
}

// The source adds, updates and deletes n activities of events; waits for the server to follow.
async function changeEvents(n) {
  await control(SIM.events, `add?n=${n}`);
  await control(SIM.events, `update?n=${n}`);
  await control(SIM.events, `delete?n=${n}`);
  return converge('events');
}

async function rejects(promise, status, type) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof errors.ResponseError, `${e}`);
    assert.equal(e.meta.statusCode, status);
    assert.equal(e.meta.headers['x-elastic-product'], 'Elasticsearch');
    if (type) assert.equal(e.body.error.type, type, JSON.stringify(e.body));
    return true;
  });
}

let crm;            // crm's activities, from feedsim's pages
let events;         // events' state {id: version} at the start

before(async () => {
  crm = await walk(SIM.crm);
  assert.equal(crm.length, 1500);
  assert.deepEqual(countBy(crm, (a) => a.type), CRM_TYPES);
  await converge('crm');
  events = await converge('events');
});

test('info: the root document', async () => {
  const info = await client.info();
  assert.equal(info.version.number, '8.11.0');
  assert.equal(info.version.build_flavor, 'default');
  assert.equal(info.tagline, 'You Know, for Search');
  assert.match(info.cluster_uuid, /^[0-9a-f]{32}$/);
  for (const k of ['lucene_version', 'minimum_wire_compatibility_version', 'minimum_index_compatibility_version']) {
    assert.ok(info.version[k], k);
  }
  assert.ok(info.name && info.cluster_name);
});

test('count over index expressions', async () => {
  const n = Object.keys(events).length;
  assert.equal((await client.count({ index: 'crm' })).count, 1500);
  assert.equal((await client.count({ index: 'crm,events*' })).count, 1500 + n);
  assert.equal((await client.count({ index: 'cr*' })).count, 1500);
  assert.equal((await client.count({ index: '_all' })).count, 1500 + n);
  assert.equal((await client.count({ index: 'activities' })).count, 1500 + n);
  assert.equal((await client.count()).count, 1500 + n);
  assert.equal((await client.count({ index: 'nothing*' })).count, 0);
  assert.equal((await client.count({ index: 'crm', query: { term: { type: 'Create' } } })).count, CRM_TYPES.Create);
  await rejects(client.count({ index: 'crm,nope' }), 404, 'index_not_found_exception');
});

test('search: query, size, sort, _source, totals, size 0, the URL forms', async () => {
  const newest = await client.search({ index: 'crm', size: 3, sort: [{ published: 'desc' }], _source: ['id', 'type'],
    query: { bool: { filter: [{ range: { published: { gte: '2024-01-01T00:10:00Z' } } }] } } });
  assert.equal(newest.hits.total.value, 900);
  assert.deepEqual(newest.hits.hits.map((h) => h._id), [1499, 1498, 1497].map((i) => crm[i].id));
  assert.deepEqual(newest.hits.hits[0]._source, { id: crm[1499].id, type: crm[1499].type });
  assert.equal(newest.hits.hits[0]._index, 'crm');
  assert.equal(newest.hits.hits[0].sort[0], T0 + 1499 * 1000, 'sort values are epoch milliseconds');
  assert.equal(newest._shards.successful, 1);
  const all = await client.search({ index: 'crm,events', size: 0 });
  assert.deepEqual(all.hits.total, { value: 10000, relation: 'gte' });
  assert.equal(all.hits.hits.length, 0);
  const exact = await client.search({ index: 'crm,events', size: 0, track_total_hits: true });
  assert.deepEqual(exact.hits.total, { value: 1500 + Object.keys(events).length, relation: 'eq' });
  assert.deepEqual((await client.search({ index: 'crm', size: 0, track_total_hits: 100 })).hits.total,
    { value: 100, relation: 'gte' });
  assert.equal((await client.search({ index: 'crm', size: 1, track_total_hits: false })).hits.total, undefined);
  // sort "published:desc" goes in the query string, as the client sends it
  const url = await client.search({ index: 'crm', sort: 'published:desc', size: 1, _source_includes: ['id'] });
  assert.equal(url.hits.hits[0]._id, crm[1499].id);
  const raw = await client.transport.request({ method: 'GET', path: '/crm/_search',
    querystring: { size: 2, from: 3, sort: 'published:asc', _source: 'false' } });
  assert.deepEqual(raw.hits.hits.map((h) => h._id), [crm[3].id, crm[4].id]);
  assert.equal(raw.hits.hits[0]._source, undefined);
  await rejects(client.search({ index: 'crm', q: 'type:Create' }), 400, 'illegal_argument_exception');
  await rejects(client.transport.request({ method: 'GET', path: '/_search', querystring: { bogus: 1 } }), 400,
    'illegal_argument_exception');
  await rejects(client.search({ index: 'crm', query: { fuzzy: { type: 'x' } } }), 400, 'parsing_exception');
});

test('search_after pages through every activity in order, each once', async () => {
  const ids = [];
  let after;
  for (;;) {
    const r = await client.search({ index: 'crm', size: 111, sort: [{ published: 'asc' }], _source: false,
      ...(after ? { search_after: after } : {}) });
    if (!r.hits.hits.length) break;
    ids.push(...r.hits.hits.map((h) => h._id));
    after = r.hits.hits.at(-1).sort;
  }
  assert.deepEqual(ids, crm.map((a) => a.id));
});

test('aggregations: a hand-checked table', async () => {
  const at = (ms) => new Date(T0 + ms).toISOString();
  const r = await client.search({ index: 'crm', size: 0, aggs: {
    types: { terms: { field: 'type' } },
    per_10m: { date_histogram: { field: 'published', fixed_interval: '10m' } },
    per_hour: { date_histogram: { field: 'published', calendar_interval: 'hour' } },
    versions: { histogram: { field: 'feedsim:version', interval: 1 } },
    version_ranges: { range: { field: 'feedsim:version', ranges: [{ to: 1 }, { from: 1 }] } },
    early: { date_range: { field: 'published', ranges: [{ to: '2024-01-01T00:05:00Z' }, { from: '2024-01-01T00:05:00Z' }] } },
    creates: { filter: { term: { type: 'Create' } } },
    some: { filters: { filters: { likes: { term: { type: 'Like' } }, updates: { term: { type: 'Update' } } } } },
    actors: { cardinality: { field: 'actor.id' } },
    first: { min: { field: 'published' } },
    last: { max: { field: 'published' } },
    v_avg: { avg: { field: 'feedsim:version' } },
    v_sum: { sum: { field: 'feedsim:version' } },
    v_count: { value_count: { field: 'feedsim:version' } },
    v_stats: { stats: { field: 'feedsim:version' } },
    newest: { top_hits: { size: 1, sort: [{ published: 'desc' }], _source: ['id'] } },
  } });
  const a = r.aggregations;
  assert.equal(r.hits.total.value, 1500);
  assert.deepEqual(Object.fromEntries(a.types.buckets.map((b) => [b.key, b.doc_count])), CRM_TYPES);
  assert.deepEqual(a.types.buckets.map((b) => b.key), ['Follow', 'Announce', 'Update', 'Like', 'Create']);
  assert.deepEqual(a.per_10m.buckets.map((b) => [b.key, b.key_as_string, b.doc_count]),
    [[T0, at(0), 600], [T0 + 600000, at(600000), 600], [T0 + 1200000, at(1200000), 300]]);
  assert.deepEqual(a.per_hour.buckets.map((b) => [b.key, b.doc_count]), [[T0, 1500]]);
  assert.deepEqual(a.versions.buckets.map((b) => [b.key, b.doc_count]), [[1, 1500]]);
  assert.deepEqual(a.version_ranges.buckets.map((b) => [b.key, b.doc_count]), [['*-1.0', 0], ['1.0-*', 1500]]);
  assert.deepEqual(a.early.buckets.map((b) => b.doc_count), [300, 1200]);
  assert.equal(a.creates.doc_count, 280);
  assert.deepEqual([a.some.buckets.likes.doc_count, a.some.buckets.updates.doc_count], [295, 296]);
  assert.equal(a.actors.value, new Set(crm.map((x) => x.actor.id)).size);
  assert.deepEqual([a.first.value, a.first.value_as_string], [T0, at(0)]);
  assert.deepEqual([a.last.value, a.last.value_as_string], [T0 + 1499000, at(1499000)]);
  assert.deepEqual([a.v_avg.value, a.v_sum.value, a.v_count.value], [1, 1500, 1500]);
  assert.deepEqual(a.v_stats, { count: 1500, min: 1, max: 1, avg: 1, sum: 1500 });
  assert.deepEqual(a.newest.hits.hits.map((h) => h._source), [{ id: crm[1499].id }]);
  // nested: feed > hour > type, over both feeds
  const n = await client.search({ index: 'crm,events', size: 0, aggregations: {
    feeds: { terms: { field: 'feed', order: { _key: 'asc' } }, aggs: {
      hours: { date_histogram: { field: 'published', calendar_interval: '1h' }, aggs: {
        types: { terms: { field: 'type', size: 10 } } } } } } } });
  const [c, e] = n.aggregations.feeds.buckets;
  assert.deepEqual([c.key, c.doc_count, e.key, e.doc_count], ['crm', 1500, 'events', Object.keys(events).length]);
  assert.deepEqual(c.hours.buckets[0].types.buckets.map((b) => [b.key, b.doc_count]), Object.entries(CRM_TYPES));
  assert.equal(e.hours.buckets.reduce((s, b) => s + b.doc_count, 0), Object.keys(events).length);
  // what is not supported is a 400 that names it
  await assert.rejects(client.search({ index: 'crm', aggs: { geo: { geo_bounds: { field: 'x' } } } }), (err) =>
    err.meta.statusCode === 400 && /\[geo\] aggregation type \[geo_bounds\] is not supported/.test(err.body.error.reason));
  await assert.rejects(client.search({ index: 'crm', aggs: { t: { terms: { field: 'type', sizee: 3 } } } }), (err) =>
    err.meta.statusCode === 400 && /unknown option \[sizee\]/.test(err.body.error.reason));
});

test('msearch: each search answered in place', async () => {
  const r = await client.msearch({ searches: [
    { index: 'crm' }, { size: 0, query: { term: { type: 'Like' } } },
    { index: 'nope' }, {},
    { index: 'crm,events' }, { query: { fuzzy: {} } },
    {}, { size: 1, sort: [{ published: 'asc' }] },
  ] });
  assert.equal(typeof r.took, 'number');
  assert.equal(r.responses.length, 4);
  assert.equal(r.responses[0].status, 200);
  assert.equal(r.responses[0].hits.total.value, CRM_TYPES.Like);
  assert.equal(r.responses[1].status, 404);
  assert.equal(r.responses[1].error.type, 'index_not_found_exception');
  assert.equal(r.responses[2].status, 400);
  assert.equal(r.responses[2].error.type, 'parsing_exception');
  assert.equal(r.responses[3].hits.hits[0]._id, crm[0].id);
});

test('get: a document by id', async () => {
  const d = await client.get({ index: 'crm', id: crm[42].id });
  assert.equal(d.found, true);
  assert.equal(d._index, 'crm');
  assert.equal(d._id, crm[42].id);
  assert.equal(d._version, 1);
  assert.equal(typeof d._seq_no, 'number');
  assert.deepEqual(d._source, crm[42], 'the activity as the source serves it');
  assert.equal((await client.get({ index: 'activities', id: crm[7].id, _source_includes: 'type' }))._source.type,
    crm[7].type);
  assert.equal(await client.exists({ index: 'crm', id: crm[1].id }), true);
  assert.equal(await client.exists({ index: 'crm', id: 'urn:no:such' }), false);
  await assert.rejects(client.get({ index: 'crm', id: 'urn:no:such' }), (e) =>
    e.meta.statusCode === 404 && e.body.found === false && e.meta.headers['x-elastic-product'] === 'Elasticsearch');
  await rejects(client.get({ index: 'nope', id: crm[1].id }), 404, 'index_not_found_exception');
});

// Every hit's "id@version", asserting none comes twice.
function collect(seen, hits) {
  for (const h of hits) {
    const key = `${h._id}@${h._source['feedsim:version']}`;
    assert.ok(!seen.has(key), `${key} twice`);
    seen.add(key);
  }
}

test('point in time: frozen while feedsim adds, updates and deletes', async () => {
  events = await converge('events');
  const before = keysOf(events);
  const want = [...crm.map((a) => `${a.id}@1`), ...before].sort();
  const pit = await client.openPointInTime({ index: 'crm,events', keep_alive: '1m' });
  const seen = new Set();
  let after;
  for (let page = 0; ; page++) {
    const r = await client.search({ pit: { id: pit.id, keep_alive: '1m' }, size: 1000,
      sort: [{ published: 'asc' }], _source: ['feedsim:version'], ...(after ? { search_after: after } : {}) });
    assert.equal(r.pit_id, pit.id);
    assert.equal(r.hits.total.value, Math.min(want.length, 10000));
    if (!r.hits.hits.length) break;
    collect(seen, r.hits.hits);
    after = r.hits.hits.at(-1).sort;
    if (page === 0) events = await changeEvents(300);
  }
  assert.deepEqual([...seen].sort(), want, 'each activity of the frozen view, exactly once');
  assert.notDeepEqual(keysOf(events), before, 'the source did change meanwhile');
  assert.deepEqual(await client.closePointInTime({ id: pit.id }), { succeeded: true, num_freed: 1 });
  await rejects(client.search({ pit: { id: pit.id } }), 404, 'search_context_missing_exception');
});

test('scroll: helpers.scrollSearch with its defaults, while feedsim changes', async () => {
  const want = keysOf(events);
  const seen = new Set();
  let pages = 0;
  for await (const res of client.helpers.scrollSearch({ index: 'events', size: 1000 })) {
    assert.equal(res.body.hits.total.value, want.length);
    collect(seen, res.body.hits.hits);
    if (pages++ === 0) events = await changeEvents(200);
  }
  assert.ok(pages >= 10);
  assert.deepEqual([...seen].sort(), want, 'each activity of the frozen view, exactly once');
});

test('mappings and cat indices', async () => {
  const m = await client.indices.getMapping({ index: 'crm' });
  const p = m.crm.mappings.properties;
  assert.equal(p.published.type, 'date');
  for (const k of ['id', 'type', 'feed']) assert.equal(p[k].type, 'keyword', k);
  assert.equal(p.actor.properties.id.type, 'keyword');
  assert.equal(p.object.properties.content.type, 'text');
  assert.equal(p['feedsim:version'].type, 'long');
  const cat = await client.cat.indices({ format: 'json' });
  const byName = Object.fromEntries(cat.map((x) => [x.index, x]));
  assert.equal(byName.crm['docs.count'], '1500');
  assert.equal(byName.events['docs.count'], String(Object.keys(events).length));
  assert.equal(byName.crm.health, 'green');
});

test('helpers.search (filter_path)', async () => {
  const docs = await client.helpers.search({ index: 'crm', size: 5, sort: [{ published: 'asc' }] });
  assert.deepEqual(docs, crm.slice(0, 5).map((a) => ({ _id: a.id, ...a })));
});
