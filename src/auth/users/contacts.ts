import type { ContactKind } from '../../database/schema.js';
import { normalizeEmailAddress, normalizePhoneNumber } from '../../otp/destinations/addresses.js';

export interface Contact {
  kind: ContactKind;
  value: string;
}

/**
 * Stored and looked up lower-cased and trimmed, so `Ann@Example.com ` and `ann@example.com` are one
 * account; undefined when it is not `local@domain` with a dot-atom local part, the syntax every
 * address entering the service must have (so `(x)ann@example.com` cannot back a second account).
 */
export function normalizeEmail(email: string): string | undefined {
  return normalizeEmailAddress(email);
}

/** E.164 (`+447911123456`), or undefined when it is not a valid international number. */
export function normalizePhone(phone: string): string | undefined {
  return normalizePhoneNumber(phone);
}

/** A login identifier is an email address when it has an `@`, otherwise a phone number. */
export function parseIdentifier(identifier: string): Contact | undefined {
  if (identifier.includes('@')) {
    const email = normalizeEmail(identifier);
    return email ? { kind: 'email', value: email } : undefined;
  }
  const phone = normalizePhone(identifier);
  return phone ? { kind: 'phone', value: phone } : undefined;
}
