import { fork } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import autocannon from 'autocannon';
import { Random } from './payloads';
import { scenarioNamed } from './scenarios';

// autocannon in a child process of its own: in the process under test's parent it would share
// one event loop with the bookkeeping, and a worker thread gets no aggregated histograms. The
// child competes with the server for the machine's cores like any load generator on the same
// host would; nothing is pinned.

export interface LoadJob {
  /** http://127.0.0.1:PORT; load goes to the loopback interface only. */
  baseUrl: string;
  scenario: string;
  connections: number;
  durationSeconds: number;
  pipelining: number;
  /** Requests per second over all connections; unset: as fast as answers come. */
  overallRate?: number;
  /** Check each answer against its planned status and count events; costs load-generator CPU. */
  account: boolean;
  timeoutSeconds?: number;
  seed?: number;
}

export interface LoadResult {
  scenario: string;
  durationSeconds: number;
  requestsPerSecond: number;
  /** Answers received. */
  answered: number;
  /** Requests written. */
  sent: number;
  /** Requests written but not answered when the run stopped: at most one per connection and pipeline slot. */
  inFlightAtStop: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  statusCounts: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** With `account`: events carried by requests answered 2xx. */
  acceptedEvents: number;
  /** With `account`: answers whose status was not the planned one. */
  unexpected: number;
  /** With `account`: 503 answers without a Retry-After header. */
  unavailableWithoutRetryAfter: number;
  /** With `account`: 503 answers by the error code in their body. */
  unavailableByCode: Record<string, number>;
  /** With `account`: events of 503 DELIVERY_FAILED answers, which the gateway accepted and still delivers. */
  acceptedButUnconfirmedEvents: number;
  /** Events in the largest request of the pool: bounds what a request in flight at the stop carried. */
  maxEventsPerRequest: number;
}

/** Runs one job in a child process and resolves with its result. */
export function generateLoad(job: LoadJob): Promise<LoadResult> {
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(job.baseUrl)) throw new Error(`load goes to 127.0.0.1 only, not ${job.baseUrl}`);
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: LoadResult | undefined;
    child.on('message', (message) => (result = message as LoadResult));
    child.on('error', reject);
    child.on('exit', (code) => (result && code === 0 ? resolve(result) : reject(new Error(`load generator exited with ${code}`))));
    child.send(job);
  });
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  const planned = scenarioNamed(job.scenario).pool(new Random(job.seed ?? 1));
  const tally = {
    acceptedEvents: 0,
    unexpected: 0,
    unavailableWithoutRetryAfter: 0,
    unavailableByCode: {} as Record<string, number>,
    acceptedButUnconfirmedEvents: 0,
  };
  const requests = planned.map((request) => ({
    method: request.method,
    path: request.path,
    headers: request.headers,
    body: request.body,
    onResponse: job.account
      ? (status: number, body: string, _context: object, headers: IncomingHttpHeaders | undefined) => {
          if (status >= 200 && status < 300) tally.acceptedEvents += request.events;
          if (status !== request.expectedStatus) tally.unexpected++;
          if (status === 503) {
            if (headers?.['retry-after'] === undefined) tally.unavailableWithoutRetryAfter++;
            const code = errorCodeOf(body);
            tally.unavailableByCode[code] = (tally.unavailableByCode[code] ?? 0) + 1;
            if (code === 'DELIVERY_FAILED') tally.acceptedButUnconfirmedEvents += request.events;
          }
        }
      : undefined,
  }));
  const result = await autocannon({
    url: job.baseUrl,
    connections: job.connections,
    duration: job.durationSeconds,
    pipelining: job.pipelining,
    overallRate: job.overallRate,
    timeout: job.timeoutSeconds ?? 10,
    requests,
  });
  const statusCounts: Record<string, number> = {};
  for (const [code, { count }] of Object.entries((result as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats)) {
    statusCounts[code] = count;
  }
  return {
    scenario: job.scenario,
    durationSeconds: result.duration,
    requestsPerSecond: result.requests.total / result.duration,
    answered: result.requests.total,
    sent: result.requests.sent,
    inFlightAtStop: Math.min(result.requests.sent - result.requests.total, job.connections * job.pipelining),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    latencyMaxMs: result.latency.max,
    statusCounts,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    ...tally,
    maxEventsPerRequest: Math.max(...planned.map((r) => r.events)),
  };
}

function errorCodeOf(body: string): string {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

if (require.main === module && process.send) {
  process.once('message', (job) => {
    runJob(job as LoadJob).then(
      (result) => process.send!(result, () => process.exit(0)),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
