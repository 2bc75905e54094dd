// app.js -- wires the dashboard: the settings form (mirrored in the page URL; the access
// token apart, in sessionStorage), the /stream subscription, the activity table, the rate
// chart (the history from the server's date_histogram, the live part counted here), the
// breakdown panel and the feeds panel. The settings fold once a stream runs (the activities
// come first on a laptop screen) and open again on an error. On `reset` the page drops what
// it holds of the stream and says so.

import {
  readView, pageQuery, streamPath, clampRows, parseTime, toLocalInput, fromLocalInput,
  rangeProblem, RELATIVE_STARTS,
} from './params.js';
import { timeText } from './format.js';
import { RowList } from './rows.js';
import { RateChart, SecondCounter } from './chart.js';
import { HistoryChart } from './histchart.js';
import { Breakdown } from './breakdown.js';
import { RangeSummary } from './summary.js';
import { FeedStatus } from './status.js';
import { StreamClient } from './stream.js';
import { loadToken, saveToken, isRefusal, refusalText } from './auth.js';

const $ = (id) => document.getElementById(id);

const ui = {
  form: $('controls'), start: $('start'), startCustom: $('start-custom'),
  endOn: $('end-on'), endCustom: $('end-custom'), feed: $('feed'), type: $('type'),
  actor: $('actor'), q: $('q'), rows: $('rows'), share: $('share'), pause: $('pause'),
  error: $('error'), phase: $('phase'), conn: $('conn'), rowCount: $('row-count'),
  empty: $('empty'), region: $('rows-region'), rateNow: $('rate-now'), ratePeak: $('rate-peak'),
  totalEvents: $('total-events'), totalDeletes: $('total-deletes'), typeNames: $('type-names'),
  settings: $('settings'), summary: $('view-summary'), notice: $('notice'), token: $('token'),
};

const PHASE_TEXT = { idle: 'idle', replaying: 'replaying history…', live: 'live', ended: 'ended' };
const FIELD_OF_PARAMETER = { start: 'startCustom', end: 'endCustom', feed: 'feed', type: 'type', actor: 'actor', q: 'q' };

let view = readView(location.search);
let phase = 'idle';
let totals = { events: 0, deletes: 0 };
let foldOnOpen = false;      // fold the settings when the stream just started opens
let token = loadToken();     // the access token ('' for none); never in the page URL
const currentToken = () => token;
const seenTypes = new Set([...ui.typeNames.options].map((o) => o.value));

const rows = new RowList($('activity-list'), {
  limit: view.rows,
  onChange(n) {
    ui.rowCount.textContent = String(n);
    ui.empty.hidden = n > 0;
    showTotals();
  },
});
const chart = new RateChart($('rate-chart'));
const arrivals = new SecondCounter({ seconds: 1 });   // every event, replayed too: the page's load
const historyChart = new HistoryChart($('history-chart'), $('history-caption'));
const rangeSummary = new RangeSummary({
  chart: historyChart,
  breakdown: new Breakdown({ perFeed: document.querySelector('#per-feed tbody'),
    perType: document.querySelector('#per-type tbody'), note: $('breakdown-note') }),
  token: currentToken,
});
const feeds = new FeedStatus({
  tbody: document.querySelector('#feeds tbody'), datalist: $('feed-ids'), updated: $('feeds-updated'), token: currentToken,
});
let connectedAt = 0;         // when the current stream was opened: its relative start's "now"

const client = new StreamClient({
  onEvent(type) {
    if (type !== 'activity' && type !== 'delete') return;
    arrivals.count(1);
    if (phase === 'live') chart.count(1);
    totals.events++;
  },
  onActivity(d) {
    if (!d || typeof d !== 'object') return;
    rows.upsert(d.feed, d.activity, phase === 'live');
    noteType(d.activity?.type);
  },
  onDelete(d) {
    if (!d || typeof d !== 'object') return;
    totals.deletes++;
    rows.remove(d.feed, d.activity?.id);
  },
  onLive() { setPhase('live'); },
  onReset(d) { startOver(d?.reason); },
  onEnd() { setPhase('ended'); },
  onState(s) {
    ui.conn.textContent = s;
    ui.conn.dataset.state = s;
    updatePauseButton();
    if (s === 'open' && foldOnOpen) {
      foldOnOpen = false;
      ui.settings.open = false;
    }
  },
  onError(e) { showError(e); },
  onBadEvent(type) { console.warn(`unparseable ${type} event`); },
}, currentToken);

function noteType(t) {
  const list = Array.isArray(t) ? t : [t];
  for (const x of list) {
    if (typeof x !== 'string' || seenTypes.has(x) || seenTypes.size > 200) continue;
    seenTypes.add(x);
    const o = document.createElement('option');
    o.value = x;
    ui.typeNames.append(o);
  }
}

