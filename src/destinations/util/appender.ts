import { constants } from 'node:fs';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LogLimiter } from '../../log/log-limiter';
import type { GatewayMetrics } from '../../metrics/metrics';
import type { DestinationLog } from '../destination';

// The one writer of every group-committed file: minute files (file destination, dead letter)
// and spool segments. Appends that arrive while a write is in progress are joined into the
// next write, so one fdatasync covers many callers, and a caller is answered only once its
// bytes are fsynced. A group is encoded (gzip, off the main thread) while the one before it
// is still being encoded or written; groups are written in the order they were formed.
//
// The rule that keeps every acknowledged byte readable: after a failed or partial write, or a
// failed fdatasync (after which Linux no longer says which pages reached the disk), the file
// is cut back to the last offset that was fsynced, before anything later is written. While it
// cannot be cut, nothing is written to it (`broken`), so no acknowledged byte ever follows a
// torn one. A failed open is not kept: the next append tries again. A file created here has
// its folder fsynced, and each folder created for it its parent, before its first append is
// acknowledged: otherwise a power loss could lose the file's name with its data.

/** Where a store's files live and how their failures are reported (metric label, log). */
export interface DiskStore {
  /** The `store` label of disk_append_failures_total. */
  name: 'file' | 'dead_letter' | 'spool';
  log: DestinationLog;
  metrics: GatewayMetrics;
  /** A full disk fails every append at once: its reason is logged once per interval. */
  limiter: LogLimiter;
}

export interface AppenderOptions {
  /** Turns the parts of one group commit into the bytes appended (one gzip member; framed records). */
  encode: (parts: Buffer[]) => Buffer | Promise<Buffer>;
  /**
   * Checks an existing file when it is opened and returns the length of its whole part; what
   * follows is cut before the first append (a torn tail left by a crash).
   */
  validLength?: (handle: FileHandle, size: number) => Promise<number>;
}

interface QueuedAppend {
  data: Buffer;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Appends joined into one write, and their bytes once encoded. */
interface Group {
  appends: QueuedAppend[];
  encoded: Promise<Buffer>;
}

/**
 * Groups encoded at once. Two: one is encoded while the one before it is written, so that
 * the write of a batch does not wait for the encoding of the next (nor its turn of the event
 * loop); more would only make smaller groups.
 */
const GROUPS_ENCODED_AT_ONCE = 2;

/** An append that failed: the message names the file, and the code is the system's (ENOSPC, EIO, …). */
export class AppendError extends Error {
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'AppendError';
  }
}

// Read too: an existing file's tail is checked when it is opened.
const WRITE_FLAGS = constants.O_RDWR | constants.O_CREAT;

export class Appender {
  private handle: FileHandle | undefined;
  /** Length of the file known to be on disk; every write goes at this offset. */
  private synced = 0;
  /** Bytes past `synced` may be in the file (a write or fsync failed) and must be cut first. */
  private dirty = false;
  /** This appender created the file and has not yet fsynced anything into it. */
  private createdEmpty = false;
  /** Appends not yet in a group: they wait for a free encoding slot. */
  private queue: QueuedAppend[] = [];
  /** Groups formed and not yet written, oldest first. */
  private groups: Group[] = [];
  private encoding = 0;
  private writing: Promise<void> | undefined;
  private closed = false;
  /** When the last append was asked for; idle files are closed by their owner. */
  lastUsed = Date.now();

  constructor(
    readonly path: string,
    private readonly store: DiskStore,
    private readonly options: AppenderOptions,
  ) {}

  /** Bytes fsynced in the file. */
  get bytes(): number {
    return this.synced;
  }

  /** Whether the file holds bytes after the fsynced part that could not be cut: nothing more goes into it. */
  get broken(): boolean {
    return this.dirty;
  }

  /** No append waits or is being written. */
  get idle(): boolean {
    return this.writing === undefined && this.queue.length === 0 && this.groups.length === 0;
  }

