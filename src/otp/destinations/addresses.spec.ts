import fc from 'fast-check';
import { getCountries, getExampleNumber, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import mobileExamples from 'libphonenumber-js/mobile/examples';
import {
  normalizeEmailAddress,
  normalizePhoneNumber,
  parseContact,
  parsePhoneNumber,
  type PhonePolicy,
  phoneRefusal,
} from './addresses.js';

describe('normalizeEmailAddress', () => {
  it.each([
    ['  Ann.Lee@Example.COM ', 'ann.lee@example.com'],
    ["o'brien+otp@mail.example.co.uk", "o'brien+otp@mail.example.co.uk"],
    ['x@xn--bcher-kva.example', 'x@xn--bcher-kva.example'],
  ])('accepts %p as %p', (value, normalized) => {
    expect(normalizeEmailAddress(value)).toBe(normalized);
  });

  it.each([
    ['a comment', '(1)victim@corp.test'],
    ['a trailing comma', 'victim@corp.test,'],
    ['a list', 'victim@corp.test,other@corp.test'],
    ['a quoted local part', '"bomb"@corp.test'],
    ['a NUL byte', 'a\u0000b@corp.test'],
    ['a control character', 'a\u0007b@corp.test'],
    ['angle brackets', '<victim@corp.test>'],
    ['a display name', 'Victim <victim@corp.test>'],
    ['a space', 'vic tim@corp.test'],
    ['a leading dot', '.victim@corp.test'],
    ['two dots in a row', 'vic..tim@corp.test'],
    ['a domain literal', 'victim@[127.0.0.1]'],
    ['a domain without a dot', 'victim@localhost'],
    ['an all-digit top-level label', 'victim@10.0.0.1'],
    ['a lone surrogate', 'a\ud800@corp.test'],
    ['a Kelvin sign that lower-cases to k', '\u212Aate@corp.test'],
    ['two at signs', 'a@b@corp.test'],
    ['a local part over 64 characters', `${'a'.repeat(65)}@corp.test`],
    ['more than 254 characters', `a@${'b'.repeat(250)}.test`],
  ])('refuses %s', (_what, value) => {
    expect(normalizeEmailAddress(value)).toBeUndefined();
  });
});

describe('parsePhoneNumber', () => {
  /** The same answer asked the plain way, validity first and then the type: what the one type lookup must agree with. */
  const askedSeparately = (value: string) => {
    const trimmed = value.trim();
    if (trimmed.length > 32 || !/^\+[0-9][0-9 ().-]*$/.test(trimmed)) return undefined;
    const phone = parsePhoneNumberFromString(trimmed);
    if (!phone || !phone.isValid()) return undefined;
    return { e164: phone.number, callingCode: phone.countryCallingCode, country: phone.country, type: phone.getType()?.toLowerCase() };
  };

  it("agrees with libphonenumber's isValid() and getType() asked separately, on every country's numbers and their neighbours", () => {
    const numbers = getCountries().flatMap((country) => getExampleNumber(country, mobileExamples)?.number ?? []);
    expect(numbers.length).toBeGreaterThan(200);
    // Digits dropped from the end and others added: valid numbers of other types and lengths, and invalid ones.
    const variant = fc
      .tuple(fc.constantFrom(...numbers), fc.nat(4), fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 4 }))
      .map(([number, dropped, added]) => number.slice(0, number.length - dropped) + added.join(''));
    let valid = 0;
    fc.assert(
      fc.property(variant, (number) => {
        const parsed = parsePhoneNumber(number);
        if (parsed) valid += 1;
        expect(parsed).toEqual(askedSeparately(number));
      }),
      { numRuns: 5000 },
    );
    // Both kinds were tried, not only one.
    expect(valid).toBeGreaterThan(500);
    expect(valid).toBeLessThan(4500);
  });

  it('gives E.164, the country and the type from the full metadata', () => {
    expect(parsePhoneNumber(' +44 7400 123456 ')).toEqual({ e164: '+447400123456', callingCode: '44', country: 'GB', type: 'mobile' });
    expect(parsePhoneNumber('+449011234567')?.type).toBe('premium_rate');
    expect(parsePhoneNumber('+19005551234')?.type).toBe('premium_rate');
    expect(parsePhoneNumber('+881612345678')).toMatchObject({ country: undefined, type: 'mobile' });
  });

  it.each([
    'call +447400123456 now',
    '+447400123456\u0000',
    '+447400123456 ext. 12',
    '+447400123456abc',
    '07400 123456',
    '+44 7911',
    `+${'1'.repeat(31)}x`,
  ])('refuses %p', (value) => {
    expect(parsePhoneNumber(value)).toBeUndefined();
  });
});

describe('phoneRefusal', () => {
  const defaults: PhonePolicy = { allowedCountries: undefined, allowedNumberTypes: ['mobile', 'fixed_line_or_mobile', 'voip'] };
  const gbUs: PhonePolicy = { ...defaults, allowedCountries: ['GB', 'US'] };

  it('lets mobile numbers of allowed countries through', () => {
    expect(phoneRefusal(parsePhoneNumber('+447400123456')!, gbUs)).toBeUndefined();
    expect(phoneRefusal(parsePhoneNumber('+14155552671')!, gbUs)).toBeUndefined();
  });

  it.each([
    ['UK premium rate', '+449011234567', 'Codes cannot be sent to premium rate numbers.'],
    ['US premium rate', '+19005551234', 'Codes cannot be sent to premium rate numbers.'],
    ['UK toll free', '+448001234567', 'Codes cannot be sent to toll free numbers.'],
    ['UK personal numbers', '+447011234567', 'Codes cannot be sent to personal number numbers.'],
    ['Iridium, which has no country', '+881612345678', 'Codes cannot be sent to numbers outside the allowed countries.'],
    ['a country not listed', '+33612345678', 'Codes cannot be sent to numbers in FR.'],
  ])('refuses %s', (_what, number, message) => {
    expect(phoneRefusal(parsePhoneNumber(number)!, gbUs)).toBe(message);
  });

  it('refuses a number whose type is unknown', () => {
    expect(phoneRefusal({ e164: '+447400123456', callingCode: '44', country: 'GB', type: undefined }, defaults)).toBe(
      'Codes cannot be sent to numbers of an unknown type.',
    );
  });
});

describe('contacts', () => {
  it('lower-cases and trims email addresses', () => {
    expect(normalizeEmailAddress('  Ann.Lee@Example.COM ')).toBe('ann.lee@example.com');
  });

  it('writes phone numbers in E.164', () => {
    expect(normalizePhoneNumber(' +44 7911 123456 ')).toBe('+447911123456');
  });

  it('refuses a phone number without its country code or of the wrong length', () => {
    expect(normalizePhoneNumber('07911 123456')).toBeUndefined();
    expect(normalizePhoneNumber('+44 7911')).toBeUndefined();
  });

  it('reads an identifier with an @ as an email address and anything else as a phone number', () => {
    expect(parseContact('Ann@Example.com')).toEqual({ kind: 'email', value: 'ann@example.com' });
    expect(parseContact('+1 415 555 2671')).toEqual({ kind: 'phone', value: '+14155552671' });
    expect(parseContact('ann')).toBeUndefined();
  });
});
