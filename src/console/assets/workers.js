// Workers: every live replica per pipeline, and work held by consumers that died.
import { getJson } from './api.js';
import { formatDuration, formatNumber, formatTime, h } from './dom.js';

function table(headers, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((x) => h('th', {}, x)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

function workerRow(w, now) {
  const reported = Date.parse(w.reported_at);
  return h(
    'tr',
    { class: w.draining ? 'draining' : '' },
    h('td', {}, w.host),
    h('td', { class: 'num' }, w.pid),
    h('td', {}, w.consumer ?? '–'),
    h('td', {}, w.version),
    h('td', {}, formatDuration(now - Date.parse(w.started_at))),
    h('td', { class: 'num' }, formatNumber(w.in_flight)),
    h('td', { class: 'num' }, formatNumber(w.processed)),
    h('td', { class: 'num' }, formatNumber(w.failed)),
    h('td', {}, h('span', { class: `breaker ${w.breaker}` }, w.breaker)),
    h('td', {}, w.draining ? 'draining' : w.state),
    h('td', { title: formatTime(w.reported_at) }, `${formatDuration(now - reported)} ago`),
  );
}

function section(p, now) {
  const workers = p.workers ?? [];
  const recoverable = p.recoverable ?? [];
  return h(
    'section',
    { class: 'block', 'data-pipeline': p.name },
    h('h2', {}, p.name, h('span', { class: 'muted' }, ` · ${workers.length} live ${workers.length === 1 ? 'worker' : 'workers'}`)),
    p.error ? h('p', { class: 'problem' }, p.error) : null,
    workers.length > 0
      ? table(
          ['Host', 'PID', 'Consumer', 'Version', 'Uptime', 'In flight', 'Processed', 'Dead-lettered', 'Breaker', 'State', 'Last seen'],
          workers.map((w) => workerRow(w, now)),
          { 'data-testid': 'workers' },
        )
      : h('p', { class: 'muted' }, 'No live worker.'),
    recoverable.length > 0
      ? [
          h('h3', {}, 'Recoverable work of dead consumers'),
          table(
            ['Consumer', 'Messages', 'Idle', 'Recovery'],
            recoverable.map((r) =>
              h(
                'tr',
                {},
                h('td', {}, r.consumer),
                h('td', { class: 'num' }, formatNumber(r.count)),
                h('td', {}, r.idle_ms === undefined ? '–' : formatDuration(r.idle_ms)),
                h('td', {}, r.recovery),
              ),
            ),
          ),
        ]
      : null,
  );
}

export async function renderWorkers(main, { stillCurrent }) {
  const { pipelines, now } = await getJson('/api/pipelines');
  if (!stillCurrent()) return;
  main.replaceChildren(h('h1', {}, 'Workers'), ...pipelines.map((p) => section(p, now)));
}
