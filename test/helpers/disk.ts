import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

// Real disks for fault tests. A small filesystem for disk-full tests: a size-limited tmpfs mounted by the test (as
// root), unmounted in teardown. Where mounting is impossible (not root, no CAP_SYS_ADMIN in a
// container) the test is skipped with the reason rather than faked.

/** Mounts a tmpfs of `sizeBytes` and returns its folder; undefined, with a skipped assertion that says why, when it cannot. */
export function mountTmpfs(t: Test, sizeBytes: number): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tg-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    t.pass('a small filesystem that fills up', { skip: `cannot mount a ${sizeBytes}-byte tmpfs (needs root or CAP_SYS_ADMIN): ${why}` });
    return undefined;
  }
  t.teardown(() => {
    // Lazy unmount: a gateway child killed a moment ago may still hold a file open.
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Changes the size of a mounted tmpfs: space returns (or goes) without touching its files. */
export function resizeTmpfs(dir: string, sizeBytes: number): void {
  execFileSync('mount', ['-o', `remount,size=${sizeBytes}`, dir], { stdio: 'pipe' });
}

/** Every `.gz` under `dir` that `gzip -t` refuses, with its complaint. */
export function gzipTestFailures(files: string[]): string[] {
  const failures: string[] = [];
  for (const file of files.filter((f) => f.endsWith('.gz'))) {
    try {
      execFileSync('gzip', ['-t', file], { stdio: 'pipe' });
    } catch (err) {
      failures.push(`${file}: ${(err as { stderr?: Buffer }).stderr?.toString().trim()}`);
    }
  }
  return failures;
}
