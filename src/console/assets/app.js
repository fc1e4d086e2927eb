// The console page: three views over the JSON API, routed by the URL's hash. Plain ES modules,
// no build step: the server sends these files as they are.
import { renderDeadLetters } from './dead-letters.js';
import { h } from './dom.js';
import { renderOverview } from './overview.js';
import { renderWorkers } from './workers.js';

const main = document.getElementById('main');
const updated = document.getElementById('updated');
const REFRESH_MS = 2000;
let timer;
let generation = 0;

function route() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] ?? 'overview', pipeline: parts[1], params: new URLSearchParams(query) };
}

async function show() {
  clearTimeout(timer);
  const mine = ++generation;
  const { view, pipeline, params } = route();
  for (const link of document.querySelectorAll('[data-nav]'))
    link.classList.toggle('active', link.dataset.nav === view || (view === 'overview' && link.dataset.nav === 'overview'));
  const stillCurrent = () => mine === generation;
  try {
    if (view === 'dead-letters') {
      await renderDeadLetters(main, { pipeline, params, stillCurrent });
      updated.textContent = `loaded ${new Date().toLocaleTimeString()}`;
      return;
    }
    const render = view === 'workers' ? renderWorkers : renderOverview;
    const tick = async () => {
      if (!stillCurrent()) return;
      try {
        await render(main, { stillCurrent });
        updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      } catch (error) {
        main.replaceChildren(h('p', { class: 'problem' }, `Cannot load: ${error.message}`));
      }
      if (stillCurrent()) timer = setTimeout(tick, REFRESH_MS);
    };
    await tick();
  } catch (error) {
    main.replaceChildren(h('p', { class: 'problem' }, `Cannot load: ${error.message}`));
  }
}

window.addEventListener('hashchange', show);
show();
