import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument, type OpenApiParts } from '../openapi/document';

// GET <prefix>/openapi.json: the OpenAPI document of the public port. It depends only on the
// topics tree and the configuration, both fixed for the life of the process, so it is built
// and serialised once, when the routes are registered, and answered from memory.

/** package.json, beside dist/ in the repository and in the image. */
const PACKAGE_FILE = join(__dirname, '..', '..', '..', '..', 'package.json');

export function openApiRoute(app: FastifyInstance, parts: Omit<OpenApiParts, 'version'>): void {
  const { version } = JSON.parse(readFileSync(PACKAGE_FILE, 'utf8')) as { version: string };
  const body = JSON.stringify(buildOpenApiDocument({ ...parts, version }));
  app.get(parts.paths.openApiRoute, (_request, reply) => reply.type('application/json; charset=utf-8').send(body));
}
