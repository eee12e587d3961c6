import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { barChartSvg } from './bar-chart';
import { numberFromEnv } from './env';
import { startGateway, sumMetric } from './gateway-process';
import { generateLoad, type LoadResult } from './load-generator';
import { ensureNginx, startNginx } from './nginx';
import { impression, impressionPixelPath, Random } from './payloads';
import { formatTable, whole } from './table';
import { runWrk, wrkAvailable, type WrkResult } from './wrk';

// `npm run bench`: the gateway's beacon pixel side by side with what bounds it (bare
// node:http, a bare Fastify route) and with how beacon servers used to be built (NGINX
// empty_gif + access log). Each server runs alone, then the same load hits it; results go to
// load-tests/results/ as JSON and an SVG chart.

const DURATION_S = numberFromEnv('BENCH_DURATION_S', 10);
const CONNECTIONS = numberFromEnv('BENCH_CONNECTIONS', 50);
const PIPELINING = numberFromEnv('BENCH_PIPELINING', 1);
const WARMUP_S = numberFromEnv('BENCH_WARMUP_S', 3);
const BATCH_CONNECTIONS = numberFromEnv('BENCH_BATCH_CONNECTIONS', 8);
const RESULTS_DIR = join(__dirname, '..', '..', 'load-tests', 'results');
const SHARING_NOTE =
  `load generator and server share this machine's ${cpus().length} cores: autocannon runs in a child process of its own, ` +
  'wrk (1 thread) as its own process, the server in another; nothing is pinned, so the load generator takes CPU the server could use';

interface Server {
  name: string;
  baseUrl: string;
  /** Stops it; resolves with events it recorded during the whole run, where it records any. */
  stop(): Promise<number | undefined>;
  /** Events recorded so far, where it can tell without stopping. */
  recordedEvents?(): Promise<number>;
}

interface ServerResult {
  server: string;
  autocannon: Pick<LoadResult, 'requestsPerSecond' | 'latencyP50Ms' | 'latencyP99Ms' | 'non2xx' | 'errors'>;
  wrk?: WrkResult;
  /** Events recorded per second of autocannon load: gateway from /metrics, NGINX from its access log. */
  eventsPerSecond?: number;
  ratioToNodeHttp?: number;
  wrkRatioToNodeHttp?: number;
  note?: string;
}

function startBareServer(kind: 'node-http' | 'fastify', name: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'bare-server.js'), [kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    child.on('error', reject);
    child.once('message', (message) => {
      resolve({
        name,
        baseUrl: `http://127.0.0.1:${(message as { port: number }).port}`,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
          return undefined;
        },
      });
    });
  });
}

/** `workers` 1 beside the one-process servers; `auto` (every CPU) for what one pod does. */
async function startGatewayServer(workers: '1' | 'auto'): Promise<Server> {
  const gateway = await startGateway({ env: { GATEWAY_WORKERS: workers } });
  const accepted = async () => sumMetric(await gateway.metrics(), 'tracking_gateway_events_total', { outcome: 'accepted' });
  return {
    name: gatewayName(workers),
    baseUrl: gateway.baseUrl,
    recordedEvents: accepted,
    stop: async () => {
      const events = await accepted();
      const code = await gateway.stop();
      if (code !== 0) throw new Error(`gateway exited with ${code} after SIGTERM`);
      return events;
    },
  };
}

