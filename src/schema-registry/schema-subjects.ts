import type { Type } from 'avsc';
import type { GatewayConfig } from '../config/config';
import { DEFAULT_TOPIC_TEMPLATE, KAFKA } from '../destinations/kafka/config';
import { kafkaTopicOf, valueSubject } from '../destinations/kafka/kafka-message';
import type { TopicRegistry } from '../topics/registry';
import { schemaFingerprint } from '../topics/schema-ids';

/** One version of one subject, as the registry API answers it. */
export interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  /** The vN.avsc as compact JSON text: the `schema` string registry clients parse. */
  schema: string;
  type: Type;
  /** Of the canonical form: a posted schema is the same schema when its fingerprint is this. */
  fingerprint: string;
}

/**
 * The subjects the embedded registry serves, built once from topics/ and the config: for each
 * topic whose versions have ids, `<kafka-topic>-value` (TopicNameStrategy) under every Kafka
 * destination's topic naming — the template, or the topic's `destinationOptions.kafka.topic` —
 * or under the default template when no Kafka destination is configured.
 */
export class SchemaSubjects {
  private readonly bySubject = new Map<string, SubjectVersion[]>();
  private readonly byId = new Map<number, SubjectVersion[]>();

  constructor(entries: readonly SubjectVersion[]) {
    for (const entry of entries) {
      let versions = this.bySubject.get(entry.subject);
      if (!versions) this.bySubject.set(entry.subject, (versions = []));
      versions.push(entry);
      let uses = this.byId.get(entry.id);
      if (!uses) this.byId.set(entry.id, (uses = []));
      uses.push(entry);
    }
    for (const versions of this.bySubject.values()) versions.sort((a, b) => a.version - b.version);
  }

  subjects(): string[] {
    return [...this.bySubject.keys()].sort();
  }

  /** Versions in order, or undefined for an unknown subject. */
  versions(subject: string): readonly SubjectVersion[] | undefined {
    return this.bySubject.get(subject);
  }

  /** Every (subject, version) that has the id; an id is one schema, so they share it. */
  withId(id: number): readonly SubjectVersion[] | undefined {
    return this.byId.get(id);
  }
}

export function schemaSubjects(registry: TopicRegistry, config: Readonly<GatewayConfig>): SchemaSubjects {
  const templates = Object.values(config.destinations)
    .filter((entry) => entry.type === KAFKA)
    .map((entry) => (entry.topic as string | undefined) ?? DEFAULT_TOPIC_TEMPLATE);
  if (templates.length === 0) templates.push(DEFAULT_TOPIC_TEMPLATE);
  const entries: SubjectVersion[] = [];
  for (const topic of registry.list()) {
    const subjects = new Set(templates.map((template) => valueSubject(kafkaTopicOf(topic, template))));
    for (const subject of subjects) {
      for (const version of topic.versions.values()) {
        if (version.schemaId === undefined) continue;
        entries.push({ subject, version: version.version, id: version.schemaId, schema: JSON.stringify(version.schema), type: version.type, fingerprint: schemaFingerprint(version.type) });
      }
    }
  }
  return new SchemaSubjects(entries);
}

/** What the admin port serves: topics/'s subjects, unless ids come from an external registry (then consumers use that one). */
export function embeddedSchemaSubjects(registry: TopicRegistry, config: Readonly<GatewayConfig>): SchemaSubjects | undefined {
  return config.schemaRegistry.url === undefined ? schemaSubjects(registry, config) : undefined;
}
