import { createHash } from 'node:crypto';
import t from 'tap';
import { KeyRing, keysFromConfig, parseKeyLines } from '../../src/auth/service-keys';
import { buildConfig } from '../../src/config/config';
import { ConfigError, GatewayError } from '../../src/errors';

const silent = { info() {}, error() {} };
const basic = (user: string, password = '') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function refusal(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error('accepted');
}

t.test('GATEWAY_KEYS syntax: key=scope pairs separated by ;, scopes by commas', async (t) => {
  const keys = parseKeyLines('dev-key=shop; ops-key=*\n# a comment\npartner=shop/order-placed,widget', 'GATEWAY_KEYS');
  t.equal(keys.length, 3);
  t.same([...keys[2].scopes], ['shop/order-placed', 'widget']);
  t.match(keys[0].name, /^sha256:[0-9a-f]{8}$/, 'named by a fingerprint of its digest');
  t.notOk(keys.some((k) => k.name.includes('dev-key')), 'never by the key');
  const hashed = parseKeyLines(`sha256:${createHash('sha256').update('dev-key').digest('hex')}=shop`, 'file');
  t.same(hashed[0].digest, keys[0].digest, 'a key may be given as its sha256');
});

t.test('bad entries are refused at start, naming the entry and never quoting the key', async (t) => {
  for (const text of ['secret-key', 'secret-key=', 'secret-key=Shop!', 'sec ret=shop']) {
    const err = refusal(() => parseKeyLines(text, 'GATEWAY_KEYS'));
    t.type(err, ConfigError, text);
    t.notMatch(err.message, /secret/, 'the key is not in the message');
    t.match(err.message, /GATEWAY_KEYS, entry 1/);
  }
  t.throws(() => buildConfig({}, { GATEWAY_KEYS: 'k=shop/' }), /GATEWAY_KEYS, entry 1: scope/);
});

t.test('the built config holds digests, not keys', async (t) => {
  const config = buildConfig({ auth: { keys: [{ key: 'from-file-key', scopes: ['shop'], class: 'partner' }] } }, { GATEWAY_KEYS: 'from-env-key=*' });
  const text = JSON.stringify(config);
  t.notMatch(text, /from-file-key|from-env-key/);
  t.equal(config.auth.keys.length, 2);
  t.equal(config.auth.keys[0].class, 'partner');
});

t.test('Bearer and Basic (key as the user name), scopes, constant-time over every key', async (t) => {
  const ring = new KeyRing(keysFromConfig(buildConfig({}, { GATEWAY_KEYS: 'shop-key=shop;order-key=shop/order-placed;all-key=*' }).auth.keys), undefined, silent);
  t.equal(ring.authenticate('Bearer shop-key').scopes.has('shop'), true);
  t.equal(ring.authenticate('bearer   all-key').scopes.has('*'), true, 'scheme case and spaces');
  t.equal(ring.authenticate(basic('order-key')).scopes.has('shop/order-placed'), true, 'Basic, empty password (Segment SDKs)');
  t.equal(ring.authenticate(basic('order-key', 'ignored')).scopes.has('shop/order-placed'), true);
  for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Token shop-key', basic(''), 'Bearer wrong-key', `Bearer ${'x'.repeat(300)}`]) {
    const err = refusal(() => ring.authenticate(header));
    t.equal(err.code, 'UNAUTHORIZED', String(header).slice(0, 40));
    t.equal(err.status, 401);
  }
  const shop = ring.authenticate('Bearer shop-key');
  t.doesNotThrow(() => ring.authorize(shop, 'shop', 'order-placed'));
  const order = ring.authenticate('Bearer order-key');
  t.doesNotThrow(() => ring.authorize(order, 'shop', 'order-placed'));
  const err = refusal(() => ring.authorize(order, 'shop', 'refund'));
  t.equal(err.code, 'FORBIDDEN_SCOPE');
  t.equal(err.status, 403);
  t.notMatch(err.message, /order-key/);
  t.equal(refusal(() => ring.authorize(shop, 'widget', 'impression')).code, 'FORBIDDEN_SCOPE');
});
