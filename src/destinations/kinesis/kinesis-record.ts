import { toCloudEventJson, type GatewayEvent } from '../../envelope/envelope';
import { singleObjectHeader } from './avro-single-object';
import type { KinesisFormat } from './config';
import { partitionKeyOf } from './partition-key';

// One event as one Kinesis record: never packed, because consumers read records one by one and
// the partition key (hence the shard, hence the order) belongs to each event.

export interface KinesisRecord {
  data: Buffer;
  partitionKey: string;
  /** What Kinesis counts against its limits: data plus the partition key's UTF-8 bytes. */
  bytes: number;
}

/**
 * `cloudevents-json`: the CloudEvents structured JSON of the event (a Firehose line without its
 * newline), every attribute kept. `avro`: the Avro single-object encoding of the data, the
 * request's own datum when the client sent this very version as Avro (as on Kafka), else the
 * validated data encoded; the envelope's attributes are not carried.
 */
export function toKinesisRecord(event: GatewayEvent, format: KinesisFormat): KinesisRecord {
  const data =
    format === 'avro'
      ? Buffer.concat([singleObjectHeader(event.schema.type), event.datum ?? event.schema.type.toBuffer(event.data)])
      : Buffer.from(toCloudEventJson(event), 'utf8');
  const partitionKey = partitionKeyOf(event);
  return { data, partitionKey, bytes: data.length + Buffer.byteLength(partitionKey, 'utf8') };
}
