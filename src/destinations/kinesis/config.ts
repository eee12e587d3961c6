import { Type, type Static } from '@sinclair/typebox';
import { quotaSchema, type Quota } from '../util/throughput-limiter';
import { MAX_STREAM_ARN_CHARS, STREAM_ARN_PATTERN, STREAM_NAME_PATTERN } from './limits';

/** The type name config entries give. */
export const KINESIS = 'kinesis';

/** How one event becomes one record's data. */
export const KINESIS_FORMATS = ['cloudevents-json', 'avro'] as const;
export type KinesisFormat = (typeof KINESIS_FORMATS)[number];

/** One of KINESIS_FORMATS, as a schema (`options`: e.g. its default). */
export const kinesisFormatSchema = (options: { default?: KinesisFormat } = {}) => Type.Union(KINESIS_FORMATS.map((f) => Type.Literal(f)), options);

/** The keys of a `kinesis` destination entry besides `type` and `batch`, with their defaults. */
export const kinesisConfigSchema = Type.Object(
  {
    /** The data stream's name (logs and metrics name it; calls use it unless `streamArn` is set). */
    stream: Type.String({ pattern: STREAM_NAME_PATTERN }),
    /** The stream's ARN, for a stream in another account; the calls then name the ARN. */
    streamArn: Type.Optional(Type.String({ pattern: STREAM_ARN_PATTERN, maxLength: MAX_STREAM_ARN_CHARS })),
    /** Else the SDK's default chain (AWS_REGION, profile, instance metadata). */
    region: Type.Optional(Type.String({ minLength: 1 })),
    /** Else the SDK's default (AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL work). */
    endpoint: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** The record value of topics that set no `destinationOptions.kinesis.format`. */
    format: kinesisFormatSchema({ default: 'cloudevents-json' }),
    /**
     * Overrides the quota derived from the stream's open shards (1,000 records/s and 1 MiB/s
     * each); what goes beyond it goes to the next hop before the stream throttles.
     */
    quota: Type.Unsafe<Quota>({ ...quotaSchema, default: {} }),
    /** Learn the rate the stream takes from its throttling (AIMD). */
    learnRate: Type.Boolean({ default: true }),
    /** How long one PutRecords or DescribeStreamSummary call may take before it counts as unavailable. */
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  },
  { additionalProperties: false },
);

export type KinesisDestinationConfig = Static<typeof kinesisConfigSchema>;
