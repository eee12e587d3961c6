import { open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BackgroundLoop } from '../../background/loop';
import { AppendError, Appender, type DiskStore } from '../util/appender';
import { reportTornTail } from '../util/torn-tail';
import { gzipMember, wholeMembersLength } from './gzip-member';
import { LineBytes } from './line-bytes';
import { closesAtMs, FILE_SUFFIX, MINUTE_MS, minuteFilePath } from './minute-file-name';

// Rolling, minute-partitioned gzip NDJSON files. Each group commit of a file appends one
// complete gzip member (gzip-member.ts) through the shared Appender, so a file is valid gzip
// after every fsync, and `zcat` reads the members as one stream. A torn tail (a crash
// mid-write) is cut at start, and whenever a file is opened again, before anything is
// appended after it.

/** Files untouched this long are closed: their minute is over. */
const IDLE_CLOSE_MS = 90_000;
const SWEEP_INTERVAL_MS = 30_000;
/** Sealed paths are remembered this long, against a clock stepped back (NTP) that would name them again. */
const SEALED_MEMORY_MS = 3_600_000;

/** Lines of one file that were not written, by their index in the list given to appendLines. */
export interface LinesNotWritten {
  indexes: number[];
  error: Error;
}

export class MinuteFiles {
  private readonly files = new Map<string, Appender>();
  private readonly paths = new Map<string, string>();
  /** Files handed over to be shipped, and when: nothing is appended to them again. */
  private readonly sealed = new Map<string, number>();
  private readonly sweeper: BackgroundLoop;

  /**
   * @param closeAfterMs when set (files are shipped), a minute's file takes no lines once its
   * minute is over plus this long; later lines of that minute go to a late file (minute-file-name.ts).
   */
  constructor(
    private readonly root: string,
    private readonly store: DiskStore,
    private readonly closeAfterMs?: number,
  ) {
    this.sweeper = new BackgroundLoop('minute_file_sweep', SWEEP_INTERVAL_MS, () => this.closeIdle(Date.now() - IDLE_CLOSE_MS), store.log, store.metrics);
    this.sweeper.start();
  }

  /**
   * Cuts the torn tail of every minute file under the root and removes empty ones (gzip -t
   * refuses an empty file); resolves with the bytes the files hold afterwards. With
   * `skipReserved`, folders at the top whose name starts with `_` are left alone: they hold the
   * dead letter and the spool, which see to their own files.
   */
  async repair(options: { skipReserved: boolean }): Promise<number> {
    let paths: string[];
    try {
      paths = await minuteFilesUnder(this.root, options.skipReserved);
    } catch (err) {
      this.repairFailed(this.root, err);
      return 0;
    }
    let bytes = 0;
    for (const path of paths) {
      try {
        bytes += await this.repairFile(path);
      } catch (err) {
        // The file is checked again when it is next opened for appending, before any append.
        this.repairFailed(path, err);
        bytes += (await stat(path).catch(() => undefined))?.size ?? 0;
      }
    }
    return bytes;
  }

  /** Cuts one file back to its whole members (removed when none is left); resolves with its size after. */
  async repairFile(path: string): Promise<number> {
    const handle = await open(path, 'r+');
    let size: number;
    try {
      size = (await handle.stat()).size;
      const kept = await this.validLength(handle, size, path);
      if (kept < size) {
        await handle.truncate(kept);
        await handle.datasync();
      }
      size = kept;
    } finally {
      await handle.close();
    }
    if (size === 0) await unlink(path);
    return size;
  }

  private repairFailed(path: string, err: unknown): void {
    this.store.metrics.backgroundErrors.labels('torn_tail_repair').inc();
    this.store.log.error({ task: 'torn_tail_repair', file: path, err }, `checking ${path} for a torn tail failed: ${(err as Error).message}; it is checked again before the next append to it`);
  }

  /**
   * `<root>/<folder>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz`, in UTC; with `closeAfterMs`, the late file
   * written at `now` once that one is closed.
   */
  pathFor(folder: string, timeMs: number, now = Date.now()): string {
    const minute = Math.floor(timeMs / MINUTE_MS);
    const path = this.cachedPath(folder, minute, undefined);
    if (this.closeAfterMs === undefined) return path;
    if (closesAtMs({ minute }, this.closeAfterMs) > now && !this.sealed.has(path)) return path;
    return this.cachedPath(folder, minute, Math.floor(now / MINUTE_MS));
  }

