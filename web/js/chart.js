// chart.js -- events per second over the last minute, drawn by hand on a <canvas>.
// count() is cheap (one addition); tick() once a second closes the current second and redraws.
// Replayed history and live events are counted apart: a replay comes as one burst of thousands
// a second, live traffic as a few, so once live events are in view the scale is set by them
// alone and replay bars are cut at the top (marked as such), rather than live traffic drawing as
// a flat line under the burst.

export class RateChart {
  constructor(canvas, { seconds = 60 } = {}) {
    this.canvas = canvas;
    this.seconds = seconds;
    this.replay = new Array(seconds).fill(0);   // completed seconds, oldest first
    this.live = new Array(seconds).fill(0);
    this.current = { replay: 0, live: 0 };
    this.second = Math.floor(Date.now() / 1000);
    this.maxSeen = 0;          // the busiest completed second since the last reset
    this.scale = 1;            // the top of the y axis at the last draw, events/s
  }

  // `live`: the event came after the history replay.
  count(n = 1, live = false) {
    this.roll();
    this.current[live ? 'live' : 'replay'] += n;
  }

  // Move whole seconds that have passed into the history.
  roll() {
    const now = Math.floor(Date.now() / 1000);
    let gap = now - this.second;
    if (gap <= 0) return;
    if (gap > this.seconds) gap = this.seconds + 1;
    for (let i = 0; i < gap; i++) {
      this.replay.shift();
      this.live.shift();
      this.replay.push(i === 0 ? this.current.replay : 0);
      this.live.push(i === 0 ? this.current.live : 0);
    }
    const last = this.total(this.seconds - 1);
    this.maxSeen = Math.max(this.maxSeen, last);
    this.current = { replay: 0, live: 0 };
    this.second = now;
  }

  total(i) { return this.replay[i] + this.live[i]; }

  // The rate of the last complete second.
  get rate() { return this.total(this.seconds - 1); }

  // The busiest second so far, the one still running included: never 0 once events came.
  get peak() { return Math.max(this.maxSeen, this.current.replay + this.current.live); }

  reset() {
    this.replay.fill(0);
    this.live.fill(0);
    this.current = { replay: 0, live: 0 };
    this.maxSeen = 0;
    this.second = Math.floor(Date.now() / 1000);
  }

  tick() {
    this.roll();
    this.draw();
    return this.rate;
  }

  // The y axis: live seconds alone when any are in view, else the replay.
  axisMax() {
    const live = Math.max(0, ...this.live);
    return niceMax(Math.max(1, live > 0 ? live : Math.max(...this.replay)));
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr));
    const h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const g = c.getContext('2d');
    const css = getComputedStyle(c);
    const color = (name, dflt) => css.getPropertyValue(name).trim() || dflt;
    const fg = color('--chart-bar', '#2a6df4');
    const replayFg = color('--chart-replay', '#9aa4b0');
    g.clearRect(0, 0, w, h);

    const max = this.axisMax();
    this.scale = max;
    c.dataset.scale = String(max);
    const pad = { top: 14 * dpr, bottom: 4 * dpr, left: 2 * dpr, right: 2 * dpr };
    const ph = h - pad.top - pad.bottom;
    const pw = w - pad.left - pad.right;
    this.drawGrid(g, w, pad, ph, dpr, color('--chart-grid', '#ccc'), color('--chart-text', '#555'), max);

    const bw = pw / this.seconds;
    let clipped = 0;
    for (let i = 0; i < this.seconds; i++) {
      const x = pad.left + i * bw + bw * 0.1;
      const bar = (v, base, fill) => {
        const bh = Math.min(ph - base, Math.max(1 * dpr, (v / max) * ph));
        g.fillStyle = fill;
        g.fillRect(x, pad.top + ph - base - bh, Math.max(1, bw * 0.8), bh);
        return base + bh;
      };
      let base = 0;
      if (this.live[i] > 0) base = bar(this.live[i], base, fg);
      if (this.replay[i] > 0 && base < ph) base = bar(this.replay[i], base, replayFg);
      if (this.total(i) > max) clipped = Math.max(clipped, this.total(i));
    }
    c.dataset.clipped = String(clipped);
    if (clipped) this.drawNote(g, w, pad, dpr, color('--chart-text', '#555'), `replay up to ${clipped}/s, cut`);
  }

  drawGrid(g, w, pad, ph, dpr, grid, text, max) {
    g.strokeStyle = grid;
    g.lineWidth = 1;
    for (const f of [0, 0.5, 1]) {
      const y = Math.round(pad.top + ph * (1 - f)) + 0.5;
      g.beginPath(); g.moveTo(pad.left, y); g.lineTo(w - pad.right, y); g.stroke();
    }
    g.fillStyle = text;
    g.font = `${11 * dpr}px system-ui, sans-serif`;
    g.textBaseline = 'top';
    g.textAlign = 'left';
    g.fillText(`${max}/s`, pad.left + 2 * dpr, 1 * dpr);
    g.textAlign = 'right';
    g.fillText(`last ${this.seconds} s`, w - pad.right, 1 * dpr);
  }

  drawNote(g, w, pad, dpr, text, note) {
    g.fillStyle = text;
    g.textAlign = 'center';
    g.fillText(note, w / 2, 1 * dpr);
  }
}

// 1, 2, 5, 10, 20, 50, ... at or above v.
export function niceMax(v) {
  let p = 1;
  for (;;) {
    for (const m of [1, 2, 5]) if (m * p >= v) return m * p;
    p *= 10;
  }
}
