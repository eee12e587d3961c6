import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { scanSegment } from '../../src/destinations/spool/segment-file';
import { gzipTestFailures, mountTmpfs, resizeTmpfs } from '../helpers/disk';
import { listFiles, metricValue, readGzipLines, validImpression, validOrder, SERVICE_AUTH } from '../helpers/gateway';
import { startServe, type ServeProcess } from '../helpers/process';

// The gateway's whole data folder on a 4 MiB tmpfs, most of it taken by a ballast file, under
// load from services and browsers until the disk is full; then the ballast goes. Every event a
// 200 acknowledged must be readable afterwards (in the minute files or the spool), every
// refusal must be a 503 with Retry-After, and the gateway must take events again once there
// is space.

const MiB = 1024 * 1024;
const SERVICE_CLIENTS = 6;
const BEACON_CLIENTS = 2;
const ORDERS_PER_REQUEST = 50;

interface Tally {
  acknowledged: Set<string>;
  statuses: Map<number, number>;
  refusedWithoutRetryAfter: number;
  beaconStatuses: Map<number, number>;
  lastOkAt: number;
  last503At: number;
}

function count(map: Map<number, number>, status: number): void {
  map.set(status, (map.get(status) ?? 0) + 1);
}

/** Service and beacon clients posting until `stop` is set. */
function load(gateway: ServeProcess, tally: Tally, stop: { now: boolean }): Promise<void[]> {
  let next = 0;
  const service = async (client: number) => {
    while (!stop.now) {
      const ids = Array.from({ length: ORDERS_PER_REQUEST }, () => `c${client}-${next++}`);
      try {
        const res = await fetch(`${gateway.base}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(ids.map((id) => validOrder({ $id: id, orderId: id }))) });
        await res.arrayBuffer();
        count(tally.statuses, res.status);
        if (res.status === 200) {
          for (const id of ids) tally.acknowledged.add(id);
          tally.lastOkAt = Date.now();
        } else if (res.status === 503) {
          tally.last503At = Date.now();
          if (!res.headers.get('retry-after')) tally.refusedWithoutRetryAfter++;
          await sleep(50);
        }
      } catch {
        count(tally.statuses, 0);
      }
    }
  };
  const beacon = async () => {
    while (!stop.now) {
      const query = new URLSearchParams({ ...validImpression(), position: '1' } as Record<string, string>);
      try {
        const res = await fetch(`${gateway.base}/v1/beacon/widget/impression?${query}`);
        await res.arrayBuffer();
        count(tally.beaconStatuses, res.status);
      } catch {
        count(tally.beaconStatuses, 0);
      }
    }
  };
  return Promise.all([...Array.from({ length: SERVICE_CLIENTS }, (_, i) => service(i)), ...Array.from({ length: BEACON_CLIENTS }, () => beacon())]);
}

async function until(what: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) if (await what()) return true;
  return false;
}

t.test('a disk that fills up under load: every acknowledged event readable, refusals 503 with Retry-After, recovery when space returns', async (t) => {
  const disk = mountTmpfs(t, 4 * MiB);
  if (!disk) return;
  const ballast = join(disk, 'ballast');
  writeFileSync(ballast, Buffer.alloc(3.5 * MiB));
  const dataDir = join(disk, 'data');
  const config = join(disk, 'gateway.yaml');
  writeFileSync(config, `dataDir: ${dataDir}\nserver:\n  ackTimeoutMs: 2000\nbuffer:\n  maxBytes: 4194304\nspool:\n  segmentBytes: 131072\n`);
  const gateway = await startServe({}, ['--config', config]);
  t.teardown(() => gateway.child.kill('SIGKILL'));

  const tally: Tally = { acknowledged: new Set(), statuses: new Map(), refusedWithoutRetryAfter: 0, beaconStatuses: new Map(), lastOkAt: 0, last503At: 0 };
  const stop = { now: false };
  const clients = load(gateway, tally, stop);
  const full = await until(() => tally.last503At > 0, 20_000);
  t.ok(full, `the disk filled up: ${JSON.stringify(Object.fromEntries(tally.statuses))} so far`);
  await sleep(1500);
  const metricsFull = await (await fetch(`${gateway.admin}/metrics`)).text();
  t.ok(metricValue(metricsFull, 'tracking_gateway_disk_append_failures_total') > 0, 'append failures counted');
  t.match(gateway.output(), /append to .* failed: ENOSPC/, 'and logged with the file');

  // Space returns, plenty of it: with the file destination down, live traffic goes to the
  // spool uncompressed and could fill a few freed MiB again before the files are probed back.
  rmSync(ballast);
  resizeTmpfs(disk, 32 * MiB);
  const spaceAt = Date.now();
  const recovered = await until(() => tally.lastOkAt > spaceAt + 500 && tally.last503At < Date.now() - 1000, 20_000);
  t.ok(recovered, `service requests answered 200 again ${((tally.lastOkAt - spaceAt) / 1000).toFixed(1)} s after space returned`);
  stop.now = true;
  await clients;

  // The spool drains into the files once the file destination is probed back: at most 30 s
  // (the longest probe interval, reached when the disk stayed full for long) and a replay tick.
  const drainStarted = Date.now();
  const drained = await until(async () => metricValue(await (await fetch(`${gateway.admin}/metrics`)).text(), 'tracking_gateway_spool_records') === 0, 45_000);
  t.ok(drained, `the spool drained, in ${((Date.now() - drainStarted) / 1000).toFixed(1)} s`);
  const metrics = await (await fetch(`${gateway.admin}/metrics`)).text();
  t.equal(await gateway.stop(), 0, 'exits cleanly');

  const statuses = Object.fromEntries(tally.statuses);
  t.comment(`service answers ${JSON.stringify(statuses)}, beacons ${JSON.stringify(Object.fromEntries(tally.beaconStatuses))}; ${tally.acknowledged.size} events acknowledged; dropped ${metricValue(metrics, 'tracking_gateway_events_dropped_total')}`);
  t.same(Object.keys(statuses).sort(), ['200', '503'], 'service requests were answered 200 or 503, nothing else');
  t.equal(tally.refusedWithoutRetryAfter, 0, 'every 503 carried Retry-After');
  t.same([...tally.beaconStatuses.keys()], [200], 'every beacon answered 200');

  const files = listFiles(dataDir);
  t.same(gzipTestFailures(files), [], 'gzip -t passes on every .gz');
  const found = new Set(readGzipLines(join(dataDir, 'shop')).map((l) => l.id as string));
  for (const segment of files.filter((f) => f.endsWith('.log'))) {
    for (const payload of scanSegment(readFileSync(segment)).payloads) found.add(JSON.parse(payload.toString('utf8')).id);
  }
  const missing = [...tally.acknowledged].filter((id) => !found.has(id));
  t.same(missing.slice(0, 10), [], `acknowledged but missing: ${missing.length} of ${tally.acknowledged.size}`);
});
