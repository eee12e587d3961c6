/**
 * `npm run bench:kafka`: events/s into a real Kafka broker (acks=all) from POSTs of 100-event
 * JSON batches, the gateway beside its peers, alternated in one run:
 *
 *   - tracking-gateway with one worker, and with `workers: auto` (every CPU);
 *   - tracking-gateway with one worker writing `valueFormat: confluent-avro` (Confluent's wire
 *     format: 5 bytes before each datum), against the one worker writing bare datums;
 *   - bare node:http + @platformatic/kafka, the gateway's client and producer settings, no
 *     validation: the ceiling for Node on one core;
 *   - Benthos v4 (Go: http_server → kafka_franz), every core; skipped with a message when it
 *     cannot be built (scripts/ensure-benthos.sh).
 *
 * Each round runs every contender alone for BENCH_SECONDS after a warm-up, in a rotated order,
 * so that the machine's other load falls on all of them alike. Events/s are those answered
 * 2xx in the measured window (each acked by every in-sync replica); the broker's end offsets
 * must then hold at least every event acknowledged. Prints events/s and p99 per round, medians with
 * their range, and the ratios the targets name. Exits 1 on a 5xx or when the broker has fewer
 * events than were acknowledged; a missed ratio is reported, not failed (a benchmark, not a test).
 *
 *   BENCH_SECONDS=20 BENCH_ROUNDS=3 BENCH_WARMUP_S=3 BENCH_CONNECTIONS=64 BENCH_COMPRESSION=gzip
 *   KAFKA_BROKERS=host:port uses that broker; else one is started from the test harness.
 *   BENCH_BENTHOS=skip leaves Benthos out (its first build takes about 13 minutes).
 *   BENCH_MAX_IN_FLIGHT=4: the gateway's batch.maxInFlight (sends in flight per destination and worker).
 *   BENCH_CONTENDERS=formats: only the two one-worker gateways, avro and confluent-avro (a short run).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, Consumer } from '@platformatic/kafka';
import autocannon from 'autocannon';
import { KafkaBroker } from '../test/harness/kafka-broker';
import { ensureBenthos, startBenthos } from './benthos';
import { numberFromEnv } from './env';
import { LOAD_TEST_AUTH, startGateway } from './gateway-process';
import { formatTable, whole } from './table';

const ROOT = resolve(__dirname, '..', '..');
const SECONDS = numberFromEnv('BENCH_SECONDS', 20);
const ROUNDS = numberFromEnv('BENCH_ROUNDS', 3);
const WARMUP_S = numberFromEnv('BENCH_WARMUP_S', 3);
const CONNECTIONS = numberFromEnv('BENCH_CONNECTIONS', 64);
const COMPRESSION = process.env.BENCH_COMPRESSION ?? 'gzip';
const EVENTS_PER_POST = 100;
const PARTITIONS = 6;
const RESULTS_DIR = join(ROOT, 'load-tests', 'results');

interface Running {
  url: string;
  headers: Record<string, string>;
  stop(): Promise<void>;
  /** The process's CPU seconds so far (user + system), for contenders that export them. */
  cpuSeconds?(): Promise<number>;
}

interface Contender {
  name: string;
  topic: string;
  start(): Promise<Running>;
}

interface Run {
  contender: string;
  round: number;
  eventsPerSecond: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  acknowledged: number;
  delivered: number;
  non2xx: number;
  errors: number;
  /** CPU µs the contender spent per acknowledged event in the measured window, when it reports its CPU. */
  cpuMicrosPerEvent?: number;
}

function order(i: number) {
  return { orderId: `o-${i}`, customerId: `c-${i % 1000}`, placedAt: 1764000000000 + i, totalCents: 4599, currency: 'EUR', couponCode: null, items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 1500 }, { sku: 'SKU-2', quantity: 1, unitPriceCents: 1599 }] };
}
const BODY = JSON.stringify(Array.from({ length: EVENTS_PER_POST }, (_, i) => order(i)));