/** Warm-up, autocannon, then wrk, against one server running alone. */
async function measure(server: Server, wrkUrl: string | undefined, wrkHeaders: Record<string, string>): Promise<ServerResult> {
  const job = { baseUrl: server.baseUrl, scenario: 'beacon-get', connections: CONNECTIONS, pipelining: PIPELINING, account: false };
  await generateLoad({ ...job, durationSeconds: WARMUP_S });
  const before = await server.recordedEvents?.();
  const load = await generateLoad({ ...job, durationSeconds: DURATION_S });
  const after = await server.recordedEvents?.();
  const result: ServerResult = {
    server: server.name,
    autocannon: {
      requestsPerSecond: load.requestsPerSecond,
      latencyP50Ms: load.latencyP50Ms,
      latencyP99Ms: load.latencyP99Ms,
      non2xx: load.non2xx,
      errors: load.errors,
    },
  };
  if (before !== undefined && after !== undefined) result.eventsPerSecond = (after - before) / load.durationSeconds;
  console.log(`  autocannon: ${whole(load.requestsPerSecond)} req/s, p50 ${load.latencyP50Ms} ms, p99 ${load.latencyP99Ms} ms, non-2xx ${load.non2xx}`);
  if (wrkUrl) {
    result.wrk = await runWrk(`${server.baseUrl}${wrkUrl}`, CONNECTIONS, DURATION_S, wrkHeaders);
    console.log(`  wrk:        ${whole(result.wrk.requestsPerSecond)} req/s, p50 ${result.wrk.latencyP50Ms} ms, p99 ${result.wrk.latencyP99Ms} ms, non-2xx/3xx ${result.wrk.non2xxOr3xx}`);
  }
  return result;
}

function gatewayName(workers: '1' | 'auto'): string {
  return `tracking-gateway, file destination, ${workers === '1' ? '1 worker' : `workers auto (${cpus().length})`}`;
}

async function benchBatches(): Promise<{ connections: number; requestsPerSecond: number; eventsPerSecond: number; latencyP50Ms: number; latencyP99Ms: number; non2xx: number; metricsAccepted: number; clientAccepted: number }> {
  const gateway = await startGateway({ env: { GATEWAY_WORKERS: 'auto' } });
  try {
    const job = { baseUrl: gateway.baseUrl, scenario: 'service-batch-json', connections: BATCH_CONNECTIONS, pipelining: 1, account: true };
    await generateLoad({ ...job, durationSeconds: WARMUP_S });
    const before = sumMetric(await gateway.metrics(), 'tracking_gateway_events_total', { outcome: 'accepted' });
    const load = await generateLoad({ ...job, durationSeconds: DURATION_S });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const metricsAccepted = sumMetric(await gateway.metrics(), 'tracking_gateway_events_total', { outcome: 'accepted' }) - before;
    return {
      connections: BATCH_CONNECTIONS,
      requestsPerSecond: load.requestsPerSecond,
      eventsPerSecond: load.acceptedEvents / load.durationSeconds,
      latencyP50Ms: load.latencyP50Ms,
      latencyP99Ms: load.latencyP99Ms,
      non2xx: load.non2xx,
      metricsAccepted,
      clientAccepted: load.acceptedEvents,
    };
  } finally {
    const code = await gateway.stop();
    if (code !== 0) throw new Error(`gateway exited with ${code} after SIGTERM`);
  }
}

