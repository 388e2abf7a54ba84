import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * The one syntax of email addresses and phone numbers, wherever one enters the service: the
 * Verifications API, the auth flows, and OTP_TEST_DESTINATIONS. Limits, pending verifications and
 * accounts are keyed by what these return, and messages go to exactly that, so two spellings that
 * a mail server or carrier would deliver to the same mailbox or handset can never count apart.
 */

/** RFC 5322 `atext`: what a dot-atom local part is made of. */
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const DOMAIN_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/**
 * `local@domain`: a dot-atom local part (no quotes, comments, spaces, commas, angle brackets or
 * control characters) and a host name of two labels or more whose last is not all digits.
 * ASCII only: an internationalized domain is given in its `xn--` form.
 */
const EMAIL_ADDRESS = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*@(?:${DOMAIN_LABEL}\\.)+(?=[A-Za-z0-9-]*[A-Za-z])${DOMAIN_LABEL}$`);
const MAX_LOCAL_PART = 64;
const MAX_ADDRESS = 254;

/** Trimmed and lower-cased, or undefined when it is not `local@domain` as above. */
export function normalizeEmailAddress(value: string): string | undefined {
  const trimmed = value.trim();
  // Checked before lower-casing: a few non-ASCII letters (the Kelvin sign) lower-case to ASCII ones.
  if (trimmed.length > MAX_ADDRESS || !EMAIL_ADDRESS.test(trimmed)) return undefined;
  if (trimmed.indexOf('@') > MAX_LOCAL_PART) return undefined;
  return trimmed.toLowerCase();
}

/** libphonenumber's number types, as `SMS_ALLOWED_NUMBER_TYPES` names them. */
export const PHONE_NUMBER_TYPES = [
  'mobile',
  'fixed_line',
  'fixed_line_or_mobile',
  'voip',
  'toll_free',
  'premium_rate',
  'shared_cost',
  'personal_number',
  'pager',
  'uan',
  'voicemail',
] as const;
export type PhoneNumberType = (typeof PHONE_NUMBER_TYPES)[number];

export interface PhoneNumber {
  /** E.164: `+447911123456`. */
  e164: string;
  callingCode: string;
  /** ISO 3166 alpha-2; undefined for non-geographic numbers (+800, +881, +882, +883…). */
  country: string | undefined;
  /** Undefined when the full metadata cannot tell. */
  type: PhoneNumberType | undefined;
}

/**
 * `+` and the digits, optionally grouped by spaces, hyphens, dots or parentheses as people write
 * them (`+44 7911 123456`); nothing else, so a number cannot hide in surrounding text the way
 * libphonenumber would otherwise find it (`call +44… now`, a trailing NUL, an extension). A
 * character class alone: no pattern here can backtrack.
 */
const INTERNATIONAL_FORM = /^\+[0-9][0-9 ().-]*$/;

/** A valid international number by libphonenumber's full metadata, or undefined. */
export function parsePhoneNumber(value: string): PhoneNumber | undefined {
  const trimmed = value.trim();
  if (trimmed.length > 32 || !INTERNATIONAL_FORM.test(trimmed)) return undefined;
  const phone = parsePhoneNumberFromString(trimmed);
  if (!phone) return undefined;
  // A number with a type is valid: with the full metadata, libphonenumber's isValid() is that same type lookup
  // (one regular expression made and run per pattern tried), so asking it again only for typeless numbers
  // halves the cost of the usual number. A valid number of a plan without types keeps its undefined type.
  const type = phone.getType();
  if (type === undefined && !phone.isValid()) return undefined;
  return {
    e164: phone.number,
    callingCode: phone.countryCallingCode,
    country: phone.country,
    type: type?.toLowerCase() as PhoneNumberType | undefined,
  };
}

/** The E.164 form, or undefined when it is not a valid international number. */
export function normalizePhoneNumber(value: string): string | undefined {
  return parsePhoneNumber(value)?.e164;
}

/** An email address or a phone number, normalized. */
export interface Contact {
  kind: 'email' | 'phone';
  value: string;
}

/**
 * A contact as a person or an operator writes it (a login identifier, an admin route's parameter, an
 * OTP_TEST_DESTINATIONS entry): an email address when it has an `@`, otherwise a phone number;
 * undefined when it is neither.
 */
export function parseContact(value: string): Contact | undefined {
  if (value.includes('@')) {
    const email = normalizeEmailAddress(value);
    return email ? { kind: 'email', value: email } : undefined;
  }
  const phone = normalizePhoneNumber(value);
  return phone ? { kind: 'phone', value: phone } : undefined;
}

/** Which numbers may receive codes: `SMS_ALLOWED_COUNTRIES` and `SMS_ALLOWED_NUMBER_TYPES`. */
export interface PhonePolicy {
  allowedCountries: readonly string[] | undefined;
  allowedNumberTypes: readonly PhoneNumberType[];
}

/**
 * Why a number may not receive codes, in words for the client, or undefined when it may. A number
 * whose type is unknown is refused: premium ranges are exactly the ones an attacker looks for
 * where the metadata is thin.
 */
export function phoneRefusal(phone: PhoneNumber, policy: PhonePolicy): string | undefined {
  if (policy.allowedCountries && (!phone.country || !policy.allowedCountries.includes(phone.country))) {
    return phone.country
      ? `Codes cannot be sent to numbers in ${phone.country}.`
      : 'Codes cannot be sent to numbers outside the allowed countries.';
  }
  if (!phone.type || !policy.allowedNumberTypes.includes(phone.type)) {
    return `Codes cannot be sent to ${phone.type ? `${phone.type.replace(/_/g, ' ')} numbers` : 'numbers of an unknown type'}.`;
  }
  return undefined;
}