function gatewayContender(name: string, brokers: string[], prefix: string, workers: string, valueFormat = 'avro'): Contender {
  return {
    name,
    topic: `${prefix}.shop.order-placed`,
    start: async () => {
      const configFile = join(tmpdir(), `kafka-bench-${process.pid}-${workers}-${valueFormat}.json`);
      writeFileSync(
        configFile,
        JSON.stringify({
          batch: { maxRecords: 10_000, lingerMs: 5, maxInFlight: numberFromEnv('BENCH_MAX_IN_FLIGHT', 4) },
          destinations: { kafka: { type: 'kafka', brokers, topic: `${prefix}.{service}.{topic}`, compression: COMPRESSION, valueFormat } },
        }),
      );
      const gateway = await startGateway({ configFile, env: { GATEWAY_WORKERS: workers } });
      return {
        // A busy machine slows every contender's throughput; the CPU it spends per event moves less.
        cpuSeconds: async () => Number(/^process_cpu_seconds_total(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(await gateway.metrics())?.[1] ?? NaN),
        url: `${gateway.baseUrl}/v1/events/shop/order-placed`,
        headers: { ...LOAD_TEST_AUTH, 'content-type': 'application/json' },
        stop: async () => {
          const code = await gateway.stop();
          if (code !== 0) throw new Error(`${name} exited with ${code} after SIGTERM`);
        },
      };
    },
  };
}

function bareContender(brokers: string[], topic: string): Contender {
  return {
    name: 'node:http + @platformatic/kafka',
    topic,
    start: async () => {
      const child: ChildProcess = fork(join(__dirname, 'bare-kafka-server.js'), [brokers.join(','), topic, COMPRESSION], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const [message] = (await once(child, 'message')) as [{ port: number }];
      return {
        url: `http://127.0.0.1:${message.port}/`,
        headers: { 'content-type': 'application/json' },
        stop: async () => {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        },
      };
    },
  };
}

function benthosContender(binary: string, brokers: string[], topic: string): Contender {
  return {
    name: 'Benthos v4.24.0 (Go)',
    topic,
    start: async () => {
      const benthos = await startBenthos(binary, brokers, topic, COMPRESSION);
      return { url: `${benthos.baseUrl}${benthos.path}`, headers: { 'content-type': 'application/json' }, stop: () => benthos.stop() };
    },
  };
}

function load(url: string, headers: Record<string, string>, seconds: number): Promise<autocannon.Result> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`load goes to 127.0.0.1 only, not ${url}`);
  return new Promise((done, fail) => autocannon({ url, method: 'POST', headers, body: BODY, connections: CONNECTIONS, duration: seconds }, (err, result) => (err ? fail(err) : done(result))));
}

async function endOffsets(consumer: Consumer, topic: string): Promise<number> {
  const offsets = await consumer.listOffsets({ topics: [topic] });
  return (offsets.get(topic) ?? []).reduce((sum, offset) => sum + Number(offset), 0);
}

