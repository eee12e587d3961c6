import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberFromEnv } from './env';
import { startGateway, sumMetric, type GatewayProcess } from './gateway-process';
import { generateLoad } from './load-generator';
import { whole } from './table';

// `node dist/load-tests/overload.js`: the memory bound under 5× the load the destination can
// take. The file destination is made slow by configuration alone — batches of one record, one
// send at a time, so every event costs its own gzip member and fsync — and the gateway gets a
// small buffer bound. Passes when the gateway stays up, its RSS stays under the bound plus a
// stated margin, the excess is answered 503 with Retry-After, and /metrics counts what the
// clients saw. Too long for CI (60 s by default).

const MiB = 1024 * 1024;
const DURATION_S = numberFromEnv('OVERLOAD_DURATION_S', 60);
const CALIBRATE_S = numberFromEnv('OVERLOAD_CALIBRATE_S', 5);
const BUFFER_MAX_BYTES = numberFromEnv('OVERLOAD_BUFFER_MAX_BYTES', 8 * MiB);
// The bound covers estimated event bytes held for delivery, not the runtime: Node and V8 idle
// at about 80 MiB here, the heap grows under a flood of requests, a buffered event's objects
// take about twice its estimated size, and the spool may hold up to 16 MiB of frames queued
// for the disk. 320 MiB was that allowance with V8's default young generation; the gateway
// now runs with a 32 MiB semi-space (GATEWAY_NODE_FLAGS), whose young generation may take
// 32 MiB more, hence 352. Peaks seen in 60 s runs: 245–327 MiB before the larger semi-space,
// 347 MiB with it. RSS does not grow with time, which is what this guards against.
const RSS_MARGIN_BYTES = numberFromEnv('OVERLOAD_RSS_MARGIN_MB', 352) * MiB;
const SPOOL_MAX_BYTES = numberFromEnv('OVERLOAD_SPOOL_MAX_BYTES', 16 * MiB);
const OVERLOAD_FACTOR = numberFromEnv('OVERLOAD_FACTOR', 5);
const CONNECTIONS = numberFromEnv('OVERLOAD_CONNECTIONS', 50);
const SCENARIO = process.env.OVERLOAD_SCENARIO ?? 'beacon-get';
const DRAIN_TIMEOUT_MS = 120_000;

const SLOW_DESTINATION_CONFIG = `# Written by load-tests/overload.ts: a file destination that fsyncs every event on its own.
destinations:
  slow-file:
    type: file
    batch:
      maxRecords: 1
      maxInFlight: 1
      lingerMs: 0
`;

const metric = (text: string, name: string, labels: Record<string, string> = {}) => sumMetric(text, name, labels);

async function waitForDrain(gateway: GatewayProcess): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < DRAIN_TIMEOUT_MS) {
    if (metric(await gateway.metrics(), 'tracking_gateway_buffer_bytes') === 0) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`buffer not drained within ${DRAIN_TIMEOUT_MS} ms`);
}

