import { readdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { HOSTILE_AUTH, httpGet, rssBytes, startHostileGateway, sumMetric, type HostileGateway } from '../test/hostile/gateway-child';
import { exchange, requestBytes, type HttpSend } from '../test/hostile/raw-http';
import { numberFromEnv } from './env';
import { impression, impressionPixelPath, orderPlaced, Random } from './payloads';

// `npm run soak` (SOAK_DURATION_S, default 600): one gateway process on 127.0.0.1 with the
// default limits, as the image runs it (same node flags, MALLOC_ARENA_MAX=2), under mixed
// valid traffic — pixels, sendBeacon-style POSTs, service batches of 100 in JSON and NDJSON,
// gzip-compressed batches — and hostile traffic over raw sockets: gzip bombs, 4 MB invalid
// batches, malformed and poisoned JSON, bodies over the limit, a header flood, clients that
// leave mid-body, HTTP/2.0 request lines, `Origin: null`, two Authorization headers, an
// `Expect: 100-continue` without a key. Every SAMPLE_S it samples RSS (/proc), V8's used
// heap, the event loop's p99 delay and the open handles and file descriptors.
//
// It fails when any of them keeps growing: the median of the last third of the samples over
// the median of the first third by more than the allowance (GROWTH_RATIO, plus an absolute
// slack per measure, since small values are noisy), or when a valid request gets anything but
// 2xx (503 OVERLOADED from the decode budget is allowed and counted), a hostile one a 5xx
// other than 503, or the process dies. The first SAMPLE_S × 2 are warm-up and not judged.

const DURATION_S = numberFromEnv('SOAK_DURATION_S', 600);
const SAMPLE_S = numberFromEnv('SOAK_SAMPLE_S', 5);
/** Valid requests per second, all clients together; hostile ones per second. */
const VALID_RATE = numberFromEnv('SOAK_VALID_RATE', 200);
const HOSTILE_RATE = numberFromEnv('SOAK_HOSTILE_RATE', 4);
const GROWTH_RATIO = numberFromEnv('SOAK_GROWTH_RATIO', 1.15);
const MiB = 1024 * 1024;

interface Measure {
  name: string;
  unit: string;
  scale: number;
  /** What the last third may exceed the first third's median × GROWTH_RATIO by. */
  slack: number;
}
const MEASURES: Measure[] = [
  { name: 'rss', unit: 'MiB', scale: MiB, slack: 32 * MiB },
  { name: 'heapUsed', unit: 'MiB', scale: MiB, slack: 16 * MiB },
  { name: 'loopDelayP99', unit: 'ms', scale: 1e-3, slack: 0.05 },
  { name: 'handles', unit: '', scale: 1, slack: 30 },
  { name: 'fds', unit: '', scale: 1, slack: 30 },
];
type Sample = Record<string, number> & { at: number };

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
};

const openFds = (pid: number) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
};

async function sample(gateway: HostileGateway, startedAt: number): Promise<Sample> {
  const metrics = (await httpGet(gateway.adminPort, '/metrics', 10_000)).body;
  return {
    at: Math.round((Date.now() - startedAt) / 1000),
    rss: rssBytes(gateway.pid),
    heapUsed: sumMetric(metrics, 'nodejs_heap_size_used_bytes'),
    loopDelayP99: sumMetric(metrics, 'nodejs_eventloop_lag_p99_seconds'),
    handles: sumMetric(metrics, 'nodejs_active_handles_total'),
    fds: openFds(gateway.pid),
  };
}

/** The valid requests, sent over keep-alive connections; each returns its status. */
function validSenders(port: number): (() => Promise<number>)[] {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const random = new Random(24);
  const send = (method: string, path: string, headers: Record<string, string>, body?: Buffer) =>
    new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers: body ? { ...headers, 'content-length': String(body.length) } : headers, agent, timeout: 30_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(-1));
      req.end(body);
    });
  const batch = () => Array.from({ length: 100 }, () => orderPlaced(random));
  const json = { ...HOSTILE_AUTH, 'content-type': 'application/json' };
  return [
    () => send('GET', impressionPixelPath(impression(random)), { referer: 'https://publisher.example/a' }),
    () => send('POST', '/v1/in/widget/impression', { origin: 'https://publisher.example', 'content-type': 'text/plain;charset=UTF-8' }, Buffer.from(JSON.stringify([impression(random), impression(random)]))),
    () => send('POST', '/v1/events/shop/order-placed', json, Buffer.from(JSON.stringify(batch()))),
    () => send('POST', '/v1/events/shop/order-placed', { ...HOSTILE_AUTH, 'content-type': 'application/x-ndjson' }, Buffer.from(batch().map((e) => JSON.stringify(e)).join('\n'))),
    () => send('POST', '/v1/events/shop/order-placed', { ...json, 'content-encoding': 'gzip' }, gzipSync(JSON.stringify(batch()))),
  ];
}

