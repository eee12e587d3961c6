// The Helm chart as an SRE deploys it: lint, render every CI values file, validate each
// object against the Kubernetes and prometheus-operator schemas, and check the properties
// the gateway's runtime contract depends on.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { IContainer, IPodSpec, IVolume } from 'kubernetes-models/v1';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import YAML from 'yaml';
import { buildConfig } from '../../src/config/config';
import { chartDir, chooseHelm, helmVersion, renderChart, runHelm } from './helm-cli';
import { type Manifest, validateManifest } from './kubernetes-schemas';

// A cold `go install` of helm takes 2–3 minutes on CI's two cores.
const ENSURE_HELM_TIMEOUT_MS = 10 * 60 * 1000;

// Metric names of the gateway's contract (prefix tracking_gateway_) and the prom-client defaults
// the dashboard uses; alerts and panels must not query anything else.
const CONTRACT_METRICS = new Set([
  'http_requests_total', 'http_request_duration_seconds', 'events_total', 'events_rejected_total',
  'events_dead_lettered_total', 'event_lag_seconds', 'batch_records', 'batch_bytes',
  'destination_records_total', 'destination_send_duration_seconds', 'destination_state',
  'destination_learned_rate_records_per_second', 'fallbacks_total', 'buffer_bytes',
  'buffer_limit_bytes', 'spool_bytes', 'spool_records', 'spool_replayed_records_total',
  'torn_tails_cut_total', 'torn_tail_bytes_cut_total', 'disk_append_failures_total', 'background_errors_total', 'spool_limit_bytes', 'spool_full_rejections_total', 'events_dropped_total',
  'firehose_events_per_record', 'kafka_produce_requests_total', 'kafka_in_flight_requests', 'kafka_connected', 'ready',
  'route_events_total', 'destination_misconfigured',
].map((name) => `tracking_gateway_${name}`).concat(['process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']));

t.setTimeout(ENSURE_HELM_TIMEOUT_MS + 60_000);
const chosen = chooseHelm();
const helm = chosen.path;
// Which helm ran goes into the test output, so a failure can be told from a helm mismatch.
t.comment(`helm: ${helm} (${chosen.source}), ${helmVersion(helm)}`);

const ciDir = path.join(chartDir, 'ci');
const renderings: { name: string; valuesFiles: string[] }[] = [
  { name: 'default values', valuesFiles: [] },
  ...readdirSync(ciDir)
    .filter((file) => file.endsWith('-values.yaml'))
    .sort()
    .map((file) => ({ name: `ci/${file}`, valuesFiles: [path.join(ciDir, file)] })),
];

function byKind(manifests: Manifest[], kind: string): Manifest[] {
  return manifests.filter((manifest) => manifest.kind === kind);
}

function workload(manifests: Manifest[]): Manifest {
  const workloads = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet');
  if (workloads.length !== 1) throw new Error(`expected one workload, got ${workloads.length}`);
  return workloads[0]!;
}

interface WorkloadSpec {
  replicas?: number;
  template: { metadata: { annotations: Record<string, string> }; spec: IPodSpec };
  volumeClaimTemplates?: IPersistentVolumeClaim[];
}

function podSpec(manifests: Manifest[]): IPodSpec {
  return (workload(manifests).spec as WorkloadSpec).template.spec;
}

function gatewayContainer(spec: IPodSpec): IContainer {
  const container = spec.containers.find((c) => c.name === 'gateway');
  if (!container) throw new Error('no gateway container');
  return container;
}

function envValue(container: IContainer, name: string): string {
  const value = container.env?.find((env) => env.name === name)?.value;
  if (value === undefined) throw new Error(`env ${name} not set`);
  return value;
}

function portNumber(container: IContainer, name: string): number {
  const port = container.ports?.find((p) => p.name === name);
  if (!port) throw new Error(`no container port ${name}`);
  return port.containerPort;
}

/** The volume mounted exactly at mountPath. */
function volumeAt(spec: IPodSpec, container: IContainer, mountPath: string): IVolume | undefined {
  const mount = container.volumeMounts?.find((m) => m.mountPath === mountPath);
  return mount && spec.volumes?.find((v) => v.name === mount.name);
}

