import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import autocannon from 'autocannon';
import { barChartSvg } from './bar-chart';
import { ensureBenthos, startBenthosFiles } from './benthos';
import { numberFromEnv } from './env';
import { LOAD_TEST_AUTH, startGateway, sumMetric } from './gateway-process';
import { generateLoad } from './load-generator';
import { ensureNginx, startNginx } from './nginx';
import { orderPlaced, Random } from './payloads';
import { formatTable, whole } from './table';

// `npm run bench`: the two paths that carry the volume, each beside its peers in one run.
// - Beacon GET pixel: bare node:http, NGINX empty_gif with an access log, the gateway into
//   files; one process each.
// - 100-event JSON batches into gzip NDJSON files: Benthos (http_server → file) and the gateway
//   with every worker and with one.
// Contenders run one at a time, in an order rotated every round; ratios are taken within a
// round, then their median and range are printed. Then the cost curve (events/s and RSS for
// batches of 1, 10, 100, 1,000 events over 64 connections, 100 over 1,024) and the p99 of a
// pixel sent while batches run at full speed. `BENCH_QUICK=1` (or `--quick`) fits in ~3 min.
// Results: load-tests/results/bench.json, bench.svg (pixel), bench-cost.svg (the curve).

const QUICK = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const SECONDS = numberFromEnv('BENCH_SECONDS', QUICK ? 4 : 10);
const WARMUP_S = numberFromEnv('BENCH_WARMUP_S', QUICK ? 1 : 3);
const ROUNDS = numberFromEnv('BENCH_ROUNDS', QUICK ? 2 : 3);
const PIXEL_CONNECTIONS = numberFromEnv('BENCH_CONNECTIONS', 50);
const BATCH_CONNECTIONS = numberFromEnv('BENCH_BATCH_CONNECTIONS', 64);
const CURVE_SECONDS = numberFromEnv('BENCH_CURVE_SECONDS', QUICK ? 3 : 6);
const PROBE_RATE = 200;
const RESULTS_DIR = join(__dirname, '..', '..', 'load-tests', 'results');
const ORDERS_PATH = '/v1/events/shop/order-placed';
const SHARING_NOTE = `the load generator (autocannon) and every contender share this machine's ${cpus().length} cores; nothing is pinned`;

interface Running {
  /** Where batches are POSTed (batch contenders). */
  postUrl?: string;
  baseUrl: string;
  pid: number;
  /** Stops it; returns a problem with what it recorded, if any. */
  stop(): Promise<string | undefined>;
}

interface Contender {
  name: string;
  start(): Promise<Running>;
}

interface Run {
  contender: string;
  round: number;
  perSecond: number;
  p99Ms: number;
  rssBytes: number;
  non2xx: number;
}

/** RSS of a process and every descendant (a cluster's workers), from /proc. */
function treeRss(root: number): number {
  const parents = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
      rss.set(Number(entry), Number(fields[21]) * 4096);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  for (const [pid, bytes] of rss) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parents.get(p)) {
      if (p === root) {
        total += bytes;
        break;
      }
    }
  }
  return total;
}

/** Peak RSS of `pid`'s tree while `work` runs. */
async function withPeakRss<T>(pid: number, work: Promise<T>): Promise<[T, number]> {
  let peak = treeRss(pid);
  const timer = setInterval(() => (peak = Math.max(peak, treeRss(pid))), 250);
  try {
    return [await work, Math.max(peak, treeRss(pid))];
  } finally {
    clearInterval(timer);
  }
}

function ordersBody(count: number): Buffer {
  const random = new Random(count);
  return Buffer.from(JSON.stringify(Array.from({ length: count }, () => orderPlaced(random))));
}

function postLoad(url: string, body: Buffer, connections: number, seconds: number): Promise<autocannon.Result> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`load goes to 127.0.0.1 only, not ${url}`);
  const headers = { 'content-type': 'application/json', ...LOAD_TEST_AUTH };
  return new Promise((done, fail) => autocannon({ url, method: 'POST', headers, body, connections, duration: seconds }, (err, result) => (err ? fail(err) : done(result))));
}

