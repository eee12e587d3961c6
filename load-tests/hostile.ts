import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildCorpus } from '../test/hostile/corpus';
import { HOSTILE_LIMITS, PROJECT_ROOT, startHostileGateway, type HostileGateway } from '../test/hostile/gateway-child';
import { mib, needsRestart, runCase, type CaseResult } from '../test/hostile/run-case';
import { numberFromEnv } from './env';

// `node dist/load-tests/hostile.js [CHECKOUT] [--out FILE]`: what each attack of issue 10's
// corpus (test/hostile/corpus.ts) costs a gateway build. Starts `node CHECKOUT/dist/src/cli.js
// serve` (default: this project) with the attack test's small limits — a build that does not
// know a limit's config key runs without it, and the report says which — sends each case over
// a real socket and prints one row per case: input size, the answer (status and error code,
// or `crashed` / `timeout` / `closed`), the time to it, and the gateway's peak RSS during
// the case (/proc, every 50 ms). Each case is bounded by HOSTILE_CASE_TIMEOUT_MS (20 s); a
// gateway that died, stopped answering its health check, timed out or kept more than the RSS
// bound is restarted for the next case (the table says so).
//
// The "holds" column says whether the row meets the contract (/tmp/tg/contract.md) as the
// attack test judges it, with the test's 400 MiB RSS and 250 ms probe bounds.

const MiB = 1024 * 1024;
const CASE_TIMEOUT_MS = numberFromEnv('HOSTILE_CASE_TIMEOUT_MS', 20_000);
const RSS_BOUND = numberFromEnv('HOSTILE_RSS_BOUND_MB', 400) * MiB;
const PROBE_BOUND_MS = numberFromEnv('HOSTILE_PROBE_BOUND_MS', 250);

function parseArgs(argv: string[]): { checkout: string; out?: string; only?: RegExp } {
  let checkout = PROJECT_ROOT;
  let out: string | undefined;
  let only: RegExp | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') out = argv[++i];
    else if (argv[i] === '--only') only = new RegExp(argv[++i], 'i');
    else checkout = resolve(argv[i]);
  }
  return { checkout, out, only };
}

function describeBuild(checkout: string): string {
  try {
    const commit = execFileSync('git', ['-C', checkout, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', checkout, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return `${commit.length > 100 ? `${commit.slice(0, 100)}…` : commit}${dirty ? ' (with uncommitted changes)' : ''}`;
  } catch {
    return '(not a git checkout)';
  }
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

async function main(): Promise<number> {
  const { checkout, out, only } = parseArgs(process.argv.slice(2));
  const corpus = (await buildCorpus()).filter((c) => !only || only.test(c.name));
  const start = () => startHostileGateway({ checkout, config: HOSTILE_LIMITS });
  let gateway: HostileGateway = await start();
  const dropped = gateway.droppedKeys;
  const header = [
    `# Hostile corpus against ${checkout}`,
    '',
    `- build: ${describeBuild(checkout)}`,
    `- node ${process.version}, ${new Date().toISOString()}; each case bounded by ${CASE_TIMEOUT_MS / 1000} s; RSS sampled every 50 ms from /proc`,
    `- config: ${JSON.stringify(HOSTILE_LIMITS)}`,
    dropped.length > 0 ? `- this build refused config keys it does not know, so it ran without them: ${dropped.join(', ')}` : '- this build took every config key',
    '',
  ];
  console.log(header.join('\n'));
  const columns = ['#', 'item', 'case', 'input bytes', 'expected', 'answer', 'ms', 'RSS at start MiB', 'peak RSS MiB', 'holds'];
  const rows: string[] = [`| ${columns.join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`];
  console.log(rows.join('\n'));
  const results: CaseResult[] = [];
  let restarts = 0;
  for (const [index, c] of corpus.entries()) {
    const result = await runCase(gateway, c, { rssBoundBytes: RSS_BOUND, probeBoundMs: PROBE_BOUND_MS, timeoutMs: CASE_TIMEOUT_MS });
    results.push(result);
    const holds = result.failures.length === 0 ? 'yes' : `no: ${result.failures[0].slice(0, 140)}${result.failures.length > 1 ? ` (+${result.failures.length - 1})` : ''}`;
    const row = `| ${index + 1} | ${c.issueItem} | ${cell(c.name)} | ${result.inputBytes.toLocaleString('en-US')} | ${cell(result.expected)} | ${cell(result.answer)} | ${result.ms} | ${mib(result.startRssBytes)} | ${mib(result.peakRssBytes)} | ${cell(holds)} |`;
    rows.push(row);
    console.log(row);
    const restart = needsRestart(result, RSS_BOUND);
    if (restart) {
      const note = `|  |  | (restarting the gateway: ${cell(restart)}) |  |  |  |  |  |  |  |`;
      rows.push(note);
      console.log(note);
      restarts++;
      await gateway.stop(2000);
      gateway = await start();
    }
  }
  await gateway.stop();
  const held = results.filter((r) => r.failures.length === 0).length;
  const crashed = results.filter((r) => r.crashed).length;
  const footer = [
    '',
    `${held} of ${results.length} cases hold; ${crashed} crashed the gateway; ${restarts} restarts (a case after a restart ran on a fresh process).`,
    `Peak RSS over all cases: ${mib(Math.max(...results.map((r) => r.peakRssBytes)))} MiB.`,
  ];
  console.log(footer.join('\n'));
  if (out) writeFileSync(out, [...header, ...rows, ...footer, ''].join('\n'));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
