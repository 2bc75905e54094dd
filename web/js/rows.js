// rows.js -- the activity list: keeps the newest `limit` rows, keyed by feed + activity id.
// Events only queue an operation; one flush per animation frame (or a timer when the tab is
// hidden and frames stop) applies them all: updates rewrite a row in place, deletes remove
// it, new rows go on top in one DOM insertion, and the oldest rows past the limit go.
// At 1,000 events/s that is a handful of operations per frame and no layout per event; a
// replay of 100,000 events only ever builds the `limit` newest rows.

import { actorLabel, typeLabel, objectLabel, timeLabel } from './format.js';

const UPSERT = 1;
const DELETE = 2;

export function rowKey(feed, id) {
  return `${feed}\u0000${id}`;
}

export class RowList {
  // list: the list element (<ol>) to fill, owned by this object from now on.
  // onChange(count): called after each flush that changed something.
  constructor(list, { limit = 500, onChange = () => {} } = {}) {
    this.list = list;
    this.limit = limit;
    this.onChange = onChange;
    this.model = new Map();   // key -> { key, feed, act, el }; insertion order = oldest first
    this.pending = [];
    this.highlight = false;   // animate live new and updated rows (off in a flood)
    this.minInterval = 0;     // ms between flushes; raised by the caller when events flood in
    this.lastFlush = 0;
    this.scheduled = false;
    this.raf = 0;
    this.timer = 0;
    this.delay = 0;
    this.template = document.createElement('li');
    this.template.innerHTML = '<time class="c-time"></time> <span class="c-actor"></span> ' +
      '<span class="c-type"></span> <span class="c-object"></span> <span class="c-feed"></span>';
  }

  get size() { return this.model.size; }

  // `live`: the event came after the history replay (such rows may be highlighted).
  upsert(feed, activity, live = false) {
    if (!activity || activity.id === undefined || activity.id === null) return;
    this.pending.push({ op: UPSERT, feed: String(feed ?? ''), act: activity, live });
    this.schedule();
  }

  remove(feed, id) {
    if (id === undefined || id === null) return;
    this.pending.push({ op: DELETE, feed: String(feed ?? ''), id: String(id) });
    this.schedule();
  }

  setLimit(n) {
    this.limit = n;
    this.schedule();
  }

  clear() {
    this.cancel();
    this.pending = [];
    this.model.clear();
    this.list.textContent = '';
    this.onChange(0);
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.lastFlush + this.minInterval - performance.now();
    if (wait >= 1) this.delay = setTimeout(() => this.arm(), wait);
    else this.arm();
  }

  arm() {
    this.delay = 0;
    this.raf = requestAnimationFrame(() => this.flush());
    // Frames stop in a hidden tab; the queue must still drain (timers run at least once a second).
    this.timer = setTimeout(() => this.flush(), 500);
  }

  cancel() {
    cancelAnimationFrame(this.raf);
    clearTimeout(this.timer);
    clearTimeout(this.delay);
    this.raf = this.timer = this.delay = 0;
    this.scheduled = false;
  }

  flush() {
    this.cancel();
    this.lastFlush = performance.now();
    const ops = this.pending;
    this.pending = [];
    const fresh = [];
    for (const p of ops) {
      if (p.op === DELETE) this.applyDelete(rowKey(p.feed, p.id));
      else this.applyUpsert(p, fresh);
    }
    this.trim();
    this.insertFresh(fresh);
    this.onChange(this.model.size);
  }

  applyDelete(key) {
    const e = this.model.get(key);
    if (!e) return;
    if (e.el) e.el.remove();
    this.model.delete(key);
  }

  applyUpsert(p, fresh) {
    const key = rowKey(p.feed, String(p.act.id));
    const e = this.model.get(key);
    if (!e) {
      const n = { key, feed: p.feed, act: p.act, el: null, live: p.live };
      this.model.set(key, n);
      fresh.push(n);
      return;
    }
    e.act = p.act;
    e.live = e.live || p.live;
    if (!e.el) return;          // not built yet: insertFresh uses the new content
    this.fill(e.el, e);
    if (this.highlight && p.live) this.flash(e.el);
  }

  trim() {
    let excess = this.model.size - this.limit;
    if (excess <= 0) return;
    for (const [key, e] of this.model) {
      if (excess-- <= 0) break;
      if (e.el) e.el.remove();
      this.model.delete(key);
    }
  }

  insertFresh(fresh) {
    if (fresh.length === 0) return;
    const frag = document.createDocumentFragment();
    for (let i = fresh.length - 1; i >= 0; i--) {
      const e = fresh[i];
      if (this.model.get(e.key) !== e) continue;   // deleted or trimmed in the same batch
      e.el = this.template.cloneNode(true);
      this.fill(e.el, e);
      if (this.highlight && e.live) this.flash(e.el);
      frag.appendChild(e.el);
    }
    this.list.prepend(frag);
  }

  fill(li, e) {
    const a = e.act;
    li.dataset.feed = e.feed;
    li.dataset.id = String(a.id);
    const [time, tdActor, tdType, tdObject, tdFeed] = li.children;
    const t = timeLabel(a.published ?? a.updated);
    time.textContent = t.text;
    if (t.iso) time.dateTime = t.iso; else time.removeAttribute('datetime');
    const actor = actorLabel(a.actor);
    tdActor.textContent = actor.text;
    tdActor.title = actor.title;
    tdType.textContent = typeLabel(a.type);
    const obj = objectLabel(a.object);
    tdObject.textContent = obj.text;
    tdObject.title = obj.title ? `${obj.title}\n${a.id}` : String(a.id);
    tdFeed.textContent = e.feed;
  }

  flash(li) {
    // Two identical animations under two names restart the highlight without a reflow.
    const wasA = li.classList.contains('flash-a');
    li.classList.remove('flash-a', 'flash-b');
    li.classList.add(wasA ? 'flash-b' : 'flash-a');
  }
}
