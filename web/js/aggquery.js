// aggquery.js -- the view's history as Elasticsearch searches: the query that selects what
// /stream replays for the view, the aggregations the breakdown and the history chart are drawn
// from, and a bar width that gives the chart a sensible number of bars. Pure functions: no DOM,
// usable from node for tests.
//
// /stream's history is `start <= published < end` and each filter list "any of", all ANDed
// (README, "GET /stream"); in the query language that is a bool filter of a range on
// `published`, `terms` on `feed`, `type` and `actor.id` (the stored actor /stream matches), and
// `q` as it is. Times go as /stream takes them: relative starts as Unix milliseconds, the rest
// (RFC 3339, date math) as text the server reads the same way in both places.

import { streamStart, parseTime } from './params.js';

export const MAX_BARS = 66;   // about 60, with room for a range a little over a round length
export const TERMS_SIZE = 50;

const LIST_FIELDS = [['feed', 'feed'], ['type', 'type'], ['actor', 'actor.id']];

// Whether the view has a history at all (start=now is live only).
export function hasHistory(view) {
  return Boolean(view.start) && view.start !== 'now';
}

function queryTime(t) {
  return /^\d+$/.test(t) ? Number(t) : t;
}

// The query for the view's history, its relative start resolved at `connectedMs` (the moment
// the stream was opened, as streamPath did). Throws a SyntaxError when `q` is not JSON.
export function historyQuery(view, connectedMs) {
  const published = { gte: queryTime(streamStart(view.start, connectedMs)) };
  if (view.end) published.lt = queryTime(view.end);
  const filter = [{ range: { published } }];
  for (const [param, field] of LIST_FIELDS) {
    if (view[param]) filter.push({ terms: { [field]: view[param].split(',') } });
  }
  if (view.q) filter.push(JSON.parse(view.q));
  return { bool: { filter } };
}

// The breakdown: activities per feed and per type, the total, and the first and last published
// times (the chart's range when the view's own ends are not plain times).
export function summarySearch(query) {
  return {
    size: 0,
    track_total_hits: true,
    query,
    aggs: {
      per_feed: { terms: { field: 'feed', size: TERMS_SIZE } },
      per_type: { terms: { field: 'type', size: TERMS_SIZE } },
      first: { min: { field: 'published' } },
      last: { max: { field: 'published' } },
    },
  };
}

// The history chart: one bucket per bar from the axis' start to its end, empty ones included.
export function histogramSearch(query, axis) {
  return {
    size: 0,
    query,
    aggs: {
      rate: {
        date_histogram: {
          field: 'published', fixed_interval: axis.width.text, min_doc_count: 0,
          extended_bounds: { min: axis.startMs, max: axis.endMs },
        },
      },
    },
  };
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WIDTHS = [
  [1, 's'], [2, 's'], [5, 's'], [10, 's'], [15, 's'], [30, 's'],
  [1, 'm'], [2, 'm'], [5, 'm'], [10, 'm'], [15, 'm'], [30, 'm'],
  [1, 'h'], [2, 'h'], [3, 'h'], [6, 'h'], [12, 'h'],
  [1, 'd'], [2, 'd'], [7, 'd'], [14, 'd'], [30, 'd'], [60, 'd'], [90, 'd'], [180, 'd'], [365, 'd'],
];
const UNIT_MS = { s: SECOND, m: MINUTE, h: HOUR, d: DAY };

// The smallest round width that splits `spanMs` into at most `bars` bars: {text, ms}, the text
// as fixed_interval takes it ("30s", "5m", "1d"; whole years of days beyond a year).
export function barWidth(spanMs, bars = MAX_BARS) {
  const want = Math.max(spanMs, 1) / bars;
  const found = WIDTHS.find(([n, unit]) => n * UNIT_MS[unit] >= want);
  const [n, unit] = found ?? [365 * Math.ceil(want / (365 * DAY)), 'd'];
  return { text: `${n}${unit}`, ms: n * UNIT_MS[unit] };
}

// The chart's time axis: {startMs, endMs (inclusive), width}. Its ends are the view's where
// the browser can read them (relative starts, RFC 3339, milliseconds), else the first and last
// published times found (`firstMs`, `lastMs`: the summary's min and max). An open view runs to
// `nowMs`, or further when activities are published later than that. null: nothing to draw.
export function historyAxis(view, connectedMs, nowMs, firstMs, lastMs) {
  if (!Number.isFinite(firstMs) || !Number.isFinite(lastMs)) return null;
  let startMs = parseTime(streamStart(view.start, connectedMs))?.getTime() ?? firstMs;
  const viewEnd = view.end ? parseTime(view.end)?.getTime() : undefined;
  let endMs = viewEnd !== undefined ? viewEnd - 1 : view.end ? lastMs : Math.max(nowMs, lastMs);
  // A time the browser read differently from the server must not hide a bar.
  startMs = Math.min(startMs, firstMs);
  endMs = Math.max(endMs, lastMs);
  return { startMs, endMs, width: barWidth(endMs - startMs + 1) };
}
