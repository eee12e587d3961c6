import type { DestinationType } from '../destination-type';
import { FIREHOSE, firehoseSchema } from './config';
import { FirehoseDestination } from './firehose-destination';
import { firehoseEnv } from './firehose-env';
import { firehoseMetrics, type FirehoseMetrics } from './firehose-metrics';
import { MAX_BYTES_PER_CALL } from './limits';

/** Amazon Data Firehose delivery streams (`type: firehose`), set by the config file or FIREHOSE_STREAMS. */
export const firehoseType: DestinationType<typeof firehoseSchema, FirehoseMetrics> = {
  type: FIREHOSE,
  schema: firehoseSchema,
  env: firehoseEnv,
  // A send packs events into records and may fill several 4 MiB calls, in parallel.
  batchDefaults: { maxRecords: 20000, maxBytes: 2 * MAX_BYTES_PER_CALL, maxInFlight: 4 },
  metrics: firehoseMetrics,
  create: (name, entry, { metrics, gatewayMetrics }) => new FirehoseDestination(name, entry, metrics, gatewayMetrics),
};
