// How `track` is typed. Without declarations every service, topic and field is accepted;
// `npm run topics:types` writes a `BeaconTopics` type from the topics tree, and
// `create<BeaconTopics>(…)` then checks each call against the schemas at compile time.

/** Per service, per topic: the event of each schema version, and of the topic's default one. */
export type TopicMap = { [service: string]: { [topic: string]: { default: object; [version: number]: object } } };

/** Any service, topic and fields: what an untyped tracker takes. */
export type AnyTopics = { [service: string]: { [topic: string]: { default: Record<string, unknown>; [version: number]: Record<string, unknown> } } };

/** The envelope attributes an event may carry beside its fields; the tracker fills both. */
export interface Reserved {
  /** Event id, for deduplication downstream; default a random UUID. */
  $id?: string;
  /** When it happened: ms since the epoch or RFC 3339; default the time of `track`. */
  $time?: number | string;
}

/** The version numbers a topic has. */
export type VersionOf<Topic> = Exclude<keyof Topic, 'default'> & number;

/** The event of version V, or of the default version when V is not given. */
export type EventOf<Topic, V> = ([V] extends [never] ? Topic[keyof Topic & 'default'] : Topic[V & keyof Topic]) & Reserved;