  /** Appends `data`; resolves once it is fsynced, rejects (AppendError) when it is not in the file. */
  append(data: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new AppendError(this.path, undefined, `${this.path} is closed`));
    this.lastUsed = Date.now();
    const done = new Promise<void>((resolve, reject) => this.queue.push({ data, resolve, reject }));
    this.formGroups();
    return done;
  }

  /** Waits for every append made so far, then closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  /** Makes what waits into a group while an encoding slot is free; the write loop takes the groups in order. */
  private formGroups(): void {
    while (this.queue.length > 0 && this.encoding < GROUPS_ENCODED_AT_ONCE) {
      const appends = this.queue.splice(0, this.queue.length);
      this.encoding++;
      // The slot is freed (and what waited meanwhile grouped) before the write loop sees the result.
      const encoded = Promise.resolve()
        .then(() => this.options.encode(appends.map((a) => a.data)))
        .finally(() => {
          this.encoding--;
          this.formGroups();
        });
      // Handled now, rejected or not: the write loop awaits it only once the groups before it are written.
      encoded.catch(() => undefined);
      this.groups.push({ appends, encoded });
      this.writing ??= this.writeLoop();
    }
  }

  private async writeLoop(): Promise<void> {
    while (this.groups.length > 0) {
      const { appends, encoded } = this.groups[0];
      try {
        await this.write(await encoded);
        for (const a of appends) a.resolve();
      } catch (err) {
        const error = this.toAppendError(err, '');
        this.report(error, appends.length);
        for (const a of appends) a.reject(error);
      }
      this.groups.shift();
    }
    this.writing = undefined;
  }

  private async write(data: Buffer): Promise<void> {
    const handle = await this.opened();
    if (this.dirty) await this.cutBack(handle);
    this.dirty = true;
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await handle.write(data, written, data.length - written, this.synced + written);
        written += bytesWritten;
      }
      await handle.datasync();
    } catch (err) {
      // Cut now rather than at the next append, so that the file is whole while it waits.
      await this.cutBack(handle).catch(() => undefined);
      const state = this.dirty ? `; could not cut it back to ${this.synced} bytes, so nothing more is written to it` : `; cut back to ${this.synced} bytes`;
      if (this.createdEmpty && !this.dirty) await this.forgetEmptyFile(handle);
      throw this.toAppendError(err, state);
    }
    this.dirty = false;
    this.createdEmpty = false;
    this.synced += data.length;
  }

  /** Truncates to the fsynced length and fsyncs that; `dirty` stays set when it cannot. */
  private async cutBack(handle: FileHandle): Promise<void> {
    await handle.truncate(this.synced);
    await handle.datasync();
    this.dirty = false;
  }

  /**
   * A file this appender created and never got a byte into is removed again, so that no empty
   * `.gz` (which gzip -t refuses) is left; the next append creates it anew.
   */
  private async forgetEmptyFile(handle: FileHandle): Promise<void> {
    this.handle = undefined;
    this.createdEmpty = false;
    await handle.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }

  /** The open file; opened (and its torn tail cut) on first use, never cached when that fails. */
  private async opened(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    const firstCreatedDir = await mkdir(dirname(this.path), { recursive: true });
    let handle: FileHandle;
    let created = true;
    try {
      handle = await open(this.path, WRITE_FLAGS | constants.O_EXCL);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      handle = await open(this.path, WRITE_FLAGS);
      created = false;
    }
    try {
      if (created) {
        await fsyncNewEntries(this.path, firstCreatedDir);
        this.synced = 0;
      } else {
        const { size } = await handle.stat();
        this.synced = this.options.validLength ? await this.options.validLength(handle, size) : size;
        this.dirty = this.synced < size;
        if (this.dirty) await this.cutBack(handle);
      }
    } catch (err) {
      await handle.close().catch(() => undefined);
      if (created) await unlink(this.path).catch(() => undefined);
      throw err;
    }
    this.createdEmpty = created;
    this.handle = handle;
    return handle;
  }

  private toAppendError(err: unknown, state: string): AppendError {
    if (err instanceof AppendError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    const message = err instanceof Error ? err.message : String(err);
    return new AppendError(this.path, code, `append to ${this.path} failed: ${message}${state}`);
  }

  private report(error: AppendError, appends: number): void {
    this.store.metrics.diskAppendFailures.labels(this.store.name).inc();
    const { name, log } = this.store;
    this.store.limiter.run(`${name}:${error.code ?? error.message}`, (suppressed) =>
      log.error({ store: name, file: this.path, code: error.code, appends, syncedBytes: this.synced, broken: this.dirty, suppressed }, error.message),
    );
  }
}

/**
 * fsyncs the folder of a file just created, and the parent of each folder created for it
 * (`firstCreatedDir` is the topmost one, as mkdir -p reports it), deepest first.
 */
async function fsyncNewEntries(path: string, firstCreatedDir: string | undefined): Promise<void> {
  let dir = dirname(path);
  const stop = firstCreatedDir === undefined ? undefined : dirname(firstCreatedDir);
  for (;;) {
    await fsyncDir(dir);
    if (stop === undefined || dir === stop || dirname(dir) === dir) return;
    dir = dirname(dir);
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
