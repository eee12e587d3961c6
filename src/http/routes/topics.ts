import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../../errors';
import type { Topic, TopicRegistry } from '../../topics/registry';
import { lookupTopic, type TopicParams } from '../topic-lookup';

// Discovery: clients list topics and fetch the exact schema of each version.

function describeTopic(topic: Topic) {
  return {
    service: topic.service,
    topic: topic.name,
    description: topic.config.description,
    access: topic.config.access,
    allowedOrigins: topic.config.access === 'public' ? topic.config.allowedOrigins : undefined,
    defaultVersion: topic.config.defaultVersion,
    latestVersion: topic.latestVersion,
    versions: [...topic.versions.keys()],
    partitionKey: topic.config.partitionKey,
    maxEventBytes: topic.config.maxEventBytes,
    endpoints: {
      beacon: topic.config.access === 'public' ? `/v1/beacon/${topic.service}/${topic.name}` : undefined,
      events: `/v1/events/${topic.service}/${topic.name}`,
    },
  };
}

export function topicsRoutes(app: FastifyInstance, registry: TopicRegistry): void {
  app.get('/v1/topics', async () => ({ topics: registry.list().map(describeTopic) }));

  app.get<{ Params: TopicParams }>('/v1/topics/:service/:topic', async (request) => {
    const topic = lookupTopic(registry, request.params);
    return {
      ...describeTopic(topic),
      schemas: Object.fromEntries([...topic.versions].map(([n, v]) => [n, v.schema])),
    };
  });

  app.get<{ Params: TopicParams & { version: string } }>('/v1/topics/:service/:topic/versions/:version', async (request, reply) => {
    const topic = lookupTopic(registry, request.params);
    const version = topic.versions.get(Number(request.params.version));
    if (!version) {
      throw new GatewayError('UNKNOWN_VERSION', `topic ${topic.service}/${topic.name} has no schema version "${request.params.version.slice(0, 16)}" (versions 1 to ${topic.latestVersion})`);
    }
    return reply.type('application/json').send(version.schema);
  });
}
