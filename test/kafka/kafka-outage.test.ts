import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { KafkaBroker } from '../harness/kafka-broker';
import { metricValue, removeDir, testGateway, validOrder, SERVICE_AUTH } from '../helpers/gateway';
import { consumeAll, uniquePrefix } from './kafka-helpers';

// The broker goes away in the middle of a stream of service POSTs and comes back: no crash,
// and every event answered 2xx is in Kafka afterwards. With the spool (the default) events
// keep being acknowledged while the broker is away — durable in the spool — and are replayed
// into Kafka when it returns; without it, the answers are 503 with Retry-After.
// This test stops its broker, so it runs one of its own rather than the run's shared one.

const CLIENTS = 4;
const EVENTS_PER_POST = 20;

for (const spool of [false, true]) {
  t.test(`broker stopped and started again mid-stream (spool ${spool ? 'on' : 'off'}): every acknowledged event is consumed`, (t) => outage(t, spool));
}

async function outage(t: Test, spool: boolean): Promise<void> {
  const broker = await KafkaBroker.start();
  t.teardown(() => broker.stop());
  const prefix = uniquePrefix('outage');
  const { gateway, dataDir } = testGateway({
    server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', ackTimeoutMs: 2000 },
    destinations: { kafka: { type: 'kafka', brokers: broker.brokers, topic: `${prefix}.{service}.{topic}`, requestTimeoutMs: 2000, createTopics: { enabled: true, numPartitions: 2, replicationFactor: 1 } } },
    spool: { enabled: spool },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const app = gateway.publicServer;

  const acknowledged = new Set<string>();
  const statuses = new Map<number, number>();
  let retryAfterMissing = 0;
  let next = 0;
  let streaming = true;
  const client = async () => {
    while (streaming) {
      const ids = Array.from({ length: EVENTS_PER_POST }, () => `e-${next++}`);
      const res = await app.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(ids.map((id) => validOrder({ orderId: id, $id: id }))) });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode === 200) for (const id of ids) acknowledged.add(id);
      else if (res.statusCode === 503 && !res.headers['retry-after']) retryAfterMissing++;
      if (res.statusCode !== 200) await sleep(100);
    }
  };
  const stream = Promise.all(Array.from({ length: CLIENTS }, client));

  await sleep(1500);
  await broker.stop();
  const beforeStop = acknowledged.size;
  let readyWhileDown = 0;
  for (let i = 0; i < 30; i++) {
    readyWhileDown = (await gateway.adminServer.inject({ url: '/readyz' })).statusCode;
    if (readyWhileDown === 503) break;
    await sleep(100);
  }
  await sleep(3000);
  const whileDown = acknowledged.size - beforeStop;
  const stateWhileDown = metricValue(await gateway.metrics.render(), 'tracking_gateway_destination_state', { destination: 'kafka', state: 'down' });
  await broker.startAgain();
  await sleep(4000);
  streaming = false;
  await stream;
  if (spool) {
    // Replay drains the spool into Kafka once the broker is back.
    for (let i = 0; i < 150 && metricValue(await gateway.metrics.render(), 'tracking_gateway_spool_records') > 0; i++) await sleep(200);
    t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_spool_records'), 0, 'the spool drained into Kafka');
  }
  // Let what was queued during the outage reach the broker.
  await gateway.close();

  t.ok(beforeStop > 0, `${beforeStop} events acknowledged before the broker stopped`);
  t.equal(stateWhileDown, 1, 'kafka is marked down while the broker is away');
  if (spool) {
    t.ok(whileDown > 0, `${whileDown} events acknowledged while the broker was down, durable in the spool`);
    t.equal(readyWhileDown, 200, '/readyz stays 200: the spool takes the traffic');
    t.ok(metricValue(await gateway.metrics.render(), 'tracking_gateway_spool_replayed_records_total') > 0, 'events were replayed from the spool');
  } else {
    t.equal(whileDown, 0, 'nothing is acknowledged while the broker is down');
    t.equal(readyWhileDown, 503, '/readyz is 503 while the broker is away');
    t.ok((statuses.get(503) ?? 0) > 0, 'requests during the outage are answered 503');
  }
  t.equal(retryAfterMissing, 0, 'every 503 carries Retry-After');
  t.same([...statuses.keys()].filter((s) => s !== 200 && s !== 503), [], 'no answer but 200 and 503');

  const metrics = await gateway.metrics.render();
  const produced = metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'kafka', outcome: 'delivered' });
  t.equal(metricValue(metrics, 'tracking_gateway_events_dropped_total'), 0, 'nothing dropped');
  const records = await consumeAll(broker.brokers, [`${prefix}.shop.order-placed`], gateway.registry, produced, 30_000);
  const consumed = new Map<string, number>();
  for (const r of records) consumed.set(r.headers.ce_id, (consumed.get(r.headers.ce_id) ?? 0) + 1);
  const missing = [...acknowledged].filter((id) => !consumed.has(id));
  t.same(missing.slice(0, 10), [], `every one of ${acknowledged.size} acknowledged events is in Kafka`);
  const duplicates = [...consumed.values()].reduce((n, c) => n + c - 1, 0);
  t.comment(
    `outage: ${acknowledged.size} events acknowledged (${beforeStop} before the broker was down), ${next} sent, ` +
      `${records.length} records consumed, ${consumed.size} distinct, ${duplicates} duplicates; answers ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
}
