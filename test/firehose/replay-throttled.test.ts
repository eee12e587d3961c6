import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { buildConfig } from '../../src/config/config';
import { Gateway } from '../../src/gateway';
import { setupStreams } from '../helpers/firehose';
import { metricValue, removeDir, tempDir, TOPICS_DIR, validOrder, SERVICE_AUTH, TEST_SERVICE_KEY } from '../helpers/gateway';

// Replay against a chain whose every hop throttles: two Firehose streams (moto behind the
// quota proxy) of 100 records/s each, whose quotas the gateway is not told (it learns them,
// as with FIREHOSE_STREAMS). A burst far over both lands in the spool; replay then moves it
// back. It should wait for the streams' capacity rather than push events through every hop
// and back into the spool: fallbacks per delivered event measure the churn.

t.setTimeout(5 * 60_000);

const EVENTS = 1_500;
const QUOTA = { recordsPerSecond: 100 };

t.test('replay into a chain where every hop throttles: few fallbacks per delivered event, nothing spooled twice', async (t) => {
  const { proxy, streams, idsIn } = await setupStreams(t, ['churn-a', 'churn-b']);
  for (const stream of streams) proxy.setQuota(stream, QUOTA);
  const dataDir = tempDir();
  const config = buildConfig({
    topicsDir: TOPICS_DIR,
    dataDir,
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0, ackTimeoutMs: 30000 },
    auth: { keys: [{ key: TEST_SERVICE_KEY, scopes: ['*'] }] },
    destinations: Object.fromEntries(streams.map((stream, i) => [`firehose-${'ab'[i]}`, { type: 'firehose', stream, endpoint: proxy.endpoint, packRecordBytes: 0 }])),
  }, {});
  const gateway = new Gateway(config);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();

  const ids = Array.from({ length: EVENTS }, (_, i) => `churn-${i}`);
  const started = Date.now();
  const statuses = await Promise.all(
    Array.from({ length: EVENTS / 100 }, (_, r) =>
      gateway.publicServer.inject({
        method: 'POST',
        url: '/v1/events/shop/order-placed',
        headers: { ...SERVICE_AUTH, 'content-type': 'application/json' },
        payload: JSON.stringify(ids.slice(r * 100, r * 100 + 100).map((id) => validOrder({ $id: id, orderId: id }))),
      }),
    ),
  );
  t.ok(statuses.every((r) => r.statusCode === 200), 'every request answered 200 (durable)');
  // Every event is durable now: delivered, or in the spool. What follows is replay.
  const burst = await gateway.metrics.render();
  const burstFallbacks = metricValue(burst, 'tracking_gateway_fallbacks_total');
  const burstSpooled = metricValue(burst, 'tracking_gateway_destination_records_total', { destination: 'spool', outcome: 'delivered' });

  for (let i = 0; i < 240; i++) {
    await sleep(500);
    const metrics = await gateway.metrics.render();
    const inSpool = metricValue(metrics, 'tracking_gateway_spool_records');
    const sent = metricValue(metrics, 'tracking_gateway_destination_records_total', { outcome: 'delivered' }) - metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'spool', outcome: 'delivered' });
    if (inSpool === 0 && sent >= EVENTS) break;
  }
  const seconds = (Date.now() - started) / 1000;
  const delivered = (await Promise.all(streams.map(idsIn))).flat();
  const metrics = await gateway.metrics.render();
  const fallbacks = metricValue(metrics, 'tracking_gateway_fallbacks_total');
  const spooled = metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'spool', outcome: 'delivered' });
  const replayed = metricValue(metrics, 'tracking_gateway_spool_replayed_records_total');
  const perEvent = fallbacks / Math.max(delivered.length, 1);
  const replayFallbacks = fallbacks - burstFallbacks;
  t.comment(
    `${delivered.length} events delivered in ${seconds.toFixed(1)} s; fallbacks ${fallbacks} (${perEvent.toFixed(2)} per delivered event); ` +
      `burst: ${burstSpooled} spooled after ${burstFallbacks} fallbacks; replay: ${replayFallbacks} fallbacks (${(replayFallbacks / Math.max(burstSpooled, 1)).toFixed(2)} per spooled event), ` +
      `${spooled - burstSpooled} events spooled again, ${replayed} handed back to the chain`,
  );
  t.same(new Set(delivered), new Set(ids), 'every event delivered');
  t.equal(delivered.length, EVENTS, 'each once');
  t.equal(spooled, burstSpooled, 'replay wrote none of the events it read back into the spool');
  t.ok(perEvent < 3, `fallbacks per delivered event under 3 (${perEvent.toFixed(2)})`);
  t.ok(replayFallbacks <= burstSpooled, `replay moved each spooled event down the chain at most once on average (${replayFallbacks} fallbacks for ${burstSpooled} events)`);
});
