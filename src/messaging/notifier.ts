import type { Channel } from '../config/configuration.types.js';

/** Notices that carry no code (e.g. "your password was changed"), sent through the same failover chains. */
export interface Notifier {
  /** Best effort: resolves once the notice went out or every provider failed; never throws. */
  passwordChanged(channel: Channel, to: string, locale: string): Promise<void>;
  /** To the contact being replaced (or the account's others when one is added), naming the new one masked. Never throws. */
  contactChanged(channel: Channel, to: string, change: ContactChange, locale: string): Promise<void>;
}

export const Notifier = Symbol('Notifier');

/** What the contact-changed notice says: which kind of contact changed, and the new one, already masked. */
export interface ContactChange {
  kind: 'email' | 'phone';
  /** Masked (`p***@example.com`, `+44******0123`): a notice must not hand the new address to whoever reads the old one. */
  newContact: string;
}
