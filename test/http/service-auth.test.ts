import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { metricValue, removeDir, tempDir, testGateway, validOrder } from '../helpers/gateway';

// The service endpoint over a real socket: no key 401, a bad key 401, a key outside its
// scope 403, a valid one 200 (Bearer or Basic); browser-only content types refused for a
// service-only topic; keys rotated through the keys file without a restart.

const ORDERS = '/v1/events/shop/order-placed';

async function start(t: any, overrides: Record<string, unknown> = {}) {
  const { gateway, dataDir } = testGateway(overrides);
  const { port } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const post = (headers: Record<string, string>, body = JSON.stringify([validOrder()]), path = ORDERS) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { gateway, post };
}

t.test('401, 403 and 200, in the documented shape, counted by reason', async (t) => {
  const { gateway, post } = await start(t, { auth: { keys: [{ key: 'shop-writer', scopes: ['shop'] }, { key: 'widget-writer', scopes: ['widget/impression'] }] } });
  const none = await post({});
  t.equal(none.status, 401);
  t.equal(((await none.json()) as any).error.code, 'UNAUTHORIZED');
  const wrong = await post({ authorization: 'Bearer not-a-key' });
  t.equal(wrong.status, 401);
  const wrongBody = await wrong.text();
  t.notMatch(wrongBody, /not-a-key/, 'the presented key is not echoed');
  const scope = await post({ authorization: 'Bearer widget-writer' });
  t.equal(scope.status, 403);
  t.equal(((await scope.json()) as any).error.code, 'FORBIDDEN_SCOPE');
  t.equal((await post({ authorization: 'Bearer shop-writer' })).status, 200, 'Bearer');
  t.equal((await post({ authorization: `Basic ${Buffer.from('shop-writer:').toString('base64')}` })).status, 200, 'Basic with the key as user name');
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { reason: 'unauthorized' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { reason: 'forbidden' }), 1);
  t.notMatch(metrics, /shop-writer|widget-writer|not-a-key/, 'no key in any label');
});

t.test('a service-only topic refuses what a browser can send cross-site without a preflight', async (t) => {
  const { post } = await start(t);
  for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded']) {
    const res = await post({ authorization: 'Bearer test-service-key', 'content-type': type });
    t.equal(res.status, 415, type);
    t.match(((await res.json()) as any).error.message, /any web page can send cross-site/);
  }
  // A public topic still takes sendBeacon's text/plain on /v1/events, with a key.
  const impression = await post({ authorization: 'Bearer test-service-key', 'content-type': 'text/plain' }, JSON.stringify({ widgetId: 'w', pageUrl: 'https://p.example/', placement: 'TOP', position: 1 }), '/v1/events/widget/impression');
  t.equal(impression.status, 200);
});

t.test('rotation without a restart: the keys file is watched', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const keysFile = join(dir, 'keys');
  writeFileSync(keysFile, 'old-key=shop\n');
  const { gateway, post } = await start(t, { auth: { keysFile } });
  t.equal((await post({ authorization: 'Bearer old-key' })).status, 200);
  t.equal((await post({ authorization: 'Bearer new-key' })).status, 401);
  // Step 1 of a rotation: both keys valid while clients move over.
  writeFileSync(keysFile, 'old-key=shop\nnew-key=shop\n');
  await waitFor(async () => (await post({ authorization: 'Bearer new-key' })).status === 200);
  t.equal((await post({ authorization: 'Bearer old-key' })).status, 200, 'the old key still works during the rotation');
  // Step 2: the old key goes.
  writeFileSync(keysFile, 'new-key=shop\n');
  await waitFor(async () => (await post({ authorization: 'Bearer old-key' })).status === 401);
  t.equal((await post({ authorization: 'Bearer new-key' })).status, 200);
  // A broken file keeps the keys in force and says why.
  writeFileSync(keysFile, 'new-key=\n');
  await waitFor(async () => metricValue(await gateway.metrics.render(), 'tracking_gateway_service_key_reloads_total', { outcome: 'failed' }) === 1);
  t.equal((await post({ authorization: 'Bearer new-key' })).status, 200, 'a bad edit does not lock everyone out');
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_service_keys'), 1, 'new-key, from the file (the config names no other)');
});

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(200);
  }
}
