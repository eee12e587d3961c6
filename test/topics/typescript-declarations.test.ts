import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { loadTopicRegistry } from '../../src/topics/registry';
import { typescriptDeclarations } from '../../src/topics/typescript-declarations';
import { PROJECT_ROOT, removeDir, tempDir, TOPICS_DIR } from '../helpers/gateway';

// The declarations `npm run topics:types` writes, compiled by TypeScript against the browser
// tracker's own source: a call that matches the schema compiles, and each kind of mistake a
// front-end developer makes fails the compile, where it would otherwise fail in production.

const TRACKER_SOURCE = join(PROJECT_ROOT, 'clients', 'browser', 'src', 'index');

const IMPRESSION = "widgetId: 'w-1', pageUrl: 'https://publisher.example/a', placement: 'TOP', position: 0";

const CASES: { name: string; call: string; error?: RegExp }[] = [
  { name: 'the default version (v2), its optional fields left out', call: `tracker.track('widget', 'impression', { ${IMPRESSION} })` },
  { name: 'v2 fields, $id and $time given', call: `tracker.track('widget', 'impression', { ${IMPRESSION}, visibleMs: 1200, aboveFold: null, $id: 'i-1', $time: Date.now() })` },
  { name: 'an explicit version', call: `tracker.track('widget', 'impression', { ${IMPRESSION}, referrer: null }, 1)` },
  { name: 'untyped: any service, topic and fields', call: `create({ endpoint: '/v1/in' }).track('any', 'thing', { field: 1 })` },
  { name: 'a misspelt field', call: `tracker.track('widget', 'impression', { ${IMPRESSION}, widgetID: 'w' })`, error: /'widgetID' does not exist/ },
  { name: 'an enum value that is not a symbol', call: `tracker.track('widget', 'impression', { ${IMPRESSION.replace("'TOP'", "'MIDDLE'")} })`, error: /'"MIDDLE"' is not assignable/ },
  { name: 'a string for an int', call: `tracker.track('widget', 'impression', { ${IMPRESSION.replace('position: 0', "position: '0'")} })`, error: /'string' is not assignable to type 'number'/ },
  { name: 'a required field left out', call: `tracker.track('widget', 'impression', { widgetId: 'w', placement: 'TOP', position: 0 })`, error: /'pageUrl' is missing/ },
  { name: 'a v2 field sent as v1', call: `tracker.track('widget', 'impression', { ${IMPRESSION}, visibleMs: 5 }, 1)`, error: /'visibleMs' does not exist/ },
  { name: 'a version the topic does not have', call: `tracker.track('widget', 'impression', { ${IMPRESSION} }, 3)`, error: /'3' is not assignable/ },
  { name: 'a service-only topic', call: `tracker.track('shop', 'order-placed', {})`, error: /'"shop"' is not assignable/ },
  { name: 'an unknown topic', call: `tracker.track('widget', 'click', {})`, error: /'"click"' is not assignable/ },
  { name: 'a misspelt reserved key', call: `tracker.track('widget', 'impression', { ${IMPRESSION}, $idd: 'x' })`, error: /'\$idd' does not exist/ },
];

t.test('one interface per service/topic/version, in the JSON shape the gateway validates', async (t) => {
  const text = typescriptDeclarations(loadTopicRegistry(TOPICS_DIR).list());
  t.match(text, /export interface WidgetImpressionV1 \{/);
  t.match(text, /export interface WidgetImpressionV2 \{/);
  t.match(text, /export interface ShopOrderPlacedV1 \{/);
  t.match(text, /  placement: 'TOP' \| 'SIDEBAR' \| 'INLINE' \| 'FOOTER';/, 'enums as unions of their symbols');
  t.match(text, /  referrer\?: null \| string;/, 'a nullable field with a default may be left out');
  t.match(text, /  visibleMs\?: number;/, 'so may any field with a default');
  t.match(text, /  totalCents: number;/, 'longs are numbers');
  t.match(text, /  items: Array<ShopOrderPlacedV1LineItem>;/, 'nested records are interfaces of their own');
  t.match(text, /export interface ShopOrderPlacedV1LineItem \{\n  sku: string;/);
  t.match(text, /  \/\*\* Widget instance id\. \*\/\n  widgetId: string;/, 'schema docs become doc comments');
  const beaconTopics = /export type BeaconTopics = \{\n[\s\S]*?\n\};/.exec(text)?.[0] ?? '';
  t.match(beaconTopics, /\n  widget: \{\n    impression: \{ default: WidgetImpressionV2; 1: WidgetImpressionV1; 2: WidgetImpressionV2 \};\n  \};\n/, 'the tracker map holds the public topics');
  t.match(beaconTopics, /\n  segment: \{\n    alias: \{ default: SegmentAliasV1; 1: SegmentAliasV1 \};\n/, 'the shipped segment/* topics are public too');
  t.notMatch(beaconTopics, /shop/, 'and only those');
});

t.test('tsc passes calls that match the schemas and fails each mistake', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  writeFileSync(join(dir, 'topics.d.ts'), typescriptDeclarations(loadTopicRegistry(TOPICS_DIR).list()));
  const files = CASES.map((c, i) => {
    const file = join(dir, `case-${i}.ts`);
    const code = [
      `import { create } from ${JSON.stringify(TRACKER_SOURCE)};`,
      "import type { BeaconTopics } from './topics';",
      "const tracker = create<BeaconTopics>({ endpoint: 'https://www.publisher.example/v1/in' });",
      `${c.call};`,
      '',
    ].join('\n');
    writeFileSync(file, code);
    return file;
  });
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2020.d.ts', 'lib.dom.d.ts'],
    types: [],
  });
  CASES.forEach((c, i) => {
    const diagnostics = ts.getPreEmitDiagnostics(program, program.getSourceFile(files[i]));
    const messages = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    if (c.error) t.ok(messages.some((m) => c.error!.test(m)), `${c.name}: fails (${messages[0] ?? 'no error'})`);
    else t.same(messages, [], `${c.name}: compiles`);
  });
});

t.test('tracking-gateway topics types: stdout, or the file --out names; a broken tree is refused', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const cli = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
  const expected = typescriptDeclarations(loadTopicRegistry(TOPICS_DIR).list());
  const stdout = spawnSync(process.execPath, [cli, 'topics', 'types', '--dir', TOPICS_DIR], { encoding: 'utf8' });
  t.equal(stdout.status, 0);
  t.equal(stdout.stdout, expected);
  const out = join(dir, 'topics.d.ts');
  const written = spawnSync(process.execPath, [cli, 'topics', 'types', '--dir', TOPICS_DIR, '--out', out], { encoding: 'utf8' });
  t.equal(written.status, 0);
  t.equal(readFileSync(out, 'utf8'), expected);
  const broken = spawnSync(process.execPath, [cli, 'topics', 'types', '--dir', join(PROJECT_ROOT, 'test', 'fixtures', 'topics-broken')], { encoding: 'utf8' });
  t.equal(broken.status, 1);
  t.match(broken.stderr, /topics types: \d+ problems in .*; run topics check/);
});
