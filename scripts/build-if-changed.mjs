// `npm start` and the topics commands build only when what they run changed: the newest
// modification time among the gateway's and the browser client's sources, the TypeScript
// configs and the lock file, against a stamp the last build here left in dist/. A build
// that fails leaves no stamp, so the next start builds again. `npm run build` still builds
// everything, always; tsc is incremental (tsconfig.json), so after a change it redoes little.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const INPUTS = ['src', 'clients/browser', 'tsconfig.json', 'package.json', 'package-lock.json'];
/** Outputs in dist/ the gateway needs: a build is due when one is missing, whatever the stamp says. */
const OUTPUTS = ['dist/src/cli.js', 'dist/clients/browser/tracker.js'];

function newestChange(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs; // a deleted file changes its folder's time
  for (const entry of readdirSync(path, { recursive: true })) newest = Math.max(newest, statSync(join(path, entry)).mtimeMs);
  return newest;
}

const changed = Math.max(...INPUTS.map((input) => newestChange(join(root, input))));
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : -Infinity;
if (changed < built && OUTPUTS.every((output) => existsSync(join(root, output)))) process.exit(0);

// The stamp takes the time the build started, so an edit made while it runs builds again next time.
const started = new Date();
const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
writeFileSync(stamp, 'written by scripts/build-if-changed.mjs after a successful npm run build\n');
utimesSync(stamp, started, started);
