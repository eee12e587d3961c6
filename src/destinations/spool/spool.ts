import { mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GatewayEvent } from '../../envelope/envelope';
import { LogLimiter } from '../../log/log-limiter';
import type { GatewayMetrics } from '../../metrics/metrics';
import { DestinationError, encodeEach, type Destination, type DestinationLog, type RecordFailure } from '../destination';
import { Appender, fsyncDir, type DiskStore } from '../util/appender';
import { reportTornTail } from '../util/torn-tail';
import { encodeSpoolEntry } from './spool-entry';
import { frameRecord, scanSegment } from './segment-file';

// The last hop of every route: append-only segment files on local disk, a checksum per
// record, written through the shared Appender (group commit, fsync before the answer, a
// failed append cut back before anything later). Segments are sealed and replayed to the
// head of their events' routes when the chain recovers (route/spool-replay.ts), then deleted.
// Bounded in bytes: when full, a send fails as unavailable and the router keeps the events in
// memory, where the memory bound answers 503.

export const SEGMENT_PATTERN = /^segment-(\d{12})\.log$/;

/**
 * Bytes waiting in memory for the disk. Beacons spilled under memory pressure come faster
 * than a slow disk takes them; past this the spool refuses, so that it is no way around the
 * memory bound.
 */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** How often a failing disk's reason is logged at most. */
const LOG_INTERVAL_MS = 10_000;

interface Segment {
  seq: number;
  path: string;
  /** Bytes and records appended, or being appended; a failed append takes its share back. */
  bytes: number;
  records: number;
}

export interface SealedSegment {
  path: string;
  records: number;
}

