import { Counter, type CounterConfiguration, type LabelValues } from 'prom-client';

/**
 * A prom-client Counter whose label children add up in a plain number until the counter is
 * read (scraped). prom-client's own children hash their label values on every inc; on the
 * pixel path, per request, that hashing cost more than the work it counted (7% of a beacon
 * in `npm run bench:pipeline`'s profile). Reads see every increment: prom-client calls
 * `collect` before it reads a counter's values.
 */
export class SummingCounter<T extends string> extends Counter<T> {
  private readonly children = new Map<string, SummedChild<T>>();

  constructor(config: CounterConfiguration<T>) {
    super({
      ...config,
      collect(this: Counter<T>) {
        (this as SummingCounter<T>).flush();
      },
    });
  }

  labels(...values: string[]): Counter.Internal;
  labels(labels: LabelValues<T>): Counter.Internal;
  labels(...args: unknown[]): Counter.Internal {
    if (typeof args[0] !== 'string') return super.labels(args[0] as LabelValues<T>);
    const values = args as string[];
    const key = values.join('\0');
    let child = this.children.get(key);
    if (child === undefined) {
      // Resolving through prom-client once checks the label count and values.
      super.labels(...values);
      const names = (this as unknown as { labelNames: string[] }).labelNames;
      child = new SummedChild(Object.fromEntries(names.map((name, i) => [name, values[i]])) as LabelValues<T>);
      this.children.set(key, child);
    }
    return child;
  }

  private flush(): void {
    for (const child of this.children.values()) {
      if (!child.touched) continue;
      this.inc(child.labels, child.pending);
      child.pending = 0;
      child.touched = false;
    }
  }
}

class SummedChild<T extends string> {
  pending = 0;
  /** Incremented since the last flush, if only by 0: prom-client shows a series once it is. */
  touched = false;
  constructor(readonly labels: LabelValues<T>) {}

  inc(value = 1): void {
    if (!(value >= 0) || !Number.isFinite(value)) throw new TypeError(`a counter goes up by a finite amount, not ${value}`);
    this.pending += value;
    this.touched = true;
  }
}
