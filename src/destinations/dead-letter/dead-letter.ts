import { MinuteFiles } from '../file/minute-files';
import type { GatewayMetrics } from '../../metrics/metrics';

// Where events go that no route may carry: invalid beacons (the browser was answered as
// always) and accepted events too big or malformed for every destination. Each record keeps
// the reason and the payload, as gzip NDJSON under
// <dir>/<service>/<topic>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz, and is counted.

/** Bounded `reason` label values for dead letters. */
export type DeadLetterReason = 'invalid' | 'event_too_large' | 'too_large' | 'malformed';

export interface DeadLetterRecord {
  reason: DeadLetterReason;
  message: string;
  service: string;
  topic: string;
  version?: number;
  receivedAt: number;
  source: string;
  /** Field problems, for invalid events. */
  errors?: readonly { path: string; message: string }[];
  /** What the client sent, or the CloudEvent of an accepted event. */
  payload: unknown;
}

/** What goes on disk for one record. */
function toLine(r: DeadLetterRecord): { folder: string; timeMs: number; line: string } {
  return {
    folder: `${r.service}/${r.topic}`,
    timeMs: r.receivedAt,
    line: JSON.stringify({
      reason: r.reason,
      message: r.message,
      service: r.service,
      topic: r.topic,
      version: r.version,
      receivedtime: new Date(r.receivedAt).toISOString(),
      source: r.source,
      errors: r.errors,
      payload: r.payload,
    }),
  };
}

export class DeadLetter {
  private readonly files: MinuteFiles;
  /** Records written since the last append began; they leave together on the next turn. */
  private queued: DeadLetterRecord[] = [];
  private nextAppend: Promise<void> | undefined;

  constructor(
    dir: string,
    private readonly metrics: GatewayMetrics,
  ) {
    this.files = new MinuteFiles(dir);
  }

  /**
   * Counts the records and writes them; resolves once fsynced. Records written in the same
   * turn of the event loop (one per invalid beacon) share one append.
   */
  write(records: readonly DeadLetterRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    this.count(records);
    for (const r of records) this.queued.push(r);
    this.nextAppend ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const batch = this.queued;
      this.queued = [];
      this.nextAppend = undefined;
      return this.files.appendLines(batch.map(toLine));
    });
    return this.nextAppend;
  }

  async close(): Promise<void> {
    await this.nextAppend?.catch(() => undefined);
    await this.files.close();
  }

  /** Counted once per service, topic, version and reason in the batch, not per record. */
  private count(records: readonly DeadLetterRecord[]): void {
    const groups = new Map<string, { r: DeadLetterRecord; n: number }>();
    for (const r of records) {
      const key = `${r.service}\0${r.topic}\0${r.version ?? ''}\0${r.reason}`;
      const group = groups.get(key);
      if (group) group.n++;
      else groups.set(key, { r, n: 1 });
    }
    for (const { r, n } of groups.values()) {
      this.metrics.eventsDeadLettered.labels(r.service, r.topic, r.reason).inc(n);
      this.metrics.events.labels(r.service, r.topic, String(r.version ?? ''), 'dead_lettered').inc(n);
    }
  }
}
