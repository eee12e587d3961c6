import type { GatewayEvent } from '../envelope/envelope';
import type { Ack } from './ack';
import type { Route } from './route';

/** An accepted event on its way down its route. */
export interface PendingEvent {
  event: GatewayEvent;
  route: Route;
  /** Index in `route.hops` of the destination it is queued for. */
  hop: number;
  /** Times the whole route was tried and failed. */
  attempts: number;
  /** Set for service requests, whose answer waits until every event is durable. */
  ack?: Ack;
}
