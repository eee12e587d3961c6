// requestTimeoutMs of the AWS destinations, attacked: an endpoint that takes the connection and
// the request and never answers. Each send must end within the bound as `unavailable` (the
// route moves the events on), not hang for as long as the peer holds the socket.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { FirehoseDestination } from '../../src/destinations/firehose/firehose-destination';
import { firehoseMetrics } from '../../src/destinations/firehose/firehose-metrics';
import { KinesisDestination } from '../../src/destinations/kinesis/kinesis-destination';
import { KinesisMetrics } from '../../src/destinations/kinesis/kinesis-metrics';
import { DestinationError, type Destination } from '../../src/destinations/destination';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicRegistry } from '../../src/topics/registry';
import { TOPICS_DIR, validOrder } from '../helpers/gateway';

const TIMEOUT_MS = 500;
// The destinations take credentials from the SDK's default chain; without any, a send fails at
// once, before it reaches the endpoint, and would prove nothing here.
process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
const quiet = { info() {}, warn() {}, error() {} };
const order = loadTopicRegistry(TOPICS_DIR).get('shop', 'order-placed')!.versions.get(1)!;
const events: GatewayEvent[] = [0, 1].map((i) => ({ id: `t-${i}`, schema: order, source: '/v1/events/shop/order-placed', receivedAt: Date.now(), data: validOrder({ orderId: `t-${i}` }), size: 300, key: `t-${i}` }));

/** An endpoint that reads every request and answers none; `received` counts them. */
async function silentEndpoint(t: Test): Promise<{ url: string; received: () => number }> {
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => held.length };
}

async function sendTimed(destination: Destination): Promise<{ ms: number; kinds: string[] }> {
  const started = performance.now();
  let kinds: string[];
  try {
    kinds = (await destination.send(events)).map((f) => f.kind);
  } catch (err) {
    kinds = [err instanceof DestinationError ? err.kind : String(err)];
  }
  return { ms: performance.now() - started, kinds };
}

t.test('Firehose: a PutRecordBatch nobody answers ends within requestTimeoutMs, unavailable', async (t) => {
  const silent = await silentEndpoint(t);
  const endpoint = silent.url;
  const entry = { type: 'firehose', stream: 'silent', endpoint, region: 'us-east-1', packRecordBytes: 65536, quota: {}, learnRate: true, requestTimeoutMs: TIMEOUT_MS };
  const destination = new FirehoseDestination('f', entry, firehoseMetrics(new Registry()), new GatewayMetrics());
  t.teardown(() => destination.close());
  const { ms, kinds } = await sendTimed(destination);
  t.same([...new Set(kinds)], ['unavailable']);
  t.ok(silent.received() >= 1, 'the call reached the endpoint');
  t.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 2_000, `ended at the bound: after ${Math.round(ms)} ms`);
});

t.test('Kinesis: a PutRecords nobody answers ends within requestTimeoutMs, unavailable', async (t) => {
  const silent = await silentEndpoint(t);
  const endpoint = silent.url;
  const destination = new KinesisDestination('k', { stream: 'silent', endpoint, region: 'us-east-1', format: 'cloudevents-json', quota: {}, learnRate: true, requestTimeoutMs: TIMEOUT_MS }, { metrics: new KinesisMetrics(new Registry()), gatewayMetrics: new GatewayMetrics(), log: quiet });
  t.teardown(() => destination.close());
  const { ms, kinds } = await sendTimed(destination);
  t.same([...new Set(kinds)], ['unavailable']);
  t.ok(silent.received() >= 1, 'the call reached the endpoint');
  t.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 2_000, `ended at the bound: after ${Math.round(ms)} ms`);
});
