// The docs cannot drift: the DSL reference is regenerated from the schema and compared, the
// migration guide covers every Python setting the way the validator's hints do, and links resolve.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pipelineSchema } from '../../src/config/index.ts';
import type { JsonSchema } from '../../src/config/schema.ts';
import { suggestKey } from '../../src/config/suggest.ts';
import { ROOT } from '../helpers/pipelines.ts';
// @ts-expect-error: a plain .mjs script without type declarations
import { OUTPUT, render } from '../../scripts/gen-dsl-reference.mjs';

const docs = path.join(ROOT, 'docs');
const read = (file: string) => readFileSync(path.join(docs, file), 'utf8');

const PYTHON = {
  RedisConfig: [
    'host',
    'port',
    'db',
    'password',
    'queue',
    'stream',
    'consumer_group',
    'channel',
    'batch_size',
    'block_timeout_ms',
    'max_stream_length',
    'trim_strategy',
    'connection_pool_size',
    'socket_keepalive',
    'socket_timeout',
    'connection_timeout',
    'retry_on_timeout',
    'health_check_interval',
  ],
  ResilienceConfig: [
    'max_retries',
    'retry_delay',
    'retry_backoff',
    'retry_max_delay',
    'circuit_breaker_enabled',
    'circuit_breaker_threshold',
    'circuit_breaker_timeout',
    'processing_timeout',
  ],
  MetricsConfig: ['enabled', 'port', 'path', 'prometheus_enabled', 'prometheus_prefix', 'custom_metrics'],
};

describe('docs', () => {
  it('docs/dsl-reference.md is what `npm run docs` generates from the schema (run it after changing the schema)', () => {
    const committed = readFileSync(OUTPUT as string, 'utf8');
    assert.equal(committed, (render as () => string)(), 'docs/dsl-reference.md is stale: run `npm run docs`');
  });

  it('the reference documents every key of the schema with its description', () => {
    const reference = read('dsl-reference.md');
    const walk = (node: { properties?: Record<string, { description?: string; properties?: unknown; items?: unknown }> }, at: string[]) => {
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        assert.ok(reference.includes(`\`${key}\``), `${[...at, key].join('.')} is documented`);
        assert.ok(
          child.description && reference.includes(child.description.replaceAll('|', '\\|').split('\n')[0] as string),
          `${[...at, key].join('.')} has its description`,
        );
        walk(child as never, [...at, key]);
        if (child.items) walk(child.items as never, [...at, key]);
      }
    };
    walk(pipelineSchema() as never, []);
  });

  it('the migration guide maps every RedisConfig / ResilienceConfig / MetricsConfig field, consistently with the validator', () => {
    const guide = read('migrating-from-python.md');
    for (const [section, fields] of Object.entries(PYTHON)) {
      const start = guide.indexOf(`## \`${section}\``);
      assert.ok(start >= 0, `a ${section} section`);
      const body = guide.slice(start, guide.indexOf('\n## ', start + 1));
      for (const field of fields) {
        const row = body.split('\n').find((l) => l.startsWith(`| \`${field}\``) || l.startsWith(`| \`${field}=`));
        assert.ok(row, `${section}.${field} has a row`);
        // Where the validator names a replacement for the Python key, the guide names the same one.
        const hint = /Python setting "[^"]+" is (\S+)/.exec(suggestKey(field, [], pipelineSchema(), ['nowhere']))?.[1];
        if (hint && hint !== 'nothing:') assert.ok(row.includes(hint), `${field}: the guide says ${hint} as the validator does\n${row}`);
      }
    }
  });

  it('relative links between the docs resolve', () => {
    // Pages other engineers write; linked ahead of time.
    const pending = new Set(['metrics.md', 'command-handlers.md', 'dead-letters.md', 'scaling.md']);
    const mine = ['getting-started.md', 'delivery-guarantees.md', 'operations.md', 'migrating-from-python.md', 'dsl-reference.md'];
    for (const file of mine.filter((f) => readdirSync(docs).includes(f))) {
      for (const [, target] of read(file).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target as string) || pending.has(target as string)) continue;
        assert.ok(existsSync(path.join(docs, target as string)), `${file} links to ${target}`);
      }
    }
  });
});

describe('docs/troubleshooting.md', () => {
  const text = read('troubleshooting.md');

  it('answers timeouts, memory, CPU, connection errors and stream growth, and README links to it', () => {
    const headings = [...text.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    for (const topic of ['Timeouts', 'Memory', 'CPU', 'Connection errors', 'Stream growth']) assert.ok(headings.includes(topic), topic);
    // Each topic names how to diagnose it.
    for (const section of text.split(/^## /m).slice(1, 6))
      assert.match(section, /\*\*Diagnose\*\*[\s\S]*(pythia_|process_|nodejs_|pythia dlq|\/readyz|redis-cli)/);
    assert.match(readFileSync(path.join(ROOT, 'README.md'), 'utf8'), /\]\(docs\/troubleshooting\.md\)/);
  });

  it('names only metrics the worker exposes, config keys the schema has, and files that exist', async () => {
    const { PythiaMetrics } = await import('../../src/metrics/index.ts');
    const exposition = await new PythiaMetrics().scrape();
    const exposed = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    for (const [, name] of text.matchAll(/\b((?:pythia|process|nodejs)_[a-z0-9_]+)/g)) {
      assert.ok(exposed.has((name as string).replace(/_(bucket|sum|count)$/, '')), `${name} is exposed`);
    }
    const has = (dottedKey: string) => {
      let node: JsonSchema | undefined = pipelineSchema();
      for (const part of dottedKey.split('.')) node = node?.properties?.[part];
      return node !== undefined;
    };
    for (const [, key] of text.matchAll(/`((?:source|resilience|redis|message|metrics|output|dead_letter|handler)\.[a-z_.]+)`/g))
      assert.ok(has(key as string), `${key} is a config key`);
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g))
      assert.ok(existsSync(path.join(docs, target as string)), `links to ${target}`);
  });
});
