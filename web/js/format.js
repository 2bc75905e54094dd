// format.js -- turns an Activity Streams 2.0 activity into the short texts a row shows.
// Pure functions: no DOM, usable from node for tests. Everything returned is plain text
// (the caller assigns it with textContent, never as HTML).

const MAX_TEXT = 240;

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", nbsp: ' ' };

// HTML (as in AS2 `content`) -> one line of text.
export function plainText(s) {
  if (typeof s !== 'string') return '';
  return s.replace(/<[^>]*>/g, ' ')
    .replace(/&(amp|lt|gt|quot|apos|#39|nbsp);/g, (_, e) => ENTITIES[e])
    .replace(/\s+/g, ' ')
    .trim();
}

function clip(s) {
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT - 1) + '…' : s;
}

// A natural-language value may be a string or a language map ({"en": "..."}).
function textOf(v) {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const first = Object.values(v).find((x) => typeof x === 'string');
    return first ?? '';
  }
  return '';
}

function idOf(v) {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') return typeof v.id === 'string' ? v.id : (typeof v.href === 'string' ? v.href : '');
  return '';
}

// actor: an id string, an object, or an array of either -> { text, title }.
export function actorLabel(actor) {
  const a = Array.isArray(actor) ? actor[0] : actor;
  if (typeof a === 'string') return { text: a, title: a };
  if (!a || typeof a !== 'object') return { text: '', title: '' };
  const id = idOf(a);
  const name = textOf(a.name) || textOf(a.preferredUsername);
  const more = Array.isArray(actor) && actor.length > 1 ? ` +${actor.length - 1}` : '';
  return { text: (name || id) + more, title: name && id ? `${name} <${id}>` : id };
}

// type: a string or an array of strings -> "Create" / "Create, Note".
export function typeLabel(type) {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.filter((t) => typeof t === 'string').join(', ');
  return '';
}

// object: name, else summary, else content (as text), else its id -> { text, title }.
export function objectLabel(obj) {
  const o = Array.isArray(obj) ? obj[0] : obj;
  if (typeof o === 'string') return { text: clip(o), title: o };
  if (!o || typeof o !== 'object') return { text: '', title: '' };
  const text = plainText(textOf(o.name)) || plainText(textOf(o.summary)) ||
    plainText(textOf(o.content)) || idOf(o);
  const kind = typeLabel(o.type);
  const id = idOf(o);
  return { text: clip(text), title: [kind, id].filter(Boolean).join(' ') };
}

const pad = (n) => String(n).padStart(2, '0');

// The zone of a local time, as its offset: "UTC", "UTC+2", "UTC-5", "UTC+5:30".
export function zoneLabel(d) {
  const off = -d.getTimezoneOffset();
  if (off === 0) return 'UTC';
  const a = Math.abs(off);
  return `UTC${off > 0 ? '+' : '-'}${Math.floor(a / 60)}${a % 60 ? ':' + pad(a % 60) : ''}`;
}

// Every time the page shows has this one format: local, 24-hour, with the zone.
// Date -> "2024-01-01 13:00:05 UTC+1"; clockText -> "13:00:05 UTC+1".
export function timeText(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockText(d)}`;
}

export function clockText(d) {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zoneLabel(d)}`;
}

// RFC 3339 -> { text: timeText of it, iso } ; unparseable stays as given.
export function timeLabel(published) {
  if (typeof published !== 'string' || published === '') return { text: '', iso: '' };
  const d = new Date(published);
  if (Number.isNaN(d.getTime())) return { text: published, iso: '' };
  return { text: timeText(d), iso: d.toISOString() };
}

// How long ago an RFC 3339 time was, for the status panel: "4 s ago", "3 min ago".
export function ago(iso, nowMs) {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return String(iso);
  const s = Math.round((nowMs - t) / 1000);
  if (s < -1) return `in ${-s} s`;
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
