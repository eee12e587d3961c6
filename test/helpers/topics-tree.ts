import { appendFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import avro from 'avsc';
import { highestSchemaId, schemaFingerprint } from '../../src/topics/schema-ids';
import { loadTopicsTree } from '../../src/topics/registry';

/**
 * Adds version `version` of a topic in a copy of the topics tree, as a schema author would:
 * its `vN.avsc` and, as `topics check` asks, its line in `schema-ids.yaml` with the next free id.
 */
export function addTopicVersion(topicDir: string, version: number, schema: unknown): void {
  const root = dirname(dirname(topicDir));
  const tree = loadTopicsTree(root);
  const id = highestSchemaId(tree.topics, tree.retiredSchemaIds) + 1;
  writeFileSync(join(topicDir, `v${version}.avsc`), JSON.stringify(schema, null, 2));
  const fingerprint = schemaFingerprint(avro.Type.forSchema(schema as avro.Schema));
  appendFileSync(join(topicDir, 'schema-ids.yaml'), `v${version}: { id: ${id}, fingerprint: "${fingerprint}" }\n`);
}
