// Overview: one card per pipeline, red when something is stuck (the server says why).
import { getJson } from './api.js';
import { throughputChart } from './chart.js';
import { formatNumber, h } from './dom.js';

const chartHolders = new Map();

export function describeSource(source) {
  if (!source) return '–';
  if (source.kind === 'channel') return `channel ${source.channels.join(', ')}`;
  return source.group ? `stream ${source.key} (group ${source.group})` : `${source.kind} ${source.key}`;
}

function stat(label, value, extra = {}) {
  return h('div', { class: 'stat', ...extra }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, value));
}

function lastMinute(throughput) {
  if (!throughput) return 0;
  const buckets = Math.max(1, Math.round(60_000 / throughput.bucket_ms));
  // The last complete buckets (the newest one is still filling).
  return throughput.processed.slice(-buckets - 1, -1).reduce((a, b) => a + b, 0);
}

function card(p) {
  const stuck = (p.stuck ?? []).length > 0;
  const deadLink = h(
    'a',
    { href: `#/dead-letters/${encodeURIComponent(p.name)}`, 'data-testid': 'dead-letter-count' },
    formatNumber(p.dead_letter?.count),
  );
  const stats = [stat('Source', describeSource(p.source))];
  if (p.source?.kind !== 'channel')
    stats.push(
      stat(p.source?.kind === 'stream' ? 'Stream length' : 'Queue length', formatNumber(p.queue?.length), {
        'data-testid': 'queue-length',
      }),
    );
  if (p.source?.kind === 'stream') stats.push(stat('Lag', formatNumber(p.queue?.lag)), stat('Pending', formatNumber(p.queue?.pending)));
  if (p.source?.kind === 'list') stats.push(stat('In processing hashes', formatNumber(p.queue?.processing)));
  stats.push(
    stat('Dead letters', deadLink),
    stat('Live workers', formatNumber(p.workers?.length ?? 0), { 'data-testid': 'live-workers' }),
    stat('Breaker', h('span', { class: `breaker ${p.breaker ?? 'closed'}` }, p.breaker ?? 'closed')),
    stat('Processed, last minute', formatNumber(lastMinute(p.throughput))),
  );
  let holder = chartHolders.get(p.name);
  if (!holder) chartHolders.set(p.name, (holder = h('div', { class: 'chart' })));
  const body = h(
    'section',
    { class: `card${stuck ? ' stuck' : ''}`, 'data-pipeline': p.name },
    h('header', {}, h('h2', {}, p.name), h('span', { class: `badge ${stuck ? 'bad' : 'good'}` }, stuck ? 'stuck' : 'ok')),
    stuck
      ? h(
          'ul',
          { class: 'problems' },
          p.stuck.map((why) => h('li', {}, why)),
        )
      : null,
    h('div', { class: 'stats' }, stats),
    p.throughput ? holder : h('p', { class: 'muted chart-empty' }, 'No live worker reports throughput.'),
  );
  return body;
}

export async function renderOverview(main, { stillCurrent }) {
  const { pipelines } = await getJson('/api/pipelines');
  if (!stillCurrent()) return;
  main.replaceChildren(h('h1', {}, 'Pipelines'), h('div', { class: 'cards' }, pipelines.map(card)));
  // Charts draw once their holder is in the document (uPlot measures nothing, but keep one instance per pipeline).
  for (const p of pipelines) if (p.throughput) throughputChart(chartHolders.get(p.name), p.throughput);
}
