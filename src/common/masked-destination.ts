import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { Channel } from '../config/configuration.types.js';

/**
 * How a destination is shown wherever it may be read back (responses, logs, audit lines, provider
 * errors): enough to recognise it, never enough to use it. Shared by the OTP core and messaging.
 */

/** `j***@example.com` */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return `${email.slice(0, Math.min(1, at))}***${email.slice(at)}`;
}

/** `+44******3456`: the country calling code and the last four digits. */
export function maskPhone(e164: string, callingCode?: string): string {
  const prefix = `+${callingCode ?? ''}`;
  const hidden = Math.max(0, e164.length - prefix.length - 4);
  return `${prefix}${'*'.repeat(hidden)}${e164.slice(-4)}`;
}

/** A normalized destination of a channel, masked the way that channel's addresses are. */
export function maskDestination(channel: Channel, normalized: string): string {
  if (channel === 'email') return maskEmail(normalized);
  return maskPhone(normalized, parsePhoneNumberFromString(normalized)?.countryCallingCode);
}
