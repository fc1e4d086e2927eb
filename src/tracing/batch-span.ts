import { context as contextApi, type Attributes, type Link, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { ActiveSpan } from './active-span.ts';
import { type AttemptSpanSettings, destinationOf, markFailed, OtelAttemptTrace } from './attempt-span.ts';
import type { BatchTrace, TracedBatchMember } from './types.ts';

/**
 * The span of one batch handler call (handler.batch): a CONSUMER span `process <destination>` with
 * `messaging.batch.message_count`, as the OpenTelemetry messaging conventions describe batch processing.
 * The messages of a batch may belong to as many traces, so it has no parent: it starts a trace of its
 * own (sampled per sample_ratio) and links to each message's `process` span, each of which links back
 * to it (`pythia.link=batch`). It is the span active while the handler runs: the handler's own spans
 * (one bulk INSERT, one bulk HTTP call) are its children. The SDK keeps the first 128 links of a span
 * (OTEL_SPAN_LINK_COUNT_LIMIT); the links from the messages' spans are all kept.
 */
export class OtelBatchTrace extends ActiveSpan implements BatchTrace {
  private ended = false;

  constructor(settings: AttemptSpanSettings, members: readonly TracedBatchMember[]) {
    const first = members[0];
    // One source key per pipeline, but a pattern subscription delivers from many channels.
    const destination = first !== undefined ? destinationOf(first) : '';
    const shared = members.every((member) => destinationOf(member) === destination);
    const links: Link[] = [];
    for (const member of members) {
      if (member.trace instanceof OtelAttemptTrace)
        links.push({ context: member.trace.spanContext, attributes: { 'pythia.link': 'message' } });
    }
    const attributes: Attributes = {
      'messaging.system': 'redis',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.batch.message_count': members.length,
      'pythia.pipeline': settings.pipeline,
    };
    if (shared) attributes['messaging.destination.name'] = destination;
    if (first !== undefined) attributes['pythia.source.kind'] = first.delivery.origin.kind;
    if (settings.consumerGroup !== undefined) attributes['messaging.consumer.group.name'] = settings.consumerGroup;
    const name = shared ? `process ${destination}` : 'process';
    super(settings.tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes, links }, ROOT_CONTEXT), ROOT_CONTEXT);
    const ids = this.span.spanContext();
    for (const member of members) if (member.trace instanceof OtelAttemptTrace) member.trace.linkBatch(ids);
  }

  run<M, C>(call: (messages: M, context: C) => Promise<unknown>, messages: M, context: C): Promise<unknown> {
    return contextApi.with(this.active, call, undefined, messages, context);
  }

  failed(error: unknown): void {
    if (this.ended) return;
    markFailed(this.span, error);
    this.close();
  }

  end(failures: number): void {
    if (this.ended) return;
    this.span.setAttribute('pythia.batch.failed_count', failures);
    this.close();
  }

  private close(): void {
    this.ended = true;
    this.span.end();
  }
}
