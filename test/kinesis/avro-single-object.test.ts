import avro from 'avsc';
import t from 'tap';
import { canonicalForm, rabinFingerprint, singleObjectHeader, SINGLE_OBJECT_MARKER } from '../../src/destinations/kinesis/avro-single-object';
import { loadTopicRegistry } from '../../src/topics/registry';
import { TOPICS_DIR } from '../helpers/gateway';

// Known CRC-64-AVRO fingerprints, as signed 64-bit decimals, from the Avro project's
// cross-language vectors (share/test/data/schema-tests.txt in apache/avro; Java's
// SchemaNormalization.parsingFingerprint64 computes them).
const VECTORS: [string, bigint][] = [
  ['"null"', 7195948357588979594n],
  ['"boolean"', -6970731678124411036n],
  ['"int"', 8247732601305521295n],
  ['"long"', -3434872931120570953n],
  ['"double"', -8181574048448539266n],
  ['{"name":"foo","type":"fixed","size":15}', 1756455273707447556n],
  ['{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}', 7843277075252814651n],
  ['{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}', -1759257747318642341n],
];

t.test('the Rabin fingerprint matches the Avro spec vectors', async (t) => {
  for (const [text, expected] of VECTORS) {
    t.equal(BigInt.asIntN(64, rabinFingerprint(Buffer.from(text))), expected, text);
  }
});

t.test('the canonical form strips docs, defaults and logical types and qualifies names', async (t) => {
  const type = avro.Type.forSchema({
    type: 'record',
    name: 'foo',
    namespace: 'a.b',
    doc: 'x',
    fields: [
      { name: 'f1', type: 'boolean', default: true, doc: 'd' },
      { name: 't', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ],
  });
  t.equal(canonicalForm(type), '{"name":"a.b.foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"t","type":"long"}]}');
  const record = avro.Type.forSchema({ type: 'record', name: 'foo', fields: [{ name: 'f1', type: 'boolean' }] });
  t.equal(canonicalForm(record), VECTORS[6][0], 'the spec vector’s record has the spec’s canonical text');
});

t.test('the header is the marker and the little-endian fingerprint of the writer schema, one per version', async (t) => {
  const topic = loadTopicRegistry(TOPICS_DIR).get('widget', 'impression')!;
  const v1 = topic.versions.get(1)!.type;
  const v2 = topic.versions.get(2)!.type;
  const header = singleObjectHeader(v2);
  t.equal(header.length, 10);
  t.same(header.subarray(0, 2), SINGLE_OBJECT_MARKER);
  t.same([header[0], header[1]], [0xc3, 0x01]);
  t.equal(header.readBigUInt64LE(2), rabinFingerprint(Buffer.from(JSON.stringify(v2.schema()))));
  t.not(singleObjectHeader(v1).toString('hex'), header.toString('hex'), 'v1 and v2 have different fingerprints');
  t.equal(singleObjectHeader(v2), header, 'computed once per version');
});