/** The hostile requests: bytes for a raw socket, and how to send them. */
function hostileCases(port: number): { name: string; data: Buffer; dribble?: { afterBytes: number; intervalMs: number }; leaveAfterMs?: number }[] {
  const host = `127.0.0.1:${port}`;
  const path = '/v1/events/shop/order-placed';
  const json = { ...HOSTILE_AUTH, 'Content-Type': 'application/json' };
  const invalidOrder = (i: number) => ({ orderId: `o-${i}-${'x'.repeat(1300)}`, customerId: i });
  const bomb = gzipSync(JSON.stringify(Array.from({ length: 10_000 }, (_, i) => invalidOrder(i))), { level: 9 });
  const raw = (r: HttpSend) => requestBytes(r, host);
  const big = Buffer.from(JSON.stringify(Array.from({ length: 2_800 }, (_, i) => invalidOrder(i))));
  return [
    { name: 'gzip bomb', data: raw({ method: 'POST', path, headers: { ...json, 'Content-Encoding': 'gzip' }, body: bomb }) },
    { name: 'large invalid batch', data: raw({ method: 'POST', path, headers: json, body: big }) },
    { name: 'malformed JSON', data: raw({ method: 'POST', path, headers: json, body: Buffer.from('[{"orderId": "a",') }) },
    { name: 'prototype poisoning', data: raw({ method: 'POST', path, headers: json, body: Buffer.from('{"__proto__":{"x":1}}') }) },
    { name: 'body over the limit', data: raw({ method: 'POST', path, headers: json, body: Buffer.alloc(4 * MiB + 1024, 0x20) }) },
    { name: 'header flood', data: raw({ method: 'GET', path: '/v1/topics', headers: { 'X-Pad': 'a'.repeat(20_000) } }) },
    { name: 'client leaves mid-body', data: raw({ method: 'POST', path, headers: json, body: big }).subarray(0, 200_000), leaveAfterMs: 200 },
    { name: 'slow body', data: raw({ method: 'POST', path, headers: json, body: Buffer.from(JSON.stringify(invalidOrder(1))) }), dribble: { afterBytes: 300, intervalMs: 50 } },
    { name: 'HTTP/2.0 request line', data: Buffer.from(`GET /v1/topics HTTP/2.0\r\nHost: ${host}\r\n\r\n`, 'latin1') },
    { name: 'Origin: null beacon', data: raw({ method: 'POST', path: '/v1/in/widget/impression', headers: { Origin: 'null', 'Content-Type': 'text/plain' }, body: Buffer.from('[{"widgetId":"w"}]') }) },
    { name: 'two Authorization headers', data: raw({ method: 'POST', path, headers: { ...json, Authorization: ['Bearer hostile-test-key', 'Bearer other'] }, body: Buffer.from('{}') }) },
    { name: '100-continue without a key', data: raw({ method: 'POST', path, headers: { 'Content-Type': 'application/json', Expect: '100-continue' }, body: Buffer.from('{}') }) },
  ];
}

