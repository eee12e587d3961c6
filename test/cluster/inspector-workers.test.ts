import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { get, request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { metricValue, readGzipLines, removeDir, tempDir, TOPICS_DIR, validImpression } from '../helpers/gateway';
import { CLI, startServe } from '../helpers/process';
import { addTopicVersion } from '../helpers/topics-tree';

// The inspector of a cluster: the primary's page stream carries every worker's events, its
// dead letter lists every worker's entries, and `tracking-gateway dead-letter` lists, dry-runs
// and (through the admin port) re-drives them, each worker its own.

t.setTimeout(180_000);
const run = promisify(execFile);
const ORIGIN = 'http://localhost:3000';

/** One request on a connection of its own, so that the cluster hands it to the next worker. */
function beacon(base: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/v1/beacon/widget/impression`, { method: 'POST', agent: false, headers: { origin: ORIGIN, 'content-type': 'text/plain' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The live stream's event batches, until `done` says enough or the time is up. */
function readStream(admin: string, done: (events: any[]) => boolean, timeoutMs: number, opened: () => void): Promise<{ events: any[] }> {
  return new Promise((resolve, reject) => {
    const events: any[] = [];
    let buffer = '';
    const req = get(`${admin}/inspect/stream`, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        opened();
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (block.includes('event: events') && data) events.push(...JSON.parse(data.slice(6)).events);
        }
        if (done(events)) finish();
      });
    });
    req.on('error', reject);
    const timer = setTimeout(finish, timeoutMs);
    function finish() {
      clearTimeout(timer);
      req.destroy();
      resolve({ events });
    }
  });
}

t.test('two workers: one stream, one dead letter, re-driven through each worker', async (t) => {
  const topicsDir = tempDir();
  const dataDir = tempDir();
  t.teardown(() => (removeDir(topicsDir), removeDir(dataDir)));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  const env = { GATEWAY_WORKERS: '2', GATEWAY_TOPICS_DIR: topicsDir, GATEWAY_DATA_DIR: dataDir };
  let serve = await startServe(env);
  t.teardown(() => serve.stop());

  let streamOpened!: () => void;
  const opened = new Promise<void>((resolve) => (streamOpened = resolve));
  const streaming = readStream(serve.admin, (events) => new Set(events.map((e) => e.worker)).size === 2 && events.length >= 8, 10_000, () => streamOpened());
  await opened;
  // The primary tells the workers to tap; give the message a moment.
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 8; i++) t.ok((await beacon(serve.base, validImpression({ $id: `bad-${i}`, widgetId: `w-${i}`, placement: 'OVERLAY' }))) < 300, 'the beacon is answered');
  const { events } = await streaming;
  t.same([...new Set(events.map((e) => e.worker))].sort(), [1, 2], 'the stream carries both workers’ events');
  t.ok(events.every((e) => e.outcome === 'invalid' && e.errors.some((p: { path: string }) => p.path === 'placement')), 'each refusal with its field path');

  const state = (await (await fetch(`${serve.admin}/inspect/state`)).json()) as { workers: number[]; topics: { topic: string; refused: number }[] };
  t.same(state.workers, [1, 2], 'the state is both workers’');
  t.equal(state.topics.find((x) => x.topic === 'impression')!.refused, 8, 'refusals add up across workers');

  const cli = (...args: string[]) => run(process.execPath, [CLI, 'dead-letter', ...args], { env: { ...process.env, ...env, GATEWAY_ADMIN_PORT: new URL(serve.admin).port, GATEWAY_ADMIN_HOST: '127.0.0.1' } });
  let listing = JSON.parse((await cli('list', '--json', '--topic', 'widget/impression')).stdout);
  t.equal(listing.entries.length, 8, 'dead-letter list shows every worker’s entries');
  t.same([...new Set(listing.entries.map((e: { id: string }) => e.id.split('/')[0]))].sort(), ['worker-1', 'worker-2'], 'named under each worker’s folder');
  const shown = JSON.parse((await cli('show', listing.entries[0].id)).stdout);
  t.equal(shown.payload.placement, 'OVERLAY', 'dead-letter show prints the payload as stored');
  t.match((await cli('replay', '--dry-run')).stdout, /0 of 8 would pass/, 'before the fix, nothing would pass');
  await serve.stop();

  const dir = join(topicsDir, 'widget', 'impression');
  const v2 = JSON.parse(readFileSync(join(dir, 'v2.avsc'), 'utf8'));
  v2.fields.find((f: { name: string }) => f.name === 'placement').type.symbols.push('OVERLAY');
  addTopicVersion(dir, 3, v2);
  writeFileSync(join(dir, 'topic.yaml'), `access: public\nallowedOrigins: ["${ORIGIN}"]\ndefaultVersion: 3\npartitionKey: widgetId\nmaxEventBytes: 8192\n`);
  t.match((await cli('replay', '--dry-run', '--reason', 'invalid')).stdout, /8 of 8 would pass/, 'after the fix, the dry run says all would pass');

  serve = await startServe(env);
  const replay = await cli('replay', '--topic', 'widget', '--admin', serve.admin);
  t.match(replay.stdout, /8 of 8 accepted/, 'the running cluster re-drives them, each worker its own');
  listing = JSON.parse((await cli('list', '--json')).stdout);
  t.equal(listing.entries.length, 0, 'the dead letter no longer lists them');
  const metrics = await (await fetch(`${serve.admin}/metrics`)).text();
  t.equal(metricValue(metrics, 'tracking_gateway_dead_letter_replayed_total', { outcome: 'accepted' }), 8, 'counted across workers');
  t.equal(await serve.stop(), 0, 'the cluster shuts down cleanly');
  const delivered = readGzipLines(dataDir).filter((l) => l.specversion === '1.0' && /^bad-/.test(l.id));
  t.equal(delivered.length, 8, 'each delivered once');
});
