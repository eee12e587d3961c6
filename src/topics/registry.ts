import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TObject } from '@sinclair/typebox';
import avro, { type Type } from 'avsc';
import YAML from 'yaml';
import { ConfigError } from '../errors';
import { segmentMappingProblems } from '../segment/segment-topics';
import type { Normalizer } from './avro-normalizer';
import { compileRecordNormalizer } from './compiled-normalizer';
import { bytesAsBase64, jsonSerializerFor, type JsonSerializer } from './json-serializer';
import { compileFieldCoercers, type Coercer } from './query-coercion';
import { cannotRead } from './schema-compatibility';
import { duplicateSchemaIds, readRetiredSchemaIds, readSchemaIds } from './schema-ids';
import { checkTopicConfig, TOPIC_CONFIG_FILES, type TopicConfig } from './topic-config';

// The topics tree as code: topics/<service>/<topic>/{v1.avsc, v2.avsc, …, topic.yaml}.
// Loading it checks everything `topics check` promises, so a gateway never starts on a
// tree that check would refuse.

/** Envelope attributes an event may carry beside its fields (Avro names cannot start with `$`). */
export const EVENT_RESERVED_KEYS: ReadonlySet<string> = new Set(['$id', '$time']);

export interface TopicVersion {
  service: string;
  topic: string;
  version: number;
  schema: unknown;
  type: Type;
  /** Checks a JSON-shaped event and returns it in the schema's shape. */
  normalize: Normalizer;
  /** Per top-level field: string (query/form value) → JSON value. */
  coercers: Map<string, Coercer>;
  /** CloudEvents `dataschema`: where clients can fetch this version's schema. */
  dataschema: string;
  /** CloudEvents `type`: `<service>.<topic>`. */
  cloudEventType: string;
  /** Set when the schema holds bytes or fixed values, which JSON carries as base64. */
  jsonReplacer?: (key: string, value: unknown) => unknown;
  /** Its Schema Registry id from the topic's schema-ids.yaml (schema-ids.ts), when it has one. */
  schemaId?: number;
  /** JSON text of a normalised value of this version: what JSON.stringify(value, jsonReplacer) gives. */
  toJson: JsonSerializer;
}

export interface Topic {
  service: string;
  name: string;
  config: TopicConfig;
  versions: Map<number, TopicVersion>;
  latestVersion: number;
}

const NAME = /^[a-z0-9][a-z0-9_-]*$/;
const VERSION_FILE = /^v([1-9][0-9]*)\.avsc$/;

export class TopicRegistry {
  private readonly byService = new Map<string, Map<string, Topic>>();

  constructor(topics: Topic[]) {
    for (const topic of topics) {
      let services = this.byService.get(topic.service);
      if (!services) this.byService.set(topic.service, (services = new Map()));
      services.set(topic.name, topic);
    }
  }

  hasService(service: string): boolean {
    return this.byService.has(service);
  }

  get(service: string, topic: string): Topic | undefined {
    return this.byService.get(service)?.get(topic);
  }

  list(): Topic[] {
    return [...this.byService.values()].flatMap((topics) => [...topics.values()]);
  }
}

export interface TopicsLoadResult {
  topics: Topic[];
  /** Each names the file and what is wrong with it. */
  problems: string[];
  /** Ids no version may take again (schema-ids.ts). */
  retiredSchemaIds: Map<number, string>;
}

/** Reads and checks the whole tree, collecting every problem rather than stopping at the first. */
export function loadTopicsTree(root: string, destinationOptions?: TObject): TopicsLoadResult {
  const topics: Topic[] = [];
  const problems: string[] = [];
  let services: string[];
  try {
    services = readdirSync(root).filter((name) => isDirectory(join(root, name))).sort();
  } catch (err) {
    return { topics, problems: [`${root}: cannot read the topics directory (${(err as Error).message})`], retiredSchemaIds: new Map() };
  }
  if (services.length === 0) problems.push(`${root}: no topics (expected ${root}/<service>/<topic>/v1.avsc)`);
  for (const service of services) {
    if (!NAME.test(service)) {
      problems.push(`${join(root, service)}: service name must match ${NAME}`);
      continue;
    }
    const serviceDir = join(root, service);
    for (const name of readdirSync(serviceDir).filter((n) => isDirectory(join(serviceDir, n))).sort()) {
      const dir = join(serviceDir, name);
      if (!NAME.test(name)) {
        problems.push(`${dir}: topic name must match ${NAME}`);
        continue;
      }
      const topic = loadTopic(dir, service, name, problems, destinationOptions);
      if (topic) topics.push(topic);
    }
  }
  problems.push(...segmentMappingProblems(topics));
  const retiredSchemaIds = readRetiredSchemaIds(root, problems);
  problems.push(...duplicateSchemaIds(topics, retiredSchemaIds));
  return { topics, problems, retiredSchemaIds };
}

/**
 * @param destinationOptions what a topic file's `destinationOptions` may hold (the destination
 * registry's destinationOptionsSchema); without it, nothing.
 */
