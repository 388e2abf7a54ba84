import { Injectable, Logger } from '@nestjs/common';

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

/** Until outgoing events are configured: the event as an audit line, beside the guard's own WARN line. */
@Injectable()
export class AuditedFraudEvents implements FraudEvents {
  private readonly audit = new Logger('Audit');

  suspended(event: FraudSuspendedEvent): void {
    this.audit.log({ event: 'fraud.suspended', ...event });
  }
}