/** Samples RSS and the buffer every second while `during` runs; counts scrapes that failed. */
async function watch<T>(gateway: GatewayProcess, during: Promise<T>): Promise<{ result: T; maxRss: number; maxBuffer: number; failedScrapes: number; scrapes: number }> {
  let running = true;
  let maxRss = 0;
  let maxBuffer = 0;
  let failedScrapes = 0;
  let scrapes = 0;
  const sampler = (async () => {
    while (running) {
      scrapes++;
      try {
        const text = await gateway.metrics();
        maxRss = Math.max(maxRss, metric(text, 'process_resident_memory_bytes'));
        maxBuffer = Math.max(maxBuffer, metric(text, 'tracking_gateway_buffer_bytes'));
      } catch {
        failedScrapes++;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  const result = await during;
  running = false;
  await sampler;
  return { result, maxRss, maxBuffer, failedScrapes, scrapes };
}

async function main(): Promise<number> {
  const configDir = mkdtempSync(join(tmpdir(), 'tracking-gateway-overload-'));
  const configFile = join(configDir, 'gateway.yaml');
  writeFileSync(configFile, SLOW_DESTINATION_CONFIG);
  const gateway = await startGateway({
    configFile,
    // A small spool too: beacons spill into it under memory pressure, and only once it is
    // full are they refused with 503 — which is what this run is after.
    env: { GATEWAY_BUFFER_MAX_BYTES: String(BUFFER_MAX_BYTES), GATEWAY_SPOOL_MAX_BYTES: String(SPOOL_MAX_BYTES), GATEWAY_SHUTDOWN_GRACE_MS: String(DRAIN_TIMEOUT_MS) },
  });
  const failures: string[] = [];
  try {
    const idleRss = metric(await gateway.metrics(), 'process_resident_memory_bytes');
    console.log(`gateway on ${gateway.baseUrl}: buffer bound ${BUFFER_MAX_BYTES / MiB} MiB, destination fsyncs each event; idle RSS ${(idleRss / MiB).toFixed(0)} MiB`);
    console.log(`load generator (autocannon) in a child process on the same cores, nothing pinned\n`);

    // What the destination sustains: flood the gateway until its buffer is full, then time the
    // drain with no load running. Under the flood itself the destination delivers far less,
    // because its completions wait behind requests on the one event loop; both are reported.
    const delivered = async () => metric(await gateway.metrics(), 'tracking_gateway_destination_records_total', { outcome: 'delivered' });
    const floodStart = await delivered();
    const calibration = await generateLoad({ baseUrl: gateway.baseUrl, scenario: SCENARIO, connections: CONNECTIONS, durationSeconds: CALIBRATE_S, pipelining: 1, account: false });
    const floodEnd = await delivered();
    const drainedIn = await waitForDrain(gateway);
    const sustainable = (await delivered() - floodEnd) / (drainedIn / 1000);
    const offered = Math.max(1, Math.round(sustainable * OVERLOAD_FACTOR));
    console.log(
      `calibration: ${whole(calibration.requestsPerSecond)} req/s for ${CALIBRATE_S} s; the destination delivered ${whole((floodEnd - floodStart) / calibration.durationSeconds)} events/s ` +
        `under that flood and ${whole(sustainable)} events/s draining alone (${drainedIn} ms): the sustainable rate`,
    );
    console.log(`overload: ${SCENARIO} offered at ${whole(offered)} req/s (${OVERLOAD_FACTOR}× sustainable) for ${DURATION_S} s, ${CONNECTIONS} connections\n`);

    const before = await gateway.metrics();
    const watched = await watch(
      gateway,
      generateLoad({
        baseUrl: gateway.baseUrl,
        scenario: SCENARIO,
        connections: CONNECTIONS,
        durationSeconds: DURATION_S,
        pipelining: 1,
        overallRate: offered,
        account: true,
        timeoutSeconds: 30,
      }),
    );
    const load = watched.result;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await gateway.metrics();
    const delta = (name: string, labels: Record<string, string>) => metric(after, name, labels) - metric(before, name, labels);
    const serverAccepted = delta('tracking_gateway_events_total', { outcome: 'accepted' });
    const serverOverloaded = delta('tracking_gateway_events_rejected_total', { reason: 'overloaded' });
    const unavailable = load.statusCounts['503'] ?? 0;
    const overloadedEvents = (load.unavailableByCode.OVERLOADED ?? 0) * load.maxEventsPerRequest;
    const clientAccepted = load.acceptedEvents + load.acceptedButUnconfirmedEvents;
    const inFlightEvents = load.inFlightAtStop * load.maxEventsPerRequest;

    console.log(`achieved ${whole(load.requestsPerSecond)} req/s; statuses ${JSON.stringify(load.statusCounts)}; 503 by code ${JSON.stringify(load.unavailableByCode)}`);
    console.log(`p50 ${load.latencyP50Ms} ms, p99 ${load.latencyP99Ms} ms; errors ${load.errors}, timeouts ${load.timeouts}`);
    console.log(`RSS max ${(watched.maxRss / MiB).toFixed(0)} MiB (bound ${BUFFER_MAX_BYTES / MiB} MiB + margin ${RSS_MARGIN_BYTES / MiB} MiB); buffer_bytes max ${(watched.maxBuffer / MiB).toFixed(2)} MiB`);
    console.log(`accepted events: clients ${clientAccepted} (2xx ${load.acceptedEvents}, 503 DELIVERY_FAILED ${load.acceptedButUnconfirmedEvents}), /metrics ${serverAccepted}`);
    console.log(`refused as overloaded: clients ${overloadedEvents}, /metrics ${serverOverloaded}; requests in flight at the stop: ${load.inFlightAtStop}`);

    if (watched.failedScrapes > 0) failures.push(`${watched.failedScrapes} of ${watched.scrapes} /metrics scrapes failed during the overload`);
    if (watched.maxRss > BUFFER_MAX_BYTES + RSS_MARGIN_BYTES) failures.push(`RSS reached ${(watched.maxRss / MiB).toFixed(0)} MiB`);
    if (watched.maxBuffer > BUFFER_MAX_BYTES) failures.push(`buffer_bytes reached ${watched.maxBuffer}, over the bound`);
    if (unavailable === 0) failures.push('no request was refused with 503: the load did not reach the bound, so nothing was tested');
    if (load.unavailableWithoutRetryAfter > 0) failures.push(`${load.unavailableWithoutRetryAfter} answers 503 without Retry-After`);
    const otherStatuses = Object.keys(load.statusCounts).filter((code) => !code.startsWith('2') && code !== '503');
    if (otherStatuses.length > 0) failures.push(`answers with statuses ${otherStatuses.join(', ')}; only 2xx and 503 are expected`);
    if (load.errors > 0 || load.timeouts > 0) failures.push(`${load.errors} connection errors, ${load.timeouts} timeouts`);
    // Requests in flight at the stop were counted by the gateway, never seen by a client.
    if (serverAccepted < clientAccepted || serverAccepted > clientAccepted + inFlightEvents) failures.push('accepted events in /metrics differ from what clients were answered');
    if (serverOverloaded < overloadedEvents || serverOverloaded > overloadedEvents + inFlightEvents) failures.push('overloaded events in /metrics differ from the 503 OVERLOADED answers');

    const drained = await waitForDrain(gateway);
    console.log(`buffer drained ${drained} ms after the overload`);
  } finally {
    const code = await gateway.stop();
    rmSync(configDir, { recursive: true, force: true });
    console.log(`gateway stopped with SIGTERM: exit code ${code}`);
    if (code !== 0) failures.push(`gateway exited with ${code}`);
  }
  for (const failure of failures) console.log(`✗ ${failure}`);
  console.log(failures.length === 0 ? 'overload: PASS' : 'overload: FAIL');
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
