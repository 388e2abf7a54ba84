import { loadConfiguration } from '../../../config/load-configuration.js';
import { classifySmtpError, type SmtpErrorFields, smtpPoolOptions } from './smtp.provider.js';

const nodemailerError = (fields: SmtpErrorFields) => Object.assign(new Error('refused'), fields);

describe('classifySmtpError', () => {
  it.each<[SmtpErrorFields, string]>([
    [{ code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN' }, 'auth'],
    [{ code: 'EAUTH', command: 'API' }, 'auth'],
    [{ code: 'EENVELOPE', responseCode: 530, command: 'MAIL FROM' }, 'auth'],
    [{ code: 'EENVELOPE', responseCode: 553, command: 'MAIL FROM' }, 'auth'],
    [{ code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO' }, 'permanent'],
    [{ code: 'EENVELOPE', responseCode: 553, command: 'RCPT TO' }, 'permanent'],
    [{ code: 'EMESSAGE', responseCode: 554, command: 'DATA' }, 'permanent'],
    [{ code: 'EENVELOPE', responseCode: 451, command: 'RCPT TO' }, 'outage'],
    [{ code: 'EMESSAGE', responseCode: 421, command: 'DATA' }, 'outage'],
    [{ code: 'ECONNECTION', command: 'CONN' }, 'outage'],
    [{ code: 'ETIMEDOUT', command: 'CONN' }, 'outage'],
    [{ code: 'ESOCKET', command: 'CONN' }, 'outage'],
    [{ code: 'ETLS', command: 'STARTTLS' }, 'outage'],
    [{ code: 'EPROTOCOL', responseCode: 500, command: 'EHLO' }, 'outage'],
  ])('treats %o as %s', (fields, kind) => {
    const error = classifySmtpError(nodemailerError(fields));

    expect(error).toMatchObject({ provider: 'smtp', kind, vendorCode: fields.responseCode ?? fields.code });
    expect(error.message).toBe('SMTP: refused');
  });

  it('treats something that is not an SMTP error as an outage', () => {
    expect(classifySmtpError(new TypeError('boom')).kind).toBe('outage');
    expect(classifySmtpError(undefined).kind).toBe('outage');
  });
});

describe('smtpPoolOptions', () => {
  const configFor = (env: Record<string, string>) =>
    loadConfiguration({ NODE_ENV: 'test', SMTP_FROM: 'no-reply@example.com', ...env }).configuration.messaging;

  it('pools connections and times out well under the code lifetime', () => {
    const options = smtpPoolOptions(configFor({ SMTP_HOST: 'smtp.example.com' }));

    expect(options).toMatchObject({
      maxConnections: 3,
      maxMessages: 1000,
      idleTimeout: 240_000,
      host: 'smtp.example.com',
      port: 587,
      secure: false,
    });
    expect(options.connectionTimeout).toBe(10_000);
    expect(options.greetingTimeout).toBe(10_000);
    expect(options.socketTimeout).toBe(15_000);
  });

  it('requires STARTTLS off this machine, not on loopback, and not with implicit TLS', () => {
    expect(smtpPoolOptions(configFor({ SMTP_HOST: 'smtp.example.com' })).requireTLS).toBe(true);
    expect(smtpPoolOptions(configFor({ SMTP_HOST: '127.0.0.1' })).requireTLS).toBe(false);
    expect(smtpPoolOptions(configFor({ SMTP_HOST: 'localhost' })).requireTLS).toBe(false);
    const implicit = smtpPoolOptions(configFor({ SMTP_HOST: 'smtp.example.com', SMTP_PORT: '465', SMTP_SECURE: 'true' }));
    expect(implicit).toMatchObject({ secure: true, port: 465, requireTLS: false });
  });

  it('lets SMTP_REQUIRE_TLS=false reach a plain-text relay, still upgrading when the relay offers STARTTLS', () => {
    const relaxed = smtpPoolOptions(configFor({ SMTP_HOST: 'relay.internal', SMTP_REQUIRE_TLS: 'false' }));
    expect(relaxed).toMatchObject({ secure: false, requireTLS: false, ignoreTLS: false });
    expect(smtpPoolOptions(configFor({ SMTP_HOST: 'relay.internal', SMTP_REQUIRE_TLS: 'true' })).requireTLS).toBe(true);
  });

  it('logs in only when both user and password are set', () => {
    expect(smtpPoolOptions(configFor({ SMTP_HOST: 'smtp.example.com' })).auth).toBeUndefined();
    expect(smtpPoolOptions(configFor({ SMTP_HOST: 'smtp.example.com', SMTP_USER: 'mailer' })).auth).toBeUndefined();
    expect(smtpPoolOptions(configFor({ SMTP_HOST: 'smtp.example.com', SMTP_USER: 'mailer', SMTP_PASSWORD: 'pw-123456' })).auth).toEqual({
      user: 'mailer',
      pass: 'pw-123456',
    });
  });
});
