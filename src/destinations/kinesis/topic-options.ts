import { Type } from '@sinclair/typebox';
import type { Topic } from '../../topics/registry';
import { topicOptions } from '../destination-type';
import { KINESIS, kinesisFormatSchema, type KinesisFormat } from './config';

/** What a topic file may set under `destinationOptions.kinesis`. */
export const kinesisTopicOptions = Type.Object(
  {
    /** This topic's record value, over the destination's `format`. */
    format: Type.Optional(kinesisFormatSchema()),
  },
  { additionalProperties: false },
);

// The kinesis type's name and topic options, not kinesisType itself: kinesis-type.ts imports
// this folder's destination, which imports this file.
const KINESIS_OPTIONS = { type: KINESIS, topicOptions: kinesisTopicOptions };

/** The format a topic asks for, if any (its file was validated against kinesisTopicOptions). */
export function topicFormat(topic: Topic): KinesisFormat | undefined {
  return topicOptions(topic, KINESIS_OPTIONS)?.format;
}
