import { fromHash } from '../src/otp/store/verification-hash.js';
import { verificationKey } from '../src/otp/verification-key.js';
import { call, startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { reachableProviders } from './support/environments.js';
import { FakeTwilio } from './support/fake-twilio.js';
import { RedisSentinelGroup } from './support/redis-sentinel.js';
import type { RedisServer } from './support/redis-server.js';
import { SmtpTestServer } from './support/smtp-test-server.js';

/**
 * The service on a Redis master found through Sentinel (REDIS_SENTINELS): OTP state, limits and the
 * Bull delivery queue on whichever server the Sentinel names, through a real failover in which the
 * replica is promoted and the old master demoted.
 */
let group: RedisSentinelGroup;
let smtp: SmtpTestServer;
let twilio: FakeTwilio;
const apps: TestApp[] = [];

beforeAll(async () => {
  [group, smtp, twilio] = await Promise.all([RedisSentinelGroup.start(), SmtpTestServer.start(), FakeTwilio.start()]);
}, 60_000);
afterAll(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all([group?.stop(), smtp?.stop(), twilio?.close()]);
});

/** The verification's status as `server` holds it, whatever the hash's layout. */
const statusOn = async (server: RedisServer, id: string) =>
  fromHash(id, await group.on(server, (client) => client.hgetallBuffer(verificationKey(id))))?.status;

let sequence = 0;
const uniqueEmail = () => `s${++sequence}.${Date.now()}@example.com`;

async function service(): Promise<TestApp> {
  const app = await startApp({
    REDIS_SENTINELS: group.sentinels,
    REDIS_SENTINEL_NAME: RedisSentinelGroup.NAME,
    OTP_CHANNELS: 'email',
    EMAIL_PROVIDERS: 'smtp',
    ...reachableProviders(smtp, twilio),
    SMTP_FROM: 'Example <no-reply@example.com>',
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    RATE_LIMIT_IP_PER_MINUTE: '100000',
    DELIVERY_BACKOFF_MS: '200',
  });
  apps.push(app);
  return app;
}

async function mailedCode(to: string): Promise<string> {
  let code: string | undefined;
  await eventually(async () => {
    code = /\b(\d{6})\b/.exec(smtp.received.find((mail) => mail.to.includes(to))?.text ?? '')?.[1];
    expect(code).toMatch(/^\d{6}$/);
  }, 20_000);
  return code!;
}

/** A send, retried while the service answers 503 (during the switch to a new master). */
async function send(app: TestApp, to: string): Promise<string> {
  let id: string | undefined;
  await eventually(async () => {
    const response = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to });
    expect(response.status).toBe(201);
    id = response.body.id as string;
  }, 20_000);
  return id!;
}

const check = (app: TestApp, id: string, code: string) => call(app.url, 'POST', '/v1/verifications/check', { id, code });

describe('on a Redis master found through Sentinel', () => {
  it('keeps everything on the master the Sentinel names, before and after a failover', async () => {
    const app = await service();
    expect(app.loaded.configuration.redis).toMatchObject({
      sentinels: [{ host: '127.0.0.1', port: group.sentinelPort }],
      sentinelName: RedisSentinelGroup.NAME,
    });
    await eventually(async () => {
      const ready = await fetch(`${app.url}/health/ready`);
      expect({ status: ready.status, body: await ready.json() }).toMatchObject({
        status: 200,
        body: { details: { redis: { status: 'up' }, queue: { status: 'up', workers: 1 } } },
      });
    }, 15_000);

    // Sent, delivered through the queue and checked, all on the master.
    const first = uniqueEmail();
    const firstId = await send(app, first);
    expect(await check(app, firstId, await mailedCode(first))).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(await group.on(group.master, (client) => client.exists(verificationKey(firstId)))).toBe(1);

    // A verification started before the failover and replicated...
    const before = uniqueEmail();
    const beforeId = await send(app, before);
    const beforeCode = await mailedCode(before);
    await eventually(async () => expect(await group.on(group.replica, (client) => client.exists(verificationKey(beforeId)))).toBe(1));

    await group.failover();
    const onNewMaster = async (id: string) => statusOn(group.replica, id);
    // Writes that reach the old master in the moment before it is demoted are lost with it (Redis
    // replicates asynchronously); the service follows the switch within moments, and from then on
    // what it writes is on the promoted replica.
    await eventually(async () => {
      const probe = await send(app, uniqueEmail());
      expect(await onNewMaster(probe)).toBe('pending');
    }, 20_000);

    // A verification started before the failover is checked on the promoted replica,
    expect(await check(app, beforeId, beforeCode)).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(await onNewMaster(beforeId)).toBe('approved');
    // and a new one is stored there and delivered by the queue, which followed the switch too.
    const after = uniqueEmail();
    const afterId = await send(app, after);
    expect(await check(app, afterId, await mailedCode(after))).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(await onNewMaster(afterId)).toBe('approved');
    await eventually(async () => expect((await fetch(`${app.url}/health/ready`)).status).toBe(200), 15_000);
  }, 90_000);

  it('answers 503 while the master is lost, and recovers by itself once the Sentinel promotes the replica', async () => {
    const app = apps[0] ?? (await service());
    // After a failover the old master is turned into a replica of the new one (the Sentinel
    // reconfigures it when it next looks, within about ten seconds); once it is in sync, the master is lost.
    const { master, replica } = await group.roles();
    await eventually(
      async () => expect(await group.on(replica, (client) => client.info('replication'))).toMatch(/role:slave[\s\S]*master_link_status:up/),
      30_000,
    );

    await master.stop();
    const refused = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: uniqueEmail() });
    expect(refused).toMatchObject({ status: 503, body: { code: 'SERVICE_UNAVAILABLE' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    // No failover command this time: the Sentinel notices the master is gone and promotes the replica.
    const to = uniqueEmail();
    const id = await send(app, to);
    expect(await check(app, id, await mailedCode(to))).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(await statusOn(replica, id)).toBe('approved');
    await eventually(async () => expect((await fetch(`${app.url}/health/ready`)).status).toBe(200), 15_000);
  }, 90_000);
});
