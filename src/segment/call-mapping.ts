import type { Type } from 'avsc';
import type { TopicVersion } from '../topics/registry';
import type { SegmentCallType } from './segment-config';

// One Segment call → one event of its topic's schema version. The rules (docs/segment.md):
// - the call's payload (`properties` of track, page and screen; `traits` of identify and
//   group) becomes the event's fields, unless the schema has a field of that name;
// - a schema field named like one of the call's keys (userId, anonymousId, event, name, …)
//   takes that key's value: a record field takes the object cut to the fields it declares,
//   a string field takes an object as JSON text (a catch-all keeps `properties` whole);
// - `messageId` is the event's `$id`, `timestamp` (else `originalTimestamp`) its `$time`.
// What the schema does not declare is not taken; what it declares is checked by ingest.

/** Keys of a call that a schema field may take by name (Segment spec, "Common fields" and each call's own). */
const CALL_KEYS = ['userId', 'anonymousId', 'event', 'name', 'category', 'groupId', 'previousId', 'properties', 'traits', 'context'] as const;

const PAYLOAD_KEY: Record<SegmentCallType, 'properties' | 'traits' | undefined> = {
  track: 'properties',
  page: 'properties',
  screen: 'properties',
  identify: 'traits',
  group: 'traits',
  alias: undefined,
};

/** How one schema field is filled from a call key. */
type FieldFill = 'as-is' | 'json-text' | { record: RecordPlan };

interface RecordPlan {
  fields: Map<string, RecordPlan | undefined>;
}

/** Per schema version: the fields a call key fills, and how. Built once per version. */
interface VersionPlan {
  byCallKey: Map<string, FieldFill>;
}

const plans = new WeakMap<TopicVersion, VersionPlan>();

function planOf(version: TopicVersion): VersionPlan {
  let plan = plans.get(version);
  if (plan) return plan;
  const fields = recordFields(version.type)!;
  const byCallKey = new Map<string, FieldFill>();
  for (const key of CALL_KEYS) {
    const field = fields.get(key);
    if (!field) continue;
    const record = recordPlan(field);
    byCallKey.set(key, record ? { record } : acceptsString(field) ? 'json-text' : 'as-is');
  }
  plans.set(version, (plan = { byCallKey }));
  return plan;
}

/** The fields of a record type (or of the one record in a nullable union). */
function recordFields(type: Type): Map<string, Type> | undefined {
  const t = unwrapNullable(type) as Type & { fields?: { name: string; type: Type }[] };
  if (t.typeName !== 'record' || !t.fields) return undefined;
  return new Map(t.fields.map((f) => [f.name, f.type]));
}

function recordPlan(type: Type): RecordPlan | undefined {
  const fields = recordFields(type);
  if (!fields) return undefined;
  return { fields: new Map([...fields].map(([name, t]) => [name, recordPlan(t)])) };
}

function unwrapNullable(type: Type): Type {
  const types = (type as Type & { types?: Type[] }).types;
  if (!types) return type;
  const others = types.filter((t) => t.typeName !== 'null');
  return others.length === 1 ? others[0] : type;
}

function acceptsString(type: Type): boolean {
  return unwrapNullable(type).typeName === 'string';
}

/** The object cut to the fields the record declares, nested records likewise. */
function project(value: Record<string, unknown>, plan: RecordPlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, nested] of plan.fields) {
    const v = value[name];
    if (v === undefined) continue;
    out[name] = nested && isObject(v) ? project(v, nested) : v;
  }
  return out;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The event a call makes in `version`: its fields, `$id` and `$time`, for ingest to check. */
export function eventOfCall(call: Record<string, unknown>, type: SegmentCallType, version: TopicVersion): Record<string, unknown> {
  const { byCallKey } = planOf(version);
  const payloadKey = PAYLOAD_KEY[type];
  const event: Record<string, unknown> = {};
  if (payloadKey !== undefined && !byCallKey.has(payloadKey)) {
    const payload = call[payloadKey];
    if (isObject(payload)) for (const key in payload) event[key] = payload[key];
  }
  for (const [key, fill] of byCallKey) {
    const value = call[key];
    if (value === undefined || value === null) continue;
    if (fill === 'as-is') event[key] = value;
    else if (fill === 'json-text') event[key] = isObject(value) || Array.isArray(value) ? JSON.stringify(value) : value;
    else event[key] = isObject(value) ? project(value, fill.record) : value;
  }
  if (call.messageId !== undefined) event.$id = call.messageId;
  const time = call.timestamp ?? call.originalTimestamp;
  if (time !== undefined) event.$time = time;
  return event;
}

/** An event's field path as a path in the call (`orderId` → `properties.orderId`, `$id` → `messageId`). */
export function callPath(path: string, type: SegmentCallType, version: TopicVersion): string {
  if (path === '$id') return 'messageId';
  if (path === '$time') return 'timestamp';
  const payloadKey = PAYLOAD_KEY[type];
  if (payloadKey === undefined || path === '') return path;
  const first = /^[^.[]+/.exec(path)?.[0] ?? '';
  return planOf(version).byCallKey.has(first) ? path : `${payloadKey}.${path}`;
}
