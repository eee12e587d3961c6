import { mkdir, open, readdir, readFile, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayEvent } from '../../envelope/envelope';
import type { GatewayMetrics } from '../../metrics/metrics';
import { DestinationError, encodeEach, type Destination, type RecordFailure } from '../destination';
import { encodeSpoolEntry } from './spool-entry';
import { frameRecord, scanSegment } from './segment-file';

// The last hop of every route: append-only segment files on local disk, a checksum per
// record, fsync with group commit (appends that arrive during a write share the next
// fsync). Segments are sealed and replayed to the head of their events' routes when the
// chain recovers (route/spool-replay.ts), then deleted. Bounded in bytes: when full, a
// send fails as unavailable and the router keeps the events in memory, where the memory
// bound answers 503.

export const SEGMENT_PATTERN = /^segment-(\d{12})\.log$/;

/**
 * Bytes waiting in memory for the disk. Beacons spilled under memory pressure come faster
 * than a slow disk takes them; past this the spool refuses, so that it is no way around the
 * memory bound.
 */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

interface Segment {
  seq: number;
  path: string;
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
  private active: (Segment & { handle: Promise<FileHandle> }) | undefined;
  private nextSeq = 1;
  private totalBytes = 0;
  private totalRecords = 0;
  private appendedRecords = 0;
  private queue: { frames: Buffer[]; records: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private queuedBytes = 0;
  private writing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentBytes: number,
    private readonly metrics: GatewayMetrics,
  ) {
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

  /** Events ever appended by this process; replay watches it to see the chain overflow. */
  get appended(): number {
    return this.appendedRecords;
  }

  /** Finds the segments a previous process left, cuts off torn tails, and queues them for replay. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_PATTERN.test(n)).sort();
    for (const name of names) {
      const seq = Number(SEGMENT_PATTERN.exec(name)![1]);
      const path = join(this.dir, name);
      const scan = scanSegment(await readFile(path));
      if (scan.corruptTail) {
        await truncate(path, scan.validBytes);
        this.metrics.spoolCorruptRecords.inc();
      }
      if (scan.payloads.length === 0) {
        await unlink(path);
      } else {
        this.sealed.push({ seq, path, bytes: scan.validBytes, records: scan.payloads.length });
        this.totalBytes += scan.validBytes;
        this.totalRecords += scan.payloads.length;
      }
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
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
      throw new DestinationError('unavailable', `spool is full (${this.totalBytes} of ${this.maxBytes} bytes on disk, ${this.queuedBytes} queued for writing)`);
    }
    // Counted at once, so that concurrent sends see the room already taken.
    this.totalBytes += bytes;
    this.totalRecords += frames.length;
    this.appendedRecords += frames.length;
    this.queuedBytes += bytes;
    try {
      await new Promise<void>((resolve, reject) => {
        this.queue.push({ frames, records: frames.length, resolve, reject });
        this.writing ??= this.writeLoop();
      });
    } catch (err) {
      this.totalBytes -= bytes;
      this.totalRecords -= frames.length;
      throw new DestinationError('unavailable', `spool write failed: ${(err as Error).message}`);
    } finally {
      this.queuedBytes -= bytes;
    }
    return failures;
  }

  isHealthy(): boolean {
    return this.totalBytes < this.maxBytes;
  }

  /**
   * The oldest segment to replay. When none is sealed, the active one is sealed first, so
   * that events spooled moments ago can go back as soon as the chain recovers.
   */
  async nextForReplay(): Promise<SealedSegment | undefined> {
    if (this.sealed.length === 0) await this.sealActive();
    const oldest = this.sealed[0];
    return oldest && { path: oldest.path, records: oldest.records };
  }

  async readSegment(path: string): Promise<Buffer[]> {
    return scanSegment(await readFile(path)).payloads;
  }

  /** Deletes a segment whose every event has been delivered or spooled again. */
  async remove(path: string): Promise<void> {
    const index = this.sealed.findIndex((s) => s.path === path);
    if (index === -1) return;
    const [segment] = this.sealed.splice(index, 1);
    await unlink(path);
    this.totalBytes -= segment.bytes;
    this.totalRecords -= segment.records;
  }

  async close(): Promise<void> {
    await this.writing;
    if (this.active) await (await this.active.handle).close();
    this.active = undefined;
  }

  private async sealActive(): Promise<void> {
    while (this.writing) await this.writing;
    const active = this.active;
    if (!active || active.records === 0) return;
    this.active = undefined;
    await (await active.handle).close();
    this.sealed.push({ seq: active.seq, path: active.path, bytes: active.bytes, records: active.records });
  }

  private async writeLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, this.queue.length);
      try {
        const segment = this.activeSegment();
        const data = Buffer.concat(group.flatMap((g) => g.frames));
        const handle = await segment.handle;
        await handle.appendFile(data);
        await handle.datasync();
        segment.bytes += data.length;
        segment.records += group.reduce((sum, g) => sum + g.records, 0);
        for (const g of group) g.resolve();
        if (segment.bytes >= this.segmentBytes) {
          this.active = undefined;
          await handle.close();
          this.sealed.push({ seq: segment.seq, path: segment.path, bytes: segment.bytes, records: segment.records });
        }
      } catch (err) {
        for (const g of group) g.reject(err as Error);
      }
    }
    this.writing = undefined;
  }

  private activeSegment(): Segment & { handle: Promise<FileHandle> } {
    if (!this.active) {
      const seq = this.nextSeq++;
      const path = join(this.dir, `segment-${String(seq).padStart(12, '0')}.log`);
      const handle = open(path, 'a');
      handle.catch(() => undefined);
      this.active = { seq, path, bytes: 0, records: 0, handle };
    }
    return this.active;
  }
}
