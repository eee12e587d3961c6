import type { GatewayEvent } from '../../envelope/envelope';
import type { TopicRegistry } from '../../topics/registry';
import { NormalizeContext } from '../../topics/avro-normalizer';

/**
 * An event as the spool keeps it: the envelope and the data, by topic and version name, and
 * the routes of its topic it waits for. `routes` is left out for the first route alone, so an
 * entry written before topics had several routes reads as one for the first route.
 */
interface SpoolEntry {
  id: string;
  service: string;
  topic: string;
  version: number;
  source: string;
  receivedAt: number;
  eventTime?: number;
  clientIp?: string;
  userAgent?: string;
  key?: string;
  size: number;
  data: unknown;
  routes?: number[];
}

/** More routes than any topic may name: an entry claiming more is not one this gateway wrote. */
const MAX_ROUTE_INDEX = 1_000;

export function encodeSpoolEntry(event: GatewayEvent): Buffer {
  const entry: SpoolEntry = {
    id: event.id,
    service: event.schema.service,
    topic: event.schema.topic,
    version: event.schema.version,
    source: event.source,
    receivedAt: event.receivedAt,
    eventTime: event.eventTime,
    clientIp: event.clientIp,
    userAgent: event.userAgent,
    key: event.key,
    size: event.size,
    data: event.data,
    routes: event.routes && !(event.routes.length === 1 && event.routes[0] === 0) ? [...event.routes] : undefined,
  };
  return Buffer.from(JSON.stringify(entry, event.schema.jsonReplacer));
}

/**
 * Rebuilds the event, or explains why it cannot: its topic or version is no longer in the
 * registry (a deployment removed it while events waited in the spool).
 */
export function decodeSpoolEntry(payload: Buffer, registry: TopicRegistry): GatewayEvent | Error {
  let entry: SpoolEntry;
  try {
    entry = JSON.parse(payload.toString('utf8')) as SpoolEntry;
  } catch (err) {
    return new Error(`unreadable spool entry: ${(err as Error).message}`);
  }
  const routes = entry.routes ?? [0];
  if (!Array.isArray(routes) || routes.length === 0 || !routes.every((r) => Number.isInteger(r) && r >= 0 && r < MAX_ROUTE_INDEX)) {
    return new Error(`unreadable spool entry: routes ${JSON.stringify(entry.routes)} is not a list of route indexes`);
  }
  const schema = registry.get(entry.service, entry.topic)?.versions.get(entry.version);
  if (!schema) return new Error(`${entry.service}/${entry.topic} v${entry.version} is no longer a known topic version`);
  // JSON carried bytes as base64; the normalizer turns them back into the schema's shape, the
  // one the version's compiled JSON serializer (json-serializer.ts) expects of every value.
  const data = schema.normalize(entry.data, new NormalizeContext());
  return {
    id: entry.id,
    schema,
    source: entry.source,
    receivedAt: entry.receivedAt,
    eventTime: entry.eventTime,
    clientIp: entry.clientIp,
    userAgent: entry.userAgent,
    key: entry.key,
    size: entry.size,
    data: data as Record<string, unknown>,
    routes,
  };
}
