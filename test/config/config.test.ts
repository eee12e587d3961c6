import { spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig, loadConfig } from '../../src/config/config';
import type { FileConfig } from '../../src/destinations/file/config';
import { destinationRegistry } from '../../src/destinations/registry';
import { ConfigError } from '../../src/errors';
import { Gateway } from '../../src/gateway';
import { PROJECT_ROOT, removeDir, tempDir, TOPICS_DIR } from '../helpers/gateway';

t.test('no config at all: the embedded file destination and documented defaults', async (t) => {
  const config = buildConfig(undefined, {});
  t.equal(config.server.port, 8080);
  t.equal(config.server.adminPort, 9464);
  t.equal(config.server.trustProxy, false);
  t.equal(config.dataDir, './data');
  t.same(config.destinations, { file: { type: 'file' } });
  t.same(config.defaultRoute, ['file']);
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.server), 'frozen');
});

t.test('environment overrides the file, coerced to the key type', async (t) => {
  const config = buildConfig({ server: { port: 1000 } }, { GATEWAY_PORT: '8181', GATEWAY_ADMIN_PORT: '9191', GATEWAY_DATA_DIR: '/var/x', GATEWAY_TRUST_PROXY: 'true' });
  t.equal(config.server.port, 8181);
  t.equal(config.server.adminPort, 9191);
  t.equal(config.dataDir, '/var/x');
  t.equal(config.server.trustProxy, true);
});

t.test('the decode budget: derived from the body limits unless set; its env override; its bounds', async (t) => {
  const MiB = 1024 * 1024;
  t.equal(buildConfig(undefined, {}).server.decodeBudgetBytes, 40 * MiB, '2 × (4 MiB + 16 MiB) by default');
  t.equal(buildConfig(undefined, {}).server.decodeWaitMs, 1000);
  t.equal(buildConfig({ server: { bodyLimitBytes: MiB } }, {}).server.decodeBudgetBytes, 10 * MiB, 'follows bodyLimitBytes and the maxDecodedBytes derived from it');
  t.equal(buildConfig({ server: { decodeBudgetBytes: 5 * MiB } }, { GATEWAY_DECODE_BUDGET_BYTES: String(8 * MiB) }).server.decodeBudgetBytes, 8 * MiB, 'GATEWAY_DECODE_BUDGET_BYTES over the file');
  t.throws(() => buildConfig({ server: { decodeBudgetBytes: 10 } }, {}), /server\.decodeBudgetBytes must be >= 1024/);
  t.throws(() => buildConfig({ server: { decodeWaitMs: -1 } }, {}), /server\.decodeWaitMs must be >= 0/);
});

t.test('errors name the bad key', async (t) => {
  t.throws(() => buildConfig({ server: { port: 'eighty' } }, {}), /server\.port must be integer/);
  t.throws(() => buildConfig({ server: { prot: 1 } }, {}), /server: unknown key "prot"/);
  t.throws(() => buildConfig({ buffr: {} }, {}), /unknown key "buffr"/);
  t.throws(() => buildConfig({}, { GATEWAY_ADMIN_PORT: 'x' }), /server\.adminPort \(from GATEWAY_ADMIN_PORT\) must be integer/);
  t.throws(() => buildConfig({ destinations: { d: { type: 'ftp' } } }, {}), new RegExp(`destinations\\.d\\.type must be one of ${destinationRegistry.types.map((type) => type.type).join(', ')}`));
  t.throws(() => buildConfig({ defaultRoute: ['nowhere'] }, {}), /defaultRoute\.0 names destination "nowhere"/);
});

t.test('inspector: defaults, GATEWAY_INSPECTOR_ENABLED, bounds that name the key', async (t) => {
  t.same(buildConfig(undefined, {}).inspector, { enabled: true, maxSubscribers: 4, subscriberQueueBytes: 1048576 });
  t.equal(buildConfig(undefined, { GATEWAY_INSPECTOR_ENABLED: 'false' }).inspector.enabled, false);
  t.throws(() => buildConfig({ inspector: { maxSubscribers: 0 } }, {}), /inspector\.maxSubscribers must be >= 1/);
  t.throws(() => buildConfig({ inspector: { subscriberQueueBytes: 1024 } }, {}), /inspector\.subscriberQueueBytes must be >= 65536/);
  t.throws(() => buildConfig({ inspector: { maxSubscriber: 2 } }, {}), /inspector: unknown key "maxSubscriber"/);
});