function bareNodeHttp(): Contender {
  return {
    name: 'node:http answering 204',
    start: () =>
      new Promise((resolve, reject) => {
        const child = fork(join(__dirname, 'bare-server.js'), ['node-http'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        const exited = new Promise<void>((done) => child.on('exit', () => done()));
        child.on('error', reject);
        child.once('message', (message) =>
          resolve({
            baseUrl: `http://127.0.0.1:${(message as { port: number }).port}`,
            pid: child.pid!,
            stop: async () => {
              child.kill('SIGTERM');
              await exited;
              return undefined;
            },
          }),
        );
      }),
  };
}

function nginxEmptyGif(binary: string): Contender {
  return {
    name: 'NGINX empty_gif + access log, 1 worker',
    start: async () => {
      const nginx = await startNginx(binary);
      return { baseUrl: nginx.baseUrl, pid: nginx.pid, stop: async () => (await nginx.stop(), undefined) };
    },
  };
}

function gatewayContender(workers: '1' | 'auto'): Contender {
  return {
    name: `tracking-gateway into files, ${workers === '1' ? '1 worker' : `workers auto (${cpus().length})`}`,
    start: async () => {
      const gateway = await startGateway({ env: { GATEWAY_WORKERS: workers } });
      return {
        baseUrl: gateway.baseUrl,
        postUrl: `${gateway.baseUrl}${ORDERS_PATH}`,
        pid: gateway.pid,
        stop: async () => {
          const code = await gateway.stop();
          return code === 0 ? undefined : `gateway exited with ${code} after SIGTERM`;
        },
      };
    },
  };
}

function benthosFiles(binary: string): Contender {
  return {
    name: 'Benthos v4.24.0 (Go), http_server → gzip file, every core',
    start: async () => {
      const out = mkdtempSync(join(tmpdir(), 'tracking-gateway-bench-benthos-out-'));
      const benthos = await startBenthosFiles(binary, out);
      return {
        baseUrl: benthos.baseUrl,
        postUrl: `${benthos.baseUrl}${benthos.path}`,
        pid: benthos.pid,
        stop: async () => {
          await benthos.stop();
          // Every line it acknowledged must be in its files, readable as gzip.
          let lines = 0;
          for (const name of readdirSync(out)) {
            const text = gunzipSync(readFileSync(join(out, name)));
            for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) lines++;
          }
          rmSync(out, { recursive: true, force: true });
          return lines === 0 ? 'Benthos wrote no lines' : undefined;
        },
      };
    },
  };
}

async function pixelRun(contender: Contender, round: number): Promise<Run> {
  const running = await contender.start();
  try {
    const job = { baseUrl: running.baseUrl, scenario: 'beacon-get', connections: PIXEL_CONNECTIONS, pipelining: 1, account: false };
    await generateLoad({ ...job, durationSeconds: WARMUP_S });
    const [load, rssBytes] = await withPeakRss(running.pid, generateLoad({ ...job, durationSeconds: SECONDS }));
    return { contender: contender.name, round, perSecond: load.requestsPerSecond, p99Ms: load.latencyP99Ms, rssBytes, non2xx: load.non2xx };
  } finally {
    const problem = await running.stop();
    if (problem) throw new Error(problem);
  }
}

async function batchRun(contender: Contender, round: number, body: Buffer, events: number): Promise<Run> {
  const running = await contender.start();
  try {
    await postLoad(running.postUrl!, body, BATCH_CONNECTIONS, WARMUP_S);
    const [load, rssBytes] = await withPeakRss(running.pid, postLoad(running.postUrl!, body, BATCH_CONNECTIONS, SECONDS));
    return { contender: contender.name, round, perSecond: (load['2xx'] * events) / load.duration, p99Ms: load.latency.p99, rssBytes, non2xx: load.non2xx + load.errors };
  } finally {
    const problem = await running.stop();
    if (problem) throw new Error(problem);
  }
}

/** Every contender once per round, in an order rotated each round. */
async function rounds(contenders: Contender[], run: (c: Contender, round: number) => Promise<Run>, unit: string): Promise<Run[]> {
  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const contender = contenders[(i + round - 1) % contenders.length];
      const r = await run(contender, round);
      console.log(`  round ${round}  ${contender.name.padEnd(58)} ${whole(r.perSecond).padStart(9)} ${unit}  p99 ${r.p99Ms} ms  RSS ${mib(r.rssBytes)} MiB  non-2xx ${r.non2xx}`);
      runs.push(r);
    }
  }
  return runs;
}

