import { call } from './support/app.js';
import { postgresServerUrl } from './support/databases.js';
import { eventually } from './support/eventually.js';
import { availableStackModes, ServiceStack } from './support/service-stack.js';

/**
 * Two built service processes on different ports, sharing one Redis (and one PostgreSQL database
 * when there is one): limits are counted once across both, a verification started on one is
 * checked on the other, and each queued message goes out exactly once although both run workers.
 */
const LIMITS = {
  OTP_RESEND_COOLDOWN_SECONDS: '0',
  OTP_MAX_SENDS_PER_HOUR: '3',
  OTP_MAX_SENDS_PER_DAY: '10',
  RATE_LIMIT_IP_PER_MINUTE: '6',
  // The nearest hop is the test acting as a proxy: X-Forwarded-For names the client.
  TRUST_PROXY: '1',
};
const CODE = /\b(\d{6})\b/;

describe.each(availableStackModes())('two replicas on one Redis (%s)', (mode) => {
  let stack: ServiceStack;
  let a: string;
  let b: string;
  beforeAll(async () => {
    stack = await ServiceStack.start(mode, { shareDatabase: true });
    [a, b] = await Promise.all([stack.startService(LIMITS), stack.startService(LIMITS)]).then((started) =>
      started.map((service) => service.url),
    );
    expect(a).not.toBe(b);
  }, 60_000);
  afterAll(() => stack?.close());

  let clients = 0;
  /** A client address of its own per test, so the per-IP limit of one test never touches another. */
  const newClient = () => ({ 'x-forwarded-for': `198.51.100.${++clients}` });
  const send = (url: string, to: string, client: Record<string, string>, channel = 'email') =>
    call(url, 'POST', '/v1/verifications', { channel, to }, client);
  const run = `${mode}${Date.now() % 100_000}`;

  it('counts sends to one destination once across both: the fourth in an hour is refused on either, though neither saw three', async () => {
    const to = `limited.${run}@example.com`;
    expect((await send(a, to, newClient())).status).toBe(201);
    expect((await send(b, to, newClient())).status).toBe(201);
    expect((await send(a, to, newClient())).status).toBe(201);
    for (const url of [b, a]) {
      const refused = await send(url, to, newClient());
      expect(refused).toMatchObject({ status: 429, body: { code: 'OTP_RATE_LIMITED' } });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });

  it("counts one end user's clientIp once across both replicas", async () => {
    // The backend's own address is not limited per IP: the end user's address it passes is.
    const base = Date.now() % 200;
    const endUser = (i: number) => ({ clientIp: `203.0.113.${base + i}` });
    const sendFor = (url: string, to: string, user: { clientIp: string }) =>
      call(url, 'POST', '/v1/verifications', { channel: 'email', to, ...user });
    const user = endUser(1);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await sendFor(i % 2 === 0 ? a : b, `ip${i}.${run}@example.com`, user)).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201, 201]);
    const refused = [await sendFor(a, `ip6.${run}@example.com`, user), await sendFor(b, `ip7.${run}@example.com`, user)];
    expect(refused.map((response) => response.status)).toEqual([429, 429]);
    // Another end user is not affected.
    expect((await sendFor(b, `ip8.${run}@example.com`, endUser(2))).status).toBe(201);
  });

  it('checks on one replica a verification started on the other, and both read the same state', async () => {
    const to = `handover.${run}@example.com`;
    const started = await send(a, to, newClient());
    expect(started.status).toBe(201);
    const id = started.body.id as string;
    const code = CODE.exec((await stack.inboxes.next(to)).text)![1]!;
    const wrong = code === '000000' ? '111111' : '000000';

    expect(await call(b, 'POST', '/v1/verifications/check', { id, code: wrong }, newClient())).toMatchObject({
      status: 422,
      body: { attemptsRemaining: 4 },
    });
    expect(await call(a, 'GET', `/v1/verifications/${id}`)).toMatchObject({
      status: 200,
      body: { status: 'pending', attemptsRemaining: 4 },
    });
    expect(await call(b, 'POST', '/v1/verifications/check', { id, code }, newClient())).toMatchObject({
      status: 200,
      body: { id, status: 'approved' },
    });
    for (const url of [a, b]) {
      expect(await call(url, 'GET', `/v1/verifications/${id}`)).toMatchObject({
        status: 200,
        body: { id, status: 'approved', delivery: { status: 'sent', provider: 'smtp', attempts: 1 } },
      });
    }
    // Approved once: the same code is refused on either replica.
    expect((await call(a, 'POST', '/v1/verifications/check', { id, code }, newClient())).status).toBe(404);
  });

  it('delivers each of many sends spread over both replicas exactly once, with the workers of both taking part', async () => {
    // Each reply held a moment, so one worker is busy while the next job waits for the other.
    stack.smtp.slowData(200);
    const sentBefore = await Promise.all([a, b].map(deliveriesSent));
    const emails = Array.from({ length: 16 }, (_, i) => `once${i}.${run}@example.com`);
    const phones = Array.from({ length: 8 }, (_, i) => `+447911${String(100_200 + i).slice(-6)}`);
    const accepted = await Promise.all([
      ...emails.map((to, i) => send(i % 2 === 0 ? a : b, to, newClient())),
      ...phones.map((to, i) => send(i % 2 === 0 ? b : a, to, newClient(), 'sms')),
    ]);
    expect(accepted.map((response) => [response.status, response.body.code])).toEqual(accepted.map(() => [201, undefined]));

    const countTo = (to: string) =>
      stack.smtp.received.filter((mail) => mail.to.includes(to)).length +
      stack.twilio.messages.filter((message) => message.To === to).length;
    await eventually(async () => {
      for (const to of [...emails, ...phones]) expect(countTo(to)).toBeGreaterThanOrEqual(1);
    }, 20_000);
    // A second delivery of any of them would come in after the first: give it the time to.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(Object.fromEntries([...emails, ...phones].map((to) => [to, countTo(to)]))).toEqual(
      Object.fromEntries([...emails, ...phones].map((to) => [to, 1])),
    );

    for (const [index, response] of accepted.entries()) {
      const read = await call(index % 2 === 0 ? b : a, 'GET', `/v1/verifications/${response.body.id as string}`);
      expect(read.body).toMatchObject({ delivery: { status: 'sent', attempts: 1 } });
    }
    const sentAfter = await Promise.all([a, b].map(deliveriesSent));
    const byReplica = sentAfter.map((sent, i) => sent - sentBefore[i]!);
    expect(byReplica[0]! + byReplica[1]!).toBe(emails.length + phones.length);
    expect(byReplica[0]).toBeGreaterThan(0);
    expect(byReplica[1]).toBeGreaterThan(0);
    stack.smtp.slowData(0);
  }, 60_000);

  // Accounts live in the database: two processes share one only on PostgreSQL (TEST_DATABASE_URL).
  (postgresServerUrl() ? it : it.skip)(
    'registers on one replica and completes the sign-up on the other (one shared PostgreSQL database)',
    async () => {
      const email = `signup.${run}@example.com`;
      const registered = await call(a, 'POST', '/v1/auth/register', { email, password: `pw-${run}-long-enough` }, newClient());
      expect(registered.status).toBe(201);
      const code = await stack.inboxes.nextCode(email);
      const verified = await call(b, 'POST', '/v1/auth/otp/verify', { challengeId: registered.body.challengeId, code }, newClient());
      expect(verified.status).toBe(200);
      const me = await call(a, 'GET', '/v1/auth/me', undefined, { authorization: `Bearer ${verified.body.accessToken as string}` });
      expect(me).toMatchObject({ status: 200, body: { email } });
    },
  );
});

