import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Topic } from '../../topics/registry';
import { kinesisFormatSchema, type KinesisFormat } from './config';

/** What a topic file may set under `destinationOptions.kinesis`. */
export const kinesisTopicOptions = Type.Object(
  {
    /** This topic's record value, over the destination's `format`. */
    format: Type.Optional(kinesisFormatSchema()),
  },
  { additionalProperties: false },
);

/**
 * The format a topic asks for, if any. Read defensively: the topic loader validates
 * `destinationOptions` against kinesisTopicOptions, but a config without that plumbing (or an
 * older topic tree) may lack it, and then the destination's own format applies.
 */
export function topicFormat(topic: Topic): KinesisFormat | undefined {
  const config: object = topic.config;
  const all = 'destinationOptions' in config ? config.destinationOptions : undefined;
  const options = typeof all === 'object' && all !== null && 'kinesis' in all ? all.kinesis : undefined;
  return Value.Check(kinesisTopicOptions, options) ? options.format : undefined;
}
