import { GatewayError } from '../errors';

// JSON.parse allocates before anyone can count: `[{},{},…]` turns each 3 bytes of text into
// an object of ~60 bytes of heap, and `[[[[…` nests as deep as the body is long. This pass
// counts objects and arrays and measures nesting on the bytes, allocating nothing, so that a
// body past either bound is refused before it is parsed. Small bodies skip it: their worst
// case is small anyway (see SCAN_FROM_BYTES).

/** Bodies under this are parsed without the pass: at most ~22k containers, ~1.5 MiB of heap. */
export const SCAN_FROM_BYTES = 64 * 1024;
/** Deeper than any topic schema needs; deep enough that no legitimate event is refused. */
export const MAX_JSON_DEPTH = 64;
/** Objects and arrays a request may hold per event it may carry (an order with 5 items is 7). */
export const CONTAINERS_PER_EVENT = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Throws when JSON text nests too deep, holds more events than `maxEvents` (objects and arrays
 * opened at the event level: inside a top-level array, or at the top of each NDJSON line), or
 * more objects and arrays in all than CONTAINERS_PER_EVENT per allowed event.
 */
export function checkJsonShape(body: Buffer, maxEvents: number, format: 'json' | 'ndjson'): void {
  if (body.length < SCAN_FROM_BYTES) return;
  const maxContainers = maxEvents * CONTAINERS_PER_EVENT;
  // A single JSON object is one event however many objects it holds; only an array is a batch.
  const eventDepth = format === 'ndjson' ? 0 : firstByte(body) === OPEN_BRACKET ? 1 : -1;
  let depth = 0;
  let containers = 0;
  let events = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (depth === eventDepth && ++events > maxEvents) {
        throw new GatewayError('TOO_MANY_EVENTS', `body: more than ${maxEvents} events; send at most ${maxEvents} per request (server.maxEventsPerRequest); nothing was parsed`);
      }
      if (++depth > MAX_JSON_DEPTH) {
        throw new GatewayError('MALFORMED_BODY', `body: JSON nested deeper than ${MAX_JSON_DEPTH} levels (at byte ${i})`);
      }
      if (++containers > maxContainers) {
        throw new GatewayError('TOO_COMPLEX', `body: more than ${maxContainers} JSON objects and arrays (${CONTAINERS_PER_EVENT} per event of server.maxEventsPerRequest); nothing was parsed`);
      }
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
}

function firstByte(body: Buffer): number {
  for (const byte of body) if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return byte;
  return -1;
}
