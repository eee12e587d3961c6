// "This whole batch failed" is said one way only: a thrown DestinationError. Returned failures
// concern single records. The rule (destination.ts), the batcher that enforces it on any
// destination, and the real file and Firehose destinations that keep it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { Batcher, type BatchResult } from '../../src/buffer/batcher';
import { buildConfig } from '../../src/config/config';
import { createDestination } from '../../src/destinations/create-destination';
import { DestinationError, perRecord, wholeBatchFailure, type FailureKind, type RecordFailure } from '../../src/destinations/destination';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicRegistry } from '../../src/topics/registry';
import { motoEndpointForTests } from '../harness/moto-server';
import { RecordingDestination } from '../helpers/destinations';
// For its side effect: the credentials and region moto is given.
import '../helpers/firehose';
import { removeDir, tempDir, TOPICS_DIR, validOrder } from '../helpers/gateway';

const silent = pino({ level: 'silent' });
const orders = loadTopicRegistry(TOPICS_DIR).get('shop', 'order-placed')!.versions.get(1)!;

function event(id: string, over: Partial<GatewayEvent> = {}): GatewayEvent {
  return { id, schema: orders, source: '/v1/events/shop/order-placed', receivedAt: Date.now(), data: { ...validOrder({ orderId: id }), couponCode: null }, size: 600, key: id, ...over };
}
/** Past what `Date` can print: every encoder of the envelope throws on it. */
const poison = () => event('poison', { eventTime: 1e20 });

const failed = (kinds: FailureKind[]): RecordFailure[] => kinds.map((kind, index) => ({ index, kind, message: `record ${index}: ${kind}` }));

t.test('the rule: every record failed alike with a retryable kind is a whole-batch failure', async (t) => {
  for (const kind of ['unavailable', 'throttled'] as const) {
    const whole = wholeBatchFailure(failed([kind, kind, kind]), 3);
    t.ok(whole instanceof DestinationError && whole.kind === kind, `all ${kind}: whole batch`);
    t.throws(() => perRecord(failed([kind, kind]), 2), new DestinationError(kind, `record 0: ${kind}`));
  }
  t.equal(wholeBatchFailure(failed(['unavailable', 'unavailable']), 3), undefined, 'one record taken: per record');
  t.equal(wholeBatchFailure(failed(['unavailable', 'throttled']), 2), undefined, 'different kinds: per record');
  t.equal(wholeBatchFailure(failed(['too_large', 'too_large']), 2), undefined, 'terminal kinds belong to the records');
  t.equal(wholeBatchFailure(failed(['malformed']), 1), undefined);
  t.equal(wholeBatchFailure([], 0), undefined, 'an empty batch did not fail');
  const twice = [...failed(['unavailable']), ...failed(['unavailable'])];
  t.equal(wholeBatchFailure(twice, 2), undefined, 'the same record named twice is not every record');
  t.same(perRecord(failed(['unavailable']), 2), failed(['unavailable']), 'per-record failures are returned as they are');
});

t.test('the batcher hands the route a whole-batch failure however a destination said it', async (t) => {
  /** Returns what it is told to, without applying the rule itself. */
  class ListingDestination extends RecordingDestination {
    constructor(private readonly answer: (size: number) => FailureKind[]) {
      super('listing');
    }
    async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
      return failed(this.answer(events.length));
    }
  }
  const cases: { answer: (n: number) => FailureKind[]; whole: FailureKind | undefined }[] = [
    { answer: (n) => Array(n).fill('unavailable'), whole: 'unavailable' },
    { answer: (n) => Array(n).fill('throttled'), whole: 'throttled' },
    { answer: (n) => Array(n).fill('too_large'), whole: undefined },
    { answer: (n) => Array(n - 1).fill('unavailable'), whole: undefined },
  ];
  for (const { answer, whole } of cases) {
    const results: BatchResult[] = [];
    const batcher = new Batcher(new ListingDestination(answer), { maxRecords: 3, maxBytes: 1e6, lingerMs: 1, maxInFlight: 1 }, (_b, _items, result) => results.push(result), new GatewayMetrics(), silent);
    for (const id of ['a', 'b', 'c']) batcher.add({ event: event(id) });
    await batcher.drain();
    t.equal(results.length, 1);
    if (whole) t.ok(results[0] instanceof DestinationError && results[0].kind === whole, `thrown as ${whole}`);
    else t.ok(Array.isArray(results[0]), `${answer(3).join(',')}: per record`);
  }
});

t.test('the file destination: a disk that takes none of a batch throws; a poisoned record alone is returned', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  // A file where the destination's root folder should be: no minute file can be created.
  const root = join(dir, 'not-a-folder');
  writeFileSync(root, 'x');
  const config = buildConfig({ dataDir: dir }, {});
  const broken = createDestination('broken', { type: 'file', dir: root }, config, new GatewayMetrics(), silent);
  await broken.start({ topics: [], log: silent });
  t.teardown(() => broken.close());
  await t.rejects(broken.send([event('a'), event('b')]), { name: 'DestinationError', kind: 'unavailable' });
  t.notOk(broken.isHealthy(), 'its own signal says the disk fails');
  // Mixed: the poisoned record is malformed, the others unavailable: per record.
  const mixed = await broken.send([event('a'), poison()]);
  t.same(mixed.map((f) => [f.index, f.kind]).sort(), [[0, 'unavailable'], [1, 'malformed']]);

  const good = createDestination('good', { type: 'file', dir: join(dir, 'ok') }, config, new GatewayMetrics(), silent);
  await good.start({ topics: [], log: silent });
  t.teardown(() => good.close());
  t.same(await good.send([event('a')]), []);
  t.same((await good.send([poison()])).map((f) => f.kind), ['malformed'], 'a batch of one poisoned record is returned, not thrown');
});

t.test('the real Firehose destination (moto): a stream that does not exist fails the whole batch, thrown', async (t) => {
  const endpoint = await motoEndpointForTests();
  const config = buildConfig({ dataDir: tempDir(), destinations: { gone: { type: 'firehose', stream: `no-such-stream-${process.pid}`, endpoint, packRecordBytes: 0 } } }, {});
  const firehose = createDestination('gone', config.destinations.gone, config, new GatewayMetrics(), silent);
  t.teardown(() => firehose.close());
  await firehose.start({ topics: [], log: silent });
  await t.rejects(firehose.send([event('a'), event('b'), event('c')]), { name: 'DestinationError', kind: 'unavailable' });
  const failures = await firehose.send([event('a'), poison()]);
  t.same(failures.map((f) => [f.index, f.kind]).sort(), [[0, 'unavailable'], [1, 'malformed']], 'with a poisoned record too: per record');
});