async function main(): Promise<number> {
  // Other work on the machine takes cores from both sides; the load average shows how much.
  const loadBefore = loadavg();
  const withWrk = wrkAvailable();
  const nginx = ensureNginx();
  console.log(`bench: ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${DURATION_S} s per server after a ${WARMUP_S} s warm-up`);
  console.log(SHARING_NOTE);
  if (!withWrk) console.log('wrk not found (apt-get install wrk): measuring with autocannon only');
  // The same pixel URL for wrk everywhere; autocannon cycles through the beacon-get pool.
  const sample = impression(new Random(1));
  const wrkUrl = withWrk ? impressionPixelPath(sample) : undefined;
  const wrkHeaders = { referer: sample.pageUrl };

  const starters: [string, () => Promise<Server>][] = [
    ['node:http, 204', () => startBareServer('node-http', 'node:http, 204')],
    ['Fastify route, 204', () => startBareServer('fastify', 'Fastify route, 204')],
  ];
  if (nginx) {
    starters.push([
      'NGINX empty_gif + access log, 1 worker',
      async () => {
        const server = await startNginx(nginx);
        console.log(`  ${server.version}`);
        return { name: 'NGINX empty_gif + access log, 1 worker', baseUrl: server.baseUrl, stop: () => server.stop() };
      },
    ]);
  }
  starters.push([gatewayName('1'), () => startGatewayServer('1')]);
  starters.push([gatewayName('auto'), () => startGatewayServer('auto')]);

  const results: ServerResult[] = [];
  for (const [name, start] of starters) {
    console.log(`\n${name}`);
    const server = await start();
    const result = await measure(server, wrkUrl, wrkHeaders);
    const recorded = await server.stop();
    if (name.startsWith('NGINX') && recorded !== undefined) {
      result.note = `access log: ${recorded} lines for the whole run (warm-up, autocannon, wrk)`;
      result.eventsPerSecond = result.autocannon.requestsPerSecond;
    }
    results.push(result);
  }
  const baseline = results[0];
  for (const result of results) {
    result.ratioToNodeHttp = result.autocannon.requestsPerSecond / baseline.autocannon.requestsPerSecond;
    if (result.wrk && baseline.wrk) result.wrkRatioToNodeHttp = result.wrk.requestsPerSecond / baseline.wrk.requestsPerSecond;
  }

  console.log(`\nservice batches: ${BATCH_CONNECTIONS} connections posting 100 orders (JSON) each, workers auto`);
  const batches = await benchBatches();

  console.log(`\nbeacon GET pixel, ${CONNECTIONS} connections, ${DURATION_S} s; ${SHARING_NOTE}\n`);
  console.log(
    formatTable(
      ['server', 'req/s', 'events/s', 'p50 ms', 'p99 ms', '× node:http', ...(withWrk ? ['wrk req/s', 'wrk p99 ms', 'wrk × node:http'] : [])],
      results.map((r) => [
        r.server,
        whole(r.autocannon.requestsPerSecond),
        r.eventsPerSecond === undefined ? '-' : whole(r.eventsPerSecond),
        r.autocannon.latencyP50Ms,
        r.autocannon.latencyP99Ms,
        (r.ratioToNodeHttp ?? 0).toFixed(2),
        ...(withWrk ? [whole(r.wrk?.requestsPerSecond ?? 0), r.wrk?.latencyP99Ms ?? '-', (r.wrkRatioToNodeHttp ?? 0).toFixed(2)] : []),
      ]),
    ),
  );
  for (const r of results) if (r.note) console.log(`${r.server}: ${r.note}`);
  console.log(
    `\nservice batches of 100 (JSON) into files, workers auto, ${batches.connections} connections: ${whole(batches.requestsPerSecond)} req/s = ${whole(batches.eventsPerSecond)} events/s, ` +
      `p50 ${batches.latencyP50Ms} ms, p99 ${batches.latencyP99Ms} ms, non-2xx ${batches.non2xx}; accepted: clients ${batches.clientAccepted}, /metrics ${batches.metricsAccepted}`,
  );

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg() },
    settings: { connections: CONNECTIONS, pipelining: PIPELINING, durationSeconds: DURATION_S, warmupSeconds: WARMUP_S },
    loadGenerator: SHARING_NOTE,
    beaconGet: results,
    serviceBatchesJson: batches,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'bench.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(
    join(RESULTS_DIR, 'bench.svg'),
    barChartSvg(
      'Beacon GET pixel: requests per second',
      `${CONNECTIONS} connections, ${DURATION_S} s, ${cpus().length} cores shared with the load generator, ${report.date.slice(0, 10)}`,
      withWrk ? ['autocannon (varied URLs)', 'wrk, 1 thread (one URL)'] : ['autocannon (varied URLs)'],
      results.map((r) => ({ label: r.server, values: [r.autocannon.requestsPerSecond, r.wrk?.requestsPerSecond] })),
      'req/s',
    ),
  );
  console.log(`load average (1, 5, 15 min) before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`\nwrote ${join('load-tests', 'results', 'bench.json')} and bench.svg`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
