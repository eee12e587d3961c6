import t from 'tap';
import { removeDir, testGateway } from '../helpers/gateway';

t.test('topic discovery lists topics, versions and schemas', async (t) => {
  const { gateway, dataDir } = testGateway();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const app = gateway.publicServer;
  const list = (await app.inject({ url: '/v1/topics' })).json();
  const impression = list.topics.find((x: any) => x.topic === 'impression');
  t.match(impression, { service: 'widget', access: 'public', defaultVersion: 2, versions: [1, 2], endpoints: { beacon: '/v1/beacon/widget/impression' } });
  const order = list.topics.find((x: any) => x.topic === 'order-placed');
  t.equal(order.endpoints.beacon, undefined, 'service-only topics have no beacon endpoint');
  const one = (await app.inject({ url: '/v1/topics/widget/impression' })).json();
  t.equal(one.schemas['2'].name, 'Impression');
  const schema = await app.inject({ url: '/v1/topics/shop/order-placed/versions/1' });
  t.equal(schema.statusCode, 200);
  t.equal(schema.json().name, 'OrderPlaced');
  t.equal((await app.inject({ url: '/v1/topics/shop/order-placed/versions/9' })).statusCode, 404);
  t.equal((await app.inject({ url: '/nothing/here' })).statusCode, 404);
});
