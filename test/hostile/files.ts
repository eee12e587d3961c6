import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

// What the gateway wrote on disk, read by the attack tests: its gzip NDJSON files (file
// destination, dead letter) as raw lines, and how many bytes a directory takes.

export function filesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of entries) {
    const path = join(dir, name);
    try {
      if (statSync(path).isDirectory()) out.push(...filesUnder(path));
      else out.push(path);
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

export function bytesUnder(dir: string): number {
  return filesUnder(dir).reduce((sum, file) => {
    try {
      return sum + statSync(file).size;
    } catch {
      return sum;
    }
  }, 0);
}

/** Every line of every .ndjson.gz file under `dir`, unparsed; a member still being written is skipped. */
export function gzipLinesUnder(dir: string): string[] {
  const lines: string[] = [];
  for (const file of filesUnder(dir).filter((f) => f.endsWith('.ndjson.gz')).sort()) {
    let text: string;
    try {
      text = gunzipSync(readFileSync(file), { finishFlush: 2 /* Z_SYNC_FLUSH: a torn last member is not an error */ }).toString('utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) if (line !== '') lines.push(line);
  }
  return lines;
}

/** Polls until a line under `dir` contains `marker`; the line, or undefined after `timeoutMs`. */
export async function waitForLine(dir: string, marker: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = gzipLinesUnder(dir).find((l) => l.includes(marker));
    if (line !== undefined || Date.now() > deadline) return line;
    await new Promise((r) => setTimeout(r, 100));
  }
}
