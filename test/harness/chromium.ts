import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { Test } from 'tap';
import { PROJECT_ROOT } from '../helpers/gateway';

// Real Chromium for the browser tests: Debian's package (scripts/ensure-chromium.sh installs
// it when missing), driven by playwright-core, whose own browser downloads cannot work here.

/** Chromium, closed when the test ends. */
export async function launchChromium(t: Test): Promise<Browser> {
  const executablePath = execFileSync(join(PROJECT_ROOT, 'scripts', 'ensure-chromium.sh'), { encoding: 'utf8' }).trim();
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * A site on 127.0.0.1 whose pages `page(request)` writes, stopped when the test ends. Its
 * port serves two origins: `http://localhost:<port>` and `http://127.0.0.1:<port>`, which the
 * browser tells apart, so one may be allowed by a topic and the other not.
 */
export async function servePages(t: Test, page: (request: IncomingMessage) => string): Promise<number> {
  const server = createServer((request, response) => response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(request)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return (server.address() as AddressInfo).port;
}
