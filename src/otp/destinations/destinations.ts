import type { Channel } from '../../config/configuration.types.js';
import { ValidationFailedError } from '../../common/errors.js';
import { maskEmail, maskPhone } from '../../common/masked-destination.js';
import { DestinationNotAllowedError } from '../otp.errors.js';
import { normalizeEmailAddress, parseContact, parsePhoneNumber, type PhonePolicy, phoneRefusal } from './addresses.js';

export interface Destination {
  /** Lower-cased email address or E.164 number: the key for limits and pending verifications, and where the message goes. */
  normalized: string;
  masked: string;
  country?: string;
}

const EMAIL_MESSAGE = 'to must be an email address';
const E164 = /^\+[0-9]{8,15}$/;

/**
 * Email addresses are trimmed and lower-cased; phone numbers must be valid E.164, of an allowed
 * country and number type (400 `DESTINATION_NOT_ALLOWED` otherwise, before anything is stored).
 */
export function normalizeDestination(channel: Channel, to: string, policy: PhonePolicy): Destination {
  if (channel === 'email') {
    const email = normalizeEmailAddress(to);
    if (!email) throw new ValidationFailedError({ to: [EMAIL_MESSAGE] });
    return { normalized: email, masked: maskEmail(email) };
  }
  const phone = E164.test(to.trim()) ? parsePhoneNumber(to) : undefined;
  if (!phone) {
    throw new ValidationFailedError({ to: ['to must be a valid phone number in E.164 format, such as +447911123456'] });
  }
  const refusal = phoneRefusal(phone, policy);
  if (refusal) throw new DestinationNotAllowedError(phone.country, refusal);
  return { normalized: phone.e164, masked: maskPhone(phone.e164, phone.callingCode), country: phone.country };
}

/** For the admin route and checks by `to`: whichever kind the value looks like, normalized the same way as on send. */
export function normalizeAnyDestination(value: string): string {
  const trimmed = value.trim();
  // Neither: as given (an address lower-cased), which no send is keyed by.
  return parseContact(trimmed)?.value ?? (trimmed.includes('@') ? trimmed.toLowerCase() : trimmed);
}
