import type { GatewayConfig } from '../config/config';
import { ConfigError } from '../errors';
import type { Topic } from '../topics/registry';
import type { SchemaIdSource } from './schema-id-source';

// A team's own Schema Registry (Confluent's REST API: Confluent, Karapace, Apicurio's ccompat,
// or another gateway's embedded one). At start, each version of each topic written as
// confluent-avro is looked up under its subject and, in `register` mode, registered when
// missing; the ids it answers are the ones written. Nothing is asked at request time.
// https://docs.confluent.io/platform/current/schema-registry/develop/api.html

/** A registry answer is a small JSON object; a larger one is refused rather than read. */
export const MAX_REGISTRY_ANSWER_BYTES = 1024 * 1024;
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const SUBJECT_NOT_FOUND = 40401;
const SCHEMA_NOT_FOUND = 40403;

type RegistryConfig = Readonly<GatewayConfig['schemaRegistry']> & { url: string };

interface Answer {
  status: number;
  body: { id?: unknown; error_code?: unknown; message?: unknown } | undefined;
}

export class ExternalSchemaRegistry implements SchemaIdSource {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  /** Several Kafka destinations may write one subject; it is resolved once. */
  private readonly resolved = new Map<string, Promise<Map<number, number>>>();

  constructor(private readonly config: RegistryConfig) {
    this.base = config.url.replace(/\/+$/, '');
    this.headers = { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE };
    if (config.username !== undefined && config.password !== undefined) {
      this.headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}`;
    }
  }

  idsFor(subject: string, topic: Topic): Promise<Map<number, number>> {
    let ids = this.resolved.get(subject);
    if (!ids) this.resolved.set(subject, (ids = this.resolve(subject, topic)));
    return ids;
  }

  /** Oldest version first, so that a registry that numbers versions numbers them as topics/ does. */
  private async resolve(subject: string, topic: Topic): Promise<Map<number, number>> {
    const ids = new Map<number, number>();
    for (const version of [...topic.versions.values()].sort((a, b) => a.version - b.version)) {
      const what = `${topic.service}/${topic.name} v${version.version}`;
      const body = JSON.stringify({ schema: JSON.stringify(version.schema) });
      const found = await this.call(`/subjects/${encodeURIComponent(subject)}`, body, subject);
      if (found.status === 200) {
        ids.set(version.version, this.idIn(found, subject, what));
        continue;
      }
      const code = found.body?.error_code;
      if (found.status !== 404 || (code !== SUBJECT_NOT_FOUND && code !== SCHEMA_NOT_FOUND)) throw this.refusal(subject, what, 'looking it up', found);
      if (this.config.mode === 'check') {
        throw new ConfigError(`schema registry ${this.base}: subject ${subject} does not hold ${what} (schemaRegistry.mode is check: register it there, or set mode register)`);
      }
      const registered = await this.call(`/subjects/${encodeURIComponent(subject)}/versions`, body, subject);
      if (registered.status !== 200) {
        const why = registered.status === 409 ? 'it holds a schema this version is incompatible with' : 'registering it';
        throw this.refusal(subject, what, why, registered);
      }
      ids.set(version.version, this.idIn(registered, subject, what));
    }
    return ids;
  }

  private idIn(answer: Answer, subject: string, what: string): number {
    const id = answer.body?.id;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 2 ** 31 - 1) {
      throw new ConfigError(`schema registry ${this.base}: subject ${subject}: the answer for ${what} has no valid id`);
    }
    return id;
  }

  private refusal(subject: string, what: string, why: string, answer: Answer): ConfigError {
    const message = typeof answer.body?.message === 'string' ? `: ${answer.body.message.slice(0, 300)}` : '';
    const code = answer.body?.error_code === undefined ? '' : ` ${String(answer.body.error_code)}`;
    return new ConfigError(`schema registry ${this.base} refuses ${what} under subject ${subject} (${why}; HTTP ${answer.status}${code}${message})`);
  }

  private async call(path: string, body: string, subject: string): Promise<Answer> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: this.headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.config.requestTimeoutMs),
      });
    } catch (err) {
      throw new ConfigError(`schema registry ${this.base}: cannot reach it for subject ${subject} (${(err as Error).message}; schemaRegistry.url)`);
    }
    const text = await boundedText(response, MAX_REGISTRY_ANSWER_BYTES);
    if (text === undefined) throw new ConfigError(`schema registry ${this.base}: subject ${subject}: answer larger than ${MAX_REGISTRY_ANSWER_BYTES} bytes`);
    let parsed: Answer['body'];
    try {
      parsed = JSON.parse(text) as Answer['body'];
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: typeof parsed === 'object' && parsed !== null ? parsed : undefined };
  }
}

/** The body as text, or undefined (and the rest left unread) once it passes `max` bytes. */
async function boundedText(response: Response, max: number): Promise<string | undefined> {
  if (!response.body) return '';
  const chunks: Buffer[] = [];
  let bytes = 0;
  // Leaving the loop early cancels the stream: the rest is never read.
  for await (const chunk of response.body) {
    bytes += chunk.length;
    if (bytes > max) return undefined;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
