import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { loadTopicRegistry, loadTopicsTree } from '../../src/topics/registry';
import { PROJECT_ROOT, TOPICS_DIR } from '../helpers/gateway';

const BROKEN = join(PROJECT_ROOT, 'test', 'fixtures', 'topics-broken');
const SEGMENT_BROKEN = join(PROJECT_ROOT, 'test', 'fixtures', 'topics-segment-broken');
const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');

t.test('the example topics pass the check', async (t) => {
  const { topics, problems } = loadTopicsTree(TOPICS_DIR);
  t.same(problems, []);
  t.same(topics.map((x) => `${x.service}/${x.name}`).sort(), [
    'segment/alias',
    'segment/group',
    'segment/identify',
    'segment/page',
    'segment/screen',
    'shop/order-placed',
    'widget/impression',
  ]);
  const impression = topics.find((x) => x.name === 'impression')!;
  t.equal(impression.config.access, 'public');
  t.equal(impression.latestVersion, 2);
  t.equal(impression.config.defaultVersion, 2);
  const order = topics.find((x) => x.name === 'order-placed')!;
  t.equal(order.config.access, 'service');
  t.equal(order.config.maxEventBytes, 65536);
  t.same(order.config.segment, { track: 'Order Placed' });
  t.same(impression.config.segment, { track: 'Widget Impression' });
});

t.test('segment mappings: a bad key is named, and a name or call type two topics claim is refused', async (t) => {
  const { problems } = loadTopicsTree(SEGMENT_BROKEN);
  const text = problems.join('\n');
  t.match(text, /typo\/topic\.yaml: segment: unknown key "identfy"/);
  t.match(text, /typo\/topic\.yaml: segment\.track must be string/);
  t.match(text, /shop\/orders: segment track "Order Placed" is taken by shop\/checkout already/);
  t.match(text, /shop\/orders: segment identify is taken by shop\/checkout already/);
  t.notMatch(text, /Checkout Started/, 'a name only one topic claims is fine');
  const cli = spawnSync(process.execPath, [CLI, 'topics', 'check', '--dir', SEGMENT_BROKEN], { encoding: 'utf8' });
  t.equal(cli.status, 1);
  t.match(cli.stderr, /segment track "Order Placed" is taken by shop\/checkout/);
});

t.test('every broken fixture is named with its problem', async (t) => {
  const { topics, problems } = loadTopicsTree(BROKEN);
  const text = problems.join('\n');
  t.same(topics, [], 'no broken topic loads');
  t.match(text, /incompatible\/v2\.avsc: cannot read data written with v1/);
  t.match(text, /gap\/v2\.avsc: missing; versions must be contiguous/);
  t.match(text, /bad-config\/topic\.yaml: access must be equal to one of the allowed values/);
  t.match(text, /bad-config\/topic\.yaml: unknown key "colour"/);
  t.match(text, /bad-config\/topic\.yaml: maxEventBytes must be >= 64/);
  t.match(text, /bad-json\/v1\.avsc: not valid JSON/);
  t.match(text, /not-avro\/v1\.avsc: not a valid Avro schema/);
  t.match(text, /public-no-origins\/topic\.yaml: allowedOrigins must list at least one origin/);
  t.match(text, /bad-key: defaultVersion 2 has no v2\.avsc/);
  t.match(text, /bad-key: partitionKey "missing" is not a field of v1/);
  t.match(text, /no-config: missing topic config/);
  t.match(text, /Bad_Service: service name must match/);
});

t.test('the gateway refuses to start on a broken tree', async (t) => {
  t.throws(() => loadTopicRegistry(BROKEN), /topics in .* are invalid/);
});

t.test('`topics check` CLI: exit 0 on the examples, non-zero naming file and problem on broken ones', async (t) => {
  const ok = spawnSync(process.execPath, [CLI, 'topics', 'check', '--dir', TOPICS_DIR], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /7 topics OK/);
  const bad = spawnSync(process.execPath, [CLI, 'topics', 'check', '--dir', BROKEN], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /incompatible\/v2\.avsc: cannot read data written with v1/);
  t.match(bad.stderr, /topics check: \d+ problems/);
});
