import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Type } from 'avsc';
import YAML from 'yaml';

// Schema Registry ids, kept as code beside the schemas: topics/<service>/<topic>/schema-ids.yaml
// maps each version to its id and the fingerprint of its schema's Parsing Canonical Form:
//
//   v1: { id: 1, fingerprint: "sha256:…" }
//
// Every process reads the same file, so a (topic, version) has one id on every pod, across
// restarts and deploys. `topics check` refuses an id used twice in the tree and a vN.avsc whose
// canonical form no longer matches the fingerprint beside its id: an id names one schema for ever.

export const SCHEMA_IDS_FILE = 'schema-ids.yaml';
/**
 * topics/retired-schema-ids.yaml: ids of versions or topics that were removed, each with what it
 * was (`7: old-service/old-topic v1`). They are never given again: a retired id in use is
 * refused, and the next free id counts them.
 */
export const RETIRED_SCHEMA_IDS_FILE = 'retired-schema-ids.yaml';
/** Confluent ids are positive 32-bit ints (the wire format's 4 bytes, signed in Java). */
export const MAX_SCHEMA_ID = 2 ** 31 - 1;

const VERSION_KEY = /^v([1-9][0-9]*)$/;
const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

/** SHA-256 of the Parsing Canonical Form: what a datum's bytes mean; docs and key order do not count. */
export function schemaFingerprint(type: Type): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(type.schema())).digest('hex')}`;
}

export interface SchemaIdEntry {
  id: number;
  fingerprint: string;
}

/**
 * The topic's ids file, if it has one, checked against the versions present: every version
 * has an entry, no entry names a missing version, and each fingerprint is the schema's.
 * Problems name the file and say what to write.
 */
export function readSchemaIds(dir: string, files: readonly string[], versions: ReadonlyMap<number, Type>, problems: string[]): Map<number, number> | undefined {
  if (!files.includes(SCHEMA_IDS_FILE)) return undefined;
  const file = join(dir, SCHEMA_IDS_FILE);
  let raw: unknown;
  try {
    // Duplicate keys (two lines for v2) are a parse error in yaml's default mode.
    raw = YAML.parse(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    problems.push(`${file}: cannot parse (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${file}: expected a mapping of versions, e.g. v1: { id: 1, fingerprint: "sha256:…" }`);
    return undefined;
  }
  const before = problems.length;
  const ids = new Map<number, number>();
  for (const [key, value] of Object.entries(raw)) {
    const match = VERSION_KEY.exec(key);
    if (!match) {
      problems.push(`${file}: key "${key}" is not a version (v1, v2, …)`);
      continue;
    }
    const version = Number(match[1]);
    const entry = value as Partial<SchemaIdEntry> | null;
    if (typeof entry !== 'object' || entry === null || !Number.isInteger(entry.id) || (entry.id as number) < 1 || (entry.id as number) > MAX_SCHEMA_ID || typeof entry.fingerprint !== 'string' || !FINGERPRINT.test(entry.fingerprint)) {
      problems.push(`${file}: ${key} must be { id: <1..${MAX_SCHEMA_ID}>, fingerprint: "sha256:<64 hex>" }`);
      continue;
    }
    const type = versions.get(version);
    if (!type) {
      problems.push(`${file}: ${key} has no ${key}.avsc (an id stays with its version; restore the file)`);
      continue;
    }
    const actual = schemaFingerprint(type);
    if (actual !== entry.fingerprint) {
      problems.push(`${file}: ${key}.avsc no longer has the schema of id ${entry.id as number} (fingerprint ${actual}, recorded ${entry.fingerprint}); an id's schema never changes: put the change in a new version`);
      continue;
    }
    ids.set(version, entry.id as number);
  }
  for (const [version, type] of versions) {
    if (!ids.has(version) && !(`v${version}` in raw)) {
      problems.push(`${file}: v${version} has no schema id; add  v${version}: { id: <the next free id in topics/>, fingerprint: "${schemaFingerprint(type)}" }`);
    }
  }
  return problems.length > before ? undefined : ids;
}

/** The retired ids of the tree (none without the file); problems name the file. */
export function readRetiredSchemaIds(root: string, problems: string[]): Map<number, string> {
  const retired = new Map<number, string>();
  const file = join(root, RETIRED_SCHEMA_IDS_FILE);
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return retired;
    problems.push(`${file}: cannot parse (${(err as Error).message.split('\n')[0]})`);
    return retired;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${file}: expected a mapping of ids to what they were, e.g. 7: old-service/old-topic v1`);
    return retired;
  }
  for (const [key, was] of Object.entries(raw)) {
    const id = /^[1-9][0-9]{0,9}$/.test(key) ? Number(key) : NaN;
    if (!(id <= MAX_SCHEMA_ID)) problems.push(`${file}: "${key}" is not a schema id (1..${MAX_SCHEMA_ID})`);
    else retired.set(id, String(was));
  }
  return retired;
}

/** An id given to two versions anywhere in the tree, or a retired one in use; each problem names both. */
export function duplicateSchemaIds(topics: readonly { service: string; name: string; versions: ReadonlyMap<number, { schemaId?: number }> }[], retired: ReadonlyMap<number, string> = new Map()): string[] {
  const owners = new Map<number, string>([...retired].map(([id, was]) => [id, `retired (${RETIRED_SCHEMA_IDS_FILE}: ${was})`]));
  const problems: string[] = [];
  for (const topic of topics) {
    for (const [version, { schemaId }] of topic.versions) {
      if (schemaId === undefined) continue;
      const owner = `${topic.service}/${topic.name} v${version}`;
      const first = owners.get(schemaId);
      if (first) problems.push(`${topic.service}/${topic.name}/${SCHEMA_IDS_FILE}: schema id ${schemaId} of v${version} is already ${first}; ids are unique across topics/ and never reused`);
      else owners.set(schemaId, owner);
    }
  }
  return problems;
}

/** The highest id in the tree, retired ones included, for the next version's (shown by `topics check`). */
export function highestSchemaId(topics: readonly { versions: ReadonlyMap<number, { schemaId?: number }> }[], retired: ReadonlyMap<number, string> = new Map()): number {
  let highest = Math.max(0, ...retired.keys());
  for (const topic of topics) for (const { schemaId } of topic.versions.values()) if (schemaId !== undefined && schemaId > highest) highest = schemaId;
  return highest;
}
