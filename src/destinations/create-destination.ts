import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { DestinationConfig, GatewayConfig } from '../config/config';
import { ConfigError } from '../errors';
import type { GatewayMetrics } from '../metrics/metrics';
import type { Destination, DestinationLog } from './destination';
import type { DestinationType } from './destination-type';
import { destinationRegistry, destinationTypeOf, type DestinationRegistry } from './registry';

/** Each type's own metrics, made once per metrics registry (a process has one; tests make many). */
const typeMetrics = new WeakMap<Registry, Map<DestinationType, unknown>>();

function metricsOf(type: DestinationType, registry: Registry): unknown {
  let made = typeMetrics.get(registry);
  if (!made) typeMetrics.set(registry, (made = new Map()));
  if (!made.has(type)) made.set(type, type.metrics?.(registry));
  return made.get(type);
}

/** Builds the destination a config entry describes, through its type in the registry. */
export function createDestination(
  name: string,
  entry: DestinationConfig,
  config: Readonly<GatewayConfig>,
  metrics: GatewayMetrics,
  log: DestinationLog,
  registry: DestinationRegistry = destinationRegistry,
): Destination {
  const type = destinationTypeOf(registry, entry.type);
  // buildConfig refuses unknown types; this is a config built by other means.
  if (!type) throw new ConfigError(`destinations.${name}.type must be one of ${registry.types.map((t) => t.type).join(', ')}`);
  return type.create(name, entry, { dataDir: config.dataDir, metrics: metricsOf(type, metrics.registry), gatewayMetrics: metrics, log });
}

export function spoolDir(config: Readonly<GatewayConfig>): string {
  return config.spool.dir ?? join(config.dataDir, '_spool');
}

export function deadLetterDir(config: Readonly<GatewayConfig>): string {
  return config.deadLetter.dir ?? join(config.dataDir, '_dead-letter');
}