async function measure(contender: Contender, round: number, consumer: Consumer): Promise<Run> {
  const running = await contender.start();
  try {
    const before = await endOffsets(consumer, contender.topic);
    const warmup = await load(running.url, running.headers, WARMUP_S);
    const cpuBefore = await running.cpuSeconds?.();
    const result = await load(running.url, running.headers, SECONDS);
    const cpuAfter = await running.cpuSeconds?.();
    // The offsets are read once the last answers are in; the broker must hold every event
    // acknowledged since `before`, the warm-up's included.
    await sleep(500);
    const delivered = (await endOffsets(consumer, contender.topic)) - before;
    return {
      contender: contender.name,
      round,
      // Acknowledged in the measured window: each one acked by every in-sync replica.
      eventsPerSecond: (result['2xx'] * EVENTS_PER_POST) / result.duration,
      requestsPerSecond: result.requests.total / result.duration,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      acknowledged: (warmup['2xx'] + result['2xx']) * EVENTS_PER_POST,
      delivered,
      non2xx: warmup.non2xx + result.non2xx,
      errors: result.errors,
      cpuMicrosPerEvent: cpuBefore === undefined || cpuAfter === undefined || result['2xx'] === 0 ? undefined : ((cpuAfter - cpuBefore) * 1e6) / (result['2xx'] * EVENTS_PER_POST),
    };
  } finally {
    await running.stop();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const span = (values: number[], digits = 0) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

/** Per round, a ÷ b; the median and range of those. */
function ratio(runs: Run[], a: string, b: string): { median: number; range: string } | undefined {
  const perRound: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const x = runs.find((r) => r.round === round && r.contender === a);
    const y = runs.find((r) => r.round === round && r.contender === b);
    if (x && y && y.eventsPerSecond > 0) perRound.push(x.eventsPerSecond / y.eventsPerSecond);
  }
  return perRound.length === 0 ? undefined : { median: median(perRound), range: span(perRound, 2) };
}

async function main(): Promise<number> {
  const loadBefore = loadavg();
  const fromEnv = process.env.KAFKA_BROKERS?.split(',').filter(Boolean);
  const broker = fromEnv ? undefined : await KafkaBroker.start();
  const brokers = fromEnv ?? broker!.brokers;
  const prefix = `bench-${Date.now().toString(36)}`;
  const admin = new Admin({ clientId: 'kafka-bench', bootstrapBrokers: brokers });
  const consumer = new Consumer({ clientId: 'kafka-bench', groupId: `${prefix}-offsets`, bootstrapBrokers: brokers });
  try {
    const benthos = process.env.BENCH_BENTHOS === 'skip' ? undefined : ensureBenthos();
    const onlyFormats = process.env.BENCH_CONTENDERS === 'formats';
    const oneWorker = gatewayContender('tracking-gateway, 1 worker', brokers, `${prefix}-gw1`, '1');
    const confluent = gatewayContender('tracking-gateway, 1 worker, confluent-avro', brokers, `${prefix}-gwc`, '1', 'confluent-avro');
    const contenders: Contender[] = onlyFormats
      ? [oneWorker, confluent]
      : [oneWorker, gatewayContender(`tracking-gateway, workers auto`, brokers, `${prefix}-gwn`, 'auto'), bareContender(brokers, `${prefix}-bare`), confluent];
    if (benthos && !onlyFormats) contenders.push(benthosContender(benthos, brokers, `${prefix}-benthos`));
    const topics = [...contenders.map((c) => c.topic), ...['gw1', 'gwn', 'gwc'].map((gateway) => `${prefix}-${gateway}.widget.impression`)];
    await admin.createTopics({ topics, partitions: PARTITIONS, replicas: 1 });
    await sleep(2000); // leaders elected

    console.log(`bench:kafka: POSTs of ${EVENTS_PER_POST} JSON events, ${CONNECTIONS} connections, ${SECONDS} s each after ${WARMUP_S} s warm-up, ${ROUNDS} rounds, acks=all, ${COMPRESSION}, ${PARTITIONS} partitions, broker ${brokers.join(',')}`);
    console.log(`machine: ${cpus().length} cores shared by the load generator (autocannon, this process), the contender and the broker; Node ${process.version}`);
    const runs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotated: each contender goes first once as often as the others.
      const order = contenders.map((_, i) => contenders[(i + round - 1) % contenders.length]);
      for (const contender of order) {
        const run = await measure(contender, round, consumer);
        runs.push(run);
        const cpu = run.cpuMicrosPerEvent === undefined ? '' : `  ${run.cpuMicrosPerEvent.toFixed(1)} CPU-µs/event`;
        console.log(`  round ${round}  ${contender.name.padEnd(34)} ${whole(run.eventsPerSecond).padStart(8)} events/s  p99 ${run.p99Ms} ms${cpu}  (acked with warm-up ${run.acknowledged}, at the broker ${run.delivered}, non-2xx ${run.non2xx}, errors ${run.errors})`);
      }
    }

    const summary = contenders.map((c) => {
      const mine = runs.filter((r) => r.contender === c.name);
      return { contender: c.name, eventsPerSecond: median(mine.map((r) => r.eventsPerSecond)), eventsRange: span(mine.map((r) => r.eventsPerSecond)), p99Ms: median(mine.map((r) => r.p99Ms)), p99Range: span(mine.map((r) => r.p99Ms)) };
    });
    console.log(`\n${formatTable(['contender', 'events/s (median)', 'range', 'p99 ms (median)', 'range'], summary.map((s) => [s.contender, whole(s.eventsPerSecond), s.eventsRange, String(s.p99Ms), s.p99Range]))}`);

    const ratios: Record<string, unknown> = {};
    const named = new Set(contenders.map((c) => c.name));
    const report = (label: string, a: string, b: string, target: number) => {
      const r = named.has(a) && named.has(b) ? ratio(runs, a, b) : undefined;
      if (!r) return;
      ratios[label] = { ...r, target };
      console.log(`${label}: ${r.median.toFixed(2)}× (rounds ${r.range}); target ≥ ${target}× — ${r.median >= target ? 'met' : 'MISSED'}`);
    };
    console.log('');
    report('gateway (workers auto) ÷ Benthos', 'tracking-gateway, workers auto', 'Benthos v4.24.0 (Go)', 1.0);
    report('gateway (1 worker) ÷ node:http + @platformatic/kafka', oneWorker.name, 'node:http + @platformatic/kafka', 0.9);
    report('gateway (workers auto) ÷ node:http + @platformatic/kafka', 'tracking-gateway, workers auto', 'node:http + @platformatic/kafka', 1.0);
    // The wire format may cost at most 3 %.
    report('confluent-avro ÷ avro (1 worker)', confluent.name, oneWorker.name, 0.97);
    // The same pair by CPU spent per event (lower is better), which the machine's other load disturbs less.
    const cpuRatios: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const [c, a] = [confluent.name, oneWorker.name].map((name) => runs.find((r) => r.round === round && r.contender === name)?.cpuMicrosPerEvent);
      if (c !== undefined && a !== undefined && a > 0) cpuRatios.push(c / a);
    }
    if (cpuRatios.length > 0) {
      ratios['confluent-avro ÷ avro (1 worker), CPU per event'] = { median: median(cpuRatios), range: span(cpuRatios, 2), target: 1.03 };
      console.log(`confluent-avro ÷ avro (1 worker), CPU-µs per event: ${median(cpuRatios).toFixed(2)}× (rounds ${span(cpuRatios, 2)}); target ≤ 1.03× — ${median(cpuRatios) <= 1.03 ? 'met' : 'MISSED'}`);
    }
    if (!benthos && !onlyFormats) console.log(`Benthos: skipped (${process.env.BENCH_BENTHOS === 'skip' ? 'BENCH_BENTHOS=skip' : 'it could not be built here'})`);

    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(
      join(RESULTS_DIR, onlyFormats ? 'kafka-bench-formats.json' : 'kafka-bench.json'),
      JSON.stringify({ date: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg() }, settings: { seconds: SECONDS, rounds: ROUNDS, warmupSeconds: WARMUP_S, connections: CONNECTIONS, compression: COMPRESSION, eventsPerPost: EVENTS_PER_POST, partitions: PARTITIONS }, runs, summary, ratios }, null, 2) + '\n',
    );
    console.log(`load average (1, 5, 15 min) before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`wrote ${join('load-tests', 'results', onlyFormats ? 'kafka-bench-formats.json' : 'kafka-bench.json')}`);

    const problems = runs.flatMap((r) => [
      ...(r.non2xx > 0 ? [`${r.contender}, round ${r.round}: ${r.non2xx} non-2xx answers`] : []),
      ...(r.delivered < r.acknowledged ? [`${r.contender}, round ${r.round}: ${r.delivered} events at the broker, ${r.acknowledged} acknowledged`] : []),
    ]);
    for (const p of problems) console.log(`FAIL: ${p}`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    await consumer.close(true);
    await admin.close();
    await broker?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
