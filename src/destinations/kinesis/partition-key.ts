import { createHash } from 'node:crypto';
import type { GatewayEvent } from '../../envelope/envelope';
import { MAX_PARTITION_KEY_CHARS } from './limits';

// Kinesis maps a record to a shard by the MD5 of its partition key, so events with one key land
// on one shard. The key is the topic's `partitionKey` field, as on Kafka, else the event id
// (retries of one event land on one shard).

/** Separates a clipped key's kept prefix from the digest of the whole key. */
const CLIP_MARK = '~';

/** The partition key of an event: its key field's value, else its id, fitted to Kinesis' limit. */
export function partitionKeyOf(event: GatewayEvent): string {
  return fitPartitionKey(event.key === undefined || event.key === '' ? event.id : event.key);
}

/**
 * A key within 1–256 Unicode characters. A longer key keeps its first characters and ends with
 * `~` and the base64url SHA-256 of the whole key (43 characters), 256 in all: the same key
 * always gives the same result, and keys that share a long prefix still spread over shards.
 * Lone surrogates, which UTF-8 cannot carry, become U+FFFD first.
 */
export function fitPartitionKey(key: string): string {
  const text = key.toWellFormed();
  // A string of at most 256 UTF-16 units has at most 256 characters: the common case costs nothing.
  if (text.length <= MAX_PARTITION_KEY_CHARS) return text;
  const chars = Array.from(text);
  if (chars.length <= MAX_PARTITION_KEY_CHARS) return text;
  const digest = createHash('sha256').update(text).digest('base64url');
  return chars.slice(0, MAX_PARTITION_KEY_CHARS - CLIP_MARK.length - digest.length).join('') + CLIP_MARK + digest;
}
