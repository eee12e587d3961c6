import type { FastifyError, FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import avro, { type Type } from 'avsc';
import sjson from 'secure-json-parse';
import { GatewayError, registryErrorCode } from '../../errors';
import type { SchemaSubjects, SubjectVersion } from '../../schema-registry/schema-subjects';
import { cannotRead } from '../../topics/schema-compatibility';
import { schemaFingerprint } from '../../topics/schema-ids';
import { fromFastifyError, RouteTable } from '../error-handler';
import { clip } from '../query';

// A read-only Schema Registry API, Confluent's REST dialect, served from topics/ on the admin
// port under /schema-registry: what Kafka Connect's AvroConverter, ksqlDB, Flink and every
// Confluent client call to turn a record's schema id into its schema.
// https://docs.confluent.io/platform/current/schema-registry/develop/api.html

export const SCHEMA_REGISTRY_PREFIX = '/schema-registry';
/** What the registry answers with, and what its clients send. */
export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const REQUEST_CONTENT_TYPES = [REGISTRY_CONTENT_TYPE, 'application/vnd.schemaregistry+json', 'application/json', 'application/octet-stream'];
/**
 * A lookup or compatibility body is one schema; the gateway's own are a few KiB. Bounded so
 * that parsing a posted schema (avsc compiles a reader per record type) stays a small, bounded
 * piece of work on the admin port.
 */
export const MAX_REGISTRY_BODY_BYTES = 64 * 1024;
/** Confluent's versions are positive 32-bit ints; `latest` and -1 name the last. */
const MAX_VERSION = 2 ** 31 - 1;
/** The registry's compatibility rule is `topics check`'s: each version reads data of the one before. */
const COMPATIBILITY_LEVEL = 'BACKWARD';
const READ_ONLY = 'schemas are changed in topics/ (a new vN.avsc and its id in schema-ids.yaml, checked by `topics check`), not through this API: it is read-only';

interface SubjectParams {
  subject: string;
}
interface VersionParams extends SubjectParams {
  version: string;
}
interface IdParams {
  id: string;
}

/** The Confluent error body (`error_code`, `message`), with the gateway's own shape beside it. */
function registryError(reply: FastifyReply, error: GatewayError): FastifyReply {
  const body = { error_code: registryErrorCode(error.code), message: error.message, error: { code: error.code, message: error.message } };
  return reply.code(error.status).headers({ ...error.headers, 'content-type': REGISTRY_CONTENT_TYPE }).send(JSON.stringify(body));
}

function answer(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.type(REGISTRY_CONTENT_TYPE).send(JSON.stringify(body));
}

/** The registry's answer for one subject version. */
const described = (entry: SubjectVersion) => ({ subject: entry.subject, version: entry.version, id: entry.id, schema: entry.schema });

export function schemaRegistryRoutes(subjects: SchemaSubjects): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    const routes = new RouteTable();
    app.addHook('onRoute', (route) => routes.add(route.url ?? route.path, route.method));

    // Registry clients send JSON under the registry's own media types; every body is bounded.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(REQUEST_CONTENT_TYPES, { parseAs: 'string', bodyLimit: MAX_REGISTRY_BODY_BYTES }, (_request, body, parsed) => {
      // No body (a GET or DELETE that names a content type): the route decides whether it needs one.
      if (body === '') {
        parsed(null, undefined);
        return;
      }
      try {
        parsed(null, sjson.parse(body as string, undefined, { protoAction: 'error', constructorAction: 'error' }));
      } catch {
        parsed(new GatewayError('MALFORMED_BODY', 'the body is not valid JSON'), undefined);
      }
    });

    app.setErrorHandler((err: FastifyError | GatewayError, _request, reply) => registryError(reply, err instanceof GatewayError ? err : fromFastifyError(err)));
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0];
      const allowed = routes.methodsFor(path);
      if (allowed.length > 0) {
        return registryError(reply, new GatewayError('METHOD_NOT_ALLOWED', `HTTP 405 Method Not Allowed: use ${allowed.join(' or ')}`, { headers: { allow: allowed.join(', ') } }));
      }
      return registryError(reply, new GatewayError('NOT_FOUND', `HTTP 404 Not Found: no route ${clip(request.method, 16)} ${clip(path, 100)}`));
    });

    const versionsOf = (subject: string) => {
      const versions = subjects.versions(subject);
      if (!versions) throw new GatewayError('SCHEMA_SUBJECT_NOT_FOUND', `Subject '${clip(subject, 200)}' not found.`);
      return versions;
    };
    const versionOf = (subject: string, version: string) => {
      const versions = versionsOf(subject);
      const number = parseVersion(version);
      const entry = number === 'latest' ? versions[versions.length - 1] : versions.find((v) => v.version === number);
      if (!entry) throw new GatewayError('SCHEMA_VERSION_NOT_FOUND', `Version ${number} not found.`);
      return entry;
    };
    const withId = (id: string) => {
      const uses = /^[1-9][0-9]{0,9}$/.test(id) ? subjects.withId(Number(id)) : undefined;
      if (!uses) throw new GatewayError('SCHEMA_NOT_FOUND', `Schema ${clip(id, 20)} not found`);
      return uses;
    };

    app.get('/', async (_request, reply) => answer(reply, {}));
    app.get('/schemas/types', async (_request, reply) => answer(reply, ['AVRO']));
    app.get('/config', async (_request, reply) => answer(reply, { compatibilityLevel: COMPATIBILITY_LEVEL }));
    app.get<{ Params: SubjectParams }>('/config/:subject', async (request, reply) => {
      versionsOf(request.params.subject);
      return answer(reply, { compatibilityLevel: COMPATIBILITY_LEVEL });
    });
    app.get('/mode', async (_request, reply) => answer(reply, { mode: 'READONLY' }));

    app.get<{ Querystring: { subjectPrefix?: string } }>('/subjects', async (request, reply) => {
      const prefix = typeof request.query.subjectPrefix === 'string' ? request.query.subjectPrefix : '';
      return answer(reply, subjects.subjects().filter((s) => s.startsWith(prefix)));
    });
    app.get<{ Params: SubjectParams }>('/subjects/:subject/versions', async (request, reply) => answer(reply, versionsOf(request.params.subject).map((v) => v.version)));
    app.get<{ Params: VersionParams }>('/subjects/:subject/versions/:version', async (request, reply) => answer(reply, described(versionOf(request.params.subject, request.params.version))));
    app.get<{ Params: VersionParams }>('/subjects/:subject/versions/:version/schema', async (request, reply) =>
      reply.type(REGISTRY_CONTENT_TYPE).send(versionOf(request.params.subject, request.params.version).schema),
    );
    app.get<{ Params: VersionParams }>('/subjects/:subject/versions/:version/referencedby', async (request, reply) => {
      versionOf(request.params.subject, request.params.version);
      return answer(reply, []);
    });

    app.get<{ Params: IdParams }>('/schemas/ids/:id', async (request, reply) => answer(reply, { schema: withId(request.params.id)[0].schema }));
    app.get<{ Params: IdParams }>('/schemas/ids/:id/schema', async (request, reply) => reply.type(REGISTRY_CONTENT_TYPE).send(withId(request.params.id)[0].schema));
    app.get<{ Params: IdParams }>('/schemas/ids/:id/versions', async (request, reply) => answer(reply, withId(request.params.id).map((v) => ({ subject: v.subject, version: v.version }))));
    app.get<{ Params: IdParams }>('/schemas/ids/:id/subjects', async (request, reply) => answer(reply, [...new Set(withId(request.params.id).map((v) => v.subject))]));

    // Is this schema registered under the subject? Matched by canonical form, as Confluent does.
    app.post<{ Params: SubjectParams }>('/subjects/:subject', async (request, reply) => {
      const versions = versionsOf(request.params.subject);
      const fingerprint = schemaFingerprint(postedSchema(request));
      const entry = versions.find((v) => v.fingerprint === fingerprint);
      if (!entry) throw new GatewayError('SCHEMA_NOT_FOUND', 'Schema not found');
      return answer(reply, described(entry));
    });

    // Could a reader with this schema read data written with the version? (topics check's rule.)
    const compatibility = (entries: readonly SubjectVersion[], request: FastifyRequest, reply: FastifyReply) => {
      const reader = postedSchema(request);
      const messages = entries.flatMap((entry) => {
        const problem = cannotRead(reader, entry.type);
        return problem === undefined ? [] : [`cannot read data written with version ${entry.version}: ${problem}`];
      });
      const verbose = (request.query as { verbose?: string }).verbose === 'true';
      return answer(reply, verbose ? { is_compatible: messages.length === 0, messages } : { is_compatible: messages.length === 0 });
    };
    app.post<{ Params: VersionParams }>('/compatibility/subjects/:subject/versions/:version', async (request, reply) =>
      compatibility([versionOf(request.params.subject, request.params.version)], request, reply),
    );
    // Without a version: BACKWARD (not transitive) checks against the latest.
    app.post<{ Params: SubjectParams }>('/compatibility/subjects/:subject/versions', async (request, reply) => {
      const versions = versionsOf(request.params.subject);
      return compatibility([versions[versions.length - 1]], request, reply);
    });

    const readOnly = async () => {
      throw new GatewayError('SCHEMA_REGISTRY_READ_ONLY', READ_ONLY);
    };
    app.post('/subjects/:subject/versions', readOnly);
    app.delete('/subjects/:subject', readOnly);
    app.delete('/subjects/:subject/versions/:version', readOnly);
    app.put('/config', readOnly);
    app.put('/config/:subject', readOnly);
    app.delete('/config/:subject', readOnly);
    app.put('/mode', readOnly);
    app.put('/mode/:subject', readOnly);
    done();
  };
}

