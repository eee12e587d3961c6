// Health has one owner: the route's DestinationHealth. /readyz, destination_state and the
// route's skipping all read it; it combines the destination's own signal (isHealthy) with the
// whole batches it saw fail.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { FailingDestination, RecordingDestination } from '../helpers/destinations';
import { metricValue, removeDir, SERVICE_AUTH, testGateway, validOrder } from '../helpers/gateway';

/** A destination that knows it is down (a producer without a connection) until `up`. */
class SelfReportingDestination extends RecordingDestination {
  up = false;
  isHealthy(): boolean {
    return this.up;
  }
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(5);
  return condition();
}

const noSpool = { spool: { enabled: false }, batch: { lingerMs: 1 }, server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', ackTimeoutMs: 200 } };

t.test('failed batches alone make a destination down for /readyz and destination_state, until its probe', async (t) => {
  // It does not know it fails: isHealthy() stays true, only the route's count says down.
  const only = new FailingDestination('only');
  const { gateway, dataDir } = testGateway(noSpool, {}, [only]);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  t.same(gateway.readiness(), { ready: true }, 'ready before anything failed');
  const answer = await gateway.publicServer.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(validOrder()) });
  t.equal(answer.statusCode, 503, 'not durable within ackTimeoutMs');
  // Three whole batches failed (the router retries): down, and the first probe comes 0.5–1 s
  // later; until then nothing takes traffic.
  t.ok(await until(() => !gateway.readiness().ready, 5_000), 'not ready once its batches failed');
  t.ok(only.attempts >= 3, `after three failed batches (${only.attempts})`);
  t.same(gateway.readiness(), { ready: false, reason: 'route only can neither deliver nor spool: no destination is healthy' });
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_destination_state', { destination: 'only', state: 'down' }), 1);
  only.heal();
  t.ok(await until(() => only.events.length === 1), 'a probe delivered the waiting event');
  t.same(gateway.readiness(), { ready: true }, 'a delivered probe makes it healthy again');
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_destination_state', { destination: 'only', state: 'healthy' }), 1);
});

t.test("a destination's own signal counts through the route's health: down without a single failed batch", async (t) => {
  const self = new SelfReportingDestination('self');
  const { gateway, dataDir } = testGateway(noSpool, {}, [self]);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  t.same(gateway.readiness(), { ready: false, reason: 'route self can neither deliver nor spool: no destination is healthy' });
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_destination_state', { destination: 'self', state: 'down' }), 1);
  self.up = true;
  t.same(gateway.readiness(), { ready: true }, 'back as soon as it says so: it needs no probe');
  t.equal(self.batches.length, 0, 'no batch was sent to find out');
});

t.test('with every destination down, the spool keeps the gateway ready', async (t) => {
  const self = new SelfReportingDestination('self');
  const { gateway, dataDir } = testGateway({ ...noSpool, spool: { enabled: true } }, {}, [self]);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  t.same(gateway.readiness(), { ready: true });
});
