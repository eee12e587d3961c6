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
  errors?: { path: string; message: string }[];
  /** What the client sent, or the CloudEvent of an accepted event. */
  payload: unknown;
}

export class DeadLetter {
  private readonly files: MinuteFiles;

  constructor(
    dir: string,
    private readonly metrics: GatewayMetrics,
  ) {
    this.files = new MinuteFiles(dir);
  }

  /** Writes records of one service/topic; resolves once fsynced. */
  async write(records: readonly DeadLetterRecord[]): Promise<void> {
    if (records.length === 0) return;
    const byFile = new Map<string, string>();
    for (const r of records) {
      const path = this.files.pathFor(`${r.service}/${r.topic}`, r.receivedAt);
      const line = JSON.stringify({
        reason: r.reason,
        message: r.message,
        service: r.service,
        topic: r.topic,
        version: r.version,
        receivedtime: new Date(r.receivedAt).toISOString(),
        source: r.source,
        errors: r.errors,
        payload: r.payload,
      });
      byFile.set(path, (byFile.get(path) ?? '') + line + '\n');
      this.count(r);
    }
    await Promise.all([...byFile].map(([path, lines]) => this.files.append(path, lines)));
  }

  close(): Promise<void> {
    return this.files.close();
  }

  private count(r: DeadLetterRecord): void {
    this.metrics.eventsDeadLettered.labels(r.service, r.topic, r.reason).inc();
    this.metrics.events.labels(r.service, r.topic, String(r.version ?? ''), 'dead_lettered').inc();
  }
}