function parseVersion(version: string): number | 'latest' {
  if (version === 'latest' || version === '-1') return 'latest';
  const number = /^[0-9]{1,10}$/.test(version) ? Number(version) : NaN;
  if (!(number >= 1 && number <= MAX_VERSION)) {
    throw new GatewayError('SCHEMA_VERSION_INVALID', `The specified version '${clip(version, 20)}' is not a valid version id. Allowed values are between [1, ${MAX_VERSION}] and the string "latest"`);
  }
  return number;
}

/** The `schema` of a lookup or compatibility body, parsed as Avro; anything else is 42201. */
function postedSchema(request: FastifyRequest): Type {
  const body = request.body as { schema?: unknown; schemaType?: unknown; references?: unknown } | undefined;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof body.schema !== 'string') {
    throw new GatewayError('SCHEMA_INVALID', 'Invalid schema: the body must be {"schema": "<the schema as a JSON string>"}');
  }
  if (body.schemaType !== undefined && body.schemaType !== 'AVRO') throw new GatewayError('SCHEMA_INVALID', `Invalid schema: this registry holds AVRO schemas only`);
  if (Array.isArray(body.references) && body.references.length > 0) throw new GatewayError('SCHEMA_INVALID', 'Invalid schema: schema references are not used by this registry');
  try {
    return avro.Type.forSchema(sjson.parse(body.schema, undefined, { protoAction: 'error', constructorAction: 'error' }) as avro.Schema);
  } catch (err) {
    // A schema nested past the stack's depth is a RangeError: refused like any other.
    throw new GatewayError('SCHEMA_INVALID', `Invalid schema: ${clip(err instanceof Error ? err.message : String(err), 200)}`);
  }
}
