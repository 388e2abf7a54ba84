import { connect } from 'node:net';
import { CONNECTIONS_CLOSE_WITHIN_MS, type DrainingFastifyAdapter } from '../src/common/draining-fastify.adapter.js';
import { DeliveryQueue } from '../src/messaging/delivery/delivery-job.js';
import { call, startApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { postgresServerUrl } from './support/databases.js';
import { availableStackModes, ServiceStack } from './support/service-stack.js';
import { SmtpTestServer } from './support/smtp-test-server.js';

/** The SPEC's bound on a graceful shutdown; Kubernetes' grace period is set above it. */
const SHUTDOWN_BOUND_MS = 25_000;
/** How long the SMTP server holds its reply to a message, or its greeting: the delivery is in flight all that time. */
const HELD_MS = 3000;

/**
 * Where the delivery is when the signal arrives: its message handed over and waiting for the reply,
 * or its connection still waiting for the server's greeting, before a byte of the message was sent.
 */
type Stage = 'data' | 'greeting';

describe.each(availableStackModes())('graceful shutdown of the built service on Redis (%s)', (mode) => {
  let stack: ServiceStack;
  beforeEach(async () => {
    stack = await ServiceStack.start(mode);
  });
  afterEach(() => stack.close());

  it.each([
    ['SIGTERM', 'data'],
    ['SIGINT', 'data'],
    ['SIGTERM', 'greeting'],
  ] as const)(
    '%s while a delivery is in flight (%s): readiness 503 at once, the message still arrives, the job settles, exit 0',
    async (signal, stage: Stage) => {
      const { process: service, url } = await stack.startService({ SHUTDOWN_DRAIN_MS: '1000' });
      await eventually(async () => expect((await fetch(`${url}/health/ready`)).status).toBe(200));
      if (stage === 'data') stack.smtp.slowData(HELD_MS);
      else stack.smtp.slowGreeting(HELD_MS);
      const busy = () => (stage === 'data' ? stack.smtp.inFlight : stack.smtp.connecting);

      const to = `shutdown.${signal.toLowerCase()}.${stage}@example.com`;
      const started = await call(url, 'POST', '/v1/verifications', { channel: 'email', to });
      expect(started.status).toBe(201);
      const id = started.body.id as string;
      // The worker has begun the send: the message is with the server, or the connection for it is being opened.
      await eventually(async () => {
        expect(busy()).toBe(1);
        expect(await call(url, 'GET', `/v1/verifications/${id}`)).toMatchObject({ body: { delivery: { status: 'sending' } } });
      });

      const signalledAt = Date.now();
      service.signal(signal);
      await eventually(async () => {
        const ready = await fetch(`${url}/health/ready`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toMatchObject({ error: { lifecycle: { status: 'down', message: 'shutting down' } } });
      }, 1000);
      // Still mid-delivery: the process is draining, not done.
      expect(busy()).toBe(1);

      const exit = await Promise.race([
        service.exited,
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), SHUTDOWN_BOUND_MS).unref()),
      ]);
      expect(exit).toEqual({ code: 0, signal: null });
      // The log tells the shutdown's steps; the probes that saw it draining made one WARN line, not an ERROR each.
      const lines = service.output.split('\n');
      for (const step of [`${signal} received: shutting down`, 'drain over after 1000 ms', 'exiting with code 0']) {
        expect(lines.filter((line) => line.includes(step))).toHaveLength(1);
      }
      expect(lines.filter((line) => line.includes('not ready: /health/ready answers 503 (lifecycle: shutting down)'))).toHaveLength(1);
      expect(service.output).not.toContain('Health Check has failed');
      await eventually(async () => expect(busy()).toBe(0), HELD_MS);
      expect(Date.now() - signalledAt).toBeLessThan(SHUTDOWN_BOUND_MS);

      // Had the process let go of the connection mid-delivery, the server would have seen it hang up.
      expect(stack.smtp.abandonedCount).toBe(0);
      expect(stack.smtp.received.map((mail) => mail.to)).toEqual([[to]]);

      // The job was settled in Redis before the process closed its connections: nothing is left for
      // another worker to pick up and send again.
      const redis = stack.redisClient();
      try {
        expect(await redis.llen('{otp-delivery}:delivery:active')).toBe(0);
        expect(await redis.llen('{otp-delivery}:delivery:wait')).toBe(0);
        expect(await redis.zcard('{otp-delivery}:delivery:delayed')).toBe(0);
      } finally {
        redis.disconnect();
      }

      // The delivery report was written too: a new process reads the verification as sent.
      stack.smtp.slowData(0).slowGreeting(0);
      const next = await stack.startService();
      const read = await call(next.url, 'GET', `/v1/verifications/${id}`);
      expect(read).toMatchObject({ status: 200, body: { status: 'pending', delivery: { status: 'sent', provider: 'smtp', attempts: 1 } } });
      expect(stack.smtp.received).toHaveLength(1);
    },
    // Two service start-ups on a busy machine, each with its embedded database.
    90_000,
  );
});

