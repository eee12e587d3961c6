import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { minuteFilesUnder } from '../file/minute-files';

// Reading the dead letter back: its entries newest first, filtered, for the inspector page
// and `tracking-gateway dead-letter`, and the ledger of entries re-driven since.
//
// Minute files are only ever appended to, so an entry is named by its file and line number
// (`<file>#<line>`), and the line's digest guards the name against a file that was removed
// and written again. Re-driving an entry appends its name to `replayed.ndjson` in the dead
// letter's folder (one fsynced append per re-drive; a torn last line, from a crash, is
// ignored), and reading skips what the ledger names. Nothing is rewritten while the gateway
// may append: at start, before the first append, a minute file whose every line was
// re-driven is deleted, then the ledger is rewritten (temp file, fsync, rename) without the
// names of files that are gone. A crash between the two leaves names of a missing file,
// which the next start drops; at no point is an entry both re-driven and listed.

export const LEDGER_FILE = 'replayed.ndjson';
/** Entries one listing returns, at most. */
export const MAX_LIST_ENTRIES = 500;
/** Lines one listing reads, at most: a dead letter of a million invalid beacons still answers fast. */
export const MAX_SCAN_LINES = 200_000;

export interface StoredDeadLetter {
  reason: string;
  message: string;
  service: string;
  topic: string;
  version?: number;
  receivedtime: string;
  source: string;
  errors?: { path: string; message: string }[];
  payloadBytes: number;
  payload?: unknown;
  payloadTruncated?: string;
  payloadSha256?: string;
}

export interface DeadLetterEntry extends StoredDeadLetter {
  /** `<file under the dead letter's folder>#<line>`. */
  id: string;
  /** Digest of the stored line. */
  sha: string;
}

export interface DeadLetterFilter {
  /** `service/topic` or `service`. */
  topic?: string;
  reason?: string;
  /** receivedtime bounds, ms since the epoch. */
  since?: number;
  until?: number;
  ids?: readonly string[];
  limit?: number;
}

export interface DeadLetterListing {
  entries: DeadLetterEntry[];
  /** Of the entries that match, by reason (within the lines read). */
  byReason: Record<string, number>;
  /** More entries match than were returned, or the scan stopped at MAX_SCAN_LINES. */
  more: boolean;
}

/** A cluster worker's own folder under the dead letter's (worker-config.ts). */
const WORKER_FOLDER = /^worker-[0-9]+$/;

const lineDigest = (line: string) => createHash('sha256').update(line).digest('hex').slice(0, 16);

/** `.../<YYYY-MM-DD>/<HH-mm>[.n].ndjson.gz`: newest minute first, whatever the topic. */
function byMinuteDescending(a: string, b: string): number {
  const key = (p: string) => p.split(sep).slice(-2).join('/');
  return key(b).localeCompare(key(a));
}

/** Every complete line of a gzip NDJSON file; a torn tail (the appender's next member) ends it. */
async function readLines(path: string, onLine: (line: string, index: number) => boolean | void): Promise<void> {
  const source = createReadStream(path);
  const input = source.pipe(createGunzip());
  // A file that cannot be read (gone since it was listed, no permission) ends like a torn one.
  source.on('error', (err) => input.destroy(err));
  const lines = createInterface({ input, crlfDelay: Infinity });
  let index = 0;
  try {
    for await (const line of lines) {
      if (onLine(line, index++) === false) break;
    }
  } catch {
    // Unexpected end of file: a member being written or torn; what came before stands.
  } finally {
    lines.close();
    input.destroy();
    source.destroy();
  }
}

export class DeadLetterStore {
  /**
   * @param root the dead letter's folder (a cluster's: the folder above each worker's own).
   * Ledgers live in each writer's folder: `root`, or `root/worker-N`.
   */
  constructor(private readonly root: string) {}

  /** The ledger of the writer of entry `id`, and the entry's name there (relative to that writer's folder). */
  private ledgerFor(id: string): { ledger: string; name: string } {
    const first = id.split('/')[0];
    return WORKER_FOLDER.test(first) ? { ledger: join(this.root, first, LEDGER_FILE), name: id.slice(first.length + 1) } : { ledger: join(this.root, LEDGER_FILE), name: id };
  }

  /** The names the ledgers hold, each with its line digest, as ids under `root`. */
  private async replayed(): Promise<Set<string>> {
    const names = new Set<string>();
    const ledgers = new Map([[join(this.root, LEDGER_FILE), '']]);
    for (const file of await minuteFilesUnder(this.root, false)) {
      const first = relative(this.root, file).split(sep)[0];
      if (WORKER_FOLDER.test(first)) ledgers.set(join(this.root, first, LEDGER_FILE), `${first}/`);
    }
    for (const [ledger, prefix] of ledgers) {
      const text = await readFile(ledger, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        try {
          const { id, sha } = JSON.parse(line) as { id: string; sha: string };
          names.add(`${prefix}${id}@${sha}`);
        } catch {
          // An empty or torn line.
        }
      }
    }
    return names;
  }

