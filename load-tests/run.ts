import { numberFromEnv } from './env';
import { startGateway, sumMetric } from './gateway-process';
import { generateLoad, type LoadResult } from './load-generator';
import { Random } from './payloads';
import { LOAD_TEST_BODY_LIMIT_BYTES, oversizedBody, scenarioNamed, SCENARIOS, type Scenario } from './scenarios';
import { formatTable, whole } from './table';

// `npm run load-test [scenario…]`: starts the gateway, runs each scenario for a bounded time,
// checks its thresholds and that /metrics counted as accepted exactly the events the clients
// were answered 2xx for, stops the gateway with SIGTERM and expects exit code 0.

const DURATION_S = numberFromEnv('LOAD_TEST_DURATION_S', 5);
// A fresh process runs its first seconds unoptimised; without a warm-up the first scenario
// measures the JIT, not the gateway.
const WARMUP_S = numberFromEnv('LOAD_TEST_WARMUP_S', 2);
const OVERSIZED_BODIES = 20;
const ACCEPTED = { name: 'tracking_gateway_events_total', labels: { outcome: 'accepted' } };

interface Outcome {
  scenario: Scenario;
  load: LoadResult;
  serverAccepted: number;
  failures: string[];
}

/** Every threshold the scenario missed, as a sentence. */
function missedThresholds(scenario: Scenario, load: LoadResult, serverAccepted: number): string[] {
  const failures: string[] = [];
  const serverErrors = Object.entries(load.statusCounts).filter(([code]) => code.startsWith('5')).reduce((sum, [, n]) => sum + n, 0);
  if (serverErrors > 0) failures.push(`${serverErrors} answers were 5xx; none is expected`);
  if (load.errors > 0 || load.timeouts > 0) failures.push(`${load.errors} connection errors and ${load.timeouts} timeouts; none is expected`);
  if (scenario.plansRefusals && load.unexpected > 0) failures.push(`${load.unexpected} answers had another status than planned`);
  if (!scenario.plansRefusals && load.non2xx > 0) failures.push(`${load.non2xx} answers were not 2xx`);
  if (load.latencyP99Ms > scenario.p99Ms) failures.push(`p99 latency ${load.latencyP99Ms} ms is over ${scenario.p99Ms} ms`);
  // Requests in flight when the run stopped were taken by the gateway but their answers never
  // read: the gateway may count up to that many events more than the clients saw, never fewer.
  const inFlightEvents = load.inFlightAtStop * load.maxEventsPerRequest;
  const extra = serverAccepted - load.acceptedEvents;
  if (extra < 0 || extra > inFlightEvents) {
    failures.push(`/metrics counted ${serverAccepted} events accepted; clients got 2xx for ${load.acceptedEvents} (+ at most ${inFlightEvents} in flight at the stop)`);
  }
  return failures;
}

async function main(names: string[]): Promise<number> {
  const scenarios = names.length > 0 ? names.map(scenarioNamed) : [...SCENARIOS];
  const gateway = await startGateway({ env: { GATEWAY_BODY_LIMIT_BYTES: String(LOAD_TEST_BODY_LIMIT_BYTES) } });
  console.log(`gateway on ${gateway.baseUrl} (admin ${gateway.adminUrl}), data in ${gateway.dataDir}`);
  console.log(`${scenarios.length} scenarios, ${DURATION_S} s each (LOAD_TEST_DURATION_S); autocannon runs in a child process on the same 2 cores, nothing pinned\n`);
  const outcomes: Outcome[] = [];
  const failures: string[] = [];
  try {
    await generateLoad({ baseUrl: gateway.baseUrl, scenario: 'mix', connections: 50, durationSeconds: WARMUP_S, pipelining: 1, account: false });
    for (const scenario of scenarios) {
      const before = sumMetric(await gateway.metrics(), ACCEPTED.name, ACCEPTED.labels);
      const load = await generateLoad({
        baseUrl: gateway.baseUrl,
        scenario: scenario.name,
        connections: scenario.connections,
        durationSeconds: DURATION_S,
        pipelining: 1,
        account: true,
      });
      // Let the gateway finish the requests that were in flight at the stop before counting.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const serverAccepted = sumMetric(await gateway.metrics(), ACCEPTED.name, ACCEPTED.labels) - before;
      outcomes.push({ scenario, load, serverAccepted, failures: missedThresholds(scenario, load, serverAccepted) });
      console.log(`${scenario.name}: ${whole(load.requestsPerSecond)} req/s, p99 ${load.latencyP99Ms} ms, statuses ${JSON.stringify(load.statusCounts)}`);
    }
    const tooLarge = await sendOversizedBodies(gateway.baseUrl);
    console.log(`bodies over the ${LOAD_TEST_BODY_LIMIT_BYTES}-byte limit: ${tooLarge}/${OVERSIZED_BODIES} answered 413`);
    if (tooLarge !== OVERSIZED_BODIES) failures.push(`only ${tooLarge} of ${OVERSIZED_BODIES} bodies over the limit were answered 413`);
  } finally {
    const exitCode = await gateway.stop();
    console.log(`\ngateway stopped with SIGTERM: exit code ${exitCode}`);
    if (exitCode !== 0) process.exitCode = 1;
  }

  console.log(
    '\n' +
      formatTable(
        ['scenario', 'conns', 'req/s', 'events/s', 'p50 ms', 'p99 ms', 'p99 bound', 'non-2xx', 'accepted (client / metrics)', 'result'],
        outcomes.map(({ scenario, load, serverAccepted, failures }) => [
          scenario.name,
          scenario.connections,
          whole(load.requestsPerSecond),
          whole(load.acceptedEvents / load.durationSeconds),
          load.latencyP50Ms,
          load.latencyP99Ms,
          scenario.p99Ms,
          describeNon2xx(load),
          `${load.acceptedEvents} / ${serverAccepted}`,
          failures.length === 0 ? 'PASS' : 'FAIL',
        ]),
      ),
  );
  for (const outcome of outcomes) for (const failure of outcome.failures) console.log(`✗ ${outcome.scenario.name}: ${failure}`);
  for (const failure of failures) console.log(`✗ ${failure}`);
  const failed = outcomes.filter((o) => o.failures.length > 0).length;
  console.log(`\n${outcomes.length - failed} passed, ${failed} failed`);
  return failed > 0 || failures.length > 0 || process.exitCode === 1 ? 1 : 0;
}

/** Bodies over the limit, a few at once: the gateway answers 413 and closes each connection. */
async function sendOversizedBodies(baseUrl: string): Promise<number> {
  const random = new Random(7);
  const statuses = await Promise.all(
    Array.from({ length: OVERSIZED_BODIES }, async () => {
      const request = oversizedBody(random);
      const response = await fetch(`${baseUrl}${request.path}`, { method: request.method, headers: request.headers, body: request.body });
      await response.arrayBuffer();
      return response.status;
    }),
  );
  return statuses.filter((status) => status === 413).length;
}

function describeNon2xx(load: LoadResult): string {
  const refused = Object.entries(load.statusCounts).filter(([code]) => !code.startsWith('2'));
  if (refused.length === 0) return '0';
  return refused.map(([code, count]) => `${count}×${code}`).join(' ');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
