import type { Registry } from 'prom-client';

/** One labelled series of a FastHistogram: `observe` is a bucket search and three additions. */
export class HistogramSeries {
  /** Per bucket (the last one is +Inf), not cumulative. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

interface Options<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  buckets: readonly number[];
  registers: Registry[];
}

/**
 * A Prometheus histogram for the per-message hot path. prom-client's Histogram hashes the label
 * values on every observe(), even through a labels() child (its profile showed that hashing, and
 * the garbage it makes, as a visible share of a worker's CPU). Here a series is resolved once
 * (`series(labels)`) and observing is plain arithmetic; the exposition is built at scrape time, in
 * prom-client's format, so the metric registers in a prom-client Registry like any other.
 */
export class FastHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly L[];
  private readonly bounds: readonly number[];
  private readonly all = new Map<string, HistogramSeries>();

  constructor(options: Options<L>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    this.bounds = [...options.buckets].sort((a, b) => a - b);
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  private keyOf(labels: Partial<Record<L, string>>): string {
    return this.labelNames.map((name) => labels[name] ?? '').join('\u0000');
  }

  /** The series of these label values, made on first use; keep it and call its observe(). */
  series(labels: Partial<Record<L, string>>): HistogramSeries {
    const key = this.keyOf(labels);
    let series = this.all.get(key);
    if (!series) {
      const own: Record<string, string> = {};
      for (const name of this.labelNames) if (labels[name] !== undefined) own[name] = labels[name] as string;
      series = new HistogramSeries(own, this.bounds);
      this.all.set(key, series);
    }
    return series;
  }

  /** prom-client's Histogram signature, for code that observes rarely. */
  observe(labels: Partial<Record<L, string>>, value: number): void {
    this.series(labels).observe(value);
  }

  reset(): void {
    this.all.clear();
  }

  /** What prom-client's Registry serializes (the shape of its own histograms' getForPromString()). */
  getForPromString(): Promise<HistogramData> {
    const values: HistogramValue[] = [];
    for (const series of this.all.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += series.counts[i] as number;
        values.push({
          labels: { le: i < this.bounds.length ? (this.bounds[i] as number) : '+Inf' },
          sharedLabels: series.labels,
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** The same with each bucket's labels in one object (prom-client's get(), used by getMetricsAsJSON). */
  async get(): Promise<HistogramData> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, ...value }) => ({ ...value, labels: { ...value.labels, ...sharedLabels } }));
    return data;
  }
}

interface HistogramValue {
  labels: Record<string, string | number>;
  sharedLabels?: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
}

interface HistogramData {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: HistogramValue[];
}
