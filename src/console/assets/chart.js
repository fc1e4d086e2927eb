// The throughput chart: uPlot (vendored from the npm package, served by the console). It draws a
// few hundred points on a canvas in well under a millisecond and weighs ~50 KB, with no dependencies.
import uPlot from './vendor/uPlot.esm.js';

const charts = new WeakMap();

/** Messages per second per bucket (processed and dead-lettered), from the summed worker histories. */
function series(throughput) {
  const { bucket_ms: bucket, end, processed, failed } = throughput;
  const n = processed.length;
  // The newest bucket is still filling: leave it out rather than draw a false drop.
  const xs = [];
  const ok = [];
  const bad = [];
  for (let i = 0; i < n - 1; i++) {
    xs.push((end - (n - 1 - i) * bucket) / 1000);
    ok.push(processed[i] / (bucket / 1000));
    bad.push(failed[i] / (bucket / 1000));
  }
  return [xs, ok, bad];
}

export function throughputChart(container, throughput) {
  const data = series(throughput);
  const existing = charts.get(container);
  if (existing) {
    existing.setData(data);
    return;
  }
  const chart = new uPlot(
    {
      width: 360,
      height: 120,
      legend: { show: true, live: false },
      cursor: { show: true, drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [
        { size: 28, font: '11px system-ui', stroke: '#555' },
        { size: 44, font: '11px system-ui', stroke: '#555', label: 'msg/s', labelSize: 14, labelFont: '11px system-ui' },
      ],
      series: [
        {},
        { label: 'processed/s', stroke: '#2a7d4f', width: 1.5, fill: 'rgba(42,125,79,0.12)' },
        { label: 'dead-lettered/s', stroke: '#c0392b', width: 1.5 },
      ],
    },
    data,
    container,
  );
  charts.set(container, chart);
}
