import fc from 'fast-check';
import { ADMIN, call, startApp, type TestApp, TEST_API_KEY } from './support/app.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from './support/databases.js';

/** Bad input of any shape gets a 4xx with the error shape, never a 5xx. */
let app: TestApp;
beforeAll(async () => {
  app = await startApp({
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    OTP_MAX_SENDS_PER_HOUR: '10000',
    OTP_MAX_SENDS_PER_DAY: '100000',
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    OTP_CHANNELS: 'email,sms,whatsapp',
    WHATSAPP_PROVIDERS: 'console',
  });
});
afterAll(() => app.close());

const FIELDS = ['channel', 'to', 'purpose', 'locale', 'code', 'id', '__proto__', 'constructor', 'extra'];
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    'email',
    'sms',
    'whatsapp',
    '+447911123456',
    'a@example.com',
    '123456',
    '00000000-0000-4000-8000-000000000000',
    '',
    ' ',
    '\u0000',
    '%00',
    '../../etc/passwd',
    "'; DROP TABLE users;--",
    '{{7*7}}',
  ),
  fc.integer({ min: 1000, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

/** A plausible value for a field with a NUL byte or an unpaired surrogate slipped in somewhere. */
const poisoned = (plausible: fc.Arbitrary<string>) =>
  fc
    .tuple(plausible, fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', 'x\u0000\ud83d'), fc.nat())
    .map(([value, poison, at]) => `${value.slice(0, at % (value.length + 1))}${poison}${value.slice(at % (value.length + 1))}`);
/** Arrays and objects nested `depth` deep around a leaf: what a recursive parser or validator chokes on. */
const nested = fc
  .tuple(fc.integer({ min: 20, max: 3000 }), fc.constantFrom('[', '{"a":'), fc.constantFrom('1', '"x"', 'null', '"\\u0000"'))
  .map(([depth, open, leafText]) => `${open.repeat(depth)}${leafText}${(open === '[' ? ']' : '}').repeat(depth)}`);
const leaf = fc.oneof(hostileString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const value = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('node'), { maxKeys: 4 }),
  ),
})).node;
const body = fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 6 }),
  fc.record({ channel: fc.constantFrom('email', 'sms', 'whatsapp'), to: hostileString }, { requiredKeys: [] }),
  fc.record({ code: hostileString, id: hostileString, to: hostileString, purpose: hostileString }, { requiredKeys: [] }),
  value,
);

function expectClientError(status: number, responseBody: Record<string, unknown>, context: unknown) {
  if (status >= 500 || status < 200)
    throw new Error(`${status} for ${JSON.stringify(context).slice(0, 300)}: ${JSON.stringify(responseBody)}`);
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
        for (const [method, path, headers] of [
          ['GET', `/v1/verifications/${encoded}`, undefined],
          ['POST', `/v1/verifications/${encoded}/cancel`, undefined],
          // With an admin key, so the segment reaches the route rather than stopping at the key check.
          ['DELETE', `/v1/admin/rate-limits/${encoded}`, ADMIN],
        ] as const) {
          const response = await call(app.url, method, path, undefined, headers);
          expectClientError(response.status, response.body, { method, segment });
        }
      }),
      { numRuns: 100 },
    );
  });

  it('never gets a 5xx from bodies that are not JSON, and answers other media types with 415', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 200 }),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/xml'),
        async (raw, type) => {
          const response = await fetch(`${app.url}/v1/verifications`, {
            method: 'POST',
            headers: { 'content-type': type, 'x-api-key': TEST_API_KEY },
            body: raw,
          });
          const text = await response.text();
          expectClientError(response.status, text ? JSON.parse(text) : {}, { raw, type });
          // A hostile page can post these cross-site without a preflight: none of them may reach a route.
          if (type !== 'application/json') expect(response.status).toBe(415);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('answers a body over 64 KiB with 413', async () => {
    const response = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: `${'a'.repeat(70_000)}@example.com` });
    expect(response).toMatchObject({
      status: 413,
      body: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than 64 KiB.' },
    });
  });

  it('takes its body limit from HTTP_BODY_LIMIT_BYTES, and names that limit in the 413', async () => {
    const small = await startApp({ HTTP_BODY_LIMIT_BYTES: '2048' });
    try {
      const fits = await call(small.url, 'POST', '/v1/verifications', {
        channel: 'email',
        to: `${'a'.repeat(60)}@example.com`,
        purpose: 'x'.repeat(1500),
      });
      expect(fits.status).not.toBe(413);
      const over = await call(small.url, 'POST', '/v1/verifications', { channel: 'email', to: 'a@example.com', purpose: 'x'.repeat(3000) });
      expect(over).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than 2 KiB.' } });
    } finally {
      await small.close();
    }
  });

  it('answers malformed JSON and unknown fields with 400 VALIDATION_FAILED and the field at fault', async () => {
    expect(await call(app.url, 'POST', '/v1/verifications', '{"channel": "email",')).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_FAILED', errors: { body: ['The request body is not valid JSON.'] } },
    });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: 'a@example.com', chanel: 'sms' })).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_FAILED', errors: { chanel: ['property chanel should not exist'] } },
    });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 42, to: ['x'] })).toMatchObject({
      status: 400,
      body: { errors: { channel: ['channel must be one of: email, sms, whatsapp'], to: expect.arrayContaining(['to must be a string']) } },
    });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { code: '12ab' })).toMatchObject({
      status: 400,
      body: { errors: { code: ['code must be 4 to 10 digits'] } },
    });
  });
});

