// Dead letters of one pipeline: filter by reason, page through, open one, replay or purge.
import { getJson, pipelinePath, postJson } from './api.js';
import { formatNumber, formatTime, h } from './dom.js';

const PAGE = 25;
/** Cursors of the pages before the current one, per pipeline and reason (for "Previous"). */
const history = new Map();
let notice = null;

function hashFor(pipeline, params) {
  const query = params.toString();
  return `#/dead-letters/${encodeURIComponent(pipeline)}${query ? `?${query}` : ''}`;
}

/** Asks before a purge: a real dialog with the count and what goes, Cancel focused. */
function confirmPurge(what) {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => done(false) }, 'Cancel');
    const ok = h(
      'button',
      { type: 'button', class: 'danger', 'data-testid': 'confirm-purge', onclick: () => done(true) },
      'Purge for good',
    );
    const dialog = h(
      'dialog',
      { class: 'confirm' },
      h('h2', {}, 'Purge dead letters?'),
      h('p', {}, `This deletes ${what}. They cannot be replayed afterwards.`),
      h('div', { class: 'actions' }, cancel, ok),
    );
    function done(answer) {
      dialog.close();
      dialog.remove();
      resolve(answer);
    }
    dialog.addEventListener('cancel', () => done(false));
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

function detail(entry) {
  const row = (label, value, attrs = {}) => [h('dt', {}, label), h('dd', attrs, value ?? '–')];
  const headers =
    entry.headers && Object.keys(entry.headers).length > 0
      ? h(
          'table',
          { class: 'headers' },
          h(
            'tbody',
            {},
            Object.entries(entry.headers).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))),
          ),
        )
      : '–';
  const payload = entry.payload;
  const payloadNote = `${payload.kind === 'binary' ? 'binary, shown as hex' : payload.kind === 'json' ? 'JSON' : 'text'} · ${formatNumber(payload.bytes)} bytes${payload.truncated ? ' · truncated' : ''}`;
  return h(
    'section',
    { class: 'entry', 'data-testid': 'entry-detail' },
    h('h2', {}, 'Entry ', h('code', {}, entry.id)),
    entry.problem ? h('p', { class: 'problem' }, `Not a dead-letter entry: ${entry.problem}`) : null,
    h(
      'dl',
      {},
      row('Reason', entry.reason),
      row('Error', h('pre', { class: 'error' }, entry.error ?? '–')),
      row('Attempts', entry.attempts),
      row('Message id', entry.message_id),
      row('Pipeline', entry.pipeline),
      row('Source', entry.source),
      row('First failure', formatTime(entry.first_failure_at)),
      row('Last failure', formatTime(entry.last_failure_at)),
      row('Dead-lettered', formatTime(entry.dead_lettered_at)),
      row('Headers', headers),
    ),
    h('h3', {}, 'Payload ', h('span', { class: 'muted' }, payloadNote)),
    h('pre', { class: `payload ${payload.kind}`, 'data-testid': 'payload' }, payload.text),
  );
}

