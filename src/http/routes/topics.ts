import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../../errors';
import type { Topic, TopicRegistry } from '../../topics/registry';
import type { PublicPaths } from '../paths';
import { lookupTopic, versionNumber, type TopicParams } from '../topic-lookup';

// Discovery: clients list topics and fetch the exact schema of each version.

function describeTopic(topic: Topic, paths: PublicPaths) {
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
      beacon: topic.config.access === 'public' ? paths.beaconPath(topic) : undefined,
      events: paths.eventsPath(topic),
    },
  };
}

export function topicsRoutes(app: FastifyInstance, registry: TopicRegistry, paths: PublicPaths): void {
  app.get(paths.topicsRoute, async () => ({ topics: registry.list().map((topic) => describeTopic(topic, paths)) }));

  app.get<{ Params: TopicParams }>(`${paths.topicsRoute}/:service/:topic`, async (request) => {
    const topic = lookupTopic(registry, request.params);
    return {
      ...describeTopic(topic, paths),
      schemas: Object.fromEntries([...topic.versions].map(([n, v]) => [n, v.schema])),
    };
  });

  app.get<{ Params: TopicParams & { version: string } }>(`${paths.topicsRoute}/:service/:topic/versions/:version`, async (request, reply) => {
    const topic = lookupTopic(registry, request.params);
    const version = topic.versions.get(versionNumber(request.params.version));
    if (!version) {
      throw new GatewayError('UNKNOWN_VERSION', `topic ${topic.service}/${topic.name} has no schema version "${request.params.version.slice(0, 16)}" (versions 1 to ${topic.latestVersion})`);
    }
    return reply.type('application/json').send(version.schema);
  });
}
