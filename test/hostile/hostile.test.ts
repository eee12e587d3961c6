import t from 'tap';
import { buildCorpus } from './corpus';
import { HOSTILE_LIMITS, httpGet, startHostileGateway, sumMetric, type HostileGateway } from './gateway-child';
import { mib, needsRestart, runCase, type CaseResult } from './run-case';

// Issue 10's attack corpus against one real gateway process (`node dist/src/cli.js serve`
// with small limits: test/hostile/gateway-child.ts). For every case: the exact status and
// error code in the documented shape, the process alive and answering afterwards, its peak
// RSS under RSS_BOUND, and for the large cases a valid pixel sent meanwhile answered within
// PROBE_BOUND_MS. At the end /metrics must count every refusal by its status code.
//
// Should a case kill, wedge or bloat the gateway, that case fails and a fresh gateway takes
// the remaining cases, so that one crash does not hide what the others say.

const MiB = 1024 * 1024;
/** Node and V8 idle at about 80–100 MiB; a request may add what its limits allow (16 MiB decoded, 4 MiB body, 10,000 events). */
const RSS_BOUND = 400 * MiB;
const PROBE_BOUND_MS = 250;

t.test('hostile corpus: every attack answered as the contract says, the gateway up, small and responsive', async (t) => {
  const corpus = await buildCorpus();
  let gateway: HostileGateway = await startHostileGateway({ config: HOSTILE_LIMITS });
  t.teardown(() => gateway.stop(2000));
  t.same(gateway.droppedKeys, [], 'the gateway takes every limit the test config sets');

  // Statuses the current process answered on its public port, for the /metrics check.
  let observed = new Map<number, number>();
  let restarts = 0;
  const results: CaseResult[] = [];
  for (const c of corpus) {
    const result = await runCase(gateway, c, { rssBoundBytes: RSS_BOUND, probeBoundMs: PROBE_BOUND_MS });
    results.push(result);
    t.test(`[item ${c.issueItem}] ${c.name}`, async (t) => {
      for (const failure of result.failures) t.fail(failure);
      if (result.failures.length === 0) {
        t.pass(`${result.answer} in ${result.ms} ms; peak RSS ${mib(result.peakRssBytes)} MiB${result.notes.length ? `; ${result.notes.join('; ')}` : ''}`);
      }
    });
    if (needsRestart(result, RSS_BOUND)) {
      await gateway.stop(2000);
      gateway = await startHostileGateway({ config: HOSTILE_LIMITS });
      observed = new Map();
      restarts++;
    } else if (c.port !== 'admin' && result.outcome.kind === 'answer') {
      const status = result.outcome.answer.status;
      observed.set(status, (observed.get(status) ?? 0) + 1);
    }
  }

  t.test('/metrics counts every refusal by its status code', async (t) => {
    const metrics = (await httpGet(gateway.adminPort, '/metrics')).body;
    for (const [status, count] of [...observed].sort(([a], [b]) => a - b)) {
      if (status < 400) continue;
      const counted = sumMetric(metrics, 'tracking_gateway_http_requests_total', { status_code: String(status) });
      t.ok(counted >= count, `http_requests_total{status_code="${status}"} is ${counted}; the clients got ${count}`);
    }
  });

  t.equal(restarts, 0, 'no case took the gateway down, wedged it or left it bloated');
  t.comment(
    ['case | answer | ms | peak RSS MiB', ...results.map((r) => `${r.name} | ${r.answer} | ${r.ms} | ${mib(r.peakRssBytes)}${r.failures.length ? ' ✗' : ''}`)].join('\n'),
  );
});