t.test('YAML and JSON files; the process exits non-zero naming the key', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  writeFileSync(join(dir, 'gw.yaml'), 'server:\n  port: 8099\nlogLevel: warn\n');
  t.equal(loadConfig(join(dir, 'gw.yaml'), {}).server.port, 8099);
  writeFileSync(join(dir, 'gw.json'), '{"envelope": {"clientIp": "anonymized"}}');
  t.equal(loadConfig(join(dir, 'gw.json'), {}).envelope.clientIp, 'anonymized');
  writeFileSync(join(dir, 'bad.yaml'), 'envelope:\n  clientIp: sometimes\n');
  const run = spawnSync(process.execPath, [join(PROJECT_ROOT, 'dist/src/cli.js'), 'serve', '--config', join(dir, 'bad.yaml')], { encoding: 'utf8', timeout: 20000 });
  t.equal(run.status, 1);
  t.match(run.stderr, /envelope\.clientIp must be equal to one of the allowed values/);
  t.throws(() => loadConfig(join(dir, 'missing.yaml'), {}), /cannot read/);
});

t.test('a topic route naming a destination that is not configured stops the start, naming both', async (t) => {
  const topicsDir = tempDir();
  t.teardown(() => removeDir(topicsDir));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  writeFileSync(join(topicsDir, 'shop/order-placed/topic.yaml'), 'access: service\ndefaultVersion: 1\nroute: [warehouse]\n');
  t.throws(() => new Gateway(buildConfig({ topicsDir, dataDir: topicsDir }, {})), new ConfigError('topic shop/order-placed: route.0 names destination "warehouse", which is not under destinations'));
});

t.test('routes: several routes per topic and defaultRoutes; errors name the key', async (t) => {
  const destinations = { kafka: { type: 'file', dir: '/tmp/k' }, archive: { type: 'file', dir: '/tmp/a' }, file: { type: 'file', dir: '/tmp/f' } };
  const config = buildConfig({ destinations, defaultRoutes: [['kafka', 'archive'], ['file']] }, {});
  t.same(config.defaultRoutes, [['kafka', 'archive'], ['file']]);
  t.same(buildConfig({ destinations, defaultRoute: ['file', 'kafka'] }, {}).defaultRoutes, [['file', 'kafka']], 'defaultRoute is the one-route form');
  t.same(buildConfig({ destinations }, {}).defaultRoutes, [['kafka', 'archive', 'file']], 'neither: one chain in the order written');
  t.throws(() => buildConfig({ destinations, defaultRoute: ['file'], defaultRoutes: [['file']] }, {}), /defaultRoute and defaultRoutes are both given/);
  t.throws(() => buildConfig({ destinations, defaultRoutes: [['kafka'], ['file', 'kafka']] }, {}), /defaultRoutes\.1\.1: destination "kafka" is already on defaultRoutes\.0/);
  t.throws(() => buildConfig({ destinations, defaultRoutes: [['kafka'], []] }, {}), /defaultRoutes\.1 is empty/);
  t.throws(() => buildConfig({ destinations, defaultRoutes: [['kafka'], ['nowhere']] }, {}), /defaultRoutes\.1\.0 names destination "nowhere", which is not under destinations/);
  t.throws(() => buildConfig({ destinations, defaultRoutes: [] }, {}), /defaultRoutes must NOT have fewer than 1 items/);

  const topicsDir = tempDir();
  t.teardown(() => removeDir(topicsDir));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  const topicFile = join(topicsDir, 'shop/order-placed/topic.yaml');
  const gateway = (routes: string) => {
    writeFileSync(topicFile, `access: service\ndefaultVersion: 1\n${routes}\n`);
    return new Gateway(buildConfig({ topicsDir, dataDir: topicsDir, destinations }, {}));
  };
  const routesOf = (g: Gateway) => ((g as any).router.routesFor(g.registry.get('shop', 'order-placed')) as { label: string; index: number }[]).map((r) => [r.index, r.label]);
  t.same(routesOf(gateway('routes: [[kafka, archive], [file]]')), [[0, 'kafka>archive'], [1, 'file']]);
  t.same(routesOf(gateway('route: [archive]')), [[0, 'archive']], 'route is the one-route form');
  t.throws(() => gateway('routes: [[kafka], [nowhere]]'), new ConfigError('topic shop/order-placed: routes.1.0 names destination "nowhere", which is not under destinations'));
  t.throws(() => gateway('routes: [[kafka, archive], [archive]]'), /routes\.1\.0: destination "archive" is already on routes\.0/);
  t.throws(() => gateway('routes: [[kafka], []]'), /routes\.1 is empty: a route names at least one destination/);
  t.throws(() => gateway('routes: []'), /routes is empty/);
  t.throws(() => gateway('route: [kafka]\nroutes: [[file]]'), /route and routes are both given/);
});