const mib = (bytes: number) => (bytes / 1048576).toFixed(0);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const span = (values: number[], digits = 0) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

interface Summary {
  contender: string;
  median: number;
  range: string;
  p99Ms: number;
  rssMiB: string;
}

function summarise(runs: Run[], contenders: Contender[]): Summary[] {
  return contenders.map((c) => {
    const mine = runs.filter((r) => r.contender === c.name);
    const values = mine.map((r) => r.perSecond);
    return { contender: c.name, median: median(values), range: `${whole(Math.min(...values))}–${whole(Math.max(...values))}`, p99Ms: median(mine.map((r) => r.p99Ms)), rssMiB: mib(median(mine.map((r) => r.rssBytes))) };
  });
}

/** a ÷ b within each round; median and range. */
function ratio(runs: Run[], a: string, b: string): { median: number; range: string } | undefined {
  const perRound: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const x = runs.find((r) => r.round === round && r.contender === a);
    const y = runs.find((r) => r.round === round && r.contender === b);
    if (x && y && y.perSecond > 0) perRound.push(x.perSecond / y.perSecond);
  }
  return perRound.length === 0 ? undefined : { median: median(perRound), range: span(perRound, 2) };
}

interface Target {
  target: string;
  measured: string;
  met: boolean;
}

async function costCurve(): Promise<{ points: { label: string; events: number; connections: number; eventsPerSecond: number; requestsPerSecond: number; p99Ms: number; rssMiB: number; non2xx: number }[]; probe: { p99Ms: number; p50Ms: number; non2xx: number; batchEventsPerSecond: number } }> {
  const gateway = await startGateway({ env: { GATEWAY_WORKERS: 'auto' } });
  try {
    const url = `${gateway.baseUrl}${ORDERS_PATH}`;
    await postLoad(url, ordersBody(100), BATCH_CONNECTIONS, WARMUP_S);
    const points = [];
    for (const [events, connections] of [
      [1, 64],
      [10, 64],
      [100, 64],
      [1000, 64],
      [100, 1024],
    ]) {
      const body = ordersBody(events);
      // Counted at the gateway (/metrics) over the window, not by answers: a request of 1,000
      // events over 64 connections, or of 100 over 1,024, takes seconds, so a window of a few
      // seconds sees few answers come back while the gateway is busy accepting all of them.
      const accepted = async () => sumMetric(await gateway.metrics(), 'tracking_gateway_events_total', { outcome: 'accepted' });
      const before = await accepted();
      const started = performance.now();
      const [load, rss] = await withPeakRss(gateway.pid, postLoad(url, body, connections, CURVE_SECONDS));
      const seconds = (performance.now() - started) / 1000;
      const point = {
        label: `${events} event${events === 1 ? '' : 's'}/request, ${connections} connections`,
        events,
        connections,
        eventsPerSecond: ((await accepted()) - before) / seconds,
        requestsPerSecond: load.requests.average,
        p99Ms: load.latency.p99,
        rssMiB: Math.round(rss / 1048576),
        non2xx: load.non2xx,
      };
      // Let what the cut connections left in flight drain before the next point.
      await sleep(1000);
      console.log(`  ${point.label.padEnd(40)} ${whole(point.eventsPerSecond).padStart(9)} events/s  p99 ${point.p99Ms} ms  peak RSS ${point.rssMiB} MiB (every process)  non-2xx ${point.non2xx}`);
      points.push(point);
    }
    // A pixel sent while 100-event batches run as fast as the gateway answers them.
    const body = ordersBody(100);
    const batches = postLoad(url, body, BATCH_CONNECTIONS, CURVE_SECONDS);
    await sleep(500);
    const pixels = await generateLoad({ baseUrl: gateway.baseUrl, scenario: 'beacon-get', connections: 4, durationSeconds: CURVE_SECONDS - 1, pipelining: 1, overallRate: PROBE_RATE, account: false });
    const batchLoad = await batches;
    const probe = { p50Ms: pixels.latencyP50Ms, p99Ms: pixels.latencyP99Ms, non2xx: pixels.non2xx, batchEventsPerSecond: (batchLoad['2xx'] * 100) / batchLoad.duration };
    console.log(`  pixels at ${PROBE_RATE}/s during 100-event batches over ${BATCH_CONNECTIONS} connections (${whole(probe.batchEventsPerSecond)} events/s): p50 ${probe.p50Ms} ms, p99 ${probe.p99Ms} ms, non-2xx ${probe.non2xx}`);
    return { points, probe };
  } finally {
    const code = await gateway.stop();
    if (code !== 0) throw new Error(`gateway exited with ${code} after SIGTERM`);
  }
}

