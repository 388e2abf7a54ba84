import fc from 'fast-check';
import { call, startApp, type TestApp, TEST_API_KEY } from './support/app.js';

/** Bad input of any shape gets a 4xx with the error shape, never a 5xx. */
let app: TestApp;
beforeAll(async () => {
  app = await startApp({ RATE_LIMIT_IP_PER_MINUTE: '1000000', OTP_MAX_SENDS_PER_HOUR: '10000', OTP_MAX_SENDS_PER_DAY: '100000', OTP_RESEND_COOLDOWN_SECONDS: '0', OTP_CHANNELS: 'email,sms,whatsapp', WHATSAPP_PROVIDERS: 'console' });
});
afterAll(() => app.close());

const FIELDS = ['channel', 'to', 'purpose', 'locale', 'code', 'id', '__proto__', 'constructor', 'extra'];
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('email', 'sms', 'whatsapp', '+447911123456', 'a@example.com', '123456', '00000000-0000-4000-8000-000000000000', '', ' ', '\u0000', '%00', '../../etc/passwd', "'; DROP TABLE users;--", '{{7*7}}'),
  fc.integer({ min: 1000, max: 70_000 }).map((n) => 'x'.repeat(n)),
);
const leaf = fc.oneof(hostileString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('node'), { maxKeys: 4 })),
})).node;
const body = fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 6 }),
  fc.record({ channel: fc.constantFrom('email', 'sms', 'whatsapp'), to: hostileString }, { requiredKeys: [] }),
  fc.record({ code: hostileString, id: hostileString, to: hostileString, purpose: hostileString }, { requiredKeys: [] }),
  value,
);

function expectClientError(status: number, responseBody: Record<string, unknown>, context: unknown) {
  if (status >= 500 || status < 200) throw new Error(`${status} for ${JSON.stringify(context).slice(0, 300)}: ${JSON.stringify(responseBody)}`);
  if (status >= 400) {
    expect(typeof responseBody.code).toBe('string');
    expect(responseBody.statusCode).toBe(status);
    expect(typeof responseBody.message).toBe('string');
  }
}

describe('hostile input', () => {
  it.each(['/v1/verifications', '/v1/verifications/check'])('never gets a 5xx from POST %s', async (path) => {
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const response = await call(app.url, 'POST', path, JSON.stringify(payload));
        expectClientError(response.status, response.body, payload);
      }),
      { numRuns: 150 },
    );
  });

  it('never gets a 5xx from id and destination path segments', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }), async (segment) => {
        const encoded = encodeURIComponent(segment);
        for (const [method, path] of [
          ['GET', `/v1/verifications/${encoded}`],
          ['POST', `/v1/verifications/${encoded}/cancel`],
          ['DELETE', `/v1/admin/rate-limits/${encoded}`],
        ] as const) {
          const response = await call(app.url, method, path);
          expectClientError(response.status, response.body, { method, segment });
        }
      }),
      { numRuns: 100 },
    );
  });

  it('never gets a 5xx from bodies that are not JSON', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/xml'), async (raw, type) => {
        const response = await fetch(`${app.url}/v1/verifications`, { method: 'POST', headers: { 'content-type': type, 'x-api-key': TEST_API_KEY }, body: raw });
        const text = await response.text();
        expectClientError(response.status, text ? JSON.parse(text) : {}, { raw, type });
      }),
      { numRuns: 100 },
    );
  });

  it('answers a body over 64 KiB with 413', async () => {
    const response = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: `${'a'.repeat(70_000)}@example.com` });
    expect(response).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than 64 KiB.' } });
  });

  it('answers malformed JSON and unknown fields with 400 VALIDATION_FAILED and the field at fault', async () => {
    expect(await call(app.url, 'POST', '/v1/verifications', '{"channel": "email",')).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', errors: { body: ['The request body is not valid JSON.'] } } });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: 'a@example.com', chanel: 'sms' })).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_FAILED', errors: { chanel: ['property chanel should not exist'] } },
    });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 42, to: ['x'] })).toMatchObject({
      status: 400,
      body: { errors: { channel: ['channel must be one of: email, sms, whatsapp'], to: expect.arrayContaining(['to must be a string']) } },
    });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { code: '12ab' })).toMatchObject({ status: 400, body: { errors: { code: ['code must be 4 to 10 digits'] } } });
  });
});