function configMapData(manifests: Manifest[], name: string): Record<string, string> | undefined {
  return byKind(manifests, 'ConfigMap').find((m) => m.metadata.name === name)?.data as Record<string, string> | undefined;
}

interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  ports?: { name?: string; port: number; targetPort?: number | string }[];
}

t.test('helm lint passes for the default and every CI values file', async (t) => {
  for (const { name, valuesFiles } of renderings) {
    const result = runHelm(helm, ['lint', chartDir, '--strict', ...valuesFiles.flatMap((f) => ['--values', f])]);
    t.equal(result.status, 0, `${name}: ${result.stdout}${result.stderr}`);
  }
});

for (const { name, valuesFiles } of renderings) {
  t.test(`rendering with ${name}`, async (t) => {
    const manifests = renderChart(helm, valuesFiles);

    t.test('every object is valid against its Kubernetes schema, with no unknown field', async (t) => {
      for (const manifest of manifests) {
        t.same(validateManifest(manifest), [], `${manifest.kind}/${manifest.metadata.name}`);
      }
    });

    const spec = podSpec(manifests);
    const container = gatewayContainer(spec);
    const adminPort = portNumber(container, 'admin');
    const httpPort = portNumber(container, 'http');

    t.test('ports and probes match the gateway contract', async (t) => {
      t.equal(envValue(container, 'GATEWAY_PORT'), String(httpPort));
      t.equal(envValue(container, 'GATEWAY_ADMIN_PORT'), String(adminPort));
      t.match(container.startupProbe, { httpGet: { path: '/healthz', port: 'admin' } });
      t.match(container.livenessProbe, { httpGet: { path: '/healthz', port: 'admin' } });
      t.match(container.readinessProbe, { httpGet: { path: '/readyz', port: 'admin' } });
    });

    t.test('pod and container run unprivileged on a read-only root', async (t) => {
      t.match(spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      const securityContext = container.securityContext;
      t.equal(securityContext?.runAsNonRoot, true);
      t.equal(securityContext?.readOnlyRootFilesystem, true);
      t.equal(securityContext?.allowPrivilegeEscalation, false);
      t.same(securityContext?.capabilities?.drop, ['ALL']);
      t.equal(securityContext?.seccompProfile?.type, 'RuntimeDefault');
      t.ok(volumeAt(spec, container, '/tmp')?.emptyDir, '/tmp is a writable emptyDir');
    });

    t.test('shutdown: preStop drains, and the grace period outlasts preStop plus the gateway grace', async (t) => {
      const command = container.lifecycle?.preStop?.exec?.command ?? [];
      t.equal(command[0], 'sleep');
      const preStopSeconds = Number(command[1]);
      t.ok(preStopSeconds > 0, 'preStop sleeps');
      const gatewayGraceSeconds = Number(envValue(container, 'GATEWAY_SHUTDOWN_GRACE_MS')) / 1000;
      t.ok(spec.terminationGracePeriodSeconds! > preStopSeconds + gatewayGraceSeconds,
        `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} > ${preStopSeconds} + ${gatewayGraceSeconds}`);
    });

    t.test('config file is mounted where GATEWAY_CONFIG points', async (t) => {
      const configFile = envValue(container, 'GATEWAY_CONFIG');
      const volume = volumeAt(spec, container, path.posix.dirname(configFile));
      const configMapName = volume?.configMap?.name;
      t.ok(configMapName, 'config directory is a ConfigMap volume');
      const data = configMapData(manifests, configMapName!);
      t.ok(data?.[path.posix.basename(configFile)] !== undefined, 'the ConfigMap holds the config file');
    });

    t.test('the gateway accepts the rendered config with the rendered environment', async (t) => {
      const configFile = envValue(container, 'GATEWAY_CONFIG');
      const volume = volumeAt(spec, container, path.posix.dirname(configFile));
      const text = configMapData(manifests, volume!.configMap!.name!)![path.posix.basename(configFile)];
      // Values from Secrets are not in the rendering; any string stands for them.
      const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? 'from-a-secret']));
      const config = buildConfig(YAML.parse(text) ?? {}, env);
      t.ok(config.defaultRoutes.flat().length > 0, `routes: ${config.defaultRoutes.map((r) => r.join(' → ')).join('; ')}`);
      if (env.KAFKA_BROKERS) t.ok(config.defaultRoutes.flat().some((name) => config.destinations[name].type === 'kafka'), 'kafka.brokers puts Kafka on the route');
      if (env.FIREHOSE_STREAMS) t.ok(config.defaultRoutes.flat().some((name) => config.destinations[name].type === 'firehose'), 'firehose.streams puts Firehose on the route');
      if (env.FILE_S3_BUCKET) t.match(config.destinations.file, { type: 'file', s3: { bucket: env.FILE_S3_BUCKET } }, 'fileS3.bucket ships the file destination\'s minute files');
      if (env.KINESIS_STREAMS) t.ok(config.defaultRoutes.flat().some((name) => config.destinations[name].type === 'kinesis'), 'kinesis.streams puts Kinesis on the route');
    });

    t.test('topics tree is mounted where GATEWAY_TOPICS_DIR points', async (t) => {
      const volume = volumeAt(spec, container, envValue(container, 'GATEWAY_TOPICS_DIR'));
      const items = volume?.configMap?.items ?? [];
      t.ok(items.length > 0, 'topics ConfigMap volume maps its keys to paths');
      for (const item of items) {
        t.match(item.path, /^(?:[^/]+\/[^/]+\/(?:v\d+\.avsc|topic\.(?:yaml|json)|schema-ids\.yaml)|retired-schema-ids\.yaml)$/, `${item.path} is <service>/<topic>/<file> (or the tree's retired-schema-ids.yaml)`);
        t.equal(item.key, item.path.replaceAll('/', '__'));
      }
      const paths = items.map((item) => item.path);
      t.ok(paths.includes('widget/impression/v2.avsc') && paths.includes('shop/order-placed/topic.yaml'), 'example topics present');
      const chartOwned = configMapData(manifests, volume!.configMap!.name!);
      if (chartOwned) t.same(Object.keys(chartOwned).sort(), items.map((item) => item.key).sort(), 'every shipped key is mounted');
    });

    t.test('data and spool live on a writable volume', async (t) => {
      const dataDir = envValue(container, 'GATEWAY_DATA_DIR');
      t.ok(envValue(container, 'GATEWAY_SPOOL_DIR').startsWith(`${dataDir}/`), 'spool is inside the data dir');
      const mount = container.volumeMounts?.find((m) => m.mountPath === dataDir);
      t.ok(mount && !mount.readOnly, 'data dir is mounted read-write');
      const workloadSpec = workload(manifests).spec as WorkloadSpec;
      const claim = workloadSpec.volumeClaimTemplates?.find((c) => c.metadata?.name === mount?.name);
      const emptyDir = spec.volumes?.find((v) => v.name === mount?.name)?.emptyDir;
      t.ok(claim ?? emptyDir, 'data volume is an emptyDir or a per-pod PersistentVolumeClaim');
      t.equal(workload(manifests).kind, claim ? 'StatefulSet' : 'Deployment');
    });

    t.test('the admin port is on the admin Service only', async (t) => {
      const services = byKind(manifests, 'Service');
      const admin = services.filter((s) => s.metadata.labels?.['app.kubernetes.io/component'] === 'admin');
      t.equal(admin.length, 1, 'one admin Service');
      t.equal((admin[0]!.spec as ServiceSpec).type, 'ClusterIP');
      for (const service of services) {
        const ports = (service.spec as ServiceSpec).ports ?? [];
        const exposesAdmin = ports.some((p) => p.targetPort === 'admin' || p.targetPort === adminPort || p.port === adminPort);
        t.equal(exposesAdmin, service === admin[0], `${service.metadata.name} ${exposesAdmin ? 'exposes' : 'does not expose'} the admin port`);
      }
      const publicService = services.find((s) => s.metadata.labels?.['app.kubernetes.io/component'] === 'ingestion');
      t.same((publicService?.spec as ServiceSpec).ports?.map((p) => p.targetPort), ['http']);
    });

    t.test('the Helm test hook curls /readyz on the admin Service', async (t) => {
      const testPod = byKind(manifests, 'Pod').find((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test');
      const adminService = byKind(manifests, 'Service').find((s) => s.metadata.labels?.['app.kubernetes.io/component'] === 'admin');
      const command = (testPod?.spec as IPodSpec | undefined)?.containers[0]?.command ?? [];
      const adminServicePort = (adminService?.spec as ServiceSpec).ports![0]!.port;
      t.ok(command.includes(`http://${adminService?.metadata.name}:${adminServicePort}/readyz`), command.join(' '));
    });
  });
}

