// scripts/ensure-prerequisites.sh seen on a fresh machine: the tools `npm test` needs are hidden
// by a PATH holding only the basics a bare Debian has (bash and coreutils), and by emptying the
// fixed folders the harnesses also look in. Nothing is uninstalled.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const script = path.join(repoRoot, 'scripts', 'ensure-prerequisites.sh');
const NOBODY = 65534;
const BASICS = ['bash', 'sh', 'env', 'id', 'dirname', 'sed', 'head', 'sort', 'tr', 'cat', 'grep', 'mkdir'];
const TOOLS = ['java 17 or newer', 'mvn', 'python3', 'go', 'chromium', 'nginx', 'curl'];
const PACKAGES = ['openjdk-17-jre-headless', 'maven', 'python3-venv', 'golang-go', 'chromium', 'nginx', 'curl'];

function which(tool: string): string {
  const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`${tool} is not on this machine's PATH`);
  return found;
}

/** A folder for the PATH holding links to the basics, and `extra` programs written as shell scripts. */
function bareBin(t: Test, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'prerequisites-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const tool of BASICS) symlinkSync(which(tool), path.join(dir, tool));
  for (const [name, body] of Object.entries(extra)) {
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(dir, name), 0o755);
  }
  return dir;
}

function run(bin: string, options: { asNobody: boolean }) {
  const env = { PATH: bin, PREREQUISITES_SYSTEM_DIRS: '', TRACKING_GATEWAY_CACHE: path.join(bin, 'cache') };
  const [command, args] = options.asNobody
    ? [which('setpriv'), [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'bash', script]]
    : [which('bash'), [script]];
  const started = Date.now();
  const result = spawnSync(command, args, { env, encoding: 'utf8', timeout: 10_000 });
  return { ...result, ms: Date.now() - started };
}

t.test('not root, nothing installed: one message naming each tool and its package, then exit 1', async (t) => {
  const result = run(bareBin(t), { asNobody: true });
  t.equal(result.status, 1, 'exits 1');
  t.ok(result.ms < 5_000, `stops at once (${result.ms} ms)`);
  t.equal(result.stdout, '', 'nothing on stdout');
  const message = result.stderr;
  t.match(message, /^npm test needs tools this machine does not have:\n/, 'one message, from its first line');
  t.equal(message.match(/npm test needs/g)?.length, 1, 'printed once');
  for (const tool of TOOLS) t.match(message, new RegExp(`^  ${tool}`, 'm'), `names ${tool}`);
  for (const pkg of PACKAGES) t.match(message, `apt-get install ${pkg})`, `says how to install ${pkg}`);
  const all = /apt-get update && apt-get install -y --no-install-recommends (.+)\n/.exec(message)?.[1].split(' ');
  t.same(all?.sort(), [...new Set(PACKAGES)].sort(), 'and one command installing them all');
  t.notMatch(message, /\bat .+:\d+|line \d+:|command not found/, 'no stack trace, no shell error');
});

t.test('a Java older than 17 counts as missing, and says which it found', async (t) => {
  const bin = bareBin(t, { java: `echo 'openjdk version "11.0.2" 2019-01-15' >&2` });
  const result = run(bin, { asNobody: true });
  t.equal(result.status, 1);
  t.match(result.stderr, /^  java 17 or newer \(found java 11\)/m);
});

t.test('HELM and CHROMIUM_PATH set: go and chromium are not asked for', async (t) => {
  const bin = bareBin(t);
  const result = spawnSync('bash', [script], {
    env: { PATH: bin, PREREQUISITES_SYSTEM_DIRS: '', HELM: '/opt/helm', CHROMIUM_PATH: '/opt/chromium' },
    encoding: 'utf8',
  });
  t.equal(result.status, 1);
  t.notMatch(result.stderr, /^ {2}(go|chromium) /m);
  t.match(result.stderr, /^ {2}nginx /m);
});

t.test('this machine has everything: exits 0 silently', async (t) => {
  const result = spawnSync('bash', [script], { encoding: 'utf8', timeout: 10_000 });
  t.equal(result.status, 0, result.stderr);
  t.equal(result.stdout + result.stderr, '');
});

// As root the script installs with apt-get. A recording apt-get stands in for the real one
// (installing for real would change this shared machine); it installs nothing, so the check
// afterwards still fails and says so.
t.test('root: one apt-get update, one apt-get install of every missing package', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
  const bin = bareBin(t, { 'apt-get': `echo "$@" >> "$(dirname "$0")/apt-get.calls"` });
  const result = run(bin, { asNobody: false });
  const calls = readFileSync(path.join(bin, 'apt-get.calls'), 'utf8').trim().split('\n');
  t.equal(calls.length, 2, 'apt-get ran twice');
  t.match(calls[0], /-o Dir::Cache::Archives=.*\/cache\/apt\/ .* update -qq$/, 'update first, with the cache under the cache folder');
  const installed = /install -y -qq --no-install-recommends (.+)$/.exec(calls[1])?.[1].split(' ');
  t.same(installed?.sort(), [...new Set(PACKAGES)].sort(), 'then install, once, of every missing package');
  t.equal(result.status, 1, 'still missing afterwards: exits 1');
  t.match(result.stderr, /still missing after apt-get install/);
});

t.test('npm test on such a machine stops at the check, before it builds or starts anything', async (t) => {
  const bin = bareBin(t);
  symlinkSync(process.execPath, path.join(bin, 'node'));
  const started = Date.now();
  const result = spawnSync(which('setpriv'), [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'bash', path.join(repoRoot, 'scripts', 'test.sh')], {
    env: { PATH: bin, PREREQUISITES_SYSTEM_DIRS: '', TRACKING_GATEWAY_CACHE: path.join(bin, 'cache') },
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.equal(result.status, 1);
  t.ok(Date.now() - started < 5_000, `at once (${Date.now() - started} ms)`);
  t.match(result.stdout, /^test: .*node v24\./, 'it got as far as saying which node runs it');
  t.match(result.stderr, /^npm test needs tools this machine does not have:\n/);
  t.notMatch(result.stdout + result.stderr, /starting a Kafka broker|starting moto|npm: command not found|tsc/, 'and no further');
});
