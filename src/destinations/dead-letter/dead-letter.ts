import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { MinuteFiles } from '../file/minute-files';
import type { GatewayMetrics } from '../../metrics/metrics';
import { LogLimiter } from '../../log/log-limiter';

// Where events go that no route may carry: invalid beacons (the browser was answered as
// always) and accepted events too big or malformed for every destination. Each record keeps
// the reason and the payload, as gzip NDJSON under
// <dir>/<service>/<topic>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz, and is counted.
//
// Anyone on the internet can make a dead letter (an invalid beacon needs no key), so both
// what one record stores and what all of them take on disk are bounded: a payload over
// `maxPayloadBytes` is cut, keeping its size and SHA-256; past `maxBytes` on disk new dead
// letters are counted as dropped (`dead_letter_full`) and logged, never written.

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
  /** The route (its label) that could not carry an accepted event; absent for events no route was tried for (invalid). */
  route?: string;
  /** Field problems, for invalid events. */
  errors?: readonly { path: string; message: string }[];
  /** What the client sent, or the CloudEvent of an accepted event. */
  payload: unknown;
}

export interface DeadLetterLimits {
  maxPayloadBytes: number;
  maxBytes: number;
}

/** Problems kept per record: enough to fix the event, not a copy of a garbage object. */
const MAX_ERRORS_PER_RECORD = 20;

/** The JSON text of a payload, or a note saying why it has none (too deep, unserialisable). */
function payloadText(payload: unknown): string {
  if (typeof payload === 'string') return JSON.stringify(payload);
  try {
    return JSON.stringify(payload) ?? 'null';
  } catch (err) {
    return JSON.stringify(`[payload not serialisable: ${(err as Error).message}]`);
  }
}

/** What goes on disk for one record: the payload whole when it fits, else cut with its size and digest. */
export function deadLetterLine(r: DeadLetterRecord, maxPayloadBytes: number): string {
  const text = payloadText(r.payload);
  const bytes = Buffer.byteLength(text);
  const fits = bytes <= maxPayloadBytes;
  const head = JSON.stringify({
    reason: r.reason,
    message: r.message.length > 1024 ? `${r.message.slice(0, 1024)}…` : r.message,
    service: r.service,
    topic: r.topic,
    version: r.version,
    receivedtime: new Date(r.receivedAt).toISOString(),
    source: r.source,
    route: r.route,
    errors: r.errors?.slice(0, MAX_ERRORS_PER_RECORD),
    payloadBytes: bytes,
    payloadTruncated: fits ? undefined : Buffer.from(text).subarray(0, maxPayloadBytes).toString('utf8'),
    payloadSha256: fits ? undefined : createHash('sha256').update(text).digest('hex'),
  });
  // The payload's JSON text is spliced in as it is rather than parsed back and stringified again.
  return fits ? `${head.slice(0, -1)},"payload":${text}}` : head;
}

export class DeadLetter {
  private readonly files: MinuteFiles;
  /** Lines written since the last append began, and their records; they leave together on the next turn. */
  private queued: { folder: string; timeMs: number; line: string }[] = [];
  private pending: (readonly DeadLetterRecord[])[] = [];
  private nextAppend: Promise<boolean> | undefined;
  /** Bytes on disk at start (once `start` has looked) plus the bytes of every line written since (before gzip). */
  private usedBytes = 0;
  private readonly logLimiter = new LogLimiter(10_000);

  constructor(
    private readonly dir: string,
    private readonly limits: DeadLetterLimits,
    private readonly metrics: GatewayMetrics,
    private readonly log: FastifyBaseLogger,
  ) {
    this.files = new MinuteFiles(dir, { name: 'dead_letter', log, metrics, limiter: this.logLimiter });
    metrics.deadLetterBytes.sample = () => this.usedBytes;
    metrics.deadLetterLimitBytes.set(limits.maxBytes);
  }

  /** Cuts torn tails a crash left in the dead letter's files, and counts what they hold against the bound. */
  async start(): Promise<void> {
    this.usedBytes = await this.files.repair({ skipReserved: false });
  }

  /**
   * Counts the records and writes them; resolves true once fsynced, false when they were
   * dropped (disk bound reached, or the write failed: counted in events_dropped_total and
   * logged). Records written in the same turn of the event loop (one per invalid beacon)
   * share one append.
   */
  write(records: readonly DeadLetterRecord[]): Promise<boolean> {
    if (records.length === 0) return Promise.resolve(true);
    const lines = records.map((r) => ({ folder: `${r.service}/${r.topic}`, timeMs: r.receivedAt, line: deadLetterLine(r, this.limits.maxPayloadBytes) }));
    const bytes = lines.reduce((sum, l) => sum + l.line.length + 1, 0);
    if (this.usedBytes + bytes > this.limits.maxBytes) {
      this.drop(records, 'dead_letter_full', `the dead letter holds ${this.usedBytes} bytes of its ${this.limits.maxBytes} (deadLetter.maxBytes)`);
      return Promise.resolve(false);
    }
    this.usedBytes += bytes;
    this.count(records);
    for (const line of lines) this.queued.push(line);
    this.pending.push(records);
    this.nextAppend ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const batch = this.queued;
      const batchRecords = this.pending.flat();
      this.queued = [];
      this.pending = [];
      this.nextAppend = undefined;
      const notWrittenOf = (indexes: number[], error: Error) => {
        // Lines not written take no disk: they leave the count they were added to.
        this.usedBytes -= indexes.reduce((sum, i) => sum + batch[i].line.length + 1, 0);
        this.drop(indexes.map((i) => batchRecords[i]), 'dead_letter_failed', `write under ${this.dir} failed: ${error.message}`);
        return false;
      };
      return this.files.appendLines(batch).then(
        (notWritten) => notWritten.length === 0 || notWrittenOf(notWritten.flatMap((f) => f.indexes), notWritten[0].error),
        (err: Error) => notWrittenOf(batch.map((_, i) => i), err),
      );
    });
    return this.nextAppend;
  }

  async close(): Promise<void> {
    await this.nextAppend;
    await this.files.close();
  }

  private drop(records: readonly DeadLetterRecord[], reason: 'dead_letter_full' | 'dead_letter_failed', why: string): void {
    for (const { r, n } of groupsOf(records)) this.metrics.eventsDropped.labels(r.service, r.topic, reason).inc(n);
    // Anonymous beacons can cause this at any rate: the reason is logged, not every time.
    this.logLimiter.run(reason, (suppressed) => this.log.error({ reason, records: records.length, suppressed }, `dead letters dropped: ${why}`));
  }

  /** Counted once per service, topic, version and reason in the batch, not per record. */
  private count(records: readonly DeadLetterRecord[]): void {
    for (const { r, n } of groupsOf(records)) {
      this.metrics.eventsDeadLettered.labels(r.service, r.topic, r.reason).inc(n);
      this.metrics.events.labels(r.service, r.topic, String(r.version ?? ''), 'dead_lettered').inc(n);
    }
  }
}

function groupsOf(records: readonly DeadLetterRecord[]): Iterable<{ r: DeadLetterRecord; n: number }> {
  const groups = new Map<string, { r: DeadLetterRecord; n: number }>();
  for (const r of records) {
    const key = `${r.service}\0${r.topic}\0${r.version ?? ''}\0${r.reason}`;
    const group = groups.get(key);
    if (group) group.n++;
    else groups.set(key, { r, n: 1 });
  }
  return groups.values();
}