  private cachedPath(folder: string, minute: number, lateMinute: number | undefined): string {
    // Asked once per event; the answer changes once a minute per folder.
    const key = `${folder}@${minute}@${lateMinute ?? ''}`;
    let path = this.paths.get(key);
    if (path === undefined) {
      if (this.paths.size > 10_000) this.paths.clear();
      path = join(this.root, folder, minuteFilePath({ minute, lateMinute }));
      this.paths.set(key, path);
    }
    return path;
  }

  /**
   * Hands a file over to be shipped: waits for the appends made so far, closes it, and refuses
   * every later append to it (pathFor names another file by then: this only guards a clock
   * that stepped back).
   */
  async seal(path: string): Promise<void> {
    const now = Date.now();
    this.sealed.set(path, now);
    if (this.sealed.size > 1000) {
      for (const [p, at] of this.sealed) if (at < now - SEALED_MEMORY_MS) this.sealed.delete(p);
    }
    const file = this.files.get(path);
    if (file) {
      this.files.delete(path);
      await file.close();
    }
  }

  /**
   * Appends each line to the file of its folder and minute, one append per file; resolves once
   * every file is written (fsynced) or failed, with the lines of the files that failed.
   */
  async appendLines(lines: readonly { folder: string; timeMs: number; line: string }[]): Promise<LinesNotWritten[]> {
    // One clock reading per call, not per line: it only decides whether a shipped minute's file is closed.
    const now = Date.now();
    // Lines of a batch mostly share their folder and minute: the path is looked up once per run of them.
    let lastFolder: string | undefined;
    let lastMinute = NaN;
    let lastPath = '';
    // Each file's lines, and their bytes when ASCII (as they mostly are): its buffer is sized once.
    const byFile = new Map<string, { indexes: number[]; bytes: number }>();
    lines.forEach(({ folder, timeMs, line }, index) => {
      const minute = Math.floor(timeMs / MINUTE_MS);
      if (folder !== lastFolder || minute !== lastMinute) {
        lastPath = this.pathFor(folder, timeMs, now);
        lastFolder = folder;
        lastMinute = minute;
      }
      let file = byFile.get(lastPath);
      if (!file) byFile.set(lastPath, (file = { indexes: [], bytes: 0 }));
      file.indexes.push(index);
      file.bytes += line.length + 1;
    });
    const results = await Promise.all(
      [...byFile].map(([path, { indexes, bytes }]) => {
        const text = new LineBytes(bytes);
        for (const i of indexes) text.add(lines[i].line);
        return this.append(path, text.bytes()).then(
          () => undefined,
          (error: Error) => ({ indexes, error }),
        );
      }),
    );
    return results.filter((r): r is LinesNotWritten => r !== undefined);
  }

  /** Appends newline-terminated lines (UTF-8); resolves once they are on disk (fsynced). */
  append(path: string, lines: Buffer): Promise<void> {
    if (this.sealed.has(path)) return Promise.reject(new AppendError(path, undefined, `${path} was handed over to be shipped; nothing more is appended to it`));
    let file = this.files.get(path);
    if (!file) {
      file = new Appender(path, this.store, {
        encode: (parts) => gzipMember(parts.length === 1 ? parts[0] : Buffer.concat(parts)),
        validLength: (handle, size) => this.validLength(handle, size, path),
      });
      this.files.set(path, file);
    }
    return file.append(lines);
  }

  /** Waits for every append made so far, then closes the files. */
  async close(): Promise<void> {
    await this.sweeper.stop();
    await this.closeIdle(Infinity);
  }

  private async validLength(handle: FileHandle, size: number, path: string): Promise<number> {
    const kept = await wholeMembersLength(async (offset, length) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    }, size);
    if (kept < size) reportTornTail(this.store.log, this.store.metrics, 'minute_file', path, size, kept);
    return kept;
  }

  /** Closes the files last used before `before` (all, with Infinity, once their appends are done). */
  private async closeIdle(before: number): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [path, file] of this.files) {
      if (before === Infinity || (file.lastUsed < before && file.idle)) {
        this.files.delete(path);
        closing.push(file.close());
      }
    }
    const failed = (await Promise.allSettled(closing)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw new Error(`closing ${failed.length} of ${closing.length} idle minute files failed: ${(failed[0].reason as Error).message}`);
  }
}

/** Every `*.ndjson.gz` under `root`; none when it does not exist yet. */
export async function minuteFilesUnder(root: string, skipReserved: boolean): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    // Nothing was written there yet (or it cannot be a folder, which appends will report).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) {
      if (!(skipReserved && entry.name.startsWith('_'))) files.push(...(await minuteFilesUnder(path, false)));
    } else if (entry.isFile() && entry.name.endsWith(FILE_SUFFIX)) {
      files.push(path);
    }
  }
  return files;
}
