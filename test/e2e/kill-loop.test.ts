import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { gzipTestFailures } from '../helpers/disk';
import { listFiles, metricValue, readGzipLines, removeDir, tempDir, validImpression, validOrder, SERVICE_AUTH } from '../helpers/gateway';
import { startServe, type ServeProcess } from '../helpers/process';

// kill -9 ten times under load from services and browsers, at random moments: while batches
// are written, beacons spill to the spool (a small memory bound makes them) and replay moves
// them back. Afterwards every service event a 200 acknowledged must be in the files, and every
// .gz must pass gzip -t. Beacons are answered before they are durable, so the ones a crash
// took from memory are counted, not asserted.

const KILLS = 10;
const SERVICE_CLIENTS = 4;
const BEACON_CLIENTS = 2;

interface Acknowledged {
  orders: Set<string>;
  beacons: Set<string>;
}

function load(gateway: ServeProcess, acked: Acknowledged, run: number, stop: { now: boolean }): Promise<void[]> {
  let next = 0;
  const service = async (client: number) => {
    while (!stop.now) {
      const ids = Array.from({ length: 20 }, () => `r${run}-c${client}-${next++}`);
      try {
        const res = await fetch(`${gateway.base}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(ids.map((id) => validOrder({ $id: id, orderId: id }))) });
        await res.arrayBuffer();
        if (res.status === 200) for (const id of ids) acked.orders.add(id);
      } catch {
        return; // killed
      }
    }
  };
  const beacon = async (client: number) => {
    while (!stop.now) {
      const id = `r${run}-b${client}-${next++}`;
      const query = new URLSearchParams({ ...validImpression(), $id: id, position: '1' } as Record<string, string>);
      try {
        const res = await fetch(`${gateway.base}/v1/beacon/widget/impression?${query}`);
        await res.arrayBuffer();
        if (res.status === 200) acked.beacons.add(id);
      } catch {
        return;
      }
    }
  };
  return Promise.all([...Array.from({ length: SERVICE_CLIENTS }, (_, i) => service(i)), ...Array.from({ length: BEACON_CLIENTS }, (_, i) => beacon(i))]);
}

t.test(`kill -9 ${KILLS} times under load: no acknowledged service event missing, every .gz passes gzip -t`, async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const dataDir = join(dir, 'data');
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, `dataDir: ${dataDir}\nbuffer:\n  maxBytes: 65536\nspool:\n  segmentBytes: 65536\n`);
  const acked: Acknowledged = { orders: new Set(), beacons: new Set() };
  let tornTails = 0;
  let spilled = 0;
  let replayed = 0;

  for (let run = 0; run < KILLS; run++) {
    const gateway = await startServe({}, ['--config', config]);
    t.teardown(() => gateway.child.kill('SIGKILL'));
    tornTails += gateway.output().split('\n').filter((l) => l.includes('cut a torn tail')).length;
    const stop = { now: false };
    const clients = load(gateway, acked, run, stop);
    await sleep(400 + Math.random() * 800);
    const metrics = await (await fetch(`${gateway.admin}/metrics`)).text();
    spilled += metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'spool' });
    replayed += metricValue(metrics, 'tracking_gateway_spool_replayed_records_total');
    gateway.child.kill('SIGKILL');
    await once(gateway.child, 'exit');
    stop.now = true;
    await clients;
  }

  // One last start: torn tails cut, the spool replayed; then a clean stop.
  const drainStarted = Date.now();
  const last = await startServe({}, ['--config', config]);
  t.teardown(() => last.child.kill('SIGKILL'));
  tornTails += last.output().split('\n').filter((l) => l.includes('cut a torn tail')).length;
  for (let i = 0; i < 300 && metricValue(await (await fetch(`${last.admin}/metrics`)).text(), 'tracking_gateway_spool_records') > 0; i++) await sleep(100);
  const drainSeconds = (Date.now() - drainStarted) / 1000;
  t.equal(await last.stop(), 0, 'the last run exits cleanly');

  t.same(gzipTestFailures(listFiles(dataDir)), [], 'gzip -t passes on every .gz');
  const found = new Set([...readGzipLines(join(dataDir, 'shop')), ...readGzipLines(join(dataDir, 'widget'))].map((l) => l.id as string));
  const missingOrders = [...acked.orders].filter((id) => !found.has(id));
  const missingBeacons = [...acked.beacons].filter((id) => !found.has(id));
  t.comment(
    `${KILLS} kills: ${acked.orders.size} service events acknowledged, ${missingOrders.length} missing; ` +
      `${acked.beacons.size} beacons answered, ${missingBeacons.length} lost from memory by the kills; ` +
      `until the kills, ${spilled} events went to the spool and ${replayed} were replayed; ${tornTails} torn tails cut at start; the last start drained the spool in ${drainSeconds.toFixed(1)} s`,
  );
  t.ok(acked.orders.size > 1000, 'the load was real');
  t.same(missingOrders.slice(0, 10), [], `acknowledged service events missing: ${missingOrders.length}`);
});
