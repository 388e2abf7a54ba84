import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ConsoleSmsProvider } from '../src/messaging/providers/console/console.provider.js';
import { SmtpProvider } from '../src/messaging/providers/email/smtp.provider.js';
import { UnconfiguredProvider } from '../src/messaging/providers/unconfigured.provider.js';
import { COMPLETE_PRODUCTION } from './support/environments.js';
import type { ProviderChains } from '../src/messaging/provider-chains.js';
import { otpMessage, rejectionOf, startMessaging, type TestMessaging } from './support/messaging.js';

describe('provider chains built from the configuration', () => {
  let messaging: TestMessaging;
  afterEach(async () => {
    await messaging?.close();
    jest.restoreAllMocks();
  });

  it('orders each channel by its variable, with every provider in the channel it serves', async () => {
    messaging = await startMessaging({
      OTP_CHANNELS: 'email,sms,whatsapp',
      EMAIL_PROVIDERS: 'sendgrid,console,smtp',
      SMS_PROVIDERS: 'sns,twilio-verify,console',
      WHATSAPP_PROVIDERS: 'console,twilio-whatsapp',
    });

    const ids = (channel: keyof ProviderChains) => messaging.chains[channel].map((p) => `${p.channel}:${p.id}`);
    expect(ids('email')).toEqual(['email:sendgrid', 'email:console', 'email:smtp']);
    expect(ids('sms')).toEqual(['sms:sns', 'sms:twilio-verify', 'sms:console']);
    expect(ids('whatsapp')).toEqual(['whatsapp:console', 'whatsapp:twilio-whatsapp']);
  });

  it('keeps an unconfigured provider in its chain, marked so, and refuses to send through it', async () => {
    messaging = await startMessaging({ EMAIL_PROVIDERS: 'smtp,console' });

    const [smtp, console] = messaging.chains.email;
    // Named without its settings, SMTP is never built: a stand-in holds its place in the chain.
    expect(smtp).toBeInstanceOf(UnconfiguredProvider);
    expect(() => messaging.get(SmtpProvider)).toThrow();
    expect(smtp!.configured).toBe(false);
    expect(console!.configured).toBe(true);
    const error = await rejectionOf(smtp!.send(otpMessage('email', 'user@example.com')));
    expect(error).toMatchObject({ provider: 'smtp', kind: 'auth', message: 'smtp is not configured (SMTP_HOST, SMTP_FROM missing)' });
    expect(await rejectionOf(smtp!.probe())).toMatchObject({ kind: 'auth' });
  });

  it('has the console provider print destination, purpose and code in one log line', async () => {
    messaging = await startMessaging({ SMS_PROVIDERS: 'console' });
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);

    const result = await messaging.chains.sms[0]!.send(otpMessage('sms', '+447911123456', { code: '493027', purpose: 'signup' }));

    expect(messaging.chains.sms[0]).toBeInstanceOf(ConsoleSmsProvider);
    expect(result.provider).toBe('console');
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0]![0]).toBe('[sms] code 493027 for +447911123456 (purpose signup, expires in 10 min)');
    await expect(messaging.chains.sms[0]!.probe()).resolves.toBeUndefined();
  });

  it('is built from a production configuration without contacting any vendor', async () => {
    const messaging = await startMessaging({ ...COMPLETE_PRODUCTION, REDIS_URL: '' });
    try {
      expect(messaging.chains.email.map((p) => [p.id, p.configured])).toEqual([['smtp', true]]);
      expect(messaging.chains.sms.map((p) => [p.id, p.configured])).toEqual([['twilio', true]]);
    } finally {
      await messaging.close();
    }
  });
});
