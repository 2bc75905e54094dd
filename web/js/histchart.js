// histchart.js -- the history part of the rate chart: the view's range as bars of one bucket
// width each, the height of a bar its activities per unit of time (per second for bars of
// seconds, per minute, hour or day for wider ones, so that the numbers stay readable). The
// buckets come from the server's date_histogram (summary.js asks for them); nothing is counted
// here. The canvas carries what it shows for tests and tools: data-total (activities in its
// bars), data-bars, data-interval, data-unit and data-scale.

import { prepareCanvas, drawFrame, drawBars, drawEnds, niceMax, rateText } from './bars.js';
import { timeText } from './format.js';

const UNITS = [['d', 86400000], ['h', 3600000], ['min', 60000], ['s', 1000]];

// The largest unit not wider than a bar: [name, ms].
export function rateUnit(widthMs) {
  return UNITS.find(([, ms]) => ms <= widthMs) ?? UNITS[UNITS.length - 1];
}

export class HistoryChart {
  // canvas: the chart; caption: an element for the line under it.
  constructor(canvas, caption) {
    this.canvas = canvas;
    this.caption = caption;
    this.clear('');
  }

  get total() { return this.counts.reduce((a, b) => a + b, 0); }

  // buckets: the date_histogram's [{key, doc_count}] in key order; axis: historyAxis()'s.
  show(buckets, axis) {
    this.counts = buckets.map((b) => Number(b.doc_count) || 0);
    this.firstMs = buckets.length ? Number(buckets[0].key) : axis.startMs;
    this.widthMs = axis.width.ms;
    this.label = axis.width.text;
    this.note = '';
    this.update();
  }

  // No bars, and a line saying why (loading, live only, refused...).
  clear(note) {
    this.counts = [];
    this.firstMs = 0;
    this.widthMs = 0;
    this.label = '';
    this.note = note;
    this.update();
  }

  // Each bar's rate in `unit`, and the unit's name.
  rates() {
    if (!this.widthMs) return { rates: [], unit: 's' };
    const [unit, unitMs] = rateUnit(this.widthMs);
    const perUnit = this.widthMs / unitMs;
    return { rates: this.counts.map((n) => n / perUnit), unit };
  }

  update() {
    const d = this.canvas.dataset;
    const { rates, unit } = this.rates();
    d.total = String(this.total);
    d.bars = String(this.counts.length);
    d.interval = this.label;
    d.unit = unit;
    this.caption.textContent = this.note || `history: ${this.total.toLocaleString()} activities · ` +
      `1 bar = ${this.label} · busiest ${rateText(Math.max(0, ...rates))}/${unit}`;
    this.draw();
  }

  draw() {
    const { rates, unit } = this.rates();
    const c = prepareCanvas(this.canvas, { ends: true });
    const max = niceMax(Math.max(0, ...rates) || 1);
    this.canvas.dataset.scale = String(max);
    drawFrame(c, `${rateText(max)}/${unit}`, this.label ? `history, 1 bar = ${this.label}` : 'history');
    drawBars(c, rates, max);
    if (rates.length) {
      drawEnds(c, timeText(new Date(this.firstMs)), timeText(new Date(this.firstMs + rates.length * this.widthMs)));
    }
  }
}
