import fc from 'fast-check';
import { loadConfiguration } from '../config/load-configuration.js';
import { runWithLogContext } from './log-context.js';
import { prettyFactory } from 'pino-pretty';
import { createLogger, PinoNestLogger, PRETTY_OPTIONS } from './logger.js';
import { createLineScrubber, mayNeedPathRedaction, REDACTED, secretValues } from './redaction.js';

/** A logger writing into an array, configured exactly as the service's. */
function capture(secrets: string[]) {
  const lines: string[] = [];
  const logger = createLogger({ format: 'json', secrets, level: 'debug', destination: { write: (line: string) => lines.push(line) } });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('the line scrubber', () => {
  it('replaces every configured value wherever it appears in a line', () => {
    const scrub = createLineScrubber(['token-0123456789', 'hunter2hunter2']);
    const line = JSON.stringify({
      msg: 'Twilio said: bad token-0123456789 (twice: token-0123456789)',
      err: { stack: 'Error: redis://:hunter2hunter2@host\n    at x' },
    });
    const scrubbed = scrub(line);
    expect(scrubbed).not.toContain('token-0123456789');
    expect(scrubbed).not.toContain('hunter2hunter2');
    expect(JSON.parse(scrubbed)).toEqual({
      msg: `Twilio said: bad ${REDACTED} (twice: ${REDACTED})`,
      err: { stack: `Error: redis://:${REDACTED}@host\n    at x` },
    });
  });

  it('finds values with quotes and backslashes as JSON writes them', () => {
    const secret = 'pa"ss\\word-1';
    const scrubbed = createLineScrubber([secret])(JSON.stringify({ msg: `login with ${secret} failed` }));
    expect(JSON.parse(scrubbed)).toEqual({ msg: `login with ${REDACTED} failed` });
  });

  it('replaces the longest value whole when one contains another', () => {
    const scrubbed = createLineScrubber(['abcd', 'abcdefgh'])(JSON.stringify({ msg: 'x abcdefgh y abcd' }));
    expect(JSON.parse(scrubbed)).toEqual({ msg: `x ${REDACTED} y ${REDACTED}` });
  });

  it('leaves values too short to tell from ordinary text alone', () => {
    expect(createLineScrubber(['abc'])('{"msg":"abc"}')).toBe('{"msg":"abc"}');
  });

  it('always leaves valid JSON without the secret, whatever the secret and the text around it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4, maxLength: 12 }), fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }), (secret, around) => {
        const message = around.join(secret);
        const scrubbed = createLineScrubber([secret])(JSON.stringify({ msg: message, n: 1 }));
        const parsed = JSON.parse(scrubbed) as { msg: string; n: number };
        expect(parsed.n).toBe(1);
        for (const part of parsed.msg.split(REDACTED)) expect(part).not.toContain(secret);
        if (around.length > 1) expect(parsed.msg).toContain(REDACTED);
      }),
    );
  });
});

describe('secretValues', () => {
  it('lists every secret variable, each entry of the lists, and the credentials inside connection URLs', () => {
    const loaded = loadConfiguration({
      NODE_ENV: 'development',
      JWT_SECRET: 'jwt-secret-unit-value-0123456789abcdef',
      OTP_SECRET: 'otp-secret-unit-value-0123456789abcdef',
      API_KEYS: 'api-key-unit-one-0001,api-key-unit-two-0002',
      OTP_TEST_DESTINATIONS: 'review@example.com:246810',
      SMTP_PASSWORD: 'smtp-password-unit',
      TWILIO_AUTH_TOKEN: 'c'.repeat(32),
      AWS_SECRET_ACCESS_KEY: 'aws-secret-unit-value',
      SENDGRID_API_KEY: 'SG.sendgrid-unit.part-two',
      REDIS_URL: 'redis://:redis-pass%2Fword@redis.internal:6379/0',
      DATABASE_URL: 'postgres://postgres:pg-password-unit@db.internal:5432/otp?sslpassword=pg-ssl-password-unit',
    });
    const values = secretValues(loaded);
    for (const expected of [
      'jwt-secret-unit-value-0123456789abcdef',
      'otp-secret-unit-value-0123456789abcdef',
      'api-key-unit-one-0001',
      'api-key-unit-two-0002',
      '246810',
      'smtp-password-unit',
      'c'.repeat(32),
      'aws-secret-unit-value',
      'SG.sendgrid-unit.part-two',
      'redis-pass%2Fword',
      'redis-pass/word',
      'pg-password-unit',
      'pg-ssl-password-unit',
    ]) {
      expect(values).toContain(expected);
    }
    // A user name is not a secret, and `postgres` is also a word the log needs.
    expect(values).not.toContain('postgres');
  });

  it('takes a lone user name in a Redis URL as the password it is', () => {
    const loaded = loadConfiguration({ NODE_ENV: 'development', REDIS_URL: 'redis://lone-redis-password@redis.internal:6379' });
    expect(secretValues(loaded)).toContain('lone-redis-password');
  });

  it('scrubs the key of a named API key entry, not its name; the generated development key is printed on purpose', () => {
    const loaded = loadConfiguration({
      NODE_ENV: 'test',
      API_KEYS: 'web-app:named-app-key-0123456789',
      ADMIN_API_KEYS: 'support:named-admin-key-0123456789',
    });
    loaded.configuration.auth.apiKeys.push({
      name: 'development',
      key: 'generated-development-key-0123',
      scope: 'application',
      generated: true,
    });
    const values = secretValues(loaded);
    expect(values).toEqual(expect.arrayContaining(['named-app-key-0123456789', 'named-admin-key-0123456789']));
    expect(values).not.toContain('web-app');
    expect(values).not.toContain('support');
    expect(values).not.toContain('generated-development-key-0123');
  });

  it('includes the secrets generated for this run', () => {
    const loaded = loadConfiguration({ NODE_ENV: 'development' });
    expect(loaded.configuration.auth.jwtSecretGenerated).toBe(true);
    expect(secretValues(loaded)).toEqual(expect.arrayContaining([loaded.configuration.auth.jwtSecret, loaded.configuration.otp.secret]));
  });
});

