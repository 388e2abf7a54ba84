import { randomUUID } from 'node:crypto';
import { call, startApp, type TestApp } from '../support/app.js';
import { Inboxes, JWT_SECRET } from '../support/auth-inboxes.js';
import { eventually } from '../support/eventually.js';
import { LOOSE_LIMITS } from '../support/environments.js';

/**
 * `GET /v1/auth/otp/{challengeId}`: what a sign-in screen may show about a pending challenge. Its
 * delivery is the real one for sign-up, login and contact changes, and never shown for what
 * `otp/start` handed out, whose answer must not tell whether the account exists.
 */
describe('the public challenge status', () => {
  let inboxes: Inboxes;
  let service: TestApp;

  beforeAll(async () => {
    inboxes = await Inboxes.start();
    service = await startApp({
      ...inboxes.env(),
      JWT_SECRET,
      ...LOOSE_LIMITS,
      DELIVERY_ATTEMPTS: '1',
    });
  }, 60_000);
  afterAll(async () => {
    await service?.close();
    await inboxes?.close();
  });
  afterEach(() => inboxes.twilio.reset());

  let sequence = 0;
  const run = Date.now() % 100_000;
  const newEmail = () => `status${++sequence}.${run}@example.com`;
  const newPhone = () => `+447933${String(100_000 + ((run + ++sequence) % 900_000)).slice(-6)}`;
  const post = (path: string, body: unknown) => call(service.url, 'POST', `/v1/auth${path}`, body, {});
  const status = (challengeId: string) => call(service.url, 'GET', `/v1/auth/otp/${challengeId}`, undefined, {});

  async function signedUp(contact: { email?: string; phone?: string }) {
    const password = `pw-${randomUUID()}`;
    const registered = await post('/register', { ...contact, password });
    expect(registered.status).toBe(201);
    const to = contact.email ?? contact.phone!;
    expect((await post('/otp/verify', { challengeId: registered.body.challengeId, code: await inboxes.nextCode(to) })).status).toBe(200);
    return password;
  }

  it('shows a sign-up challenge with its real delivery, the destination masked', async () => {
    const email = newEmail();
    const registered = await post('/register', { email, password: 'a-long-password' });
    expect(registered.status).toBe(201);
    await inboxes.next(email);
    let body: Record<string, unknown> = {};
    await eventually(async () => {
      const answer = await status(registered.body.challengeId as string);
      expect(answer.status).toBe(200);
      body = answer.body;
      expect(body.delivery).toMatchObject({ status: 'sent' });
    });
    expect(Object.keys(body).sort()).toEqual(['challengeId', 'channel', 'delivery', 'expiresAt', 'resendAvailableAt', 'to']);
    expect(body).toMatchObject({
      challengeId: registered.body.challengeId,
      channel: 'email',
      to: registered.body.to,
      expiresAt: registered.body.expiresAt,
    });
    expect(Object.keys(body.delivery as object).sort()).toEqual(['status', 'updatedAt']);
    expect(JSON.stringify(body)).not.toContain(email);
  });

  it('shows failed for a login whose every provider failed, so the screen can offer another channel', async () => {
    const phone = newPhone();
    const password = await signedUp({ phone });
    inboxes.twilio.failAlways({ status: 503, code: 20500, message: 'Service unavailable' });
    const login = await post('/login', { identifier: phone, password });
    expect(login.status).toBe(200);
    await eventually(async () => {
      const answer = await status(login.body.challengeId as string);
      expect(answer).toMatchObject({ status: 200, body: { channel: 'sms', to: login.body.to, delivery: { status: 'failed' } } });
    });
    expect(inboxes.twilio.failuresServed).toBeGreaterThan(0);
  });

  it('never shows the delivery of an otp/start challenge: the same answer with and without an account', async () => {
    const email = newEmail();
    await signedUp({ email });
    const known = await post('/otp/start', { identifier: email, purpose: 'login' });
    const unknown = await post('/otp/start', { identifier: newEmail(), purpose: 'login' });
    expect([known.status, unknown.status]).toEqual([202, 202]);
    // The known account's code was delivered; the unknown one's never will be. Neither shows it.
    await inboxes.next(email);
    for (const started of [known, unknown]) {
      const answer = await status(started.body.challengeId as string);
      expect(answer.status).toBe(200);
      expect(Object.keys(answer.body).sort()).toEqual(['challengeId', 'channel', 'expiresAt', 'resendAvailableAt', 'to']);
    }
  });

  it("stops showing a login challenge's delivery once otp/start has handed out its id too", async () => {
    const email = newEmail();
    const password = await signedUp({ email });
    const login = await post('/login', { identifier: email, password });
    await inboxes.next(email);
    await eventually(async () => expect((await status(login.body.challengeId as string)).body.delivery).toMatchObject({ status: 'sent' }));
    const started = await post('/otp/start', { identifier: email, purpose: 'login' });
    expect(started.status).toBe(202);
    // Here otp/start re-sends the pending login challenge, handing out its id: from then on it is an otp/start answer.
    const answer = await status(started.body.challengeId as string);
    expect(answer.status).toBe(200);
    expect(answer.body.delivery).toBeUndefined();
  });

  it('is 404 VERIFICATION_NOT_FOUND for unknown, malformed, completed and locked challenges, and for a Verifications API id', async () => {
    const notFound = { status: 404, body: { code: 'VERIFICATION_NOT_FOUND' } };
    expect(await status(randomUUID())).toMatchObject(notFound);
    expect(await status('not-a-uuid')).toMatchObject(notFound);

    const email = newEmail();
    const registered = await post('/register', { email, password: 'a-long-password' });
    const code = await inboxes.nextCode(email);
    expect((await post('/otp/verify', { challengeId: registered.body.challengeId, code })).status).toBe(200);
    expect(await status(registered.body.challengeId as string)).toMatchObject(notFound);

    const other = newEmail();
    const locked = await post('/register', { email: other, password: 'a-long-password' });
    const right = await inboxes.nextCode(other);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) await post('/otp/verify', { challengeId: locked.body.challengeId, code: wrong });
    expect(await status(locked.body.challengeId as string)).toMatchObject(notFound);

    const api = await call(service.url, 'POST', '/v1/verifications', { channel: 'email', to: newEmail() });
    expect(api.status).toBe(201);
    expect(await status(api.body.id as string)).toMatchObject(notFound);
  });
});
