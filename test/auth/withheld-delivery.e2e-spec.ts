import { getQueueToken } from '@nestjs/bull';
import Bull, { type Job, type Queue } from 'bull';
import { UsersRepository } from '../../src/auth/users/users.repository.js';
import { DELIVERY_QUEUE_NAME, WITHHELD_JOB_NAME } from '../../src/messaging/delivery/delivery-job.js';
import { PayloadSealer, type SealedDeliveryJob } from '../../src/messaging/delivery/sealed-payload.js';
import { OtpStore } from '../../src/otp/store/otp-store.js';
import { call, startApp, type TestApp } from '../support/app.js';
import { Inboxes, JWT_SECRET } from '../support/auth-inboxes.js';
import { LOOSE_LIMITS } from '../support/environments.js';
import { eventually } from '../support/eventually.js';
import { RedisServer } from '../support/redis-server.js';

/**
 * `otp/start` for an address with no account stores a real challenge and sends nothing. Its code is still
 * handed to the delivery queue, as a job named `withheld` that looks like any other (same data, same size,
 * sealed alike, code replaced by zeros), so the answer takes the same steps and the same time whether or not
 * the account exists; the worker discards it. A worker of an earlier version has no handler for the name, so
 * it fails such a job rather than sending it.
 */
const QUEUE_PREFIX = '{otp-delivery}';
const run = Date.now() % 100_000;
/** Known and unknown addresses of the same length, so their sealed jobs can be compared byte for byte. */
const known = (n: number) => `known-${run}-${n}@example.com`;
const unknown = (n: number) => `other-${run}-${n}@example.com`;

let redis: RedisServer;
let inboxes: Inboxes;
beforeAll(async () => {
  [redis, inboxes] = await Promise.all([RedisServer.start(), Inboxes.start()]);
});
afterAll(async () => {
  await inboxes?.close();
  await redis?.stop();
});

async function startService(env: Record<string, string> = {}): Promise<{ service: TestApp; users: UsersRepository }> {
  const service = await startApp({ ...inboxes.env(), JWT_SECRET, ...LOOSE_LIMITS, REDIS_URL: redis.url, DELIVERY_ATTEMPTS: '1', ...env });
  return { service, users: service.app.get(UsersRepository) };
}

async function addAccount(users: UsersRepository, email: string): Promise<void> {
  const user = await users.create({ email });
  await users.markEmailVerified(user.id);
}

const start = (service: TestApp, identifier: string) =>
  call(service.url, 'POST', '/v1/auth/otp/start', { identifier, purpose: 'login' }, {});

describe('a withheld code on the durable queue', () => {
  let service: TestApp;
  let users: UsersRepository;
  let queue: Queue<SealedDeliveryJob>;
  const completed: Job<SealedDeliveryJob>[] = [];
  const failed: Job<SealedDeliveryJob>[] = [];

  beforeAll(async () => {
    ({ service, users } = await startService());
    queue = service.app.get(getQueueToken(DELIVERY_QUEUE_NAME));
    queue.on('completed', (job: Job<SealedDeliveryJob>) => completed.push(job));
    queue.on('failed', (job: Job<SealedDeliveryJob>) => failed.push(job));
  }, 60_000);
  afterAll(() => service?.close());

  it('is queued like a delivered code, sealed alike and of the same size, and discarded by the worker: nothing sent, nothing left', async () => {
    await addAccount(users, known(1));
    const [toKnown, toUnknown] = [await start(service, known(1)), await start(service, unknown(1))];
    expect([toKnown.status, toUnknown.status]).toEqual([202, 202]);
    await inboxes.next(known(1));

    await eventually(async () => expect(completed.map((job) => job.name).sort()).toEqual(['__default__', WITHHELD_JOB_NAME]));
    const delivered = completed.find((job) => job.name === '__default__')!;
    const withheld = completed.find((job) => job.name === WITHHELD_JOB_NAME)!;
    expect(Object.keys(withheld.data).sort()).toEqual(Object.keys(delivered.data).sort());
    expect(withheld.data.sealed.length).toBe(delivered.data.sealed.length);
    expect(withheld.data.verificationId).toBe(toUnknown.body.challengeId);
    // The same options but for what names the job and its own time (its id, its timestamp, its code's expiry).
    const comparable = ({ opts }: Job) => ({
      ...opts,
      jobId: undefined,
      timestamp: undefined,
      backoff: (opts.backoff as { type: string }).type,
    });
    expect(comparable(withheld)).toEqual({ ...comparable(delivered), backoff: 'bounded-exponential' });

    // Sealed as a delivered job is, for this job's key, and the code in it is no code.
    const content = service.app.get(PayloadSealer).unseal(withheld.data).open();
    expect(content).toMatchObject({ to: unknown(1), code: '000000', purpose: 'login' });

    expect(inboxes.messagesTo(unknown(1))).toEqual([]);
    expect(failed).toEqual([]);
    await eventually(async () => expect(await queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 }));
    expect(await queue.getJob(withheld.data.key)).toBeNull();
  });

  it('leaves the challenge as a delivered one is left until its worker reports: pending, queued, its wrong codes counted', async () => {
    const answer = await start(service, unknown(2));
    expect(answer.status).toBe(202);
    await eventually(async () => expect(completed.some((job) => job.data.verificationId === answer.body.challengeId)).toBe(true));
    const stored = await service.app.get<OtpStore>(OtpStore).get(answer.body.challengeId as string);
    expect(stored).toMatchObject({ status: 'pending', sends: 1, delivery: { status: 'queued', attempts: 0 } });
    // A wrong code is counted as for any challenge; the answer says nothing about the account.
    const wrong = await call(service.url, 'POST', '/v1/auth/otp/verify', { challengeId: answer.body.challengeId, code: '000001' }, {});
    expect(wrong.status).toBe(422);
    expect(wrong.body.code).toBe('OTP_INCORRECT');
    expect(inboxes.messagesTo(unknown(2))).toEqual([]);
  });
});

describe('a withheld code meeting a worker of an earlier version', () => {
  let service: TestApp;
  let users: UsersRepository;
  let earlier: Queue<SealedDeliveryJob>;
  const handled: Job<SealedDeliveryJob>[] = [];
  const failures: { name: string; reason: string }[] = [];

  beforeAll(async () => {
    // This version's API only; the only worker is one that knows nothing of withheld jobs.
    ({ service, users } = await startService({ DELIVERY_WORKER: 'false' }));
    earlier = new Bull(DELIVERY_QUEUE_NAME, redis.url, {
      prefix: QUEUE_PREFIX,
      settings: { backoffStrategies: { 'bounded-exponential': () => 0 } },
    });
    earlier.on('failed', (job: Job, error: Error) => failures.push({ name: job.name, reason: error.message }));
    void earlier.process(async (job: Job<SealedDeliveryJob>) => {
      handled.push(job);
    });
  }, 60_000);
  afterAll(async () => {
    await earlier?.close();
    await service?.close();
  });

  it('is failed there, never handed to its delivery handler', async () => {
    await addAccount(users, known(3));
    expect((await start(service, unknown(3))).status).toBe(202);
    const toKnown = await start(service, known(3));
    expect(toKnown.status).toBe(202);

    await eventually(async () =>
      expect(handled.map((job) => [job.name, job.data.verificationId])).toEqual([['__default__', toKnown.body.challengeId]]),
    );
    await eventually(async () =>
      expect(failures).toEqual([{ name: WITHHELD_JOB_NAME, reason: `Missing process handler for job type ${WITHHELD_JOB_NAME}` }]),
    );
    expect(await earlier.getJobCounts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  });
});
