import { Redis } from 'ioredis';
import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { verificationKey } from '../src/otp/verification-key.js';
import { ADMIN, call, startApp, type TestApp } from './support/app.js';
import { standaloneCode } from './support/codes.js';
import { LOOSE_LIMITS } from './support/environments.js';
import { eventually } from './support/eventually.js';
import { FAKE_SENDGRID_API_KEY, FakeSendgrid } from './support/fake-sendgrid.js';
import { FakeSes } from './support/fake-ses.js';
import { FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY, FAKE_SNS_TOPIC_ARN, FakeSns } from './support/fake-sns.js';
import { FakeTwilio } from './support/fake-twilio.js';
import { RedisServer } from './support/redis-server.js';

/**
 * Delivery receipts end to end: the fake vendors post the callbacks their real counterparts post,
 * signed as those sign them, to the real application on a real Redis; events go to a receiver that
 * verifies them as a customer's backend would.
 */
const PUBLIC_BASE_URL = 'https://otp.example.test';
const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

interface ReceivedEvent {
  id: string;
  body: string;
  headers: Record<string, string>;
  status: number;
}

/** A customer's receiver: each event's first two deliveries fail (500), the third is taken. */
class EventReceiver {
  readonly received: ReceivedEvent[] = [];
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const id = String(request.headers['webhook-id']);
        const status = this.received.filter((event) => event.id === id).length < 2 ? 500 : 204;
        const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
        this.received.push({ id, body: Buffer.concat(chunks).toString('utf8'), headers, status });
        response.writeHead(status).end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('receiver not listening');
    return `http://127.0.0.1:${address.port}/hooks`;
  }

  /** Each event the receiver took, verified as a receiver verifies it. */
  taken(): { type: string; data: Record<string, unknown> }[] {
    return this.received
      .filter((event) => event.status === 204)
      .map((event) => new Webhook(WEBHOOK_SECRET).verify(event.body, event.headers) as { type: string; data: Record<string, unknown> });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let redis: RedisServer;
let twilio: FakeTwilio;
let sns: FakeSns;
let sendgrid: FakeSendgrid;
let ses: FakeSes;
let receiver: EventReceiver;
let service: TestApp;
const codes: string[] = [];

beforeAll(async () => {
  receiver = new EventReceiver();
  [redis, twilio, sns, sendgrid, ses] = await Promise.all([
    RedisServer.start(),
    FakeTwilio.start(),
    FakeSns.start(),
    FakeSendgrid.start(),
    FakeSes.start(),
  ]);
  const receiverUrl = await receiver.listen();
  service = await startApp({
    ...LOOSE_LIMITS,
    REDIS_URL: redis.url,
    OTP_CHANNELS: 'email,sms,whatsapp',
    EMAIL_PROVIDERS: 'sendgrid,ses',
    SMS_PROVIDERS: 'twilio,sns',
    WHATSAPP_PROVIDERS: 'twilio-whatsapp',
    TWILIO_ACCOUNT_SID: twilio.accountSid,
    TWILIO_AUTH_TOKEN: twilio.authToken,
    TWILIO_FROM: '+14155550100',
    TWILIO_WHATSAPP_FROM: '+14155550101',
    TWILIO_API_BASE_URL: twilio.url,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: FAKE_AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: FAKE_AWS_SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL_SNS: sns.url,
    AWS_ENDPOINT_URL_SES: ses.url,
    SES_FROM: 'OTP Gateway <no-reply@example.com>',
    SENDGRID_API_KEY: FAKE_SENDGRID_API_KEY,
    SENDGRID_FROM: 'OTP Gateway <no-reply@example.com>',
    SENDGRID_API_BASE_URL: sendgrid.url,
    PUBLIC_BASE_URL,
    SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.webhookPublicKey,
    SNS_CERTIFICATE_HOSTS: sns.url,
    SNS_TOPIC_ARNS: FAKE_SNS_TOPIC_ARN,
    SUSPECT_GRACE_SECONDS: '0',
    SUSPECT_MIN_SENDS: '3',
    SUSPECT_MIN_APPROVAL: '0.5',
    WEBHOOK_URLS: receiverUrl,
    WEBHOOK_SECRET,
    WEBHOOK_BACKOFF_MS: '50',
  });
}, 120_000);
afterAll(async () => {
  await service?.close();
  await Promise.all([redis?.stop(), twilio?.close(), sns?.close(), sendgrid?.close(), ses?.close(), receiver?.close()]);
});

const codeIn = (text: string | undefined) => {
  const code = /\b(\d{6})\b/.exec(text ?? '')?.[1];
  if (!code) throw new Error('no code in the message');
  codes.push(code);
  return code;
};
const delivery = async (id: string) => (await call(service.url, 'GET', `/v1/verifications/${id}`)).body.delivery as Record<string, unknown>;

/** Starts a verification and waits until its provider accepted the message. */
async function sentVerification(channel: 'sms' | 'email' | 'whatsapp', to: string, provider: string): Promise<string> {
  const started = await call(service.url, 'POST', '/v1/verifications', { channel, to });
  expect(started.status).toBe(201);
  const id = started.body.id as string;
  await eventually(async () => expect(await delivery(id)).toMatchObject({ status: 'sent', provider }));
  return id;
}

/** `verification.delivery` events of one verification, in order, as the receiver took them. */
function deliveryEvents(id: string): Record<string, unknown>[] {
  return receiver
    .taken()
    .filter((event) => event.type === 'verification.delivery' && event.data.id === id)
    .map((event) => event.data.delivery as Record<string, unknown>);
}

describe('Twilio status callbacks', () => {
  it('ask for a status callback on every message when PUBLIC_BASE_URL is set', async () => {
    await sentVerification('sms', '+447911123400', 'twilio');
    expect(twilio.created.at(-1)!.form.StatusCallback).toBe(`${PUBLIC_BASE_URL}/v1/webhooks/twilio/status`);
  });

  it('on undelivered 30003, mark the SMS undelivered and send the same code through SNS, where it checks', async () => {
    const id = await sentVerification('sms', '+447911123401', 'twilio');
    const message = twilio.created.at(-1)!;
    const code = codeIn(message.form.Body);

    const callback = await twilio.sendStatus(message.sid, 'undelivered', { errorCode: '30003', deliverTo: service.url });
    expect(callback.status).toBe(204);

    await eventually(async () => expect(sns.publishes.filter((p) => p.PhoneNumber === '+447911123401')).toHaveLength(1));
    expect(codeIn(sns.publishes.at(-1)!.Message)).toBe(code);
    await eventually(async () => expect(await delivery(id)).toMatchObject({ status: 'sent', provider: 'sns' }));
    await eventually(async () =>
      expect(deliveryEvents(id)).toEqual(
        expect.arrayContaining([expect.objectContaining({ status: 'undelivered', provider: 'twilio', errorCode: '30003' })]),
      ),
    );

    // The same receipt again (Twilio retries, or an attacker replays it): no second failover.
    expect((await twilio.sendStatus(message.sid, 'undelivered', { errorCode: '30003', deliverTo: service.url })).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sns.publishes.filter((p) => p.PhoneNumber === '+447911123401')).toHaveLength(1);

    // The message stays kept for a failover until the code is approved, then it is forgotten.
    const client = new Redis(redis.url);
    try {
      const kept = `${verificationKey(id)}:kept`;
      expect(await client.exists(kept)).toBe(1);
      const checked = await call(service.url, 'POST', '/v1/verifications/check', { id, code });
      expect(checked).toMatchObject({ status: 200, body: { id, status: 'approved' } });
      expect(await client.exists(kept)).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('refuse a forged callback with 401 and change nothing', async () => {
    const id = await sentVerification('sms', '+447911123402', 'twilio');
    const message = twilio.created.at(-1)!;
    codeIn(message.form.Body);
    const before = await delivery(id);

    const forged = await twilio.sendStatus(message.sid, 'undelivered', {
      errorCode: '30003',
      deliverTo: service.url,
      signWith: 'e'.repeat(32),
    });
    expect(forged.status).toBe(401);
    const unsigned = await fetch(`${service.url}/v1/webhooks/twilio/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ MessageSid: message.sid, MessageStatus: 'undelivered' }).toString(),
    });
    expect(unsigned.status).toBe(401);

    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await delivery(id)).toEqual(before);
    expect(sns.publishes.filter((p) => p.PhoneNumber === '+447911123402')).toHaveLength(0);
  });

  it('acknowledge and ignore a receipt for a message the service never sent', async () => {
    twilio.created.push({
      sid: `SM${'0'.repeat(32)}`,
      form: { To: '+447911123403', StatusCallback: `${PUBLIC_BASE_URL}/v1/webhooks/twilio/status` },
    });
    expect((await twilio.sendStatus(`SM${'0'.repeat(32)}`, 'delivered', { deliverTo: service.url })).status).toBe(204);
  });
});

describe('SendGrid and SES receipts', () => {
  it('mark a bounced email undelivered, fail over to SES, and an SES delivery through SNS marks it delivered', async () => {
    const id = await sentVerification('email', 'bounce.me@example.com', 'sendgrid');
    const accepted = sendgrid.accepted.at(-1)!;
    const code = codeIn(accepted.mail.content?.[0]?.value);

    const bounce = {
      email: 'bounce.me@example.com',
      event: 'bounce',
      sg_message_id: `${accepted.messageId}.filter0001.16648.5515E0B88.0`,
      status: '5.1.1',
      timestamp: 1,
    };
    expect((await sendgrid.postEvents(service.url, [bounce], { forge: true })).status).toBe(401);
    expect((await sendgrid.postEvents(service.url, [bounce])).status).toBe(204);
    await eventually(async () =>
      expect(deliveryEvents(id)).toEqual(
        expect.arrayContaining([expect.objectContaining({ status: 'undelivered', provider: 'sendgrid', errorCode: '5.1.1' })]),
      ),
    );

    await eventually(async () => expect(await delivery(id)).toMatchObject({ status: 'sent', provider: 'ses' }));
    const sesMessage = ses.accepted.at(-1)!;
    expect(codeIn(sesMessage.email.Content?.Simple?.Body?.Text?.Data)).toBe(code);

    const sesDelivery = JSON.stringify({
      eventType: 'Delivery',
      mail: { messageId: sesMessage.messageId, destination: ['bounce.me@example.com'] },
      delivery: { timestamp: '2026-12-02T06:00:00.000Z', recipients: ['bounce.me@example.com'], smtpResponse: '250 2.0.0 OK' },
    });
    expect((await sns.deliver(service.url, 'Notification', sesDelivery, { forge: true })).status).toBe(401);
    // Validly signed by SNS, but from someone else's topic.
    const otherTopic = 'arn:aws:sns:eu-west-1:210987654321:not-ours';
    expect((await sns.deliver(service.url, 'Notification', sesDelivery, { topicArn: otherTopic })).status).toBe(401);
    expect((await sns.deliver(service.url, 'Notification', sesDelivery)).status).toBe(204);
    await eventually(async () =>
      expect(await delivery(id)).toMatchObject({
        status: 'delivered',
        provider: 'ses',
        deliveredAt: '2026-12-02T06:00:00.000Z',
        errorCode: null,
      }),
    );
  });

  it('confirm an SNS subscription, and fetch nothing outside the allowed SNS origins', async () => {
    expect((await sns.deliver(service.url, 'SubscriptionConfirmation', 'You have chosen to subscribe')).status).toBe(204);
    await eventually(async () => expect(sns.confirmed).toHaveLength(1));

    const elsewhere = new EventReceiver();
    const elsewhereUrl = await elsewhere.listen();
    try {
      // Validly signed, but confirming at another host: not fetched. A certificate from another host: refused.
      expect((await sns.deliver(service.url, 'SubscriptionConfirmation', 'x', { subscribeUrl: elsewhereUrl })).status).toBe(204);
      expect((await sns.deliver(service.url, 'Notification', '{}', { certificateUrl: `${elsewhereUrl}/cert.pem` })).status).toBe(401);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(elsewhere.received).toHaveLength(0);
      expect(sns.confirmed).toHaveLength(1);
    } finally {
      await elsewhere.close();
    }
  });
});

describe('a provider whose codes are accepted but never entered', () => {
  const providerHealth = async () => {
    const health = await call(service.url, 'GET', '/health/messaging');
    const whatsapp = (health.body.channels as Record<string, { providers: Record<string, unknown>[] }>).whatsapp!;
    return whatsapp.providers.find((p) => p.id === 'twilio-whatsapp')!;
  };

  it('turns suspect, and stops being suspect once its codes are approved again', async () => {
    // +44 7911 numbers are Guernsey's, as libphonenumber places them (country GG).
    for (let n = 10; n < 13; n += 1) await sentVerification('whatsapp', `+4479111234${n}`, 'twilio-whatsapp');
    await eventually(async () => expect(await providerHealth()).toMatchObject({ suspect: true, lastHour: { sent: 3, approved: 0 } }));
    expect(service.logs.text()).toContain('twilio-whatsapp is suspect');
    expect(await (await fetch(`${service.url}/metrics`)).text()).toMatch(/otp_provider_suspect\{provider="twilio-whatsapp"\} 1/);

    for (let n = 20; n < 23; n += 1) {
      const id = await sentVerification('whatsapp', `+4479111234${n}`, 'twilio-whatsapp');
      const code = codeIn(twilio.created.at(-1)!.form.Body);
      expect((await call(service.url, 'POST', '/v1/verifications/check', { id, code })).status).toBe(200);
    }
    await eventually(async () => expect(await providerHealth()).toMatchObject({ suspect: false, lastHour: { sent: 6, approved: 3 } }));
    expect(service.logs.text()).toContain('twilio-whatsapp is no longer suspect');
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/otp_conversion_total\{stage="approved",channel="whatsapp",provider="twilio-whatsapp",country="GG"\} 3/);
  });
});

describe('outgoing events', () => {
  it('reach a receiver that failed twice exactly once each, signed, with masked destinations and never a code', async () => {
    await eventually(async () => {
      const ids = new Set(receiver.received.map((event) => event.id));
      for (const id of ids) expect(receiver.received.filter((event) => event.id === id && event.status === 204)).toHaveLength(1);
      expect(receiver.received.filter((event) => event.status === 204).length).toBe(ids.size);
    });
    const taken = receiver.taken();
    const types = new Set(taken.map((event) => event.type));
    expect([...types]).toEqual(expect.arrayContaining(['verification.started', 'verification.delivery', 'verification.approved']));
    for (const event of receiver.received) {
      expect(event.headers['webhook-timestamp']).toMatch(/^\d+$/);
      for (const code of codes) expect(event.body).not.toMatch(standaloneCode(code));
      expect(event.body).not.toContain('+447911123401');
      expect(event.body).not.toContain('bounce.me@example.com');
    }
    // Retries carried the same id: three requests per event.
    for (const id of new Set(receiver.received.map((event) => event.id))) {
      expect(receiver.received.filter((event) => event.id === id)).toHaveLength(3);
    }
    expect((await call(service.url, 'GET', '/v1/admin/webhooks/failures', undefined, ADMIN)).body).toEqual({ failures: [] });
    expect((await call(service.url, 'GET', '/v1/admin/webhooks/failures')).status).toBe(401);
  });
});

describe('what is kept', () => {
  it('never holds a code in clear in Redis or the queues, before or after failover', async () => {
    expect(codes.length).toBeGreaterThan(5);
    const client = new Redis(redis.url);
    try {
      for (const key of await client.keys('*')) {
        const type = await client.type(key);
        const value =
          type === 'string'
            ? await client.get(key)
            : type === 'hash'
              ? JSON.stringify(await client.hgetall(key))
              : type === 'list'
                ? JSON.stringify(await client.lrange(key, 0, -1))
                : type === 'zset'
                  ? JSON.stringify(await client.zrange(key, 0, -1))
                  : (await client.dumpBuffer(key))?.toString('latin1');
        for (const code of codes) expect({ key, clear: standaloneCode(code).test(value ?? '') }).toEqual({ key, clear: false });
      }
    } finally {
      client.disconnect();
    }
  });
});

describe('in embedded mode (no Redis)', () => {
  it('fails over on a loss the same way, from the in-process queue', async () => {
    const embedded = await startApp({
      ...LOOSE_LIMITS,
      OTP_CHANNELS: 'sms',
      SMS_PROVIDERS: 'twilio,sns',
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_FROM: '+14155550100',
      TWILIO_API_BASE_URL: twilio.url,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: FAKE_AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: FAKE_AWS_SECRET_ACCESS_KEY,
      AWS_ENDPOINT_URL_SNS: sns.url,
      PUBLIC_BASE_URL,
    });
    try {
      const started = await call(embedded.url, 'POST', '/v1/verifications', { channel: 'sms', to: '+447911123499' });
      const id = started.body.id as string;
      await eventually(async () =>
        expect((await call(embedded.url, 'GET', `/v1/verifications/${id}`)).body.delivery).toMatchObject({ status: 'sent' }),
      );
      const message = twilio.created.at(-1)!;
      const code = codeIn(message.form.Body);
      expect((await twilio.sendStatus(message.sid, 'failed', { errorCode: '30007', deliverTo: embedded.url })).status).toBe(204);
      await eventually(async () => expect(sns.publishes.filter((p) => p.PhoneNumber === '+447911123499')).toHaveLength(1));
      expect(codeIn(sns.publishes.at(-1)!.Message)).toBe(code);
      expect(await call(embedded.url, 'POST', '/v1/verifications/check', { id, code })).toMatchObject({ status: 200 });
    } finally {
      await embedded.close();
    }
  });
});
