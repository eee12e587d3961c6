import t from 'tap';
import { batchConfigFor, buildConfig } from '../../src/config/config';
import { kinesisEnv } from '../../src/destinations/kinesis/kinesis-env';
import { destinationOptionsSchema, destinationRegistry } from '../../src/destinations/registry';
import { topicFormat } from '../../src/destinations/kinesis/topic-options';
import { loadTopicRegistry, type Topic } from '../../src/topics/registry';
import { checkTopicConfig } from '../../src/topics/topic-config';
import { TOPICS_DIR } from '../helpers/gateway';

// Kinesis entries in the gateway config: KINESIS_STREAMS and its place in the default chain,
// defaults, and the errors that name the key.

t.test('KINESIS_STREAMS makes one destination per stream, with the documented defaults', async (t) => {
  const config = buildConfig({}, { KINESIS_STREAMS: 's1, s2' });
  t.same(config.defaultRoute, ['kinesis-s1', 'kinesis-s2']);
  t.same(config.destinations['kinesis-s1'], { type: 'kinesis', stream: 's1', format: 'cloudevents-json', quota: {}, learnRate: true, requestTimeoutMs: 10000 });
  t.same(batchConfigFor(config, 'kinesis-s2'), { ...config.batch, maxRecords: 500, maxBytes: 5 * 1024 * 1024, maxInFlight: 4 }, 'a batch fills one PutRecords call; four in flight');
});

t.test('the chain: Kafka, then the Kinesis streams, then the Firehose streams (the spool after all)', async (t) => {
  const config = buildConfig({}, { KAFKA_BROKERS: '127.0.0.1:9092', KINESIS_STREAMS: 'k1,k2', FIREHOSE_STREAMS: 'f1' });
  t.same(config.defaultRoute, ['kafka', 'kinesis-k1', 'kinesis-k2', 'firehose-f1']);
  t.same(buildConfig({}, { KINESIS_STREAMS: 'k1', FIREHOSE_STREAMS: 'f1,f2' }).defaultRoute, ['kinesis-k1', 'firehose-f1', 'firehose-f2']);
  t.same(buildConfig({}, { KAFKA_BROKERS: '127.0.0.1:9092', KINESIS_STREAMS: 'k1' }).defaultRoute, ['kafka', 'kinesis-k1']);
});

t.test('the Kinesis streams go before the Firehose ones whichever variable is applied first', async (t) => {
  const destinations: Record<string, unknown> = { kafka: { type: 'kafka' }, 'firehose-f1': { type: 'firehose', stream: 'f1' } };
  kinesisEnv.apply(destinations, { KINESIS_STREAMS: 'k1' }, false);
  t.same(Object.keys(destinations), ['kafka', 'kinesis-k1', 'firehose-f1']);
  t.same(destinations['kinesis-k1'], { type: 'kinesis', stream: 'k1' });
});

t.test('a config file that names its destinations keeps them: KINESIS_STREAMS adds nothing', async (t) => {
  const config = buildConfig({ destinations: { file: { type: 'file' } } }, { KINESIS_STREAMS: 'k1' });
  t.same(Object.keys(config.destinations), ['file']);
  const destinations: Record<string, unknown> = {};
  kinesisEnv.apply(destinations, { KINESIS_STREAMS: 'k1' }, true);
  t.same(destinations, {});
});

t.test('errors name the key, and the variable that set it', async (t) => {
  t.throws(() => buildConfig({}, { KINESIS_STREAMS: 'bad!name' }), /destinations\.kinesis-bad!name\.stream \(from KINESIS_STREAMS\) must match pattern/);
  t.equal(kinesisEnv.variableFor('destinations.kinesis-s1.stream'), 'KINESIS_STREAMS');
  t.equal(kinesisEnv.variableFor('destinations.firehose-s1.stream'), undefined);
  t.throws(() => buildConfig({ destinations: { k: { type: 'kinesis' } } }, {}), /destinations\.k must have required property 'stream'/);
  t.throws(() => buildConfig({ destinations: { k: { type: 'kinesis', stream: 's', format: 'xml' } } }, {}), /destinations\.k\.format must be equal to constant/);
  t.throws(() => buildConfig({ destinations: { k: { type: 'kinesis', stream: 's', shards: 2 } } }, {}), /destinations\.k: unknown key "shards"/);
  t.throws(() => buildConfig({ destinations: { k: { type: 'kinesis', stream: 's', quota: { recordsPerSecond: 0 } } } }, {}), /destinations\.k\.quota\.recordsPerSecond must be > 0/);
  t.throws(
    () => buildConfig({ destinations: { k: { type: 'kinesis', stream: 'a', streamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/b' } } }, {}),
    /destinations\.k: streamArn names stream "b", not the entry's stream "a"/,
  );
  t.throws(() => buildConfig({ destinations: { k: { type: 'kinesis', stream: 'a', streamArn: 'arn:aws:s3:::a' } } }, {}), /destinations\.k\.streamArn must match pattern/);
  const ok = buildConfig({ destinations: { k: { type: 'kinesis', stream: 'a', streamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/a', format: 'avro', batch: { maxRecords: 100 } } } }, {});
  t.equal(batchConfigFor(ok, 'k').maxRecords, 100, 'the entry’s own batch settings win');
});

t.test('a topic file may set destinationOptions.kinesis.format; anything else there is refused', async (t) => {
  const base = { access: 'service', defaultVersion: 1 };
  const options = destinationOptionsSchema(destinationRegistry);
  t.same(checkTopicConfig({ ...base, destinationOptions: { kinesis: { format: 'avro' } } }, options).problems, []);
  t.match(checkTopicConfig({ ...base, destinationOptions: { kinesis: { format: 'xml' } } }, options).problems.join('\n'), /destinationOptions\.kinesis\.format/);
  t.match(checkTopicConfig({ ...base, destinationOptions: { kinesis: { shards: 1 } } }, options).problems.join('\n'), /unknown key "shards"/);
});

t.test('the destination reads a topic’s format from its destinationOptions', async (t) => {
  const order = loadTopicRegistry(TOPICS_DIR).get('shop', 'order-placed')!;
  const withOptions = (destinationOptions: Record<string, unknown>): Topic => ({ ...order, config: { ...order.config, destinationOptions } });
  t.equal(topicFormat(order), undefined, 'the example topics set none');
  t.equal(topicFormat(withOptions({ kinesis: { format: 'avro' } })), 'avro');
  t.equal(topicFormat(withOptions({ kafka: { topic: 'x' } })), undefined, 'another type’s options are not read');
});
