// Python tools the tests run (moto, schemathesis) come from PyPI into project-local
// virtualenvs under .cache/, one per tool, created on first use and reused. pip's downloads
// are cached under .cache/pip, so a venv that is made again costs no download.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheRoot } from './cache-dir';

const execFileAsync = promisify(execFile);

// A pip install that takes longer than this has died with its lock still held.
const INSTALL_LOCK_STALE_MS = 10 * 60_000;

export interface VenvSpec {
  /** The venv's folder under the cache: `moto-venv`. */
  name: string;
  /** What pip installs, pinned: `moto[server]==5.2.5`. */
  requirement: string;
  /** The file written last, holding `stamp`: its presence means a complete install of that version. */
  marker: string;
  stamp: string;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The venv's path, installing it once. Test files run in parallel, so the install is guarded
 * by a lock directory (mkdir is atomic) and the marker file is written last.
 */
export async function ensureVenv(spec: VenvSpec): Promise<string> {
  const venv = join(cacheRoot(), spec.name);
  const marker = join(venv, spec.marker);
  const lock = `${venv}.lock`;
  const installed = () => existsSync(marker) && readFileSync(marker, 'utf8').trim() === spec.stamp;
  mkdirSync(cacheRoot(), { recursive: true });

  const waitStart = Date.now();
  while (!installed()) {
    try {
      mkdirSync(lock);
    } catch {
      const owner = Number(readFileSafe(join(lock, 'pid')));
      const stale = (owner > 0 && !isAlive(owner)) || Date.now() - waitStart > INSTALL_LOCK_STALE_MS;
      if (stale) rmSync(lock, { recursive: true, force: true });
      else await sleep(500);
      continue;
    }
    try {
      writeFileSync(join(lock, 'pid'), String(process.pid));
      if (installed()) break;
      rmSync(venv, { recursive: true, force: true });
      await execFileAsync('python3', ['-m', 'venv', venv]);
      await execFileAsync(join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', spec.requirement], {
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, PIP_CACHE_DIR: join(cacheRoot(), 'pip') },
      });
      writeFileSync(marker, spec.stamp);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return venv;
}
