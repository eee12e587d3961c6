import { randomUUID } from 'node:crypto';
import t from 'tap';
import { motoEndpointForTests } from '../harness/moto-server';
import { setupStreams } from '../helpers/firehose';
import { metricValue, readGzipLines, removeDir, SERVICE_AUTH, tempDir, testGateway, validOrder } from '../helpers/gateway';

// A Firehose destination whose delivery stream was never created (a typo in the config, a
// stream in another account): every PutRecordBatch is refused with ResourceNotFoundException by
// moto, the real Firehose API. That is a setting, not an outage: /readyz and
// destination_misconfigured name it, while a route with a fallback keeps delivering.

t.test('a Firehose stream that does not exist is named missing_stream; its route falls back and the gateway stays ready', async (t) => {
  const moto = await motoEndpointForTests();
  const { streams, idsIn } = await setupStreams(t, ['present']);
  const filesDir = tempDir();
  t.teardown(() => removeDir(filesDir));
  const ghost = `never-created-${randomUUID().slice(0, 8)}`;
  const { gateway, dataDir } = testGateway({
    destinations: {
      ghost: { type: 'firehose', stream: ghost, endpoint: moto },
      files: { type: 'file', dir: filesDir },
      present: { type: 'firehose', stream: streams[0], endpoint: moto },
    },
    defaultRoutes: [['ghost', 'files'], ['present']],
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const res = await gateway.publicServer.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify([validOrder({ $id: 'f-1' }), validOrder({ $id: 'f-2' })]) });
  t.equal(res.statusCode, 200, 'acknowledged: files took route ghost>files, present took the other');
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_destination_misconfigured', { destination: 'ghost', reason: 'missing_stream' }), 1);
  const ready = await gateway.adminServer.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 200, 'ready: the route has a working fallback');
  t.match(ready.json(), { misconfigured: [{ destination: 'ghost', reason: 'missing_stream', message: /ResourceNotFoundException/ }] });
  await gateway.close();
  t.same(readGzipLines(filesDir).map((e) => e.id).sort(), ['f-1', 'f-2'], 'the fallback has them');
  t.same((await idsIn(streams[0])).sort(), ['f-1', 'f-2'], 'the other route\'s stream has them');
});
