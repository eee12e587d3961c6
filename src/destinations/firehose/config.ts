import { Type, type Static } from '@sinclair/typebox';
import { quotaSchema } from '../util/throughput-limiter';
import { MAX_RECORD_BYTES } from './limits';

/** The type name config entries give. */
export const FIREHOSE = 'firehose';

export const DEFAULT_PACK_RECORD_BYTES = 64 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** One Amazon Data Firehose delivery stream. */
export const firehoseSchema = Type.Object(
  {
    /** The delivery stream's name. */
    stream: Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$' }),
    /** Else the SDK's default chain (AWS_REGION, profile, instance metadata). */
    region: Type.Optional(Type.String({ minLength: 1 })),
    /** Else the SDK's default (AWS_ENDPOINT_URL_FIREHOSE / AWS_ENDPOINT_URL work). */
    endpoint: Type.Optional(Type.String({ pattern: '^https?://' })),
    /**
     * Pack events, newline-delimited, into Firehose records of at most this many bytes; 0: one
     * event per record. Clamped to Firehose's record limit here, at validation, not at send time.
     */
    packRecordBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_RECORD_BYTES, default: DEFAULT_PACK_RECORD_BYTES })),
    /** The stream's quotas; what goes beyond them goes to the next hop before the stream throttles. */
    quota: Type.Optional({ ...quotaSchema, default: {} }),
    /** Learn the rate the stream takes from its throttling (AIMD). */
    learnRate: Type.Optional(Type.Boolean({ default: true })),
    /** How long one PutRecordBatch call may take before it counts as unavailable. */
    requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, default: DEFAULT_REQUEST_TIMEOUT_MS })),
  },
  { additionalProperties: false },
);

export type FirehoseConfig = Static<typeof firehoseSchema>;
