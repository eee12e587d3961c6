import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

// Rolling, minute-partitioned gzip NDJSON files with group commit. Each write appends one
// complete gzip member, so a file is valid gzip after every fsync — even if the process is
// killed — and `zcat` reads the members as one stream. Appends that arrive while a write is
// in progress are joined into the next member, so one fsync covers many requests.

interface OpenFile {
  handle: Promise<FileHandle>;
  queue: { lines: string; resolve: () => void; reject: (err: Error) => void }[];
  /** The running write loop, if any; close() waits for it. */
  writing: Promise<void> | undefined;
  lastUsed: number;
}

/** Files untouched this long are closed: their minute is over. */
const IDLE_CLOSE_MS = 90_000;

export class MinuteFiles {
  private readonly files = new Map<string, OpenFile>();
  private readonly paths = new Map<string, string>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly root: string) {
    this.sweeper = setInterval(() => void this.closeIdle(Date.now() - IDLE_CLOSE_MS), 30_000);
    this.sweeper.unref();
  }

  /** `<root>/<folder>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz`, in UTC. */
  pathFor(folder: string, timeMs: number): string {
    const minute = Math.floor(timeMs / 60_000);
    // Asked once per event; the answer changes once a minute per folder.
    const key = `${folder}@${minute}`;
    let path = this.paths.get(key);
    if (path === undefined) {
      if (this.paths.size > 10_000) this.paths.clear();
      const iso = new Date(minute * 60_000).toISOString();
      path = join(this.root, folder, iso.slice(0, 10), `${iso.slice(11, 13)}-${iso.slice(14, 16)}.ndjson.gz`);
      this.paths.set(key, path);
    }
    return path;
  }

  /**
   * Appends each line to the file of its folder and minute, one append per file; resolves
   * once all are on disk (fsynced).
   */
  async appendLines(lines: Iterable<{ folder: string; timeMs: number; line: string }>): Promise<void> {
    const byFile = new Map<string, string>();
    for (const { folder, timeMs, line } of lines) {
      const path = this.pathFor(folder, timeMs);
      byFile.set(path, `${byFile.get(path) ?? ''}${line}\n`);
    }
    await Promise.all([...byFile].map(([path, text]) => this.append(path, text)));
  }

  /** Appends newline-terminated lines; resolves once they are on disk (fsynced). */
  append(path: string, lines: string): Promise<void> {
    let file = this.files.get(path);
    if (!file) {
      file = { handle: openForAppend(path), queue: [], writing: undefined, lastUsed: Date.now() };
      // A failed open must not stay cached: the next append tries again (the disk may recover).
      file.handle.catch(() => this.files.delete(path));
      this.files.set(path, file);
    }
    file.lastUsed = Date.now();
    const done = new Promise<void>((resolve, reject) => file.queue.push({ lines, resolve, reject }));
    file.writing ??= this.writeLoop(file);
    return done;
  }

  /** Waits for every append made so far, then closes the files. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.files.values()].map((f) => f.writing));
    await this.closeIdle(Infinity);
  }

  private async writeLoop(file: OpenFile): Promise<void> {
    while (file.queue.length > 0) {
      const group = file.queue.splice(0, file.queue.length);
      try {
        const member = await gzipAsync(Buffer.from(group.map((g) => g.lines).join('')), { level: 1 });
        const handle = await file.handle;
        await handle.appendFile(member);
        await handle.datasync();
        for (const g of group) g.resolve();
      } catch (err) {
        for (const g of group) g.reject(err as Error);
      }
    }
    file.writing = undefined;
  }

  private async closeIdle(before: number): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [path, file] of this.files) {
      if (file.lastUsed < before && !file.writing && file.queue.length === 0) {
        this.files.delete(path);
        closing.push(file.handle.then((h) => h.close()).catch(() => undefined));
      }
    }
    await Promise.all(closing);
  }
}

async function openForAppend(path: string): Promise<FileHandle> {
  await mkdir(dirname(path), { recursive: true });
  return open(path, 'a');
}
