// Schema ids are kept in topics/ (schema-ids.yaml beside the vN.avsc) and checked like the
// schemas: unique across the tree, and an id's schema never changes.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadTopicsTree } from '../../src/topics/registry';
import { PROJECT_ROOT, removeDir, tempDir, TOPICS_DIR } from '../helpers/gateway';

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');

function copyOfTopics(t: Test): string {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  cpSync(TOPICS_DIR, dir, { recursive: true });
  return dir;
}

t.test('the example topics carry their ids: widget/impression v1 = 1, v2 = 2, shop/order-placed v1 = 3, the segment/* topics 4 to 8', async (t) => {
  const { topics, problems } = loadTopicsTree(TOPICS_DIR);
  t.same(problems, []);
  const ids = Object.fromEntries(topics.flatMap((topic) => [...topic.versions.values()].map((v) => [`${topic.service}/${topic.name} v${v.version}`, v.schemaId])));
  t.same(ids, { 'segment/alias v1': 4, 'segment/group v1': 5, 'segment/identify v1': 6, 'segment/page v1': 7, 'segment/screen v1': 8, 'shop/order-placed v1': 3, 'widget/impression v1': 1, 'widget/impression v2': 2 });
});

t.test('an edited vN.avsc keeping its id is refused; a doc-only edit (same canonical form) is not', async (t) => {
  const dir = copyOfTopics(t);
  const file = join(dir, 'widget/impression/v1.avsc');
  const schema = JSON.parse(readFileSync(file, 'utf8'));
  schema.doc = 'reworded';
  writeFileSync(file, JSON.stringify(schema));
  t.same(loadTopicsTree(dir).problems, [], 'docs do not change what a datum means');
  schema.fields.push({ name: 'extra', type: 'int', default: 0 });
  writeFileSync(file, JSON.stringify(schema));
  const { problems } = loadTopicsTree(dir);
  t.match(problems.join('\n'), /widget\/impression\/schema-ids\.yaml: v1\.avsc no longer has the schema of id 1 .*an id's schema never changes/);
});

t.test('an id used twice in the tree is refused, naming both', async (t) => {
  const dir = copyOfTopics(t);
  const file = join(dir, 'shop/order-placed/schema-ids.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('id: 3,', 'id: 2,'));
  t.match(loadTopicsTree(dir).problems, [/widget\/impression\/schema-ids\.yaml: schema id 2 of v2 is already shop\/order-placed v1; ids are unique across topics\/ and never reused/]);
});

t.test('a new version without an id is refused with the line to add; a topic without the file has no ids', async (t) => {
  const dir = copyOfTopics(t);
  const v2 = JSON.parse(readFileSync(join(dir, 'shop/order-placed/v1.avsc'), 'utf8'));
  v2.fields.push({ name: 'coupon', type: ['null', 'string'], default: null });
  writeFileSync(join(dir, 'shop/order-placed/v2.avsc'), JSON.stringify(v2));
  const { problems } = loadTopicsTree(dir);
  t.match(problems, [/shop\/order-placed\/schema-ids\.yaml: v2 has no schema id; add {2}v2: \{ id: <the next free id in topics\/>, fingerprint: "sha256:[0-9a-f]{64}" \}/]);
  const check = spawnSync(process.execPath, [CLI, 'topics', 'check', '--dir', dir], { encoding: 'utf8' });
  t.equal(check.status, 1, 'topics check fails on it');

  rmSync(join(dir, 'shop/order-placed/schema-ids.yaml'));
  const loaded = loadTopicsTree(dir);
  t.same(loaded.problems, []);
  t.same([...loaded.topics.find((x) => x.service === 'shop')!.versions.values()].map((v) => v.schemaId), [undefined, undefined]);
});

t.test('malformed entries name the key', async (t) => {
  const dir = copyOfTopics(t);
  const file = join(dir, 'widget/impression/schema-ids.yaml');
  const fingerprint = /v2: \{ id: 2, fingerprint: "([^"]+)"/.exec(readFileSync(file, 'utf8'))![1];
  writeFileSync(file, `v1: { id: 0, fingerprint: "sha256:00" }\nv2: { id: 2, fingerprint: "${fingerprint}" }\nv3: { id: 9, fingerprint: "${fingerprint}" }\nversion1: 1\n`);
  const text = loadTopicsTree(dir).problems.join('\n');
  t.match(text, /schema-ids\.yaml: v1 must be \{ id: <1\.\.2147483647>, fingerprint: "sha256:<64 hex>" \}/);
  t.match(text, /schema-ids\.yaml: v3 has no v3\.avsc/);
  t.match(text, /schema-ids\.yaml: key "version1" is not a version/);
  writeFileSync(file, `v1: { id: 1, fingerprint: "sha256:${'0'.repeat(64)}" }\nv1: { id: 2 }\n`);
  t.match(loadTopicsTree(dir).problems.join('\n'), /schema-ids\.yaml: cannot parse/, 'a version listed twice');
});

t.test('retired ids (a removed topic\'s) are never given again, and the next free id counts them', async (t) => {
  const dir = copyOfTopics(t);
  writeFileSync(join(dir, 'retired-schema-ids.yaml'), '10: old/topic v1\n11: old/topic v2\n');
  t.same(loadTopicsTree(dir).problems, []);
  t.same([...loadTopicsTree(dir).retiredSchemaIds.keys()], [10, 11]);
  const check = spawnSync(process.execPath, [CLI, 'topics', 'check', '--dir', dir], { encoding: 'utf8' });
  t.match(check.stdout, /the next free schema id is 12/);
  const file = join(dir, 'shop/order-placed/schema-ids.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('id: 3,', 'id: 11,'));
  t.match(loadTopicsTree(dir).problems, [/shop\/order-placed\/schema-ids\.yaml: schema id 11 of v1 is already retired \(retired-schema-ids\.yaml: old\/topic v2\)/]);
  writeFileSync(join(dir, 'retired-schema-ids.yaml'), 'seven: old/topic v1\n');
  t.match(loadTopicsTree(dir).problems.join('\n'), /retired-schema-ids\.yaml: "seven" is not a schema id/);
});

t.test('`topics check` prints each topic\'s ids and the next free one', async (t) => {
  const ok = spawnSync(process.execPath, [CLI, 'topics', 'check', '--dir', TOPICS_DIR], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /widget\/impression: .*schema ids 1, 2/);
  t.match(ok.stdout, /the next free schema id is 9/);
});
