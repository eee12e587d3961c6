import { hostname } from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { ConfigError } from '../../errors';
import type { DestinationEnv } from '../destination-type';

// The `s3` key of a file destination entry: ship each closed minute file to S3
// (s3-shipper.ts). One TypeBox declaration is the JSON Schema the config is validated with and
// the TypeScript type the shipper reads.

// S3 bucket names are 3 to 63 characters. https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
const BUCKET_NAME_MIN = 3;
const BUCKET_NAME_MAX = 63;
// An object key is at most 1,024 bytes; the prefix leaves room for the layout after it.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
const PREFIX_MAX = 512;

export const s3ShippingSchema = Type.Object(
  {
    bucket: Type.String({ minLength: BUCKET_NAME_MIN, maxLength: BUCKET_NAME_MAX, pattern: '^[a-z0-9][a-z0-9.-]*[a-z0-9]$' }),
    /** Keys start with it (no leading or trailing `/`); empty: at the bucket's root. */
    prefix: Type.String({ maxLength: PREFIX_MAX, pattern: '^([^/]+(/[^/]+)*)?$', default: '' }),
    /** Else the SDK's (AWS_REGION, the instance's). */
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** Else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, which the SDK reads itself, else AWS. */
    endpoint: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
    /** Path-style URLs (bucket in the path); on by default when an endpoint is given (moto, MinIO). */
    forcePathStyle: Type.Optional(Type.Boolean()),
    /** The writer's name in keys; else the host name (the pod's), with `-w<N>` added for worker N. */
    hostId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' })),
    /** How long after its minute's end a file still takes lines, before it is closed and shipped. */
    graceSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 120 }),
    /** Shipped files are kept this long (under `_s3-shipped/`) before they are deleted; 0: deleted at once. */
    keepMinutes: Type.Integer({ minimum: 0, maximum: 7 * 24 * 60, default: 0 }),
    /** Closed files waiting for S3 may take this many bytes; past it the destination refuses events. */
    maxPendingBytes: Type.Integer({ minimum: 1, default: 10 * 1024 * 1024 * 1024 }),
    /** One upload's time limit, from connecting to S3's answer. */
    requestTimeoutMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 300_000 }),
  },
  { additionalProperties: false },
);

export type S3Shipping = Static<typeof s3ShippingSchema>;

/** The writer's name in keys when `hostId` is not set: the host name (a pod's name), as a key may spell it. */
export function defaultHostId(): string {
  return hostname().replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** The destination the FILE_S3_* variables change: the embedded default's name. */
export const ENV_FILE_DESTINATION = 'file';

/** Variables that set one key each of `destinations.file.s3`; FILE_S3_BUCKET turns shipping on. */
export const FILE_S3_ENV: Readonly<Record<string, keyof S3Shipping>> = {
  FILE_S3_BUCKET: 'bucket',
  FILE_S3_PREFIX: 'prefix',
  FILE_S3_REGION: 'region',
  FILE_S3_GRACE_SECONDS: 'graceSeconds',
  FILE_S3_KEEP_MINUTES: 'keepMinutes',
  FILE_S3_MAX_PENDING_BYTES: 'maxPendingBytes',
  FILE_S3_HOST_ID: 'hostId',
};

/**
 * Applies FILE_S3_* to the raw `destinations` mapping: to the entry named `file`, made here
 * when the config file names no destinations (the file type's variables are applied last, so it
 * comes after any destination KAFKA_BROKERS and the stream lists made). An
 * endpoint from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL turns on path-style URLs (emulators
 * have no per-bucket host names) unless the entry says otherwise.
 */
export function applyFileS3Env(destinations: Record<string, unknown>, env: NodeJS.ProcessEnv, fromFile: boolean): void {
  const set = Object.entries(FILE_S3_ENV).filter(([name]) => env[name] !== undefined && env[name] !== '');
  if (set.length > 0) {
    // Without destinations from the config file, the file destination is made (the embedded
    // default, or the last hop before the spool after those other variables made).
    if (destinations[ENV_FILE_DESTINATION] === undefined && !fromFile) destinations[ENV_FILE_DESTINATION] = { type: 'file' };
    const entry = destinations[ENV_FILE_DESTINATION] as Record<string, unknown> | undefined;
    if (typeof entry !== 'object' || entry === null || entry.type !== 'file') {
      throw new ConfigError(`invalid config:\n  ${set.map(([name]) => name).join(', ')} apply to a file destination named "${ENV_FILE_DESTINATION}", which the config does not have`);
    }
    if (typeof entry.s3 !== 'object' || entry.s3 === null) entry.s3 = {};
    for (const [name, key] of set) (entry.s3 as Record<string, unknown>)[key] = env[name];
  }
  if (!env.AWS_ENDPOINT_URL_S3 && !env.AWS_ENDPOINT_URL) return;
  for (const entry of Object.values(destinations)) {
    const s3 = (entry as { type?: unknown; s3?: unknown } | null)?.s3;
    if ((entry as { type?: unknown }).type !== 'file' || typeof s3 !== 'object' || s3 === null) continue;
    const settings = s3 as Record<string, unknown>;
    if (settings.endpoint === undefined) settings.forcePathStyle ??= true;
  }
}

/** The FILE_S3_* variable that sets `key` (`destinations.file.s3.<key>`), if any. */
export function variableFor(key: string): string | undefined {
  const prefix = `destinations.${ENV_FILE_DESTINATION}.s3.`;
  if (!key.startsWith(prefix)) return undefined;
  return Object.entries(FILE_S3_ENV).find(([, k]) => k === key.slice(prefix.length))?.[0];
}

export const fileS3Env: DestinationEnv = { apply: applyFileS3Env, variableFor };
