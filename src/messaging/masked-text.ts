import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Channel } from '../config/configuration.types.js';
import { REDACTED } from '../logging/redaction.js';
import { maskDestination, maskEmail, maskPhone } from '../common/masked-destination.js';

/**
 * Percent-escapes vendors leave in the text they quote back (`To=%2B1500…`, `jane%40corp.example`):
 * decoded first, so an encoded address or number is masked like a plain one. Only the characters an
 * address or a formatted number is written with, so a secret quoted in the text stays as the log's
 * secret scrubbing knows it.
 */
const PERCENT_ESCAPE = /%(2[0BDE89]|40)/gi;

/** An email address as vendors quote it, bare or inside `<…>`, whatever the case. */
const EMAIL = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;

/**
 * A run of at least seven digits that may be a phone number however it was reformatted: with or
 * without `+` or `00`, digits grouped by spaces, dashes, dots, a `+` (a form-encoded space) or an
 * area code in parentheses. Not part of a longer word or id (`SM0123…`, a UUID's groups), and not
 * across `400 (21211)`, where a parenthesis holds more digits than an area code has.
 */
const PHONE_LIKE = /(?<![\w@*-])(?:\+|\((?=\d{1,4}\)))?\d(?:(?:[ .+-]|\)[ .-]?|[ ]?\((?=\d{1,4}\)))?\d){6,18}(?![\w*]|-\w)/g;

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const DATE = /^\d{4}-\d{2}-\d{2}/;

/**
 * A provider's error text as it may be stored or shown (health, a verification's `lastError`, logs,
 * the queue's failed-job reason): vendors echo what they were sent, sometimes reformatted, so every
 * email address and phone-number-like run is masked the way a destination is (`j***@corp.example`,
 * `+1******0001`), the known recipient first; the code, when given, is removed.
 */
export function maskDestinations(text: string, message?: { channel: Channel; to?: string; code?: string }): string {
  let safe = text;
  if (message?.to) safe = safe.split(message.to).join(maskDestination(message.channel, message.to));
  if (message?.code) safe = safe.split(message.code).join(REDACTED);
  safe = safe.replace(PERCENT_ESCAPE, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  safe = safe.replace(EMAIL, (address) => maskEmail(address));
  return safe.replace(PHONE_LIKE, (run) => maskPhoneLike(run));
}

function maskPhoneLike(run: string): string {
  const digits = run.replace(/\D/g, '');
  if (digits.length < 7 || IPV4.test(run) || DATE.test(run)) return run;
  const international = digits.startsWith('00') ? digits.slice(2) : digits;
  const phone = parsePhoneNumberFromString(`+${international}`);
  if (phone?.isValid()) return maskPhone(phone.number, phone.countryCallingCode);
  return `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;
}
