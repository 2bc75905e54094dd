// params.js -- the dashboard's view (start, end, filters, query, row limit): read from and
// written to the page's query string, so that a view can be shared as a link, and turned into
// the /stream URL. Pure functions: no DOM, usable from node for tests.
//
// Page URL parameters (all optional; README.md, "The dashboard", lists them for users):
//   start  now | 1h | 1d (relative to when the page connects) | any time /stream takes (RFC
//          3339, Unix milliseconds, date math such as now-6h); default 1h
//   end    a time as for start; makes the view a finite historical range
//   feed, type, actor   comma-separated lists;   q   Elasticsearch query JSON
//   rows   how many rows the page keeps (10..20000, default 500)

export const DEFAULT_START = '1h';
export const DEFAULT_ROWS = 500;
export const MIN_ROWS = 10;
export const MAX_ROWS = 20000;
export const RELATIVE_STARTS = { '1h': 3600 * 1000, '1d': 24 * 3600 * 1000 };

// "a, b,,c " -> "a,b,c"
export function normList(s) {
  return String(s ?? '').split(',').map((x) => x.trim()).filter(Boolean).join(',');
}

export function clampRows(v) {
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n)) return DEFAULT_ROWS;
  return Math.min(MAX_ROWS, Math.max(MIN_ROWS, n));
}

// A time as the page URL or /stream holds it -> Date, or null when it is not one.
export function parseTime(s) {
  if (s === null || s === undefined) return null;
  const t = String(s).trim();
  if (t === '') return null;
  const ms = /^-?\d+$/.test(t) ? Number(t) : Date.parse(t);
  return Number.isFinite(ms) ? new Date(ms) : null;
}

// Date -> RFC 3339 in UTC, without fractional seconds when there are none.
export function isoUtc(d) {
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Date -> the value of an <input type="datetime-local" step="1"> (local time).
export function toLocalInput(d) {
  if (!d) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// The value of a datetime-local input (local time) -> RFC 3339 UTC string, or '' if empty/invalid.
export function fromLocalInput(v) {
  if (!v) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/.exec(v);
  if (!m) return '';
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0),
    m[7] ? Math.round(Number('0.' + m[7]) * 1000) : 0);
  return Number.isNaN(d.getTime()) ? '' : isoUtc(d);
}

// URLSearchParams | string -> view object.
export function readView(search) {
  const p = search instanceof URLSearchParams ? search : new URLSearchParams(search || '');
  const start = (p.get('start') ?? '').trim();
  return {
    start: start === '' ? DEFAULT_START : start,
    end: (p.get('end') ?? '').trim(),
    feed: normList(p.get('feed')),
    type: normList(p.get('type')),
    actor: normList(p.get('actor')),
    q: (p.get('q') ?? '').trim(),
    rows: p.has('rows') ? clampRows(p.get('rows')) : DEFAULT_ROWS,
  };
}

// view -> the page's query string ("?start=1d&type=Create"); start always, other defaults left out.
export function pageQuery(view) {
  const p = new URLSearchParams();
  p.set('start', view.start || DEFAULT_START);
  if (view.end) p.set('end', view.end);
  for (const k of ['feed', 'type', 'actor']) if (view[k]) p.set(k, view[k]);
  if (view.q) p.set('q', view.q);
  if (view.rows && view.rows !== DEFAULT_ROWS) p.set('rows', String(view.rows));
  const s = p.toString();
  return s ? '?' + s : '';
}

// The `start` to send to /stream: relative starts become Unix milliseconds at `nowMs`.
export function streamStart(start, nowMs) {
  if (!start || start === 'now') return 'now';
  if (Object.hasOwn(RELATIVE_STARTS, start)) return String(nowMs - RELATIVE_STARTS[start]);
  return start;
}

// view -> "stream?start=...&..." (relative to the page), with an optional resume id.
export function streamPath(view, nowMs, lastEventId) {
  const p = new URLSearchParams();
  p.set('start', streamStart(view.start, nowMs));
  if (view.end) p.set('end', view.end);
  for (const k of ['feed', 'type', 'actor']) if (view[k]) p.set(k, view[k]);
  if (view.q) p.set('q', view.q);
  if (lastEventId) p.set('last_event_id', lastEventId);
  return 'stream?' + p.toString();
}

// Replace (or add) last_event_id in a stream URL string.
export function withLastEventId(url, id) {
  const [path, query = ''] = url.split('?');
  const p = new URLSearchParams(query);
  p.delete('last_event_id');
  if (id) p.set('last_event_id', id);
  return path + '?' + p.toString();
}

// A check the browser can make before asking the server: both ends absolute and out of order.
export function rangeProblem(view) {
  if (!view.end) return null;
  const end = parseTime(view.end);
  if (!end) return null; // the server names the problem
  const start = view.start === 'now' ? new Date()
    : Object.hasOwn(RELATIVE_STARTS, view.start) ? null : parseTime(view.start);
  if (start && end.getTime() <= start.getTime()) return 'The end must be after the start.';
  return null;
}
