import { LOAD_TEST_AUTH } from './gateway-process';
import { avroDatums, impression, impressionPixelPath, orderPlaced, Random, type OrderPlaced } from './payloads';

// What each load scenario sends, and what it must achieve. A scenario is a pool of distinct
// requests that autocannon's connections cycle through, so payloads vary per request without
// the load generator building them while it measures.

/** One request of a pool, with the events it carries and the status the gateway must answer. */
export interface PlannedRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Events the request carries; counted as accepted when the answer is 2xx. */
  events: number;
  expectedStatus: number;
}

export interface Scenario {
  name: string;
  description: string;
  connections: number;
  /**
   * Bound on the 99th percentile latency, in ms: about 1.5× what this scenario measured on a
   * 2-core machine with the load generator on the same cores, so that a regression fails it.
   */
  p99Ms: number;
  /** Some requests are meant to be refused (4xx); the check is then "every status as planned". */
  plansRefusals: boolean;
  pool(random: Random): PlannedRequest[];
}

/** The gateway's body limit in load tests, so that "oversized" need not mean 4 MiB per request. */
export const LOAD_TEST_BODY_LIMIT_BYTES = 1024 * 1024;

const PAGE_ORIGIN = 'https://www.publisher.example';
const BROWSER_HEADERS = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'accept-language': 'en-GB,en;q=0.9',
};
const SERVICE_HEADERS = { 'user-agent': 'checkout-service/4.2 (node)', ...LOAD_TEST_AUTH };
const ORDERS_PATH = '/v1/events/shop/order-placed';
const BATCH_SIZE = 100;

function beaconGet(random: Random): PlannedRequest {
  const event = impression(random);
  // An <img> sends no Origin; the gateway checks the Referer, which is the page.
  return { method: 'GET', path: impressionPixelPath(event), headers: { ...BROWSER_HEADERS, referer: event.pageUrl }, events: 1, expectedStatus: 200 };
}

function beaconPost(random: Random): PlannedRequest {
  // navigator.sendBeacon with a string: text/plain, so that no CORS preflight is needed.
  return {
    method: 'POST',
    path: '/v1/beacon/widget/impression',
    headers: { ...BROWSER_HEADERS, origin: PAGE_ORIGIN, 'content-type': 'text/plain;charset=UTF-8' },
    body: Buffer.from(JSON.stringify(impression(random))),
    events: 1,
    expectedStatus: 204,
  };
}

function servicePost(contentType: string, body: Buffer, events: number, expectedStatus = 200): PlannedRequest {
  return { method: 'POST', path: ORDERS_PATH, headers: { ...SERVICE_HEADERS, 'content-type': contentType }, body, events, expectedStatus };
}

function orders(random: Random, count: number): OrderPlaced[] {
  return Array.from({ length: count }, () => orderPlaced(random));
}

const serviceEvent = (random: Random) => servicePost('application/json', Buffer.from(JSON.stringify(orderPlaced(random))), 1);
const jsonBatch = (random: Random) => servicePost('application/json', Buffer.from(JSON.stringify(orders(random, BATCH_SIZE))), BATCH_SIZE);
const ndjsonBatch = (random: Random) =>
  servicePost('application/x-ndjson', Buffer.from(orders(random, BATCH_SIZE).map((o) => JSON.stringify(o)).join('\n') + '\n'), BATCH_SIZE);
const avroBatch = (random: Random) => servicePost('avro/binary', avroDatums(orders(random, BATCH_SIZE)), BATCH_SIZE);

/** A schema violation the gateway must name: 422 with the field path. */
function invalidEvent(random: Random): PlannedRequest {
  const order: Record<string, unknown> = { ...orderPlaced(random) };
  const fault = random.int(0, 2);
  if (fault === 0) order.totalCents = 'twelve euros';
  else if (fault === 1) order.currency = 'CHF';
  else delete order.customerId;
  return servicePost('application/json', Buffer.from(JSON.stringify(order)), 1, 422);
}

