import type { Topic } from '../topics/registry';

// The public routes' paths, configured once (`server.paths`) and read from here by every
// part that answers or names them: the Fastify routes, the pixel fast path, topic discovery
// and the CloudEvents `source`. A site serving the gateway under its own domain can give it
// its own prefix, and an alias that no filter list blocks, without a rewrite in the proxy.

export interface PathsConfig {
  /** Before every public route: `/v1`, or a path of the site's own such as `/assets/t`. */
  prefix: string;
  beacon: string;
  /**
   * A second name for the beacon endpoints, `<prefix>/<beaconAlias>/:service/:topic`, and for
   * the tracker script, `<prefix>/<beaconAlias>.js`; empty for none.
   */
  beaconAlias: string;
  events: string;
  topics: string;
  /** The browser tracker's file name. */
  tracker: string;
}

// One path segment of unreserved characters (RFC 3986 §2.3): nothing a router or a proxy
// would decode, split or normalise differently from the gateway.
const SEGMENT = '[A-Za-z0-9._~-]+';

/**
 * `in`: the default alias. Checked on 2026-07-14's EasyList and EasyPrivacy with Brave's
 * adblock engine, and against AdGuard Tracking Protection's generic URL rules: first-party
 * `<prefix>/in/<service>/<topic>` (pixel, sendBeacon, fetch) and `<prefix>/in.js` match no
 * rule, where `/v1/tracker.js` does. Lists change; the name is configuration for that reason.
 */
export const DEFAULT_BEACON_ALIAS = 'in';

export const pathsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    prefix: { type: 'string', pattern: `^(/${SEGMENT})*$`, default: '/v1' },
    beacon: { type: 'string', pattern: `^${SEGMENT}$`, default: 'beacon' },
    beaconAlias: { type: 'string', pattern: `^(${SEGMENT})?$`, default: DEFAULT_BEACON_ALIAS },
    events: { type: 'string', pattern: `^${SEGMENT}$`, default: 'events' },
    topics: { type: 'string', pattern: `^${SEGMENT}$`, default: 'topics' },
    tracker: { type: 'string', pattern: `^${SEGMENT}$`, default: 'tracker.js' },
  },
} as const;

/** The OpenAPI document's name under the prefix; no other route may take it. */
export const OPENAPI_NAME = 'openapi.json';

/** Names that would put two routes on one path; empty when there are none. */
export function pathProblems(paths: PathsConfig): string[] {
  const names: [string, string][] = [
    ['beacon', paths.beacon],
    ['events', paths.events],
    ['topics', paths.topics],
    ['tracker', paths.tracker],
  ];
  if (paths.beaconAlias) names.push(['beaconAlias', paths.beaconAlias], ['beaconAlias (its script)', `${paths.beaconAlias}.js`]);
  const problems: string[] = [];
  for (const [key, name] of names) if (name === OPENAPI_NAME) problems.push(`server.paths.${key} is "${name}", the OpenAPI document's name; choose another`);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      if (names[i][1] === names[j][1]) problems.push(`server.paths.${names[j][0]} is "${names[j][1]}", as server.paths.${names[i][0]} is; each route needs a name of its own`);
    }
  }
  return problems;
}

export interface PublicPaths {
  /** Fastify patterns of the beacon endpoints: the beacon path, then its alias if any. */
  beaconRoutes: string[];
  /** What a beacon URL starts with, for each of `beaconRoutes` in the same order. */
  beaconPrefixes: string[];
  eventsRoute: string;
  /** `<prefix>/<topics>`: the list; the topic and version routes hang below it. */
  topicsRoute: string;
  /** The tracker script: its own name, then the alias's if any. */
  trackerRoutes: string[];
  /** `<prefix>/openapi.json`: the OpenAPI document of these routes. */
  openApiRoute: string;
  /** The beacon endpoint of a topic: what discovery lists and the CloudEvents `source` names. */
  beaconPath(topic: Topic): string;
  eventsPath(topic: Topic): string;
}

export function publicPaths(paths: PathsConfig): PublicPaths {
  const { prefix } = paths;
  const beaconNames = paths.beaconAlias ? [paths.beacon, paths.beaconAlias] : [paths.beacon];
  return {
    beaconRoutes: beaconNames.map((name) => `${prefix}/${name}/:service/:topic`),
    beaconPrefixes: beaconNames.map((name) => `${prefix}/${name}/`),
    eventsRoute: `${prefix}/${paths.events}/:service/:topic`,
    topicsRoute: `${prefix}/${paths.topics}`,
    trackerRoutes: paths.beaconAlias ? [`${prefix}/${paths.tracker}`, `${prefix}/${paths.beaconAlias}.js`] : [`${prefix}/${paths.tracker}`],
    openApiRoute: `${prefix}/${OPENAPI_NAME}`,
    beaconPath: (topic) => `${prefix}/${paths.beacon}/${topic.service}/${topic.name}`,
    eventsPath: (topic) => `${prefix}/${paths.events}/${topic.service}/${topic.name}`,
  };
}
