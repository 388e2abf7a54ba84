import { TwilioSmsProvider } from '../src/messaging/providers/sms/twilio-sms.provider.js';
import { TwilioVerifyProvider } from '../src/messaging/providers/sms/twilio-verify.provider.js';
import { TwilioWhatsappProvider } from '../src/messaging/providers/whatsapp/twilio-whatsapp.provider.js';
import { isCodeChecking } from '../src/messaging/message-provider.js';
import { FakeTwilio } from './support/fake-twilio.js';
import { freePort } from './support/free-port.js';
import { otpMessage, rejectionOf, startMessaging, type TestMessaging } from './support/messaging.js';

const PHONE = '+447911123456';
const SENDER = '+14155550100';
const MESSAGING_SERVICE = `MG${'3'.repeat(32)}`;

describe('twilio providers against a fake Twilio', () => {
  let twilio: FakeTwilio;
  const opened: TestMessaging[] = [];

  const start = async (extra: Record<string, string> = {}) => {
    const messaging = await startMessaging({
      OTP_CHANNELS: 'sms,whatsapp',
      SMS_PROVIDERS: 'twilio-verify,twilio',
      WHATSAPP_PROVIDERS: 'twilio-whatsapp',
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_FROM: SENDER,
      TWILIO_WHATSAPP_FROM: '+14155550199',
      TWILIO_VERIFY_SERVICE_SID: twilio.verifyServiceSid,
      TWILIO_API_BASE_URL: twilio.url,
      ...extra,
    });
    opened.push(messaging);
    return messaging;
  };

  let messaging: TestMessaging;
  beforeAll(async () => {
    twilio = await FakeTwilio.start();
    messaging = await start();
  });
  afterEach(() => twilio.reset());
  afterAll(async () => {
    await Promise.all(opened.map((m) => m.close()));
    await twilio?.close();
  });

  describe('twilio (SMS)', () => {
    it('sends the code, its purpose and lifetime from TWILIO_FROM through TWILIO_API_BASE_URL', async () => {
      const result = await messaging.get(TwilioSmsProvider).send(otpMessage('sms', PHONE, { code: '493027', purpose: 'signup' }));

      expect(result).toMatchObject({ provider: 'twilio', providerMessageId: expect.stringMatching(/^SM[0-9a-f]{32}$/) });
      expect(twilio.received).toHaveLength(1);
      expect(twilio.received[0]!.path).toBe(`/2010-04-01/Accounts/${twilio.accountSid}/Messages.json`);
      const [sent] = twilio.messages;
      expect(sent).toMatchObject({ To: PHONE, From: SENDER });
      expect(sent!.MessagingServiceSid).toBeUndefined();
      expect(sent!.Body).toBe(
        '493027 is your sign-up code. Use it to finish creating your account; it expires in 10 minutes. Never share it.',
      );
    });

    it('ends the text with the WebOTP line when OTP_WEBOTP_DOMAIN is set', async () => {
      const withDomain = await start({ OTP_WEBOTP_DOMAIN: 'example.com' });

      await withDomain.get(TwilioSmsProvider).send(withDomain.render(otpMessage('sms', PHONE, { code: '493027' })));

      const lines = twilio.messages[0]!.Body!.split('\n');
      expect(lines[0]).toContain('493027 is your login code');
      expect(lines.at(-1)).toBe('@example.com #493027');
    });

    it('sends through the messaging service instead of a number when one is configured', async () => {
      const withService = await start({ TWILIO_MESSAGING_SERVICE_SID: MESSAGING_SERVICE });

      await withService.get(TwilioSmsProvider).send(otpMessage('sms', PHONE));

      expect(twilio.messages[0]).toMatchObject({ To: PHONE, MessagingServiceSid: MESSAGING_SERVICE });
      expect(twilio.messages[0]!.From).toBeUndefined();
    });

    it('classifies a number Twilio calls invalid as permanent', async () => {
      const error = await rejectionOf(messaging.get(TwilioSmsProvider).send(otpMessage('sms', '+12')));

      expect(error).toMatchObject({ provider: 'twilio', kind: 'permanent', vendorCode: 21211 });
    });

    it.each([
      [{ status: 400, code: 21610 }, 'permanent'],
      [{ status: 400, code: 21608 }, 'permanent'],
      [{ status: 429, code: 20429 }, 'outage'],
      [{ status: 503, code: 20503 }, 'outage'],
      [{ status: 400, code: 21606 }, 'auth'],
    ] as const)('classifies Twilio answering %o as %s', async (failure, kind) => {
      twilio.failNext(failure);

      expect(await rejectionOf(messaging.get(TwilioSmsProvider).send(otpMessage('sms', PHONE)))).toMatchObject({
        kind,
        vendorCode: failure.code,
      });
    });

    it('classifies refused credentials as auth, for sends and probes alike', async () => {
      const wrongToken = await start({ TWILIO_AUTH_TOKEN: '0'.repeat(32) });
      const sms = wrongToken.get(TwilioSmsProvider);

      expect(await rejectionOf(sms.send(otpMessage('sms', PHONE)))).toMatchObject({ kind: 'auth', vendorCode: 20003 });
      expect(await rejectionOf(sms.probe())).toMatchObject({ kind: 'auth', vendorCode: 20003 });
      expect(twilio.received.map((r) => r.headers.authorization)).toEqual([
        `Basic ${Buffer.from(`${twilio.accountSid}:${'0'.repeat(32)}`).toString('base64')}`,
        `Basic ${Buffer.from(`${twilio.accountSid}:${'0'.repeat(32)}`).toString('base64')}`,
      ]);
    });

    it('probes by fetching the account, which sends nothing', async () => {
      await messaging.get(TwilioSmsProvider).probe();

      expect(twilio.received.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /2010-04-01/Accounts/${twilio.accountSid}.json`]);
      twilio.failAlways({ status: 500 });
      expect(await rejectionOf(messaging.get(TwilioSmsProvider).probe())).toMatchObject({ kind: 'outage' });
    });

    it('gives up on a Twilio that never answers and reports an outage', async () => {
      twilio.failNext('hang');
      const started = Date.now();

      expect(await rejectionOf(messaging.get(TwilioSmsProvider).send(otpMessage('sms', PHONE)))).toMatchObject({ kind: 'outage' });
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  describe('twilio-whatsapp', () => {
    it('sends between whatsapp: addresses', async () => {
      const result = await messaging.get(TwilioWhatsappProvider).send(otpMessage('whatsapp', PHONE, { code: '771234', locale: 'es' }));

      expect(result.provider).toBe('twilio-whatsapp');
      expect(twilio.messages[0]).toMatchObject({ To: `whatsapp:${PHONE}`, From: 'whatsapp:+14155550199' });
      expect(twilio.messages[0]!.Body).toContain('771234 es tu código de inicio de sesión');
    });

    it('classifies an invalid recipient as permanent', async () => {
      twilio.failNext({ status: 400, code: 63024, message: 'Invalid message recipient' });

      expect(await rejectionOf(messaging.get(TwilioWhatsappProvider).send(otpMessage('whatsapp', PHONE)))).toMatchObject({
        kind: 'permanent',
      });
    });
  });

  describe('twilio-verify', () => {
    it('has Twilio issue the code, then approves that code and refuses any other', async () => {
      const verify = messaging.get(TwilioVerifyProvider);
      expect(isCodeChecking(verify)).toBe(true);

      const result = await verify.send(otpMessage('sms', PHONE, { code: '000000', locale: 'es-ES' }));

      expect(result).toMatchObject({
        provider: 'twilio-verify',
        codeIssuedByProvider: true,
        providerMessageId: expect.stringMatching(/^VE/),
      });
      expect(twilio.received[0]!.path).toBe(`/v2/Services/${twilio.verifyServiceSid}/Verifications`);
      expect(twilio.received[0]!.form).toEqual({ To: PHONE, Channel: 'sms', Locale: 'es' });
      const issued = twilio.codeFor(PHONE)!;
      expect(issued).toMatch(/^\d{6}$/);

      const wrong = issued === '111111' ? '222222' : '111111';
      await expect(verify.checkCode(PHONE, wrong, 'sms')).resolves.toBe(false);
      await expect(verify.checkCode(PHONE, issued, 'sms')).resolves.toBe(true);
      expect(twilio.received.at(-1)!.path).toBe(`/v2/Services/${twilio.verifyServiceSid}/VerificationCheck`);
      // Approved codes are spent: Twilio answers 404, which is a "no".
      await expect(verify.checkCode(PHONE, issued, 'sms')).resolves.toBe(false);
    });

    it('reports an unreachable Twilio on a check as an outage, not as a wrong code', async () => {
      twilio.failNext({ status: 503 });

      expect(await rejectionOf(messaging.get(TwilioVerifyProvider).checkCode(PHONE, '123456', 'sms'))).toMatchObject({ kind: 'outage' });
    });

    it('classifies an unknown Verify service as auth and a landline as permanent', async () => {
      const wrongService = await start({ TWILIO_VERIFY_SERVICE_SID: `VA${'9'.repeat(32)}` });
      expect(await rejectionOf(wrongService.get(TwilioVerifyProvider).send(otpMessage('sms', PHONE)))).toMatchObject({
        kind: 'auth',
        vendorCode: 20404,
      });

      twilio.failNext({ status: 400, code: 60205, message: 'SMS is not supported by landline phone number' });
      expect(await rejectionOf(messaging.get(TwilioVerifyProvider).send(otpMessage('sms', PHONE)))).toMatchObject({
        kind: 'permanent',
        vendorCode: 60205,
      });
    });
  });

  it('reports an outage when Twilio cannot be reached at all', async () => {
    const unreachable = await start({ TWILIO_API_BASE_URL: `http://127.0.0.1:${await freePort()}` });

    expect(await rejectionOf(unreachable.get(TwilioSmsProvider).send(otpMessage('sms', PHONE)))).toMatchObject({ kind: 'outage' });
    expect(await rejectionOf(unreachable.get(TwilioVerifyProvider).probe())).toMatchObject({ kind: 'outage' });
  });
});