function setPhase(p) {
  phase = p;
  ui.phase.textContent = PHASE_TEXT[p];
  ui.phase.dataset.phase = p;
  updateLiveRegion();
  updatePauseButton();
}

// Screen readers hear new rows only while they trickle in; a replay or a flood is not read out.
// New and updated rows are highlighted too, unless they come too fast to see.
function updateLiveRegion() {
  const rate = arrivals.rate;
  const calm = phase === 'live' && rate <= 2;
  ui.region.setAttribute('aria-live', calm ? 'polite' : 'off');
  rows.highlight = phase === 'live' && rate <= 20;
  // In a flood (a replay, a burst), a few table updates a second show as much and leave the
  // page responsive.
  rows.minInterval = rate > 300 ? 200 : rate > 60 ? 100 : 0;
}

function updatePauseButton() {
  const paused = client.paused;
  ui.pause.textContent = paused ? 'Resume' : 'Pause';
  ui.pause.setAttribute('aria-pressed', String(paused));
  ui.pause.disabled = client.ended || (client.state === 'closed' && !paused);
}

// ---- errors -------------------------------------------------------------------------

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
  for (const k of Object.values(FIELD_OF_PARAMETER)) ui[k].removeAttribute('aria-invalid');
  ui.start.removeAttribute('aria-invalid');
  ui.endOn.removeAttribute('aria-invalid');
  ui.token.removeAttribute('aria-invalid');
}

function showError({ status, error, parameter }) {
  clearError();
  const strong = document.createElement('strong');
  strong.textContent = status ? `The server refused the stream (HTTP ${status}): ` : 'Check the settings: ';
  const refused = isRefusal(status);
  if (refused) ui.token.setAttribute('aria-invalid', 'true');
  ui.error.dataset.status = status ? String(status) : '';
  ui.error.append(strong, refused ? refusalText(status, 'the stream', Boolean(token)) : error);
  if (parameter) {
    const p = document.createElement('span');
    p.className = 'param';
    p.textContent = ` — parameter “${parameter}”`;
    ui.error.append(p);
    const field = ui[FIELD_OF_PARAMETER[parameter]];
    if (field) field.setAttribute('aria-invalid', 'true');
    if (parameter === 'start') ui.start.setAttribute('aria-invalid', 'true');
    if (parameter === 'end') ui.endOn.setAttribute('aria-invalid', 'true');
  }
  ui.error.hidden = false;
  ui.error.dataset.parameter = parameter || '';
  foldOnOpen = false;
  ui.settings.open = true;           // the field to fix is in there
  if (status) setPhase('idle');      // the server refused: no stream runs now
}

// ---- the form <-> the view ------------------------------------------------------------

function viewToForm(v) {
  if (v.start === 'now' || Object.hasOwn(RELATIVE_STARTS, v.start)) {
    ui.start.value = v.start;
    ui.startCustom.value = '';
  } else {
    ui.start.value = 'custom';
    ui.startCustom.value = toLocalInput(parseTime(v.start));
  }
  ui.endOn.value = v.end ? 'custom' : '';
  ui.endCustom.value = v.end ? toLocalInput(parseTime(v.end)) : '';
  ui.feed.value = v.feed;
  ui.type.value = v.type;
  ui.actor.value = v.actor;
  ui.q.value = v.q;
  ui.rows.value = String(v.rows);
  syncCustomInputs();
}

function syncCustomInputs() {
  ui.startCustom.hidden = ui.start.value !== 'custom';
  ui.startCustom.required = !ui.startCustom.hidden;
  ui.endCustom.hidden = ui.endOn.value !== 'custom';
  ui.endCustom.required = !ui.endCustom.hidden;
}

// Returns a view, or a { problem, field } when the form cannot make one.
function formToView() {
  let start = ui.start.value;
  if (start === 'custom') {
    start = fromLocalInput(ui.startCustom.value);
    // A start that came from the URL in a form the picker cannot show is kept as given.
    if (!start && !ui.startCustom.value && !isNamedStart(view.start)) start = view.start;
    if (!start) return { problem: 'Choose a start date and time.', field: 'startCustom' };
  }
  let end = '';
  if (ui.endOn.value === 'custom') {
    end = fromLocalInput(ui.endCustom.value);
    if (!end && !ui.endCustom.value && view.end) end = view.end;
    if (!end) return { problem: 'Choose an end date and time, or no end.', field: 'endCustom' };
  }
  const read = readView(new URLSearchParams({
    start, end, feed: ui.feed.value, type: ui.type.value, actor: ui.actor.value,
    q: ui.q.value, rows: ui.rows.value,
  }));
  const problem = rangeProblem(read);
  return problem ? { problem, field: 'endCustom' } : read;
}

function isNamedStart(s) {
  return s === 'now' || Object.hasOwn(RELATIVE_STARTS, s);
}

