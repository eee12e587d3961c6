// The commands in the README and docs/*.md work as written.
//
// What counts as a command here: each command of a ```sh block (lines joined at a trailing
// backslash or pipe, comment lines skipped, `a && b` taken as a and b), and each code span in
// the prose that starts with `npm ` (not `npm warn`, which is npm's output). Each is checked
// by its first word; a command of any other kind fails the test, so a new one must be taught
// here before it can be documented:
// - curl (alone or fed by printf): run by bash exactly as written, from the project root,
//   against a real gateway process (`node dist/src/cli.js serve`, what `npm start` ends with,
//   started with the GATEWAY_KEYS the README starts it with); the only rewrite is localhost:8080
//   and localhost:9464 to the test's free ports. A .curlrc with `fail` (CURL_HOME) makes an
//   HTTP error fail the command, and the answers printed with -i must be 2xx.
// - npm: the script is in package.json (ci is npm's own). npm ci, npm start, npm test and the
//   benchmarks are not run here: they are this whole suite, or minutes of load.
// - node FILE: FILE exists after the build (the load tests it names are not run).
// - NAME=value lines, and NAME=value before a command: NAME is an environment variable the
//   gateway reads, and GATEWAY_KEYS values parse.
// - helm install NAME CHART …: rendered with `helm template NAME CHART …` by the pinned helm,
//   the values set must render; `helm test` needs a cluster and is not run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig, ENV_OVERRIDES } from '../../src/config/config';
import { PROJECT_ROOT, readGzipLines, removeDir, tempDir } from '../helpers/gateway';
import { startServe } from '../helpers/process';
import { chooseHelm } from '../helm/helm-cli';
import { codeBlocks, docFiles, readDoc } from './markdown';

interface Command {
  file: string;
  text: string;
}

