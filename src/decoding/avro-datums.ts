import { GatewayError } from '../errors';
import type { TopicVersion } from '../topics/registry';
import { createValueBudget, scanDatum } from './avro-scan';

// A body of Avro binary datums back to back, each written with the requested version's
// schema. Each datum is scanned (bounded) before avsc decodes it, and counting stops as
// soon as the request passes maxEvents, before the rest is read.

/**
 * `datums`, when given, receives each datum's bytes (views into `body`, no copy): they are
 * already the binary datum of `version`, which Kafka can send as they are.
 */
export function decodeAvroDatums(body: Buffer, version: TopicVersion, limits: { maxEvents: number }, datums?: Buffer[]): unknown[] {
  if (body.length === 0) throw new GatewayError('MALFORMED_BODY', 'body: no Avro datum');
  const { type } = version;
  const budget = createValueBudget();
  const events: unknown[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (events.length === limits.maxEvents) {
      throw new GatewayError('TOO_MANY_EVENTS', `body: more than ${limits.maxEvents} Avro datums; send at most ${limits.maxEvents} events per request`);
    }
    let next: number;
    try {
      next = scanDatum(type, body, offset, body.length, budget);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      throw new GatewayError(err.code, `Avro datum ${events.length} at byte ${offset}: cannot decode with v${version.version} (${err.message})`);
    }
    // Safe now: avsc reads exactly the bytes the scan accepted.
    const decoded = type.decode(body, offset);
    if (decoded.offset !== next) throw new Error(`avsc read datum ${events.length} to byte ${decoded.offset}, the scan to ${next}`);
    events.push(decoded.value);
    datums?.push(body.subarray(offset, next));
    offset = next;
  }
  return events;
}
