import { EventEmitter, once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// An HTTP proxy in front of moto's S3 that a test steers: forward everything, answer every
// request 500 (S3 down), forward a PutObject and hold back moto's answer (the object is in
// S3, the gateway does not know it yet: the moment to kill it), or flip one byte of each
// PutObject's body on the way (a corrupted upload, which Content-MD5 must make S3 refuse).

export type S3ProxyMode = 'forward' | 'fail' | 'hold-puts' | 'corrupt-puts';

export class S3Proxy extends EventEmitter {
  mode: S3ProxyMode;
  /** PutObject requests seen, and how many of them moto stored. */
  puts = 0;
  putsStored = 0;
  private readonly held: ServerResponse[] = [];

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
    mode: S3ProxyMode,
  ) {
    super();
    this.mode = mode;
    server.on('request', (req, res) => this.handle(req, res));
  }

  static async start(upstream: string, mode: S3ProxyMode = 'forward'): Promise<S3Proxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new S3Proxy(server, new URL(upstream), mode);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.held.splice(0)) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const isPut = req.method === 'PUT' && req.url !== undefined && req.url.split('?')[0].split('/').filter(Boolean).length >= 2;
    if (isPut) this.puts++;
    if (this.mode === 'fail') {
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>');
      return;
    }
    const holding = this.mode === 'hold-puts' && isPut;
    const upstream = request(
      { host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (isPut && answer.statusCode === 200) this.putsStored++;
        if (holding) {
          answer.resume();
          this.held.push(res);
          this.emit('held', req.url);
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    if (this.mode === 'corrupt-puts' && isPut) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (body.length > 0) body[body.length >> 1] ^= 0xff;
        upstream.end(body);
      });
      return;
    }
    req.pipe(upstream);
  }
}