t.test('FILE_S3_* turn on shipping for the embedded file destination or the one named file; errors name the variable', async (t) => {
  const embedded = buildConfig({}, { FILE_S3_BUCKET: 'minutes', FILE_S3_PREFIX: 'raw/tracking', FILE_S3_GRACE_SECONDS: '30', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' });
  t.same(embedded.destinations, {
    file: { type: 'file', s3: { bucket: 'minutes', prefix: 'raw/tracking', graceSeconds: 30, forcePathStyle: true, keepMinutes: 0, maxPendingBytes: 10 * 1024 ** 3, requestTimeoutMs: 300_000 } },
  });
  t.same(embedded.defaultRoute, ['file']);

  const fromFile = buildConfig({ destinations: { file: { type: 'file', dir: '/files', s3: { bucket: 'from-file', keepMinutes: 5 } } } }, { FILE_S3_BUCKET: 'from-env' });
  t.match(fromFile.destinations.file, { dir: '/files', s3: { bucket: 'from-env', keepMinutes: 5, graceSeconds: 120 } });
  t.notOk('forcePathStyle' in ((fromFile.destinations.file as FileConfig).s3 ?? {}), 'no endpoint: AWS virtual-hosted URLs');
  const anyEndpoint = buildConfig({}, { FILE_S3_BUCKET: 'minutes', AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' });
  t.match(anyEndpoint.destinations.file, { s3: { forcePathStyle: true } }, 'AWS_ENDPOINT_URL (every service) turns on path-style too');
  const explicit = buildConfig({ destinations: { file: { type: 'file', s3: { bucket: 'minutes', forcePathStyle: false } } } }, { AWS_ENDPOINT_URL_S3: 'https://s3.vpce.example' });
  t.match(explicit.destinations.file, { s3: { forcePathStyle: false } }, 'unless the entry says otherwise');

  t.throws(() => buildConfig({}, { FILE_S3_BUCKET: 'minutes', FILE_S3_GRACE_SECONDS: 'soon' }), /destinations\.file\.s3\.graceSeconds \(from FILE_S3_GRACE_SECONDS\) must be integer/);
  t.throws(() => buildConfig({}, { FILE_S3_BUCKET: 'No_Such' }), /destinations\.file\.s3\.bucket \(from FILE_S3_BUCKET\) must match/);
  t.throws(() => buildConfig({ destinations: { k: { type: 'kafka', brokers: ['k:9092'] } } }, { FILE_S3_BUCKET: 'minutes' }), /FILE_S3_BUCKET apply to a file destination named "file"/);
  // No destinations in the file: after the ones other variables make, before the spool.
  const withKafka = buildConfig({}, { KAFKA_BROKERS: 'k:9092', FILE_S3_BUCKET: 'minutes' });
  t.same(withKafka.defaultRoute, ['kafka', 'file']);
  t.match(withKafka.destinations.file, { s3: { bucket: 'minutes' } });
  t.throws(() => buildConfig({ destinations: { file: { type: 'file', s3: { bucket: 'minutes', graceSeconds: 0 } } } }, {}), /destinations\.file\.s3\.graceSeconds must be >= 1/);
  t.throws(() => buildConfig({ destinations: { file: { type: 'file', s3: { bucket: 'minutes', acl: 'public-read' } } } }, {}), /destinations\.file\.s3: unknown key "acl"/);
  t.same(buildConfig({}, {}).destinations, { file: { type: 'file' } }, 'without FILE_S3_BUCKET nothing ships');
});

t.test('segment: defaults, GATEWAY_SEGMENT_* overrides, errors naming the key', async (t) => {
  t.same(buildConfig(undefined, {}).segment, { enabled: true, calls: ['track'], maxCallBytes: 32768, maxBatchBytes: 512000, deadLetterRefused: false });
  const fromEnv = buildConfig({}, { GATEWAY_SEGMENT_CALLS: 'track, identify,page', GATEWAY_SEGMENT_ENABLED: 'false', GATEWAY_SEGMENT_DEAD_LETTER_REFUSED: 'true' }).segment;
  t.same(fromEnv.calls, ['track', 'identify', 'page']);
  t.equal(fromEnv.enabled, false);
  t.equal(fromEnv.deadLetterRefused, true);
  t.throws(() => buildConfig({}, { GATEWAY_SEGMENT_CALLS: 'track,teleport' }), /segment\.calls\/1 must be equal to one of the allowed values|segment\.calls\.1 must be equal to one of the allowed values/);
  t.throws(() => buildConfig({ segment: { maxCallBytes: 10 } }, {}), /segment\.maxCallBytes must be >= 1024/);
  t.throws(() => buildConfig({ segment: { track: 'x' } }, {}), /segment: unknown key "track"/);
});
