// The Segment HTTP Tracking API (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/):
// what a topic's config says it takes (`segment:` in topic.yaml) and what the gateway's config
// turns on (`segment:` in the config file).

/** The call types of the Segment spec, as they arrive in `type` (or by their path). */
export const SEGMENT_CALL_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentCallType = (typeof SEGMENT_CALL_TYPES)[number];

/** The call types besides `track`: each goes to the one topic that declares it. */
export const NAMED_CALL_TYPES = ['identify', 'page', 'screen', 'group', 'alias'] as const satisfies readonly SegmentCallType[];

/** `track: "*"`: the topic that takes every track no other topic names (the catch-all). */
export const CATCH_ALL_TRACK = '*';

/** A topic's `segment:` key. */
export interface TopicSegmentMapping {
  /** Event names of the `track` calls this topic takes; `*` makes it the catch-all. */
  track?: string | string[];
  identify?: boolean;
  page?: boolean;
  screen?: boolean;
  group?: boolean;
  alias?: boolean;
}

/** Segment caps an event name only by the call's size; 200 characters is a readable bound for names in config and errors. */
const EVENT_NAME = { type: 'string', minLength: 1, maxLength: 200 } as const;

export const topicSegmentSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    track: { anyOf: [EVENT_NAME, { type: 'array', items: EVENT_NAME, minItems: 1, uniqueItems: true }] },
    ...Object.fromEntries(NAMED_CALL_TYPES.map((type) => [type, { type: 'boolean' }])),
  },
} as const;

/** Segment's documented limits (the HTTP API page above, "Max request size"). */
export const SEGMENT_MAX_CALL_BYTES = 32 * 1024;
export const SEGMENT_MAX_BATCH_BYTES = 500 * 1024;

/** The gateway's `segment:` key. */
export interface SegmentConfig {
  /** The /v1/batch, /v1/track, … routes; off: they answer 404. */
  enabled: boolean;
  /** Call types taken: `track` and whichever of identify, page, screen, group, alias are turned on. */
  calls: SegmentCallType[];
  /** One call's JSON, after Content-Encoding is undone. */
  maxCallBytes: number;
  /** One request's body (a batch), after Content-Encoding is undone. */
  maxBatchBytes: number;
  /** Calls refused inside a batch (service keys) are also written to the dead letter. */
  deadLetterRefused: boolean;
}

export const segmentConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    calls: { type: 'array', items: { enum: [...SEGMENT_CALL_TYPES] }, uniqueItems: true, default: ['track'] },
    maxCallBytes: { type: 'integer', minimum: 1024, maximum: 1024 * 1024, default: SEGMENT_MAX_CALL_BYTES },
    maxBatchBytes: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024, default: SEGMENT_MAX_BATCH_BYTES },
    deadLetterRefused: { type: 'boolean', default: false },
  },
} as const;
