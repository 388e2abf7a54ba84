import { jest } from '@jest/globals';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { OutboundMessage, RenderedEmail } from '../../message-provider.js';
import { MessageRenderer } from '../../message-renderer.js';
import { SmtpMessageComposer } from './smtp-message.js';

const FROM = 'OTP Gateway <no-reply@example.com>';
const renderer = new MessageRenderer({ webOtpDomain: 'example.com' });

function email(overrides: Partial<OutboundMessage>): RenderedEmail {
  return renderer.email({
    idempotencyKey: 'ver_1:1',
    verificationId: 'ver_1',
    channel: 'email',
    to: 'user@example.com',
    template: 'otp',
    code: '493027',
    purpose: 'login',
    locale: 'en',
    expiresAt: new Date(Date.now() + 600_000),
    ...overrides,
  });
}

/** What nodemailer's MailComposer writes for the same message, Message-ID, boundary and date. */
async function nodemailerText(to: string, body: RenderedEmail, raw: string, messageId: string): Promise<string> {
  const date = new Date(/^Date: (.*)$/m.exec(raw)![1]!);
  const baseBoundary = /boundary="--_NmP-([0-9a-f-]{36})-Part_1"/.exec(raw)![1]!;
  const composed = new MailComposer({ from: FROM, to, ...body, messageId, date, baseBoundary }).compile();
  return (await composed.build()).toString('utf8');
}

describe('SmtpMessageComposer', () => {
  const cases: [string, string, Partial<OutboundMessage>][] = [
    ['an English login code', 'user@example.com', { code: '493027', purpose: 'login' }],
    ['another code of the same shape', 'someone.else+tag@mail.example.org', { code: '000001', purpose: 'login' }],
    ['a Spanish password reset', 'usuario@example.com', { code: '731904', purpose: 'password_reset', locale: 'es-MX' }],
    ['a ten-digit code', 'user@example.com', { code: '9081726354', purpose: 'verify' }],
    ['a code with fewer minutes left', 'user@example.com', { code: '555555', expiresAt: new Date(Date.now() + 125_000) }],
    ['a long address', `${'a'.repeat(64)}@${'b'.repeat(60)}.example.com`, { code: '123456' }],
    ['an address nodemailer has to encode', 'usér@exämple.com', { code: '123456' }],
  ];

  it.each(cases)('writes %s byte for byte as nodemailer does, the first time and from the shape after', async (_, to, overrides) => {
    const composer = new SmtpMessageComposer(FROM, 'example.com');
    const body = email({ to, ...overrides });
    for (let round = 0; round < 3; round++) {
      const composed = await composer.compose(to, body, overrides.code);
      const raw = composed.raw.toString('utf8');

      expect(composed.messageId).toMatch(/^<[0-9a-f-]{36}@example\.com>$/);
      expect(composed.envelope).toEqual({ from: 'no-reply@example.com', to: [to] });
      expect(raw).toBe(await nodemailerText(to, body, raw, composed.messageId));
    }
  });

  it('asks nodemailer only for the first message of a shape', async () => {
    const composer = new SmtpMessageComposer(FROM, 'example.com');
    const compile = jest.spyOn(MailComposer.prototype, 'compile');
    try {
      await composer.compose('user@example.com', email({ code: '111111' }), '111111');
      const calls = compile.mock.calls.length;
      await composer.compose('other@example.com', email({ code: '222222' }), '222222');
      await composer.compose('user@example.com', email({ code: '333333', locale: 'es' }), '333333');
      await composer.compose('user@example.com', email({ code: '444444', locale: 'es' }), '444444');

      expect(calls).toBeGreaterThan(0);
      expect(compile.mock.calls.length).toBe(2 * calls);
    } finally {
      compile.mockRestore();
    }
  });

  it('gives every message its own Message-ID and boundary', async () => {
    const composer = new SmtpMessageComposer(FROM, 'example.com');
    const body = email({});
    const first = await composer.compose('user@example.com', body, '493027');
    const second = await composer.compose('user@example.com', body, '493027');

    expect(second.messageId).not.toBe(first.messageId);
    const boundary = (raw: Buffer) => /boundary="([^"]+)"/.exec(raw.toString('utf8'))![1];
    expect(boundary(second.raw)).not.toBe(boundary(first.raw));
  });

  it('composes in full what a shape cannot stand for: a body nodemailer encodes in base64, a notice without a code', async () => {
    const composer = new SmtpMessageComposer(FROM, 'example.com');
    const base64: RenderedEmail = {
      subject: '验证码',
      text: '您的验证码是 246810，请勿与任何人分享此验证码。\n',
      html: '<p>您的验证码是 246810</p>',
    };
    const notice = email({ template: 'password_changed', code: undefined });
    for (let round = 0; round < 2; round++) {
      const encoded = await composer.compose('user@example.com', base64, '246810');
      expect(encoded.raw.toString('utf8')).toContain('Content-Transfer-Encoding: base64');
      expect(encoded.raw.toString('utf8')).toBe(
        await nodemailerText('user@example.com', base64, encoded.raw.toString('utf8'), encoded.messageId),
      );
      const plain = await composer.compose('user@example.com', notice, undefined);
      expect(plain.raw.toString('utf8')).toBe(
        await nodemailerText('user@example.com', notice, plain.raw.toString('utf8'), plain.messageId),
      );
    }
  });
});
