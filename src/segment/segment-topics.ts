import type { TObject } from '@sinclair/typebox';
import type { GatewayConfig } from '../config/config';
import { loadTopicRegistry, TopicRegistry, type Topic } from '../topics/registry';
import { CATCH_ALL_TRACK, NAMED_CALL_TYPES, type SegmentCallType, type SegmentConfig } from './segment-config';

// Which topic takes which Segment call, from the topics' `segment:` keys: a track by its
// event name (else the catch-all, `track: "*"`), the other call types by their type. Each
// name and type belongs to one topic; the tree is refused at load when two claim it.

export class SegmentTopics {
  private readonly tracks = new Map<string, Topic>();
  private readonly named = new Map<SegmentCallType, Topic>();
  /** The topic of `track: "*"`, if one declares it. */
  readonly catchAll?: Topic;
  /** Publishable keys of public topics that take calls: who may send from a browser. */
  readonly publishableKeys: ReadonlySet<string>;

  constructor(topics: readonly Topic[]) {
    let catchAll: Topic | undefined;
    const keys = new Set<string>();
    for (const topic of topics) {
      const mapping = topic.config.segment;
      if (!mapping) continue;
      for (const name of trackNames(topic)) {
        if (name === CATCH_ALL_TRACK) catchAll ??= topic;
        else if (!this.tracks.has(name)) this.tracks.set(name, topic);
      }
      for (const type of NAMED_CALL_TYPES) if (mapping[type] && !this.named.has(type)) this.named.set(type, topic);
      if (topic.config.access === 'public') for (const key of topic.config.publishableKeys) keys.add(key);
    }
    this.catchAll = catchAll;
    this.publishableKeys = keys;
  }

  /** The topic a call goes to: by event name for a track, by type otherwise. */
  topicFor(type: SegmentCallType, event: string | undefined): Topic | undefined {
    if (type === 'track') return (event !== undefined ? this.tracks.get(event) : undefined) ?? this.catchAll;
    return this.named.get(type);
  }

  get size(): number {
    return this.tracks.size + this.named.size + (this.catchAll ? 1 : 0);
  }
}

function trackNames(topic: Topic): string[] {
  const track = topic.config.segment?.track;
  return track === undefined ? [] : Array.isArray(track) ? track : [track];
}

/** Event names and call types that two topics claim: each one problem naming both topics. */
export function segmentMappingProblems(topics: readonly Topic[]): string[] {
  const owners = new Map<string, Topic>();
  const problems: string[] = [];
  const claim = (what: string, topic: Topic) => {
    const owner = owners.get(what);
    if (owner) problems.push(`${topic.service}/${topic.name}: segment ${what} is taken by ${owner.service}/${owner.name} already; each belongs to one topic`);
    else owners.set(what, topic);
  };
  for (const topic of topics) {
    const mapping = topic.config.segment;
    if (!mapping) continue;
    for (const name of trackNames(topic)) claim(name === CATCH_ALL_TRACK ? 'track "*" (the catch-all)' : `track "${name}"`, topic);
    for (const type of NAMED_CALL_TYPES) if (mapping[type]) claim(type, topic);
  }
  return problems;
}

/**
 * Whether the gateway serves a topic: not one that takes only Segment call types the config
 * leaves off (the shipped segment/identify while `segment.calls` lacks identify), so that no
 * route, destination or Kafka topic has to exist for a call type nobody turned on.
 */
export function isServed(topic: Topic, segment: SegmentConfig): boolean {
  const mapping = topic.config.segment;
  if (!mapping || mapping.track !== undefined) return true;
  return segment.enabled && NAMED_CALL_TYPES.some((type) => mapping[type] === true && segment.calls.includes(type));
}

/**
 * The topics the gateway serves: those of the tree under `config.topicsDir` that isServed
 * keeps. The gateway, the primary's registry API and the dead-letter dry run all see these.
 */
export function loadServedTopics(config: Readonly<Pick<GatewayConfig, 'topicsDir' | 'segment'>>, destinationOptions: TObject): TopicRegistry {
  const loaded = loadTopicRegistry(config.topicsDir, destinationOptions);
  return new TopicRegistry(loaded.list().filter((topic) => isServed(topic, config.segment)));
}
