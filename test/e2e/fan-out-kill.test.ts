import { once } from 'node:events';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { loadTopicRegistry } from '../../src/topics/registry';
import { kafkaBrokersForTests } from '../harness/kafka-global';
import { gzipTestFailures } from '../helpers/disk';
import { listFiles, metricValue, readGzipLines, removeDir, SERVICE_AUTH, tempDir, TOPICS_DIR, validOrder } from '../helpers/gateway';
import { startServe, type ServeProcess } from '../helpers/process';
import { consumeAll, uniquePrefix } from '../kafka/kafka-helpers';

// kill -9 of a `serve` whose topic is on two routes, [[kafka], [file]], at random moments under
// load. The file route's batches linger longer than Kafka's, so most kills fall between the two
// routes' writes: an event Kafka has and the file has not. Such an event was never answered 2xx
// (the answer waits for every route). Afterwards every acknowledged event is in Kafka and in
// the files; the events that reached only one route are counted, and were never acknowledged.

const KILLS = 6;
const CLIENTS = 4;

function load(gateway: ServeProcess, acked: Set<string>, run: number, stop: { now: boolean }): Promise<void[]> {
  let next = 0;
  const client = async (c: number) => {
    while (!stop.now) {
      const ids = Array.from({ length: 20 }, () => `k${run}-c${c}-${next++}`);
      try {
        const res = await fetch(`${gateway.base}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(ids.map((id) => validOrder({ $id: id, orderId: id }))) });
        await res.arrayBuffer();
        if (res.status === 200) for (const id of ids) acked.add(id);
      } catch {
        return; // killed
      }
    }
  };
  return Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
}

t.test(`kill -9 ${KILLS} times between the two routes' writes: every acknowledged event is on both routes`, async (t) => {
  const brokers = await kafkaBrokersForTests();
  const prefix = uniquePrefix('fan-out-kill');
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const topicsDir = join(dir, 'topics');
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  writeFileSync(join(topicsDir, 'shop/order-placed/topic.yaml'), 'access: service\ndefaultVersion: 1\npartitionKey: orderId\nroutes: [[kafka], [file]]\n');
  const dataDir = join(dir, 'data');
  const config = join(dir, 'gateway.yaml');
  writeFileSync(
    config,
    [
      `dataDir: ${dataDir}`,
      `topicsDir: ${topicsDir}`,
      'destinations:',
      `  kafka: { type: kafka, brokers: [${brokers.join(', ')}], topic: "${prefix}.{service}.{topic}", createTopics: { enabled: true, numPartitions: 1, replicationFactor: 1 }, batch: { lingerMs: 2 } }`,
      '  file: { type: file, batch: { lingerMs: 150 } }',
      '',
    ].join('\n'),
  );
  const acked = new Set<string>();

  for (let run = 0; run < KILLS; run++) {
    const gateway = await startServe({}, ['--config', config]);
    t.teardown(() => gateway.child.kill('SIGKILL'));
    const stop = { now: false };
    const clients = load(gateway, acked, run, stop);
    await sleep(500 + Math.random() * 700);
    gateway.child.kill('SIGKILL');
    await once(gateway.child, 'exit');
    stop.now = true;
    await clients;
  }
  // One last start: what the spool holds (if anything) is replayed down its route; then a clean stop.
  const last = await startServe({}, ['--config', config]);
  t.teardown(() => last.child.kill('SIGKILL'));
  for (let i = 0; i < 300 && metricValue(await (await fetch(`${last.admin}/metrics`)).text(), 'tracking_gateway_spool_records') > 0; i++) await sleep(100);
  t.equal(await last.stop(), 0, 'the last run exits cleanly');

  t.same(gzipTestFailures(listFiles(dataDir)), [], 'gzip -t passes on every .gz');
  const inFiles = new Map<string, number>();
  for (const line of readGzipLines(join(dataDir, 'shop'))) inFiles.set(line.id, (inFiles.get(line.id) ?? 0) + 1);
  const registry = loadTopicRegistry(topicsDir);
  const records = await consumeAll(brokers, [`${prefix}.shop.order-placed`], registry, acked.size, 30_000);
  const inKafka = new Map<string, number>();
  for (const r of records) inKafka.set(r.headers.ce_id, (inKafka.get(r.headers.ce_id) ?? 0) + 1);

  const missingInKafka = [...acked].filter((id) => !inKafka.has(id));
  const missingInFiles = [...acked].filter((id) => !inFiles.has(id));
  const kafkaOnly = [...inKafka.keys()].filter((id) => !inFiles.has(id));
  const filesOnly = [...inFiles.keys()].filter((id) => !inKafka.has(id));
  const duplicates = (counts: Map<string, number>) => [...counts.values()].reduce((n, c) => n + c - 1, 0);
  t.comment(
    `${KILLS} kills: ${acked.size} events acknowledged; Kafka holds ${inKafka.size} distinct (${duplicates(inKafka)} duplicates), the files ${inFiles.size} (${duplicates(inFiles)} duplicates); ` +
      `${kafkaOnly.length} only in Kafka and ${filesOnly.length} only in the files, none of them acknowledged`,
  );
  t.ok(acked.size > 500, 'the load was real');
  t.same(missingInKafka.slice(0, 10), [], `acknowledged events missing in Kafka: ${missingInKafka.length}`);
  t.same(missingInFiles.slice(0, 10), [], `acknowledged events missing in the files: ${missingInFiles.length}`);
  t.same([...kafkaOnly, ...filesOnly].filter((id) => acked.has(id)), [], 'an event on one route only was never acknowledged');
  t.ok(kafkaOnly.length > 0, `kills fell between the two routes' writes (${kafkaOnly.length} events reached Kafka and not the files)`);
});