t.test('values that change the config or topics roll the pods', async (t) => {
  const annotations = (set: string[]) =>
    (workload(renderChart(helm, [], set)).spec as WorkloadSpec).template.metadata.annotations;
  const base = annotations([]);
  t.not(annotations(['config.buffer.maxBytes=1048576'])['checksum/config'], base['checksum/config']);
  t.not(annotations(['topics.existingConfigMap=mine', 'topics.files={a/b/v1.avsc}'])['checksum/topics'], base['checksum/topics']);
});

t.test('kafka with SASL reads credentials from the existing Secret', async (t) => {
  const container = gatewayContainer(podSpec(renderChart(helm, [path.join(ciDir, 'kafka-sasl-values.yaml')])));
  t.equal(envValue(container, 'KAFKA_BROKERS'), 'kafka-0.kafka.svc:9093,kafka-1.kafka.svc:9093,kafka-2.kafka.svc:9093');
  for (const [name, key] of [['KAFKA_SASL_USERNAME', 'user'], ['KAFKA_SASL_PASSWORD', 'password']] as const) {
    t.same(container.env?.find((e) => e.name === name)?.valueFrom, { secretKeyRef: { name: 'tracking-gateway-kafka', key } });
  }
});

t.test('service keys come from an existing Secret, mounted whole so that rotation reaches the pod', async (t) => {
  const pod = podSpec(renderChart(helm, [path.join(ciDir, 'service-keys-values.yaml')]));
  const container = gatewayContainer(pod);
  t.equal(envValue(container, 'GATEWAY_KEYS_FILE'), '/etc/tracking-gateway/keys/keys');
  const mount = container.volumeMounts?.find((m) => m.name === 'service-keys');
  t.match(mount, { mountPath: '/etc/tracking-gateway/keys', readOnly: true });
  t.equal(mount?.subPath, undefined, 'no subPath: the kubelet updates the file in place');
  t.same(pod.volumes?.find((v) => v.name === 'service-keys')?.secret, { secretName: 'tracking-gateway-keys', items: [{ key: 'keys', path: 'keys' }] });
  t.equal(gatewayContainer(podSpec(renderChart(helm, []))).env?.find((e) => e.name === 'GATEWAY_KEYS_FILE'), undefined, 'no Secret, no keys file');
});

