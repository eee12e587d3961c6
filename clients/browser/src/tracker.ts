import { leave, post } from './transport';
import type { AnyTopics, EventOf, VersionOf } from './topics';

// Events wait in memory, per endpoint, until a batch is full or `flushMs` has passed, then go
// out as one text/plain JSON array (no CORS preflight). While the page lives they are sent
// with `fetch` and `keepalive`, whose answer says whether they arrived: after a network error,
// a 5xx or a 429 they are queued again and retried with backoff, with the same `$id`s so that
// a retry of what did arrive is deduplicated downstream. When the page is hidden or left,
// what waits leaves at once with `sendBeacon` (transport.ts), which outlives the page but
// says nothing of delivery. A keepalive fetch under way then goes on without the page, yet
// Chromium fails its promise as the page unloads: after `pagehide` such a failure is not
// retried, or the batch would arrive twice.

export interface Options {
  /** The beacon endpoint without service and topic: `https://www.example.com/v1/in`. */
  endpoint: string;
  /** Events per request; a full batch is sent at once. Default 20. */
  batchSize?: number;
  /** Longest an event waits for its batch, ms. Default 1000. */
  flushMs?: number;
  /** Events held while sends fail; past it `track` refuses new ones. Default 1000. */
  maxQueue?: number;
  /** Track nothing in a browser that sends Global Privacy Control or Do Not Track. */
  respectPrivacySignals?: boolean;
}

export interface Tracker<Topics = AnyTopics> {
  /**
   * Queues one event of `service`/`topic`, of the topic's default schema version or of
   * `version`. False when it is not tracked: privacy signals honoured, or the queue full.
   */
  track<S extends keyof Topics & string, T extends keyof Topics[S] & string, V extends VersionOf<Topics[S][T]> = never>(
    service: S,
    topic: T,
    event: EventOf<Topics[S][T], V>,
    version?: V,
  ): boolean;
  /** Sends every queued event now. */
  flush(): void;
}

/** A random UUID; `crypto.randomUUID` is only there in secure contexts (https, localhost). */
const uuid = (): string =>
  crypto.randomUUID
    ? crypto.randomUUID()
    : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) => (+c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (+c / 4)))).toString(16));

export function create<Topics = AnyTopics>(options: Options): Tracker<Topics> {
  const { endpoint, batchSize = 20, flushMs = 1000, maxQueue = 1000 } = options;
  const privacy = navigator as Navigator & { globalPrivacyControl?: boolean };
  const off = options.respectPrivacySignals && (privacy.globalPrivacyControl || privacy.doNotTrack == '1');
  /** Events waiting, by the URL they go to. */
  const waiting = new Map<string, object[]>();
  let queued = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Sends failed in a row: the backoff grows with it and a full batch waits for it. */
  let failures = 0;
  /** Between `pagehide` and a `pageshow` (back from the back/forward cache). */
  let leaving = false;

  const later = (ms: number) => (timer ??= setTimeout(() => send(false), ms));
  const backoff = () => Math.min(6e4, 500 * 2 ** failures) * (1 + Math.random());

  const enqueue = (url: string, events: object[], first?: boolean) => {
    const list = waiting.get(url) ?? [];
    waiting.set(url, first ? events.concat(list) : list.concat(events));
    queued += events.length;
  };

  /** Sends everything waiting: with fetch while the page lives, with sendBeacon as it goes. */
  const send = (exiting: boolean) => {
    clearTimeout(timer);
    timer = undefined;
    waiting.forEach((events, url) => {
      for (let i = 0; i < events.length; i += batchSize) {
        const batch = events.slice(i, i + batchSize);
        if (exiting) leave(url, batch);
        else
          post(url, batch).then((arrived) => {
            if (arrived || leaving) return void (failures = 0);
            failures++;
            enqueue(url, batch, true);
            clearTimeout(timer);
            timer = undefined;
            later(backoff());
          });
      }
    });
    waiting.clear();
    queued = 0;
  };

  document.addEventListener('visibilitychange', () => document.visibilityState == 'hidden' && send(true));
  addEventListener('pagehide', () => {
    leaving = true;
    send(true);
  });
  addEventListener('pageshow', () => (leaving = false));

  return {
    track(service, topic, event, version?) {
      if (off || queued >= maxQueue) return false;
      enqueue(`${endpoint}/${service}/${topic}${version ? `?v=${version}` : ''}`, [{ $id: uuid(), $time: Date.now(), ...event }]);
      if (queued >= batchSize && !failures) send(false);
      else later(failures ? backoff() : flushMs);
      return true;
    },
    flush: () => send(false),
  };
}