function reflectInUrl() {
  const q = pageQuery(view);
  history.replaceState(null, '', location.pathname + q + location.hash);
  ui.share.href = location.pathname + q;
  ui.summary.textContent = describe(view);
}

// One line for the collapsed settings: "from last day · until … · type Create".
function describe(v) {
  const named = { now: 'from now', '1h': 'from the last hour', '1d': 'from the last day' };
  const when = (s) => { const d = parseTime(s); return d ? timeText(d) : s; };
  const parts = [named[v.start] ?? `from ${when(v.start)}`];
  parts.push(v.end ? `until ${when(v.end)}` : 'then live');
  for (const k of ['feed', 'type', 'actor']) if (v[k]) parts.push(`${k} ${v[k].split(',').join(', ')}`);
  if (v.q) parts.push('query');
  return parts.join(' · ');
}

// ---- the stream -----------------------------------------------------------------------

// Forget everything held from the current stream (rows, counters, chart).
function dropHeld() {
  rows.clear();
  chart.reset();
  totals = { events: 0, deletes: 0 };
  showTotals();
}

// The server could not continue the stream from where it was (`reset`): what it sends next is
// the whole history again, as a new snapshot, then live.
function startOver(reason) {
  dropHeld();
  setPhase('replaying');
  rangeSummary.load(view, connectedAt);
  const why = reason === 'expired' ? 'the page was away longer than the server keeps deletions'
    : 'the server does not know the point it was at (a new or restored store)';
  ui.notice.textContent = `The stream started over (${reason || 'reset'}: ${why}); ` +
    'the rows and counters were cleared and the history is shown again.';
  ui.notice.dataset.reason = reason || '';
  ui.notice.hidden = false;
}

function startStream() {
  clearError();
  ui.notice.hidden = true;
  dropHeld();
  rows.setLimit(view.rows);
  foldOnOpen = true;
  setPhase('replaying');
  const now = Date.now();
  connectedAt = now;
  // A pause before the first event id resumes from the moment of connecting, not a new "now".
  const resume = view.start === 'now' ? streamPath({ ...view, start: String(now) }, now) : undefined;
  client.open(streamPath(view, now), resume);
  rangeSummary.load(view, now);
}

// A token entered in the form replaces the stored one; the feeds panel asks again with it.
function takeToken() {
  const entered = ui.token.value.trim();
  if (entered === token) return;
  token = entered;
  saveToken(token);
  feeds.restart();
}

ui.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const v = formToView();
  if (v.problem) {
    showError({ error: v.problem });
    ui[v.field].setAttribute('aria-invalid', 'true');
    ui[v.field].focus();
    return;
  }
  view = v;
  reflectInUrl();
  takeToken();
  startStream();
});

ui.start.addEventListener('change', () => {
  if (ui.start.value === 'custom' && !ui.startCustom.value) {
    ui.startCustom.value = toLocalInput(new Date(Date.now() - 3600 * 1000));
  }
  syncCustomInputs();
});
ui.endOn.addEventListener('change', () => {
  if (ui.endOn.value === 'custom' && !ui.endCustom.value) ui.endCustom.value = toLocalInput(new Date());
  syncCustomInputs();
});

// The row limit applies at once, without reconnecting.
ui.rows.addEventListener('change', () => {
  view = { ...view, rows: clampRows(ui.rows.value) };
  ui.rows.value = String(view.rows);
  rows.setLimit(view.rows);
  reflectInUrl();
});

ui.pause.addEventListener('click', () => {
  if (client.paused) {
    if (phase !== 'ended') setPhase('replaying');   // the resumed stream sends `live` again
    client.resume();
  } else {
    client.pause();
  }
  updatePauseButton();
});

// ---- timers ---------------------------------------------------------------------------

// The counters and the peak together, so that they never disagree (a peak of 0 beside events).
function showTotals() {
  ui.totalEvents.textContent = totals.events.toLocaleString();
  ui.totalDeletes.textContent = totals.deletes.toLocaleString();
  ui.ratePeak.textContent = chart.peak.toLocaleString();
}

function tick() {
  arrivals.roll();
  const r = chart.tick();
  ui.rateNow.textContent = r.toLocaleString();
  showTotals();
  updateLiveRegion();
}

viewToForm(view);
ui.token.value = token;
reflectInUrl();
if (window.matchMedia('(max-width: 640px)').matches) ui.settings.open = false;   // phones: the list first
feeds.start();
setInterval(tick, 1000);
window.addEventListener('resize', () => { chart.draw(); historyChart.draw(); });
// The list's column heads stick just below the (sticky) page header.
new ResizeObserver(([e]) => {
  document.documentElement.style.setProperty('--header-h', `${Math.ceil(e.target.getBoundingClientRect().height)}px`);
}).observe(document.querySelector('header.top'));
tick();
startStream();