/** One event over the topic's maxEventBytes (64 KiB): 413 EVENT_TOO_LARGE. */
function oversizedEvent(random: Random): PlannedRequest {
  const order = { ...orderPlaced(random), couponCode: random.token(70 * 1024) };
  return servicePost('application/json', Buffer.from(JSON.stringify(order)), 1, 413);
}

/**
 * A body over the gateway's body limit: 413 BODY_TOO_LARGE before any parsing, with
 * `Connection: close` because the rest of the body is not read. autocannon cannot attribute
 * answers on a connection closed under it, so run.ts sends these apart with fetch.
 */
export function oversizedBody(random: Random): PlannedRequest {
  const batch: OrderPlaced[] = [];
  let bytes = 0;
  while (bytes <= LOAD_TEST_BODY_LIMIT_BYTES) {
    const order = orderPlaced(random);
    batch.push(order);
    bytes += JSON.stringify(order).length + 1;
  }
  return servicePost('application/json', Buffer.from(JSON.stringify(batch)), batch.length, 413);
}

/** Picks a request maker by weight. */
function weighted(random: Random, makers: [number, (random: Random) => PlannedRequest][]): PlannedRequest {
  const total = makers.reduce((sum, [weight]) => sum + weight, 0);
  let roll = random.next() * total;
  for (const [weight, make] of makers) {
    roll -= weight;
    if (roll < 0) return make(random);
  }
  return makers[makers.length - 1][1](random);
}

const repeat = (count: number, make: (random: Random) => PlannedRequest) => (random: Random) => Array.from({ length: count }, () => make(random));

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'beacon-get',
    description: 'GET pixel, widget/impression as query parameters',
    connections: 50,
    p99Ms: 100,
    plansRefusals: false,
    pool: repeat(1000, beaconGet),
  },
  {
    name: 'beacon-post',
    description: 'POST text/plain JSON, as navigator.sendBeacon sends it',
    connections: 50,
    p99Ms: 50,
    plansRefusals: false,
    pool: repeat(1000, beaconPost),
  },
  {
    name: 'service-event',
    description: 'POST one shop/order-placed event, application/json, answered once durable',
    connections: 20,
    p99Ms: 100,
    plansRefusals: false,
    pool: repeat(500, serviceEvent),
  },
  {
    name: 'service-batch-json',
    description: `POST ${BATCH_SIZE} orders as a JSON array`,
    connections: 8,
    p99Ms: 250,
    plansRefusals: false,
    pool: repeat(50, jsonBatch),
  },
  {
    name: 'service-batch-ndjson',
    description: `POST ${BATCH_SIZE} orders as application/x-ndjson`,
    connections: 8,
    p99Ms: 250,
    plansRefusals: false,
    pool: repeat(50, ndjsonBatch),
  },
  {
    name: 'service-batch-avro',
    description: `POST ${BATCH_SIZE} orders as avro/binary datums`,
    connections: 8,
    p99Ms: 250,
    plansRefusals: false,
    pool: repeat(50, avroBatch),
  },
  {
    name: 'mix',
    description: 'beacons 90% (GET 75, POST 15), service events 8%, batches 2% (JSON, NDJSON, Avro)',
    connections: 50,
    p99Ms: 300,
    plansRefusals: false,
    pool: repeat(1000, (random) =>
      weighted(random, [
        [75, beaconGet],
        [15, beaconPost],
        [8, serviceEvent],
        [1, jsonBatch],
        [0.5, ndjsonBatch],
        [0.5, avroBatch],
      ]),
    ),
  },
  {
    name: 'refusals',
    description: 'service events: 75% valid, 15% invalid (422), 10% one event over the topic\'s 64 KiB (413)',
    connections: 20,
    p99Ms: 250,
    plansRefusals: true,
    pool: repeat(200, (random) =>
      weighted(random, [
        [75, serviceEvent],
        [15, invalidEvent],
        [10, oversizedEvent],
      ]),
    ),
  },
];

export function scenarioNamed(name: string): Scenario {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (!scenario) throw new Error(`unknown scenario "${name}"; scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return scenario;
}
