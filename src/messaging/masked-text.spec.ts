import { maskDestinations } from './masked-text.js';

describe('maskDestinations', () => {
  it('masks the recipient an SMTP server quotes back', () => {
    expect(
      maskDestinations(
        "SMTP: Can't send mail - all recipients were rejected: 550 5.1.1 <jane.doe@corp.example>: Recipient address rejected",
      ),
    ).toBe("SMTP: Can't send mail - all recipients were rejected: 550 5.1.1 <j***@corp.example>: Recipient address rejected");
  });

  it('masks the known recipient the way its destination is masked, and removes the code', () => {
    const text = maskDestinations('refused +15005550001 for code 493027', { channel: 'sms', to: '+15005550001', code: '493027' });
    expect(text).toBe('refused +1******0001 for code [REDACTED]');
  });

  it.each([
    ["Invalid 'To' Phone Number: +15005550001", '+15005550001'],
    ['number 15005550001 is unreachable', '15005550001'],
    ['not a valid phone number (07911 123456, 44 7911 123456)', '07911 123456'],
    ['number +1 500 555 0001 is unreachable', '500 555 0001'],
    ['number (500) 555-0001 is unreachable', '555-0001'],
    ['number +1 (500) 555-0001 is unreachable', '555-0001'],
    ['Twilio 400 (21211): number 1.500.555.0001 refused', '555.0001'],
    ['number 0044 7700 900123 is unreachable', '7700 900123'],
    ['POST To=%2B15005550001&Body=… failed', '5005550001'],
    ['POST To=whatsapp%3A%2B447700900123 failed', '7700900123'],
    ['POST To=+1+500+555+0001 failed', '500+555'],
    ['rejected jane.doe%40corp.example', 'jane.doe'],
    ['rejected Jane.Doe@Corp.Example', 'Jane.Doe'],
  ])('masks an address or number however it is quoted: %s', (text, hidden) => {
    const masked = maskDestinations(text);
    expect(masked).not.toContain(hidden);
    expect(masked).toMatch(/\*{3}/);
  });

  it.each([
    'SMTP: connect ECONNREFUSED 127.0.0.1:2525',
    'Twilio 400 (21211): see https://www.twilio.com/docs/errors/21211',
    'SMTP: 550 5.1.1 mailbox unavailable',
    'job 6f1c2a10-1234-5678-9abc-def012345678:2 failed at 2026-12-02T03:00:00Z',
    'probe timed out after 5000 ms',
    'SID SM0123456789abcdef0123456789abcdef',
  ])('leaves text without a destination as it is: %s', (text) => {
    expect(maskDestinations(text)).toBe(text);
  });

  it('is idempotent: masked text stays as it is when masked again', () => {
    const once = maskDestinations('to +15005550001 and jane@corp.example');
    expect(maskDestinations(once)).toBe(once);
  });
});
