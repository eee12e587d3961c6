import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { metricValue, readGzipLines, removeDir, SERVICE_AUTH, tempDir, TEST_KEYS_ENV, validOrder } from '../helpers/gateway';
import { startServe } from '../helpers/process';

// `workers: 2` as users run it (`serve`, a real primary and two workers on one port):
// both take traffic, one /metrics adds them up, a worker killed with SIGKILL is started
// again and replays the spool it left, nothing acknowledged is lost, SIGTERM drains all.
// Every write fails until the test allows it (the destination's folder sits under a plain
// file), so each acknowledged event is in a worker's spool first and must be replayed.

const CLIENTS = 8;
const EVENTS_PER_POST = 10;

/** `{"worker":N,"pid":P,"msg":"worker ready"}` lines of the primary, in order. */
function readyWorkers(output: string): { worker: number; pid: number }[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"role":"primary"') && line.includes('"msg":"worker ready"'))
    .map((line) => JSON.parse(line) as { worker: number; pid: number });
}

t.test('two workers: both serve, one /metrics, a killed worker restarted with nothing acknowledged lost, clean SIGTERM', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const blocker = join(dir, 'blocker');
  writeFileSync(blocker, 'not a folder');
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, `dataDir: ${dataDir}\nworkers: 2\nshutdown:\n  graceMs: 10000\ndestinations:\n  events:\n    type: file\n    dir: ${join(blocker, 'events')}\n`);
  const gateway = await startServe({ ...TEST_KEYS_ENV, GATEWAY_WORKERS: '' }, ['--config', configFile]);
  t.teardown(() => gateway.child.kill('SIGKILL'));
  const started = readyWorkers(gateway.output());
  t.same(started.map((w) => w.worker).sort(), [1, 2], 'the primary started workers 1 and 2');

  const acknowledged = new Set<string>();
  let next = 0;
  const post = async () => {
    const ids = Array.from({ length: EVENTS_PER_POST }, () => `w-${next++}`);
    try {
      const res = await fetch(`${gateway.base}/v1/events/shop/order-placed`, {
        method: 'POST',
        headers: { ...SERVICE_AUTH, 'content-type': 'application/json' },
        body: JSON.stringify(ids.map((id) => validOrder({ orderId: id, $id: id }))),
      });
      await res.arrayBuffer();
      if (res.status === 200) for (const id of ids) acknowledged.add(id);
      return res.status;
    } catch {
      return 0; // the connection died with its worker: not acknowledged
    }
  };

  // Phase 1: a fixed number of requests over several connections, then one scrape.
  const statuses = await Promise.all(Array.from({ length: CLIENTS }, async () => [await post(), await post(), await post()]));
  t.same(statuses.flat(), Array(CLIENTS * 3).fill(200), 'every request answered 200: durable in a spool');
  const spooled = (worker: number) => readdirSync(join(dataDir, '_spool', `worker-${worker}`)).filter((n) => n.endsWith('.log')).length;
  t.ok(spooled(1) > 0 && spooled(2) > 0, 'both workers took requests: each has spool segments of its own');
  const metrics = await (await fetch(`${gateway.admin}/metrics`)).text();
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { route: '/v1/events/:service/:topic', method: 'POST', status_code: '200' }), CLIENTS * 3, 'one /metrics counts the requests of both workers');
  t.equal(metricValue(metrics, 'tracking_gateway_spool_records'), CLIENTS * 3 * EVENTS_PER_POST, 'and their spools');
  t.equal(metricValue(metrics, 'tracking_gateway_workers'), 2);
  const names = metrics.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  t.equal(new Set(names).size, names.length, 'each metric once');
  t.equal((await fetch(`${gateway.admin}/readyz`)).status, 200, '/readyz on the primary');

  // Phase 2: traffic keeps coming while worker 1 is killed.
  let streaming = true;
  const stream = Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (streaming) if ((await post()) !== 200) await sleep(20);
  }));
  await sleep(500);
  const victim = started.find((w) => w.worker === 1)!;
  process.kill(victim.pid, 'SIGKILL');
  for (let i = 0; i < 200 && readyWorkers(gateway.output()).length < 3; i++) await sleep(50);
  await sleep(500);
  streaming = false;
  await stream;
  const restarted = readyWorkers(gateway.output()).slice(2);
  t.equal(restarted.length, 1, 'one worker started again');
  t.equal(restarted[0]?.worker, 1, 'as worker 1, so it finds worker 1\'s spool');
  t.not(restarted[0]?.pid, victim.pid, 'in a new process');
  t.match(gateway.output(), /"worker":1,"pid":\d+,"code":null,"signal":"SIGKILL".*"msg":"worker exited unexpectedly; starting it again"/, 'the crash is logged');
  const after = await (await fetch(`${gateway.admin}/metrics`)).text();
  t.equal(metricValue(after, 'tracking_gateway_worker_restarts_total'), 1);
  t.equal(metricValue(after, 'tracking_gateway_workers'), 2);

  // The destination comes back: each worker, the restarted one included, replays its spool.
  rmSync(blocker);
  let delivered = new Set<string>();
  for (let i = 0; i < 300; i++) {
    try {
      delivered = new Set(readGzipLines(join(blocker, 'events')).map((line) => line.id as string));
    } catch {
      // Read while a worker was appending a gzip member: whole again after it.
    }
    if ([...acknowledged].every((id) => delivered.has(id))) break;
    await sleep(100);
  }
  const missing = [...acknowledged].filter((id) => !delivered.has(id));
  t.same(missing.slice(0, 10), [], `all ${acknowledged.size} acknowledged events delivered after the kill, ${missing.length} missing`);
  t.same(readdirSync(join(blocker, 'events')).sort(), ['worker-1', 'worker-2'], 'each worker wrote its own files');

  t.equal(await gateway.stop(), 0, 'SIGTERM: the primary exits 0');
  t.match(gateway.output(), /every worker shut down cleanly/);
  t.equal(gateway.output().match(/"msg":"shut down cleanly"/g)?.length, 2, 'both workers drained');
});
