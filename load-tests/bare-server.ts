import http from 'node:http';

// The ceiling the gateway is measured against: a server on bare node:http that answers 204 to
// every request and does nothing else. Run as a child process; it reports its port over IPC.

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
  throw new Error(`unknown bare server "${kind}"; use node-http`);
}

listen().then(
  (port) => process.send?.({ port }),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
