// status.js -- the feeds panel: GET /feeds every few seconds, one table row per feed with its
// state, activity count, last full sync and poll, and last error. Also hands the feed ids to
// the feed filter's suggestions. Asks with the token; a refusal (401, 403) is shown in the
// table and stops the polling until restart() (a new token).

import { ago, clockText, timeLabel } from './format.js';
import { requestJson } from './api.js';
import { isRefusal, refusalText } from './auth.js';

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'data') Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function syncCell(f, now) {
  const s = f.last_full_sync;
  const parts = [];
  const td = el('td', { class: 'c-sync' });
  if (s && s.finished) {
    parts.push(`full sync ${ago(s.finished, now)}`);
    td.title = `started ${timeLabel(s.started).text}, finished ${timeLabel(s.finished).text}, ` +
      `${s.duration_ms} ms, ${s.pages} pages, ${s.activities} activities`;
  } else if (s && s.started) {
    parts.push(`full sync running since ${ago(s.started, now)}`);
  } else {
    parts.push('no full sync yet');
  }
  td.append(parts.join(''));
  if (f.last_poll) td.append(el('br'), el('span', { class: 'muted' }, `poll ${ago(f.last_poll, now)}`));
  return td;
}

function errorCell(f, now) {
  const td = el('td', { class: 'c-error' });
  if (!f.last_error) { td.append(el('span', { class: 'muted' }, '—')); return td; }
  td.append(el('span', { class: 'err-msg' }, String(f.last_error.message ?? '')));
  const extra = [ago(f.last_error.at, now)];
  if (f.consecutive_failures) extra.push(`${f.consecutive_failures} failures in a row`);
  if (f.next_retry) extra.push(`retry ${ago(f.next_retry, now)}`);
  td.append(el('br'), el('span', { class: 'muted' }, extra.filter(Boolean).join(' · ')));
  return td;
}

export function feedRow(f, now) {
  const state = ['syncing', 'ok', 'failing'].includes(f.state) ? f.state : 'unknown';
  return el('tr', { data: { feed: String(f.id) } },
    el('th', { scope: 'row', class: 'c-feedid', title: String(f.url ?? '') }, String(f.id),
      el('br'), el('span', { class: 'muted small' }, String(f.style ?? ''))),
    el('td', {}, el('span', { class: 'state', data: { state } }, state)),
    el('td', { class: 'num' }, Number(f.activities ?? 0).toLocaleString()),
    syncCell(f, now),
    errorCell(f, now));
}

export class FeedStatus {
  // token(): the current access token.
  constructor({ tbody, datalist, updated, token, interval = 5000, url = 'feeds' }) {
    this.tbody = tbody;
    this.datalist = datalist;
    this.updated = updated;
    this.token = token;
    this.interval = interval;
    this.url = url;
    this.timer = 0;
    this.busy = false;
    this.feeds = [];
  }

  start() {
    this.refresh();
    this.timer = setInterval(() => this.refresh(), this.interval);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
  }

  restart() {
    this.stop();
    this.start();
  }

  async refresh() {
    if (this.busy) return;
    this.busy = true;
    try {
      const list = await requestJson(this.url, { token: this.token() });
      if (!Array.isArray(list)) throw new Error('not a list');
      this.feeds = list;
      this.render(list);
      this.updated.textContent = `(updated ${clockText(new Date())})`;
    } catch (err) {
      if (isRefusal(err.status)) this.refused(err.status);
      else this.updated.textContent = `(status unavailable: ${err.message})`;
    } finally {
      this.busy = false;
    }
  }

  // Asking again with the same token gets the same answer.
  refused(status) {
    this.stop();
    this.feeds = [];
    this.updated.textContent = `(refused: HTTP ${status})`;
    const td = el('td', { colspan: '5', class: 'refused' }, refusalText(status, 'the feeds list', Boolean(this.token())));
    this.tbody.replaceChildren(el('tr', { data: { status: String(status) } }, td));
  }

  render(list) {
    const now = Date.now();
    const rows = list.map((f) => feedRow(f, now));
    if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'no feeds configured')));
    this.tbody.replaceChildren(...rows);
    const ids = list.map((f) => String(f.id));
    this.datalist.replaceChildren(...ids.map((id) => el('option', { value: id })));
  }
}
