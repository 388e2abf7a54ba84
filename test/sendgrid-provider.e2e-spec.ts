import { SendgridProvider } from '../src/messaging/providers/email/sendgrid.provider.js';
import { FAKE_SENDGRID_API_KEY, FakeSendgrid } from './support/fake-sendgrid.js';
import { otpMessage, rejectionOf, startMessaging, type TestMessaging } from './support/messaging.js';

describe('sendgrid provider against a fake SendGrid', () => {
  let sendgrid: FakeSendgrid;
  let messaging: TestMessaging;
  const opened: TestMessaging[] = [];

  const start = async (extra: Record<string, string> = {}) => {
    const started = await startMessaging({
      EMAIL_PROVIDERS: 'sendgrid',
      SENDGRID_API_KEY: FAKE_SENDGRID_API_KEY,
      SENDGRID_FROM: 'OTP Gateway <no-reply@example.com>',
      SENDGRID_API_BASE_URL: sendgrid.url,
      ...extra,
    });
    opened.push(started);
    return started;
  };

  beforeAll(async () => {
    sendgrid = await FakeSendgrid.start();
    messaging = await start();
  });
  afterEach(() => sendgrid.reset());
  afterAll(async () => {
    await Promise.all(opened.map((m) => m.close()));
    await sendgrid?.close();
  });

  it('sends the text and HTML parts to v3/mail/send with the API key', async () => {
    const result = await messaging
      .get(SendgridProvider)
      .send(otpMessage('email', 'user@example.com', { code: '493027', purpose: 'change_contact' }));

    expect(result).toMatchObject({ provider: 'sendgrid', providerMessageId: expect.any(String) });
    expect(sendgrid.received[0]!.headers.authorization).toBe(`Bearer ${FAKE_SENDGRID_API_KEY}`);
    const [mail] = sendgrid.mails;
    expect(mail!.personalizations).toEqual([{ to: [{ email: 'user@example.com' }] }]);
    expect(mail!.from).toEqual({ email: 'no-reply@example.com', name: 'OTP Gateway' });
    expect(mail!.subject).toBe('Your confirmation code');
    expect(mail!.content!.map((c) => c.type)).toEqual(['text/plain', 'text/html']);
    expect(mail!.content![0]!.value).toContain('Use it to confirm your new contact details. It expires in 10 minutes.');
    expect(mail!.content![1]!.value).toMatch(/<p[^>]*>493027<\/p>/);
  });

  it('classifies a recipient SendGrid refuses as permanent', async () => {
    expect(await rejectionOf(messaging.get(SendgridProvider).send(otpMessage('email', 'not-an-address')))).toMatchObject({
      provider: 'sendgrid',
      kind: 'permanent',
      vendorCode: 400,
    });
  });

  it.each([
    [{ status: 403, message: 'The from address does not match a verified Sender Identity' }, 'auth'],
    [{ status: 429, message: 'too many requests' }, 'outage'],
    [{ status: 500 }, 'outage'],
    [{ status: 400, field: 'from.email', message: 'The from email does not contain a valid address.' }, 'outage'],
  ] as const)('classifies SendGrid answering %o as %s', async (failure, kind) => {
    sendgrid.failNext(failure);

    expect(await rejectionOf(messaging.get(SendgridProvider).send(otpMessage('email', 'user@example.com')))).toMatchObject({ kind });
  });

  it('classifies a refused API key as auth, for sends and probes alike', async () => {
    const wrongKey = await start({ SENDGRID_API_KEY: `SG.${'w'.repeat(22)}.${'x'.repeat(43)}` });

    expect(await rejectionOf(wrongKey.get(SendgridProvider).send(otpMessage('email', 'user@example.com')))).toMatchObject({
      kind: 'auth',
      vendorCode: 401,
    });
    expect(await rejectionOf(wrongKey.get(SendgridProvider).probe())).toMatchObject({ kind: 'auth', vendorCode: 401 });
  });

  it('probes with a GET that sends nothing', async () => {
    await messaging.get(SendgridProvider).probe();

    expect(sendgrid.received.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v3/scopes']);
    expect(sendgrid.mails).toHaveLength(0);
  });

  it('gives up on a SendGrid that never answers and reports an outage', async () => {
    sendgrid.failNext('hang');
    const started = Date.now();

    expect(await rejectionOf(messaging.get(SendgridProvider).send(otpMessage('email', 'user@example.com')))).toMatchObject({
      kind: 'outage',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
