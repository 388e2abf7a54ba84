import type { Channel } from '../config/configuration.types.js';

/** Notices that carry no code (e.g. "your password was changed"), sent through the same failover chains. */
export interface Notifier {
  /** Best effort: resolves once the notice went out or every provider failed; never throws. */
  passwordChanged(channel: Channel, to: string, locale: string): Promise<void>;
}

export const Notifier = Symbol('Notifier');