describe('an API replica beside a worker replica (DELIVERY_WORKER)', () => {
  let stack: ServiceStack;
  beforeAll(async () => {
    stack = await ServiceStack.start('development');
  }, 60_000);
  afterAll(() => stack?.close());

  it('queues on the API replica, which sends nothing itself; a worker replica started later sends each message once', async () => {
    const api = await stack.startService({ ...LIMITS, DELIVERY_WORKER: 'false' });
    expect(api.process.output).toContain('NOT delivered by this process (DELIVERY_WORKER=false)');
    expect(api.process.output).toContain('DELIVERY_WORKER=false: this process queues messages but sends none');

    const emails = Array.from({ length: 6 }, (_, i) => `queued${i}.${Date.now() % 100_000}@example.com`);
    const accepted = await Promise.all(
      emails.map((to, i) =>
        call(api.url, 'POST', '/v1/verifications', { channel: 'email', to }, { 'x-forwarded-for': `203.0.113.${i + 1}` }),
      ),
    );
    expect(accepted.map((response) => response.status)).toEqual(emails.map(() => 201));
    // Time enough for a worker in this process to have sent them, were there one.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const received = () => stack.smtp.received.filter((mail) => emails.some((to) => mail.to.includes(to)));
    expect(received()).toHaveLength(0);
    const waiting = await call(api.url, 'GET', `/v1/verifications/${accepted[0]!.body.id as string}`);
    expect(waiting.body).toMatchObject({ status: 'pending', delivery: { status: 'queued', attempts: 0 } });
    // Nobody sends: the replica stays ready (it still accepts and queues) but says so, in its log,
    // readiness details and metrics.
    await api.process.waitForOutput(/6 messages queued and no delivery worker seen for 15 s/, 15_000);
    const ready = await fetch(`${api.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ details: { queue: { status: 'up', waiting: 6, workers: 0 } } });
    expect(await deliveryWorkers(api.url)).toBe(0);

    const worker = await stack.startService({ ...LIMITS, DELIVERY_WORKER: 'true' });
    expect(worker.process.output).toContain('delivered by this process');
    await eventually(async () => expect(received()).toHaveLength(emails.length), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(emails.map((to) => received().filter((mail) => mail.to.includes(to)).length)).toEqual(emails.map(() => 1));
    // The worker's report reaches the state every replica reads.
    await eventually(async () => {
      const read = await call(api.url, 'GET', `/v1/verifications/${accepted[0]!.body.id as string}`);
      expect(read.body).toMatchObject({ delivery: { status: 'sent', provider: 'smtp', attempts: 1 } });
    }, 5_000);
    expect(await deliveriesSent(api.url)).toBe(0);
    expect(await deliveriesSent(worker.url)).toBe(emails.length);
    expect(await deliveryWorkers(api.url)).toBe(1);

    // A worker that stops says goodbye: it is counted out at once, not after its heartbeat goes stale.
    worker.process.signal('SIGTERM');
    await worker.process.exited;
    expect(await deliveryWorkers(api.url)).toBe(0);
  }, 60_000);
});

/** Messages this replica's worker delivered, from its own metrics. */
async function deliveriesSent(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^otp_deliveries_total\{[^}]*result="sent"[^}]*\} (\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}

/** Processes working on the delivery queue across replicas, as this replica's metrics see them. */
async function deliveryWorkers(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^otp_delivery_workers (\d+)/m.exec(text)?.[1]);
}
