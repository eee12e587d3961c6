// scripts/build-if-changed.mjs, the build step of `npm start`, in a copy of the project's
// layout whose `npm` is a recorder: it builds when there is no stamp, a source is newer than the
// stamp or an output is missing, and not otherwise; a failed build leaves no stamp.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..', '..');

function project(t: Test) {
  const dir = mkdtempSync(path.join(tmpdir(), 'build-if-changed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const folder of ['scripts', 'src/http', 'clients/browser/src', 'dist/src', 'dist/clients/browser', 'bin']) mkdirSync(path.join(dir, folder), { recursive: true });
  copyFileSync(path.join(repoRoot, 'scripts', 'build-if-changed.mjs'), path.join(dir, 'scripts', 'build-if-changed.mjs'));
  for (const file of ['src/http/server.ts', 'clients/browser/src/index.ts', 'tsconfig.json', 'package.json', 'package-lock.json', 'dist/src/cli.js', 'dist/clients/browser/tracker.js']) writeFileSync(path.join(dir, file), '');
  // The recorder: counts builds; exits with the status in ./build-status (0 when absent).
  writeFileSync(path.join(dir, 'bin', 'npm'), '#!/bin/sh\necho "$@" >> "$(dirname "$0")/../builds"\nexit "$(cat "$(dirname "$0")/../build-status" 2>/dev/null || echo 0)"\n');
  chmodSync(path.join(dir, 'bin', 'npm'), 0o755);
  const start = () => {
    const result = spawnSync(process.execPath, [path.join(dir, 'scripts', 'build-if-changed.mjs')], {
      env: { ...process.env, PATH: `${path.join(dir, 'bin')}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    const builds = existsSync(path.join(dir, 'builds')) ? readFileSync(path.join(dir, 'builds'), 'utf8').trim().split('\n') : [];
    return { status: result.status, builds: builds.length, last: builds.at(-1) };
  };
  return { dir, start };
}

t.test('builds once, then not until a source changes or an output goes', async (t) => {
  const { dir, start } = project(t);
  t.same(start(), { status: 0, builds: 1, last: 'run build --silent' }, 'no stamp: builds');
  t.ok(existsSync(path.join(dir, 'dist', '.build-stamp')), 'and leaves the stamp');
  t.equal(start().builds, 1, 'nothing changed: no build');

  const edited = new Date(); // after the first build started: a start has run since
  utimesSync(path.join(dir, 'clients', 'browser', 'src', 'index.ts'), edited, edited);
  t.equal(start().builds, 2, 'a client source is newer than the stamp: builds');
  t.equal(start().builds, 2, 'and then not again');
  rmSync(path.join(dir, 'src', 'http', 'server.ts'));
  t.equal(start().builds, 3, 'a source deleted (its folder changed): builds');
});

t.test('a missing output builds whatever the stamp says', async (t) => {
  const { dir, start } = project(t);
  start();
  rmSync(path.join(dir, 'dist', 'src', 'cli.js'));
  t.equal(start().builds, 2);
});

t.test('a failed build leaves no stamp and fails the start', async (t) => {
  const { dir, start } = project(t);
  writeFileSync(path.join(dir, 'build-status'), '2');
  t.match(start(), { status: 2, builds: 1 });
  t.notOk(existsSync(path.join(dir, 'dist', '.build-stamp')));
  rmSync(path.join(dir, 'build-status'));
  t.match(start(), { status: 0, builds: 2 }, 'the next start builds again');
});
