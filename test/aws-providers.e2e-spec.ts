import { SesProvider } from '../src/messaging/providers/email/ses.provider.js';
import { SnsProvider } from '../src/messaging/providers/sms/sns.provider.js';
import { FakeSes } from './support/fake-ses.js';
import { FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY, FakeSns } from './support/fake-sns.js';
import { freePort } from './support/free-port.js';
import { otpMessage, rejectionOf, startMessaging, type TestMessaging } from './support/messaging.js';

const PHONE = '+447911123456';

describe('aws providers against fake SNS and SES endpoints', () => {
  let sns: FakeSns;
  let ses: FakeSes;
  let messaging: TestMessaging;
  const opened: TestMessaging[] = [];

  const start = async (extra: Record<string, string> = {}) => {
    const started = await startMessaging({
      OTP_CHANNELS: 'email,sms',
      EMAIL_PROVIDERS: 'ses',
      SMS_PROVIDERS: 'sns',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: FAKE_AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: FAKE_AWS_SECRET_ACCESS_KEY,
      AWS_ENDPOINT_URL_SNS: sns.url,
      AWS_ENDPOINT_URL_SES: ses.url,
      SES_FROM: 'OTP Gateway <no-reply@example.com>',
      OTP_WEBOTP_DOMAIN: 'example.com',
      ...extra,
    });
    opened.push(started);
    return started;
  };

  beforeAll(async () => {
    [sns, ses] = await Promise.all([FakeSns.start(), FakeSes.start()]);
    messaging = await start();
  });
  afterEach(() => {
    sns.reset();
    ses.reset();
  });
  afterAll(async () => {
    await Promise.all(opened.map((m) => m.close()));
    await Promise.all([sns?.close(), ses?.close()]);
  });

  describe('sns', () => {
    it('publishes a transactional SMS with the code and the WebOTP line, signed with the configured key', async () => {
      const result = await messaging.get(SnsProvider).send(messaging.render(otpMessage('sms', PHONE, { code: '493027' })));

      expect(result).toMatchObject({ provider: 'sns', providerMessageId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect(sns.received[0]!.headers.authorization).toContain(`Credential=${FAKE_AWS_ACCESS_KEY_ID}/`);
      expect(sns.received[0]!.headers.authorization).toContain('/eu-west-1/sns/aws4_request');
      const [publish] = sns.publishes;
      expect(publish!.PhoneNumber).toBe(PHONE);
      expect(publish!.attributes).toEqual({ 'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' } });
      expect(publish!.Message).toContain('493027 is your login code');
      expect(publish!.Message!.split('\n').at(-1)).toBe('@example.com #493027');
    });

    it('classifies a phone number SNS refuses as permanent', async () => {
      expect(await rejectionOf(messaging.get(SnsProvider).send(otpMessage('sms', '+12')))).toMatchObject({
        provider: 'sns',
        kind: 'permanent',
        vendorCode: 'InvalidParameter',
      });
    });

    it.each([
      [{ status: 400, code: 'Throttling' }, 'outage'],
      [{ status: 500, code: 'InternalError' }, 'outage'],
      [{ status: 403, code: 'AuthorizationError' }, 'auth'],
    ] as const)('classifies SNS answering %o as %s', async (failure, kind) => {
      sns.failNext(failure);

      expect(await rejectionOf(messaging.get(SnsProvider).send(otpMessage('sms', PHONE)))).toMatchObject({ kind });
      expect(sns.received).toHaveLength(1);
    });

    it('classifies an unknown access key as auth, for sends and probes alike', async () => {
      const wrongKey = await start({ AWS_ACCESS_KEY_ID: 'AKIAWRONGWRONGWRONG1' });

      expect(await rejectionOf(wrongKey.get(SnsProvider).send(otpMessage('sms', PHONE)))).toMatchObject({
        kind: 'auth',
        vendorCode: 'InvalidClientTokenId',
      });
      expect(await rejectionOf(wrongKey.get(SnsProvider).probe())).toMatchObject({ kind: 'auth' });
    });

    it('probes with GetSMSAttributes, which sends nothing', async () => {
      await messaging.get(SnsProvider).probe();

      expect(sns.received.map((r) => r.form.Action)).toEqual(['GetSMSAttributes']);
    });

    it('gives up on an SNS that never answers and reports an outage', async () => {
      sns.failNext('hang');
      const started = Date.now();

      expect(await rejectionOf(messaging.get(SnsProvider).send(otpMessage('sms', PHONE)))).toMatchObject({ kind: 'outage' });
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  describe('ses', () => {
    it('sends an email with the subject, an HTML part and a plain-text part', async () => {
      const result = await messaging.get(SesProvider).send(otpMessage('email', 'user@example.com', { code: '493027', purpose: 'verify' }));

      expect(result.provider).toBe('ses');
      expect(result.providerMessageId).toBeDefined();
      expect(ses.received[0]!.headers.authorization).toContain(`Credential=${FAKE_AWS_ACCESS_KEY_ID}/`);
      const [email] = ses.emails;
      expect(email!.FromEmailAddress).toBe('OTP Gateway <no-reply@example.com>');
      expect(email!.Destination).toEqual({ ToAddresses: ['user@example.com'] });
      expect(email!.Content!.Simple!.Subject!.Data).toBe('Your verification code');
      expect(email!.Content!.Simple!.Body!.Text!.Data).toContain('Your verification code is 493027');
      expect(email!.Content!.Simple!.Body!.Html!.Data).toMatch(/<p[^>]*>493027<\/p>/);
    });

    it.each([
      [{ status: 400, code: 'MessageRejected' }, 'permanent'],
      [{ status: 400, code: 'MailFromDomainNotVerifiedException' }, 'auth'],
      [{ status: 400, code: 'SendingPausedException' }, 'auth'],
      [{ status: 429, code: 'TooManyRequestsException' }, 'outage'],
      [{ status: 500, code: 'InternalFailure' }, 'outage'],
    ] as const)('classifies SES answering %o as %s', async (failure, kind) => {
      ses.failNext(failure);

      expect(await rejectionOf(messaging.get(SesProvider).send(otpMessage('email', 'user@example.com')))).toMatchObject({ kind });
    });

    it('classifies an address SES cannot use as permanent', async () => {
      expect(await rejectionOf(messaging.get(SesProvider).send(otpMessage('email', 'not-an-address')))).toMatchObject({
        kind: 'permanent',
      });
    });

    it('probes with GetAccount, and fails the probe with refused credentials', async () => {
      await messaging.get(SesProvider).probe();
      expect(ses.received.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v2/email/account']);

      const wrongKey = await start({ AWS_ACCESS_KEY_ID: 'AKIAWRONGWRONGWRONG1' });
      expect(await rejectionOf(wrongKey.get(SesProvider).probe())).toMatchObject({ kind: 'auth' });
    });
  });

  it('reports an outage when the endpoints cannot be reached at all', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await start({ AWS_ENDPOINT_URL_SNS: closed, AWS_ENDPOINT_URL_SES: closed });

    expect(await rejectionOf(unreachable.get(SnsProvider).send(otpMessage('sms', PHONE)))).toMatchObject({ kind: 'outage' });
    expect(await rejectionOf(unreachable.get(SesProvider).probe())).toMatchObject({ kind: 'outage' });
  });
});
