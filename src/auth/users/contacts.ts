import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { ContactKind } from '../../database/schema.js';

export interface Contact {
  kind: ContactKind;
  value: string;
}

/** Stored and looked up lower-cased and trimmed, so `Ann@Example.com ` and `ann@example.com` are one account. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** E.164 (`+447911123456`), or undefined when it is not a valid international number. */
export function normalizePhone(phone: string): string | undefined {
  const parsed = parsePhoneNumberFromString(phone.trim());
  return parsed?.isValid() ? parsed.number : undefined;
}

/** A login identifier is an email address when it has an `@`, otherwise a phone number. */
export function parseIdentifier(identifier: string): Contact | undefined {
  if (identifier.includes('@')) {
    const email = normalizeEmail(identifier);
    return email.length > 2 ? { kind: 'email', value: email } : undefined;
  }
  const phone = normalizePhone(identifier);
  return phone ? { kind: 'phone', value: phone } : undefined;
}
