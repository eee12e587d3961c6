import { gzipSync } from 'node:zlib';
import { HOSTILE_AUTH, httpGet, rssBytes, sumMetric, type HostileGateway } from './gateway-child';
import { exchange, requestBytes } from './raw-http';

// The memory attack of issue 24: many clients at once, each sending bodies that are cheap to
// send and dear to decode — gzip that inflates to ~14 MB of invalid events, and uncompressed
// batches near the body limit that fail validation — over raw sockets, while /healthz is
// timed on the admin port and the gateway's RSS is sampled from /proc. The attack test
// (decode-budget.test.ts) and the memory report (load-tests/memory.ts) both run it.

const MiB = 1024 * 1024;

/** An invalid order (customerId must be a string) with a long id: ~1.4 KB of JSON. */
const invalidOrder = (i: number) => ({ orderId: `o-${i}-${'x'.repeat(1300)}`, customerId: i, placedAt: 1764057600000, totalCents: 1, currency: 'EUR', items: [] });

/** The bodies the clients take turns sending, each a whole request's bytes. */
export function floodRequests(port: number): Buffer[] {
  const path = '/v1/events/shop/order-placed';
  // 10,000 events (maxEventsPerRequest) of ~1.4 KB: ~14 MB that gzip packs into ~60 KB.
  const inflating = Buffer.from(JSON.stringify(Array.from({ length: 10_000 }, (_, i) => invalidOrder(i))));
  const gzipped = gzipSync(inflating, { level: 9 });
  // Just under the 4 MiB body limit, uncompressed.
  const large = Buffer.from(JSON.stringify(Array.from({ length: 2_800 }, (_, i) => invalidOrder(i))));
  const host = `127.0.0.1:${port}`;
  const headers = { ...HOSTILE_AUTH, 'Content-Type': 'application/json' };
  return [
    requestBytes({ method: 'POST', path, headers: { ...headers, 'Content-Encoding': 'gzip' }, body: gzipped }, host),
    requestBytes({ method: 'POST', path, headers, body: large }, host),
  ];
}

export interface FloodResult {
  /** Answers by status ("422", "503", "closed", "timeout"). */
  answers: Record<string, number>;
  peakRssBytes: number;
  /** RSS once the load stopped and the gateway idled for `settleMs`. */
  settledRssBytes: number;
  /** RSS each second after the load. */
  settlingRssBytes: number[];
  rssBeforeBytes: number;
  /** /healthz round trips during the load, ms. */
  healthzMs: number[];
  inflatedBytes: number;
  gzippedBytes: number;
  /** V8's heap (total, as allocated from the system) and memory outside it, after the load. */
  settledHeapBytes: number;
  settledExternalBytes: number;
}

export async function flood(gateway: HostileGateway, options: { clients: number; durationMs: number; settleMs: number }): Promise<FloodResult> {
  const requests = floodRequests(gateway.port);
  const answers: Record<string, number> = {};
  const rssBeforeBytes = rssBytes(gateway.pid);
  let peakRssBytes = rssBeforeBytes;
  const sampler = setInterval(() => (peakRssBytes = Math.max(peakRssBytes, rssBytes(gateway.pid))), 50);
  const healthzMs: number[] = [];
  const until = Date.now() + options.durationMs;
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const started = performance.now();
      const answer = await httpGet(gateway.adminPort, '/healthz', 5000).catch(() => undefined);
      healthzMs.push(answer?.status === 200 ? performance.now() - started : Infinity);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const client = async (n: number) => {
    for (let i = n; Date.now() < until; i++) {
      const outcome = await exchange({ port: gateway.port, data: requests[i % requests.length], timeoutMs: 15_000 });
      const key = outcome.kind === 'answer' ? String(outcome.answer.status) : outcome.kind;
      answers[key] = (answers[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, n) => client(n)));
  probing = false;
  await probe;
  clearInterval(sampler);
  const settling: number[] = [];
  for (let waited = 0; waited < options.settleMs; waited += 1000) {
    await new Promise((r) => setTimeout(r, Math.min(1000, options.settleMs - waited)));
    settling.push(rssBytes(gateway.pid));
  }
  const settledRssBytes = rssBytes(gateway.pid);
  const metrics = (await httpGet(gateway.adminPort, '/metrics')).body;
  const inflated = Buffer.from(JSON.stringify(Array.from({ length: 10_000 }, (_, i) => invalidOrder(i)))).length;
  return { answers, peakRssBytes, settledRssBytes, settlingRssBytes: settling, rssBeforeBytes, healthzMs, inflatedBytes: inflated, gzippedBytes: requests[0].length, settledHeapBytes: sumMetric(metrics, 'nodejs_heap_size_total_bytes'), settledExternalBytes: sumMetric(metrics, 'nodejs_external_memory_bytes') };
}

export const mib = (bytes: number) => Math.round(bytes / MiB);
