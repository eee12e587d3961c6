import type { DestinationEnv } from '../destination-type';
import { KINESIS } from './config';

/** `KINESIS_STREAMS=a,b`: one `kinesis-<stream>` destination per stream, in order. */
const KINESIS_STREAMS = 'KINESIS_STREAMS';
const NAME_PREFIX = 'kinesis-';

/**
 * When the config file names no destinations, KINESIS_STREAMS makes a chain of streams for
 * the default route: after Kafka (KAFKA_BROKERS) when it is there, before the Firehose streams
 * of FIREHOSE_STREAMS (a stream the consumers read is a better first fallback than a delivery
 * stream into S3), and the spool after them all. The entries are put in that order whichever
 * variable was applied first.
 */
export const kinesisEnv: DestinationEnv = {
  apply(destinations, env, fromFile) {
    const streams = (env[KINESIS_STREAMS] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (fromFile || streams.length === 0) return;
    const entries = Object.entries(destinations);
    const firstFirehose = entries.findIndex(([, entry]) => typeof entry === 'object' && entry !== null && 'type' in entry && entry.type === 'firehose');
    const at = firstFirehose < 0 ? entries.length : firstFirehose;
    const added: [string, unknown][] = streams.map((stream) => [`${NAME_PREFIX}${stream}`, { type: KINESIS, stream }]);
    // Object keys keep insertion order, which is the default route's order: rebuild in place.
    for (const [name] of entries) delete destinations[name];
    for (const [name, entry] of [...entries.slice(0, at), ...added, ...entries.slice(at)]) destinations[name] = entry;
  },
  variableFor(key) {
    return key.startsWith(`destinations.${NAME_PREFIX}`) ? KINESIS_STREAMS : undefined;
  },
};
