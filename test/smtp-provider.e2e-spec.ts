import { ProviderError } from '../src/messaging/message-provider.js';
import { SmtpProvider } from '../src/messaging/providers/email/smtp.provider.js';
import { otpMessage, rejectionOf, startMessaging, type TestMessaging } from './support/messaging.js';
import { SmtpTestServer } from './support/smtp-test-server.js';

const FROM = 'OTP Gateway <no-reply@example.com>';

function smtpEnv(server: SmtpTestServer, extra: Record<string, string> = {}): Record<string, string> {
  return { EMAIL_PROVIDERS: 'smtp', SMTP_HOST: server.host, SMTP_PORT: String(server.port), SMTP_FROM: FROM, ...extra };
}

describe('smtp provider against a relay without authentication', () => {
  let server: SmtpTestServer;
  let messaging: TestMessaging;
  let smtp: SmtpProvider;

  beforeAll(async () => {
    server = await SmtpTestServer.start();
    messaging = await startMessaging(smtpEnv(server));
    smtp = messaging.get(SmtpProvider);
  });
  afterEach(() => server.reset());
  afterAll(async () => {
    await messaging?.close();
    await server?.stop();
  });

  it('delivers the code with a subject, an HTML part and a plain-text part', async () => {
    const result = await smtp.send(otpMessage('email', 'user@example.com', { code: '493027', purpose: 'login' }));

    expect(result.provider).toBe('smtp');
    expect(server.received).toHaveLength(1);
    const [mail] = server.received;
    // A unique id in the sender's domain, and the one the provider reports.
    expect(result.providerMessageId).toMatch(/^<[0-9a-f-]{36}@example\.com>$/);
    expect(mail!.messageId).toBe(result.providerMessageId);
    expect(mail).toMatchObject({ from: 'no-reply@example.com', to: ['user@example.com'], subject: 'Your login code' });
    expect(mail!.text).toContain('Your login code is 493027');
    expect(mail!.text).toContain('It expires in 10 minutes.');
    expect(mail!.html).toMatch(/<p[^>]*>493027<\/p>/);
    expect(mail!.html).toContain('Use it to sign in. It expires in 10 minutes.');
  });

  it('writes in the recipient’s language', async () => {
    await smtp.send(otpMessage('email', 'usuario@example.com', { locale: 'es-MX', purpose: 'password_reset' }));

    expect(server.received[0]!.subject).toBe('Tu código de restablecimiento de contraseña');
    expect(server.received[0]!.text).toContain('Caduca en 10 minutos.');
  });

  it('classifies a refused recipient as permanent', async () => {
    server.failNext({ stage: 'rcpt', code: 550, message: 'No such user here' });

    const error = await rejectionOf(smtp.send(otpMessage('email', 'nobody@example.com')));

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ provider: 'smtp', kind: 'permanent', vendorCode: 550 });
    expect(server.received).toHaveLength(0);
  });

  it('classifies a message refused after DATA with 5xx as permanent, and with 4xx as an outage', async () => {
    server.failNext({ stage: 'data', code: 554 }).failNext({ stage: 'data', code: 452 });

    expect(await rejectionOf(smtp.send(otpMessage('email', 'user@example.com')))).toMatchObject({ kind: 'permanent', vendorCode: 554 });
    expect(await rejectionOf(smtp.send(otpMessage('email', 'user@example.com')))).toMatchObject({ kind: 'outage', vendorCode: 452 });
  });

  it('classifies a temporary refusal of the recipient as an outage', async () => {
    server.failNext({ stage: 'rcpt', code: 451, message: 'Greylisted, try again later' });

    expect(await rejectionOf(smtp.send(otpMessage('email', 'user@example.com')))).toMatchObject({ kind: 'outage', vendorCode: 451 });
  });

  it('classifies a refused sender as a configuration (auth) failure', async () => {
    server.failNext({ stage: 'mail', code: 553, message: 'Sender address rejected' });

    expect(await rejectionOf(smtp.send(otpMessage('email', 'user@example.com')))).toMatchObject({ kind: 'auth', vendorCode: 553 });
  });

  it('passes its probe and sends nothing doing so', async () => {
    await expect(smtp.probe()).resolves.toBeUndefined();
    expect(server.received).toHaveLength(0);
  });

  it('reports an outage while the relay is down and delivers again once it is back', async () => {
    await server.stop();
    try {
      expect(await rejectionOf(smtp.send(otpMessage('email', 'user@example.com')))).toMatchObject({ kind: 'outage' });
      expect(await rejectionOf(smtp.probe())).toMatchObject({ kind: 'outage' });
    } finally {
      await server.restart();
    }

    await smtp.send(otpMessage('email', 'user@example.com'));
    expect(server.received).toHaveLength(1);
  });
});

describe('smtp provider against a relay that requires authentication', () => {
  let server: SmtpTestServer;
  const opened: TestMessaging[] = [];
  const smtpWith = async (extra: Record<string, string>) => {
    const messaging = await startMessaging(smtpEnv(server, extra));
    opened.push(messaging);
    return messaging.get(SmtpProvider);
  };

  beforeAll(async () => {
    server = await SmtpTestServer.start({ auth: { user: 'mailer', password: 'right-password' } });
  });
  afterEach(() => server.reset());
  afterAll(async () => {
    await Promise.all(opened.map((messaging) => messaging.close()));
    await server?.stop();
  });

  it('logs in with SMTP_USER and SMTP_PASSWORD', async () => {
    const smtp = await smtpWith({ SMTP_USER: 'mailer', SMTP_PASSWORD: 'right-password' });

    await smtp.send(otpMessage('email', 'user@example.com'));

    expect(server.received[0]).toMatchObject({ user: 'mailer', to: ['user@example.com'] });
  });

  it('classifies a refused password as auth, for sends and probes alike', async () => {
    const smtp = await smtpWith({ SMTP_USER: 'mailer', SMTP_PASSWORD: 'wrong-password' });

    expect(await rejectionOf(smtp.send(otpMessage('email', 'user@example.com')))).toMatchObject({ kind: 'auth', vendorCode: 535 });
    expect(await rejectionOf(smtp.probe())).toMatchObject({ kind: 'auth' });
    expect(server.received).toHaveLength(0);
  });

  it('classifies "authentication required" as auth when no credentials are configured', async () => {
    const smtp = await smtpWith({});

    expect(await rejectionOf(smtp.send(otpMessage('email', 'user@example.com')))).toMatchObject({ kind: 'auth' });
  });
});

describe('smtp provider against a relay that never answers', () => {
  let server: SmtpTestServer;
  let messaging: TestMessaging;

  beforeAll(async () => {
    server = (await SmtpTestServer.start()).stall();
    messaging = await startMessaging(smtpEnv(server));
  });
  afterAll(async () => {
    await messaging?.close();
    await server?.stop();
  });

  it('gives up after the greeting timeout and reports an outage', async () => {
    const started = Date.now();

    const error = await rejectionOf(messaging.get(SmtpProvider).send(otpMessage('email', 'user@example.com')));

    expect(error).toMatchObject({ kind: 'outage' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
