import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir` with its size; an absent or unreadable dir holds none. Used once, at start. */
export function listFilesUnder(dir: string): { path: string; bytes: number }[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files: { path: string; bytes: number }[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFilesUnder(path));
    else if (entry.isFile()) files.push({ path, bytes: statSync(path, { throwIfNoEntry: false })?.size ?? 0 });
  }
  return files;
}
