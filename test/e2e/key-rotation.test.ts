import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { metricValue, removeDir, tempDir, validOrder } from '../helpers/gateway';
import { startServe } from '../helpers/process';

// What an SRE does to rotate a key of the running gateway: edit the mounted keys file and
// send SIGHUP (or wait for the file watch). No restart, no request lost.

t.test('GATEWAY_KEYS_FILE and SIGHUP: a key is added and removed without a restart', async (t) => {
  const dir = tempDir();
  const keysFile = join(dir, 'keys');
  writeFileSync(keysFile, '# shop checkout\nold-key=shop\n');
  const gateway = await startServe({ GATEWAY_DATA_DIR: join(dir, 'data'), GATEWAY_KEYS_FILE: keysFile, GATEWAY_KEYS: 'ops-key=*' });
  t.teardown(async () => {
    await gateway.stop();
    removeDir(dir);
  });
  const post = (key: string) =>
    fetch(`${gateway.base}/v1/events/shop/order-placed`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(validOrder()) }).then((r) => r.status);
  t.same([await post('old-key'), await post('new-key'), await post('ops-key')], [200, 401, 200], 'the file and GATEWAY_KEYS both count');

  writeFileSync(keysFile, 'old-key=shop\nnew-key=shop\n');
  gateway.child.kill('SIGHUP');
  await sleep(100);
  t.same([await post('old-key'), await post('new-key')], [200, 200], 'both keys valid during the rotation');

  writeFileSync(keysFile, 'new-key=shop\n');
  gateway.child.kill('SIGHUP');
  await sleep(100);
  t.same([await post('old-key'), await post('new-key'), await post('ops-key')], [401, 200, 200], 'the old key is gone, the others stay');

  const metrics = await (await fetch(`${gateway.admin}/metrics`)).text();
  t.ok(metricValue(metrics, 'tracking_gateway_service_key_reloads_total', { outcome: 'ok' }) >= 2);
  t.match(gateway.output(), /service keys reloaded/);
  t.notMatch(gateway.output(), /old-key|new-key|ops-key/, 'no key in the log');
  t.equal(await gateway.stop(), 0);
});