/**
 * Every public route with each of its string fields: the values that used to reach PostgreSQL or
 * the validators and come back as a 500 (NUL bytes, unpaired surrogates, deep nesting) go into
 * every one of them, on the embedded database and, with TEST_DATABASE_URL, on a real PostgreSQL
 * (which refuses NUL in text where PGlite's answer may differ).
 */
const PUBLIC_ROUTES: { method: string; path: string; fields: Record<string, fc.Arbitrary<string>>; bearer?: boolean }[] = [
  {
    method: 'POST',
    path: '/v1/verifications',
    fields: {
      channel: fc.constantFrom('email', 'sms', 'whatsapp'),
      to: fc.constantFrom('fuzz@example.com', '+447400123456'),
      purpose: fc.constant('verify'),
      locale: fc.constant('en'),
    },
  },
  {
    method: 'POST',
    path: '/v1/verifications/check',
    fields: { code: fc.constant('123456'), to: fc.constant('fuzz@example.com'), purpose: fc.constant('verify') },
  },
  {
    method: 'POST',
    path: '/v1/auth/register',
    fields: {
      email: fc.emailAddress(),
      phone: fc.constant('+447400123457'),
      password: fc.constant('fuzz-password-1'),
      otpChannel: fc.constantFrom('email', 'sms'),
    },
  },
  {
    method: 'POST',
    path: '/v1/auth/login',
    fields: {
      identifier: fc.oneof(fc.emailAddress(), fc.constant('+447400123457')),
      password: fc.constant('fuzz-password-1'),
      channel: fc.constant('email'),
    },
  },
  {
    method: 'POST',
    path: '/v1/auth/otp/start',
    fields: {
      identifier: fc.oneof(fc.emailAddress(), fc.constant('+447400123457')),
      purpose: fc.constantFrom('login', 'password_reset'),
      channel: fc.constant('email'),
    },
  },
  {
    method: 'POST',
    path: '/v1/auth/otp/verify',
    fields: { challengeId: fc.uuid(), code: fc.constant('123456'), newPassword: fc.constant('fuzz-password-2') },
  },
  { method: 'POST', path: '/v1/auth/otp/resend', fields: { challengeId: fc.uuid() } },
  { method: 'POST', path: '/v1/auth/token/refresh', fields: { refreshToken: fc.string({ minLength: 20, maxLength: 60 }) } },
  { method: 'POST', path: '/v1/auth/logout', fields: { refreshToken: fc.string({ minLength: 20, maxLength: 60 }) }, bearer: true },
  {
    method: 'PATCH',
    path: '/v1/auth/me',
    fields: {
      email: fc.emailAddress(),
      phone: fc.constant('+447400123458'),
      otpChannel: fc.constant('email'),
      password: fc.constant('fuzz-password-1'),
    },
    bearer: true,
  },
];

describe.each(testDatabaseKinds())('hostile strings in every field of every public route on %s', (kind) => {
  let database: TestDatabase;
  let service: TestApp;
  let bearer: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    service = await startApp({
      DATABASE_URL: database.url,
      RATE_LIMIT_IP_PER_MINUTE: '1000000',
      OTP_MAX_SENDS_PER_HOUR: '10000',
      OTP_MAX_SENDS_PER_DAY: '100000',
      OTP_RESEND_COOLDOWN_SECONDS: '0',
      OTP_FIXED_CODE: '246810',
    });
    const registered = await call(service.url, 'POST', '/v1/auth/register', {
      email: `fuzz.${kind.toLowerCase()}@example.com`,
      password: 'fuzz-password-1',
    });
    const verified = await call(service.url, 'POST', '/v1/auth/otp/verify', { challengeId: registered.body.challengeId, code: '246810' });
    bearer = { authorization: `Bearer ${verified.body.accessToken as string}` };
  }, 120_000);
  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });

  it.each(PUBLIC_ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s: NUL bytes and unpaired surrogates in any field are a 400, never a 5xx',
    async (_name, route) => {
      const names = Object.keys(route.fields);
      const poisonedField = fc.constantFrom(...names).chain((target) => fc.tuple(fc.constant(target), poisoned(route.fields[target]!)));
      await fc.assert(
        fc.asyncProperty(fc.record(route.fields, { requiredKeys: [] }), poisonedField, async (fields, [target, value]) => {
          const body = { ...fields, [target]: value };
          const response = await call(service.url, route.method, route.path, body, route.bearer ? bearer : {});
          expectClientError(response.status, response.body, body);
          expect({ status: response.status, code: response.body.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
        }),
        { numRuns: 25 },
      );
    },
  );

  it.each(PUBLIC_ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s: deeply nested JSON, as the body or in any field, is a 400, never a 5xx',
    async (_name, route) => {
      const names = Object.keys(route.fields);
      await fc.assert(
        fc.asyncProperty(fc.option(fc.constantFrom(...names), { nil: undefined }), nested, async (target, deep) => {
          const raw = target === undefined ? deep : `{${JSON.stringify(target)}:${deep}}`;
          const response = await call(service.url, route.method, route.path, raw, route.bearer ? bearer : {});
          expectClientError(response.status, response.body, { target, depth: deep.length });
          expect(response.status).toBe(400);
        }),
        { numRuns: 15 },
      );
    },
  );
});
