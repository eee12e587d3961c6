import t from 'tap';
import { validate, version } from 'uuid';
import { uuidv7 } from '../../src/envelope/uuidv7';
import { anonymizeIp, clientEventTime, toCloudEventJson, type GatewayEvent } from '../../src/envelope/envelope';
import { loadTopicRegistry } from '../../src/topics/registry';
import { TOPICS_DIR } from '../helpers/gateway';

t.test('client IPs are anonymised to /24 and /48', async (t) => {
  t.equal(anonymizeIp('203.0.113.77'), '203.0.113.0');
  t.equal(anonymizeIp('::ffff:198.51.100.9'), '198.51.100.0');
  t.equal(anonymizeIp('2001:db8:85a3:8d3:1319:8a2e:370:7348'), '2001:db8:85a3::');
  t.equal(anonymizeIp('2001:db8::1'), '2001:db8:0::');
});

t.test('$time takes epoch ms or RFC 3339', async (t) => {
  t.equal(clientEventTime(1764000000000), 1764000000000);
  t.equal(clientEventTime('1764000000000'), 1764000000000);
  t.equal(clientEventTime('2025-11-24T16:00:00Z'), 1764000000000);
  t.type(clientEventTime('yesterday'), Error);
  t.equal(clientEventTime(undefined), undefined);
});

t.test('CloudEvents structured JSON carries the envelope and the data', async (t) => {
  const registry = loadTopicRegistry(TOPICS_DIR);
  const schema = registry.get('widget', 'impression')!.versions.get(2)!;
  const event: GatewayEvent = {
    id: 'evt-1',
    schema,
    source: '/v1/beacon/widget/impression',
    receivedAt: Date.parse('2026-01-01T00:00:05Z'),
    eventTime: Date.parse('2026-01-01T00:00:00Z'),
    clientIp: '203.0.113.0',
    userAgent: 'Mozilla/5.0 "quoted"',
    data: { widgetId: 'w' },
    size: 10,
  };
  const parsed = JSON.parse(toCloudEventJson(event));
  t.same(parsed, {
    specversion: '1.0',
    id: 'evt-1',
    source: '/v1/beacon/widget/impression',
    type: 'widget.impression',
    time: '2026-01-01T00:00:00.000Z',
    receivedtime: '2026-01-01T00:00:05.000Z',
    clientip: '203.0.113.0',
    useragent: 'Mozilla/5.0 "quoted"',
    datacontenttype: 'application/json',
    dataschema: '/v1/topics/widget/impression/versions/2',
    data: { widgetId: 'w' },
  });
});

t.test('event ids are valid UUIDv7s carrying the time, unique and in creation order', async (t) => {
  const ids = Array.from({ length: 3000 }, () => uuidv7());
  t.ok(ids.every((id) => validate(id) && version(id) === 7));
  t.equal(new Set(ids).size, ids.length);
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), 'sorted as made');
  // More ids in one millisecond than the 12-bit counter holds: they borrow the next one and stay in order.
  const burst = Array.from({ length: 10_000 }, () => uuidv7(1_900_000_000_000));
  t.ok(burst.every((id, i) => i === 0 || id > burst[i - 1]), '10,000 ids of one millisecond, sorted as made');
  const at = uuidv7(1764000000000);
  t.equal(parseInt(at.replace(/-/g, '').slice(0, 12), 16), 1764000000000, 'the first 48 bits are the ms timestamp');
});
