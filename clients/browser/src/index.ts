// The browser tracker: `create({ endpoint })` → `{ track, flush }`. The IIFE build puts this
// module's exports on `window.TrackingGateway`; the ES module build exports them.

export { create, type Options, type Tracker } from './tracker';
export type { AnyTopics, EventOf, Reserved, TopicMap, VersionOf } from './topics';
