// chart.js -- events per second over the last minute, drawn by hand on a <canvas>.
// count() is cheap (one addition); tick() once a second closes the current second and redraws.

export class RateChart {
  constructor(canvas, { seconds = 60 } = {}) {
    this.canvas = canvas;
    this.seconds = seconds;
    this.history = new Array(seconds).fill(0);   // completed seconds, oldest first
    this.current = 0;
    this.second = Math.floor(Date.now() / 1000);
    this.peak = 0;
  }

  count(n = 1) {
    this.roll();
    this.current += n;
  }

  // Move whole seconds that have passed into the history.
  roll() {
    const now = Math.floor(Date.now() / 1000);
    let gap = now - this.second;
    if (gap <= 0) return;
    if (gap > this.seconds) gap = this.seconds + 1;
    for (let i = 0; i < gap; i++) {
      this.history.shift();
      this.history.push(i === 0 ? this.current : 0);
    }
    this.peak = Math.max(this.peak, ...this.history);
    this.current = 0;
    this.second = now;
  }

  // The rate of the last complete second.
  get rate() { return this.history[this.history.length - 1]; }

  reset() {
    this.history.fill(0);
    this.current = 0;
    this.peak = 0;
    this.second = Math.floor(Date.now() / 1000);
  }

  tick() {
    this.roll();
    this.draw();
    return this.rate;
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr));
    const h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const g = c.getContext('2d');
    const css = getComputedStyle(c);
    const fg = css.getPropertyValue('--chart-bar').trim() || '#2a6df4';
    const grid = css.getPropertyValue('--chart-grid').trim() || '#ccc';
    const text = css.getPropertyValue('--chart-text').trim() || '#555';
    g.clearRect(0, 0, w, h);

    const max = niceMax(Math.max(1, ...this.history));
    const pad = { top: 14 * dpr, bottom: 4 * dpr, left: 2 * dpr, right: 2 * dpr };
    const ph = h - pad.top - pad.bottom;
    const pw = w - pad.left - pad.right;

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

    const n = this.history.length;
    const bw = pw / n;
    g.fillStyle = fg;
    for (let i = 0; i < n; i++) {
      const v = this.history[i];
      if (v <= 0) continue;
      const bh = Math.max(1 * dpr, (v / max) * ph);
      g.fillRect(pad.left + i * bw + bw * 0.1, pad.top + ph - bh, Math.max(1, bw * 0.8), bh);
    }
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
