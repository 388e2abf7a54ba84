import { Logger } from '@nestjs/common';
import { eq } from 'drizzle-orm';
import { UsersRepository } from '../src/auth/users/users.repository.js';
import { AllExceptionsFilter } from '../src/common/all-exceptions.filter.js';
import { Database } from '../src/database/database.constants.js';
import { users } from '../src/database/schema.js';
import { call, startApp, type TestApp, TEST_API_KEY } from './support/app.js';
import { Inboxes, JWT_SECRET } from './support/auth-inboxes.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from './support/databases.js';
import { eventually } from './support/eventually.js';
import { LOOSE_LIMITS } from './support/environments.js';

/**
 * The attacks of the hardening review, replayed against the whole service: address variants that
 * dodge per-destination limits, costly phone numbers, cross-site form posts, and input that used
 * to reach the database and come back as a 500.
 */
describe.each(testDatabaseKinds())('hostile input on %s', (kind) => {
  let database: TestDatabase;
  let inboxes: Inboxes;
  let service: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    inboxes = await Inboxes.start();
    service = await startApp({
      ...inboxes.env(),
      DATABASE_URL: database.url,
      JWT_SECRET,
      SMS_ALLOWED_COUNTRIES: 'GB,US',
      ...LOOSE_LIMITS,
    });
  }, 120_000);
  afterAll(async () => {
    await service?.close();
    await inboxes?.close();
    await database?.drop();
  });

  const run = `${kind.toLowerCase()}${Date.now() % 100_000}`;
  let sequence = 0;
  const newEmail = () => `person${++sequence}.${run}@corp.test`;
  const password = 'correct-horse-battery';
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) => call(service.url, 'POST', path, body, headers);
  const rcptsFor = (mailbox: string) => inboxes.smtp.received.flatMap((mail) => mail.to).filter((to) => to.toLowerCase().includes(mailbox));
  const textsTo = (number: string) => inboxes.twilio.messages.filter((form) => form.To === number);

  /** An account with a verified email address, signed in. */
  async function signedIn(): Promise<{ email: string; bearer: Record<string, string> }> {
    const email = newEmail();
    const registered = await post('/v1/auth/register', { email, password });
    expect(registered.status).toBe(201);
    const verified = await post('/v1/auth/otp/verify', { challengeId: registered.body.challengeId, code: await inboxes.nextCode(email) });
    expect(verified.status).toBe(200);
    return { email, bearer: { authorization: `Bearer ${verified.body.accessToken as string}` } };
  }

  /** Spellings a mail server delivers to `local@corp.test` (or to it among others), each refused. */
  const variantsOf = (local: string) => [
    `(1)${local}@corp.test`,
    `${local}@corp.test,`,
    `${local}@corp.test, other@corp.test`,
    `"${local}"@corp.test`,
    `${local}\u0000x@corp.test`,
    `<${local}@corp.test>`,
    `Victim <${local}@corp.test>`,
    `${local}@corp.test (comment)`,
  ];

  describe('address variants', () => {
    it('are refused by the Verifications API, and nothing is sent to them', async () => {
      for (const to of variantsOf('victim')) {
        const response = await post('/v1/verifications', { channel: 'email', to });
        expect({ to, status: response.status, code: response.body.code }).toEqual({ to, status: 400, code: 'VALIDATION_FAILED' });
        expect(Object.keys(response.body.errors as object)).toEqual(['to']);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(rcptsFor('victim')).toEqual([]);
    });

    it('leave one spelling per mailbox: the message goes to exactly the normalized address, and case or spacing is the same destination', async () => {
      const first = await post('/v1/verifications', { channel: 'email', to: '  Victim.Mail@Corp.TEST ' });
      expect(first.status).toBe(201);
      await eventually(async () => expect(rcptsFor('victim.mail')).toEqual(['victim.mail@corp.test']));
      const again = await post('/v1/verifications', { channel: 'email', to: 'VICTIM.MAIL@corp.test' });
      expect(again.body.id).toBe(first.body.id);
      await eventually(async () => expect(rcptsFor('victim.mail')).toEqual(['victim.mail@corp.test', 'victim.mail@corp.test']));
    });

    it('cannot back a second account, start a flow, or become the new address of an account', async () => {
      const { email, bearer } = await signedIn();
      const local = email.split('@')[0]!;
      for (const variant of variantsOf(local)) {
        const registered = await post('/v1/auth/register', { email: variant, password });
        expect({ variant, status: registered.status, fields: Object.keys((registered.body.errors ?? {}) as object) }).toEqual({
          variant,
          status: 400,
          fields: ['email'],
        });
        const started = await post('/v1/auth/otp/start', { identifier: variant, purpose: 'login' });
        expect({ variant, status: started.status, code: started.body.code }).toEqual({ variant, status: 400, code: 'VALIDATION_FAILED' });
        const changed = await call(
          service.url,
          'PATCH',
          '/v1/auth/me',
          { email: variant.replace(local, `new.${local}`), password },
          bearer,
        );
        expect({ variant, status: changed.status, code: changed.body.code }).toEqual({ variant, status: 400, code: 'VALIDATION_FAILED' });
      }
      const accounts = await service.app.get<Database>(Database).select({ email: users.email }).from(users);
      expect(accounts.filter((account) => account.email?.includes(local))).toEqual([{ email }]);
      expect(rcptsFor(local).every((to) => to === email)).toBe(true);
    });
  });

  describe('phone numbers', () => {
    const costly = [
      ['a UK premium-rate number', '+449011234567'],
      ['a US premium-rate number', '+19005551234'],
      ['an Iridium satellite number', '+881612345678'],
      ['a UK toll-free number', '+448001234567'],
      ['a UK personal number', '+447011234567'],
    ];

    it.each(costly)('refuses %s with DESTINATION_NOT_ALLOWED before anything is stored or sent', async (_what, number) => {
      for (const channel of ['sms', 'whatsapp']) {
        const response = await post('/v1/verifications', { channel, to: number });
        expect(response).toMatchObject({
          status: 400,
          body: { statusCode: 400, code: 'DESTINATION_NOT_ALLOWED', message: expect.stringMatching(/^Codes cannot be sent to /) },
        });
      }
      expect(await post('/v1/verifications/check', { to: number, code: '123456' })).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(textsTo(number)).toEqual([]);
    });

    it('refuses them the same way for sign-up, identifiers and a new phone number, storing nothing', async () => {
      const { bearer } = await signedIn();
      for (const [, number] of costly) {
        expect(await post('/v1/auth/register', { phone: number!, password })).toMatchObject({
          status: 400,
          body: { code: 'DESTINATION_NOT_ALLOWED' },
        });
        expect(await post('/v1/auth/login', { identifier: number!, password })).toMatchObject({
          status: 400,
          body: { code: 'DESTINATION_NOT_ALLOWED' },
        });
        expect(await post('/v1/auth/otp/start', { identifier: number!, purpose: 'login' })).toMatchObject({
          status: 400,
          body: { code: 'DESTINATION_NOT_ALLOWED' },
        });
        expect(await call(service.url, 'PATCH', '/v1/auth/me', { phone: number!, password }, bearer)).toMatchObject({
          status: 400,
          body: { code: 'DESTINATION_NOT_ALLOWED' },
        });
        const stored = await service.app.get<Database>(Database).select().from(users).where(eq(users.phone, number!));
        expect(stored).toEqual([]);
        expect(textsTo(number!)).toEqual([]);
      }
    });

    it('still sends to a mobile number of an allowed country', async () => {
      expect((await post('/v1/verifications', { channel: 'sms', to: '+447400123456' })).status).toBe(201);
      await eventually(async () => expect(textsTo('+447400123456')).toHaveLength(1));
    });
  });

  describe('request bodies that are not JSON', () => {
    const routes: [string, string, Record<string, string>][] = [
      ['POST', '/v1/verifications', { channel: 'email', to: 'form.victim@corp.test' }],
      ['POST', '/v1/verifications/check', { to: 'form.victim@corp.test', code: '123456' }],
      ['POST', '/v1/auth/register', { email: 'form.victim@corp.test', password }],
      ['POST', '/v1/auth/login', { identifier: 'form.victim@corp.test', password }],
      ['POST', '/v1/auth/otp/start', { identifier: 'form.victim@corp.test', purpose: 'login' }],
      ['POST', '/v1/auth/otp/verify', { challengeId: '00000000-0000-4000-8000-000000000000', code: '123456' }],
      ['POST', '/v1/auth/otp/resend', { challengeId: '00000000-0000-4000-8000-000000000000' }],
      ['POST', '/v1/auth/token/refresh', { refreshToken: 'x'.repeat(40) }],
      ['PATCH', '/v1/auth/me', { email: 'form.victim@corp.test' }],
    ];

    it.each(routes)('%s %s answers a form post, text/plain and multipart with 415 in the API error shape', async (method, path, fields) => {
      const bodies: [string, string | FormData, Record<string, string>][] = [
        ['form', new URLSearchParams(fields).toString(), { 'content-type': 'application/x-www-form-urlencoded' }],
        ['text', JSON.stringify(fields), { 'content-type': 'text/plain;charset=UTF-8' }],
        ['multipart', Object.entries(fields).reduce((form, [key, value]) => (form.append(key, value), form), new FormData()), {}],
      ];
      for (const [what, body, headers] of bodies) {
        const response = await fetch(`${service.url}${path}`, { method, body, headers: { 'x-api-key': TEST_API_KEY, ...headers } });
        expect({ what, status: response.status, body: await response.json() }).toEqual({
          what,
          status: 415,
          body: { statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the request body as application/json.' },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(rcptsFor('form.victim')).toEqual([]);
    });

    it('serves requests without a body as before', async () => {
      const created = await post('/v1/verifications', { channel: 'email', to: newEmail() });
      expect((await call(service.url, 'GET', `/v1/verifications/${created.body.id as string}`)).status).toBe(200);
      expect(await post(`/v1/verifications/${created.body.id as string}/cancel`)).toMatchObject({
        status: 200,
        body: { status: 'canceled' },
      });
      const { bearer } = await signedIn();
      expect((await call(service.url, 'GET', '/v1/auth/me', undefined, bearer)).status).toBe(200);
    });
  });

  describe('input that used to reach the database', () => {
    it('answers NUL bytes and lone surrogates in any field of any route with 400 VALIDATION_FAILED naming the field', async () => {
      const cases: [string, Record<string, unknown>, string][] = [
        ['/v1/auth/login', { identifier: 'nul\u0000byte@example.com', password }, 'identifier'],
        ['/v1/auth/login', { identifier: '+44740012345\u0000', password }, 'identifier'],
        ['/v1/auth/otp/start', { identifier: 'nul\u0000byte@example.com', purpose: 'login' }, 'identifier'],
        ['/v1/auth/register', { email: 'lone\ud800surrogate@example.com', password }, 'email'],
        ['/v1/auth/register', { email: newEmail(), password: 'pass\u0000word-long' }, 'password'],
        ['/v1/auth/token/refresh', { refreshToken: `token\u0000${'x'.repeat(40)}` }, 'refreshToken'],
        ['/v1/auth/token/refresh', { refreshToken: `token\udc00${'x'.repeat(40)}` }, 'refreshToken'],
        ['/v1/verifications', { channel: 'email', to: 'lone\udfffsurrogate@example.com' }, 'to'],
        ['/v1/verifications/check', { to: 'nul\u0000@example.com', code: '123456' }, 'to'],
      ];
      for (const [path, body, field] of cases) {
        const response = await post(path, body);
        expect({
          path,
          field,
          status: response.status,
          code: response.body.code,
          fields: Object.keys((response.body.errors ?? {}) as object),
        }).toEqual({
          path,
          field,
          status: 400,
          code: 'VALIDATION_FAILED',
          fields: [field],
        });
      }
    });

    it('answers JSON nested 1,500 deep with 400 VALIDATION_FAILED, on every route', async () => {
      const deep = `${'['.repeat(1500)}${']'.repeat(1500)}`;
      for (const [path, body] of [
        ['/v1/verifications', deep],
        ['/v1/verifications', `{"channel":"email","to":${deep}}`],
        ['/v1/auth/register', `{"email":${deep},"password":"${password}"}`],
        ['/v1/auth/login', `{"identifier":${deep.replace(/\[\]/, '{"a":1}')},"password":"${password}"}`],
        ['/v1/auth/otp/start', deep.replace(/\[\]/, '{}')],
      ] as const) {
        const response = await post(path, body);
        expect({ path, status: response.status, code: response.body.code, errors: response.body.errors }).toEqual({
          path,
          status: 400,
          code: 'VALIDATION_FAILED',
          errors: { body: ['The request body is nested more than 32 levels deep.'] },
        });
      }
    });

    it('never writes the parameters of a failed query to the log', async () => {
      // The repository refused a NUL in this field before the database could; the error line is what is on trial here.
      const error = (await service.app
        .get(UsersRepository)
        .findContactChange('00000000-0000-4000-8000-000000000000', 'secret\u0000param' as never)
        .catch((caught: unknown) => caught)) as Error;
      expect(error).toBeInstanceOf(Error);
      expect(`${error.message}\n${error.stack}`).toContain('secret');

      const before = service.logs.entries.length;
      const reply = { statusCode: 0 };
      const host = {
        switchToHttp: () => ({ getResponse: () => reply, getRequest: () => ({ method: 'POST', url: '/v1/auth/login?x=1' }) }),
      };
      const replies: unknown[] = [];
      new AllExceptionsFilter({
        httpAdapter: { reply: (_response: unknown, body: unknown) => replies.push(body), setHeader: () => undefined },
      } as never).catch(error, host as never);
      new Logger('Probe').error(error);
      const written = service.logs.entries.slice(before);
      expect(written.map((entry) => entry.level)).toEqual(['error', 'error']);
      for (const entry of written) {
        expect(entry.line).not.toContain('secret');
        expect(entry.line).toContain('SQLSTATE');
        expect(entry.line).toContain('pending_contact_changes');
      }
      expect(replies).toEqual([
        { statusCode: 500, code: 'INTERNAL', message: 'An unexpected error occurred.', errorId: expect.any(String) },
      ]);
    });
  });
});
