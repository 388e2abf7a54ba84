import { call } from './support/app.js';
import { eventually } from './support/eventually.js';
import { availableStackModes, ServiceStack } from './support/service-stack.js';

/**
 * What a stranger can do to someone else's destination, tried against the built service on a real
 * Redis (and PostgreSQL in production mode), with the codes read from what the SMTP server received:
 * guess a test destination's fixed code, lock a user out by spending the send limits of their
 * address, and complete or read a challenge of one API through the other.
 */
const TEST_CODE = '864213';
const WRONG = ['000001', '000002', '000003', '000004', '000005', '000006', '000007'];

describe.each(availableStackModes())('abuse of send limits, fixed codes and the two APIs (%s)', (mode) => {
  let stack: ServiceStack;
  /** The shipped limits: a 30 s cooldown, 5 sends an hour and 10 a day per destination, 5 attempts. */
  let shipped: string;
  /** No cooldown, so the hourly cap and repeated verifications can be reached at once. */
  let noCooldown: string;
  const run = `${mode.slice(0, 4)}${Date.now() % 100_000}`;
  const reviewer = (name: string) => `review.${name}.${run}@example.com`;
  const reviewers = ['guesses', 'hourly', 'cooldown'].map(reviewer);

  beforeAll(async () => {
    // One PostgreSQL database for both processes when there is one: an embedded one each starts slowly.
    stack = await ServiceStack.start(mode, { shareDatabase: true });
    const common = {
      RATE_LIMIT_IP_PER_MINUTE: '100000',
      OTP_TEST_DESTINATIONS: reviewers.map((to) => `${to}:${TEST_CODE}`).join(','),
      EMAIL_PROVIDERS: 'smtp',
    };
    [shipped, noCooldown] = await Promise.all([
      stack.startService(common),
      stack.startService({ ...common, OTP_RESEND_COOLDOWN_SECONDS: '0' }),
    ]).then((started) => started.map((service) => service.url));
  }, 90_000);
  afterAll(() => stack?.close());

  let sequence = 0;
  const newEmail = () => `person${++sequence}.${run}@example.com`;
  const auth = (url: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(url, 'POST', `/v1/auth${path}`, body, headers);
  const api = (url: string, method: string, path: string, body?: unknown) => call(url, method, `/v1/verifications${path}`, body);
  const mailsTo = (email: string) => stack.inboxes.messagesTo(email);
  /** The code of the `count`-th message to `email`, once it has arrived. */
  async function codeNumber(email: string, count: number): Promise<string> {
    await eventually(async () => expect(mailsTo(email).length).toBeGreaterThanOrEqual(count), 15_000);
    return /\b(\d{6})\b/.exec(mailsTo(email)[count - 1]!.text)![1]!;
  }

  /** A user who signed up on `url` and confirmed the email address with the code it received. */
  async function signedUp(url: string): Promise<{ email: string; password: string }> {
    const email = newEmail();
    const password = `pw-${run}-${sequence}-long-enough`;
    const registered = await auth(url, '/register', { email, password });
    expect(registered.status).toBe(201);
    const verified = await auth(url, '/otp/verify', { challengeId: registered.body.challengeId, code: await codeNumber(email, 1) });
    expect(verified.status).toBe(200);
    return { email, password };
  }

  describe("a test destination's fixed code", () => {
    it('takes at most OTP_MAX_ATTEMPTS wrong guesses a day across all its verifications and both APIs, then 429 for that destination', async () => {
      const to = reviewers[0]!;
      // The app-store review account, confirmed with the fixed code.
      const registered = await auth(noCooldown, '/register', { email: to, password: `review-${run}-password` });
      expect(registered.status).toBe(201);
      expect((await auth(noCooldown, '/otp/verify', { challengeId: registered.body.challengeId, code: TEST_CODE })).status).toBe(200);

      // Five wrong guesses spread over three verifications, none of which is locked by its own count.
      const reset = await auth(noCooldown, '/otp/start', { identifier: to, purpose: 'password_reset' });
      expect(reset.status).toBe(202);
      for (const code of WRONG.slice(0, 2)) {
        expect(
          await auth(noCooldown, '/otp/verify', { challengeId: reset.body.challengeId, code, newPassword: 'taken-over-password' }),
        ).toMatchObject({ status: 422 });
      }
      const verification = await api(noCooldown, 'POST', '', { channel: 'email', to });
      expect(verification.status).toBe(201);
      for (const code of WRONG.slice(2, 4))
        expect((await api(noCooldown, 'POST', '/check', { id: verification.body.id, code })).status).toBe(422);
      const login = await auth(noCooldown, '/otp/start', { identifier: to, purpose: 'login' });
      expect(login.status).toBe(202);
      expect(await auth(noCooldown, '/otp/verify', { challengeId: login.body.challengeId, code: WRONG[4] })).toMatchObject({
        status: 422,
        body: { attemptsRemaining: 4 },
      });

      // A fresh verification gives no fresh guesses, and the right code no longer gets in either.
      const fresh = await api(noCooldown, 'POST', '', { channel: 'email', to, purpose: 'fresh' });
      expect(fresh).toMatchObject({ status: 201, body: { attemptsRemaining: 5 } });
      for (const attempt of [
        () => api(noCooldown, 'POST', '/check', { id: fresh.body.id, code: WRONG[5] }),
        () => api(shipped, 'POST', '/check', { id: fresh.body.id, code: TEST_CODE }),
        () => auth(noCooldown, '/otp/verify', { challengeId: login.body.challengeId, code: TEST_CODE }),
        () => auth(shipped, '/otp/verify', { challengeId: reset.body.challengeId, code: TEST_CODE, newPassword: 'taken-over-password' }),
      ]) {
        const refused = await attempt();
        expect(refused).toMatchObject({ status: 429, body: { code: 'OTP_ATTEMPTS_EXCEEDED' } });
        // Until the day's window, opened by the first wrong guess, ends.
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(23 * 3600);
      }
      expect(await auth(noCooldown, '/login', { identifier: to, password: 'taken-over-password' })).toMatchObject({ status: 401 });
      // The verification itself was never locked by its own count: nothing but the daily allowance refuses it.
      expect((await api(noCooldown, 'GET', `/${fresh.body.id as string}`)).body).toMatchObject({ status: 'pending', attemptsRemaining: 5 });
      expect(mailsTo(to)).toEqual([]);
    });

    it('obeys the send limits like any other destination', async () => {
      const [, hourly, cooldown] = reviewers as [string, string, string];
      for (let i = 0; i < 5; i++)
        expect((await api(noCooldown, 'POST', '', { channel: 'email', to: hourly, purpose: `p${i}` })).status).toBe(201);
      expect(await api(noCooldown, 'POST', '', { channel: 'email', to: hourly, purpose: 'p5' })).toMatchObject({
        status: 429,
        body: { code: 'OTP_RATE_LIMITED' },
      });
      expect((await auth(noCooldown, '/otp/start', { identifier: hourly, purpose: 'login' })).status).toBe(202);

      expect((await api(shipped, 'POST', '', { channel: 'email', to: cooldown })).status).toBe(201);
      expect(await api(shipped, 'POST', '', { channel: 'email', to: cooldown })).toMatchObject({
        status: 429,
        body: { code: 'OTP_RESEND_TOO_SOON' },
      });
      expect(mailsTo(hourly)).toEqual([]);
      expect(mailsTo(cooldown)).toEqual([]);
    });
  });

  describe('the three send budgets of a destination', () => {
    it("five anonymous otp/start for a user's address do not keep the user's own password login from its code", async () => {
      const victim = await signedUp(shipped);
      const attacker: number[] = [];
      for (let i = 0; i < 5; i++)
        attacker.push(
          (await auth(shipped, '/otp/start', { identifier: victim.email, purpose: i % 2 ? 'password_reset' : 'login' })).status,
        );
      expect(attacker.every((status) => status === 202 || status === 429)).toBe(true);
      expect(attacker.filter((status) => status === 429).length).toBeGreaterThanOrEqual(3);
      const delivered = attacker.filter((status) => status === 202).length;
      await codeNumber(victim.email, 1 + delivered);

      const login = await auth(shipped, '/login', { identifier: victim.email, password: victim.password });
      expect(login.status).toBe(200);
      const code = await codeNumber(victim.email, 2 + delivered);
      expect(mailsTo(victim.email)[1 + delivered]!.subject).toBe('Your login code');
      expect(await auth(shipped, '/otp/verify', { challengeId: login.body.challengeId, code })).toMatchObject({
        status: 200,
        body: { user: { email: victim.email } },
      });
    });

    it("nor does spending the destination's whole anonymous hour", async () => {
      const victim = await signedUp(noCooldown);
      const statuses = [];
      for (let i = 0; i < 8; i++)
        statuses.push(
          (await auth(noCooldown, '/otp/start', { identifier: victim.email, purpose: i % 2 ? 'password_reset' : 'login' })).status,
        );
      // The sign-up code was the first anonymous send of the hour.
      expect(statuses).toEqual([202, 202, 202, 202, 429, 429, 429, 429]);
      const refused = await auth(noCooldown, '/otp/start', { identifier: victim.email, purpose: 'login' });
      expect(refused).toMatchObject({ status: 429, body: { code: 'OTP_RATE_LIMITED' } });
      await codeNumber(victim.email, 5);

      const login = await auth(noCooldown, '/login', { identifier: victim.email, password: victim.password });
      expect(login.status).toBe(200);
      expect(
        await auth(noCooldown, '/otp/verify', { challengeId: login.body.challengeId, code: await codeNumber(victim.email, 6) }),
      ).toMatchObject({ status: 200 });
    });

    it('a sign-up followed at once by a login is not refused by the cooldown', async () => {
      const user = await signedUp(shipped);
      const login = await auth(shipped, '/login', { identifier: user.email, password: user.password });
      expect(login).toMatchObject({ status: 200, body: { channel: 'email' } });
      expect(
        await auth(shipped, '/otp/verify', { challengeId: login.body.challengeId, code: await codeNumber(user.email, 2) }),
      ).toMatchObject({ status: 200 });
    });

    it('an approved verification lifts the cooldown of its destination and budget', async () => {
      const email = newEmail();
      const first = await api(shipped, 'POST', '', { channel: 'email', to: email });
      expect(first.status).toBe(201);
      expect(await api(shipped, 'POST', '/check', { id: first.body.id, code: await codeNumber(email, 1) })).toMatchObject({ status: 200 });
      const next = await api(shipped, 'POST', '', { channel: 'email', to: email, purpose: 'second' });
      expect(next.status).toBe(201);
      // Not lifted by anything else: a resend right after is still too soon.
      expect(await api(shipped, 'POST', '', { channel: 'email', to: email, purpose: 'second' })).toMatchObject({
        status: 429,
        body: { code: 'OTP_RESEND_TOO_SOON' },
      });

      // The same in the anonymous budget: a passwordless login, then a password reset at once.
      const user = await signedUp(shipped);
      const passwordless = await auth(shipped, '/otp/start', { identifier: user.email, purpose: 'login' });
      expect(passwordless.status).toBe(202);
      expect(
        (await auth(shipped, '/otp/verify', { challengeId: passwordless.body.challengeId, code: await codeNumber(user.email, 2) })).status,
      ).toBe(200);
      expect((await auth(shipped, '/otp/start', { identifier: user.email, purpose: 'password_reset' })).status).toBe(202);
    });
  });

  describe('the Verifications API and the auth challenges', () => {
    it('an API verification with purpose password_reset cannot be completed, re-sent or joined through /v1/auth', async () => {
      const victim = await signedUp(noCooldown);
      const started = await api(noCooldown, 'POST', '', { channel: 'email', to: victim.email, purpose: 'password_reset' });
      expect(started.status).toBe(201);
      const code = await codeNumber(victim.email, 2);

      expect(
        await auth(noCooldown, '/otp/verify', { challengeId: started.body.id, code, newPassword: 'taken-over-password' }),
      ).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
      expect(await auth(noCooldown, '/otp/resend', { challengeId: started.body.id })).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
      // A password reset asked for through /v1/auth is a challenge of its own, not a resend of the API's.
      const reset = await auth(noCooldown, '/otp/start', { identifier: victim.email, purpose: 'password_reset' });
      expect(reset.status).toBe(202);
      expect(reset.body.challengeId).not.toBe(started.body.id);
      expect(await auth(noCooldown, '/login', { identifier: victim.email, password: 'taken-over-password' })).toMatchObject({
        status: 401,
      });

      // The API's verification is untouched: still pending, its code still works there.
      expect((await api(noCooldown, 'GET', `/${started.body.id as string}`)).body).toMatchObject({
        status: 'pending',
        attemptsRemaining: 5,
        sendsRemaining: 4,
      });
      expect(await api(noCooldown, 'POST', '/check', { id: started.body.id, code })).toMatchObject({
        status: 200,
        body: { status: 'approved' },
      });
    });

    it('an auth challenge cannot be read, checked, canceled, re-sent or joined through /v1/verifications', async () => {
      const victim = await signedUp(noCooldown);
      const reset = await auth(noCooldown, '/otp/start', { identifier: victim.email, purpose: 'password_reset' });
      expect(reset.status).toBe(202);
      const id = reset.body.challengeId as string;
      const code = await codeNumber(victim.email, 2);

      expect(await api(noCooldown, 'GET', `/${id}`)).toMatchObject({ status: 404, body: { code: 'VERIFICATION_NOT_FOUND' } });
      expect(await api(noCooldown, 'POST', '/check', { id, code })).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
      expect(await api(noCooldown, 'POST', '/check', { to: victim.email, purpose: 'password_reset', code })).toMatchObject({ status: 404 });
      expect(await api(noCooldown, 'POST', `/${id}/cancel`)).toMatchObject({ status: 404, body: { code: 'VERIFICATION_NOT_FOUND' } });
      const other = await api(noCooldown, 'POST', '', { channel: 'email', to: victim.email, purpose: 'password_reset' });
      expect(other.status).toBe(201);
      expect(other.body.id).not.toBe(id);
      await codeNumber(victim.email, 3);

      // Nothing of that touched the challenge: its code sets the new password.
      const newPassword = `new-${run}-password`;
      expect(await auth(noCooldown, '/otp/verify', { challengeId: id, code, newPassword })).toMatchObject({ status: 200 });
      expect((await auth(noCooldown, '/login', { identifier: victim.email, password: newPassword })).status).toBe(200);
    });
  });
});
