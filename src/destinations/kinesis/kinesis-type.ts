import type { DestinationType } from '../destination-type';
import { KINESIS, kinesisConfigSchema } from './config';
import { KinesisDestination } from './kinesis-destination';
import { kinesisEnv } from './kinesis-env';
import { KinesisMetrics } from './kinesis-metrics';
import { MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL } from './limits';
import { kinesisTopicOptions } from './topic-options';

/** Amazon Kinesis Data Streams as a destination type (config `type: kinesis`). */
export const kinesisType: DestinationType<typeof kinesisConfigSchema, KinesisMetrics> = {
  type: KINESIS,
  schema: kinesisConfigSchema,
  env: kinesisEnv,
  // One batch fills at most one PutRecords call (500 records, 5 MiB), so a call's throttled
  // records are a batch's, and four calls in flight keep a few shards busy while the next batch
  // fills: a call takes some tens of ms, a shard 1,000 records/s. A batch is sized by its
  // events' estimated bytes, so one whose records come out larger is split into more calls.
  batchDefaults: { maxRecords: MAX_RECORDS_PER_CALL, maxBytes: MAX_BYTES_PER_CALL, maxInFlight: 4 },
  finish(entry) {
    const arnStream = entry.streamArn?.slice(entry.streamArn.lastIndexOf('/') + 1);
    return arnStream !== undefined && arnStream !== entry.stream ? [`streamArn names stream "${arnStream}", not the entry's stream "${entry.stream}"`] : [];
  },
  topicOptions: kinesisTopicOptions,
  metrics: (registry) => new KinesisMetrics(registry),
  create: (name, entry, { metrics, gatewayMetrics, log }) => new KinesisDestination(name, entry, { metrics, gatewayMetrics, log }),
};