async function main(): Promise<number> {
  const loadBefore = loadavg();
  console.log(`bench${QUICK ? ' (quick)' : ''}: ${ROUNDS} rounds, ${SECONDS} s per contender after a ${WARMUP_S} s warm-up; ${SHARING_NOTE}`);
  console.log(`load average (1, 5, 15 min) at start: ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  const nginx = ensureNginx();
  const benthos = process.env.BENCH_BENTHOS === 'skip' ? undefined : ensureBenthos();

  const nodeHttp = bareNodeHttp();
  const gateway1 = gatewayContender('1');
  const gatewayAuto = gatewayContender('auto');
  const nginxContender = nginx ? nginxEmptyGif(nginx) : undefined;
  const pixelContenders = [nodeHttp, ...(nginxContender ? [nginxContender] : []), gateway1];
  console.log(`\nbeacon GET pixel, ${PIXEL_CONNECTIONS} connections (varied URLs from the beacon-get pool), one process each`);
  const pixelRuns = await rounds(pixelContenders, pixelRun, 'req/s');

  const benthosContender = benthos ? benthosFiles(benthos) : undefined;
  if (!benthosContender) console.log('Benthos left out (BENCH_BENTHOS=skip) or could not be had: its batch row is missing');
  const batchContenders = [...(benthosContender ? [benthosContender] : []), gatewayAuto, gateway1];
  const body = ordersBody(100);
  console.log(`\n100-event JSON batches into gzip NDJSON files, ${BATCH_CONNECTIONS} connections, ${body.length} bytes per request`);
  const batchRuns = await rounds(batchContenders, (c, round) => batchRun(c, round, body, 100), 'events/s');

  console.log(`\ncost curve: tracking-gateway, workers auto (${cpus().length}), ${CURVE_SECONDS} s per point`);
  const curve = await costCurve();

  const pixelSummary = summarise(pixelRuns, pixelContenders);
  const batchSummary = summarise(batchRuns, batchContenders);
  const columns = ['contender', 'median', 'range over rounds', 'p99 ms (median)', 'peak RSS MiB (median)'];
  const rows = (s: Summary[]) => s.map((x) => [x.contender, whole(x.median), x.range, String(x.p99Ms), x.rssMiB]);
  console.log(`\nbeacon GET pixel, req/s; ${SHARING_NOTE}\n${formatTable(columns, rows(pixelSummary))}`);
  console.log(`\n100-event JSON batches into files, events/s\n${formatTable(columns, rows(batchSummary))}`);
  console.log(`\ncost curve (tracking-gateway, workers auto)\n${formatTable(['load', 'events/s', 'p99 ms', 'peak RSS MiB', 'non-2xx'], curve.points.map((p) => [p.label, whole(p.eventsPerSecond), String(p.p99Ms), String(p.rssMiB), String(p.non2xx)]))}`);

  const targets: Target[] = [];
  const add = (target: string, r: { median: number; range: string } | undefined, min: number, unit = '×') => {
    if (r) targets.push({ target, measured: `${unit === '×' ? r.median.toFixed(2) : whole(r.median)}${unit === '×' ? '×' : ` ${unit}`} (rounds ${r.range})`, met: r.median >= min });
  };
  add('pixel into files, 1 worker ≥ 0.8× node:http', ratio(pixelRuns, gateway1.name, nodeHttp.name), 0.8);
  if (nginxContender) add('(peer) NGINX empty_gif ÷ node:http', ratio(pixelRuns, nginxContender.name, nodeHttp.name), 0);
  if (benthosContender) add('100-event batches into files, workers auto ≥ 1.0× Benthos', ratio(batchRuns, gatewayAuto.name, benthosContender.name), 1.0);
  const events = (name: string) => {
    const mine = batchRuns.filter((r) => r.contender === name).map((r) => r.perSecond);
    return { median: median(mine), range: `${whole(Math.min(...mine))}–${whole(Math.max(...mine))}` };
  };
  add('100-event batches, workers auto ≥ 150,000 events/s', events(gatewayAuto.name), 150_000, 'events/s');
  add('100-event batches, 1 worker ≥ 100,000 events/s', events(gateway1.name), 100_000, 'events/s');
  targets.push({ target: `p99 of a pixel during batches at full speed ≤ 10 ms`, measured: `${curve.probe.p99Ms} ms`, met: curve.probe.p99Ms <= 10 });
  console.log(`\ntargets\n${formatTable(['target', 'measured', 'met'], targets.map((t) => [t.target, t.measured, t.target.startsWith('(peer)') ? '-' : t.met ? 'met' : 'MISSED']))}`);

  const loadAfter = loadavg();
  console.log(`\nload average (1, 5, 15 min) before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);
  const date = new Date().toISOString();
  const report = {
    date,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
    settings: { quick: QUICK, rounds: ROUNDS, seconds: SECONDS, warmupSeconds: WARMUP_S, pixelConnections: PIXEL_CONNECTIONS, batchConnections: BATCH_CONNECTIONS, curveSeconds: CURVE_SECONDS },
    loadGenerator: SHARING_NOTE,
    pixel: { runs: pixelRuns, summary: pixelSummary },
    batches: { runs: batchRuns, summary: batchSummary },
    costCurve: curve,
    targets,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'bench.json'), JSON.stringify(report, null, 2) + '\n');
  const subtitle = `${ROUNDS} rounds of ${SECONDS} s, ${cpus().length} cores shared with the load generator, ${date.slice(0, 10)}`;
  writeFileSync(
    join(RESULTS_DIR, 'bench.svg'),
    barChartSvg('Beacon GET pixel: requests per second (median of rounds)', subtitle, ['req/s'], pixelSummary.map((s) => ({ label: s.contender, values: [s.median] })), 'req/s'),
  );
  writeFileSync(
    join(RESULTS_DIR, 'bench-cost.svg'),
    barChartSvg(
      'tracking-gateway into files: events per second as the work grows',
      `workers auto (${cpus().length}), ${CURVE_SECONDS} s per point, ${date.slice(0, 10)}; peak RSS of every process in the label`,
      ['events/s'],
      curve.points.map((p) => ({ label: `${p.label} (${p.rssMiB} MiB)`, values: [p.eventsPerSecond] })),
      'events/s',
    ),
  );
  console.log(`wrote ${join('load-tests', 'results', 'bench.json')}, bench.svg and bench-cost.svg`);
  const failures = [...pixelRuns, ...batchRuns].filter((r) => r.non2xx > 0);
  for (const f of failures) console.log(`${f.contender}, round ${f.round}: ${f.non2xx} non-2xx answers or errors`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