t.test('firehose with IRSA and a PVC spool runs as an autoscaled StatefulSet', async (t) => {
  const manifests = renderChart(helm, [path.join(ciDir, 'firehose-irsa-pvc-values.yaml')]);
  t.equal(byKind(manifests, 'ServiceAccount')[0]?.metadata.annotations?.['eks.amazonaws.com/role-arn'], 'arn:aws:iam::123456789012:role/tracking-gateway');
  t.equal(envValue(gatewayContainer(podSpec(manifests)), 'FIREHOSE_STREAMS'), 'tracking-events-a,tracking-events-b,tracking-events-c');
  t.match(byKind(manifests, 'HorizontalPodAutoscaler')[0]?.spec, { scaleTargetRef: { kind: 'StatefulSet' } });
  t.equal((workload(manifests).spec as WorkloadSpec).replicas, undefined, 'the HPA owns the replica count');
});

t.test('minute files to S3: FILE_S3_* from fileS3, nothing without a bucket', async (t) => {
  const container = gatewayContainer(podSpec(renderChart(helm, [path.join(ciDir, 'file-s3-values.yaml')])));
  t.same(
    ['FILE_S3_BUCKET', 'FILE_S3_PREFIX', 'FILE_S3_GRACE_SECONDS', 'FILE_S3_KEEP_MINUTES', 'FILE_S3_MAX_PENDING_BYTES'].map((name) => envValue(container, name)),
    ['tracking-minutes', 'raw/tracking', '120', '10', '8589934592'],
  );
  t.equal(container.env?.find((e) => e.name === 'AWS_ENDPOINT_URL_S3'), undefined, 'AWS S3 itself unless endpointUrl is set');
  const withEndpoint = gatewayContainer(podSpec(renderChart(helm, [], ['fileS3.bucket=minutes', 'fileS3.endpointUrl=http://minio:9000'])));
  t.equal(envValue(withEndpoint, 'AWS_ENDPOINT_URL_S3'), 'http://minio:9000');
  t.notOk(gatewayContainer(podSpec(renderChart(helm))).env?.some((e) => e.name.startsWith('FILE_S3_')), 'no bucket, no shipping');
});

