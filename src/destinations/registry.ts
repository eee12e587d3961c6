import { Type, type TObject, type TOptional } from '@sinclair/typebox';
import type { DestinationEntry, DestinationType } from './destination-type';
import { fileType } from './file/file-type';
import { firehoseType } from './firehose/firehose-type';
import { kafkaType } from './kafka/kafka-type';
import { kinesisType } from './kinesis/kinesis-type';

// Every destination type the gateway knows. Adding one is a folder under src/destinations
// (its descriptor in <type>/<type>-type.ts) and one line here; the core names no vendor.

export interface DestinationRegistry {
  /**
   * The types, in the order their environment variables are applied: destinations those add
   * keep this order, which is the default route's when the config file names none.
   */
  readonly types: readonly DestinationType[];
  /** What runs when neither the config file nor the environment names a destination. */
  readonly embeddedDefault: Readonly<Record<string, DestinationEntry>>;
}

export const destinationRegistry: DestinationRegistry = {
  types: [
    kafkaType,
    kinesisType,
    firehoseType,
    // Last: FILE_S3_BUCKET with other variables adds the file destination at the end of the route.
    fileType,
  ],
  // No Kafka, no AWS: gzip NDJSON files under dataDir.
  embeddedDefault: { file: { type: fileType.type } },
};

/** The type a config entry names, if the registry has it. */
export function destinationTypeOf(registry: DestinationRegistry, type: string): DestinationType | undefined {
  return registry.types.find((t) => t.type === type);
}

/** Built once per registry, so that the topic validator compiled for it is reused. */
const optionsSchemas = new WeakMap<DestinationRegistry, TObject>();

/**
 * The schema of a topic file's `destinationOptions`: one optional key per type that declares
 * `topicOptions`, nothing else. The topics loader is handed it, so that topics/ imports no
 * destination.
 */
export function destinationOptionsSchema(registry: DestinationRegistry): TObject {
  let schema = optionsSchemas.get(registry);
  if (!schema) {
    const properties: Record<string, TOptional<TObject>> = {};
    for (const type of registry.types) if (type.topicOptions) properties[type.type] = Type.Optional(type.topicOptions);
    optionsSchemas.set(registry, (schema = Type.Object(properties, { additionalProperties: false, default: {} })));
  }
  return schema;
}

