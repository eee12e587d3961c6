// `npm ci` on a clean clone is quiet on the Node.js the project runs on. npm checks every
// package's engines against the Node npm itself runs on, so with this process's Node (the
// pinned one) an EBADENGINE here means a dependency the project's own Node cannot run; on an
// older system Node the same check warns about packages the pinned Node satisfies (README).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PROJECT_ROOT } from './helpers/gateway';

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean }>;
};

t.test('npm ci --dry-run on a copy of the project prints no warning at all', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npm-ci-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(PROJECT_ROOT, file), join(dir, file));
  // npm's own script, run on this process's Node (the pinned one), as npm would run under it.
  const npmCli = realpathSync(spawnSync('bash', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim());
  const result = spawnSync(process.execPath, [npmCli, 'ci', '--dry-run', '--no-audit'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  t.equal(result.status, 0, result.stderr);
  t.match(result.stdout, /added \d+ packages/, 'it did resolve the tree');
  t.notMatch(result.stderr, /npm warn/, 'no warning: no EBADENGINE, every install script reviewed in allowScripts');
  t.notMatch(result.stdout, /looking for funding/, '.npmrc: no funding appeal');
});

t.test('every install script in the lock is decided in package.json allowScripts', async (t) => {
  const withScripts = Object.keys(lock.packages).filter((key) => lock.packages[key].hasInstallScript).map((key) => key.replace(/^.*node_modules\//, ''));
  t.ok(withScripts.length > 0);
  for (const name of withScripts) t.type(pkg.allowScripts?.[name], 'boolean', `${name}: allowed or denied explicitly`);
});
