import { ValidationFailedError } from '../../common/errors.js';
import { DestinationNotAllowedError } from '../otp.errors.js';
import type { PhonePolicy } from './addresses.js';
import { maskEmail, maskPhone } from '../../common/masked-destination.js';
import { normalizeAnyDestination, normalizeDestination } from './destinations.js';

const ANY: PhonePolicy = { allowedCountries: undefined, allowedNumberTypes: ['mobile', 'fixed_line_or_mobile', 'voip'] };

describe('destinations', () => {
  it('trim and lower-case email addresses, and mask them', () => {
    expect(normalizeDestination('email', '  John.Doe@Example.COM ', ANY)).toEqual({
      normalized: 'john.doe@example.com',
      masked: 'j***@example.com',
    });
  });

  it('accept valid E.164 numbers and mask all but the country code and last four digits', () => {
    expect(normalizeDestination('sms', '+447400123456', ANY)).toEqual({
      normalized: '+447400123456',
      masked: '+44******3456',
      country: 'GB',
    });
    expect(maskPhone('+14155550123', '1')).toBe('+1******0123');
  });

  it.each(['07911123456', '+44 7911 123456', '+4479111', '+999123456789', 'abc', ''])('refuse %p as a phone number', (to) => {
    expect(() => normalizeDestination('sms', to, ANY)).toThrow(ValidationFailedError);
  });

  it.each([
    'plainaddress',
    '@example.com',
    'a@b',
    'a b@example.com',
    '(1)victim@corp.test',
    'victim@corp.test,',
    '"bomb"@corp.test',
    'a\u0000b@corp.test',
  ])('refuse %p as an email address', (to) => {
    expect(() => normalizeDestination('email', to, ANY)).toThrow(ValidationFailedError);
  });

  it('refuse numbers outside the allowed countries', () => {
    const gbOnly = { ...ANY, allowedCountries: ['GB'] };
    expect(() => normalizeDestination('whatsapp', '+14155550123', gbOnly)).toThrow(DestinationNotAllowedError);
    expect(normalizeDestination('whatsapp', '+447400123456', gbOnly).country).toBe('GB');
  });

  it('refuse number types outside the allowed ones, and name the type', () => {
    expect(() => normalizeDestination('sms', '+449011234567', ANY)).toThrow('Codes cannot be sent to premium rate numbers.');
    expect(() => normalizeDestination('sms', '+442079460000', ANY)).toThrow(DestinationNotAllowedError);
    expect(normalizeDestination('sms', '+442079460000', { ...ANY, allowedNumberTypes: ['fixed_line'] }).normalized).toBe('+442079460000');
  });

  it('normalize either kind for the admin route', () => {
    expect(normalizeAnyDestination(' A@Example.com')).toBe('a@example.com');
    expect(normalizeAnyDestination('+447400123456')).toBe('+447400123456');
  });

  it('mask a one-letter local part too', () => {
    expect(maskEmail('a@example.com')).toBe('a***@example.com');
  });
});
