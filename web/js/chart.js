// chart.js -- events per second, counted as they arrive: SecondCounter keeps the last N whole
// seconds (count() is one addition; roll() moves finished seconds in), and RateChart draws the
// live part of the rate chart from one, over the last minute (the history has its own chart,
// drawn from the server's aggregation: histchart.js). tick() once a second rolls and redraws.

import { prepareCanvas, drawFrame, drawBars, niceMax } from './bars.js';

export class SecondCounter {
  constructor({ seconds = 60 } = {}) {
    this.seconds = seconds;
    this.counts = new Array(seconds).fill(0);   // completed seconds, oldest first
    this.current = 0;                           // the second still running
    this.second = Math.floor(Date.now() / 1000);
    this.maxSeen = 0;          // the busiest completed second since the last reset
  }

  count(n = 1) {
    this.roll();
    this.current += n;
  }

  // Move whole seconds that have passed into the history.
  roll() {
    const now = Math.floor(Date.now() / 1000);
    const gap = Math.min(now - this.second, this.seconds + 1);
    if (gap <= 0) return;
    for (let i = 0; i < gap; i++) {
      this.counts.shift();
      this.counts.push(i === 0 ? this.current : 0);
    }
    this.maxSeen = Math.max(this.maxSeen, this.counts[this.seconds - 1]);
    this.current = 0;
    this.second = now;
  }

  // The rate of the last complete second.
  get rate() { return this.counts[this.seconds - 1]; }

  // The busiest second so far, the one still running included.
  get peak() { return Math.max(this.maxSeen, this.current); }

  reset() {
    this.counts.fill(0);
    this.current = 0;
    this.maxSeen = 0;
    this.second = Math.floor(Date.now() / 1000);
  }
}

export class RateChart extends SecondCounter {
  constructor(canvas, { seconds = 60 } = {}) {
    super({ seconds });
    this.canvas = canvas;
  }

  tick() {
    this.roll();
    this.draw();
    return this.rate;
  }

  // The top of the y axis: the busiest second in view, rounded up.
  axisMax() {
    return niceMax(Math.max(1, ...this.counts));
  }

  draw() {
    const c = prepareCanvas(this.canvas);
    const max = this.axisMax();
    this.canvas.dataset.scale = String(max);
    this.canvas.dataset.total = String(this.counts.reduce((a, b) => a + b, 0));
    drawFrame(c, `${max}/s`, `live, last ${this.seconds} s`);
    drawBars(c, this.counts, max);
  }
}
