// stream.js -- one logical /stream subscription over EventSource.
//
// Connection states: connecting, open, reconnecting (EventSource's own retry, which resends
// the last id as Last-Event-ID), paused, closed. Pause closes the EventSource; resume opens a
// new one with `last_event_id=<last id seen>`, so every event is still delivered exactly once.
// EventSource cannot read an error body: when the server refuses a request (the EventSource
// closes for good), the same URL is fetched once to read its JSON {"error", "parameter"}.
// A refusal with 5xx (shutting down, too many streams) is retried here with a backoff; 401 and
// 403 are reported like any other refusal and end the stream (a JWT that expired ends its
// stream; EventSource's reconnect then gets 401 and stops).
//
// The access token goes on each EventSource URL as `access_token` (added at connect, so the
// URLs kept for resuming never hold it) and on the probe as `Authorization: Bearer`.

import { withLastEventId } from './params.js';
import { bearerHeaders, withAccessToken } from './auth.js';

const RETRY_MS = 3000;
const MAX_RETRY_MS = 30000;

export class StreamClient {
  // handlers: onActivity(data), onDelete(data), onLive(data), onReset(data), onEnd(),
  //           onState(state), onError({status, error, parameter}), onEvent() for every event
  //           (rate chart). onReset: the server cannot continue from the resume point; drop
  //           everything held from this stream, the history follows again.
  // token(): the access token to connect with ('' for none).
  constructor(handlers, token = () => '') {
    this.h = handlers;
    this.token = token;
    this.es = null;
    this.baseUrl = '';
    this.resumeUrl = '';
    this.url = '';
    this.lastId = '';
    this.urlId = '';          // the last_event_id the current URL carries
    this.state = 'closed';
    this.ended = false;
    this.paused = false;
    this.retryMs = RETRY_MS;
    this.retryTimer = 0;
    this.probe = null;        // AbortController of the error fetch
  }

  // Start a new logical stream (forgets the previous one's position). `resumeUrl` is what to
  // reopen after a pause when no event id arrived yet (e.g. start=now as an absolute time).
  open(url, resumeUrl = url) {
    this.shut();
    this.baseUrl = url;
    this.resumeUrl = resumeUrl;
    this.lastId = '';
    this.ended = false;
    this.paused = false;
    this.retryMs = RETRY_MS;
    this.connect(url, '');
  }

  pause() {
    if (this.ended || this.paused) return;
    this.shut();
    this.paused = true;
    this.setState('paused');
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.reopen();
  }

  close() {
    this.shut();
    this.setState('closed');
  }

  reopen() {
    this.connect(this.lastId ? withLastEventId(this.baseUrl, this.lastId) : this.resumeUrl, this.lastId);
  }

  shut() {
    clearTimeout(this.retryTimer);
    this.retryTimer = 0;
    if (this.probe) { this.probe.abort(); this.probe = null; }
    if (this.es) { this.es.close(); this.es = null; }
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.h.onState?.(s);
  }

  connect(url, urlId) {
    this.shut();
    this.url = url;
    this.urlId = urlId;
    const es = new EventSource(withAccessToken(url, this.token()));
    this.es = es;
    this.setState(this.state === 'reconnecting' ? 'reconnecting' : 'connecting');
    es.onopen = () => {
      if (es !== this.es) return;
      this.retryMs = RETRY_MS;
      this.setState('open');
    };
    es.onerror = () => this.onError(es);
    es.addEventListener('activity', (e) => this.dispatch(es, e, this.h.onActivity));
    es.addEventListener('delete', (e) => this.dispatch(es, e, this.h.onDelete));
    es.addEventListener('live', (e) => this.dispatch(es, e, this.h.onLive));
    es.addEventListener('reset', (e) => this.dispatch(es, e, this.h.onReset));
    es.addEventListener('end', (e) => {
      if (es !== this.es) return;
      this.note(e);
      this.ended = true;
      this.shut();
      this.setState('closed');
      this.h.onEnd?.();
    });
  }

  note(e) {
    if (e.lastEventId) this.lastId = e.lastEventId;
  }

  dispatch(es, e, fn) {
    if (es !== this.es) return;
    this.note(e);
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      this.h.onBadEvent?.(e.type, e.data);
      return;
    }
    this.h.onEvent?.(e.type);
    fn?.(data);
  }

  onError(es) {
    if (es !== this.es) return;
    if (es.readyState === EventSource.CONNECTING) {
      this.setState('reconnecting');
      // The browser resends the newest id as Last-Event-ID, but a URL that still carries an
      // older last_event_id (from a resume) would contradict it: reconnect with the newest.
      if (this.urlId && this.lastId !== this.urlId) this.retryLater(false);
      return;
    }
    // CLOSED: the server answered with something other than a 200 event stream.
    this.es = null;
    es.close();
    this.explain(this.url);
  }

  retryLater(backoff) {
    this.shut();
    this.setState('reconnecting');
    const delay = this.retryMs;
    if (backoff) this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    this.retryTimer = setTimeout(() => { this.retryTimer = 0; this.reopen(); }, delay);
  }

  async explain(url) {
    const ctl = new AbortController();
    this.probe = ctl;
    let res;
    try {
      res = await fetch(url, {
        signal: ctl.signal, cache: 'no-store', headers: { Accept: 'text/event-stream', ...bearerHeaders(this.token()) },
      });
    } catch (err) {
      if (ctl.signal.aborted) return;
      this.probe = null;
      this.retryLater(true);          // the network failed: try again later
      return;
    }
    if (ctl.signal.aborted) return;
    if (res.status === 204) {         // a finished finite stream: nothing more will come
      ctl.abort();
      this.probe = null;
      this.ended = true;
      this.setState('closed');
      this.h.onEnd?.();
      return;
    }
    if (res.ok || res.status >= 500) {
      ctl.abort();                    // transient: 503 while shutting down or at max_streams
      this.probe = null;
      this.retryLater(true);
      return;
    }
    let body = null;
    try { body = await res.clone().json(); } catch { body = null; }
    if (body === null) {
      try { body = { error: (await res.text()).slice(0, 500) }; } catch { body = {}; }
    }
    this.probe = null;
    this.setState('closed');
    this.h.onError?.({
      status: res.status,
      error: typeof body?.error === 'string' && body.error ? body.error : `HTTP ${res.status}`,
      parameter: typeof body?.parameter === 'string' ? body.parameter : '',
    });
  }
}
