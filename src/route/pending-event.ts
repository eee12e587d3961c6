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
  /**
   * Set for events replayed from the spool: when no hop before the spool takes the event now,
   * it is handed back here (it is still in the spool) instead of being spooled again.
   */
  giveBack?: (event: GatewayEvent) => void;
}
