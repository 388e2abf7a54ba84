import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Channel } from '../../config/configuration.types.js';
import { isEmailAddress } from '../../config/environment.schema.js';
import { ValidationFailedError } from '../../common/errors.js';
import { DestinationNotAllowedError } from '../otp.errors.js';

export interface Destination {
  /** Lower-cased email address or E.164 number: the key for limits and pending verifications. */
  normalized: string;
  masked: string;
  country?: string;
}

/** Email addresses are trimmed and lower-cased; phone numbers must be valid E.164. */
export function normalizeDestination(channel: Channel, to: string, allowedCountries: string[] | undefined): Destination {
  const value = to.trim();
  if (channel === 'email') {
    const email = value.toLowerCase();
    if (!isEmailAddress(email)) throw new ValidationFailedError({ to: ['to must be an email address'] });
    return { normalized: email, masked: maskEmail(email) };
  }
  const phone = /^\+[0-9]{8,15}$/.test(value) ? parsePhoneNumberFromString(value) : undefined;
  if (!phone || !phone.isValid()) {
    throw new ValidationFailedError({ to: ['to must be a valid phone number in E.164 format, such as +447911123456'] });
  }
  if (allowedCountries && (!phone.country || !allowedCountries.includes(phone.country))) {
    throw new DestinationNotAllowedError(phone.country);
  }
  return { normalized: phone.number, masked: maskPhone(phone.number, phone.countryCallingCode), country: phone.country };
}

/** For the admin route: whichever kind the value looks like, normalized the same way as on send. */
export function normalizeAnyDestination(value: string): string {
  const trimmed = value.trim();
  if (trimmed.includes('@')) return trimmed.toLowerCase();
  const phone = parsePhoneNumberFromString(trimmed);
  return phone?.isValid() ? phone.number : trimmed;
}

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

export function maskDestination(channel: Channel, normalized: string): string {
  if (channel === 'email') return maskEmail(normalized);
  return maskPhone(normalized, parsePhoneNumberFromString(normalized)?.countryCallingCode);
}