describe('the logger', () => {
  it('redacts credential headers and sensitive fields by path', () => {
    const { logger, records } = capture([]);
    logger.info({
      req: {
        headers: { authorization: 'Bearer abc.def.ghi', cookie: 'sid=1', 'x-api-key': 'key-1', accept: 'application/json' },
        body: { password: 'pw-0', name: 'n' },
      },
      body: { email: 'a@example.com', password: 'pw-1', newPassword: 'pw-2', currentPassword: 'pw-3' },
      code: '123456',
      tokens: { accessToken: 'at', refreshToken: 'rt' },
      apiKey: 'key-2',
    });
    const [record] = records();
    expect(record).toMatchObject({
      req: {
        headers: { authorization: REDACTED, cookie: REDACTED, 'x-api-key': REDACTED, accept: 'application/json' },
        body: { password: REDACTED, name: 'n' },
      },
      body: { email: 'a@example.com', password: REDACTED, newPassword: REDACTED, currentPassword: REDACTED },
      code: REDACTED,
      tokens: { accessToken: REDACTED, refreshToken: REDACTED },
      apiKey: REDACTED,
    });
  });

  it('keeps an error identifier under `code` and redacts every other value there', () => {
    const { logger, records } = capture([]);
    const nest = new PinoNestLogger(logger);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNREFUSED' });
    nest.error(refused);
    logger.warn({ event: 'x', detail: { code: 'OTP_INCORRECT' }, code: 'EAUTH' });
    logger.info({ code: '123456', detail: { code: 987654 }, items: { code: 'abc123' } });
    logger.info({ code: '12345678901234567890', detail: { code: 'E1' } });
    const [error, identifiers, codes, odd] = records();
    expect(error).toMatchObject({ err: { code: 'ECONNREFUSED' } });
    expect(identifiers).toMatchObject({ code: 'EAUTH', detail: { code: 'OTP_INCORRECT' } });
    expect(codes).toMatchObject({ code: REDACTED, detail: { code: REDACTED }, items: { code: REDACTED } });
    expect(odd).toMatchObject({ code: REDACTED, detail: { code: REDACTED } });
  });

  it("redacts lines written through Nest's logger by path too, and leaves lines without sensitive fields whole", () => {
    const { logger, records } = capture([]);
    const nest = new PinoNestLogger(logger);
    nest.log({ event: 'a', detail: { headers: { authorization: 'Bearer x' } } }, 'Audit');
    nest.log({ event: 'b', items: [{ code: '123456' }] }, 'Audit');
    nest.log({ event: 'c', to: 'a***@example.com', delivery: { status: 'queued', attempts: 0 } }, 'Audit');
    const [first, second, third] = records();
    expect(first).toMatchObject({ detail: { headers: { authorization: REDACTED } } });
    expect(second).toMatchObject({ items: [{ code: REDACTED }] });
    expect(third).toMatchObject({ event: 'c', context: 'Audit', to: 'a***@example.com', delivery: { status: 'queued', attempts: 0 } });
  });

  it('tells which objects path redaction could change', () => {
    expect(mayNeedPathRedaction({ event: 'x', nested: { deeper: { status: 'ok' } } })).toBe(false);
    expect(mayNeedPathRedaction({ nested: { deeper: { password: 'p' } } })).toBe(true);
    expect(mayNeedPathRedaction({ list: [{ token: 't' }] })).toBe(true);
    expect(mayNeedPathRedaction({ headers: { 'x-api-key': 'k' } })).toBe(true);
    expect(mayNeedPathRedaction({ err: new Error('e') })).toBe(true);
    expect(mayNeedPathRedaction({ when: new Date() })).toBe(true);
    // Three levels down is beyond every redaction path.
    expect(mayNeedPathRedaction({ a: { b: { c: { password: 'p' } } } })).toBe(false);
  });

  it('scrubs secret values from messages, error messages and stacks', () => {
    const token = 'e'.repeat(32);
    const { logger, lines } = capture([token]);
    const nest = new PinoNestLogger(logger);
    const error = new Error(`Twilio: authenticate failed for ${token}`);
    nest.error(`send failed: ${error.message}`, error.stack, 'Delivery');
    nest.error(error);
    nest.warn({ event: 'provider.error', detail: `token=${token}` }, 'Audit');
    expect(lines).toHaveLength(3);
    expect(lines.join('\n')).not.toContain(token);
    expect(lines.join('\n')).toContain(REDACTED);
  });

  it('follows Nest conventions: the last string is the context, an error may pass its stack before it', () => {
    const { logger, records } = capture([]);
    const nest = new PinoNestLogger(logger);
    nest.log('plain', 'Startup');
    nest.error('failed', 'Error: x\n    at y (z.js:1:1)', 'Exceptions');
    nest.error('no stack', undefined, 'Exceptions');
    nest.log({ event: 'verification.started', verificationId: 'v1' }, 'Audit');
    expect(records()).toEqual([
      expect.objectContaining({ level: 'info', context: 'Startup', msg: 'plain' }),
      expect.objectContaining({ level: 'error', context: 'Exceptions', msg: 'failed', stack: 'Error: x\n    at y (z.js:1:1)' }),
      expect.objectContaining({ level: 'error', context: 'Exceptions', msg: 'no stack' }),
      expect.objectContaining({ level: 'info', context: 'Audit', event: 'verification.started', verificationId: 'v1' }),
    ]);
  });

  it('adds the request id and verification id of the context a line is written in', () => {
    const { logger, records } = capture([]);
    const nest = new PinoNestLogger(logger);
    runWithLogContext({ requestId: 'req-1', verificationId: 'v-1' }, () => nest.log('inside', 'Delivery'));
    nest.log('outside', 'Delivery');
    const [inside, outside] = records();
    expect(inside).toMatchObject({ msg: 'inside', requestId: 'req-1', verificationId: 'v-1' });
    expect(outside).not.toHaveProperty('requestId');
  });

  it("writes Nest's per-module and per-route start-up lines at debug, and its warnings and errors as they are", () => {
    const info = capture([]);
    info.logger.level = 'info';
    const nest = new PinoNestLogger(info.logger);
    nest.log('AppModule dependencies initialized', 'InstanceLoader');
    nest.log('Mapped {/v1/verifications, POST} route', 'RouterExplorer');
    nest.log('VerificationsController {/v1/verifications}:', 'RoutesResolver');
    nest.warn('a module warned', 'InstanceLoader');
    nest.log('Nest application successfully started', 'NestApplication');
    expect(info.records()).toEqual([
      expect.objectContaining({ level: 'warn', context: 'InstanceLoader', msg: 'a module warned' }),
      expect.objectContaining({ level: 'info', context: 'NestApplication' }),
    ]);

    const debug = capture([]);
    new PinoNestLogger(debug.logger).log('Mapped {/v1/verifications, POST} route', 'RouterExplorer');
    expect(debug.records()).toEqual([expect.objectContaining({ level: 'debug', context: 'RouterExplorer' })]);
  });

  it('prints readable lines for people, with the context first and the stack below', () => {
    const line = JSON.stringify({
      level: 'warn',
      time: '2026-01-02T03:04:05.678Z',
      pid: 1,
      hostname: 'h',
      context: 'Delivery',
      msg: 'retrying',
      requestId: 'r-1',
      stack: 'Error: x\n    at y',
    });
    const formatPretty = prettyFactory({ ...PRETTY_OPTIONS, colorize: false });
    expect(formatPretty(line)).toBe(
      '[03:04:05.678] WARN: [Delivery] retrying {"requestId":"r-1"}\n    stack: \n        Error: x\n            at y\n',
    );
  });
});
