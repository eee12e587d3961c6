import type { DestinationEnv } from '../destination-type';
import { FIREHOSE } from './config';

/**
 * FIREHOSE_STREAMS=a,b,c, when the config file names no destinations: a chain of streams,
 * `firehose-a`, `firehose-b`, `firehose-c`, after the destinations the types before Firehose
 * in the registry added (Kafka's, when KAFKA_BROKERS is set too).
 */
export const firehoseEnv: DestinationEnv = {
  apply(destinations, env, fromFile) {
    if (fromFile || !env.FIREHOSE_STREAMS) return;
    for (const stream of env.FIREHOSE_STREAMS.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      destinations[`firehose-${stream}`] = { type: FIREHOSE, stream };
    }
  },
  // FIREHOSE_STREAMS sets a whole entry, and a bad stream name is named in the key itself.
  variableFor: () => undefined,
};
