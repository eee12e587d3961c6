import http from 'node:http';
import Fastify from 'fastify';

// The ceilings the gateway is measured against: a server that answers 204 to every request
// and does nothing else, on bare node:http and on one Fastify route (the gateway's own
// framework). Run as a child process; it reports its port over IPC.

const kind = process.argv[2];

async function listen(): Promise<number> {
  if (kind === 'node-http') {
    const server = http.createServer((_request, response) => {
      response.writeHead(204);
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }
  if (kind === 'fastify') {
    const app = Fastify({ logger: false });
    app.get('/*', (_request, reply) => reply.code(204).send());
    await app.listen({ host: '127.0.0.1', port: 0 });
    return (app.server.address() as { port: number }).port;
  }
  throw new Error(`unknown bare server "${kind}"; use node-http or fastify`);
}

listen().then(
  (port) => process.send?.({ port }),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
