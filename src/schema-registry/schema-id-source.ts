import type { GatewayConfig } from '../config/config';
import { ConfigError } from '../errors';
import type { Topic } from '../topics/registry';
import { SCHEMA_IDS_FILE } from '../topics/schema-ids';
import { ExternalSchemaRegistry } from './external-registry';

/**
 * Where a destination writing Confluent's wire format gets the registry id of each version of
 * a topic, once, at start: from topics/ (the embedded registry), or from an external Schema
 * Registry (external-registry.ts). Never asked at request time.
 */
export interface SchemaIdSource {
  /** version → id of every version of `topic` under `subject`; rejects with a ConfigError naming the subject or file. */
  idsFor(subject: string, topic: Topic): Promise<Map<number, number>>;
}

/** The ids written in topics/ beside each vN.avsc: the same on every process that reads the same tree. */
export const topicsSchemaIds: SchemaIdSource = {
  async idsFor(subject, topic) {
    const ids = new Map<number, number>();
    for (const [version, { schemaId }] of topic.versions) {
      if (schemaId === undefined) {
        throw new ConfigError(
          `subject ${subject}: ${topic.service}/${topic.name} v${version} has no schema id, and the Kafka value format confluent-avro needs one: add it to ${topic.service}/${topic.name}/${SCHEMA_IDS_FILE} (topics check shows the line)`,
        );
      }
      ids.set(version, schemaId);
    }
    return ids;
  },
};

/** The config's choice: an external registry when `schemaRegistry.url` is set, else topics/. */
export function schemaIdSourceFor(config: Readonly<GatewayConfig>): SchemaIdSource {
  const { url } = config.schemaRegistry;
  return url === undefined ? topicsSchemaIds : new ExternalSchemaRegistry({ ...config.schemaRegistry, url });
}
