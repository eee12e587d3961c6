import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runSchemathesis } from '../harness/schemathesis';
import { metricValue, removeDir, tempDir, TEST_SERVICE_KEY } from '../helpers/gateway';
import { startServe } from '../helpers/process';

// schemathesis, from outside: a gateway process as users run it, fuzzed from its own
// GET /v1/openapi.json. Every answer must be documented (status, content type, headers, body
// schema) and none may be a 5xx. Bounded: at most FUZZ_EXAMPLES cases per operation and phase,
// at most FUZZ_SECONDS in all, killed past KILL_AFTER_MS.

const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_headers_conformance', 'response_schema_conformance'].join(',');
const SEGMENT_CALLS = 'track,identify,page,screen,group,alias';
const FUZZ_EXAMPLES = '50';
const FUZZ_SECONDS = '100';
const KILL_AFTER_MS = 170_000;
// The first run on a machine also installs schemathesis from PyPI into .cache/.
t.setTimeout(8 * 60_000);

t.test('schemathesis finds no 5xx and no answer the OpenAPI document does not describe', async (t) => {
  const dataDir = tempDir();
  const workDir = tempDir('tg-schemathesis-');
  t.teardown(() => {
    removeDir(dataDir);
    removeDir(workDir);
  });
  // Every Segment call type taken, so that the fuzzer's calls reach their topics' schemas.
  const gateway = await startServe({ GATEWAY_DATA_DIR: dataDir, GATEWAY_SEGMENT_CALLS: SEGMENT_CALLS });
  t.teardown(() => gateway.child.kill('SIGKILL'));

  const run = await runSchemathesis(
    [
      `${gateway.base}/v1/openapi.json`,
      '--checks', CHECKS,
      '--header', `Authorization: Bearer ${TEST_SERVICE_KEY}`,
      '--max-examples', FUZZ_EXAMPLES,
      '--max-time', FUZZ_SECONDS,
      // One worker: with two threads, CPython 3.11's ast.parse (hypothesis describing its
      // strategies) now and then raises "AST constructor recursion depth mismatch"
      // (python/cpython#106905), a runtime error of the fuzzer that fails the run.
      '--workers', '1',
      '--request-timeout', '10',
      '--generation-database', 'none',
      '--no-color',
    ],
    KILL_AFTER_MS,
    workDir,
  );
  t.equal(run.code, 0, 'schemathesis passed every check', { output: run.output.slice(-20_000) });
  const generated = Number(/(\d+) generated/.exec(run.output)?.[1] ?? 0);
  t.ok(generated >= 500, `schemathesis ran ${generated} test cases`);
  t.comment(/Seed: \d+/.exec(run.output)?.[0] ?? 'no seed printed');

  // The fuzzer reached the endpoints' core, not only their refusals.
  const metrics = await (await fetch(`${gateway.admin}/metrics`)).text();
  const answered = (route: string, method: string, status: string) => metricValue(metrics, 'tracking_gateway_http_requests_total', { route, method, status_code: status });
  t.ok(answered('/v1/events/:service/:topic', 'POST', '200') > 0, 'service events were accepted');
  t.ok(answered('/v1/beacon/:service/:topic', 'POST', '204') + answered('/v1/in/:service/:topic', 'POST', '204') > 0, 'beacons were taken');
  t.ok(answered('/v1/beacon/:service/:topic', 'GET', '200') + answered('/v1/in/:service/:topic', 'GET', '200') > 0, 'pixels were answered');
  t.ok(answered('/v1/events/:service/:topic', 'POST', '422') > 0, 'invalid service events were refused');
  t.ok(metricValue(metrics, 'tracking_gateway_segment_calls_total', { outcome: 'accepted' }) > 0, 'Segment calls were accepted');
  t.ok(metricValue(metrics, 'tracking_gateway_segment_calls_total', { outcome: 'refused' }) > 0, 'Segment calls were refused one by one');
  const segmentRoutes = [...new Set([...metrics.matchAll(/route="(\/v1\/(?:batch|b|track|t|identify|i|page|p|screen|s|group|g|alias|a|projects\/:writeKey\/settings))"/g)].map((m) => m[1]))];
  t.ok(segmentRoutes.length >= 15, `the Segment routes were reached: ${segmentRoutes.join(' ')}`);
  for (const route of segmentRoutes) {
    const fiveXx = ['500', '502', '503', '504'].reduce((sum, status) => sum + metricValue(metrics, 'tracking_gateway_http_requests_total', { route, status_code: status }), 0);
    t.equal(fiveXx, 0, `no 5xx on ${route}`);
  }
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { status_code: '500' }), 0, 'no 500 on any route');
});

t.test('the same checks fail on a document that leaves out an answer or a body the gateway gives', async (t) => {
  const dataDir = tempDir();
  const workDir = tempDir('tg-schemathesis-');
  t.teardown(() => {
    removeDir(dataDir);
    removeDir(workDir);
  });
  const gateway = await startServe({ GATEWAY_DATA_DIR: dataDir });
  t.teardown(() => gateway.child.kill('SIGKILL'));

  // The list of topics documented without its 200, and the document itself with a property it lacks.
  const document = (await (await fetch(`${gateway.base}/v1/openapi.json`)).json()) as any;
  delete document.paths['/v1/topics'].get.responses['200'];
  document.paths['/v1/openapi.json'].get.responses['200'].content['application/json'].schema.required.push('notAField');
  const file = join(workDir, 'openapi.json');
  writeFileSync(file, JSON.stringify(document));

  const run = await runSchemathesis(
    [file, '--url', gateway.base, '--checks', CHECKS, '--include-path-regex', '^/v1/(topics|openapi\\.json)$', '--include-method', 'GET', '--max-examples', '5', '--phases', 'fuzzing', '--generation-database', 'none', '--no-color'],
    60_000,
    workDir,
  );
  t.equal(run.code, 1, 'schemathesis failed the run', { output: run.output.slice(-5_000) });
  t.match(run.output, /Undocumented status code/);
  t.match(run.output, /Received: 200/);
  t.match(run.output, /Response violates schema/);
  t.match(run.output, /notAField/);
});
