// bars.js -- what the dashboard's two bar charts share: a <canvas> sized to its box at the
// screen's pixel ratio, colours from the stylesheet, a frame with the scale and a caption, bars
// of equal width, a rounded axis top and rate texts. No state: each chart draws all of itself.

// A canvas ready to draw on, its backing store matching its CSS size:
// { g, w, h, dpr, color(name, fallback) }, and the plot area `box` inside the labels (and
// above a line for drawEnds when `ends`).
export function prepareCanvas(canvas, { ends = false } = {}) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, w, h);
  const css = getComputedStyle(canvas);
  const color = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const bottom = (ends ? 16 : 4) * dpr;
  const box = { left: 2 * dpr, top: 14 * dpr, width: w - 4 * dpr, height: h - 14 * dpr - bottom };
  return { g, w, h, dpr, color, box };
}

// Three grid lines, the axis top at the left (`topLabel`) and a caption at the right.
export function drawFrame(c, topLabel, rightLabel) {
  const { g, w, dpr, box } = c;
  g.strokeStyle = c.color('--chart-grid', '#ccc');
  g.lineWidth = 1;
  for (const f of [0, 0.5, 1]) {
    const y = Math.round(box.top + box.height * (1 - f)) + 0.5;
    g.beginPath(); g.moveTo(box.left, y); g.lineTo(box.left + box.width, y); g.stroke();
  }
  g.fillStyle = c.color('--chart-text', '#555');
  g.font = `${11 * dpr}px system-ui, sans-serif`;
  g.textBaseline = 'top';
  g.textAlign = 'left';
  g.fillText(topLabel, box.left + 2 * dpr, 1 * dpr);
  g.textAlign = 'right';
  g.fillText(rightLabel, w - 2 * dpr, 1 * dpr);
}

// The times of the plot's two ends, under it.
export function drawEnds(c, leftText, rightText) {
  const { g, dpr, box } = c;
  g.fillStyle = c.color('--chart-text', '#555');
  g.font = `${11 * dpr}px system-ui, sans-serif`;
  g.textBaseline = 'bottom';
  g.textAlign = 'left';
  g.fillText(leftText, box.left, c.h);
  g.textAlign = 'right';
  g.fillText(rightText, box.left + box.width, c.h);
}

// values[i] as bar i of values.length, scaled so that `max` fills the plot area. A value above
// zero always shows (at least one pixel); a value above `max` is cut at the top.
export function drawBars(c, values, max) {
  const { g, dpr, box } = c;
  const slot = box.width / Math.max(1, values.length);
  g.fillStyle = c.color('--chart-bar', '#2a6df4');
  values.forEach((v, i) => {
    if (!(v > 0)) return;
    const bh = Math.min(box.height, Math.max(1 * dpr, (v / max) * box.height));
    g.fillRect(box.left + i * slot + slot * 0.1, box.top + box.height - bh, Math.max(1, slot * 0.8), bh);
  });
}

// 1, 2, 5 times a power of ten, at or above v (v > 0): 0.02, 0.5, 1, 20, 500...
export function niceMax(v) {
  let p = 10 ** Math.floor(Math.log10(v > 0 ? v : 1));
  for (;;) {
    for (const m of [1, 2, 5]) if (m * p >= v * (1 - 1e-12)) return Number((m * p).toPrecision(1));
    p *= 10;
  }
}

// A rate in events per second as text: "1,234", "12", "3.5", "0.042".
export function rateText(v) {
  if (!(v > 0)) return '0';
  if (v >= 10) return Math.round(v).toLocaleString();
  if (v >= 1) return String(Number(v.toFixed(1)));
  return String(Number(v.toPrecision(2)));
}