const SHELL_BLOCKS = new Set(['sh', 'bash', 'shell']);
const scripts = Object.keys(require(join(PROJECT_ROOT, 'package.json')).scripts as Record<string, string>);
const ENV_ONLY = /^(?:[A-Z_][A-Z0-9_]*=(?:'[^']*'|"[^"]*"|\S*)\s*)+(?:#.*)?$/;
const ENV_PREFIX = /^((?:[A-Z_][A-Z0-9_]*=(?:'[^']*'|"[^"]*"|\S*)\s+)*)([\s\S]*)$/;

/** The commands of a shell block: continued lines joined, comments and blank lines left out. */
function blockCommands(text: string): string[] {
  const commands: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (!pending && (/^\s*#/.test(line) || !line.trim())) continue;
    pending += line;
    if (/(\\|\|)\s*$/.test(line)) {
      pending += '\n';
      continue;
    }
    commands.push(pending.trim());
    pending = '';
  }
  return commands;
}

function allCommands(): Command[] {
  const commands: Command[] = [];
  for (const file of docFiles()) {
    const markdown = readDoc(file);
    for (const block of codeBlocks(markdown).filter((b) => SHELL_BLOCKS.has(b.lang))) {
      for (const command of blockCommands(block.text)) for (const part of command.split(/\s&&\s/)) commands.push({ file, text: part.trim() });
    }
    // `npm …` spans in the prose (code blocks removed first); `npm warn …` is what npm prints.
    const prose = markdown.replace(/```[\s\S]*?```/g, '');
    for (const span of prose.matchAll(/`(npm (?!warn )[^`]+)`/g)) commands.push({ file, text: span[1] });
  }
  return commands;
}

/** NAME → value of the NAME=value words at the start of a command. */
function envAssignments(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/([A-Z_][A-Z0-9_]*)=('([^']*)'|"([^"]*)"|(\S*))/g)) env[m[1]] = m[3] ?? m[4] ?? m[5];
  return env;
}

function withoutComment(text: string): string {
  return text.replace(/\s+#[^'"\n]*$/, '');
}

const commands = allCommands();
const kind = (c: Command) => {
  const rest = ENV_PREFIX.exec(c.text)![2];
  if (ENV_ONLY.test(c.text)) return 'env';
  if (/^(curl|printf)\b/.test(rest)) return 'curl';
  return rest.split(/\s+/)[0];
};

t.test('every command is of a kind this test checks', async (t) => {
  t.ok(commands.length > 20, `${commands.length} commands`);
  for (const c of commands) t.ok(['env', 'curl', 'npm', 'node', 'helm'].includes(kind(c)), `${c.file}: ${c.text.split('\n')[0]}`);
});

t.test('npm commands name scripts package.json has', async (t) => {
  for (const c of commands.filter((c) => kind(c) === 'npm')) {
    const words = withoutComment(ENV_PREFIX.exec(c.text)![2]).split(/\s+/);
    const script = words[1] === 'run' ? words[2] : words[1];
    t.ok(script === 'ci' || scripts.includes(script), `${c.file}: ${c.text} (script ${script})`);
  }
});

t.test('node commands run files the build makes', async (t) => {
  for (const c of commands.filter((c) => kind(c) === 'node')) {
    const file = withoutComment(c.text).split(/\s+/).find((w) => w.endsWith('.js'));
    t.ok(file && existsSync(join(PROJECT_ROOT, file)), `${c.file}: ${c.text}`);
  }
});

t.test('environment variables set in the docs are ones the gateway reads, and keys parse', async (t) => {
  const known = new Set([...Object.keys(ENV_OVERRIDES), 'GATEWAY_KEYS']);
  for (const c of commands.filter((c) => kind(c) === 'env' || /^[A-Z_]+=/.test(c.text))) {
    for (const [name, value] of Object.entries(envAssignments(ENV_PREFIX.exec(c.text)![1] || withoutComment(c.text)))) {
      t.ok(known.has(name), `${c.file}: ${name}`);
      if (name === 'GATEWAY_KEYS') t.doesNotThrow(() => buildConfig({}, { GATEWAY_KEYS: value }), `${c.file}: GATEWAY_KEYS=${value} parses`);
    }
  }
});

t.test('helm install renders with the values it sets (helm template, the pinned helm)', async (t) => {
  const installs = commands.filter((c) => kind(c) === 'helm' && /^helm install\b/.test(c.text));
  t.ok(installs.length > 0, 'the docs install the chart');
  const helm = chooseHelm().path;
  for (const c of installs) {
    const args = c.text.replace(/^helm install /, 'template ');
    const result = spawnSync('bash', ['-c', `"$HELM_BIN" ${args}`], { cwd: PROJECT_ROOT, env: { ...process.env, HELM_BIN: helm }, encoding: 'utf8' });
    t.equal(result.status, 0, `${c.file}: ${c.text.split('\n')[0]} …\n${result.stderr}`);
    t.match(result.stdout, /kind: Deployment|kind: StatefulSet/, 'it renders the gateway');
  }
});

t.test("the README's curl commands, as written, against a gateway started as the README starts it", async (t) => {
  const curls = commands.filter((c) => kind(c) === 'curl');
  t.ok(curls.length >= 10, `${curls.length} curl commands`);
  const start = commands.find((c) => c.file === 'README.md' && /^GATEWAY_KEYS=\S+ npm start$/.test(c.text));
  if (!start) throw new Error("the README no longer says how to start the gateway with a key (GATEWAY_KEYS='…' npm start)");
  const dataDir = tempDir();
  t.teardown(() => removeDir(dataDir));
  const gateway = await startServe({ ...envAssignments(start.text), GATEWAY_DATA_DIR: dataDir });
  t.teardown(() => gateway.stop());

  const curlHome = mkdtempSync(join(tmpdir(), 'curl-home-'));
  t.teardown(() => removeDir(curlHome));
  writeFileSync(join(curlHome, '.curlrc'), 'fail\nsilent\nshow-error\nmax-time = 10\n');
  for (const c of curls) {
    const script = c.text.replaceAll('http://localhost:8080', gateway.base).replaceAll('http://localhost:9464', gateway.admin);
    const result = spawnSync('bash', ['-o', 'pipefail', '-c', script], { cwd: PROJECT_ROOT, env: { ...process.env, CURL_HOME: curlHome }, encoding: 'utf8', timeout: 20_000 });
    const statuses = [...result.stdout.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((m) => Number(m[1]));
    t.ok(result.status === 0 && statuses.every((s) => s < 300), `${c.file}: ${c.text.split('\n')[0].slice(0, 100)} → exit ${result.status}, ${statuses.join(' ') || 'no -i'} ${result.stderr}`);
  }
  const orders = readGzipLines(dataDir).map((line) => line.data.orderId).filter(Boolean).sort();
  t.same(orders, ['1001', '1002', '2001', '2002', '3001'], 'the service events the commands sent are in the files: JSON, NDJSON (one of two), Avro, Segment (one of two)');
});