  /** The entries that match, newest first, not yet re-driven. */
  async list(filter: DeadLetterFilter = {}): Promise<DeadLetterListing> {
    const limit = Math.min(filter.limit ?? 100, MAX_LIST_ENTRIES);
    const ids = filter.ids && new Set(filter.ids);
    const replayed = await this.replayed();
    const files = (await minuteFilesUnder(this.root, false)).sort(byMinuteDescending);
    const entries: DeadLetterEntry[] = [];
    const byReason: Record<string, number> = {};
    let scanned = 0;
    let more = false;
    for (const file of files) {
      const name = relative(this.root, file).split(sep).join('/');
      if (ids && ![...ids].some((id) => id.startsWith(`${name}#`))) continue;
      // The newest `room` matches of this file: older ones are dropped as newer ones come, so
      // a file of many matches costs no more memory than the answer.
      const room = limit - entries.length;
      const matched: DeadLetterEntry[] = [];
      await readLines(file, (line, index) => {
        if (++scanned > MAX_SCAN_LINES) return false;
        const id = `${name}#${index}`;
        if (ids && !ids.has(id)) return true;
        const sha = lineDigest(line);
        if (replayed.has(`${id}@${sha}`)) return true;
        let stored: StoredDeadLetter;
        try {
          stored = JSON.parse(line) as StoredDeadLetter;
        } catch {
          return true;
        }
        if (!matches(stored, filter)) return true;
        byReason[stored.reason] = (byReason[stored.reason] ?? 0) + 1;
        matched.push({ id, sha, ...stored });
        if (matched.length > room) {
          matched.shift();
          more = true;
          // The answer is full: an older file only has older entries.
          if (room === 0) return false;
        }
        return true;
      });
      // Newest first within the file too: its lines were appended in time order.
      for (let i = matched.length - 1; i >= 0; i--) entries.push(matched[i]);
      if (room === 0 && more) break;
      if (scanned > MAX_SCAN_LINES) {
        more = true;
        break;
      }
    }
    return { entries, byReason, more };
  }

  /** Writes the entries' names to their ledgers, fsynced: from now on they are not listed. */
  async markReplayed(entries: readonly Pick<DeadLetterEntry, 'id' | 'sha'>[]): Promise<void> {
    const byLedger = new Map<string, string>();
    for (const { id, sha } of entries) {
      const { ledger, name } = this.ledgerFor(id);
      byLedger.set(ledger, (byLedger.get(ledger) ?? '') + `${JSON.stringify({ id: name, sha })}\n`);
    }
    for (const [ledger, text] of byLedger) {
      const handle = await open(ledger, 'a');
      try {
        // A line torn by a crash would merge with the next one; start on a fresh line.
        await handle.write(`\n${text}`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }
  }

  /**
   * Deletes the minute files of `root` whose every line was re-driven, then drops from its
   * ledger the names of files that no longer exist. Only when nothing appends (at start).
   * Resolves with the bytes the deleted files took.
   */
  async compact(): Promise<number> {
    const ledger = join(this.root, LEDGER_FILE);
    const exists = await stat(ledger).catch(() => undefined);
    if (!exists) return 0;
    const replayed = await this.replayed();
    let freed = 0;
    const kept = new Set<string>();
    for (const file of await minuteFilesUnder(this.root, false)) {
      const name = relative(this.root, file).split(sep).join('/');
      // Each worker compacts its own folder.
      if (WORKER_FOLDER.test(name.split('/')[0])) continue;
      let all = true;
      const names: string[] = [];
      await readLines(file, (line, index) => {
        const key = `${name}#${index}@${lineDigest(line)}`;
        names.push(key);
        if (!replayed.has(key)) all = false;
      });
      if (all && names.length > 0) {
        freed += (await stat(file)).size;
        await unlink(file);
      } else for (const key of names) if (replayed.has(key)) kept.add(key);
    }
    const text = [...kept].map((key) => {
      const at = key.lastIndexOf('@');
      return JSON.stringify({ id: key.slice(0, at), sha: key.slice(at + 1) });
    });
    const temp = `${ledger}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.write(text.length > 0 ? `${text.join('\n')}\n` : '');
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, ledger);
    const dir = await open(dirname(ledger), 'r');
    await dir.sync().finally(() => dir.close());
    return freed;
  }
}

function matches(entry: StoredDeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.reason !== undefined && entry.reason !== filter.reason) return false;
  if (filter.topic !== undefined) {
    const [service, topic] = filter.topic.split('/');
    if (entry.service !== service || (topic !== undefined && entry.topic !== topic)) return false;
  }
  if (filter.since !== undefined || filter.until !== undefined) {
    const at = Date.parse(entry.receivedtime);
    if (filter.since !== undefined && !(at >= filter.since)) return false;
    if (filter.until !== undefined && !(at <= filter.until)) return false;
  }
  return true;
}
