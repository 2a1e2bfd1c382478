/**
 * Browser code of the console: a live line chart drawn on a `<canvas>`, with no library. It keeps
 * the last samples of one or more series, scales the y axis to a round maximum, and redraws on
 * every sample and on resize. Each canvas carries `data-samples` (how many were pushed in all)
 * and `data-last` (the newest values), which the browser tests read.
 *
 * Written as plain JavaScript in a raw string: the page has no build step.
 */
export const CHART_JS = String.raw`
/** Formats a chart value: 1234 → "1.2k", 0.25 → "0.25". */
function formatValue(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
  if (Number.isInteger(n)) return String(n);
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

/** The smallest 1, 2 or 5 times a power of ten that is at least v (and at least 1). */
function niceMax(v) {
  if (!(v > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

class LiveChart {
  /**
   * @param canvas The canvas to draw on; its CSS size decides the drawing size.
   * @param series [{ name, color }] in the order of the values pushed.
   * @param capacity How many samples are kept (one a second: two minutes).
   */
  constructor(canvas, series, capacity = 120) {
    this.canvas = canvas;
    this.series = series;
    this.capacity = capacity;
    this.samples = [];
    this.total = 0;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** Adds one sample: one value per series. */
  push(values) {
    this.samples.push(values);
    if (this.samples.length > this.capacity) this.samples.shift();
    this.total++;
    this.canvas.dataset.samples = String(this.total);
    this.canvas.dataset.last = values.join(",");
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (w === 0 || h === 0) return;
    if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
    if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 40, right = 8, top = 22, bottom = 6;
    const pw = w - left - right, ph = h - top - bottom;
    let max = 0;
    for (const s of this.samples) for (const v of s) if (v > max) max = v;
    max = niceMax(max);
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "middle";
    g.textAlign = "right";
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      g.strokeStyle = i === 0 ? "#c5ccd6" : "#e8ecf1";
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(left, Math.round(y) + 0.5);
      g.lineTo(left + pw, Math.round(y) + 0.5);
      g.stroke();
      g.fillStyle = "#7a8594";
      g.fillText(formatValue((max * i) / 4), left - 6, y);
    }
    const step = pw / (this.capacity - 1);
    const x0 = left + pw - (this.samples.length - 1) * step;
    const yOf = (v) => top + ph - (Math.max(0, v) / max) * ph;
    this.series.forEach((serie, k) => {
      if (this.samples.length === 0) return;
      g.beginPath();
      this.samples.forEach((s, i) => {
        const x = x0 + i * step, y = yOf(s[k]);
        if (i === 0) g.moveTo(x, y);
        else g.lineTo(x, y);
      });
      g.strokeStyle = serie.color;
      g.lineWidth = 2;
      g.lineJoin = "round";
      g.stroke();
      if (k === 0) {
        g.lineTo(x0 + (this.samples.length - 1) * step, top + ph);
        g.lineTo(x0, top + ph);
        g.closePath();
        g.globalAlpha = 0.12;
        g.fillStyle = serie.color;
        g.fill();
        g.globalAlpha = 1;
      }
    });
    // Legend: each series with its newest value.
    const last = this.samples[this.samples.length - 1];
    g.textAlign = "left";
    g.textBaseline = "top";
    let x = left;
    this.series.forEach((serie, k) => {
      const text = serie.name + " " + (last ? formatValue(last[k]) : "–");
      g.fillStyle = serie.color;
      g.fillRect(x, 5, 10, 10);
      g.fillStyle = "#334";
      g.fillText(text, x + 14, 4);
      x += g.measureText(text).width + 30;
    });
  }
}
`;
