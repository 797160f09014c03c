// DP statistics as Chart.js bar charts with 95% error bars (drawn by a small plugin over the
// bars), plus a text table of the same numbers for screen readers.
import { Chart, BarController, BarElement, CategoryScale, LinearScale, Tooltip, Title } from 'chart.js';
import { h } from './util.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Title);

const errorBars = {
  id: 'cohortErrorBars',
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    chart.data.datasets.forEach((ds, i) => {
      const meta = chart.getDatasetMeta(i);
      if (!ds.errors) return;
      ctx.save();
      ctx.strokeStyle = '#1a1a1a';
      ctx.lineWidth = 1.5;
      meta.data.forEach((bar, j) => {
        const e = ds.errors[j];
        if (!Number.isFinite(e) || e <= 0) return;
        const v = ds.data[j];
        const y = chart.scales.y;
        const top = y.getPixelForValue(v + e), bottom = y.getPixelForValue(v - e);
        const w = Math.min(12, bar.width / 3);
        ctx.beginPath();
        ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bottom);
        ctx.moveTo(bar.x - w, top); ctx.lineTo(bar.x + w, top);
        ctx.moveTo(bar.x - w, bottom); ctx.lineTo(bar.x + w, bottom);
        ctx.stroke();
      });
      ctx.restore();
    });
  },
};

// Turns one DP result into {labels, values, errors}, or null when it has no chartable shape.
export function series(result) {
  const e = result.error_bound_95;
  if (Array.isArray(result.buckets)) {
    return { labels: result.buckets.map((b) => b.bucket), values: result.buckets.map((b) => b.count), errors: result.buckets.map(() => e) };
  }
  if (Array.isArray(result.groups)) {
    const labels = [], values = [], errors = [];
    for (const g of result.groups) {
      if (Array.isArray(g.buckets)) {
        for (const b of g.buckets) { labels.push(`${g.group} · ${b.bucket}`); values.push(b.count); errors.push(g.error_bound_95 ?? e); }
      } else if (typeof g.value === 'number') {
        labels.push(g.group); values.push(g.value); errors.push(g.error_bound_95 ?? e);
      }
    }
    return labels.length ? { labels, values, errors } : null;
  }
  if (Array.isArray(result.quantiles)) {
    return { labels: result.quantiles.map((q) => `q${q.q}`), values: result.quantiles.map((q) => q.value), errors: result.quantiles.map(() => e) };
  }
  if (typeof result.value === 'number') return { labels: [result.query], values: [result.value], errors: [e] };
  return null;
}

export function chartFor(result) {
  const s = series(result);
  if (!s) return null;
  const canvas = h('canvas', { role: 'img', 'aria-label': `${result.query}: ${s.labels.map((l, i) => `${l} ${fmt(s.values[i])} ± ${fmt(s.errors[i])}`).join('; ')}` });
  const box = h('div.chart', canvas);
  const lo = Math.min(0, ...s.values.map((v, i) => v - (s.errors[i] || 0)));
  const hi = Math.max(...s.values.map((v, i) => v + (s.errors[i] || 0)));
  // eslint-disable-next-line no-new
  new Chart(canvas, {
    type: 'bar',
    data: { labels: s.labels, datasets: [{ label: result.query, data: s.values, errors: s.errors, backgroundColor: '#2f6db5' }] },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      scales: { y: { suggestedMin: lo, suggestedMax: hi * 1.05 } },
      plugins: {
        title: { display: true, text: `${result.query} (bars: 95% error bound)` },
        tooltip: { callbacks: { label: (c) => `${fmt(c.raw)} ± ${fmt(s.errors[c.dataIndex])}` } },
      },
    },
    plugins: [errorBars],
  });
  return { box, series: s };
}

export function fmt(v) {
  if (typeof v !== 'number') return String(v ?? '—');
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

// A figure whose 95% error bars (value ± error) are wider than the figure itself cannot be
// read: 17 ± 15 may be 2 or 32. The same line as the preview's "mostly noise" (an expected
// error above half the magnitude).
export function tooNoisy(value, error) {
  return Number.isFinite(error) && typeof value === 'number' && 2 * error > Math.abs(value);
}

// An error bound in words: "6", "0.25", "30,000" (no exponent notation).
export function approx(x) {
  const v = Number(x);
  if (!Number.isFinite(v)) return String(x);
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en') : String(Number(v.toPrecision(2)));
}
