import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PythiaMetrics } from '../../src/metrics/index.ts';

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/pythia-dashboard.json', import.meta.url), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; definition?: string }[] };
};
const docs = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');

describe('Grafana dashboard and metrics docs', () => {
  it('queries only metrics the registry exposes, and uses every metric docs/metrics.md lists', async () => {
    const exposition = await new PythiaMetrics().scrape();
    const exposed = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    const expressions = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => v.definition ?? ''),
    ];
    const used = new Set(
      expressions.flatMap((e) =>
        [...e.matchAll(/\b((?:pythia|process|nodejs)_[a-z0-9_]+)/g)].map((m) => (m[1] as string).replace(/_(bucket|sum|count)$/, '')),
      ),
    );
    for (const name of used) assert.ok(exposed.has(name), `the dashboard queries ${name}, which the registry does not expose`);
    for (const name of exposed) if (name.startsWith('pythia_')) assert.ok(used.has(name), `no panel shows ${name}`);
  });

  it('filters every query by job (a second scrape job must not leak into the panels), then by instance', () => {
    assert.ok(
      dashboard.templating.list.some((v) => v.name === 'job'),
      'a job variable',
    );
    const expressions = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
    for (const { title, expr } of expressions) {
      const selectors = [...expr.matchAll(/\b(?:pythia|process|nodejs)_[a-z0-9_]+(\{[^}]*\})?/g)];
      assert.ok(selectors.length > 0, title);
      for (const [whole, labels] of selectors) assert.match(labels ?? '', /job=~"\$job", instance=~"\$instance"/, `${title}: ${whole}`);
    }
  });

  it('has unique panel ids, and every panel has a query', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) assert.ok((panel.targets ?? []).length > 0, panel.title);
  });

  it('docs/metrics.md documents every pythia_* metric and the dashboard', async () => {
    const exposition = await new PythiaMetrics({ defaultMetrics: false }).scrape();
    for (const [, name] of exposition.matchAll(/^# TYPE (\S+) /gm)) assert.ok(docs.includes(`\`${name}\``), `${name} is documented`);
    assert.ok(docs.includes('deploy/grafana/pythia-dashboard.json'));
  });
});
