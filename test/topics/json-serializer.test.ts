import { join } from 'node:path';
import type { Type } from 'avsc';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { toCloudEventJson, type GatewayEvent } from '../../src/envelope/envelope';
import { compileNormalizer, NormalizeContext } from '../../src/topics/avro-normalizer';
import { bytesAsBase64, compileJsonSerializer, jsonSerializerFor } from '../../src/topics/json-serializer';
import { EVENT_RESERVED_KEYS, loadTopicsTree, type TopicVersion } from '../../src/topics/registry';
import { arbitraryFor, EVERY_TYPE, WRAPPED } from '../helpers/avro-values';

// The compiled serializer must write exactly what the path it replaced wrote:
// JSON.stringify(normalised value, bytesAsBase64 when the schema holds bytes). Checked on every
// version of the real topics tree and on a schema holding every Avro type, with events drawn
// by fast-check from the schema (strings over all of Unicode, quotes, controls, extreme numbers).

const REPO = join(__dirname, '..', '..', '..');

/** Asserts the compiled text equals the old path's for `runs` random events of `version`. */
function sameAsStringify(t: Test, version: Pick<TopicVersion, 'type' | 'normalize' | 'toJson' | 'jsonReplacer'>, runs: number): void {
  let checked = 0;
  fc.assert(
    fc.property(arbitraryFor(version.type), (input) => {
      const ctx = new NormalizeContext();
      const data = version.normalize(input, ctx);
      if (ctx.problems.length > 0) throw new Error(`generated an invalid event: ${JSON.stringify(ctx.problems)}`);
      const old = JSON.stringify(data, version.jsonReplacer);
      // The version's own writer, and the compiled one (which it uses once the schema holds bytes).
      for (const written of [version.toJson(data), compileJsonSerializer(version.type)(data)]) {
        if (written !== old) throw new Error(`differs:\n written ${written}\n old     ${old}`);
      }
      checked++;
    }),
    { numRuns: runs },
  );
  t.equal(checked, runs, `${runs} random events written byte for byte as JSON.stringify wrote them`);
}

t.test('every version of the real topics tree', async (t) => {
  const { topics, problems } = loadTopicsTree(join(REPO, 'topics'));
  t.same(problems, []);
  const versions = topics.flatMap((topic) => [...topic.versions.values()]);
  t.ok(versions.length >= 8, `${versions.length} versions`);
  for (const version of versions) {
    t.test(`${version.service}/${version.topic} v${version.version}`, async (t) => sameAsStringify(t, version, 300));
  }
});

function versionOf(type: Type) {
  return { type, normalize: compileNormalizer(type, EVENT_RESERVED_KEYS), toJson: jsonSerializerFor(type, true), jsonReplacer: bytesAsBase64 };
}

t.test('a schema of every Avro type, bytes as base64', async (t) => sameAsStringify(t, versionOf(EVERY_TYPE), 1000));
t.test('wrapped unions', async (t) => sameAsStringify(t, versionOf(WRAPPED), 500));

t.test('values decoded from Avro binary (input already in the schema shape) are written as JSON.stringify wrote them', async (t) => {
  const toJson = compileJsonSerializer(EVERY_TYPE);
  for (let i = 0; i < 300; i++) {
    const decoded = EVERY_TYPE.fromBuffer(EVERY_TYPE.toBuffer(EVERY_TYPE.random()));
    t.equal(toJson(decoded), JSON.stringify(decoded, bytesAsBase64));
  }
});

t.test('a value that failed normalisation (a replayed entry) still makes valid JSON', async (t) => {
  const version = versionOf(EVERY_TYPE);
  const data = version.normalize({ i: 'not an int', arr: [{ x: 5 }], m: { a: 'x' }, s: 's' }, new NormalizeContext());
  const text = version.toJson(data);
  t.equal(text, JSON.stringify(data, bytesAsBase64));
  t.doesNotThrow(() => JSON.parse(text));
});

t.test('the CloudEvents line carries the compiled data byte for byte', async (t) => {
  const { topics } = loadTopicsTree(join(REPO, 'topics'));
  const version = topics.find((topic) => topic.service === 'shop')!.versions.values().next().value!;
  fc.assert(
    fc.property(arbitraryFor(version.type), fc.string({ unit: 'binary' }), (input, userAgent) => {
      const data = version.normalize(input, new NormalizeContext()) as Record<string, unknown>;
      const event: GatewayEvent = { id: 'x"y', schema: version, source: '/v1/shop', receivedAt: 1_700_000_000_000, data, size: 1, clientIp: '10.0.0.0', userAgent };
      const line = toCloudEventJson(event);
      const parsed = JSON.parse(line);
      t.same(parsed.data, JSON.parse(JSON.stringify(data)));
      return line.endsWith(`"data":${JSON.stringify(data, version.jsonReplacer)}}`);
    }),
    { numRuns: 200 },
  );
});
