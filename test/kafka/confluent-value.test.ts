// The confluent-avro value itself: magic byte, id, then exactly the datum — encoded here
// (through a scratch buffer that grows for a large event) or the client's own bytes.
import t from 'tap';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { confluentPrefix, toKafkaMessage } from '../../src/destinations/kafka/kafka-message';
import { loadTopicRegistry } from '../../src/topics/registry';
import { TOPICS_DIR, validImpression } from '../helpers/gateway';

const v2 = loadTopicRegistry(TOPICS_DIR).get('widget', 'impression')!.versions.get(2)!;
const event = (data: Record<string, unknown>, datum?: Buffer): GatewayEvent => ({ id: 'e-1', schema: v2, source: '/v1/events/widget/impression', receivedAt: 1764000000000, data, size: 100, datum });
const full = (over: Record<string, unknown>) => ({ referrer: null, visibleMs: 0, aboveFold: null, viewportRatio: 0, ...validImpression(over) });

t.test('prefix and datum, small after large (no stale scratch bytes)', async (t) => {
  const prefix = confluentPrefix(0x01020304);
  t.same([...prefix], [0, 1, 2, 3, 4]);
  for (const data of [full({ widgetId: 'small' }), full({ pageUrl: `https://p.example/${'x'.repeat(100_000)}` }), full({ widgetId: 'small again' })]) {
    const value = toKafkaMessage(event(data), 't', prefix).value;
    t.same([...value.subarray(0, 5)], [0, 1, 2, 3, 4]);
    t.ok(value.subarray(5).equals(v2.type.toBuffer(data)), `the datum of a ${value.length}-byte value, and nothing else`);
  }
});

t.test("the client's datum is copied behind the prefix; without a prefix it is the value itself", async (t) => {
  const data = full({ widgetId: 'client' });
  const datum = v2.type.toBuffer(data);
  const framed = toKafkaMessage(event(data, datum), 't', confluentPrefix(2)).value;
  t.ok(framed.subarray(5).equals(datum));
  t.equal(framed.readUInt32BE(1), 2);
  t.equal(toKafkaMessage(event(data, datum), 't').value, datum, 'avro: the same Buffer');
});
