// scripts/ensure-go.sh with a Go older than helm needs, as Debian bookworm's golang-go (1.19) is:
// a `go` that reports 1.19.8 and is otherwise the machine's own fetches the release asked for
// from the Go module proxy, into the project's cache (once: later runs find it there).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cacheRoot } from '../harness/cache-dir';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const script = path.join(repoRoot, 'scripts', 'ensure-go.sh');
const HELM_GO = /^HELM_GO_VERSION="([^"]+)"$/m;

function sh(command: string, env: NodeJS.ProcessEnv = process.env) {
  return spawnSync('bash', ['-c', command], { env, encoding: 'utf8', timeout: 300_000 });
}

t.test('an old go fetches the toolchain helm asks for', async (t) => {
  const realGo = sh('command -v go').stdout.trim();
  if (!realGo) throw new Error('no go on the PATH: scripts/ensure-prerequisites.sh should have said so');
  const want = HELM_GO.exec(sh(`cat ${path.join(repoRoot, 'scripts', 'ensure-helm.sh')}`).stdout)?.[1];
  if (!want) throw new Error('scripts/ensure-helm.sh sets no HELM_GO_VERSION');

  const bin = mkdtempSync(path.join(tmpdir(), 'old-go-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(path.join(bin, 'go'), `#!/bin/sh\nif [ "$1 $2" = "env GOVERSION" ]; then echo go1.19.8; exit 0; fi\nexec ${realGo} "$@"\n`);
  chmodSync(path.join(bin, 'go'), 0o755);

  const result = spawnSync('bash', [script, want], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TRACKING_GATEWAY_CACHE: cacheRoot() },
    encoding: 'utf8',
    timeout: 300_000,
  });
  t.equal(result.status, 0, result.stderr);
  const goBin = result.stdout.trim();
  t.ok(goBin.startsWith(path.join(cacheRoot(), 'go-mod')), `kept in the cache: ${goBin}`);
  t.equal(sh(`${path.join(goBin, 'go')} version`).stdout.split(' ')[2], `go${want}`, 'that toolchain runs and is the version asked for');
});

t.test('a go new enough is used as it is', async (t) => {
  const result = spawnSync('bash', [script, '1.0.0'], { encoding: 'utf8' });
  t.equal(result.status, 0, result.stderr);
  t.equal(result.stdout.trim(), path.dirname(sh('command -v go').stdout.trim()));
});
