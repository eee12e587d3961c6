import type { DestinationEnv } from '../destination-type';
import { KAFKA } from './config';

/** The destination the KAFKA_* environment variables describe. */
export const ENV_KAFKA_DESTINATION = 'kafka';

/** Environment variables that set one key each of the `kafka` destination. */
export const KAFKA_ENV_OVERRIDES: Readonly<Record<string, string>> = {
  KAFKA_BROKERS: 'brokers',
  KAFKA_CLIENT_ID: 'clientId',
  KAFKA_TLS: 'ssl',
  KAFKA_SASL_MECHANISM: 'sasl.mechanism',
  KAFKA_SASL_USERNAME: 'sasl.username',
  KAFKA_SASL_PASSWORD: 'sasl.password',
  KAFKA_CREATE_TOPICS: 'createTopics.enabled',
};

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * KAFKA_*, applied to the raw config before it is validated: with KAFKA_BROKERS a `kafka`
 * destination exists (created when the file has none of that name, whether or not it names
 * others; when nothing else names a destination it is the only one, so the default route is
 * Kafka). The other variables set keys of that destination when it is there.
 */
export const kafkaEnv: DestinationEnv = {
  apply(destinations, env) {
    const set = Object.keys(KAFKA_ENV_OVERRIDES).filter((name) => env[name] !== undefined && env[name] !== '');
    if (set.length === 0) return;
    if (env.KAFKA_BROKERS) destinations[ENV_KAFKA_DESTINATION] ??= { type: KAFKA };
    const entry = destinations[ENV_KAFKA_DESTINATION];
    if (!isRecord(entry) || entry.type !== KAFKA) return;
    for (const name of set) {
      const value = env[name] as string;
      const key = KAFKA_ENV_OVERRIDES[name];
      if (key === 'brokers') entry.brokers = value.split(',').map((b) => b.trim()).filter((b) => b !== '');
      else if (key.startsWith('sasl.')) entry.sasl = { ...(isRecord(entry.sasl) ? entry.sasl : {}), [key.slice(5)]: value };
      else if (key === 'createTopics.enabled') entry.createTopics = { ...(isRecord(entry.createTopics) ? entry.createTopics : {}), enabled: value };
      else entry[key] = value;
    }
  },
  variableFor(key) {
    const prefix = `destinations.${ENV_KAFKA_DESTINATION}.`;
    if (!key.startsWith(prefix)) return undefined;
    return Object.entries(KAFKA_ENV_OVERRIDES).find(([, k]) => key.slice(prefix.length).startsWith(k))?.[0];
  },
};
