import { join } from 'node:path';
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import t from 'tap';
import { freePort, startServe, type ServeProcess } from '../helpers/process';
import { readGzipLines, removeDir, tempDir, validOrder, TEST_SERVICE_KEY } from '../helpers/gateway';

// The server SDKs from the npm registry, unchanged, pointed at a gateway process by their host
// option: every track, identify and page call lands in its topic's files with its fields,
// exactly once, including calls made while the gateway restarts (the SDK retries them).

const SEGMENT_ENV = { GATEWAY_SEGMENT_CALLS: 'track,identify,page' };

interface Sdk {
  name: string;
  track(id: string): void;
  identify(id: string): void;
  page(id: string): void;
  /** Resolves once the SDK has called back for every call so far: delivered, or failed for good. */
  settled(): Promise<string[]>;
  close(): Promise<void>;
}

/** Each call's callback, as both SDKs take one: the errors the SDK gave up with. */
function callbacks() {
  const pending: Promise<string | undefined>[] = [];
  return {
    next(id: string): (err?: unknown) => void {
      let done!: (failure: string | undefined) => void;
      pending.push(new Promise((resolve) => (done = resolve)));
      return (err) => done(err ? `${id}: ${(err as Error).message ?? String(err)}` : undefined);
    },
    settled: async () => (await Promise.all(pending)).filter((f): f is string => f !== undefined),
  };
}

function segmentNode(base: string): Sdk {
  // Retries cover a restart of a couple of seconds: 50 attempts, backoff capped near 1 s.
  const client = new Analytics({ writeKey: TEST_SERVICE_KEY, host: base, flushAt: 5, flushInterval: 200, maxRetries: 50 });
  const cb = callbacks();
  return {
    name: '@segment/analytics-node',
    track: (id) => client.track({ messageId: id, userId: 'u-1', event: 'Order Placed', timestamp: new Date('2026-12-01T10:00:00Z'), properties: validOrder({ orderId: id }) }, cb.next(id)),
    identify: (id) => client.identify({ messageId: id, userId: 'u-1', traits: { plan: 'pro', seats: 3 } }, cb.next(id)),
    page: (id) => client.page({ messageId: id, anonymousId: 'a-1', name: 'Home', category: 'Docs', properties: { url: 'https://shop.example/' } }, cb.next(id)),
    settled: cb.settled,
    close: () => client.closeAndFlush({ timeout: 30_000 }),
  };
}

function rudderNode(base: string): Sdk {
  // Rudder gzips its batches by default; retryCount 10 with exponential delay outlasts a restart.
  const client = new RudderAnalytics(TEST_SERVICE_KEY, { dataPlaneUrl: base, flushAt: 5, flushInterval: 200, retryCount: 10 });
  const cb = callbacks();
  return {
    name: '@rudderstack/rudder-sdk-node',
    track: (id) => client.track({ messageId: id, userId: 'u-1', event: 'Order Placed', timestamp: new Date('2026-12-01T10:00:00Z'), properties: validOrder({ orderId: id }) } as any, cb.next(id)),
    identify: (id) => client.identify({ messageId: id, userId: 'u-1', traits: { plan: 'pro', seats: 3 } } as any, cb.next(id)),
    page: (id) => client.page({ messageId: id, anonymousId: 'a-1', name: 'Home', category: 'Docs', properties: { url: 'https://shop.example/' } } as any, cb.next(id)),
    settled: cb.settled,
    close: async () => {
      await client.flush();
    },
  };
}

for (const make of [segmentNode, rudderNode]) {
  t.test(`${make.name}: track, identify and page land once each in their topics, through a restart`, async (t) => {
    const dataDir = tempDir();
    t.teardown(() => removeDir(dataDir));
    const port = await freePort();
    const env = { ...SEGMENT_ENV, GATEWAY_DATA_DIR: dataDir, GATEWAY_PORT: String(port) };
    let gateway: ServeProcess = await startServe(env);
    t.teardown(() => gateway.child.kill('SIGKILL'));
    const sdk = make(`http://127.0.0.1:${port}`);
    const prefix = sdk.name.includes('rudder') ? 'r' : 's';

    for (let i = 0; i < 6; i++) sdk.track(`${prefix}-before-${i}`);
    sdk.identify(`${prefix}-identify-1`);
    sdk.page(`${prefix}-page-1`);
    t.same(await sdk.settled(), [], 'delivered');

    t.equal(await gateway.stop(), 0, 'SIGTERM: flushed and exited');
    // Calls made while the gateway is down: the SDK holds and retries them.
    for (let i = 0; i < 4; i++) sdk.track(`${prefix}-during-${i}`);
    sdk.identify(`${prefix}-identify-2`);
    await new Promise((r) => setTimeout(r, 1500));
    gateway = await startServe(env);
    for (let i = 0; i < 3; i++) sdk.track(`${prefix}-after-${i}`);
    sdk.page(`${prefix}-page-2`);
    await sdk.close();
    t.same(await sdk.settled(), [], 'every call delivered: the SDK retried what the restart refused');
    t.equal(await gateway.stop(), 0);

    const lines = readGzipLines(dataDir);
    const ids = (type: string) => lines.filter((l) => l.type === type).map((l) => l.id).sort();
    const expected = (...names: string[]) => names.map((n) => `${prefix}-${n}`).sort();
    t.same(ids('shop.order-placed'), expected(...[0, 1, 2, 3, 4, 5].map((i) => `before-${i}`), ...[0, 1, 2, 3].map((i) => `during-${i}`), ...[0, 1, 2].map((i) => `after-${i}`)), 'every track once');
    t.same(ids('segment.identify'), expected('identify-1', 'identify-2'), 'every identify once');
    t.same(ids('segment.page'), expected('page-1', 'page-2'), 'every page once');

    const order = lines.find((l) => l.id === `${prefix}-before-0`);
    t.same(order.data, validOrder({ orderId: `${prefix}-before-0` }), 'the properties are the event');
    t.equal(order.time, '2026-12-01T10:00:00.000Z');
    const identify = lines.find((l) => l.id === `${prefix}-identify-1`);
    t.equal(identify.data.userId, 'u-1');
    t.same(JSON.parse(identify.data.traits), { plan: 'pro', seats: 3 });
    t.match(identify.data.context.library, { name: /analytics-node|rudder/ }, 'the SDK names itself in context.library');
    const page = lines.find((l) => l.id === `${prefix}-page-1`);
    t.match(page.data, { anonymousId: 'a-1', name: 'Home', category: 'Docs' });
    t.match(JSON.parse(page.data.properties), { url: 'https://shop.example/' });
    t.same(readGzipLines(join(dataDir, '_dead-letter')), [], 'nothing dead-lettered');
  });
}
