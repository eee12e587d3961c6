import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors';
import type { Topic, TopicRegistry, TopicVersion } from '../topics/registry';
import { SCHEMA_VERSION_HEADER } from './cors';
import { clip, type Query } from './query';

export interface TopicParams {
  service: string;
  topic: string;
}

/** The topic named by the path, or a 404 saying which part is unknown. */
export function lookupTopic(registry: TopicRegistry, params: TopicParams): Topic {
  const topic = registry.get(params.service, params.topic);
  if (topic) return topic;
  if (!registry.hasService(params.service)) {
    throw new GatewayError('UNKNOWN_SERVICE', `unknown service "${clip(params.service)}"; GET /v1/topics lists the topics`);
  }
  throw new GatewayError('UNKNOWN_TOPIC', `service ${params.service} has no topic "${clip(params.topic)}"; GET /v1/topics lists the topics`);
}

/** The schema version: `?v=N`, else the `X-Schema-Version` header, else the topic's default. */
export function lookupVersion(topic: Topic, query: Query, request: FastifyRequest): TopicVersion {
  return versionOf(topic, query.v, request.headers);
}

/** The version asked for by a `v` query value or the header, else the topic's default. */
export function versionOf(topic: Topic, queryValue: string | undefined, headers: IncomingHttpHeaders): TopicVersion {
  const header = headers[SCHEMA_VERSION_HEADER];
  const raw = queryValue ?? (Array.isArray(header) ? header.join(',') : header);
  let number = topic.config.defaultVersion;
  if (raw !== undefined) {
    number = versionNumber(raw);
  }
  const version = topic.versions.get(number);
  if (!version) {
    throw new GatewayError('UNKNOWN_VERSION', `topic ${topic.service}/${topic.name} has no schema version ${number} (versions 1 to ${topic.latestVersion})`);
  }
  return version;
}

/**
 * A version as the client wrote it: canonical decimal only. `Number()` would also read
 * `0x1`, `01`, `1e0` and ` 1` as 1, so one version would answer to many spellings.
 */
export function versionNumber(raw: string): number {
  if (!/^[1-9][0-9]{0,5}$/.test(raw)) throw new GatewayError('BAD_VERSION', `schema version "${clip(raw)}" is not a positive integer in decimal (1, 2, …)`);
  return Number(raw);
}

