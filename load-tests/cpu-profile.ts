import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { numberFromEnv } from './env';
import { startGateway } from './gateway-process';
import { generateLoad } from './load-generator';
import { formatTable } from './table';

// Where the gateway's CPU goes under beacon load: runs `node --cpu-prof dist/src/cli.js serve`
// under the beacon-get scenario, then sums self time by function and by file from the
// .cpuprofile. `node dist/load-tests/cpu-profile.js FILE.cpuprofile` summarises a profile
// taken elsewhere.

const DURATION_S = numberFromEnv('PROFILE_DURATION_S', 10);
const TOP = numberFromEnv('PROFILE_TOP', 25);
const SCENARIO = process.env.PROFILE_SCENARIO ?? 'beacon-get';
const REPO = join(__dirname, '..', '..');

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time in µs by key; `keyOf` decides what is summed together. */
function selfTime(profile: CpuProfile, keyOf: (frame: CpuProfile['nodes'][number]['callFrame']) => string): Map<string, number> {
  const frameOf = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const key = keyOf(frameOf.get(id)!);
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return totals;
}

/** A file as a reader finds it: the package under node_modules, else the path in this repository. */
function fileOf(url: string): string {
  if (url === '') return '(native or runtime)';
  const path = url.replace(/^file:\/\//, '');
  const inModules = path.lastIndexOf('node_modules/');
  if (inModules !== -1) return path.slice(inModules + 'node_modules/'.length);
  if (path.startsWith('node:')) return path;
  return path.startsWith('/') ? relative(REPO, path) : path;
}

function summarise(profile: CpuProfile): void {
  const total = profile.timeDeltas.reduce((sum, d) => sum + d, 0);
  const idle = selfTime(profile, (f) => f.functionName).get('(idle)') ?? 0;
  const busy = total - idle;
  const rows = (totals: Map<string, number>) =>
    [...totals]
      .filter(([key]) => key !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([key, us]) => [key, (us / 1000).toFixed(0), ((100 * us) / busy).toFixed(1)]);
  console.log(`profile: ${(total / 1e6).toFixed(1)} s, of which busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)}%); shares below are of busy time\n`);
  console.log(formatTable(['function (file:line)', 'self ms', '% busy'], rows(selfTime(profile, (f) => (f.functionName === '(idle)' ? '(idle)' : `${f.functionName || '(anonymous)'} ${fileOf(f.url)}:${f.lineNumber + 1}`)))));
  console.log('\n' + formatTable(['file or package', 'self ms', '% busy'], rows(selfTime(profile, (f) => (f.functionName === '(idle)' ? '(idle)' : f.url === '' ? f.functionName || '(native, unnamed)' : fileOf(f.url))))));
}

async function profileGateway(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tracking-gateway-cpuprofile-'));
  // One worker: the profile is of the process that does the work, not of a cluster's primary.
  const gateway = await startGateway({ nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir], env: { GATEWAY_WORKERS: '1' } });
  await generateLoad({ baseUrl: gateway.baseUrl, scenario: SCENARIO, connections: 50, durationSeconds: DURATION_S, pipelining: 1, account: false });
  const code = await gateway.stop();
  if (code !== 0) throw new Error(`gateway exited with ${code} after SIGTERM`);
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  console.log(`${SCENARIO} for ${DURATION_S} s against node --cpu-prof; profile: ${join(dir, file)}\n`);
  return join(dir, file);
}

async function main(args: string[]): Promise<void> {
  const path = args[0] ?? (await profileGateway());
  summarise(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
