import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './gateway-process';

// NGINX as beacon servers used to be built: `empty_gif` answers the pixel and the access log
// is the event stream. One worker, so that it has one core like the gateway's one event loop.
// It runs from a temporary prefix with its own config, in the foreground, as our child.

const NGINX_PATHS = ['/usr/sbin/nginx', '/usr/bin/nginx'];
const ENSURE_SCRIPT = join(__dirname, '..', '..', 'scripts', 'ensure-nginx.sh');

export interface NginxProcess {
  /** The master process (its worker is its child). */
  pid: number;
  baseUrl: string;
  version: string;
  /** Stops gracefully; resolves with the access log's lines, one per request: the events of old beacon pipelines. */
  stop(): Promise<number>;
}

function findNginx(): string | undefined {
  return NGINX_PATHS.find((path) => existsSync(path));
}

/** The nginx binary, installed by scripts/ensure-nginx.sh if needed; undefined with a reason printed when it cannot be had. */
export function ensureNginx(): string | undefined {
  const found = findNginx();
  if (found) return found;
  console.log('nginx not found: running scripts/ensure-nginx.sh (apt-get)');
  const install = spawnSync('bash', [ENSURE_SCRIPT], { stdio: 'inherit' });
  if (install.status !== 0) {
    console.log('nginx could not be installed; the NGINX row is skipped');
    return undefined;
  }
  return findNginx();
}

/** The bench's: NGINX answers every request with the pixel itself. */
const EMPTY_GIF_LOCATION = `location / {
      add_header Cache-Control "no-store, max-age=0";
      empty_gif;
    }`;

function nginxConf(prefix: string, port: number, locations: string): string {
  return `# Written by load-tests/nginx.ts for one run.
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  # Buffered like a beacon server's log: written in 64 KiB blocks, at least every second.
  access_log ${prefix}/access.log combined buffer=64k flush=1s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port};
    ${locations}
  }
}
`;
}

/** NGINX as our child; `locations` are its server's (tests put a documented proxy there). */
export async function startNginx(binary: string, locations = EMPTY_GIF_LOCATION): Promise<NginxProcess> {
  const prefix = mkdtempSync(join(tmpdir(), 'tracking-gateway-nginx-'));
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxConf(prefix, port, locations));
  const version = spawnSync(binary, ['-v'], { encoding: 'utf8' }).stderr.trim();
  const child = spawn(binary, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 5000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}; see ${prefix}/error.log`);
    try {
      await fetch(`${baseUrl}/`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('nginx did not answer within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    pid: child.pid!,
    baseUrl,
    version,
    stop: async () => {
      // SIGQUIT: graceful, the access log buffer is flushed.
      child.kill('SIGQUIT');
      await exited;
      const log = readFileSync(join(prefix, 'access.log'));
      let lines = 0;
      for (let i = log.indexOf(10); i !== -1; i = log.indexOf(10, i + 1)) lines++;
      rmSync(prefix, { recursive: true, force: true });
      return lines;
    },
  };
}
