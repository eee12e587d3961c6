import { spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig, loadConfig } from '../../src/config/config';
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

t.test('errors name the bad key', async (t) => {
  t.throws(() => buildConfig({ server: { port: 'eighty' } }, {}), /server\.port must be integer/);
  t.throws(() => buildConfig({ server: { prot: 1 } }, {}), /server: unknown key "prot"/);
  t.throws(() => buildConfig({ buffr: {} }, {}), /unknown key "buffr"/);
  t.throws(() => buildConfig({}, { GATEWAY_ADMIN_PORT: 'x' }), /server\.adminPort \(from GATEWAY_ADMIN_PORT\) must be integer/);
  t.throws(() => buildConfig({ destinations: { d: { type: 'ftp' } } }, {}), /destinations\.d\.type must be one of file/);
  t.throws(() => buildConfig({ defaultRoute: ['nowhere'] }, {}), /defaultRoute\.0 names destination "nowhere"/);
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
  t.throws(() => new Gateway(buildConfig({ topicsDir, dataDir: topicsDir }, {})), new ConfigError('topic shop/order-placed: route names destination "warehouse", which is not under destinations'));
});