t.test('kinesis streams come before the Firehose streams on the chain the environment builds', async (t) => {
  const manifests = renderChart(helm, [path.join(ciDir, 'kinesis-values.yaml')]);
  const container = gatewayContainer(podSpec(manifests));
  t.equal(envValue(container, 'KINESIS_STREAMS'), 'service-events-a,service-events-b');
  t.equal(envValue(container, 'AWS_ENDPOINT_URL_KINESIS'), 'https://kinesis.eu-west-1.amazonaws.com');
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? 'from-a-secret']));
  t.same(buildConfig({}, env).defaultRoute, ['kinesis-service-events-a', 'kinesis-service-events-b', 'firehose-tracking-archive']);
});

t.test('first-party ingress: each host\'s path is the gateway\'s own prefix, to the public Service', async (t) => {
  const manifests = renderChart(helm, [path.join(ciDir, 'first-party-ingress-values.yaml')]);
  const ingress = byKind(manifests, 'Ingress')[0];
  const publicService = byKind(manifests, 'Service').find((s) => s.metadata.labels?.['app.kubernetes.io/component'] === 'ingestion');
  t.match(ingress?.spec, {
    ingressClassName: 'nginx',
    tls: [{ secretName: 'publisher-tls', hosts: ['www.publisher.example'] }],
    rules: [{ host: 'www.publisher.example', http: { paths: [{ path: '/assets/t', pathType: 'Prefix', backend: { service: { name: publicService?.metadata.name, port: { name: 'http' } } } }] } }],
  });
  t.equal(envValue(gatewayContainer(podSpec(manifests)), 'GATEWAY_TRUST_PROXY'), 'true', 'the client address from X-Forwarded-For');
  const defaultPrefix = byKind(renderChart(helm, [], ['ingress.enabled=true', 'ingress.hosts={www.publisher.example}']), 'Ingress')[0];
  t.match(defaultPrefix?.spec, { rules: [{ http: { paths: [{ path: '/v1' }] } }] }, 'without a configured prefix, /v1');
  t.equal(byKind(renderChart(helm), 'Ingress').length, 0, 'no Ingress unless enabled');
});

