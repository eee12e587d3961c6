import t from 'tap';
import { callPath, eventOfCall } from '../../src/segment/call-mapping';
import { loadTopicRegistry } from '../../src/topics/registry';
import { TOPICS_DIR } from '../helpers/gateway';

// The mapping rules of docs/segment.md, one by one, on the shipped topics' schemas.

const registry = loadTopicRegistry(TOPICS_DIR);
const version = (service: string, topic: string) => registry.get(service, topic)!.versions.get(registry.get(service, topic)!.config.defaultVersion)!;

t.test('track: properties become the fields; messageId $id; timestamp, else originalTimestamp, $time', async (t) => {
  const orders = version('shop', 'order-placed');
  t.same(eventOfCall({ event: 'Order Placed', messageId: 'm', timestamp: 'T', originalTimestamp: 'O', userId: 'u', properties: { orderId: 'o' } }, 'track', orders), { orderId: 'o', $id: 'm', $time: 'T' }, 'userId is not kept: the schema has no such field');
  t.same(eventOfCall({ originalTimestamp: 'O', properties: {} }, 'track', orders), { $time: 'O' });
  t.same(eventOfCall({ properties: 'not an object' }, 'track', orders), {}, 'a payload that is not an object gives no fields');
});

t.test('a field named like a call key takes it: records cut to what they declare, objects as JSON text for strings', async (t) => {
  const identify = version('segment', 'identify');
  const event = eventOfCall({ userId: 'u', anonymousId: null, traits: { plan: 'pro' }, context: { ip: '1.2.3.4', campaign: { name: 'x' }, page: { url: 'https://a/', hash: '#x' } } }, 'identify', identify);
  t.same(event, { userId: 'u', traits: '{"plan":"pro"}', context: { ip: '1.2.3.4', page: { url: 'https://a/' } } });
  t.notOk('plan' in event, 'traits kept whole in their field, not spread, when the schema has a traits field');
});

t.test("the call's own key wins over a property of the same name", async (t) => {
  const page = version('segment', 'page');
  t.match(eventOfCall({ name: 'Top', properties: { title: 'T' } }, 'page', page), { name: 'Top', properties: '{"title":"T"}' });
  const impression = version('widget', 'impression');
  t.same(eventOfCall({ properties: { widgetId: 'w', name: 'from properties' }, name: 'ignored: no such field' }, 'track', impression), { widgetId: 'w', name: 'from properties' });
});

t.test('field paths are named as in the call', async (t) => {
  const orders = version('shop', 'order-placed');
  t.equal(callPath('items[0].sku', 'track', orders), 'properties.items[0].sku');
  t.equal(callPath('$id', 'track', orders), 'messageId');
  t.equal(callPath('$time', 'track', orders), 'timestamp');
  const identify = version('segment', 'identify');
  t.equal(callPath('context.ip', 'identify', identify), 'context.ip');
  t.equal(callPath('previousId', 'alias', version('segment', 'alias')), 'previousId');
});
