import { appendFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { metricValue, readGzipLines, removeDir, tempDir, validOrder, SERVICE_AUTH, TEST_KEYS_ENV } from '../helpers/gateway';
import { startServe } from '../helpers/process';

// kill -9 with events in the spool; restart; they are delivered.

t.test('events spooled before a kill -9 are replayed after restart; a torn tail is cut off and counted', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  // The destination's folder sits under a plain file, so every write fails until it is removed.
  const blocker = join(dir, 'blocker');
  writeFileSync(blocker, 'not a folder');
  const spoolDir = join(dir, 'spool');
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, `dataDir: ${join(dir, 'data')}\nspool:\n  dir: ${spoolDir}\ndestinations:\n  events:\n    type: file\n    dir: ${join(blocker, 'events')}\n`);

  const first = await startServe(TEST_KEYS_ENV, ['--config', configFile]);
  t.teardown(() => first.child.kill('SIGKILL'));
  const orders = Array.from({ length: 20 }, (_, i) => validOrder({ orderId: `crash-${i}` }));
  const res = await fetch(`${first.base}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(orders) });
  t.equal(res.status, 200, 'durable: fsynced in the spool');
  const metrics = await (await fetch(`${first.admin}/metrics`)).text();
  t.equal(metricValue(metrics, 'tracking_gateway_spool_records'), 20);

  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  // A write torn by the crash: half a record after the last good one.
  const segments = readdirSync(spoolDir).filter((n) => n.endsWith('.log')).sort();
  t.ok(segments.length >= 1, 'segments on disk');
  appendFileSync(join(spoolDir, segments[segments.length - 1]), Buffer.from([0, 0, 1, 0, 0xde, 0xad, 0xbe]));

  rmSync(blocker);
  const second = await startServe(TEST_KEYS_ENV, ['--config', configFile]);
  t.teardown(() => second.child.kill('SIGKILL'));
  let delivered: any[] = [];
  for (let i = 0; i < 100 && delivered.length < 20; i++) {
    await sleep(100);
    try {
      delivered = readGzipLines(join(blocker, 'events'));
    } catch {
      // Read while the replay was appending a gzip member: the file is whole again after it.
    }
  }
  t.same(delivered.map((l) => l.data.orderId).sort(), orders.map((o) => o.orderId).sort(), 'every acknowledged event delivered, once');
  const after = await (await fetch(`${second.admin}/metrics`)).text();
  t.equal(metricValue(after, 'tracking_gateway_torn_tails_cut_total', { store: 'spool_segment' }), 1);
  t.equal(metricValue(after, 'tracking_gateway_spool_replayed_records_total'), 20);
  t.equal(await second.stop(), 0);
});
