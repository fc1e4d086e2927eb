// The JSON API (docs/console.md). Changes send the CSRF token the server put in the page.
const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

async function parse(response) {
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (response.status === 401) location.assign('/login');
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
}

export async function getJson(path) {
  return parse(await fetch(path, { headers: { Accept: 'application/json' }, credentials: 'same-origin' }));
}

export async function postJson(path, body) {
  return parse(
    await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    }),
  );
}

export function pipelinePath(name) {
  return `/api/pipelines/${encodeURIComponent(name)}/dead-letters`;
}