export class Spool implements Destination {
  readonly type = 'spool';
  readonly maxRecordBytes = 16 * 1024 * 1024;
  private readonly sealed: Segment[] = [];
  private active: (Segment & { appender: Appender }) | undefined;
  /** Segments rolled over whose last appends are still being written. */
  private readonly sealing = new Set<Promise<void>>();
  private nextSeq = 1;
  private totalBytes = 0;
  private totalRecords = 0;
  private appendedRecords = 0;
  private queuedBytes = 0;
  private lastAppendFailed = false;
  private readonly store: DiskStore;

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentBytes: number,
    private readonly metrics: GatewayMetrics,
    private readonly log: DestinationLog,
  ) {
    this.store = { name: 'spool', log, metrics, limiter: new LogLimiter(LOG_INTERVAL_MS) };
    metrics.spoolBytes.sample = () => this.totalBytes;
    metrics.spoolRecords.sample = () => this.totalRecords;
    metrics.spoolLimitBytes.set(maxBytes);
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get records(): number {
    return this.totalRecords;
  }

  /** Events ever appended by this process. */
  get appended(): number {
    return this.appendedRecords;
  }

  /** Finds the segments a previous process left, cuts off torn tails, and queues them for replay. */
  async start(): Promise<void> {
    const created = await mkdir(this.dir, { recursive: true });
    if (created !== undefined) await fsyncDir(dirname(created));
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_PATTERN.test(n)).sort();
    for (const name of names) {
      const seq = Number(SEGMENT_PATTERN.exec(name)![1]);
      const path = join(this.dir, name);
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (err) {
        // One unreadable segment must not keep the gateway from starting: replay tries it again
        // with a backoff (and logs and counts each new failure) while the others go on.
        this.metrics.backgroundErrors.labels('spool_replay').inc();
        this.log.error({ task: 'spool_replay', file: path, code: (err as NodeJS.ErrnoException).code, err }, `cannot read spool segment ${path} at start: ${(err as Error).message}; replay tries it again later`);
        this.sealed.push({ seq, path, bytes: 0, records: 0 });
        continue;
      }
      const scan = scanSegment(bytes);
      if (scan.payloads.length === 0) {
        await unlink(path);
      } else {
        if (scan.corruptTail) await this.cutTornTail(path, bytes.length, scan.validBytes);
        this.sealed.push({ seq, path, bytes: scan.validBytes, records: scan.payloads.length });
        this.totalBytes += scan.validBytes;
        this.totalRecords += scan.payloads.length;
      }
    }
  }

  /** Whether `bytes` more would fit, on disk and in the write queue; beacons ask before being answered from the spool. */
  hasRoomFor(bytes: number): boolean {
    return this.totalBytes + bytes <= this.maxBytes && this.queuedBytes + bytes <= MAX_QUEUED_BYTES;
  }

  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    const failures: RecordFailure[] = [];
    const frames = encodeEach(events, (event) => frameRecord(encodeSpoolEntry(event)), failures).map((e) => e.value);
    if (frames.length === 0) return failures;
    const bytes = frames.reduce((sum, f) => sum + f.length, 0);
    if (!this.hasRoomFor(bytes)) {
      this.metrics.spoolFullRejections.inc(events.length);
      const message = `spool is full (${this.totalBytes} of ${this.maxBytes} bytes on disk, ${this.queuedBytes} queued for writing)`;
      this.store.limiter.run('full', (suppressed) => this.log.warn({ store: 'spool', records: events.length, spoolBytes: this.totalBytes, queuedBytes: this.queuedBytes, suppressed }, message));
      throw new DestinationError('unavailable', message);
    }
    // Counted at once, so that concurrent sends see the room already taken.
    this.totalBytes += bytes;
    this.totalRecords += frames.length;
    this.queuedBytes += bytes;
    const segment = this.activeSegment();
    segment.bytes += bytes;
    segment.records += frames.length;
    const appended = segment.appender.append(frames.length === 1 ? frames[0] : Buffer.concat(frames));
    // Later sends go to a new segment; this one is sealed once its appends are written.
    if (segment.bytes >= this.segmentBytes) this.roll(segment);
    try {
      await appended;
    } catch (err) {
      this.totalBytes -= bytes;
      this.totalRecords -= frames.length;
      segment.bytes -= bytes;
      segment.records -= frames.length;
      this.lastAppendFailed = true;
      // A segment that could not be cut back takes nothing more: the next send starts another.
      if (segment.appender.broken && this.active === segment) this.roll(segment);
      throw new DestinationError('unavailable', `spool write failed: ${(err as Error).message}`);
    } finally {
      this.queuedBytes -= bytes;
    }
    this.lastAppendFailed = false;
    this.appendedRecords += frames.length;
    return failures;
  }

  isHealthy(): boolean {
    return this.totalBytes < this.maxBytes && !this.lastAppendFailed;
  }

  /**
   * The oldest segment to replay, leaving out those `skip` names (replay could not read them
   * lately). When none is sealed, the active one is sealed first, so that events spooled
   * moments ago can go back as soon as the chain recovers.
   */
  async nextForReplay(skip: (path: string) => boolean = () => false): Promise<SealedSegment | undefined> {
    await this.settleSealing();
    let next = this.sealed.find((s) => !skip(s.path));
    if (!next && this.active && this.active.records > 0 && !skip(this.active.path)) {
      this.roll(this.active);
      await this.settleSealing();
      next = this.sealed.find((s) => !skip(s.path));
    }
    return next && { path: next.path, records: next.records };
  }

  /** The records of a sealed segment; a torn or corrupt tail (never acknowledged) is left out, counted and logged. */
  async readSegment(path: string): Promise<Buffer[]> {
    const bytes = await readFile(path);
    const scan = scanSegment(bytes);
    if (scan.corruptTail) reportTornTail(this.log, this.metrics, 'spool_segment', path, bytes.length, scan.validBytes);
    return scan.payloads;
  }

  /** Deletes a segment whose every event has been delivered or dead-lettered. */
  async remove(path: string): Promise<void> {
    const segment = this.sealed.find((s) => s.path === path);
    if (!segment) return;
    await unlink(path);
    // Without this a power loss could bring the segment back, and its events would be
    // delivered a second time.
    await fsyncDir(dirname(path));
    this.sealed.splice(this.sealed.indexOf(segment), 1);
    this.totalBytes -= segment.bytes;
    this.totalRecords -= segment.records;
  }

  async close(): Promise<void> {
    if (this.active) this.roll(this.active);
    await this.settleSealing();
  }

  /** Stops appending to `segment`; once its appends are written it is closed and sealed for replay (or removed, if empty). */
  private roll(segment: Segment & { appender: Appender }): void {
    if (this.active === segment) this.active = undefined;
    const sealing = segment.appender
      .close()
      .catch((err: Error) => this.log.warn({ file: segment.path, err }, `closing spool segment ${segment.path} failed; its fsynced records are kept`))
      .then(async () => {
        if (segment.records > 0) {
          this.sealed.push({ seq: segment.seq, path: segment.path, bytes: segment.bytes, records: segment.records });
          this.sealed.sort((a, b) => a.seq - b.seq);
        } else {
          await unlink(segment.path).catch(() => undefined);
        }
      })
      .finally(() => this.sealing.delete(sealing));
    this.sealing.add(sealing);
  }

  private async settleSealing(): Promise<void> {
    while (this.sealing.size > 0) await Promise.all(this.sealing);
  }

  private activeSegment(): Segment & { appender: Appender } {
    if (!this.active) {
      const seq = this.nextSeq++;
      const path = join(this.dir, `segment-${String(seq).padStart(12, '0')}.log`);
      const appender = new Appender(path, this.store, { encode: (parts) => (parts.length === 1 ? parts[0] : Buffer.concat(parts)) });
      this.active = { seq, path, bytes: 0, records: 0, appender };
    }
    return this.active;
  }

  private async cutTornTail(path: string, size: number, kept: number): Promise<void> {
    const handle = await open(path, 'r+');
    try {
      await handle.truncate(kept);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    reportTornTail(this.log, this.metrics, 'spool_segment', path, size, kept);
  }
}