export function loadTopicRegistry(root: string, destinationOptions?: TObject): TopicRegistry {
  const { topics, problems } = loadTopicsTree(root, destinationOptions);
  if (problems.length > 0) throw new ConfigError(`topics in ${root} are invalid:\n  ${problems.join('\n  ')}`);
  return new TopicRegistry(topics);
}

function loadTopic(dir: string, service: string, name: string, problems: string[], destinationOptions: TObject | undefined): Topic | undefined {
  const before = problems.length;
  const files = readdirSync(dir);
  const config = readTopicConfig(dir, files, problems, destinationOptions);

  const versionNumbers: number[] = [];
  for (const file of files) {
    const match = VERSION_FILE.exec(file);
    if (match) versionNumbers.push(Number(match[1]));
    else if (file.endsWith('.avsc')) problems.push(`${join(dir, file)}: schema files must be named v<N>.avsc (v1.avsc, v2.avsc, …)`);
  }
  versionNumbers.sort((a, b) => a - b);
  if (versionNumbers.length === 0) problems.push(`${dir}: no schema versions (expected v1.avsc)`);
  versionNumbers.forEach((v, i) => {
    if (v !== i + 1) problems.push(`${join(dir, `v${i + 1}.avsc`)}: missing; versions must be contiguous from v1 (found v${versionNumbers.join(', v')})`);
  });

  const versions = new Map<number, TopicVersion>();
  let previous: TopicVersion | undefined;
  for (const version of versionNumbers) {
    const file = join(dir, `v${version}.avsc`);
    const loaded = readVersion(file, service, name, version, problems);
    if (!loaded) {
      previous = undefined;
      continue;
    }
    if (previous && previous.version === version - 1) {
      // Backward compatibility: readers of the new version must read data written with the old.
      const problem = cannotRead(loaded.type, previous.type);
      if (problem !== undefined) problems.push(`${file}: cannot read data written with v${previous.version} (${problem})`);
    }
    versions.set(version, loaded);
    previous = loaded;
  }

  // Ids are checked against schemas that loaded; a broken vN.avsc is reported on its own.
  const schemaIds = problems.length > before ? undefined : readSchemaIds(dir, files, new Map([...versions].map(([v, loaded]) => [v, loaded.type])), problems);
  for (const [version, id] of schemaIds ?? []) (versions.get(version) as TopicVersion).schemaId = id;

  if (config) {
    if (versionNumbers.length > 0 && !versionNumbers.includes(config.defaultVersion)) {
      problems.push(`${dir}: defaultVersion ${config.defaultVersion} has no v${config.defaultVersion}.avsc`);
    }
    if (config.partitionKey) {
      for (const v of versions.values()) {
        const field = ((v.type as any).fields as { name: string; type: Type }[]).find((f) => f.name === config.partitionKey);
        if (!field) problems.push(`${dir}: partitionKey "${config.partitionKey}" is not a field of v${v.version}`);
        else if (!['string', 'int', 'long', 'enum'].includes(field.type.typeName)) {
          problems.push(`${dir}: partitionKey "${config.partitionKey}" must be a string, int, long or enum field (it is ${field.type.typeName} in v${v.version})`);
        }
      }
    }
  }
  if (problems.length > before || !config) return undefined;
  return { service, name, config, versions, latestVersion: versionNumbers[versionNumbers.length - 1] };
}

function readTopicConfig(dir: string, files: string[], problems: string[], destinationOptions: TObject | undefined): TopicConfig | undefined {
  const present = TOPIC_CONFIG_FILES.filter((f) => files.includes(f));
  if (present.length === 0) {
    problems.push(`${dir}: missing topic config (${TOPIC_CONFIG_FILES.join(' or ')})`);
    return undefined;
  }
  if (present.length > 1) {
    problems.push(`${dir}: more than one topic config (${present.join(', ')}); keep one`);
    return undefined;
  }
  const file = join(dir, present[0]);
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    problems.push(`${file}: cannot parse (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  const { config, problems: configProblems } = checkTopicConfig(raw, destinationOptions);
  for (const p of configProblems) problems.push(`${file}: ${p}`);
  return config;
}

function readVersion(file: string, service: string, topic: string, version: number, problems: string[]): TopicVersion | undefined {
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(`${file}: not valid JSON (${(err as Error).message})`);
    return undefined;
  }
  let type: Type;
  try {
    type = avro.Type.forSchema(schema as avro.Schema);
  } catch (err) {
    problems.push(`${file}: not a valid Avro schema (${(err as Error).message})`);
    return undefined;
  }
  if (type.typeName !== 'record') {
    problems.push(`${file}: the top-level type must be a record (it is ${type.typeName})`);
    return undefined;
  }
  const hasBytes = /"(bytes|fixed)"/.test(JSON.stringify(schema));
  return {
    service,
    topic,
    version,
    schema,
    type,
    normalize: compileRecordNormalizer(type, EVENT_RESERVED_KEYS),
    coercers: compileFieldCoercers(type),
    dataschema: `/v1/topics/${service}/${topic}/versions/${version}`,
    cloudEventType: `${service}.${topic}`,
    jsonReplacer: hasBytes ? bytesAsBase64 : undefined,
    toJson: jsonSerializerFor(type, hasBytes),
  };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
