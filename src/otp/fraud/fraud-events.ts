import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventPublisher } from '../../events/event-publisher.port.js';

/** `fraud.suspended`: a country's SMS/WhatsApp sends are refused until `until` (ISO time); never a number in it. */
export interface FraudSuspendedEvent {
  country: string;
  /** The judged sends of the last hour that suspended it, and how many of them were approved. */
  sends: number;
  approved: number;
  until: string;
}

/**
 * Where the fraud guard reports what other systems may want to act on. Reporting never throws and
 * never waits: the suspension stands whatever becomes of its report.
 */
export interface FraudEvents {
  suspended(event: FraudSuspendedEvent): void;
}

export const FraudEvents = Symbol('FraudEvents');

/** An audit line beside the guard's own WARN line, and the `fraud.suspended` event for WEBHOOK_URLS. */
@Injectable()
export class PublishedFraudEvents implements FraudEvents {
  private readonly audit = new Logger('Audit');

  constructor(@Inject(EventPublisher) private readonly events: EventPublisher) {}

  suspended(event: FraudSuspendedEvent): void {
    this.audit.log({ event: 'fraud.suspended', ...event });
    // Not awaited: the send that tipped the country over is answered now. publish() never throws
    // (an event that cannot be queued is logged and dropped), so nothing is left unhandled.
    void this.events.publish('fraud.suspended', { ...event });
  }
}
