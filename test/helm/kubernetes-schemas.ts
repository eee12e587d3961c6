// Offline, strict validation of rendered manifests against the Kubernetes OpenAPI schemas
// shipped by kubernetes-models and @kubernetes-models/prometheus-operator.
import { ConfigMap, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

interface ModelClass {
  apiVersion: string;
  kind: string;
  prototype: { validate(): void };
}

// Every kind the chart may render. A kind missing here fails validation rather than
// passing unchecked.
const models: ModelClass[] = [
  ConfigMap, Pod, Service, ServiceAccount, Deployment, StatefulSet,
  HorizontalPodAutoscaler, PodDisruptionBudget, PrometheusRule, ServiceMonitor, Ingress,
];

const modelByType = new Map(models.map((model) => [`${model.apiVersion}/${model.kind}`, model]));

interface ObjectReads {
  path: string;
  keys: string[];
  read: Set<string>;
  enumerated: boolean;
}

// Wraps every object in a Proxy that records which keys the schema validator reads.
function trackReads(value: unknown, path: string, log: ObjectReads[]): unknown {
  if (Array.isArray(value)) return value.map((item, index) => trackReads(item, `${path}/${index}`, log));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const reads: ObjectReads = { path, keys: entries.map(([key]) => key), read: new Set(), enumerated: false };
  log.push(reads);
  const copy = Object.fromEntries(entries.map(([key, field]) => [key, trackReads(field, `${path}/${key}`, log)]));
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'string') reads.read.add(key);
      return Reflect.get(target, key, receiver);
    },
    ownKeys(target) {
      reads.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

/**
 * Returns the problems found in one manifest: schema errors from the model's validate(),
 * and fields the schema does not define.
 *
 * The models' validators (compiled ajv) ignore unknown fields, which is where a typo in a
 * template hides (`readinessProbes:`, `secretKeyRefs:`). They do read every field their
 * schema declares, and enumerate the keys of maps (labels, data, resources). So an object
 * the validator read fields of, without enumerating it, must have no key it did not read.
 * Objects it neither read nor enumerated are free-form in the schema and are left alone.
 */
export function validateManifest(manifest: Manifest): string[] {
  const where = `${manifest.kind}/${manifest.metadata?.name}`;
  const model = modelByType.get(`${manifest.apiVersion}/${manifest.kind}`);
  if (!model) return [`${where}: no schema for ${manifest.apiVersion} ${manifest.kind}`];
  const log: ObjectReads[] = [];
  const tracked = trackReads(manifest, '', log);
  try {
    model.prototype.validate.call(tracked);
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  for (const reads of log) {
    if (reads.enumerated || reads.read.size === 0) continue;
    for (const key of reads.keys) {
      if (!reads.read.has(key)) problems.push(`${where}: unknown field ${reads.path}/${key}`);
    }
  }
  return problems;
}