function preview(entry) {
  const text = entry.payload.kind === 'binary' ? `hex ${entry.payload.text.slice(10, 57).trim()}` : entry.payload.text.replace(/\s+/g, ' ');
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

export async function renderDeadLetters(main, { pipeline, params, stillCurrent }) {
  const { pipelines } = await getJson('/api/pipelines');
  if (!stillCurrent()) return;
  const name = pipeline ?? pipelines[0]?.name;
  if (!name) return main.replaceChildren(h('p', {}, 'No pipelines.'));
  const reason = params.get('reason') ?? '';
  const cursor = params.get('cursor') ?? '';
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (reason) query.set('reason', reason);
  if (cursor) query.set('cursor', cursor);
  const page = await getJson(`${pipelinePath(name)}?${query}`);
  if (!stillCurrent()) return;

  const selected = new Set();
  const historyKey = `${name}\n${reason}`;
  const previous = history.get(historyKey) ?? [];
  const detailHolder = h('div', { class: 'detail-holder' });
  const countSelected = h('span', { class: 'muted' }, '');
  const selectedButtons = [];
  const updateSelection = () => {
    countSelected.textContent = selected.size > 0 ? `${selected.size} selected` : '';
    for (const button of selectedButtons) button.disabled = selected.size === 0;
  };
  const act = async (action, body, what) => {
    if (action === 'purge' && !(await confirmPurge(what))) return;
    try {
      const result = await postJson(`${pipelinePath(name)}/${action}`, body);
      const problems = [
        ...(result.not_found.length ? [`${result.not_found.length} not found`] : []),
        ...result.failed.map((f) => `${f.id}: ${f.error}`),
      ];
      notice = {
        ok: problems.length === 0,
        text: `${action === 'replay' ? 'Replayed' : 'Purged'} ${result.done} ${result.done === 1 ? 'entry' : 'entries'}${problems.length ? `; ${problems.join('; ')}` : ''}.`,
      };
    } catch (error) {
      notice = { ok: false, text: `${action} failed: ${error.message}` };
    }
    history.delete(historyKey);
    const next = new URLSearchParams(reason ? { reason } : {});
    if (location.hash === hashFor(name, next)) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = hashFor(name, next);
  };

  const scope = reason ? `every "${reason}" entry` : 'every entry';
  const replaySelected = h(
    'button',
    { type: 'button', 'data-testid': 'replay-selected', onclick: () => act('replay', { ids: [...selected] }) },
    'Replay selected',
  );
  const purgeSelected = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      'data-testid': 'purge-selected',
      onclick: () => act('purge', { ids: [...selected] }, `${selected.size} selected ${selected.size === 1 ? 'entry' : 'entries'}`),
    },
    'Purge selected…',
  );
  selectedButtons.push(replaySelected, purgeSelected);
  const reasonCount = reason ? (page.reasons[reason] ?? 0) : page.total;
  const toolbar = h(
    'div',
    { class: 'toolbar' },
    h(
      'label',
      {},
      'Reason ',
      h(
        'select',
        {
          'data-testid': 'reason',
          onchange: (e) => (location.hash = hashFor(name, new URLSearchParams(e.target.value ? { reason: e.target.value } : {}))),
        },
        h('option', { value: '' }, `all (${formatNumber(page.total)})`),
        Object.entries(page.reasons)
          .sort((a, b) => b[1] - a[1])
          .map(([r, n]) => h('option', { value: r, selected: r === reason }, `${r} (${formatNumber(n)})`)),
      ),
    ),
    replaySelected,
    purgeSelected,
    countSelected,
    h('span', { class: 'spacer' }),
    h(
      'button',
      {
        type: 'button',
        'data-testid': 'replay-all',
        disabled: reasonCount === 0,
        onclick: () => act('replay', reason ? { reason } : { all: true }),
      },
      reason ? `Replay all "${reason}"` : 'Replay all',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'data-testid': 'purge-all',
        disabled: reasonCount === 0,
        onclick: () => act('purge', reason ? { reason } : { all: true }, `${scope} (${formatNumber(reasonCount)}) of ${name}`),
      },
      reason ? `Purge all "${reason}"…` : 'Purge all…',
    ),
  );

  const rows = page.entries.map((entry) => {
    const box = h('input', {
      type: 'checkbox',
      'aria-label': `select ${entry.id}`,
      onclick: (e) => e.stopPropagation(),
      onchange: (e) => (e.target.checked ? selected.add(entry.id) : selected.delete(entry.id), updateSelection()),
    });
    const tr = h(
      'tr',
      { 'data-id': entry.id, tabindex: 0, onclick: () => open(tr, entry), onkeydown: (e) => e.key === 'Enter' && open(tr, entry) },
      h('td', {}, box),
      h('td', {}, h('code', {}, entry.id)),
      h('td', {}, entry.reason ?? 'unreadable'),
      h('td', { class: 'num' }, entry.attempts ?? '–'),
      h('td', { class: 'clip' }, entry.error ?? entry.problem ?? ''),
      h('td', { class: 'nowrap' }, formatTime(entry.last_failure_at)),
      h('td', { class: 'clip mono' }, preview(entry)),
    );
    return tr;
  });
  function open(tr, entry) {
    for (const other of tr.parentElement.children) other.classList.toggle('open', other === tr);
    detailHolder.replaceChildren(detail(entry));
  }

  const goTo = (nextCursor, back) => {
    history.set(historyKey, back);
    const next = new URLSearchParams(reason ? { reason } : {});
    if (nextCursor) next.set('cursor', nextCursor);
    location.hash = hashFor(name, next);
  };
  const pager = h(
    'div',
    { class: 'pager' },
    h(
      'button',
      { type: 'button', class: 'secondary', disabled: previous.length === 0, onclick: () => goTo(previous.at(-1), previous.slice(0, -1)) },
      '← Previous',
    ),
    h('span', { class: 'muted' }, `${page.entries.length} shown, oldest first · ${formatNumber(reasonCount)} in all`),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        'data-testid': 'next-page',
        disabled: !page.next_cursor,
        onclick: () => goTo(page.next_cursor, [...previous, cursor]),
      },
      'Next →',
    ),
  );

  const banner = notice ? h('p', { class: notice.ok ? 'notice' : 'problem', role: 'status', 'data-testid': 'notice' }, notice.text) : null;
  notice = null;
  const parts = [
    h('h1', {}, 'Dead letters'),
    h(
      'nav',
      { class: 'tabs' },
      pipelines.map((p) =>
        h(
          'a',
          { href: hashFor(p.name, new URLSearchParams()), class: p.name === name ? 'active' : '' },
          p.name,
          h('span', { class: 'count' }, formatNumber(p.dead_letter?.count)),
        ),
      ),
    ),
    h(
      'p',
      { class: 'muted' },
      `${page.location.kind} ${page.location.key}${page.reasons_complete ? '' : ' · reason counts cover the oldest 10,000 entries'}`,
    ),
    banner,
    toolbar,
    page.entries.length > 0
      ? h(
          'table',
          { class: 'entries', 'data-testid': 'entries' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['', 'Id', 'Reason', 'Attempts', 'Error', 'Last failure', 'Payload'].map((x) => h('th', {}, x)),
            ),
          ),
          h('tbody', {}, rows),
        )
      : h('p', { class: 'muted', 'data-testid': 'empty' }, 'No dead letters here.'),
    pager,
    detailHolder,
  ];
  main.replaceChildren(...parts.filter(Boolean));
  updateSelection();
}