(postgresServerUrl() ? describe : describe.skip)('graceful shutdown while standard output is backed up (needs TEST_DATABASE_URL)', () => {
  let stack: ServiceStack;
  beforeEach(async () => {
    stack = await ServiceStack.start('production');
  });
  afterEach(() => stack.close());

  it("exits once the log has taken its last lines: every request's line once and in order, then the shutdown's, then exit 0", async () => {
    const { process: service, url } = await stack.startService({ SHUTDOWN_DRAIN_MS: '0' });
    // About 2 MB of request lines that nobody reads: the pipe fills, and the logger holds the rest.
    service.pauseOutput();
    const ids = Array.from({ length: 4_000 }, (_, n) => `backlog-${String(n).padStart(5, '0')}-${'x'.repeat(100)}`);
    for (const id of ids) expect((await fetch(`${url}/no-such-route`, { headers: { 'x-request-id': id } })).status).toBe(404);

    service.signal('SIGTERM');
    // Shut down but for its log: it waits for standard output rather than exit with lines still queued.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await Promise.race([service.exited, Promise.resolve('running')])).toBe('running');

    service.resumeOutput();
    expect(await service.exited).toEqual({ code: 0, signal: null });
    const records = service.output
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { context?: string; requestId?: string; msg: string });
    const requestLines = records.filter((record) => record.context === 'HTTP' && record.requestId?.startsWith('backlog-'));
    expect(requestLines.map((record) => record.requestId)).toEqual(ids);
    const shutdown = records.slice(records.indexOf(requestLines.at(-1)!) + 1).map((record) => record.msg);
    expect(shutdown).toContainEqual(expect.stringMatching(/^SIGTERM received: shutting down/));
    expect(shutdown.at(-1)).toBe('exiting with code 0');
  }, 90_000);
});

describe('graceful shutdown with the embedded delivery queue', () => {
  it('delivers a send accepted just before the close, though its attempt only begins during shutdown', async () => {
    const smtp = await SmtpTestServer.start();
    try {
      const service = await startApp({
        EMAIL_PROVIDERS: 'smtp',
        SMTP_HOST: smtp.host,
        SMTP_PORT: String(smtp.port),
        SMTP_FROM: 'otp@example.com',
      });
      const queue = service.app.get<DeliveryQueue>(DeliveryQueue);
      const to = 'accepted.at.close@example.com';
      const key = 'accepted-at-close:1';
      const now = Date.now();
      await queue.add({
        key,
        verificationId: 'accepted-at-close',
        sendNumber: 1,
        channel: 'email',
        issuedAt: now,
        expiresAt: now + 600_000,
        content: { to, code: '123456', purpose: 'verify', locale: 'en' },
      });
      // The same turn of the event loop: the attempt has not begun, so shutdown must begin it and
      // keep the SMTP transport open until it is done.
      await service.close();
      expect(smtp.received.map((mail) => mail.to)).toEqual([[to]]);
    } finally {
      await smtp.stop();
    }
  });
});

describe('requests after the drain', () => {
  it('are refused with the API’s 503, a Retry-After, the request id and Connection: close', async () => {
    const service = await startApp({});
    try {
      const adapter = service.app.getHttpAdapter() as DrainingFastifyAdapter;
      expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
      // The drain is over (SHUTDOWN_DRAIN_MS=0 here) and the server still listens: a request that
      // reaches it now is one on a connection kept alive across the drain.
      await adapter.beforeClose();
      for (const [method, path, body] of [
        ['GET', '/health/live', undefined],
        ['POST', '/v1/verifications', { channel: 'email', to: 'late@example.com' }],
      ] as const) {
        const response = await call(service.url, method, path, body);
        expect(response).toMatchObject({
          status: 503,
          body: {
            statusCode: 503,
            code: 'SERVICE_UNAVAILABLE',
            message: 'The service is shutting down. Try again shortly.',
            retryAfter: 5,
          },
        });
        expect(response.headers.get('retry-after')).toBe('5');
        expect(response.headers.get('connection')).toBe('close');
        expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      }
      expect(service.logs.text()).toMatch(/"level":"warn".*"msg":"POST \/v1\/verifications 503"/);
    } finally {
      await service.close();
    }
  });
});

describe('connections left open at the close', () => {
  it('a client that never finishes its request holds the shutdown for a bounded time, then is cut off with a warning', async () => {
    const service = await startApp({});
    const { port } = new URL(service.url);
    // Half a request: the headers never end, so Node sees a request in progress, not an idle connection.
    const socket = connect(Number(port), '127.0.0.1');
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('POST /v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n');
    // A client on a kept-alive connection whose request is answered just as the close begins.
    const keptAlive = fetch(`${service.url}/health/live`);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const closing = Date.now();
    await service.close();
    // Without the bound, until Node's headers timeout (60 s and up) gives up on the client.
    expect(Date.now() - closing).toBeLessThan(CONNECTIONS_CLOSE_WITHIN_MS + 5000);
    await ended;
    expect((await keptAlive).status).toBe(200);
    expect(service.logs.text()).toMatch(
      new RegExp(`"level":"warn".*1 connection still open ${CONNECTIONS_CLOSE_WITHIN_MS} ms after the drain`),
    );
  }, 30_000);
});
