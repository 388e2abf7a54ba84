import { JwtService } from '@nestjs/jwt';
import { eq } from 'drizzle-orm';
import { createHash } from 'node:crypto';
import { UsersRepository } from '../../src/auth/users/users.repository.js';
import { Database } from '../../src/database/database.constants.js';
import { refreshTokens } from '../../src/database/schema.js';
import { call, startApp, type TestApp } from '../support/app.js';
import { Inboxes, JWT_SECRET } from '../support/auth-inboxes.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';
import { standaloneCode } from '../support/codes.js';
import { LOOSE_LIMITS } from '../support/environments.js';

/**
 * The end-user flows through the real app: codes are read from what the SMTP server and the fake
 * Twilio received, as the person at the other end would read them.
 */
describe.each(testDatabaseKinds())('auth flows on %s', (kind) => {
  let database: TestDatabase;
  let inboxes: Inboxes;
  let service: TestApp;
  /** Every password and code this suite used, none of which may ever appear in the log. */
  const passwords = new Set<string>();
  const codes = new Set<string>();

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    inboxes = await Inboxes.start();
    service = await startApp({
      ...inboxes.env(),
      DATABASE_URL: database.url,
      JWT_SECRET,
      ...LOOSE_LIMITS,
    });
  });
  afterAll(async () => {
    await service?.close();
    await inboxes?.close();
    await database?.drop();
  });

  let sequence = 0;
  const run = `${kind.toLowerCase()}${Date.now() % 100_000}`;
  const newEmail = () => `person${++sequence}.${run}@example.com`;
  /** Valid UK mobile numbers, distinct per test and per database kind. */
  const newPhone = () => `+4479${kind === 'PGlite' ? '11' : '22'}${String(100_000 + ++sequence).slice(-6)}`;
  const newPassword = () => {
    const password = `pw-${Math.random().toString(36).slice(2)}-long`;
    passwords.add(password);
    return password;
  };

  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(service.url, 'POST', `/v1/auth${path}`, body, headers);
  const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });
  const me = (accessToken: string) => call(service.url, 'GET', '/v1/auth/me', undefined, bearer(accessToken));
  const codeFor = async (to: string) => {
    const code = await inboxes.nextCode(to);
    codes.add(code);
    return code;
  };

  /** Registers and confirms the sign-up code: an account with one verified contact and a session. */
  async function signedUp(contact: { email?: string; phone?: string }, extra: Record<string, unknown> = {}) {
    const password = newPassword();
    const registered = await post('/register', { ...contact, password, ...extra });
    expect(registered.status).toBe(201);
    const to = registered.body.channel === 'email' ? contact.email! : contact.phone!;
    const verified = await post('/otp/verify', { challengeId: registered.body.challengeId, code: await codeFor(to) });
    expect(verified.status).toBe(200);
    return { password, userId: registered.body.userId as string, tokens: verified.body as { accessToken: string; refreshToken: string } };
  }

  async function loggedIn(identifier: string, password: string, to: string) {
    const login = await post('/login', { identifier, password });
    expect(login.status).toBe(200);
    const verified = await post('/otp/verify', { challengeId: login.body.challengeId, code: await codeFor(to) });
    expect(verified.status).toBe(200);
    return verified.body as { accessToken: string; refreshToken: string };
  }

  describe('sign-up', () => {
    it('by email: the code arrives by email, and confirming it signs in and verifies the address', async () => {
      const email = newEmail();
      const password = newPassword();
      const registered = await post('/register', { email: `  ${email.toUpperCase()} `, password });
      expect(registered).toMatchObject({
        status: 201,
        body: {
          userId: expect.any(String),
          challengeId: expect.any(String),
          channel: 'email',
          to: 'p***@example.com',
          expiresAt: expect.any(String),
        },
      });
      expect(Object.keys(registered.body).sort()).toEqual(['challengeId', 'channel', 'expiresAt', 'to', 'userId']);

      const message = await inboxes.next(email);
      expect(message.subject).toBe('Your sign-up code');
      const code = /code is (\d{6})/.exec(message.text)![1]!;
      codes.add(code);
      expect(JSON.stringify(registered.body)).not.toMatch(standaloneCode(code));

      const verified = await post('/otp/verify', { challengeId: registered.body.challengeId, code });
      expect(verified).toMatchObject({
        status: 200,
        body: {
          accessToken: expect.any(String),
          refreshToken: expect.any(String),
          tokenType: 'Bearer',
          expiresIn: 900,
          user: { id: registered.body.userId, email, phone: null, emailVerified: true, phoneVerified: false, otpChannel: null },
        },
      });
      const profile = await me(verified.body.accessToken as string);
      expect(profile).toMatchObject({
        status: 200,
        body: { id: registered.body.userId, email, emailVerified: true, phoneVerified: false },
      });
      expect(Object.keys(profile.body).sort()).toEqual([
        'createdAt',
        'email',
        'emailVerified',
        'id',
        'otpChannel',
        'phone',
        'phoneVerified',
      ]);

      // A code works once.
      expect(await post('/otp/verify', { challengeId: registered.body.challengeId, code })).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
    });

    it('by phone: the code arrives by SMS through Twilio and verifies the number', async () => {
      const phone = newPhone();
      const registered = await post('/register', { phone, password: newPassword() });
      expect(registered).toMatchObject({ status: 201, body: { channel: 'sms', to: `+44******${phone.slice(-4)}` } });

      const message = await inboxes.next(phone);
      expect(message).toMatchObject({ channel: 'sms', text: expect.stringContaining('is your sign-up code') });
      const code = /^(\d{6}) is your/.exec(message.text)![1]!;
      codes.add(code);
      const verified = await post('/otp/verify', { challengeId: registered.body.challengeId, code });
      expect(verified.status).toBe(200);
      expect((await me(verified.body.accessToken as string)).body).toMatchObject({
        email: null,
        phone,
        emailVerified: false,
        phoneVerified: true,
      });
    });

    it('sends the code to the contact of otpChannel when both are given', async () => {
      const email = newEmail();
      const phone = newPhone();
      const registered = await post('/register', { email, phone, password: newPassword(), otpChannel: 'whatsapp' });
      expect(registered).toMatchObject({ status: 201, body: { channel: 'whatsapp' } });
      expect((await inboxes.next(phone)).channel).toBe('whatsapp');
      expect(inboxes.messagesTo(email)).toEqual([]);
    });

    it('refuses an email address or phone number that another account verified, and only then', async () => {
      const email = newEmail();
      await signedUp({ email });
      expect(await post('/register', { email: email.toUpperCase(), password: newPassword() })).toMatchObject({
        status: 409,
        body: { statusCode: 409, code: 'ACCOUNT_EXISTS' },
      });
      const phone = newPhone();
      // An unverified claim blocks nobody.
      expect((await post('/register', { phone, password: newPassword() })).status).toBe(201);
      await codeFor(phone);
      expect((await post('/register', { phone, password: newPassword() })).status).toBe(201);
      await codeFor(phone);
      await signedUp({ phone });
      expect(await post('/register', { phone, email: newEmail(), password: newPassword() })).toMatchObject({
        status: 409,
        body: { code: 'ACCOUNT_EXISTS' },
      });
    });

    it('refuses bad input with VALIDATION_FAILED and the field at fault', async () => {
      const invalid = async (body: unknown, field: string) => {
        const response = await post('/register', body);
        expect(response).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
        expect((response.body.errors as Record<string, string[]>)[field]).toEqual([expect.any(String)]);
        return (response.body.errors as Record<string, string[]>)[field]![0]!;
      };
      expect(await invalid({ email: newEmail(), password: 'short' }, 'password')).toMatch(/8 to 128/);
      expect(await invalid({ email: newEmail(), password: 'x'.repeat(129) }, 'password')).toMatch(/8 to 128/);
      expect(await invalid({ password: newPassword() }, 'email')).toMatch(/phone number/);
      expect(await invalid({ email: newEmail(), password: newPassword(), nickname: 'ann' }, 'nickname')).toMatch(/should not exist/);
      expect(await invalid({ phone: '07911 123456', password: newPassword() }, 'phone')).toMatch(/E\.164/);
      expect(await invalid({ email: 'not-an-address', password: newPassword() }, 'email')).toMatch(/email address/);
      expect(await invalid({ email: newEmail(), password: newPassword(), otpChannel: 'sms' }, 'otpChannel')).toMatch(/phone number/);
      expect(await invalid({ email: newEmail(), password: newPassword(), otpChannel: 'pigeon' }, 'otpChannel')).toMatch(/one of/);
    });
  });

  describe('login with a password and a code', () => {
    it('sends the second factor and signs in with it', async () => {
      const email = newEmail();
      const { password, userId } = await signedUp({ email });
      const login = await post('/login', { identifier: ` ${email.toUpperCase()}`, password });
      expect(login).toMatchObject({
        status: 200,
        body: { challengeId: expect.any(String), channel: 'email', to: 'p***@example.com', expiresAt: expect.any(String) },
      });
      const message = await inboxes.next(email);
      expect(message.subject).toBe('Your login code');
      const code = /code is (\d{6})/.exec(message.text)![1]!;
      codes.add(code);

      const wrong = code === '000000' ? '111111' : '000000';
      expect(await post('/otp/verify', { challengeId: login.body.challengeId, code: wrong })).toMatchObject({
        status: 422,
        body: { code: 'OTP_INCORRECT', attemptsRemaining: 4 },
      });
      const verified = await post('/otp/verify', { challengeId: login.body.challengeId, code });
      expect(verified).toMatchObject({ status: 200, body: { tokenType: 'Bearer', user: { id: userId, email } } });
      expect((await me(verified.body.accessToken as string)).body).toMatchObject({ id: userId });
    });

    it('answers a wrong password and an unknown identifier with the same 401', async () => {
      const email = newEmail();
      await signedUp({ email });
      const wrongPassword = await post('/login', { identifier: email, password: 'not-the-password' });
      const unknown = await post('/login', { identifier: newEmail(), password: 'not-the-password' });
      const notAnIdentifier = await post('/login', { identifier: 'nobody', password: 'not-the-password' });
      expect(wrongPassword).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });
      expect(unknown.status).toBe(401);
      expect(unknown.body).toEqual(wrongPassword.body);
      expect(notAnIdentifier.body).toEqual(wrongPassword.body);
      expect(inboxes.messagesTo(email)).toHaveLength(1);
    });

    it('lets an account with nothing verified yet log in through its sign-up contact, which the code then verifies', async () => {
      const email = newEmail();
      const phone = newPhone();
      const password = newPassword();
      expect((await post('/register', { email, phone, password })).status).toBe(201);
      await inboxes.next(email); // the sign-up code, never used

      const login = await post('/login', { identifier: phone, password, channel: 'sms' });
      // Nothing is confirmed, so the code goes where the sign-up code went, whatever was asked.
      expect(login).toMatchObject({ status: 200, body: { channel: 'email' } });
      const verified = await post('/otp/verify', { challengeId: login.body.challengeId, code: await codeFor(email) });
      expect(verified).toMatchObject({ status: 200, body: { user: { emailVerified: true, phoneVerified: false } } });
      expect(inboxes.messagesTo(phone)).toEqual([]);
    });

    it('sends to the channel asked for, else the preferred one, and never to a contact not verified', async () => {
      const email = newEmail();
      const phone = newPhone();
      const { password, userId } = await signedUp({ email, phone }, { otpChannel: 'sms' });
      const loginVia = async (request: Record<string, string>, channel: string, to: string) => {
        const login = await post('/login', { password, ...request });
        expect(login).toMatchObject({ status: 200, body: { channel } });
        const message = await inboxes.next(to, (candidate) => /is your login code|Your login code is/.test(candidate.text));
        expect(message.channel).toBe(channel);
        const code = /\b(\d{6})\b/.exec(message.text)![1]!;
        codes.add(code);
        expect((await post('/otp/verify', { challengeId: login.body.challengeId, code })).status).toBe(200);
      };
      // Only the phone is verified (the sign-up code went by SMS), so email is not offered yet,
      // and the unverified address is no identifier of an account that has verified something.
      await loginVia({ identifier: phone, channel: 'email' }, 'sms', phone);
      expect(await post('/login', { identifier: email, password })).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });

      await service.app.get(UsersRepository).markEmailVerified(userId);
      await loginVia({ identifier: phone, channel: 'email' }, 'email', email);
      await loginVia({ identifier: email }, 'sms', phone);
      await loginVia({ identifier: email, channel: 'whatsapp' }, 'whatsapp', phone);
    });
  });

  describe('passwordless login and password reset', () => {
    it('answer an unknown account exactly like a known one, and its challenge counts attempts down the same', async () => {
      const email = newEmail();
      await signedUp({ email });
      const stranger = newEmail();
      for (const purpose of ['login', 'password_reset']) {
        const known = await post('/otp/start', { identifier: email, purpose });
        const unknown = await post('/otp/start', { identifier: stranger, purpose });
        expect(known).toMatchObject({
          status: 202,
          body: { challengeId: expect.any(String), channel: 'email', expiresAt: expect.any(String) },
        });
        expect(unknown).toMatchObject({
          status: 202,
          body: { challengeId: expect.any(String), channel: 'email', expiresAt: expect.any(String) },
        });
        expect(Object.keys(unknown.body).sort()).toEqual(Object.keys(known.body).sort());
        await codeFor(email);

        const extra = purpose === 'password_reset' ? { newPassword: newPassword() } : {};
        for (const remaining of [4, 3]) {
          const onKnown = await post('/otp/verify', { challengeId: known.body.challengeId, code: '000000', ...extra });
          const onUnknown = await post('/otp/verify', { challengeId: unknown.body.challengeId, code: '000000', ...extra });
          expect(onKnown).toMatchObject({ status: 422, body: { code: 'OTP_INCORRECT', attemptsRemaining: remaining } });
          expect(onUnknown).toEqual({ ...onKnown, headers: expect.anything() });
        }
        // The unknown account's challenge locks like a real one.
        for (let i = 0; i < 3; i++) await post('/otp/verify', { challengeId: unknown.body.challengeId, code: '000000', ...extra });
        expect(await post('/otp/verify', { challengeId: unknown.body.challengeId, code: '000000', ...extra })).toMatchObject({
          status: 429,
          body: { code: 'OTP_ATTEMPTS_EXCEEDED' },
        });
        // Resending it answers the same way too, and still delivers nothing.
        expect(await post('/otp/resend', { challengeId: known.body.challengeId })).toMatchObject({ status: 202 });
        await codeFor(email);
      }
      expect(inboxes.messagesTo(stranger)).toEqual([]);
    });

    it('resends a stranger’s challenge without delivering anything', async () => {
      const stranger = newEmail();
      const started = await post('/otp/start', { identifier: stranger, purpose: 'login' });
      const resent = await post('/otp/resend', { challengeId: started.body.challengeId });
      expect(resent).toMatchObject({
        status: 202,
        body: { challengeId: started.body.challengeId, expiresAt: expect.any(String), resendAvailableAt: expect.any(String) },
      });
      const email = newEmail();
      await signedUp({ email });
      // A known account's message, sent after the stranger's requests, arrives; the stranger's never do.
      await post('/otp/start', { identifier: email, purpose: 'login' });
      await codeFor(email);
      expect(inboxes.messagesTo(stranger)).toEqual([]);
    });

    it('logs in with a code alone', async () => {
      const phone = newPhone();
      const { userId } = await signedUp({ phone });
      const started = await post('/otp/start', { identifier: phone, purpose: 'login' });
      expect(started).toMatchObject({ status: 202, body: { channel: 'sms' } });
      const verified = await post('/otp/verify', { challengeId: started.body.challengeId, code: await codeFor(phone) });
      expect(verified).toMatchObject({ status: 200, body: { user: { id: userId, phoneVerified: true } } });
    });

    it('resets the password: the new one works, the old one and every earlier session stop, and a notice arrives', async () => {
      const email = newEmail();
      const { password: oldPassword, tokens: signUpSession } = await signedUp({ email });
      const loginSession = await loggedIn(email, oldPassword, email);

      const started = await post('/otp/start', { identifier: email, purpose: 'password_reset' });
      expect(started.status).toBe(202);
      const message = await inboxes.next(email);
      expect(message.subject).toBe('Your password reset code');
      const code = /code is (\d{6})/.exec(message.text)![1]!;
      codes.add(code);

      // Without the new password the code is not used up.
      expect(await post('/otp/verify', { challengeId: started.body.challengeId, code })).toMatchObject({
        status: 400,
        body: { code: 'VALIDATION_FAILED', errors: { newPassword: [expect.stringContaining('required')] } },
      });
      expect(await post('/otp/verify', { challengeId: started.body.challengeId, code, newPassword: 'short' })).toMatchObject({
        status: 400,
        body: { errors: { newPassword: [expect.stringContaining('8 to 128')] } },
      });
      const password = newPassword();
      const reset = await post('/otp/verify', { challengeId: started.body.challengeId, code, newPassword: password });
      expect(reset).toMatchObject({ status: 200, body: { tokenType: 'Bearer', user: { email } } });

      for (const session of [signUpSession, loginSession]) {
        expect((await post('/token/refresh', { refreshToken: session.refreshToken })).status).toBe(401);
      }
      expect((await post('/token/refresh', { refreshToken: reset.body.refreshToken })).status).toBe(200);
      expect(await post('/login', { identifier: email, password: oldPassword })).toMatchObject({
        status: 401,
        body: { code: 'INVALID_CREDENTIALS' },
      });
      await loggedIn(email, password, email);

      const notice = await inboxes.next(email, (message) => message.subject === 'Your password was changed');
      expect(notice.text).toContain('The password of your account was just changed.');
    });

    it('refuses to start with something that is neither an email address nor a phone number, or a channel that does not fit it', async () => {
      expect(await post('/otp/start', { identifier: 'nobody', purpose: 'login' })).toMatchObject({
        status: 400,
        body: { errors: { identifier: [expect.any(String)] } },
      });
      expect(await post('/otp/start', { identifier: newEmail(), purpose: 'login', channel: 'sms' })).toMatchObject({
        status: 400,
        body: { errors: { channel: [expect.any(String)] } },
      });
      expect(await post('/otp/start', { identifier: newEmail(), purpose: 'signup' })).toMatchObject({
        status: 400,
        body: { errors: { purpose: [expect.any(String)] } },
      });
    });
  });

  describe('challenges', () => {
    it('resend issues a new code and the previous one stops working', async () => {
      const email = newEmail();
      const registered = await post('/register', { email, password: newPassword() });
      const first = await codeFor(email);
      const resent = await post('/otp/resend', { challengeId: registered.body.challengeId });
      expect(resent).toMatchObject({ status: 202, body: { challengeId: registered.body.challengeId } });
      const second = await codeFor(email);
      if (first !== second) {
        expect(await post('/otp/verify', { challengeId: registered.body.challengeId, code: first })).toMatchObject({
          status: 422,
          body: { code: 'OTP_INCORRECT' },
        });
      }
      expect((await post('/otp/verify', { challengeId: registered.body.challengeId, code: second })).status).toBe(200);
    });

    it('does not complete or resend a verification of the server API, nor an unknown challenge', async () => {
      const to = newEmail();
      const started = await call(service.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'verify' });
      expect(started.status).toBe(201);
      const code = await codeFor(to);
      expect(await post('/otp/verify', { challengeId: started.body.id, code })).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
      expect(await post('/otp/resend', { challengeId: started.body.id })).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
      // Untouched by those: the server API can still approve it.
      expect(await call(service.url, 'POST', '/v1/verifications/check', { id: started.body.id, code })).toMatchObject({ status: 200 });
      expect(await post('/otp/verify', { challengeId: '00000000-0000-4000-8000-000000000000', code })).toMatchObject({ status: 404 });
      expect(await post('/otp/verify', { challengeId: 'x', code })).toMatchObject({
        status: 400,
        body: { errors: { challengeId: [expect.any(String)] } },
      });
    });
  });

  describe('sessions', () => {
    it('rotates refresh tokens and treats reuse of a rotated one as theft of the whole family', async () => {
      const { tokens } = await signedUp({ email: newEmail() });
      const second = await post('/token/refresh', { refreshToken: tokens.refreshToken });
      expect(second).toMatchObject({
        status: 200,
        body: { accessToken: expect.any(String), refreshToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 },
      });
      expect(second.body.refreshToken).not.toBe(tokens.refreshToken);

      // Past the 10 s grace that concurrent tabs get, a rotated token coming back is theft.
      await service.app
        .get<Database>(Database)
        .update(refreshTokens)
        .set({ rotatedAt: new Date(Date.now() - 11_000) })
        .where(eq(refreshTokens.tokenHash, createHash('sha256').update(tokens.refreshToken).digest('hex')));
      expect(await post('/token/refresh', { refreshToken: tokens.refreshToken })).toMatchObject({
        status: 401,
        body: { code: 'TOKEN_REUSED' },
      });
      expect(await post('/token/refresh', { refreshToken: second.body.refreshToken })).toMatchObject({
        status: 401,
        body: { code: 'TOKEN_REVOKED' },
      });
      expect(await post('/token/refresh', { refreshToken: 'A'.repeat(43) })).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
      expect(await post('/token/refresh', {})).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    });

    it('logs out one session with a Bearer token; the refresh token stops working', async () => {
      const email = newEmail();
      const { tokens, password } = await signedUp({ email });
      const other = await loggedIn(email, password, email);
      expect((await post('/logout', { refreshToken: tokens.refreshToken })).status).toBe(401);
      const out = await post('/logout', { refreshToken: tokens.refreshToken }, bearer(tokens.accessToken));
      expect(out.status).toBe(204);
      expect((await post('/token/refresh', { refreshToken: tokens.refreshToken })).status).toBe(401);
      expect((await post('/token/refresh', { refreshToken: other.refreshToken })).status).toBe(200);
      expect((await post('/logout', undefined, bearer(other.accessToken))).status).toBe(204);
    });

    it('refuses Bearer tokens that are unsigned, for another audience, or expired', async () => {
      const { userId, tokens } = await signedUp({ email: newEmail() });
      const jwt = service.app.get(JwtService);
      const now = Math.floor(Date.now() / 1000);
      const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const unsigned = `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: userId, jti: 'j', iss: 'otp-gateway', aud: 'otp-gateway-api', iat: now, exp: now + 900 })}.`;
      const otherAudience = await jwt.signAsync({}, { subject: userId, jwtid: 'j', audience: 'other-api' });
      const expired = await jwt.signAsync({ iat: now - 901 }, { subject: userId, jwtid: 'j' });
      for (const token of [unsigned, otherAudience, expired]) {
        expect(await me(token)).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
        expect((await call(service.url, 'PATCH', '/v1/auth/me', { otpChannel: 'email' }, bearer(token))).status).toBe(401);
        expect((await post('/logout', {}, bearer(token))).status).toBe(401);
      }
      expect((await call(service.url, 'GET', '/v1/auth/me')).status).toBe(401);
      expect((await me(tokens.accessToken)).status).toBe(200);
    });
  });

  describe('PATCH /v1/auth/me', () => {
    it('sets otpChannel to a channel the account has a contact for', async () => {
      const { tokens } = await signedUp({ email: newEmail() });
      const patch = (body: unknown) => call(service.url, 'PATCH', '/v1/auth/me', body, bearer(tokens.accessToken));
      expect(await patch({ otpChannel: 'sms' })).toMatchObject({
        status: 400,
        body: { errors: { otpChannel: [expect.stringContaining('phone number')] } },
      });
      expect(await patch({ otpChannel: 'email' })).toMatchObject({ status: 200, body: { otpChannel: 'email' } });
      expect((await me(tokens.accessToken)).body).toMatchObject({ otpChannel: 'email' });
      expect(await patch({ otpChannel: 'email', nickname: 'x' })).toMatchObject({
        status: 400,
        body: { errors: { nickname: [expect.any(String)] } },
      });
      expect(await patch({})).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    });

    it('changes the email address only once the code sent to the new one is verified', async () => {
      const oldEmail = newEmail();
      const { tokens, password, userId } = await signedUp({ email: oldEmail });
      const newAddress = newEmail();
      const patch = (body: unknown) => call(service.url, 'PATCH', '/v1/auth/me', body, bearer(tokens.accessToken));

      const taken = newEmail();
      await signedUp({ email: taken });
      expect(await patch({ email: taken, password })).toMatchObject({ status: 409, body: { code: 'ACCOUNT_EXISTS' } });

      const staged = await patch({ email: newAddress, password });
      expect(staged).toMatchObject({
        status: 202,
        body: { challengeId: expect.any(String), channel: 'email', to: 'p***@example.com', expiresAt: expect.any(String) },
      });
      expect((await me(tokens.accessToken)).body).toMatchObject({ email: oldEmail });
      const code = await codeFor(newAddress);
      expect(inboxes.messagesTo(oldEmail)).toHaveLength(1); // only its sign-up code

      expect(await post('/otp/verify', { challengeId: staged.body.challengeId, code })).toMatchObject({
        status: 401,
        body: { code: 'UNAUTHORIZED' },
      });
      const someoneElse = await signedUp({ email: newEmail() });
      expect(
        await post('/otp/verify', { challengeId: staged.body.challengeId, code }, bearer(someoneElse.tokens.accessToken)),
      ).toMatchObject({ status: 404 });
      const changed = await post('/otp/verify', { challengeId: staged.body.challengeId, code }, bearer(tokens.accessToken));
      expect(changed).toMatchObject({ status: 200, body: { user: { id: userId, email: newAddress, emailVerified: true } } });
      expect((await me(tokens.accessToken)).body).toMatchObject({ email: newAddress, emailVerified: true });

      expect((await post('/login', { identifier: oldEmail, password })).status).toBe(401);
      await loggedIn(newAddress, password, newAddress);
    });

    it('adds a phone number by SMS code', async () => {
      const { tokens, password } = await signedUp({ email: newEmail() });
      const phone = newPhone();
      const staged = await call(service.url, 'PATCH', '/v1/auth/me', { phone, password }, bearer(tokens.accessToken));
      expect(staged).toMatchObject({ status: 202, body: { channel: 'sms' } });
      const changed = await post(
        '/otp/verify',
        { challengeId: staged.body.challengeId, code: await codeFor(phone) },
        bearer(tokens.accessToken),
      );
      expect(changed).toMatchObject({ status: 200, body: { user: { phone, phoneVerified: true, emailVerified: true } } });
    });
  });

  it('never writes a code or a password to the log', () => {
    const log = service.logs.text();
    expect(passwords.size).toBeGreaterThan(5);
    expect(codes.size).toBeGreaterThan(10);
    for (const password of passwords) expect(log).not.toContain(password);
    for (const code of codes) expect(log).not.toMatch(standaloneCode(code));
  });
});
