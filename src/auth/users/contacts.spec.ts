import { normalizeEmail, normalizePhone, parseIdentifier } from './contacts.js';

describe('contacts', () => {
  it('lower-cases and trims email addresses', () => {
    expect(normalizeEmail('  Ann.Lee@Example.COM ')).toBe('ann.lee@example.com');
  });

  it('writes phone numbers in E.164', () => {
    expect(normalizePhone(' +44 7911 123456 ')).toBe('+447911123456');
  });

  it('refuses a phone number without its country code or of the wrong length', () => {
    expect(normalizePhone('07911 123456')).toBeUndefined();
    expect(normalizePhone('+44 7911')).toBeUndefined();
  });

  it('reads an identifier with an @ as an email address and anything else as a phone number', () => {
    expect(parseIdentifier('Ann@Example.com')).toEqual({ kind: 'email', value: 'ann@example.com' });
    expect(parseIdentifier('+1 415 555 2671')).toEqual({ kind: 'phone', value: '+14155552671' });
    expect(parseIdentifier('ann')).toBeUndefined();
  });
});
