import { quotaSchema, type Quota } from '../util/throughput-limiter';
import { MAX_RECORD_BYTES } from './limits';

export interface FirehoseDestinationConfig {
  type: 'firehose';
  /** The delivery stream's name. */
  stream: string;
  /** Else the SDK's default chain (AWS_REGION, profile, instance metadata). */
  region?: string;
  /** Else the SDK's default (AWS_ENDPOINT_URL_FIREHOSE / AWS_ENDPOINT_URL work). */
  endpoint?: string;
  /** Pack events, newline-delimited, into Firehose records of at most this many bytes; 0: one event per record. */
  packRecordBytes: number;
  /** The stream's quotas; what goes beyond them goes to the next hop before the stream throttles. */
  quota: Quota;
  /** Learn the rate the stream takes from its throttling (AIMD). */
  learnRate: boolean;
  /** How long one PutRecordBatch call may take before it counts as unavailable. */
  requestTimeoutMs: number;
}

export const firehoseDestinationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'stream'],
  properties: {
    type: { const: 'firehose' },
    stream: { type: 'string', pattern: '^[a-zA-Z0-9_.-]{1,64}$' },
    region: { type: 'string', minLength: 1 },
    endpoint: { type: 'string', pattern: '^https?://' },
    // Clamped to Firehose's record limit here, at validation, not at send time.
    packRecordBytes: { type: 'integer', minimum: 0, maximum: MAX_RECORD_BYTES, default: 64 * 1024 },
    quota: { ...quotaSchema, default: {} },
    learnRate: { type: 'boolean', default: true },
    requestTimeoutMs: { type: 'integer', minimum: 100, default: 10000 },
    batch: { $ref: 'batch' },
  },
} as const;

/** The destinations `FIREHOSE_STREAMS=a,b,c` stands for: one per stream, in order. */
export function firehoseStreamDestinations(streams: string): Record<string, { type: 'firehose'; stream: string }> {
  return Object.fromEntries(
    streams
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((stream) => [`firehose-${stream}`, { type: 'firehose' as const, stream }]),
  );
}
