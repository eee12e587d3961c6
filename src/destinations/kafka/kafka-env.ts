import { ConfigError } from '../../errors';
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
  KAFKA_VALUE_FORMAT: 'valueFormat',
};

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * KAFKA_*, applied to the raw config before it is validated. When the config file names no
 * destinations, KAFKA_BROKERS makes a `kafka` destination (before any other variable's, so the
 * default route starts with Kafka). When the file names its own, the variables set keys of
 * its destination called `kafka`; a file without one is refused rather than given a Kafka hop
 * its routes never asked for.
 */
export const kafkaEnv: DestinationEnv = {
  apply(destinations, env, fromFile) {
    const set = Object.keys(KAFKA_ENV_OVERRIDES).filter((name) => env[name] !== undefined && env[name] !== '');
    if (set.length === 0) return;
    if (env.KAFKA_BROKERS && !fromFile) destinations[ENV_KAFKA_DESTINATION] ??= { type: KAFKA };
    const entry = destinations[ENV_KAFKA_DESTINATION];
    if (!isRecord(entry) || entry.type !== KAFKA) {
      // With nothing named anywhere, KAFKA_CLIENT_ID and the like without brokers configure nothing.
      if (!fromFile) return;
      throw new ConfigError(
        `invalid config:\n  ${set.join(', ')} set${set.length === 1 ? 's' : ''} keys of destination "${ENV_KAFKA_DESTINATION}" (type kafka), which the config file's destinations do not have: add it there, or unset the variable`,
      );
    }
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
