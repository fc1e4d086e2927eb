import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as an OTLP/JSON export carries it, with its attributes flattened to a plain object. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  events: { name: string; attributes: Record<string, string | number | boolean> }[];
  links: { traceId: string; spanId: string; attributes: Record<string, string | number | boolean> }[];
  /** The resource's service.name. */
  service: string;
}

export const KIND = { internal: 1, producer: 4, consumer: 5 } as const;

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttribute = { key: string; value: OtlpValue };
interface RawSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  status?: { code: number; message?: string };
  events?: { name: string; attributes?: OtlpAttribute[] }[];
  links?: { traceId: string; spanId: string; attributes?: OtlpAttribute[] }[];
}

function flatten(attributes: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attributes ?? []) {
    out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue ?? ''));
  }
  return out;
}

/**
 * An OTLP/HTTP receiver for tests: a node:http server that collects what exporters POST to /v1/traces.
 * JSON payloads are decoded into spans; protobuf ones are only counted (with their content type).
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly requests: { contentType: string; path: string; headers: IncomingMessage['headers']; bytes: number }[] = [];
  private readonly server: Server = createServer();

  /** Not listening yet: `listen()` (or `OtlpReceiver.start()`) before a test exports to it. */
  constructor() {
    this.server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        const contentType = String(request.headers['content-type'] ?? '');
        this.requests.push({ contentType, path: request.url ?? '', headers: request.headers, bytes: body.length });
        if (contentType.includes('json')) this.collect(JSON.parse(body.toString('utf8')));
        response.writeHead(200, { 'content-type': contentType.includes('json') ? 'application/json' : 'application/x-protobuf' });
        response.end(contentType.includes('json') ? '{}' : '');
      });
    });
  }

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await receiver.listen();
    return receiver;
  }

  /** Listens on a free port of 127.0.0.1. */
  listen(): Promise<void> {
    return new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private collect(payload: {
    resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: RawSpan[] }[] }[];
  }): void {
    for (const resourceSpans of payload.resourceSpans ?? []) {
      const service = String(flatten(resourceSpans.resource?.attributes)['service.name'] ?? '');
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            kind: span.kind,
            attributes: flatten(span.attributes),
            status: span.status ?? { code: 0 },
            events: (span.events ?? []).map((e) => ({
              name: e.name,
              attributes: flatten(e.attributes),
            })),
            links: (span.links ?? []).map((l) => ({
              traceId: l.traceId,
              spanId: l.spanId,
              attributes: flatten(l.attributes),
            })),
            service,
          });
        }
      }
    }
  }

  /** The spans of one trace as an indented tree (for reports and failure messages). */
  tree(traceId: string): string {
    const inTrace = this.spans.filter((s) => s.traceId === traceId);
    const ids = new Set(inTrace.map((s) => s.spanId));
    const lines: string[] = [];
    const kinds: Record<number, string> = { 1: 'INTERNAL', 2: 'SERVER', 3: 'CLIENT', 4: 'PRODUCER', 5: 'CONSUMER' };
    const walk = (parent: string, depth: number): void => {
      for (const span of inTrace.filter((s) => (depth === 0 ? !ids.has(s.parentSpanId) : s.parentSpanId === parent))) {
        const status = span.status.code === 2 ? ` ERROR(${span.status.message ?? ''})` : '';
        const outcome = span.attributes['pythia.outcome'] ? ` outcome=${span.attributes['pythia.outcome']}` : '';
        const parentNote = depth === 0 && span.parentSpanId ? ` parent=${span.parentSpanId}` : '';
        lines.push(
          `${'  '.repeat(depth)}${span.name} [${kinds[span.kind] ?? span.kind}] span=${span.spanId}${parentNote}${outcome}${status}`,
        );
        walk(span.spanId, depth + 1);
      }
    };
    walk('', 0);
    return `trace ${traceId}\n${lines.join('\n')}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