t.test('monitoring: ServiceMonitor on the admin Service, alerts and dashboard on contract metrics', async (t) => {
  const manifests = renderChart(helm, [path.join(ciDir, 'monitoring-values.yaml')]);
  const serviceMonitor = byKind(manifests, 'ServiceMonitor')[0];
  t.match(serviceMonitor?.spec, { selector: { matchLabels: { 'app.kubernetes.io/component': 'admin' } }, endpoints: [{ port: 'admin', path: '/metrics' }] });

  const rules = (byKind(manifests, 'PrometheusRule')[0]?.spec as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
  t.same(rules.map((r) => r.alert).sort(), [
    'TrackingGatewayDeadLetters', 'TrackingGatewayDestinationDown', 'TrackingGatewayDestinationMisconfigured', 'TrackingGatewayFallbackActive',
    'TrackingGatewayHigh5xxRate', 'TrackingGatewayReadinessFlapping', 'TrackingGatewayRouteBehind', 'TrackingGatewaySpoolGrowing',
  ]);

  const dashboardMap = byKind(manifests, 'ConfigMap').find((m) => m.metadata.labels?.grafana_dashboard === '1');
  t.equal(dashboardMap?.metadata.namespace, 'monitoring');
  const dashboard = JSON.parse((dashboardMap?.data as Record<string, string>)['tracking-gateway.json']!) as { panels: { targets?: { expr: string }[] }[] };
  const panelExprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((target) => target.expr);
  t.ok(panelExprs.length > 10, 'dashboard has queries');
  for (const expr of [...rules.map((r) => r.expr), ...panelExprs]) {
    for (const metric of expr.match(/\b(tracking_gateway|process|nodejs)_[a-z0-9_]+/g) ?? []) {
      t.ok(CONTRACT_METRICS.has(metric.replace(/_bucket$/, '')), `${metric} is a contract metric`);
    }
  }
});

t.test('dashboard file in the chart is the one rendered', async (t) => {
  const file = readFileSync(path.join(chartDir, 'files', 'dashboards', 'tracking-gateway.json'), 'utf8');
  const manifests = renderChart(helm, [], ['dashboard.enabled=true']);
  t.equal(JSON.stringify(JSON.parse((byKind(manifests, 'ConfigMap').find((m) => m.metadata.name.endsWith('-dashboard'))?.data as Record<string, string>)['tracking-gateway.json']!)), JSON.stringify(JSON.parse(file)));
});

t.test('values.schema.json and the chart refuse bad values', async (t) => {
  const refused: [string, string[], RegExp][] = [
    ['a misspelt key', ['gateway.shutdownGraceMS=1000'], /additional properties 'shutdownGraceMS' not allowed/i],
    ['an unknown top-level key', ['servce.port=80'], /additional properties 'servce' not allowed/i],
    ['a wrong type', ['ports.admin=metrics'], /'\/ports\/admin': got string, want integer/],
    ['a Service type outside the enum', ['service.type=Ingress'], /'\/service\/type': value must be one of/],
    ['SASL without its Secret', ['kafka.brokers={k:9092}', 'kafka.sasl.mechanism=plain'], /'\/kafka\/sasl\/existingSecret': minLength/],
    ['a grace period shorter than preStop plus the gateway grace', ['terminationGracePeriodSeconds=25'], /terminationGracePeriodSeconds \(25\) must exceed/],
    ['more workers than CPUs requested', ['gateway.workers=3'], /gateway\.workers \(3\) must be resources\.requests\.cpu \(2\) rounded up \(2\)/],
    ['a CPU limit below the request', ['resources.limits.cpu=1'], /resources\.limits\.cpu \(1\) must be at least resources\.requests\.cpu \(2\)/],
  ];
  for (const [what, set, message] of refused) {
    const result = runHelm(helm, ['template', 'release', chartDir, ...set.flatMap((pair) => ['--set', pair])]);
    t.not(result.status, 0, `${what} fails helm template`);
    t.match(result.stderr, message, what);
  }
});

t.test('workers, the CPU request and the HPA agree: one worker per CPU requested', async (t) => {
  const rendered = (set: string[]) => {
    const manifests = renderChart(helm, [], set);
    const container = gatewayContainer(podSpec(manifests));
    return { workers: Number(envValue(container, 'GATEWAY_WORKERS')), cpu: container.resources?.requests?.cpu, hpa: byKind(manifests, 'HorizontalPodAutoscaler')[0] };
  };
  const defaults = rendered([]);
  t.equal(defaults.workers, 2, 'the default: two workers');
  t.equal(String(defaults.cpu), '2', 'on two requested CPUs');
  t.match(defaults.hpa?.spec, { metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization' } } }] }, 'the HPA scales on CPU utilisation of that request');
  t.equal(rendered(['resources.requests.cpu=500m']).workers, 1, '500m: one worker');
  t.equal(rendered(['resources.requests.cpu=1.5']).workers, 2, '1.5 CPUs: two');
  t.equal(rendered(['resources.requests.cpu=4', 'gateway.workers=4', 'resources.limits.cpu=4']).workers, 4, 'workers stated, agreeing with request and limit');
});
