/**
 * Events other services can subscribe to (WEBHOOK_URLS), each as `{type, timestamp, data}` with
 * destinations masked and never a code.
 */
export const EVENT_TYPES = [
  'verification.started',
  'verification.delivery',
  'verification.approved',
  'verification.locked',
  'verification.canceled',
  'user.created',
  'user.deleted',
  'session.revoked',
  'fraud.suspended',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The port any module publishes events through; the webhooks module implements it with a durable
 * queue and signed deliveries. Publishing never throws and never waits for a receiver: an event that
 * cannot be queued is logged and dropped, the action it reports stands.
 */
export interface EventPublisher {
  /** False when no receiver is configured: callers may skip building an event's data. */
  readonly enabled: boolean;
  publish(type: EventType, data: Record<string, unknown>): Promise<void>;
}

export const EventPublisher = Symbol('EventPublisher');