/** Sends at `rate` per second across the calls until `until`; counts answers by status. */
async function paced(rate: number, until: number, next: (i: number) => Promise<string>, counts: Map<string, number>, concurrency = 8): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (Date.now() < until) {
      const due = performance.now() + (1000 * concurrency) / rate;
      const key = await next(i++);
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function main(): Promise<number> {
  const gateway = await startHostileGateway({
    config: { server: { requestTimeoutMs: 10_000, headersTimeoutMs: 5_000 }, auth: { keys: [{ key: 'hostile-test-key', scopes: ['*'] }] } },
    env: { MALLOC_ARENA_MAX: '2' },
  });
  const startedAt = Date.now();
  const until = startedAt + DURATION_S * 1000;
  const valid = validSenders(gateway.port);
  const hostile = hostileCases(gateway.port);
  const validCounts = new Map<string, number>();
  const hostileCounts = new Map<string, number>();
  const samples: Sample[] = [];
  console.log(`soak: ${DURATION_S} s, ~${VALID_RATE} valid and ~${HOSTILE_RATE} hostile requests/s to one gateway process (pid ${gateway.pid}); a sample every ${SAMPLE_S} s; machine shared`);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await new Promise((r) => setTimeout(r, SAMPLE_S * 1000));
      if (!gateway.alive()) break;
      const s = await sample(gateway, startedAt).catch(() => undefined);
      if (s) {
        samples.push(s);
        console.log(`  t=${s.at}s rss ${(s.rss / MiB).toFixed(0)} MiB, heap ${(s.heapUsed / MiB).toFixed(0)} MiB, loop p99 ${(s.loopDelayP99 * 1000).toFixed(1)} ms, handles ${s.handles}, fds ${s.fds}`);
      }
    }
  })();
  await Promise.all([
    paced(VALID_RATE, until, async (i) => String(await valid[i % valid.length]()), validCounts),
    paced(
      HOSTILE_RATE,
      until,
      async (i) => {
        const c = hostile[i % hostile.length];
        const outcome = await exchange({ port: gateway.port, data: c.data, timeoutMs: c.leaveAfterMs ?? 20_000, dribble: c.dribble });
        return `${c.name}: ${outcome.kind === 'answer' ? outcome.answer.status : c.leaveAfterMs ? 'left' : outcome.kind}`;
      },
      hostileCounts,
      2,
    ),
  ]);
  sampling = false;
  await sampler;
  const alive = gateway.alive();
  await gateway.stop(10_000);

  const problems: string[] = [];
  if (!alive) problems.push('the gateway process died');
  for (const [status, n] of validCounts) if (!/^2\d\d$/.test(status) && status !== '503') problems.push(`${n} valid requests answered ${status}`);
  for (const [key, n] of hostileCounts) {
    const status = key.split(': ')[1];
    if (/^5\d\d$/.test(status) && status !== '503') problems.push(`${n} × ${key}`);
    if (status === 'timeout' || status === 'refused') problems.push(`${n} × ${key}`);
  }
  const judged = samples.filter((s) => s.at > 2 * SAMPLE_S);
  const third = Math.floor(judged.length / 3);
  const rows: string[] = [];
  if (third < 2) problems.push(`only ${judged.length} samples: too short to judge growth (run at least ${8 * SAMPLE_S} s)`);
  else {
    for (const m of MEASURES) {
      const first = median(judged.slice(0, third).map((s) => s[m.name]));
      const last = median(judged.slice(-third).map((s) => s[m.name]));
      const bound = first * GROWTH_RATIO + m.slack;
      const grew = last > bound;
      const show = (v: number) => (v / m.scale).toFixed(m.unit === 'ms' ? 1 : 0);
      rows.push(`| ${m.name} | ${show(first)} ${m.unit} | ${show(last)} ${m.unit} | ${show(bound)} ${m.unit} | ${show(Math.max(...judged.map((s) => s[m.name])))} ${m.unit} | ${grew ? 'GROWS' : 'holds'} |`);
      if (grew) problems.push(`${m.name} grows: last third's median ${show(last)} ${m.unit} > ${show(bound)} ${m.unit} (first third's ${show(first)} × ${GROWTH_RATIO} + ${show(m.slack)})`);
    }
  }
  const counts = (map: Map<string, number>) => [...map].sort().map(([k, n]) => `${k} ×${n}`).join(', ');
  const report = [
    `soak: ${DURATION_S} s, ${judged.length} samples judged (every ${SAMPLE_S} s after ${2 * SAMPLE_S} s of warm-up)`,
    '',
    '| measure | first third (median) | last third (median) | bound | max | verdict |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `valid answers (${Math.round([...validCounts.values()].reduce((a, b) => a + b, 0) / DURATION_S)}/s): ${counts(validCounts)}`,
    `hostile answers: ${counts(hostileCounts)}`,
    '',
    problems.length === 0 ? 'PASS' : `FAIL:\n  ${problems.join('\n  ')}`,
  ].join('\n');
  console.log(`\n${report}`);
  if (process.env.SOAK_OUT) writeFileSync(process.env.SOAK_OUT, `${report}\n\n${JSON.stringify(samples)}\n`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
